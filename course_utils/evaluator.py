"""The course's image evaluator: a small MNIST CNN used as a measuring instrument for generated digits.

The evaluator is trained once, with the fixed recipe in :func:`train_evaluator`, on the 4,000 real training
digits bundled in ``data/mnist_5k.npz``, and shipped as two files in ``data/``:

* ``mnist_evaluator.weights.h5`` -- the weights of the CNN;
* ``mnist_evaluator_stats.npz`` -- mean and covariance of its features on those 4,000 real digits, with metadata.

Both are checked against the SHA-256 recorded below before use. Later lessons and the benchmark load them with
:func:`load_evaluator` and never retrain. Regenerate with ``python -m course_utils.evaluator --train``.

What it measures:

* :func:`fid`: the Fréchet distance between feature distributions in *this evaluator's* feature space (the 64
  units of its penultimate layer). It follows the recipe of the Fréchet Inception Distance (FID) but is **not
  comparable to Inception-based FID numbers** in papers: different network, different features, different scale.
  Compare it only with itself, at the same number of images.
* :func:`class_coverage`: the histogram of predicted digit classes -- a mode-collapse meter.

The Fréchet-distance maths (:func:`frechet_distance`, :class:`ReferenceStats`) lives in :mod:`course_utils.frechet`
and is importable from here too.

Nothing happens on import; the model is built and loaded on first use.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from dataclasses import dataclass
from numbers import Real
from pathlib import Path
from typing import Any

import numpy as np

from . import atomic, data
from .frechet import ReferenceStats, frechet_distance, gaussian_stats
from .ranges import check_value_range

_stats_of = gaussian_stats  # the name this module used before the maths moved to course_utils.frechet

WEIGHTS_NAME = "mnist_evaluator.weights.h5"
STATS_NAME = "mnist_evaluator_stats.npz"
WEIGHTS_SHA256 = "c28f9dee64060c16dafff86a10084a33e48553d93719e0696c592b71c8067bff"
STATS_SHA256 = "30b03284ee51bf3fc02f563f2f39d1678b29935a08789994b2f0c0d43d977553"
"""SHA-256 of the shipped files (``data/README.md`` says how they were made)."""

FEATURE_LAYER = "features"
FEATURE_DIM = 64
NUM_CLASSES = 10
IMAGE_SHAPE = (28, 28, 1)
BATCH_SIZE = 500


@dataclass(frozen=True)
class Recipe:
    """The fixed training recipe of the shipped evaluator.

    Introduced in 03_cnn_classifier.
    """

    seed: int = 1234
    epochs: int = 15
    batch_size: int = 64
    learning_rate: float = 1e-3
    dropout: float = 0.3


RECIPE = Recipe()


# ---------------------------------------------------------------------------------------------
# Data classes
# ---------------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------------
# The network
# ---------------------------------------------------------------------------------------------

def build_model(dropout: float = RECIPE.dropout):
    """Build the evaluator CNN (untrained): two conv/pool blocks, a 64-unit feature layer, a 10-way softmax.

    The input is a float image in [0, 1] of shape (28, 28, 1). The layer named ``"features"`` (the
    penultimate, after its ReLU) gives the features used by :func:`fid`.

    Introduced in 03_cnn_classifier.

    Args:
        dropout: dropout rate before the last layer (active only in training).

    Returns:
        A ``keras.Sequential`` model (105,866 parameters).
    """
    import keras
    from keras import layers

    return keras.Sequential([
        keras.Input(shape=IMAGE_SHAPE),
        layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1"),
        layers.MaxPooling2D(2, name="pool1"),
        layers.Conv2D(32, 3, padding="same", activation="relu", name="conv2"),
        layers.MaxPooling2D(2, name="pool2"),
        layers.Flatten(name="flatten"),
        layers.Dense(FEATURE_DIM, activation="relu", name=FEATURE_LAYER),
        layers.Dropout(dropout, name="dropout"),
        layers.Dense(NUM_CLASSES, activation="softmax", name="probs"),
    ], name="mnist_evaluator")


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


# ---------------------------------------------------------------------------------------------
# Input checking and the maths
# ---------------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------------
# Files: atomic writes, checked reads
# ---------------------------------------------------------------------------------------------

def save_evaluator(evaluator: Evaluator, directory: str | os.PathLike | None = None) -> tuple[Path, Path]:
    """Write an evaluator's weights and reference statistics into ``directory`` (default ``data/``), atomically.

    Introduced in 03_cnn_classifier.

    Returns:
        The paths of the weights file and the statistics file.
    """
    directory = Path(directory) if directory is not None else data.data_dir()
    directory.mkdir(parents=True, exist_ok=True)
    weights_path, stats_path = directory / WEIGHTS_NAME, directory / STATS_NAME
    ref = evaluator.reference_stats()
    # A fresh copy without optimizer state: a compiled model's file would also hold Adam's moments (3x).
    _save_files(evaluator.model, build_model(), ref, weights_path, stats_path)
    return weights_path, stats_path


def _save_files(model, bare, reference: ReferenceStats, weights_path: Path, stats_path: Path,
                extra_arrays: dict[str, np.ndarray] | None = None) -> None:
    """Write ``model``'s weights (through ``bare``, a fresh uncompiled copy) and ``reference``, atomically.

    ``extra_arrays`` go into the statistics file after ``mu``, ``sigma``, ``n`` and before the metadata strings.
    """
    bare.set_weights(model.get_weights())
    # Keras insists on the ".weights.h5" suffix, so the temporary file keeps it.
    with atomic.atomic_path(weights_path, suffix=".weights.h5") as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Keras 3.15 + NumPy 2.4 warn inside save_weights
        bare.save_weights(str(tmp))
    arrays = {"mu": reference.mu.astype(np.float64), "sigma": reference.sigma.astype(np.float64),
              "n": np.int64(reference.n)}
    arrays.update(extra_arrays or {})
    arrays.update({f"meta_{k}": np.str_(v) for k, v in reference.metadata.items()})
    atomic.write_bytes(stats_path, data.npz_bytes(arrays))


def _load_weights(model, path: Path) -> None:
    """``model.load_weights(path)``, with a ``ValueError`` naming the file when it cannot be read."""
    try:
        model.load_weights(str(path))
    except Exception as err:  # h5py/keras errors on a damaged file
        raise ValueError(f"{path} could not be read as evaluator weights ({type(err).__name__}: {err})") from err


def _read_stats(path: Path, feature_dim: int = FEATURE_DIM) -> ReferenceStats:
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except Exception as err:  # zip/format errors of a damaged file
        raise ValueError(f"{path} is not a readable .npz file ({type(err).__name__}: {err})") from err
    missing = {"mu", "sigma", "n"} - set(arrays)
    if missing:
        raise ValueError(f"{path}: expected arrays mu, sigma, n; missing {sorted(missing)}")
    mu, sigma = arrays["mu"], arrays["sigma"]
    if mu.shape != (feature_dim,) or sigma.shape != (feature_dim, feature_dim) or not (
            np.all(np.isfinite(mu)) and np.all(np.isfinite(sigma))):
        raise ValueError(f"{path}: expected finite mu ({feature_dim},) and sigma ({feature_dim}, {feature_dim}), "
                         f"got {mu.shape} and {sigma.shape}")
    meta = {k[5:]: str(v) for k, v in arrays.items() if k.startswith("meta_")}
    return ReferenceStats(mu=mu, sigma=sigma, n=int(arrays["n"]), metadata=meta)


_CACHE: dict[tuple[str, str, bool], Evaluator] = {}


def load_evaluator(directory: str | os.PathLike | None = None, *, check_sha256: bool = True) -> Evaluator:
    """Load the shipped evaluator (cached: later calls return the same object at no cost).

    Introduced in 03_cnn_classifier.

    Args:
        directory: folder holding ``mnist_evaluator.weights.h5`` and ``mnist_evaluator_stats.npz``
            (default: the repository's ``data/``, or ``COURSE_DATA_DIR``).
        check_sha256: verify both files against ``WEIGHTS_SHA256``/``STATS_SHA256``. Turn it off only to load
            an evaluator you retrained yourself (``save_evaluator`` into another folder).

    Returns:
        The :class:`Evaluator`.

    Raises:
        ValueError: if a file is missing, corrupt, truncated, or (with ``check_sha256``) not the shipped one.
    """
    directory = Path(directory) if directory is not None else data.data_dir()
    weights_path, stats_path = directory / WEIGHTS_NAME, directory / STATS_NAME
    key = (str(weights_path.resolve()), str(stats_path.resolve()), check_sha256)
    if key in _CACHE:
        return _CACHE[key]
    for path, sha in ((weights_path, WEIGHTS_SHA256), (stats_path, STATS_SHA256)):
        restore = (f"restore it from the repository (git checkout -- {path.name}) or regenerate it with "
                   "`python -m course_utils.evaluator --train`.")
        data.verify_file(path, sha if check_sha256 else None, what="the evaluator file",
                         remedy=f"It is not the shipped evaluator file: {restore}", missing=restore.capitalize())
    reference = _read_stats(stats_path)
    model = build_model()
    _load_weights(model, weights_path)
    evaluator = Evaluator(model, reference)
    _CACHE[key] = evaluator
    return evaluator


# ---------------------------------------------------------------------------------------------
# Training (the fixed recipe)
# ---------------------------------------------------------------------------------------------

def train_evaluator(recipe: Recipe = RECIPE, *, epochs: int | None = None, verbose: int = 0,
                    save_to: str | os.PathLike | None = None) -> tuple[Evaluator, dict[str, list[float]]]:
    """Train the evaluator with the fixed recipe on the 4,000 bundled training digits.

    Always uses the bundled subset (``data.load_bundled_mnist``), online or not, so the recipe gives the same
    network everywhere. Seeds Keras/NumPy/TensorFlow with ``recipe.seed``. On the same machine and software
    stack the result is bit-for-bit the shipped file; elsewhere floating-point round-off differs slightly
    (held-out accuracy agrees to a few tenths of a percent).

    Introduced in 03_cnn_classifier.

    Args:
        recipe: the hyper-parameters (default: the shipped recipe).
        epochs: override ``recipe.epochs`` (e.g. 1 for a quick look); the result is then not the shipped one.
        verbose: Keras ``fit`` verbosity, 0 or 2 (no progress bar).
        save_to: a folder to write the two files into (see :func:`save_evaluator`); None writes nothing.

    Returns:
        ``(evaluator, history)``: the trained :class:`Evaluator` with reference statistics of the training
        digits (metadata includes the held-out accuracy), and the Keras history dict.

    Raises:
        ValueError: if ``epochs`` or ``verbose`` is invalid.
    """
    import keras

    epochs = recipe.epochs if epochs is None else epochs
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive int, got {epochs!r}")
    if verbose not in (0, 2):
        raise ValueError(f"verbose must be 0 or 2 (no progress bar), got {verbose!r}")
    ds = data.load_bundled_mnist()
    x_train = preprocess(ds.x_train)
    x_test = preprocess(ds.x_test)
    keras.utils.set_random_seed(recipe.seed)
    model = build_model(recipe.dropout)
    model.compile(optimizer=keras.optimizers.Adam(recipe.learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    hist = model.fit(x_train, ds.y_train.astype(np.int64), epochs=epochs, batch_size=recipe.batch_size,
                     validation_data=(x_test, ds.y_test.astype(np.int64)), shuffle=True, verbose=verbose)
    evaluator = Evaluator(model)
    acc = evaluator.accuracy(ds.x_test, ds.y_test)
    stats = evaluator.stats(ds.x_train)
    import tensorflow as tf

    meta = {
        "source": "data/mnist_5k.npz, 4,000-digit training split of course_utils.data.load_bundled_mnist()",
        "recipe": repr(recipe) + ("" if epochs == recipe.epochs else f" with epochs={epochs}"),
        "feature_layer": f"{FEATURE_LAYER} (Dense {FEATURE_DIM}, after ReLU)",
        "held_out_accuracy": f"{acc:.4f}",
        "held_out": "1,000-digit held-out split of the bundled subset",
        "versions": f"tensorflow {tf.__version__}, keras {keras.__version__}, numpy {np.__version__}",
    }
    evaluator.reference = ReferenceStats(stats.mu, stats.sigma, stats.n, meta)
    if save_to is not None:
        save_evaluator(evaluator, save_to)
    return evaluator, {k: [float(v) for v in vals] for k, vals in hist.history.items()}


# ---------------------------------------------------------------------------------------------
# The shipped evaluator, as functions
# ---------------------------------------------------------------------------------------------

def features(images: Any, value_range: str | tuple[float, float] = "auto") -> np.ndarray:
    """Features of the evaluator's penultimate layer (64 ReLU units) for a batch of digits.

    Not in a lesson: the shipped evaluator's :meth:`Evaluator.features` as one call (lessons use the method, on
    ``load_evaluator()``); tests/test_evaluator.py checks it.

    Args:
        images: ``(n, 28, 28)`` or ``(n, 28, 28, 1)``; uint8 in [0, 255] or float in [-1, 1].
        value_range: ``"auto"`` (by dtype: uint8 -> (0, 255), float -> (-1, 1)) or ``(low, high)``.

    Returns:
        float64 array ``(n, 64)``.

    Raises:
        ValueError: on bad images (see :func:`preprocess`) or a damaged evaluator file.
    """
    return load_evaluator().features(images, value_range)


def predict(images: Any, value_range: str | tuple[float, float] = "auto") -> np.ndarray:
    """Class probabilities from the shipped evaluator; ``predict(x).argmax(1)`` gives the digits.

    Not in a lesson: the shipped evaluator's :meth:`Evaluator.predict` as one call (lessons use the method, on
    ``load_evaluator()``); tests/test_evaluator.py checks it.

    Args:
        images: ``(n, 28, 28)`` or ``(n, 28, 28, 1)``; uint8 in [0, 255] or float in [-1, 1].
        value_range: ``"auto"`` (by dtype: uint8 -> (0, 255), float -> (-1, 1)) or ``(low, high)``.

    Returns:
        float64 array ``(n, 10)``; rows sum to 1.

    Raises:
        ValueError: on bad images (see :func:`preprocess`) or a damaged evaluator file.
    """
    return load_evaluator().predict(images, value_range)


def fid(images: Any, reference: Any = None, value_range: str | tuple[float, float] = "auto") -> float:
    """Fréchet distance between ``images`` and a reference, in the shipped evaluator's feature space.

    Fits a Gaussian (mean, covariance) to the 64 penultimate-layer features of each set and returns
    ``|mu1 - mu2|^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2))``. Lower is closer to real digits.

    **Not comparable to FID numbers in papers**, which use Inception-v3 features of 299x299 colour images; this
    is an MNIST-only instrument for comparing the course's own runs. The estimate is biased upwards for small
    batches, so compare values computed with the same number of images (the course uses 2,000 where it can;
    real held-out digits set the floor).

    Introduced in 03_cnn_classifier.

    Args:
        images: the batch to score, ``(n, 28, 28)`` or ``(n, 28, 28, 1)``, n >= 2 (>= 1,000 recommended);
            uint8 in [0, 255] or float in [-1, 1] (a generator's ``tanh`` output).
        reference: None for the shipped statistics of the 4,000 real training digits; another image batch
            (same conventions); or a :class:`ReferenceStats`.
        value_range: ``"auto"`` (by dtype: uint8 -> (0, 255), float -> (-1, 1)) or ``(low, high)``; applies
            to both batches.

    Returns:
        The distance, a float >= 0 (up to rounding).

    Raises:
        ValueError: on bad images (see :func:`preprocess`), fewer than 2 images, or a damaged evaluator file.
    """
    return load_evaluator().fid(images, reference, value_range)


def class_coverage(images: Any, value_range: str | tuple[float, float] = "auto",
                   min_share: float = 0.025) -> ClassCoverage:
    """How many digit classes a batch covers according to the evaluator: a mode-collapse meter.

    Introduced in 03_cnn_classifier.

    Args:
        images: ``(n, 28, 28)`` or ``(n, 28, 28, 1)``; uint8 in [0, 255] or float in [-1, 1].
        value_range: ``"auto"`` (by dtype) or ``(low, high)``.
        min_share: a class counts as covered when at least this share of the images is predicted as it
            (default 2.5 %, a quarter of the 10 % a balanced batch gives; a few misclassified digits do not count).

    Returns:
        A :class:`ClassCoverage` (histogram, classes covered, effective number of classes, mean confidence).

    Raises:
        ValueError: on bad images, ``min_share`` not a number in (0, 1], or a damaged evaluator file.
    """
    return load_evaluator().class_coverage(images, value_range, min_share)


def reference_stats() -> ReferenceStats:
    """The shipped reference statistics: feature mean/covariance of the 4,000 real training digits, and metadata.

    Not in a lesson: the shipped evaluator's :meth:`Evaluator.reference_stats` as one call (lessons use the method, on
    ``load_evaluator()``); tests/test_evaluator.py checks it.

    Raises:
        ValueError: if the statistics file is missing or damaged.
    """
    return load_evaluator().reference_stats()


def _main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Retrain the course's MNIST evaluator with the fixed recipe.")
    parser.add_argument("--train", action="store_true", help="train and write the two files")
    parser.add_argument("--out", default=None, help="folder to write into (default: data/)")
    args = parser.parse_args(argv)
    if not args.train:
        parser.print_help()
        return
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        evaluator, hist = train_evaluator(verbose=2, save_to=args.out)
    out = Path(args.out) if args.out else data.data_dir()
    print(f"trained in {time.perf_counter() - start:.1f} s; held-out accuracy "
          f"{evaluator.reference.metadata['held_out_accuracy']}")
    for name in (WEIGHTS_NAME, STATS_NAME):
        print(f"{out / name}  sha256 {data.sha256_of(out / name)}  ({(out / name).stat().st_size:,} bytes)")


if __name__ == "__main__":
    _main()
