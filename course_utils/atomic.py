"""Atomic file writes, in one place: a crash, ``kill -9`` or full disk leaves the old file or the new one, never half.

Every writer in ``course_utils`` (checkpoint histories, model files, evaluator files, figures, GIFs, mirror copies)
goes through :func:`atomic_path`: the content is written to a temporary file in the same folder, flushed to disk
(``fsync``), given the mode an ordinary ``open()`` would give (``0666`` less the user's umask, so ``0644`` under
the usual umask ``022``: readable in a shared classroom cache), then renamed over the target with ``os.replace``.
The folder is flushed too, so the rename itself survives a power cut. On any error the temporary file is removed
and the target is left as it was.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_path", "write_bytes", "write_text", "copy_file", "default_file_mode"]


def default_file_mode() -> int:
    """The mode ``open()`` gives a new file: ``0o666`` less the process umask (``0o644`` under umask ``022``).

    Introduced in 00_start_here (through ``data.load_mnist``, which caches downloads with it).
    """
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows, where folders cannot be opened
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse fsync on folders
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | os.PathLike, *, suffix: str = ".part") -> Iterator[Path]:
    """Give a temporary path next to ``path``; when the block ends without error, move it over ``path`` atomically.

    Introduced in 00_start_here (through ``data.load_mnist``, which caches downloads with it).

    The block writes the temporary file (by name: ``model.save(tmp)`` works). Then it is flushed to disk,
    given :func:`default_file_mode`, and renamed over ``path``. If the block raises, the temporary file is
    deleted, ``path`` is untouched and the error goes on.

    Args:
        path: the file to create or replace (parent folders are created).
        suffix: the temporary file's name ending; a library that insists on an extension (Keras: ``.keras``,
            ``.weights.h5``) needs it here.

    Yields:
        The temporary path (it does not exist yet).

    Raises:
        ValueError: if ``path`` is an existing folder.
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"expected a file path to write, got the folder {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    tmp = Path(name)
    tmp.unlink()  # some writers refuse to overwrite; the name stays ours (mkstemp picked an unused one)
    try:
        yield tmp
        if not tmp.is_file():
            raise FileNotFoundError(f"nothing was written to the temporary file {tmp}")
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, default_file_mode())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_bytes(path: str | os.PathLike, payload: bytes) -> Path:
    """Write ``payload`` to ``path`` atomically (see :func:`atomic_path`).

    Introduced in 00_start_here (through ``viz.show_images``, which saves its figure with it).

    Returns:
        ``path``, as a ``Path``.

    Raises:
        ValueError: if ``payload`` is not bytes, or ``path`` is a folder.
    """
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise ValueError(f"expected bytes to write, got {type(payload).__name__}")
    with atomic_path(path) as tmp:
        tmp.write_bytes(payload)
    return Path(path)


def write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_path`).

    Introduced in 04_dcgan (through ``checkpoints.GANCheckpoint``, for its state file and histories).

    Returns:
        ``path``, as a ``Path``.

    Raises:
        ValueError: if ``text`` is not a str, or ``path`` is a folder.
    """
    if not isinstance(text, str):
        raise ValueError(f"expected text (str) to write, got {type(text).__name__}")
    return write_bytes(path, text.encode(encoding))


def copy_file(src: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """Copy ``src`` to ``dest`` atomically (see :func:`atomic_path`).

    Introduced in 00_start_here (through ``data.load_mnist``, for classroom mirror copies).

    Returns:
        ``dest``, as a ``Path``.

    Raises:
        ValueError: if ``dest`` is a folder.
    """
    with atomic_path(dest) as tmp:
        shutil.copyfile(src, tmp)
    return Path(dest)
