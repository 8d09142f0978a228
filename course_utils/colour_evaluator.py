"""The course's colour evaluator: a small CNN that sorts 64x64 emoji into their 9 Unicode categories, used as a
measuring instrument for generated colour images (lesson 08, 08_colour_gans).

It is the colour sibling of lesson 03's digit evaluator (:mod:`course_utils.evaluator`) and shares its machinery:
the :class:`~course_utils.evaluator.Evaluator` class (features, FID, class coverage), the input checks, the file
writing and reading, and the Fréchet maths of :mod:`course_utils.frechet`. What differs is the network (five
colour conv blocks, 64 "features"), the input (``(n, 64, 64, 3)``), the 9 categories and the files:

* ``emoji_evaluator.weights.h5`` -- the weights of the CNN;
* ``emoji_evaluator_stats.npz`` -- mean and covariance of its features on the real *training* emoji: both styles
  together (the default reference, 3,178 images) and each style alone (1,589 each), with metadata.

Both are checked against the SHA-256 recorded below (``course_utils.data.verify_file``) before use. They were
written by ``python tools/train_colour_evaluator.py``, which trains the network with :data:`RECIPE` on the 1,589
training emoji of both styles (3,178 images, with flips, shifts and colour jitter), measures it (held-out accuracy
per style, FID floors, noise, sample-count dependence) and writes its record ``data/emoji_evaluator.json``.

Why training statistics: the held-out split has only 282 emoji per style, too few for a stable 64x64 covariance;
the 1,589 (or 3,178) training images give a steadier reference. The real-vs-real floor is therefore measured with
the 282 held-out emoji of a style against these statistics, and a generator's FID should be compared with that
floor **at the same number of images** (282); see the record for how the floor falls as n grows.

Like the digit evaluator's, this FID is not comparable to Inception-based FID numbers in papers; compare it only
with itself, at the same number of images. Nothing happens on import; the model is built and loaded on first use.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import data
from .evaluator_files import _built_with, _save_files, load_checked, read_npz, stats_from
from .evaluator_scoring import ClassCoverage, Evaluator, _numeric_array, _to_unit_range
from .frechet import ReferenceStats, frechet_distance

__all__ = ["WEIGHTS_NAME", "STATS_NAME", "WEIGHTS_SHA256", "STATS_SHA256", "RECORD_NAME", "IMAGE_SHAPE",
           "NUM_CLASSES", "FEATURE_DIM", "CATEGORIES", "STYLES", "Recipe", "RECIPE", "ColourEvaluator",
           "build_model", "preprocess", "augment", "save_colour_evaluator", "load_colour_evaluator", "features",
           "predict", "fid", "class_coverage", "reference_stats"]

WEIGHTS_NAME = "emoji_evaluator.weights.h5"
STATS_NAME = "emoji_evaluator_stats.npz"
RECORD_NAME = "emoji_evaluator.json"
WEIGHTS_SHA256 = "788fd4dc5c99b96063d0fb07ca49d952bd7c2698f94684b86ce8a6b9fad3405a"
STATS_SHA256 = "f57a858b32a63f7e3c183f22ddbb94e40c6f96c8dc8699f4f0a951eccbde5636"
"""SHA-256 of the shipped files (``data/README.md`` says how they were made)."""

FEATURE_LAYER = "features"
FEATURE_DIM = 64
NUM_CLASSES = 9
IMAGE_SHAPE = (64, 64, 3)
CATEGORIES = data.EMOJI_CATEGORIES
STYLES = ("both", "google", "twitter")
"""The reference statistics shipped: training emoji of both styles (the default), or of one style."""

_REBUILD = ("Restore it from the repository (git checkout -- data/{name}) or rebuild it with "
            "`python tools/train_colour_evaluator.py` (see data/README.md).")


@dataclass(frozen=True)
class Recipe:
    """The fixed training recipe of the shipped colour evaluator.

    Attributes:
        seed: seeds Keras, NumPy and TensorFlow, and the augmentation's generator.
        epochs, batch_size, learning_rate: Adam with a cosine decay of the learning rate to 0 over all steps.
        dropout: dropout rate before the last layer.
        balanced: weight each category's loss by ``n_images / (9 * n_category)``, so the small categories
            (Activities: 72 training emoji, People & Body: 306) are not simply never predicted.
        shift: largest random shift in pixels (the uncovered border is filled with white, the background).
        flip: mirror half of the images left-right.
        ink_gain: the "ink" (``1 - x``, so the white background stays white) is scaled by ``U(1 - g, 1 + g)``.
        channel_gain: and each colour channel by a further ``U(1 - c, 1 + c)``.
    """

    seed: int = 2025
    epochs: int = 40
    batch_size: int = 64
    learning_rate: float = 2e-3
    dropout: float = 0.3
    balanced: bool = True
    shift: int = 4
    flip: bool = True
    ink_gain: float = 0.2
    channel_gain: float = 0.1


RECIPE = Recipe()


def build_model(dropout: float = RECIPE.dropout):
    """Build the colour evaluator CNN (untrained).

    Five 3x3 conv blocks (16, 32, 64, 128, 128 channels; each convolution, batch normalization, ReLU; 2x2 max
    pooling after the first three, so 64 -> 8 pixels), global average pooling, a 64-unit ReLU layer named
    ``"features"`` (the features of :func:`fid`), dropout and a 9-way softmax. Input: float ``(64, 64, 3)`` in [0, 1].

    Introduced in 08_colour_gans.

    Args:
        dropout: dropout rate before the last layer (active only in training).

    Returns:
        A ``keras.Sequential`` model (254,969 parameters, 253,993 of them trainable).
    """
    import keras
    from keras import layers

    def block(filters: int, i: int) -> list:
        return [layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv{i}"),
                layers.BatchNormalization(name=f"bn{i}"), layers.ReLU(name=f"relu{i}")]

    return keras.Sequential([
        keras.Input(shape=IMAGE_SHAPE),
        *block(16, 1), layers.MaxPooling2D(2, name="pool1"),
        *block(32, 2), layers.MaxPooling2D(2, name="pool2"),
        *block(64, 3), layers.MaxPooling2D(2, name="pool3"),
        *block(128, 4),
        *block(128, 5),
        layers.GlobalAveragePooling2D(name="gap"),
        layers.Dense(FEATURE_DIM, activation="relu", name=FEATURE_LAYER),
        layers.Dropout(dropout, name="dropout"),
        layers.Dense(NUM_CLASSES, activation="softmax", name="probs"),
    ], name="emoji_evaluator")


def preprocess(images: Any, value_range: str | tuple[float, float] = "auto") -> np.ndarray:
    """Check a batch of colour images and map it to float32 ``(n, 64, 64, 3)`` in [0, 1], the network's input.

    The same rules as the digit evaluator's ``preprocess`` (``course_utils.evaluator.preprocess``), for RGB images.

    Introduced in 08_colour_gans.

    Args:
        images: shape ``(n, 64, 64, 3)``; uint8 in [0, 255] or float in [-1, 1] (a generator's ``tanh``
            output). TensorFlow tensors are accepted.
        value_range: ``"auto"`` (uint8 means (0, 255), any float dtype means (-1, 1); float images without a
            negative value are refused) or an explicit ``(low, high)`` such as ``(0, 1)``.

    Returns:
        float32 array ``(n, 64, 64, 3)`` in [0, 1].

    Raises:
        ValueError: on a wrong shape (the message gives the expected and the actual one), a non-numeric dtype,
            an empty batch, NaN/inf, values outside the range, or a bad ``value_range``.
    """
    arr = _numeric_array(images)
    if arr.ndim != 4 or arr.shape[1:] != IMAGE_SHAPE or arr.shape[0] == 0:
        hint = ""
        if arr.ndim == 4 and arr.shape[1:] == (32, 32, 3):
            hint = " (32x32 images: score them at 64x64, e.g. np.repeat(np.repeat(x, 2, 1), 2, 2))"
        elif arr.ndim == 4 and arr.shape[1:3] == IMAGE_SHAPE[:2] and arr.shape[3] in (1, 4):
            hint = " (RGB without alpha: composite onto white first)"
        elif arr.ndim == 4 and arr.shape[1] == 3:
            hint = " (channels last: use np.moveaxis(x, 1, -1))"
        raise ValueError(f"expected colour images of shape (n, 64, 64, 3) with n >= 1, got shape "
                         f"{np.shape(images)}{hint}")
    return _to_unit_range(arr, value_range)


def augment(x: np.ndarray, rng: np.random.Generator, recipe: Recipe = RECIPE) -> np.ndarray:
    """Randomly flip, shift and colour-jitter float images in [0, 1] on a white background (training only).

    Not in a lesson: the training augmentation of tools/train_colour_evaluator.py; tests/test_colour_evaluator.py checks it.

    Args:
        x: float32 ``(n, h, w, 3)`` in [0, 1].
        rng: the generator that draws every random choice (so a seed gives the same images).
        recipe: ``shift``, ``flip``, ``ink_gain`` and ``channel_gain`` are used.

    Returns:
        A new float32 array of the same shape, in [0, 1].
    """
    x = np.asarray(x, dtype=np.float32)
    n, h, w, _ = x.shape
    if recipe.flip:
        flip = rng.random(n) < 0.5
        x = np.where(flip[:, None, None, None], x[:, :, ::-1], x)
    s = int(recipe.shift)
    if s > 0:
        padded = np.pad(x, ((0, 0), (s, s), (s, s), (0, 0)), constant_values=1.0)
        dy, dx = rng.integers(0, 2 * s + 1, n), rng.integers(0, 2 * s + 1, n)
        rows = dy[:, None] + np.arange(h)[None, :]
        cols = dx[:, None] + np.arange(w)[None, :]
        x = padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]
    gain = rng.uniform(1 - recipe.ink_gain, 1 + recipe.ink_gain, (n, 1, 1, 1))
    gain = gain * rng.uniform(1 - recipe.channel_gain, 1 + recipe.channel_gain, (n, 1, 1, 3))
    return np.clip(1.0 - (1.0 - x) * gain.astype(np.float32), 0.0, 1.0).astype(np.float32)


class ColourEvaluator(Evaluator):
    """A trained colour evaluator with its reference statistics (one per style in :data:`STYLES`).

    Everything but the input check and the number of classes comes from the digit evaluator's
    :class:`~course_utils.evaluator.Evaluator`: ``features`` ``(n, 64)``, ``predict`` ``(n, 9)``, ``stats``,
    ``accuracy``, ``class_coverage`` (over the 9 categories). :meth:`fid` also takes a style name as reference.

    Introduced in 08_colour_gans.
    """

    num_classes = NUM_CLASSES
    feature_layer = FEATURE_LAYER
    batch_size = 64  # 64x64x3 inputs: a pass of 500 held ~0.5 GB of activations, too much for Binder's 2 GB

    def __init__(self, model, references: dict[str, ReferenceStats] | None = None):
        references = dict(references or {})
        super().__init__(model, references.get("both"))
        self.references = references

    def _preprocess(self, images: Any, value_range: str | tuple[float, float]) -> np.ndarray:
        return preprocess(images, value_range)

    def reference_stats(self, style: str = "both") -> ReferenceStats:
        """The feature statistics of the real training emoji of ``style`` (``"both"``, ``"google"``, ``"twitter"``)."""
        if not isinstance(style, str) or style not in STYLES:
            raise ValueError(f"style must be one of {', '.join(map(repr, STYLES))}, got {style!r}")
        if style not in self.references:
            raise ValueError(f"this evaluator has no reference statistics for {style!r}; pass reference= to fid()")
        return self.references[style]

    def fid(self, images: Any, reference: Any = None, value_range: str | tuple[float, float] = "auto") -> float:
        """Fréchet distance to ``reference``: None (training emoji of both styles), a style name, a
        :class:`ReferenceStats`, or another image batch. See :func:`fid`."""
        if reference is None or isinstance(reference, str):
            reference = self.reference_stats("both" if reference is None else reference)
        return super().fid(images, reference, value_range)

    def class_coverage(self, images: Any, value_range: str | tuple[float, float] = "auto",
                       min_share: float = 0.025) -> ClassCoverage:
        """Predicted-category histogram (9 categories, in :data:`CATEGORIES` order). See :func:`class_coverage`."""
        return super().class_coverage(images, value_range, min_share)


def save_colour_evaluator(evaluator: ColourEvaluator,
                          directory: str | os.PathLike | None = None) -> tuple[Path, Path]:
    """Write the weights and the reference statistics of every style into ``directory`` (default ``data/``), atomically.

    Not in a lesson: tools/train_colour_evaluator.py writes the shipped files with it;
    tests/test_colour_evaluator.py checks it.

    Returns:
        The paths of the weights file and the statistics file.
    """
    directory = Path(directory) if directory is not None else data.data_dir()
    directory.mkdir(parents=True, exist_ok=True)
    weights_path, stats_path = directory / WEIGHTS_NAME, directory / STATS_NAME
    both = evaluator.reference_stats("both")
    # The "style" entry is added when the file is read (from the array names), not stored.
    both = ReferenceStats(both.mu, both.sigma, both.n, {k: v for k, v in both.metadata.items() if k != "style"})
    extra = {}
    for style in STYLES[1:]:
        ref = evaluator.reference_stats(style)
        extra.update({f"{style}_mu": ref.mu.astype(np.float64), f"{style}_sigma": ref.sigma.astype(np.float64),
                      f"{style}_n": np.int64(ref.n)})
    _save_files(evaluator.model, build_model(), both, weights_path, stats_path, extra)
    return weights_path, stats_path


def _read_references(path: Path) -> dict[str, ReferenceStats]:
    arrays = read_npz(path)
    both = stats_from(arrays, path, FEATURE_DIM)
    references = {"both": ReferenceStats(both.mu, both.sigma, both.n, {**both.metadata, "style": "both"})}
    for style in STYLES[1:]:
        references[style] = stats_from(arrays, path, FEATURE_DIM, prefix=f"{style}_",
                                       metadata={**both.metadata, "style": style})
    return references


def load_colour_evaluator(directory: str | os.PathLike | None = None, *,
                          check_sha256: bool = True) -> ColourEvaluator:
    """Load the shipped colour evaluator (cached: later calls return the same object at no cost).

    Introduced in 08_colour_gans.

    Args:
        directory: folder holding ``emoji_evaluator.weights.h5`` and ``emoji_evaluator_stats.npz`` (default: the
            repository's ``data/``, or ``COURSE_DATA_DIR``).
        check_sha256: verify both files against ``WEIGHTS_SHA256``/``STATS_SHA256`` with
            ``course_utils.data.verify_file``. Turn it off only to load an evaluator you retrained yourself.

    Returns:
        The :class:`ColourEvaluator`.

    Raises:
        ValueError: if a file is missing, corrupt, truncated, or (with ``check_sha256``) not the shipped one.
    """
    return load_checked(directory, (WEIGHTS_NAME, STATS_NAME), (WEIGHTS_SHA256, STATS_SHA256),
                        check_sha256=check_sha256, what="the colour evaluator file", restore=_REBUILD,
                        build=lambda weights, stats: ColourEvaluator(_built_with(weights, build_model),
                                                                     _read_references(stats)))


def features(images: Any, value_range: str | tuple[float, float] = "auto") -> np.ndarray:
    """Features of the penultimate layer (64 ReLU units) for a batch of colour images, float64 ``(n, 64)``.

    Not in a lesson: the shipped evaluator's :meth:`Evaluator.features` as one call (lesson 08 uses the method);
    tests/test_colour_evaluator.py checks it.

    Args:
        images: ``(n, 64, 64, 3)``; uint8 in [0, 255] or float in [-1, 1].
        value_range: ``"auto"`` (by dtype: uint8 -> (0, 255), float -> (-1, 1)) or ``(low, high)``.

    Raises:
        ValueError: on bad images (see :func:`preprocess`) or a damaged evaluator file.
    """
    return load_colour_evaluator().features(images, value_range)


def predict(images: Any, value_range: str | tuple[float, float] = "auto") -> np.ndarray:
    """Category probabilities ``(n, 9)`` (rows sum to 1; columns in :data:`CATEGORIES` order).

    Not in a lesson: the shipped evaluator's :meth:`Evaluator.predict` as one call (lesson 08 uses the method);
    tests/test_colour_evaluator.py checks it.

    Raises:
        ValueError: on bad images (see :func:`preprocess`) or a damaged evaluator file.
    """
    return load_colour_evaluator().predict(images, value_range)


def fid(images: Any, reference: Any = None, value_range: str | tuple[float, float] = "auto") -> float:
    """Fréchet distance between ``images`` and real emoji, in the colour evaluator's feature space.

    The same formula as the digit evaluator's ``fid`` (``course_utils.frechet.frechet_distance`` on the 64
    features). Not comparable to FID numbers in papers. The estimate is biased upwards for small batches: compare
    values computed on the same number of images, e.g. 282, the size of one style's held-out split, whose score is
    the real-vs-real floor (``data/emoji_evaluator.json`` records it, and how it changes with n).

    Not in a lesson: the shipped evaluator's :meth:`ColourEvaluator.fid` as one call (lesson 08 uses the method);
    tests/test_colour_evaluator.py checks it.

    Args:
        images: the batch to score, ``(n, 64, 64, 3)``, n >= 2; uint8 in [0, 255] or float in [-1, 1].
        reference: None for the training emoji of both styles (3,178 images); ``"google"`` or ``"twitter"`` for
            one style's 1,589 training emoji; another image batch; or a :class:`ReferenceStats`.
        value_range: ``"auto"`` or ``(low, high)``; applies to both batches.

    Returns:
        The distance, a float >= 0 (up to rounding).

    Raises:
        ValueError: on bad images, fewer than 2 images, an unknown style, or a damaged evaluator file.
    """
    return load_colour_evaluator().fid(images, reference, value_range)


def class_coverage(images: Any, value_range: str | tuple[float, float] = "auto",
                   min_share: float = 0.025) -> ClassCoverage:
    """How many of the 9 emoji categories a batch covers according to the evaluator: a mode-collapse meter.

    Not in a lesson: the shipped evaluator's :meth:`ColourEvaluator.class_coverage` as one call (lesson 08 uses the
    method, on ``load_colour_evaluator()``); tests/test_colour_evaluator.py checks it.

    Args:
        images: ``(n, 64, 64, 3)``; uint8 in [0, 255] or float in [-1, 1].
        value_range: ``"auto"`` (by dtype) or ``(low, high)``.
        min_share: a category counts as covered when at least this share of the images is predicted as it
            (default 2.5 %; the smallest category, Activities, is 4.5 % of the emoji).

    Returns:
        A :class:`~course_utils.evaluator.ClassCoverage`; ``counts[i]`` belongs to ``CATEGORIES[i]``.

    Raises:
        ValueError: on bad images, ``min_share`` not a number in (0, 1], or a damaged evaluator file.
    """
    return load_colour_evaluator().class_coverage(images, value_range, min_share)


def reference_stats(style: str = "both") -> ReferenceStats:
    """The shipped reference statistics of the real training emoji of ``style``, with metadata.

    Not in a lesson: the shipped evaluator's :meth:`ColourEvaluator.reference_stats` as one call;
    tests/test_colour_evaluator.py checks it.

    Raises:
        ValueError: for an unknown style, or if the statistics file is missing or damaged.
    """
    return load_colour_evaluator().reference_stats(style)


def frechet_between(a: ReferenceStats, b: ReferenceStats) -> float:
    """Fréchet distance between two sets of statistics (a shorthand for ``frechet_distance(a.mu, a.sigma, ...)``)."""
    return frechet_distance(a.mu, a.sigma, b.mu, b.sigma)
