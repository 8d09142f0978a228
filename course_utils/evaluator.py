"""The course's image evaluator: a small MNIST CNN used as a measuring instrument for generated digits.

The evaluator is trained once, with the fixed recipe in :func:`train_evaluator`, on the 4,000 real training
digits bundled in ``data/mnist_5k.npz``, and shipped as two files in ``data/``. Later lessons and the benchmark load
them with :func:`load_evaluator` and never retrain. Regenerate with ``python -m course_utils.evaluator --train``.

What it measures:

* :func:`fid`: the Fréchet distance between feature distributions in *this evaluator's* feature space (the 64
  units of its penultimate layer). It follows the recipe of the Fréchet Inception Distance (FID) but is **not
  comparable to Inception-based FID numbers** in papers: different network, different features, different scale.
  Compare it only with itself, at the same number of images.
* :func:`class_coverage`: the histogram of predicted digit classes -- a mode-collapse meter.

This module trains the shipped evaluator (:func:`train_evaluator`, the command line) and calls it in one line
(:func:`fid`, :func:`class_coverage`, ...). Its parts each have a module of their own, whose names are re-exported
here, as lessons 03, 04, 06 and 07 use them (``evaluator.load_evaluator``, ``evaluator.RECIPE``, ...):

* :mod:`course_utils.evaluator_network`: the network and its recipe (:func:`build_model`, :data:`RECIPE`);
* :mod:`course_utils.evaluator_scoring`: checking inputs and scoring with a network (:class:`Evaluator`,
  :class:`ClassCoverage`, :func:`preprocess`);
* :mod:`course_utils.evaluator_files`: the two shipped files, their SHA-256, saving and checked loading
  (:func:`save_evaluator`, :func:`load_evaluator`);
* :mod:`course_utils.frechet`: the Fréchet-distance maths (:func:`frechet_distance`, :class:`ReferenceStats`).

Nothing happens on import; the model is built and loaded on first use.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from . import data
from .evaluator_files import STATS_NAME, STATS_SHA256, WEIGHTS_NAME, WEIGHTS_SHA256, load_evaluator, save_evaluator
from .evaluator_network import FEATURE_DIM, FEATURE_LAYER, IMAGE_SHAPE, NUM_CLASSES, RECIPE, Recipe, build_model
from .evaluator_scoring import BATCH_SIZE, ClassCoverage, Evaluator, preprocess
from .frechet import ReferenceStats, frechet_distance, gaussian_stats

__all__ = ["WEIGHTS_NAME", "STATS_NAME", "WEIGHTS_SHA256", "STATS_SHA256", "FEATURE_LAYER", "FEATURE_DIM",
           "NUM_CLASSES", "IMAGE_SHAPE", "BATCH_SIZE", "Recipe", "RECIPE", "build_model", "ClassCoverage", "Evaluator",
           "preprocess", "save_evaluator", "load_evaluator", "train_evaluator", "features", "predict", "fid",
           "class_coverage", "reference_stats", "ReferenceStats", "frechet_distance", "gaussian_stats"]


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
