"""Scoring with an evaluator: checked inputs, forward passes in batches, the Fréchet distance, class coverage.

:class:`Evaluator` wraps a trained network (:mod:`course_utils.evaluator_network`) and its reference statistics and
scores image batches with them: features, class probabilities, FID in its feature space, class coverage (a
mode-collapse meter), accuracy. :func:`preprocess` checks a batch of digits and maps it to the network's input. The
colour evaluator (:mod:`course_utils.colour_evaluator`) is a subclass that reuses all of it. The Fréchet-distance
maths is :mod:`course_utils.frechet`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Real
from typing import Any

import numpy as np

from .evaluator_network import FEATURE_LAYER, IMAGE_SHAPE, NUM_CLASSES
from .frechet import ReferenceStats, frechet_distance, gaussian_stats
from .ranges import check_value_range

BATCH_SIZE = 500


@dataclass(frozen=True)
class ClassCoverage:
    """What the evaluator thinks a batch of digits contains: a mode-collapse meter.

    Introduced in 03_cnn_classifier.

    Attributes:
        counts: images predicted as each class 0..9, shape ``(10,)``.
        fractions: ``counts / n_images``.
        n_covered: classes whose share is at least ``min_share`` (10 for a healthy generator, 1 when collapsed).
        effective_classes: ``exp(entropy of fractions)``, from 1 (one class) to 10 (perfectly balanced).
        mean_confidence: mean top-class probability (low means the digits look ambiguous to the evaluator).
        n_images: batch size.
        min_share: the threshold used for ``n_covered``.
    """

    counts: np.ndarray
    fractions: np.ndarray
    n_covered: int
    effective_classes: float
    mean_confidence: float
    n_images: int
    min_share: float

    def __str__(self) -> str:
        hist = " ".join(f"{d}:{c}" for d, c in enumerate(self.counts.tolist()))
        return (f"{self.n_covered}/{len(self.counts)} classes covered (share >= {self.min_share:.1%}), "
                f"effective classes {self.effective_classes:.2f}, mean confidence {self.mean_confidence:.3f} "
                f"over {self.n_images} images [{hist}]")


class Evaluator:
    """A trained evaluator CNN with its reference statistics.

    Use :func:`load_evaluator` for the shipped one or :func:`train_evaluator` to make one. The module-level
    functions (:func:`fid`, :func:`features`, ...) call the shipped evaluator's methods.

    Another instrument (``course_utils.colour_evaluator``: emoji, 9 categories) is a subclass that overrides
    ``num_classes``, ``feature_layer`` and :meth:`_preprocess`; the rest is shared.

    Introduced in 03_cnn_classifier.
    """

    num_classes: int = NUM_CLASSES
    feature_layer: str = FEATURE_LAYER
    batch_size: int = BATCH_SIZE
    """Images per forward pass: larger is faster, smaller holds less memory (the activations of one pass)."""

    def __init__(self, model, reference: ReferenceStats | None = None):
        import keras

        self.model = model
        self._two_heads = keras.Model(model.inputs[0], [model.get_layer(self.feature_layer).output, model.outputs[0]])
        self.reference = reference

    # -- forward passes --------------------------------------------------------------------------
    def _preprocess(self, images: Any, value_range: str | tuple[float, float]) -> np.ndarray:
        """Check a batch and map it to the network's input (here: :func:`preprocess`, digits)."""
        return preprocess(images, value_range)

    def _run(self, images: Any, value_range: str | tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
        x = self._preprocess(images, value_range)
        feats, probs = [], []
        for start in range(0, len(x), self.batch_size):
            f, p = self._two_heads(x[start:start + self.batch_size], training=False)
            feats.append(np.asarray(f))
            probs.append(np.asarray(p))
        return np.concatenate(feats).astype(np.float64), np.concatenate(probs).astype(np.float64)

    def features(self, images: Any, value_range: str | tuple[float, float] = "auto") -> np.ndarray:
        """Penultimate-layer features, shape ``(n, 64)``. See :func:`features`."""
        return self._run(images, value_range)[0]

    def predict(self, images: Any, value_range: str | tuple[float, float] = "auto") -> np.ndarray:
        """Class probabilities, shape ``(n, 10)``. See :func:`predict`."""
        return self._run(images, value_range)[1]

    def stats(self, images: Any, value_range: str | tuple[float, float] = "auto") -> ReferenceStats:
        """Mean and covariance of the features of ``images`` (at least 2)."""
        feats = self.features(images, value_range)
        return gaussian_stats(feats)

    def reference_stats(self) -> ReferenceStats:
        """The real-data statistics this evaluator carries. See :func:`reference_stats`."""
        if self.reference is None:
            raise ValueError("this evaluator has no reference statistics; pass reference= to fid()")
        return self.reference

    def fid(self, images: Any, reference: Any = None, value_range: str | tuple[float, float] = "auto") -> float:
        """Fréchet distance to ``reference`` in this evaluator's feature space. See :func:`fid`."""
        if isinstance(reference, ReferenceStats):
            ref = reference
        elif reference is None:
            ref = self.reference_stats()
        else:
            ref = self.stats(reference, value_range)
        got = self.stats(images, value_range)
        return frechet_distance(got.mu, got.sigma, ref.mu, ref.sigma)

    def class_coverage(self, images: Any, value_range: str | tuple[float, float] = "auto",
                       min_share: float = 0.025) -> ClassCoverage:
        """Predicted-class histogram and friends. See :func:`class_coverage`."""
        if isinstance(min_share, bool) or not isinstance(min_share, Real) or not 0.0 < float(min_share) <= 1.0:
            raise ValueError(f"min_share must be in (0, 1], a number such as 0.025, got {min_share!r} "
                             f"({type(min_share).__name__})")
        probs = self.predict(images, value_range)
        counts = np.bincount(probs.argmax(axis=1), minlength=self.num_classes).astype(np.int64)
        fractions = counts / counts.sum()
        nz = fractions[fractions > 0]
        return ClassCoverage(
            counts=counts, fractions=fractions, n_covered=int((fractions >= min_share).sum()),
            effective_classes=float(np.exp(-(nz * np.log(nz)).sum())),
            mean_confidence=float(probs.max(axis=1).mean()), n_images=int(len(probs)), min_share=float(min_share),
        )

    def accuracy(self, images: Any, labels: Any, value_range: str | tuple[float, float] = "auto") -> float:
        """Fraction of ``images`` whose predicted class equals ``labels``."""
        labels = np.asarray(labels).reshape(-1)
        integral = np.issubdtype(labels.dtype, np.integer) or (
            np.issubdtype(labels.dtype, np.floating) and np.all(np.isfinite(labels)) and np.all(labels == np.round(labels)))
        num_classes = self.num_classes
        if labels.dtype == bool or not integral:
            raise ValueError(f"expected integer class labels 0..{num_classes - 1} (e.g. y_test), got dtype {labels.dtype}"
                             + (f" such as {labels.flat[0].item()!r}" if labels.size else "")
                             + "; convert them first, e.g. labels.astype(int)")
        if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
            raise ValueError(f"expected class labels in 0..{num_classes - 1}, got values in "
                             f"[{labels.min():g}, {labels.max():g}]")
        probs = self.predict(images, value_range)
        if len(labels) != len(probs):
            raise ValueError(f"expected {len(probs)} labels (one per image), got {len(labels)}")
        return float((probs.argmax(axis=1) == labels).mean())


def preprocess(images: Any, value_range: str | tuple[float, float] = "auto") -> np.ndarray:
    """Check a batch of digit images and map it to float32 ``(n, 28, 28, 1)`` in [0, 1], the evaluator's input.

    Introduced in 03_cnn_classifier.

    Args:
        images: shape ``(n, 28, 28)`` or ``(n, 28, 28, 1)``; uint8 in [0, 255] or float in [-1, 1]
            (a generator's ``tanh`` output). TensorFlow tensors are accepted.
        value_range: ``"auto"`` (uint8 means (0, 255), any float dtype means (-1, 1)), or an explicit
            ``(low, high)`` such as ``(0, 1)`` for float images in [0, 1]. With ``"auto"``, float images without
            a single negative value are refused: they are almost surely in [0, 1], and reading them as [-1, 1]
            would give silently wrong scores (FID 283 instead of 68 on real digits).

    Returns:
        float32 array ``(n, 28, 28, 1)`` in [0, 1].

    Raises:
        ValueError: on a wrong shape, a non-numeric dtype, an empty batch, NaN/inf, values outside the range, a
            range that is not two finite numbers with low < high, or ``"auto"`` with float images in [0, 1].
    """
    arr = _numeric_array(images)
    if arr.ndim == 3:
        arr = arr[..., None]
    if arr.ndim != 4 or arr.shape[1:] != IMAGE_SHAPE or arr.shape[0] == 0:
        raise ValueError(f"expected images of shape (n, 28, 28) or (n, 28, 28, 1) with n >= 1, "
                         f"got shape {np.shape(images)}")
    return _to_unit_range(arr, value_range)


def _numeric_array(images: Any) -> np.ndarray:
    """``images`` as an array, refused unless its dtype is an integer or float type (not bool)."""
    arr = np.asarray(images)
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(f"expected uint8 images in [0, 255] or float images in [-1, 1], got dtype {arr.dtype}")
    return arr


def _to_unit_range(arr: np.ndarray, value_range: str | tuple[float, float]) -> np.ndarray:
    """Check the values of an image batch of the right shape and map them to float32 in [0, 1] (see :func:`preprocess`)."""
    auto = isinstance(value_range, str) and value_range == "auto"
    if auto:
        if arr.dtype == np.uint8:
            low, high = 0.0, 255.0
        elif np.issubdtype(arr.dtype, np.floating):
            low, high = -1.0, 1.0
        else:
            raise ValueError(f"value_range='auto' needs uint8 (0..255) or float (-1..1) images, got dtype "
                             f"{arr.dtype}; pass value_range=(low, high)")
    else:
        low, high = check_value_range(value_range)
    x = arr.astype(np.float32)  # the one copy: everything below works in place (a batch of 64x64x3 emoji is large)
    lo_got, hi_got = float(x.min()), float(x.max())  # NaN anywhere makes min and max NaN; inf shows in them too
    if not (np.isfinite(lo_got) and np.isfinite(hi_got)):
        raise ValueError("expected finite pixel values, got NaN or infinity (did training diverge?)")
    tol = 1e-3 * (high - low)
    if lo_got < low - tol or hi_got > high + tol:
        raise ValueError(f"expected pixel values in [{low:g}, {high:g}], got values in [{lo_got:g}, {hi_got:g}]; "
                         "pass value_range=(low, high) if your images use another range")
    if auto and np.issubdtype(arr.dtype, np.floating) and lo_got >= 0.0:
        raise ValueError(f"value_range='auto' reads float images as [-1, 1] (a tanh generator's output), but these have "
                         f"no negative value (they lie in [{lo_got:g}, {hi_got:g}]): they look like "
                         "images in [0, 1], which would be scored wrongly. Pass value_range=(0, 1) for images in "
                         "[0, 1], or value_range=(-1, 1) if they really are in [-1, 1]")
    x -= low
    x /= high - low
    return np.clip(x, 0.0, 1.0, out=x)
