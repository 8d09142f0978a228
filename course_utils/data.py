"""Real datasets for the lessons: MNIST and Fashion-MNIST, checksummed, cached, with an offline path.

Where a file comes from, in order:

1. the cache (``COURSE_CACHE_DIR``, default ``~/.cache/image-synthesis-course``), if its SHA-256 matches;
2. ``COURSE_DATA_MIRROR``, when set: a local folder or a URL prefix holding the same file names
   (a classroom copy, for rooms without internet);
3. the original address (Google's ``tf-keras-datasets`` bucket), unless ``COURSE_OFFLINE=1``.

Every file is checked against its SHA-256 before use; a corrupt or partial file is never used silently. A download
is bounded from its first byte: connecting, the headers and the body together take at most ``DOWNLOAD_DEADLINE_S``;
a download that brings fewer than ``STALL_MIN_BYTES`` in any ``STALL_WINDOW_S`` (headers included) is stopped as
stalled; and it may not grow past its expected size plus a margin (a misconfigured mirror cannot fill the disk).
A file's size is checked before it is hashed, and a ``file://`` or folder mirror must hold regular files (a FIFO
would block forever). A web page served
instead of the file (a Wi-Fi log-in page, "captive portal") is recognised and named as such.
When none of these work, :func:`load_mnist` falls back to the 5,000 real MNIST digits bundled in the
repository's ``data/`` folder (4,000 to train, 1,000 held out) and prints a notice saying so.

The emoji of :func:`load_emoji` (1,871 emoji drawn by Google and by Twitter) are only bundled: nothing is downloaded.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import io
import os
import re
import socket
import stat
import threading
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import numpy as np

from . import atomic
from .validate import int_at_least

ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"


@dataclass(frozen=True)
class RemoteFile:
    """A downloadable file and the SHA-256 it must have.

    Introduced in 00_start_here.
    """

    name: str
    sha256: str
    origin: str = ORIGIN
    size: int | None = None
    """Expected size in bytes (None: unknown); a download may not exceed it by more than the margin."""


MNIST_FILES = (RemoteFile("mnist.npz", "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",
                          size=11_490_434),)
# SHA-256 values and sizes as recorded by TensorFlow Datasets (url_checksums/fashion_mnist.txt).
FASHION_MNIST_FILES = (
    RemoteFile("train-images-idx3-ubyte.gz", "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
               size=26_421_880),
    RemoteFile("train-labels-idx1-ubyte.gz", "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
               size=29_515),
    RemoteFile("t10k-images-idx3-ubyte.gz", "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
               size=4_422_102),
    RemoteFile("t10k-labels-idx1-ubyte.gz", "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
               size=5_148),
)
BUNDLED_MNIST = RemoteFile("mnist_5k.npz", "f814240cf7e0d3cbaacc1a898905819a40ab46fb317a600d2a4b91a5c184c810", "")
"""The offline subset in ``data/`` (see ``data/README.md`` for provenance and licence)."""

BUNDLED_EMOJI = RemoteFile("emoji_64.npz", "8719e85029a20c3a6de826b2f060d957196125a86c2c2225d818cd15bb250a35", "",
                           size=9_163_949)
"""The emoji of both styles in ``data/`` (``data/README.md``: provenance, licences; ``data/build_emoji.py``)."""
EMOJI_STYLES = ("google", "twitter")
"""The two drawings of each emoji: Google's Noto Emoji and Twitter's Twemoji."""
EMOJI_CATEGORIES = ("Smileys & Emotion", "People & Body", "Animals & Nature", "Food & Drink", "Travel & Places",
                    "Activities", "Objects", "Symbols", "Flags")
"""Category names of the bundled emoji; a category id indexes this tuple."""

FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
NETWORK_TIMEOUT_S = 20.0
"""Longest wait for any one read from the network."""
DOWNLOAD_DEADLINE_S = 600.0
"""Longest time a whole download may take (a mirror that trickles bytes cannot hang a lesson)."""
STALL_WINDOW_S = 30.0
"""Window of the stall rule: a download that brings fewer than ``STALL_MIN_BYTES`` in this many seconds stops."""
STALL_MIN_BYTES = 32 << 10
"""Fewest bytes a download must bring in every ``STALL_WINDOW_S`` (32 KiB in 30 s: about 1 KiB/s)."""
MAX_UNKNOWN_SIZE = 64 << 20
"""Cap, in bytes, for a file whose expected size is not recorded."""
OFFLINE_WORDS, ONLINE_WORDS = ("1", "true", "on", "yes", "y"), ("", "0", "false", "off", "no", "n")


class DataUnavailableError(RuntimeError):
    """Raised when a dataset cannot be had from the cache, the mirror, the network or ``data/``.

    Introduced in 00_start_here.

    Attributes:
        reasons: one line per source tried, saying why it gave nothing.
    """

    def __init__(self, message: str, reasons: list[str] | None = None):
        super().__init__(message)
        self.reasons = list(reasons or [])


@dataclass
class ImageDataset:
    """Images and labels split into train and test, plus where they came from.

    Unpacks like Keras' loaders: ``(x_train, y_train), (x_test, y_test) = load_mnist()``.

    Introduced in 00_start_here.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    name: str
    source: str
    notice: str = field(default="", repr=False)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        yield self.x_train, self.y_train
        yield self.x_test, self.y_test

    @property
    def is_subset(self) -> bool:
        """True when this is the bundled offline subset rather than the full dataset."""
        return self.source == "bundled"

    def summary(self) -> str:
        """One line: name, source, split sizes."""
        return (f"{self.name}: {len(self.x_train):,} train + {len(self.x_test):,} test images "
                f"{self.x_train.shape[1:]} {self.x_train.dtype}, source: {self.source}")


# ---------------------------------------------------------------------------------------------
# Locations and settings
# ---------------------------------------------------------------------------------------------

def data_dir() -> Path:
    """Return the folder with the bundled data (the repository's ``data/``, or ``COURSE_DATA_DIR``).

    Introduced in 00_start_here.
    """
    override = os.environ.get("COURSE_DATA_DIR")
    if override:
        return Path(override).expanduser()
    return Path(__file__).resolve().parent.parent / "data"


def cache_dir() -> Path:
    """Return the download cache folder (``COURSE_CACHE_DIR``, default ``~/.cache/image-synthesis-course``).

    Introduced in 00_start_here.

    Raises:
        ValueError: if it names something that exists and is not a folder (a file).
    """
    path = Path(os.environ.get("COURSE_CACHE_DIR") or "~/.cache/image-synthesis-course").expanduser()
    if path.exists() and not path.is_dir():
        raise ValueError(f"COURSE_CACHE_DIR must be a folder (or a path where one can be created), got the file "
                         f"{path}; point it at a folder, or unset it for ~/.cache/image-synthesis-course")
    return path


def is_offline() -> bool:
    """Return True when ``COURSE_OFFLINE`` says so: no network access is attempted.

    Introduced in 00_start_here.

    ``1``, ``true``, ``on``, ``yes``, ``y`` mean offline; unset, empty, ``0``, ``false``, ``off``, ``no``, ``n``
    mean online (any case, spaces ignored).

    Raises:
        ValueError: for any other value (a typo must not silently mean "online").
    """
    raw = os.environ.get("COURSE_OFFLINE", "")
    value = raw.strip().lower()
    if value in OFFLINE_WORDS:
        return True
    if value in ONLINE_WORDS:
        return False
    raise ValueError(f"COURSE_OFFLINE must be one of {', '.join(OFFLINE_WORDS)} (offline) or "
                     f"{', '.join(w for w in ONLINE_WORDS if w)} or empty (online), got {raw!r}")


def mirror() -> str | None:
    """Return the classroom mirror (``COURSE_DATA_MIRROR``): a local folder or a URL prefix, or None.

    Introduced in 00_start_here.

    Raises:
        ValueError: if it is set to something that is neither an existing folder nor an http(s)/file URL.
    """
    value = os.environ.get("COURSE_DATA_MIRROR", "").strip()
    if not value:
        return None
    if urlparse(value).scheme in {"http", "https", "file"}:
        return value
    if Path(value).expanduser().is_dir():
        return str(Path(value).expanduser())
    raise ValueError(
        f"COURSE_DATA_MIRROR must be an existing folder or an http(s):// or file:// URL prefix, got {value!r}"
    )


def describe_sources() -> str:
    """Say in one line where datasets will come from (for the environment report).

    Introduced in 00_start_here.
    """
    try:
        mirror_value = mirror()
    except ValueError as err:
        mirror_value = f"INVALID ({err})"
    try:
        parts = [f"cache {cache_dir()}"]
    except ValueError as err:
        parts = [f"cache INVALID ({err})"]
    if mirror_value:
        parts.append(f"mirror {mirror_value}")
    parts.append("network off (COURSE_OFFLINE)" if is_offline() else f"network {ORIGIN}")
    bundled = data_dir() / BUNDLED_MNIST.name
    parts.append(f"offline fallback {bundled}" + ("" if bundled.exists() else " (missing)"))
    return "; ".join(parts)


# ---------------------------------------------------------------------------------------------
# Fetching files
# ---------------------------------------------------------------------------------------------

def sha256_of(path: str | os.PathLike) -> str:
    """Return the hexadecimal SHA-256 of a file, read in chunks.

    Introduced in 03_cnn_classifier.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_file(path: str | os.PathLike, sha256: str | None, *, what: str = "a data file",
                remedy: str = "Delete it (or fix the mirror) and load again.", missing: str = "") -> Path:
    """Check that a file exists and has the expected SHA-256: the course's one "present, digest matches" check.

    Introduced in 00_start_here.

    Args:
        path: the file.
        sha256: expected hexadecimal digest; None checks only that the file is there (a file the caller was told
            not to pin, e.g. an evaluator the learner retrained).
        what: how the missing-file message names the file (``"the evaluator file"``).
        remedy: the sentence that ends the wrong-digest message, saying how to get a good copy.
        missing: the sentence that ends the missing-file message (default: none).

    Returns:
        The path, as a ``Path``.

    Raises:
        ValueError: if the file is missing (``"expected {what} at {path}, found none. {missing}"``) or its digest
            differs (corrupt, partial or a different file: ``"{path} is corrupt or incomplete: SHA-256 is ...,
            expected .... {remedy}"``).
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"expected {what} at {path}, found none" + (f". {missing}" if missing else ""))
    if sha256 is None:
        return path
    actual = sha256_of(path)
    if actual != sha256:
        raise ValueError(
            f"{path} is corrupt or incomplete: SHA-256 is {actual}, expected {sha256}. {remedy}"
        )
    return path


def _size_cap(spec: RemoteFile) -> int:
    """Most bytes a download of ``spec`` may bring: its size plus 10 % and 1 MiB, or ``MAX_UNKNOWN_SIZE``."""
    return MAX_UNKNOWN_SIZE if spec.size is None else int(spec.size * 1.1) + (1 << 20)


def _looks_like_a_web_page(head: bytes) -> bool:
    start = head.lstrip()[:256].lower()
    return start.startswith((b"<!doctype html", b"<html", b"<?xml", b"<head", b"<body")) or b"<html" in start


class _Watchdog:
    """Stops a download from another thread: past the total deadline, or when too few bytes came in a window.

    It shuts down the download's sockets, so a read blocked in connecting, in the headers or in the body returns at
    once; :attr:`reason` then says why.
    """

    def __init__(self, deadline_s: float, stall_s: float, stall_bytes: int):
        self.deadline_s, self.stall_s, self.stall_bytes = deadline_s, stall_s, stall_bytes
        self.got, self.reason = 0, ""
        self._sockets: list[socket.socket] = []
        self._lock, self._stop = threading.Lock(), threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True, name="course-download-watchdog")

    def __enter__(self) -> _Watchdog:
        self._start = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def add(self, sock: socket.socket) -> socket.socket:
        with self._lock:
            self._sockets.append(sock)
            if self.reason:
                self._shut(sock)
        return sock

    @staticmethod
    def _shut(sock: socket.socket) -> None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _watch(self) -> None:
        window_start, window_got = self._start, 0
        while not self._stop.wait(min(0.05, self.stall_s / 4)):
            now = time.monotonic()
            reason = ""
            if now - self._start > self.deadline_s:
                reason = "deadline"
            elif now - window_start >= self.stall_s:
                if self.got - window_got < self.stall_bytes:
                    reason = "stall"
                window_start, window_got = now, self.got
            if reason:
                with self._lock:
                    self.reason = reason
                    for sock in self._sockets:
                        self._shut(sock)
                return


def _opener(watchdog: _Watchdog, timeout: float) -> urllib.request.OpenerDirector:
    """A urllib opener whose HTTP(S) connections register their sockets with ``watchdog``."""

    def create(address, *args, **kwargs):
        return watchdog.add(socket.create_connection(address, *args, **kwargs))

    class HTTPConnection(http.client.HTTPConnection):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._create_connection = create

    class HTTPSConnection(http.client.HTTPSConnection):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._create_connection = create

    class HTTPHandler(urllib.request.HTTPHandler):
        def http_open(self, req):
            return self.do_open(HTTPConnection, req)

    class HTTPSHandler(urllib.request.HTTPSHandler):
        def https_open(self, req):
            return self.do_open(HTTPSConnection, req, context=self._context)

    return urllib.request.build_opener(HTTPHandler, HTTPSHandler)


def _check_local_file(path: Path, spec: RemoteFile, where: str) -> None:
    """A mirror's local file must be a regular file no bigger than the cap: checked before it is opened or hashed."""
    try:
        info = os.stat(path)
    except OSError as err:
        raise FileNotFoundError(f"{where} has no {spec.name} ({err.strerror})") from err
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(f"{path} in {where} is not a regular file (a FIFO, a device or a folder), expected the file "
                         f"{spec.name}; fix the mirror (COURSE_DATA_MIRROR)")
    if info.st_size > _size_cap(spec) or (spec.size is not None and info.st_size != spec.size):
        expected = f"{spec.size:,}" if spec.size is not None else f"at most {_size_cap(spec):,}"
        raise ValueError(f"{path} in {where}: {spec.name} is {info.st_size:,} bytes, expected {expected} bytes: corrupt, "
                         "incomplete or not the right file; fix the mirror (COURSE_DATA_MIRROR)")


def _download(url: str, spec: RemoteFile, subdir: str, *, deadline_s: float | None = None,
              stall_s: float | None = None, stall_bytes: int | None = None) -> Path:
    """Download ``url`` into the cache under a temporary name, check size and SHA-256, then rename it atomically,
    so an interrupted, endless, slow or wrong download never leaves a file that looks whole.

    ``deadline_s`` (default ``DOWNLOAD_DEADLINE_S``) bounds connecting, headers and body together; the stall rule
    (``stall_bytes`` in every ``stall_s``, defaults ``STALL_MIN_BYTES``, ``STALL_WINDOW_S``) stops a trickle."""
    deadline_s = DOWNLOAD_DEADLINE_S if deadline_s is None else deadline_s
    stall_s = STALL_WINDOW_S if stall_s is None else stall_s
    stall_bytes = STALL_MIN_BYTES if stall_bytes is None else stall_bytes
    if urlparse(url).scheme == "file":
        _check_local_file(Path(url2pathname(urlparse(url).path)), spec, url.rsplit("/", 1)[0])
    final = cache_dir() / subdir / spec.name
    cap = _size_cap(spec)
    digest, head, got = hashlib.sha256(), b"", 0
    with _Watchdog(deadline_s, stall_s, stall_bytes) as watchdog:
        try:
            with atomic.atomic_path(final) as tmp, open(tmp, "wb") as out:
                timeout = min(NETWORK_TIMEOUT_S, deadline_s, stall_s)
                with _opener(watchdog, timeout).open(url, timeout=timeout) as response:
                    announced = response.headers.get("Content-Length") if hasattr(response, "headers") else None
                    if announced and announced.isdigit() and int(announced) > cap:
                        raise ValueError(f"{url} announces {int(announced):,} bytes, expected {spec.name} of at most "
                                         f"{cap:,}: not the right file; fix the mirror (COURSE_DATA_MIRROR) or the address")
                    read = getattr(response, "read1", response.read)
                    while chunk := read(1 << 16):
                        got += len(chunk)
                        watchdog.got = got
                        if got > cap:
                            raise ValueError(f"{url} sent more than {cap:,} bytes, expected {spec.name} of "
                                             f"{spec.size or 'unknown'} bytes: stopped, not the right file; fix the "
                                             "mirror (COURSE_DATA_MIRROR) or the address")
                        head = head if len(head) >= 512 else (head + chunk)[:512]
                        digest.update(chunk)
                        out.write(chunk)
                        if watchdog.reason:
                            break
                if watchdog.reason:
                    raise TimeoutError("stopped by the watchdog")
                if digest.hexdigest() != spec.sha256:
                    if _looks_like_a_web_page(head):
                        raise ValueError(f"{url} answered with a web page, not {spec.name}: probably a Wi-Fi log-in "
                                         "page (a captive portal) or a proxy. Open that address in a browser and log in "
                                         "to the network, then load again; or use a classroom mirror "
                                         "(COURSE_DATA_MIRROR), or work offline (COURSE_OFFLINE=1)")
                    raise ValueError(f"{url} sent a corrupt or incomplete {spec.name}: SHA-256 is {digest.hexdigest()}, "
                                     f"expected {spec.sha256} ({got:,} bytes). Load again, or fix the mirror")
        except Exception as err:
            if watchdog.reason == "deadline":
                raise TimeoutError(f"{url}: the download of {spec.name} took longer than {deadline_s:g} s (connecting, "
                                   f"headers and {got:,} bytes received): stopped; the network or the mirror is too "
                                   "slow. Try again, use a classroom mirror (COURSE_DATA_MIRROR), or work offline "
                                   "(COURSE_OFFLINE=1)") from err
            if watchdog.reason == "stall":
                raise TimeoutError(f"{url}: the download of {spec.name} brought fewer than {stall_bytes:,} bytes in "
                                   f"{stall_s:g} s ({got:,} bytes in all): stalled, stopped. Try again, use a "
                                   "classroom mirror (COURSE_DATA_MIRROR), or work offline (COURSE_OFFLINE=1)") from err
            raise
    return verify_file(final, spec.sha256)


def _remove_stale_parts(folder: Path, spec: RemoteFile) -> None:
    """Delete the temporary files of downloads killed long ago (older than any live download can be)."""
    if not folder.is_dir():
        return
    limit = time.time() - DOWNLOAD_DEADLINE_S - 60
    for part in folder.glob(f".{spec.name}.*.part"):
        try:
            if part.is_file() and part.stat().st_mtime < limit:
                part.unlink()
        except OSError:  # a read-only cache, or another process removed it first
            pass


def fetch(spec: RemoteFile, subdir: str = "datasets") -> tuple[Path, str]:
    """Return a verified local copy of ``spec`` and the word for where it came from.

    Tries the cache, then ``COURSE_DATA_MIRROR``, then the network (unless ``COURSE_OFFLINE=1``).

    Introduced in 00_start_here.

    Args:
        spec: the file to get.
        subdir: folder inside the cache.

    Returns:
        ``(path, source)`` with source one of ``"cache"``, ``"mirror"``, ``"download"``.

    Raises:
        ValueError: if the mirror setting is invalid or the mirror's copy is corrupt.
        DataUnavailableError: if no source could provide the file.
    """
    cached = cache_dir() / subdir / spec.name
    reasons = []
    _remove_stale_parts(cached.parent, spec)
    if cached.is_file():
        size = cached.stat().st_size
        if (spec.size is None or size == spec.size) and size <= _size_cap(spec) and sha256_of(cached) == spec.sha256:
            return cached, "cache"
        # A partial or corrupt cached file: never used; replaced below if a source has a good copy.
        try:
            cached.unlink()
        except OSError as err:  # a read-only cache: the file stays, unused
            reasons.append(f"the cached {cached} is corrupt and could not be removed ({_why(err)})")
    mirror_value = mirror()
    if mirror_value:
        if urlparse(mirror_value).scheme in {"http", "https", "file"}:
            try:
                return _download(mirror_value.rstrip("/") + "/" + spec.name, spec, subdir), "mirror"
            except ValueError:
                raise
            except Exception as err:  # network errors, a read-only or full cache: try the next source
                reasons.append(f"mirror {mirror_value}: {_why(err)}")
        else:
            candidate = Path(mirror_value) / spec.name
            if candidate.exists():
                _check_local_file(candidate, spec, f"the mirror folder {mirror_value}")
                verify_file(candidate, spec.sha256)
                try:
                    atomic.copy_file(candidate, cached)
                    return verify_file(cached, spec.sha256), "mirror"
                except OSError as err:  # a read-only or full cache: use the mirror's verified copy where it is
                    print(f"Notice: could not cache {spec.name} in {cached.parent} ({_why(err)}); reading it from "
                          f"the mirror {mirror_value}")
                    return candidate, "mirror"
            reasons.append(f"mirror folder {mirror_value} has no {spec.name}")
    if is_offline():
        reasons.append("network disabled by COURSE_OFFLINE")
    else:
        try:
            return _download(spec.origin + spec.name, spec, subdir), "download"
        except Exception as err:
            reasons.append(f"{spec.origin}{spec.name}: {_why(err)}")
    raise DataUnavailableError(f"could not get {spec.name}: " + "; ".join(reasons), reasons)


def _why(err: BaseException) -> str:
    """One line naming an error, with the plain words for a full disk or a read-only cache."""
    import errno

    words = {errno.ENOSPC: "the disk is full", errno.EROFS: "the cache is on a read-only file system",
             errno.EACCES: "no permission to write the cache"}
    hint = words.get(getattr(err, "errno", None), "")
    return f"{type(err).__name__}: {err}" + (f" ({hint})" if hint else "")


# ---------------------------------------------------------------------------------------------
# Datasets
# ---------------------------------------------------------------------------------------------

def _check_images(x: np.ndarray, y: np.ndarray, where: str) -> None:
    if x.dtype != np.uint8 or x.ndim != 3 or x.shape[1:] != (28, 28):
        raise ValueError(f"{where}: expected uint8 images of shape (n, 28, 28), got {x.dtype} {x.shape}")
    if y.shape != (x.shape[0],) or y.size == 0 or int(y.max()) > 9:
        raise ValueError(f"{where}: expected {x.shape[0]} labels in 0..9, got shape {y.shape}")


def _read_npz(path: Path, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Read arrays from an .npz, never unpickling anything (a pickled object could run code)."""
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in keys if k not in f.files]
            if missing:
                raise ValueError(f"{path} lacks arrays {missing}; it has {f.files}")
            arrays = {}
            for k in keys:
                try:
                    arrays[k] = f[k]
                except ValueError as err:  # "Object arrays cannot be loaded when allow_pickle=False"
                    raise ValueError(f"{path}: array {k!r} holds pickled Python objects, expected plain numbers; "
                                     "refused (unpickling could run code). Delete the file and load again") from err
            return arrays
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise ValueError(f"{path} is not a readable .npz file ({err}); delete it and load again") from err


def npz_bytes(arrays: dict[str, np.ndarray], *, compress: bool = False) -> bytes:
    """Return the bytes of an ``.npz`` holding ``arrays``, the same bytes every time for the same arrays.

    ``np.savez`` stamps each entry with the current time (and the system that wrote it), so two saves of the same
    arrays differ; here the entries are written in name order with a fixed date (1980-01-01) and system (Unix),
    and no array may need pickle, so ``np.load(..., allow_pickle=False)`` reads the result. With ``compress``,
    the entries are deflated at level 9: the bytes then also depend on zlib, identical for one zlib version.

    Args:
        arrays: name -> array (names without the ``.npy`` ending).
        compress: deflate the entries (as ``np.savez_compressed``) instead of storing them.

    Returns:
        The file's content, for :func:`course_utils.atomic.write_bytes`.

    Raises:
        ValueError: if ``arrays`` is empty, a name is not a non-empty str, or an array holds Python objects.
    """
    if not isinstance(arrays, dict) or not arrays:
        raise ValueError(f"expected a non-empty dict of name -> array, got {type(arrays).__name__} {arrays!r:.80}")
    bad = [name for name in arrays if not isinstance(name, str) or not name]
    if bad:
        raise ValueError(f"expected non-empty str names for the arrays, got {bad!r}")
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=method) as zf:
        for name in sorted(arrays):
            item = io.BytesIO()
            try:
                np.lib.format.write_array(item, np.asarray(arrays[name]), allow_pickle=False)
            except ValueError as err:  # "Object arrays cannot be saved when allow_pickle=False"
                raise ValueError(f"array {name!r} holds Python objects ({np.asarray(arrays[name]).dtype}), expected "
                                 "numbers, bools or fixed-width strings (an .npz with objects needs pickle)") from err
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.create_system = 3  # Unix, on every system: a Windows rebuild gives the same bytes
            zf.writestr(info, item.getvalue(), compress_type=method, compresslevel=9 if compress else None)
    return buf.getvalue()


def load_bundled_mnist() -> ImageDataset:
    """Load the 5,000 real MNIST digits shipped in ``data/``: 4,000 to train, 1,000 held out.

    The held-out split takes every fifth image of each class (100 per class), so both splits are balanced.

    Introduced in 03_cnn_classifier.

    Raises:
        ValueError: if the file is corrupt or has the wrong content.
        DataUnavailableError: if the file is missing (e.g. a pip install without the repository).
    """
    path = data_dir() / BUNDLED_MNIST.name
    if not path.is_file():
        raise DataUnavailableError(
            f"the bundled MNIST subset is missing ({path}); clone the repository or set COURSE_DATA_DIR"
        )
    verify_file(path, BUNDLED_MNIST.sha256)
    arrays = _read_npz(path, ("x", "y"))
    x, y = arrays["x"], arrays["y"]
    _check_images(x, y, str(path))
    # The file is sorted by class in blocks of 500; a fixed rule makes a balanced held-out split,
    # and a fixed permutation keeps training batches mixed.
    held_out = np.arange(len(x)) % 5 == 4
    order = np.random.default_rng(0).permutation(int((~held_out).sum()))
    x_train, y_train = x[~held_out][order], y[~held_out][order]
    x_test, y_test = x[held_out], y[held_out]
    notice = (
        "Offline: using the 5,000 real MNIST digits bundled in data/ (4,000 train, 1,000 held out), "
        "not the full 70,000. Results will be a little weaker; set COURSE_DATA_MIRROR or go online for the full set."
    )
    return ImageDataset(x_train, y_train, x_test, y_test, "MNIST (bundled 5k subset)", "bundled", notice)


def load_mnist(*, allow_fallback: bool = True, verbose: bool = True) -> ImageDataset:
    """Load MNIST: the full 60,000 + 10,000 digits, or the bundled subset when offline.

    Introduced in 00_start_here.

    Args:
        allow_fallback: if True (default), use the 5,000 digits in ``data/`` when the full set cannot be had.
        verbose: print where the data came from (always printed when falling back).

    Returns:
        An :class:`ImageDataset` of uint8 images (n, 28, 28) and uint8 labels.

    Raises:
        ValueError: if a file is corrupt or the mirror setting is invalid.
        DataUnavailableError: if nothing can be loaded (or fallback is disabled and the full set is unavailable).
    """
    try:
        path, source = fetch(MNIST_FILES[0])
    except DataUnavailableError as err:
        if not allow_fallback:
            raise
        ds = load_bundled_mnist()
        reasons = err.reasons or [str(err)]
        why = "; ".join("COURSE_OFFLINE=1, no download attempted" if r == "network disabled by COURSE_OFFLINE" else r
                        for r in reasons)
        print(f"Notice: {ds.notice}\n  (why: {why})")
        return ds
    arrays = _read_npz(path, ("x_train", "y_train", "x_test", "y_test"))
    for split in ("train", "test"):
        _check_images(arrays[f"x_{split}"], arrays[f"y_{split}"], f"{path} ({split})")
    ds = ImageDataset(arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"], "MNIST", source)
    if verbose:
        print(ds.summary())
    return ds


def _read_idx(path: Path, magic: int, ndim: int) -> np.ndarray:
    try:
        raw = gzip.decompress(path.read_bytes())
    except (OSError, EOFError) as err:
        raise ValueError(f"{path} is not a valid gzip file ({err})") from err
    header = np.frombuffer(raw[:4 * (ndim + 1)], dtype=">i4")
    if len(header) != ndim + 1 or header[0] != magic:
        raise ValueError(f"{path}: expected IDX magic {magic}, got {header[:1].tolist()}")
    shape = tuple(int(v) for v in header[1:])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 * (ndim + 1))
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path}: header says {shape} ({int(np.prod(shape))} bytes), file holds {data.size}")
    return data.reshape(shape)


def load_fashion_mnist(*, verbose: bool = True) -> ImageDataset:
    """Load Fashion-MNIST (60,000 + 10,000 clothing images, classes in ``FASHION_MNIST_CLASSES``).

    There is no bundled copy: offline it needs ``COURSE_DATA_MIRROR`` or a filled cache.

    Introduced in 00_start_here.

    Raises:
        ValueError: if a file is corrupt or the mirror setting is invalid.
        DataUnavailableError: if the files cannot be had.
    """
    paths, sources = [], set()
    for spec in FASHION_MNIST_FILES:
        path, source = fetch(spec, subdir="datasets/fashion-mnist")
        paths.append(path)
        sources.add(source)
    x_train = _read_idx(paths[0], 2051, 3)
    y_train = _read_idx(paths[1], 2049, 1)
    x_test = _read_idx(paths[2], 2051, 3)
    y_test = _read_idx(paths[3], 2049, 1)
    _check_images(x_train, y_train, "Fashion-MNIST train")
    _check_images(x_test, y_test, "Fashion-MNIST test")
    ds = ImageDataset(x_train, y_train, x_test, y_test, "Fashion-MNIST", "+".join(sorted(sources)))
    if verbose:
        print(ds.summary())
    return ds


def to_float_images(x: np.ndarray, *, low: float = -1.0, high: float = 1.0) -> np.ndarray:
    """Turn uint8 images (n, 28, 28) or (n, 28, 28, 1) into float32 (n, 28, 28, 1) in ``[low, high]``.

    ``[-1, 1]`` suits a generator ending in ``tanh``; ``[0, 1]`` suits a classifier.

    Introduced in 00_start_here.

    Raises:
        ValueError: if ``x`` is not uint8, not 3-D/4-D with one channel, or ``low``/``high`` are not finite
            numbers (int or float) with ``low < high``.
    """
    x = np.asarray(x)
    if x.dtype != np.uint8:
        raise ValueError(f"expected uint8 images (0..255), got dtype {x.dtype}")
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] != 1:
        raise ValueError(f"expected images of shape (n, h, w) or (n, h, w, 1), got {x.shape}")
    for name, value in (("low", low), ("high", high)):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise ValueError(f"low and high must be finite numbers, got {name}={value!r} ({type(value).__name__})")
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ValueError(f"expected finite low < high, got low={low}, high={high}")
    return (x.astype(np.float32) / 255.0 * (high - low) + low).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Emoji in two styles (bundled)
# ---------------------------------------------------------------------------------------------

EMOJI_SPLITS = ("train", "held_out", "all")
EMOJI_SIZES = (64, 32)
_EMOJI_REBUILD = ("Restore it with `git checkout -- data/emoji_64.npz`, or rebuild it with "
                  "`python data/build_emoji.py --fetch` (see data/README.md).")
_CODEPOINTS = re.compile(r"[0-9A-F]{4,6}(-[0-9A-F]{4,6})*")


@dataclass
class EmojiDataset:
    """Emoji drawn in one or both styles, with their categories and code points.

    Row ``i`` of ``google``, ``twitter``, ``categories``, ``codepoints`` and ``names`` is the same emoji, so with
    ``style="both"`` the two arrays are aligned pairs (one emoji, two drawings).

    Introduced in 08_colour_gans (through ``data.load_emoji``).

    Attributes:
        google: uint8 images (n, size, size, 3) in Noto Emoji's style, or None when not asked for.
        twitter: uint8 images (n, size, size, 3) in Twemoji's style, or None when not asked for.
        categories: uint8 category ids (n,), indexes into ``category_names``.
        codepoints: the emoji's code points, e.g. ``"1F600"`` or ``"1F468-200D-1F373"`` (str array, (n,)).
        names: lower-case Unicode names, e.g. ``"grinning face"`` (str array, (n,)).
        category_names: the category names (``EMOJI_CATEGORIES``).
        held_out: bool (n,), True for the held-out emoji (all True or all False unless ``split="all"``).
        style, split, size: what was asked for.
    """

    google: np.ndarray | None
    twitter: np.ndarray | None
    categories: np.ndarray
    codepoints: np.ndarray
    names: np.ndarray
    category_names: tuple[str, ...]
    held_out: np.ndarray
    style: str
    split: str
    size: int

    @property
    def images(self) -> np.ndarray:
        """The images of the one style asked for (``style="google"`` or ``"twitter"``).

        Raises:
            ValueError: for ``style="both"``, where ``google`` and ``twitter`` hold the two aligned sets.
        """
        if self.style == "both":
            raise ValueError("this dataset holds both styles: use .google and .twitter (aligned pairs), not .images")
        return self.google if self.style == "google" else self.twitter

    @property
    def emoji(self) -> list[str]:
        """The emoji as text (each code point sequence turned into its characters)."""
        return ["".join(chr(int(p, 16)) for p in c.split("-")) for c in self.codepoints]

    def __len__(self) -> int:
        return len(self.categories)

    def summary(self) -> str:
        """One line: styles, split, count, image shape, categories."""
        counts = np.bincount(self.categories, minlength=len(self.category_names))
        per = ", ".join(f"{name} {n}" for name, n in zip(self.category_names, counts))
        return (f"emoji ({self.style}, {self.split}): {len(self):,} images ({self.size}, {self.size}, 3) uint8; {per}")


def _check_emoji(arrays: dict[str, np.ndarray], where: str) -> None:
    """The bundle's arrays have the shapes, types and values ``data/build_emoji.py`` writes, and the styles align."""
    google, twitter = arrays["google"], arrays["twitter"]
    n = len(google)
    for style, x in (("google", google), ("twitter", twitter)):
        if x.dtype != np.uint8 or x.ndim != 4 or x.shape[1:] != (64, 64, 3) or n == 0:
            raise ValueError(f"{where}: expected {style} images uint8 (n, 64, 64, 3) with n > 0 (n = {n}), got "
                             f"{x.dtype} {x.shape}")
    names = arrays["category_names"]
    if names.dtype.kind != "U" or tuple(names.tolist()) != EMOJI_CATEGORIES:
        raise ValueError(f"{where}: expected the category names {EMOJI_CATEGORIES}, got {names.tolist()}")
    for key, kind in (("google_codepoints", "U"), ("twitter_codepoints", "U"), ("names", "U"), ("category", "u"),
                      ("held_out", "b")):
        if arrays[key].dtype.kind != kind or arrays[key].shape != (n,):
            raise ValueError(f"{where}: expected {key} of shape ({n},) and dtype kind {kind!r}, got "
                             f"{arrays[key].dtype} {arrays[key].shape}")
    if not np.array_equal(arrays["google_codepoints"], arrays["twitter_codepoints"]):
        wrong = int(np.flatnonzero(arrays["google_codepoints"] != arrays["twitter_codepoints"])[0])
        raise ValueError(f"{where}: the two styles are not aligned: row {wrong} is {arrays['google_codepoints'][wrong]} "
                         f"in google, {arrays['twitter_codepoints'][wrong]} in twitter; expected the same emoji per row")
    codepoints = arrays["google_codepoints"]
    bad = [c for c in codepoints.tolist() if not _CODEPOINTS.fullmatch(c)]
    if bad or len(set(codepoints.tolist())) != n:
        raise ValueError(f"{where}: expected {n} distinct code point sequences like '1F600', got "
                         f"{len(set(codepoints.tolist()))} distinct, malformed: {bad[:5]}")
    counts = np.bincount(arrays["category"], minlength=len(EMOJI_CATEGORIES))
    if len(counts) != len(EMOJI_CATEGORIES) or counts.min() == 0:
        raise ValueError(f"{where}: expected category ids 0..{len(EMOJI_CATEGORIES) - 1}, each used, got counts "
                         f"{counts.tolist()}")
    held = arrays["held_out"]
    if not 0 < int(held.sum()) < n:
        raise ValueError(f"{where}: expected both splits to be non-empty, got {int(held.sum())} of {n} held out")
    for style, x in (("google", google), ("twitter", twitter)):
        blank = np.flatnonzero(x.reshape(n, -1).min(axis=1) == 255)
        if len(blank):
            raise ValueError(f"{where}: {style} image {blank[0]} ({codepoints[blank[0]]}) is blank white; "
                             "expected an emoji on a white background")


def area_downsample(x: np.ndarray, factor: int) -> np.ndarray:
    """Shrink uint8 images (n, h, w, c) by ``factor`` with area averaging: each output pixel is the rounded mean
    of a ``factor`` x ``factor`` block (as ``cv2.INTER_AREA`` or ``tf.image.resize(..., "area")`` for whole factors).

    Introduced in 08_colour_gans (``load_emoji(size=32)`` uses it).

    Raises:
        ValueError: if ``x`` is not uint8 (n, h, w, c), ``factor`` is not a positive int, or does not divide h and w.
    """
    x = np.asarray(x)
    if x.dtype != np.uint8 or x.ndim != 4:
        raise ValueError(f"expected uint8 images (n, h, w, c), got {x.dtype} {x.shape}")
    factor = int_at_least(factor, 1, "factor", expected="a positive int")
    n, h, w, c = x.shape
    if h % factor or w % factor:
        raise ValueError(f"factor must divide the image size, got factor {factor} for {h}x{w}")
    blocks = x.reshape(n, h // factor, factor, w // factor, factor, c).astype(np.uint32).sum(axis=(2, 4))
    return ((blocks + factor * factor // 2) // (factor * factor)).astype(np.uint8)


def load_emoji(style: str = "google", split: str = "train", size: int = 64) -> EmojiDataset:
    """Load the bundled emoji: 1,871 emoji, each drawn by Google (Noto Emoji) and by Twitter (Twemoji).

    Both styles come from the npm packages ``emoji-datasource-google`` / ``-twitter`` 16.0.0, composited onto white
    (``data/README.md``: what was kept, the licences, Twemoji's attribution). The held-out split (282 emoji, about
    15 % of each category) is stored in the file and is the same for both styles. ``"train"`` comes in a fixed
    shuffled order (so a first batch mixes categories), ``"held_out"`` and ``"all"`` in Unicode's emoji order.
    The file is checked (SHA-256, shapes, types, the styles' alignment) before use. Nothing is downloaded.

    Introduced in 08_colour_gans.

    Args:
        style: ``"google"``, ``"twitter"`` or ``"both"`` (aligned pairs: ``.google[i]`` and ``.twitter[i]``).
        split: ``"train"``, ``"held_out"`` or ``"all"``.
        size: 64 (as drawn) or 32 (2x2 area averaging, :func:`area_downsample`).

    Returns:
        An :class:`EmojiDataset` of uint8 RGB images (``x.astype("float32") / 127.5 - 1`` puts them in [-1, 1]).

    Raises:
        ValueError: for an unknown style, split or size, or a corrupt, truncated or wrong file (the message says
            how to restore or rebuild it).
        DataUnavailableError: if the file is missing (e.g. a pip install without the repository).
    """
    for what, value, allowed in (("style", style, ("google", "twitter", "both")), ("split", split, EMOJI_SPLITS)):
        if not isinstance(value, str) or value not in allowed:
            raise ValueError(f"{what} must be one of {', '.join(map(repr, allowed))}, got {value!r}")
    if isinstance(size, (bool, np.bool_)) or not isinstance(size, (int, np.integer)) or size not in EMOJI_SIZES:
        raise ValueError(f"size must be one of {', '.join(map(str, EMOJI_SIZES))} (pixels), got {size!r}")
    path = data_dir() / BUNDLED_EMOJI.name
    if not path.is_file():
        raise DataUnavailableError(f"the bundled emoji are missing ({path}); clone the repository or set "
                                   f"COURSE_DATA_DIR. {_EMOJI_REBUILD}")
    verify_file(path, BUNDLED_EMOJI.sha256, remedy=_EMOJI_REBUILD)
    arrays = _read_npz(path, ("google", "twitter", "google_codepoints", "twitter_codepoints", "names", "category",
                              "category_names", "held_out"))
    _check_emoji(arrays, str(path))
    held = arrays["held_out"]
    if split == "train":
        rows = np.flatnonzero(~held)[np.random.default_rng(0).permutation(int((~held).sum()))]
    else:
        rows = np.flatnonzero(held) if split == "held_out" else np.arange(len(held))
    images = {}
    for name in EMOJI_STYLES:
        if style in (name, "both"):
            x = arrays[name][rows]
            images[name] = x if size == 64 else area_downsample(x, 64 // size)
    return EmojiDataset(images.get("google"), images.get("twitter"), arrays["category"][rows],
                        arrays["google_codepoints"][rows], arrays["names"][rows], EMOJI_CATEGORIES, held[rows],
                        style, split, size)
