"""MNIST and Fashion-MNIST: the full datasets, checksummed and cached, or the 5,000 real digits bundled in ``data/``.

:func:`load_mnist` and :func:`load_fashion_mnist` get their files through :func:`course_utils.downloads.fetch`
(cache, classroom mirror, network; every file checked against its SHA-256). When none of these work,
:func:`load_mnist` falls back to the 5,000 real MNIST digits bundled in the repository's ``data/`` folder (4,000 to
train, 1,000 held out) and prints a notice saying so. :func:`to_float_images` maps the uint8 digits to a network's
float range.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .data_folder import _read_npz, data_dir
from .downloads import ORIGIN, DataUnavailableError, RemoteFile, cache_dir, fetch, is_offline, mirror, verify_file

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

FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)


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


def _check_images(x: np.ndarray, y: np.ndarray, where: str) -> None:
    if x.dtype != np.uint8 or x.ndim != 3 or x.shape[1:] != (28, 28):
        raise ValueError(f"{where}: expected uint8 images of shape (n, 28, 28), got {x.dtype} {x.shape}")
    if y.shape != (x.shape[0],) or y.size == 0 or int(y.max()) > 9:
        raise ValueError(f"{where}: expected {x.shape[0]} labels in 0..9, got shape {y.shape}")


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
