"""The course's data folder and its ``.npz`` files: where the bundled data is, read safely, written reproducibly.

:func:`data_dir` is the repository's ``data/`` (or ``COURSE_DATA_DIR``), which holds the bundled datasets and the
shipped models and evaluators. Every ``.npz`` the course reads is read without unpickling (:func:`_read_npz`), and
every one it writes has the same bytes for the same arrays (:func:`npz_bytes`).
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import numpy as np


def data_dir() -> Path:
    """Return the folder with the bundled data (the repository's ``data/``, or ``COURSE_DATA_DIR``).

    Introduced in 00_start_here.
    """
    override = os.environ.get("COURSE_DATA_DIR")
    if override:
        return Path(override).expanduser()
    return Path(__file__).resolve().parent.parent / "data"


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
