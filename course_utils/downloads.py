"""Getting a data file and checking it: the cache, a classroom mirror, the network, and the SHA-256 every file must have.

Where a file comes from, in order (:func:`fetch`):

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

:func:`verify_file` is the course's one "present, digest matches" check, also for the files shipped in ``data/``
(evaluators, trained models). The datasets built on these files are :mod:`course_utils.digits` and
:mod:`course_utils.emoji`.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import stat
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

from . import atomic

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
