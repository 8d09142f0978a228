"""course_utils.data: real data, checksums, cache, classroom mirror, offline fallback, bad input."""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from course_utils import data, data_folder, digits, downloads


def _fake_mnist_npz(path, n_train=30, n_test=10):
    rng = np.random.default_rng(0)
    np.savez_compressed(
        path,
        x_train=rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8), y_train=np.arange(n_train, dtype=np.uint8) % 10,
        x_test=rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8), y_test=np.arange(n_test, dtype=np.uint8) % 10,
    )
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def mirror_with_fake_mnist(tmp_path, monkeypatch):
    """A classroom mirror folder holding a stand-in mnist.npz, and MNIST_FILES pointing at its checksum."""
    folder = tmp_path / "mirror"
    folder.mkdir()
    sha = _fake_mnist_npz(folder / "mnist.npz")
    monkeypatch.setattr(digits, "MNIST_FILES", (data.RemoteFile("mnist.npz", sha, "https://invalid.invalid/"),))
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(folder))
    return folder, sha


def test_bundled_subset_is_real_balanced_mnist():
    ds = data.load_bundled_mnist()
    assert ds.x_train.shape == (4000, 28, 28) and ds.x_test.shape == (1000, 28, 28)
    assert ds.x_train.dtype == np.uint8 and ds.y_train.dtype == np.uint8
    assert np.bincount(ds.y_test, minlength=10).tolist() == [100] * 10
    assert np.bincount(ds.y_train, minlength=10).tolist() == [400] * 10
    # Training batches must not be sorted by class.
    assert len(set(ds.y_train[:50].tolist())) >= 8
    # Real digits: mostly dark background, some bright strokes.
    assert 20 < ds.x_train.mean() < 50 and ds.x_train.max() == 255


def test_offline_load_falls_back_with_visible_notice(capsys):
    ds = data.load_mnist()
    out = capsys.readouterr().out
    assert ds.source == "bundled" and ds.is_subset
    assert "Offline" in out and "5,000" in out and "COURSE_OFFLINE" in out
    (x_train, y_train), (x_test, y_test) = ds
    assert len(x_train) == len(y_train) == 4000 and len(x_test) == len(y_test) == 1000


def test_without_fallback_offline_is_a_clear_error():
    with pytest.raises(data.DataUnavailableError, match="mnist.npz.*COURSE_OFFLINE"):
        data.load_mnist(allow_fallback=False)


def test_mirror_folder_is_used_then_cached(mirror_with_fake_mnist, tmp_path):
    ds = data.load_mnist(verbose=False)
    assert ds.source == "mirror" and not ds.is_subset and ds.x_train.shape == (30, 28, 28)
    assert (tmp_path / "cache" / "datasets" / "mnist.npz").is_file()
    assert data.load_mnist(verbose=False).source == "cache"


def test_corrupt_mirror_file_is_refused(mirror_with_fake_mnist):
    folder, _ = mirror_with_fake_mnist
    raw = (folder / "mnist.npz").read_bytes()
    (folder / "mnist.npz").write_bytes(raw[: len(raw) // 2])  # a partial copy
    with pytest.raises(ValueError, match="corrupt or incomplete.*expected"):
        data.load_mnist()


def test_corrupt_cache_file_is_replaced_never_used(mirror_with_fake_mnist, tmp_path):
    cached = tmp_path / "cache" / "datasets" / "mnist.npz"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"half a download")
    ds = data.load_mnist(verbose=False)
    assert ds.source == "mirror"
    assert data.sha256_of(cached) == mirror_with_fake_mnist[1]


def test_corrupt_cache_offline_without_mirror_falls_back(tmp_path, capsys):
    cached = tmp_path / "cache" / "datasets" / "mnist.npz"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"garbage")
    ds = data.load_mnist()
    assert ds.source == "bundled" and not cached.exists()


def test_mirror_url_downloads_atomically(tmp_path, monkeypatch):
    folder = tmp_path / "served"
    folder.mkdir()
    sha = _fake_mnist_npz(folder / "mnist.npz")
    monkeypatch.setattr(digits, "MNIST_FILES", (data.RemoteFile("mnist.npz", sha, "https://invalid.invalid/"),))
    monkeypatch.setenv("COURSE_DATA_MIRROR", folder.as_uri())
    assert data.load_mnist(verbose=False).source == "mirror"
    leftovers = [p.name for p in (tmp_path / "cache" / "datasets").iterdir()]
    assert leftovers == ["mnist.npz"]


def test_mirror_url_with_bad_file_leaves_nothing_behind(tmp_path, monkeypatch):
    folder = tmp_path / "served"
    folder.mkdir()
    (folder / "mnist.npz").write_bytes(b"not the real file")
    monkeypatch.setenv("COURSE_DATA_MIRROR", folder.as_uri())
    with pytest.raises(ValueError, match="(?i)corrupt"):
        data.load_mnist()
    cache = tmp_path / "cache" / "datasets"
    assert not cache.exists() or list(cache.iterdir()) == []  # refused by its size before anything was written


@pytest.mark.parametrize("value", ["/no/such/folder", "ftp://example.com/x", "mirror-please"])
def test_bad_mirror_setting_is_a_clear_error(monkeypatch, value):
    monkeypatch.setenv("COURSE_DATA_MIRROR", value)
    with pytest.raises(ValueError, match=f"COURSE_DATA_MIRROR must be an existing folder.*got '{value}'"):
        data.load_mnist()


def test_mirror_folder_without_the_file_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(tmp_path))
    with pytest.raises(data.DataUnavailableError, match="has no mnist.npz"):
        data.load_mnist(allow_fallback=False)


def test_corrupt_bundled_file_is_detected(tmp_path, monkeypatch):
    shutil.copy(data.data_dir() / "mnist_5k.npz", tmp_path / "mnist_5k.npz")
    raw = (tmp_path / "mnist_5k.npz").read_bytes()
    (tmp_path / "mnist_5k.npz").write_bytes(raw[:-100])
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    with pytest.raises(ValueError, match="corrupt or incomplete"):
        data.load_bundled_mnist()


def test_missing_bundled_file_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    with pytest.raises(data.DataUnavailableError, match="bundled MNIST subset is missing"):
        data.load_mnist()


def test_npz_with_wrong_content_is_refused(tmp_path, monkeypatch):
    folder = tmp_path / "mirror"
    folder.mkdir()
    np.savez_compressed(folder / "mnist.npz", x_train=np.zeros((3, 28, 28), np.float32), y_train=np.zeros(3),
                        x_test=np.zeros((3, 28, 28), np.uint8), y_test=np.zeros(3, np.uint8))
    sha = hashlib.sha256((folder / "mnist.npz").read_bytes()).hexdigest()
    monkeypatch.setattr(digits, "MNIST_FILES", (data.RemoteFile("mnist.npz", sha),))
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(folder))
    with pytest.raises(ValueError, match="expected uint8 images of shape \\(n, 28, 28\\), got float32"):
        data.load_mnist()


def _idx_gz(path, array, magic):
    header = struct.pack(">i", magic) + b"".join(struct.pack(">i", d) for d in array.shape)
    path.write_bytes(gzip.compress(header + array.tobytes()))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_fashion_mnist_from_mirror_parses_idx(tmp_path, monkeypatch):
    folder = tmp_path / "mirror"
    folder.mkdir()
    rng = np.random.default_rng(1)
    arrays = [rng.integers(0, 256, (20, 28, 28), dtype=np.uint8), np.arange(20, dtype=np.uint8) % 10,
              rng.integers(0, 256, (5, 28, 28), dtype=np.uint8), np.arange(5, dtype=np.uint8)]
    specs = []
    for spec, arr in zip(data.FASHION_MNIST_FILES, arrays):
        sha = _idx_gz(folder / spec.name, arr, 2051 if arr.ndim == 3 else 2049)
        specs.append(data.RemoteFile(spec.name, sha))
    monkeypatch.setattr(digits, "FASHION_MNIST_FILES", tuple(specs))
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(folder))
    ds = data.load_fashion_mnist(verbose=False)
    np.testing.assert_array_equal(ds.x_train, arrays[0])
    np.testing.assert_array_equal(ds.y_test, arrays[3])
    assert ds.source == "mirror"


def test_fashion_mnist_offline_has_no_silent_substitute():
    with pytest.raises(data.DataUnavailableError, match="train-images-idx3-ubyte.gz"):
        data.load_fashion_mnist()


def test_idx_with_wrong_magic_or_size_is_refused(tmp_path):
    bad = tmp_path / "bad.gz"
    _idx_gz(bad, np.zeros((2, 28, 28), np.uint8), 1234)
    with pytest.raises(ValueError, match="expected IDX magic 2051, got \\[1234\\]"):
        digits._read_idx(bad, 2051, 3)
    bad.write_bytes(gzip.compress(struct.pack(">iiii", 2051, 5, 28, 28) + b"\0" * 100))
    with pytest.raises(ValueError, match="header says"):
        digits._read_idx(bad, 2051, 3)
    bad.write_bytes(b"not gzip")
    with pytest.raises(ValueError, match="not a valid gzip file"):
        digits._read_idx(bad, 2051, 3)


def test_to_float_images_ranges_and_errors():
    x = np.array([[[0, 255]]], dtype=np.uint8)
    out = data.to_float_images(x)
    assert out.shape == (1, 1, 2, 1) and out.dtype == np.float32
    np.testing.assert_allclose(out.ravel(), [-1.0, 1.0])
    np.testing.assert_allclose(data.to_float_images(x, low=0.0, high=1.0).ravel(), [0.0, 1.0])
    with pytest.raises(ValueError, match="expected uint8 images \\(0..255\\), got dtype float64"):
        data.to_float_images(x.astype(float))
    with pytest.raises(ValueError, match="expected images of shape \\(n, h, w\\) or \\(n, h, w, 1\\), got \\(1, 1, 2, 3\\)"):
        data.to_float_images(np.zeros((1, 1, 2, 3), np.uint8))
    with pytest.raises(ValueError, match="low < high"):
        data.to_float_images(x, low=1.0, high=0.0)


def test_describe_sources_mentions_every_source(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(tmp_path))
    text = data.describe_sources()
    assert "cache" in text and str(tmp_path) in text and "COURSE_OFFLINE" in text and "mnist_5k.npz" in text


# --- issue 16: bounded downloads, captive portals, COURSE_OFFLINE words, no pickles, no NaN ---------------

@pytest.fixture
def http_mirror(tmp_path, monkeypatch):
    """A local HTTP mirror on 127.0.0.1 (no network needed); ``routes`` maps a file name to a handler."""
    import http.server
    import threading

    routes = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server spelling
            routes[self.path.rsplit("/", 1)[-1]](self)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    monkeypatch.setenv("COURSE_DATA_MIRROR", f"http://127.0.0.1:{server.server_address[1]}/")
    try:
        yield routes
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _trickle(handler, stop_after_s=20.0):
    """Send 1 byte every 0.2 s until the client goes away (or 20 s pass)."""
    import time

    handler.send_response(200)
    handler.end_headers()
    end = time.monotonic() + stop_after_s
    try:
        while time.monotonic() < end:
            handler.wfile.write(b"x")
            handler.wfile.flush()
            time.sleep(0.2)
    except OSError:
        pass


def _endless(handler, stop_after_bytes=50 << 20):
    handler.send_response(200)
    handler.end_headers()
    sent = 0
    try:
        while sent < stop_after_bytes:
            handler.wfile.write(b"\0" * (1 << 16))
            sent += 1 << 16
    except OSError:
        pass


def _portal(handler):
    body = b"<!DOCTYPE html><html><body>Please log in to the campus Wi-Fi</body></html>"
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def test_trickling_mirror_is_stopped_by_the_total_deadline(http_mirror, monkeypatch, tmp_path):
    import time

    http_mirror["mnist.npz"] = _trickle
    monkeypatch.setattr(downloads, "DOWNLOAD_DEADLINE_S", 1.0)
    start = time.monotonic()
    with pytest.raises(data.DataUnavailableError, match=r"mnist.npz took longer than 1 s .*too slow"):
        data.load_mnist(allow_fallback=False)
    assert time.monotonic() - start < 10
    assert list((tmp_path / "cache" / "datasets").iterdir()) == []


def test_endless_mirror_is_stopped_at_the_size_cap(http_mirror, monkeypatch, tmp_path):
    http_mirror["mnist.npz"] = _endless
    monkeypatch.setattr(digits, "MNIST_FILES", (data.RemoteFile("mnist.npz", "0" * 64, size=100_000),))
    with pytest.raises(ValueError, match=r"sent more than 1,158,576 bytes, expected mnist.npz of 100000 bytes"):
        data.load_mnist()
    assert list((tmp_path / "cache" / "datasets").iterdir()) == []
    assert downloads._size_cap(digits.MNIST_FILES[0]) == 1_158_576
    assert downloads._size_cap(data.RemoteFile("x", "0" * 64)) == data.MAX_UNKNOWN_SIZE


def test_captive_portal_page_is_named_with_its_url(http_mirror, tmp_path):
    http_mirror["mnist.npz"] = _portal
    with pytest.raises(ValueError, match=r"http://127.0.0.1:\d+/mnist.npz answered with a web page, not mnist.npz: "
                                         r"probably a Wi-Fi log-in page \(a captive portal\).*log in"):
        data.load_mnist()
    assert list((tmp_path / "cache" / "datasets").iterdir()) == []


def test_http_mirror_file_is_downloaded_and_readable_by_others(http_mirror, tmp_path, monkeypatch):
    served = tmp_path / "served.npz"
    sha = _fake_mnist_npz(served)
    monkeypatch.setattr(digits, "MNIST_FILES", (data.RemoteFile("mnist.npz", sha, "https://invalid.invalid/"),))

    def serve(handler):
        body = served.read_bytes()
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    http_mirror["mnist.npz"] = serve
    old_mask = os.umask(0o022)
    try:
        ds = data.load_mnist(verbose=False)
    finally:
        os.umask(old_mask)
    cached = tmp_path / "cache" / "datasets" / "mnist.npz"
    assert ds.source == "mirror" and cached.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in cached.parent.iterdir()] == ["mnist.npz"]


def test_mirror_folder_copy_is_readable_by_others(mirror_with_fake_mnist, tmp_path):
    old_mask = os.umask(0o022)
    try:
        data.load_mnist(verbose=False)
    finally:
        os.umask(old_mask)
    assert (tmp_path / "cache" / "datasets" / "mnist.npz").stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("value", ["1", "true", "TRUE", " on ", "yes", "y", "Y"])
def test_course_offline_words_that_mean_offline(monkeypatch, value):
    monkeypatch.setenv("COURSE_OFFLINE", value)
    assert data.is_offline() is True


@pytest.mark.parametrize("value", ["", "0", "false", "off", "no", "n", " No "])
def test_course_offline_words_that_mean_online(monkeypatch, value):
    monkeypatch.setenv("COURSE_OFFLINE", value)
    assert data.is_offline() is False


@pytest.mark.parametrize("value", ["2", "offline", "ja", "tru"])
def test_course_offline_typo_is_an_error_not_online(monkeypatch, value):
    monkeypatch.setenv("COURSE_OFFLINE", value)
    with pytest.raises(ValueError, match=rf"COURSE_OFFLINE must be one of 1, true, on, yes, y \(offline\) or 0, false, "
                                         rf"off, no, n or empty \(online\), got '{value}'"):
        data.is_offline()


class _Boom:
    """Unpickling this writes a marker file: proof that a pickle in the data was executed."""

    marker = None

    def __reduce__(self):
        return (Path.write_text, (Path(self.marker), "pickle ran"))


def test_npz_with_pickled_objects_is_refused_and_never_unpickled(tmp_path):
    marker = tmp_path / "pickle-ran.txt"
    boom = _Boom()
    boom.marker = str(marker)
    path = tmp_path / "evil.npz"
    np.savez(path, x=np.array([boom], dtype=object), y=np.zeros(1, np.uint8))
    with pytest.raises(ValueError, match=r"evil.npz: array 'x' holds pickled Python objects.*refused"):
        data_folder._read_npz(path, ("x", "y"))
    assert not marker.exists()


@pytest.mark.parametrize("low, high", [(-np.inf, 1.0), (0.0, np.inf), (np.nan, 1.0)])
def test_to_float_images_refuses_infinite_bounds(low, high):
    with pytest.raises(ValueError, match=r"expected finite low < high, got low="):
        data.to_float_images(np.zeros((1, 2, 2), np.uint8), low=low, high=high)


# --- issue 24: downloads bounded from the first byte, a notice that tells the truth, a cache that cannot crash ---

def _slow_headers(handler):
    """Send the status line, then trickle header bytes forever (never ends the headers)."""
    import time

    try:
        handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
        handler.wfile.flush()
        for _ in range(200):
            handler.wfile.write(b"X")
            handler.wfile.flush()
            time.sleep(0.1)
    except OSError:
        pass


def _huge_announced(handler):
    """Announce a terabyte, then send nothing for a long while."""
    import time

    handler.send_response(200)
    handler.send_header("Content-Length", str(10 ** 12))
    handler.end_headers()
    handler.wfile.flush()
    time.sleep(8)


def test_trickled_headers_are_stopped_by_the_total_deadline(http_mirror, tmp_path):
    import os
    import time

    http_mirror["mnist.npz"] = _slow_headers
    url = os.environ["COURSE_DATA_MIRROR"] + "mnist.npz"
    start = time.monotonic()
    with pytest.raises(TimeoutError, match=r"took longer than 1.5 s"):
        downloads._download(url, digits.MNIST_FILES[0], "datasets", deadline_s=1.5, stall_s=60.0)
    assert time.monotonic() - start < 5
    assert list((tmp_path / "cache" / "datasets").iterdir()) == []


def test_a_slow_trickle_is_stopped_by_the_stall_rule(http_mirror, tmp_path):
    import os
    import time

    http_mirror["mnist.npz"] = _trickle  # 1 byte every 0.2 s: alive, but far too slow
    url = os.environ["COURSE_DATA_MIRROR"] + "mnist.npz"
    start = time.monotonic()
    with pytest.raises(TimeoutError, match=r"fewer than 1,000 bytes in 1 s .*stalled"):
        downloads._download(url, digits.MNIST_FILES[0], "datasets", deadline_s=60.0, stall_s=1.0, stall_bytes=1000)
    assert time.monotonic() - start < 5
    assert data.STALL_WINDOW_S <= 60 and data.STALL_MIN_BYTES >= 1 << 10  # the defaults stop a 1 byte/4 s mirror


def test_an_announced_size_over_the_cap_is_refused_before_the_body(http_mirror, tmp_path):
    import time

    http_mirror["mnist.npz"] = _huge_announced
    start = time.monotonic()
    with pytest.raises(ValueError, match=r"announces 1,000,000,000,000 bytes"):
        data.load_mnist()
    assert time.monotonic() - start < 3  # not the stall rule nor the deadline: the header alone
    assert list((tmp_path / "cache" / "datasets").iterdir()) == []


def test_a_file_url_mirror_holding_a_fifo_is_refused_not_waited_on(tmp_path, monkeypatch):
    import threading

    folder = tmp_path / "served"
    folder.mkdir()
    os.mkfifo(folder / "mnist.npz")
    monkeypatch.setenv("COURSE_DATA_MIRROR", folder.as_uri())
    outcome = {}

    def load():
        try:
            data.load_mnist(allow_fallback=False)
        except Exception as err:  # noqa: BLE001 - the test inspects it
            outcome["err"] = err

    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    thread.join(5)
    if thread.is_alive():  # release the blocked open() so the thread can end
        fd = os.open(folder / "mnist.npz", os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
        thread.join(5)
        pytest.fail("load_mnist blocked on a FIFO in a file:// mirror")
    assert isinstance(outcome.get("err"), ValueError) and "not a regular file" in str(outcome["err"])


def test_a_huge_mirror_or_cache_file_is_refused_by_its_size_before_hashing(tmp_path, monkeypatch):
    folder = tmp_path / "mirror"
    folder.mkdir()
    with open(folder / "mnist.npz", "wb") as fh:
        fh.truncate(20 << 30)  # a 20 GB sparse file
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(folder))

    def no_hashing(path):
        raise AssertionError(f"{path} was hashed")

    monkeypatch.setattr(downloads, "sha256_of", no_hashing)
    with pytest.raises(ValueError, match=r"mnist.npz is 21,474,836,480 bytes, expected 11,490,434"):
        data.load_mnist()
    cached = tmp_path / "cache" / "datasets" / "mnist.npz"
    cached.parent.mkdir(parents=True, exist_ok=True)
    os.replace(folder / "mnist.npz", cached)
    monkeypatch.delenv("COURSE_DATA_MIRROR")
    monkeypatch.setattr(digits, "load_bundled_mnist", lambda: data.ImageDataset(*[np.zeros(1)] * 4, "x", "bundled"))
    assert data.load_mnist().source == "bundled" and not cached.exists()


def test_the_fallback_notice_gives_the_real_reason(http_mirror, capsys):
    def server_error(handler):
        handler.send_error(500, "mirror broken")

    http_mirror["mnist.npz"] = server_error
    ds = data.load_mnist()
    out = capsys.readouterr().out
    assert ds.source == "bundled"
    assert "HTTP Error 500" in out and "COURSE_OFFLINE" in out
    assert "COURSE_OFFLINE=1, no download attempted" not in out.split("why:")[1].split(";")[0]


def test_a_read_only_cache_with_a_corrupt_copy_falls_back_to_the_bundled_digits(tmp_path, monkeypatch, capsys):
    import errno

    cached = tmp_path / "cache" / "datasets" / "mnist.npz"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"garbage")
    real_unlink = Path.unlink

    def read_only(self, *args, **kwargs):
        if self.parent == cached.parent:
            raise OSError(errno.EROFS, "Read-only file system", str(self))
        return real_unlink(self, *args, **kwargs)

    monkeypatch.setattr(Path, "unlink", read_only)
    ds = data.load_mnist()
    assert ds.source == "bundled"
    assert "Read-only file system" in capsys.readouterr().out


def test_course_cache_dir_pointing_at_a_file_is_a_clear_error(tmp_path, monkeypatch):
    (tmp_path / "a_file").write_text("x")
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "a_file"))
    with pytest.raises(ValueError, match=r"COURSE_CACHE_DIR must be a folder .*got the file"):
        data.load_mnist()


def test_stale_part_files_of_killed_downloads_are_removed(tmp_path, capsys):
    import time

    folder = tmp_path / "cache" / "datasets"
    folder.mkdir(parents=True)
    stale, live = folder / ".mnist.npz.k1ll3d.part", folder / ".mnist.npz.l1ve.part"
    stale.write_bytes(b"x" * 1000)
    live.write_bytes(b"x")
    old = time.time() - data.DOWNLOAD_DEADLINE_S - 120
    os.utime(stale, (old, old))
    data.load_mnist()
    assert not stale.exists() and live.exists()  # a download under way in another process is left alone


@pytest.mark.parametrize("kwargs", [{"low": "a"}, {"high": None}, {"low": [0]}, {"low": True}])
def test_to_float_images_refuses_bounds_that_are_not_numbers(kwargs):
    with pytest.raises(ValueError, match=r"low and high must be finite numbers"):
        data.to_float_images(np.zeros((1, 2, 2), np.uint8), **kwargs)


def test_npz_bytes_are_reproducible_and_need_no_pickle(tmp_path):
    arrays = {"x": np.arange(12, dtype=np.uint8).reshape(3, 4), "names": np.array(["a", "bc"]), "n": np.int64(3)}
    for compress in (False, True):
        first = data.npz_bytes(arrays, compress=compress)
        assert data.npz_bytes(dict(reversed(list(arrays.items()))), compress=compress) == first  # order of the dict
        path = tmp_path / f"a{compress}.npz"
        path.write_bytes(first)
        with np.load(path, allow_pickle=False) as f:
            assert sorted(f.files) == ["n", "names", "x"]
            np.testing.assert_array_equal(f["x"], arrays["x"])
            assert f["names"].tolist() == ["a", "bc"]
    big = {"x": np.zeros((64, 64, 3), np.uint8)}
    assert len(data.npz_bytes(big, compress=True)) < len(data.npz_bytes(big)) // 10


@pytest.mark.parametrize("arrays, match", [
    ({}, "non-empty dict"),
    ([np.zeros(2)], "non-empty dict"),
    ({"": np.zeros(2)}, "non-empty str names"),
    ({"x": np.array([{"a": 1}], dtype=object)}, "'x' holds Python objects"),
])
def test_npz_bytes_refuses_bad_input(arrays, match):
    with pytest.raises(ValueError, match=match):
        data.npz_bytes(arrays)


def test_verify_file_ends_with_the_remedy_it_is_given(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"abc")
    with pytest.raises(ValueError, match=r"corrupt or incomplete: SHA-256 is .* expected 0{64}\. Delete it"):
        data.verify_file(path, "0" * 64)
    with pytest.raises(ValueError, match=r"expected 0{64}\. Rebuild it with make\.$"):
        data.verify_file(path, "0" * 64, remedy="Rebuild it with make.")


def test_verify_file_names_what_is_missing_and_how_to_get_it(tmp_path):
    path = tmp_path / "f.bin"
    with pytest.raises(ValueError, match=r"^expected a data file at .*f\.bin, found none$"):
        data.verify_file(path, "0" * 64)
    with pytest.raises(ValueError, match=r"^expected the model file at .*f\.bin, found none\. Rebuild it\.$"):
        data.verify_file(path, None, what="the model file", missing="Rebuild it.")
    path.write_bytes(b"abc")
    assert data.verify_file(path, None) == path  # None: present is enough (a file the caller chose not to pin)
    assert data.verify_file(str(path), data.sha256_of(path)) == path


def test_data_re_exports_the_names_lessons_tools_and_tests_use():
    """``course_utils.data`` only re-exports: each name is the object of the module that does that job."""
    from course_utils import emoji

    homes = [data_folder, digits, downloads, emoji]
    for name in data.__all__:
        assert any(name in vars(m) and getattr(m, name) is getattr(data, name) for m in homes), name
    assert data.load_mnist is digits.load_mnist and data.load_emoji is emoji.load_emoji
    assert data.verify_file is downloads.verify_file and data.data_dir is data_folder.data_dir
