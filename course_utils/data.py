"""Real datasets for the lessons: the names lessons use (``data.load_mnist``, ``data.load_emoji``, ...), kept in one place.

This module only re-exports; each job has its own module:

* :mod:`course_utils.downloads`: getting a file from the cache, a classroom mirror or the network, within a time
  limit and a size cap, and the SHA-256 check every file passes (:func:`fetch`, :func:`verify_file`,
  :func:`sha256_of`; the settings ``COURSE_CACHE_DIR``, ``COURSE_DATA_MIRROR``, ``COURSE_OFFLINE``);
* :mod:`course_utils.data_folder`: the repository's ``data/`` folder (:func:`data_dir`) and its ``.npz`` files,
  read without unpickling and written with the same bytes each time (:func:`npz_bytes`);
* :mod:`course_utils.digits`: MNIST and Fashion-MNIST, with the 5,000 bundled real digits as the offline fallback
  (:func:`load_mnist`, :func:`load_fashion_mnist`, :func:`load_bundled_mnist`, :func:`to_float_images`);
* :mod:`course_utils.emoji`: the 1,871 bundled emoji in two styles (:func:`load_emoji`, :func:`area_downsample`).

Lessons, tools and tests write ``from course_utils import data`` and ``data.load_mnist()``; those names stay here so
that the lessons and their saved outputs do not change. A test that replaces a setting (``MNIST_FILES``,
``DOWNLOAD_DEADLINE_S``, ...) replaces it in the module that reads it.
"""

from __future__ import annotations

from .data_folder import data_dir, npz_bytes
from .digits import (
    BUNDLED_MNIST,
    FASHION_MNIST_CLASSES,
    FASHION_MNIST_FILES,
    MNIST_FILES,
    ImageDataset,
    describe_sources,
    load_bundled_mnist,
    load_fashion_mnist,
    load_mnist,
    to_float_images,
)
from .downloads import (
    DOWNLOAD_DEADLINE_S,
    MAX_UNKNOWN_SIZE,
    NETWORK_TIMEOUT_S,
    OFFLINE_WORDS,
    ONLINE_WORDS,
    ORIGIN,
    STALL_MIN_BYTES,
    STALL_WINDOW_S,
    DataUnavailableError,
    RemoteFile,
    cache_dir,
    fetch,
    is_offline,
    mirror,
    sha256_of,
    verify_file,
)
from .emoji import (
    BUNDLED_EMOJI,
    EMOJI_CATEGORIES,
    EMOJI_SIZES,
    EMOJI_SPLITS,
    EMOJI_STYLES,
    EmojiDataset,
    area_downsample,
    load_emoji,
)

__all__ = ["data_dir", "npz_bytes",
           "BUNDLED_MNIST", "FASHION_MNIST_CLASSES", "FASHION_MNIST_FILES", "MNIST_FILES", "ImageDataset",
           "describe_sources", "load_bundled_mnist", "load_fashion_mnist", "load_mnist", "to_float_images",
           "DOWNLOAD_DEADLINE_S", "MAX_UNKNOWN_SIZE", "NETWORK_TIMEOUT_S", "OFFLINE_WORDS", "ONLINE_WORDS", "ORIGIN",
           "STALL_MIN_BYTES", "STALL_WINDOW_S", "DataUnavailableError", "RemoteFile", "cache_dir", "fetch", "is_offline",
           "mirror", "sha256_of", "verify_file",
           "BUNDLED_EMOJI", "EMOJI_CATEGORIES", "EMOJI_SIZES", "EMOJI_SPLITS", "EMOJI_STYLES", "EmojiDataset",
           "area_downsample", "load_emoji"]
