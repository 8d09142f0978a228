"""Two honest checks of a generator on digits: FID against held-out digits, and nearest-neighbour memorization.

FID against the training digits (:func:`course_utils.evaluator.fid`) cannot tell a generator that learned what
digits look like from one that copies its training set: a copy scores best. Two tools tell them apart.

* :func:`held_out_fid` scores the same samples against the digits the generator trained on *and* against real
  digits it never saw, with equal numbers of images on every side (the Fréchet distance's small-sample bias
  depends on the counts), and gives the floor: real held-out digits against the same training reference.
  A generator that generalizes is about as close to the held-out digits as to the training ones; one that
  memorizes is much closer to its training digits.
* :func:`nearest_neighbours` measures, for every sample, the distance to its closest training digit, and the same
  distance for real held-out digits. Real digits a model never saw are *not* copies of training digits, so their
  distances say how close "close" naturally is; samples much closer than that (below the 1st or 5th percentile of
  the held-out distances, far more often than 1 % or 5 % of the time) are copies.

"Held out" means held out from the bundled split of :func:`course_utils.data.load_bundled_mnist` (4,000 training
digits, 1,000 held out). A generator trained on the full 60,000 MNIST training digits (``load_mnist()`` online)
may have seen the bundled held-out digits; pass its own test digits as ``held_out_images`` then.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from . import data
from . import evaluator as ev
from .frechet import frechet_distance, gaussian_stats
from .validate import int_at_least

QUANTILE_LEVELS = (0.01, 0.05, 0.25, 0.5, 0.75)
"""The quantiles :class:`Memorization` reports, as fractions."""
SPACES = ("pixels", "features")


def _check_count(value: object, name: str, at_least: int = 2) -> int:
    return int_at_least(value, at_least, name)


def _default_split(train_images: Any, held_out_images: Any) -> tuple[Any, Any]:
    if train_images is None or held_out_images is None:
        bundled = data.load_bundled_mnist()
        train_images = bundled.x_train if train_images is None else train_images
        held_out_images = bundled.x_test if held_out_images is None else held_out_images
    return train_images, held_out_images


# ---------------------------------------------------------------------------------------------
# FID against held-out digits
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class HeldOutFID:
    """FID of one batch of samples against training and held-out digits, at equal image counts.

    Introduced in 04_dcgan.

    Attributes:
        train_fid: samples against ``n_reference`` training digits.
        held_out_fid: the same samples against ``n_reference`` held-out digits (never trained on).
        real_baseline: ``n_reference`` real held-out digits against the same training digits: what a perfect,
            non-copying generator would score as ``train_fid`` (the floor at this sample count).
        n_reference: images on every side (samples, training reference, held-out reference).
    """

    train_fid: float
    held_out_fid: float
    real_baseline: float
    n_reference: int

    @property
    def gap(self) -> float:
        """``held_out_fid - train_fid``: clearly positive when the samples are closer to the training digits."""
        return self.held_out_fid - self.train_fid

    def __str__(self) -> str:
        return (f"FID vs training images {self.train_fid:.2f}, vs held-out images {self.held_out_fid:.2f} "
                f"(gap {self.gap:+.2f}); real held-out images vs the same training images {self.real_baseline:.2f}; "
                f"{self.n_reference} images on every side")


def held_out_fid(images: Any, *, train_images: Any = None, held_out_images: Any = None, n_reference: int = 1000,
                 value_range: str | tuple[float, float] = "auto", seed: int = 0,
                 evaluator: ev.Evaluator | None = None) -> HeldOutFID:
    """Score samples against the training digits and against held-out digits, with equal image counts.

    Uses the first ``n_reference`` samples and ``n_reference`` training and held-out digits each drawn without
    replacement (seeded: the bundled digits are sorted by class, so a leading slice would not be a fair draw),
    all through the evaluator's 64 features. The real baseline is
    those held-out digits scored against the same training digits.

    Introduced in 04_dcgan.

    Args:
        images: generated digits, ``(n, 28, 28[, 1])`` with ``n >= n_reference`` (see ``evaluator.preprocess``).
        train_images: the digits the generator trained on (default: the 4,000 bundled training digits);
            uint8 or float in [-1, 1], read with ``value_range="auto"``.
        held_out_images: real digits it never saw (default: the 1,000 bundled held-out digits).
        n_reference: images on every side (> 64, the evaluator's feature count, so that the covariances can be
            full rank; at least 1,000 keeps the small-sample bias low).
        value_range: how to read ``images`` (``"auto"`` or ``(low, high)``).
        seed: which training and held-out digits form the references.
        evaluator: an :class:`~course_utils.evaluator.Evaluator` (default: the shipped one).

    Returns:
        A :class:`HeldOutFID`.

    Raises:
        ValueError: on bad images, ``n_reference`` not an int >= 65, or fewer than ``n_reference`` samples,
            training digits or held-out digits.
    """
    n_reference = int_at_least(n_reference, ev.FEATURE_DIM + 1, "n_reference",
                               expected=f"an int >= {ev.FEATURE_DIM + 1} (more images than the evaluator's "
                                        f"{ev.FEATURE_DIM} features, or the covariances are singular and the FIDs "
                                        "meaningless; 1,000 keeps the small-sample bias low)")
    train_images, held_out_images = _default_split(train_images, held_out_images)
    judge = evaluator if evaluator is not None else ev.load_evaluator()
    sets = {"samples": (images, value_range), "train_images": (train_images, "auto"),
            "held_out_images": (held_out_images, "auto")}
    for name, (batch, _) in sets.items():
        if len(np.asarray(batch)) < n_reference:
            raise ValueError(f"expected at least n_reference={n_reference} {name.replace('_', ' ')}, "
                             f"got {len(np.asarray(batch))}; lower n_reference or pass more")
    rng = np.random.default_rng(seed)
    train_pick = np.sort(rng.choice(len(np.asarray(train_images)), n_reference, replace=False))
    held_pick = np.sort(rng.choice(len(np.asarray(held_out_images)), n_reference, replace=False))
    samples = gaussian_stats(judge.features(np.asarray(images)[:n_reference], value_range))
    train = gaussian_stats(judge.features(np.asarray(train_images)[train_pick]))
    held = gaussian_stats(judge.features(np.asarray(held_out_images)[held_pick]))
    return HeldOutFID(
        train_fid=frechet_distance(samples.mu, samples.sigma, train.mu, train.sigma),
        held_out_fid=frechet_distance(samples.mu, samples.sigma, held.mu, held.sigma),
        real_baseline=frechet_distance(held.mu, held.sigma, train.mu, train.sigma),
        n_reference=n_reference,
    )


# ---------------------------------------------------------------------------------------------
# Nearest neighbours
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Memorization:
    """Distances of samples, and of held-out real digits, to their nearest training digit.

    Introduced in 04_dcgan.

    Attributes:
        space: ``"pixels"`` (Euclidean distance of images in [0, 1], 784 values) or ``"features"`` (of the
            evaluator's 64 features).
        sample_distances: ``(n,)`` distance of each sample to its closest training digit.
        nearest_train: ``(n,)`` index, into the training digits, of that closest digit (to show the pairs).
        held_out_distances: ``(m,)`` the same for each held-out real digit.
        sample_quantiles: quantiles of ``sample_distances`` at ``QUANTILE_LEVELS``.
        held_out_quantiles: quantiles of ``held_out_distances`` at ``QUANTILE_LEVELS``.
        frac_below_p1: share of samples closer to the training set than the held-out digits' 1st percentile
            (about 0.01 for samples that are not copies, 1.0 for copies).
        frac_below_p5: the same below the 5th percentile (about 0.05 for samples that are not copies).
    """

    space: str
    sample_distances: np.ndarray
    nearest_train: np.ndarray
    held_out_distances: np.ndarray
    sample_quantiles: np.ndarray
    held_out_quantiles: np.ndarray
    frac_below_p1: float
    frac_below_p5: float

    def closest(self, k: int = 8) -> np.ndarray:
        """Indices of the ``k`` samples nearest to a training digit, nearest first (the likeliest copies)."""
        k = _check_count(k, "k", at_least=1)
        return np.argsort(self.sample_distances, kind="stable")[:k]

    def __str__(self) -> str:
        med = QUANTILE_LEVELS.index(0.5)
        return (f"{self.space}: median distance to the nearest training image {self.sample_quantiles[med]:.3f} for "
                f"{len(self.sample_distances)} samples vs {self.held_out_quantiles[med]:.3f} for "
                f"{len(self.held_out_distances)} held-out images; samples closer than the held-out 1st/5th "
                f"percentile: {self.frac_below_p1:.1%} / {self.frac_below_p5:.1%} (about 1% / 5% if not copies)")


def _embed(images: Any, value_range: str | tuple[float, float], space: str, judge: ev.Evaluator | None) -> np.ndarray:
    if space == "features":
        return judge.features(images, value_range)
    x = ev.preprocess(images, value_range)
    return x.reshape(len(x), -1).astype(np.float64)


def _nearest(queries: np.ndarray, bank: np.ndarray, chunk: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean distance from each query row to its nearest bank row, and that row's index."""
    bank_sq = np.einsum("ij,ij->i", bank, bank)
    dist, index = np.empty(len(queries)), np.empty(len(queries), dtype=np.int64)
    for start in range(0, len(queries), chunk):
        q = queries[start:start + chunk]
        sq = np.einsum("ij,ij->i", q, q)[:, None] + bank_sq[None, :] - 2.0 * q @ bank.T
        best = np.argmin(sq, axis=1)
        index[start:start + chunk] = best
        dist[start:start + chunk] = np.sqrt(np.maximum(sq[np.arange(len(q)), best], 0.0))
    return dist, index


def nearest_neighbours(images: Any, train_images: Any = None, held_out_images: Any = None, *,
                       space: str = "pixels", value_range: str | tuple[float, float] = "auto",
                       evaluator: ev.Evaluator | None = None) -> Memorization:
    """For each sample, the distance to its closest training digit, against the same for held-out real digits.

    Introduced in 04_dcgan.

    Args:
        images: generated digits, ``(n, 28, 28[, 1])``, n >= 1 (see ``evaluator.preprocess``).
        train_images: the digits the generator trained on (default: the 4,000 bundled training digits), read
            with ``value_range="auto"`` (uint8, or float in [-1, 1]).
        held_out_images: real digits it never saw (default: the 1,000 bundled held-out digits), at least 2.
        space: ``"pixels"`` or ``"features"`` (the evaluator's 64 features).
        value_range: how to read ``images``.
        evaluator: an :class:`~course_utils.evaluator.Evaluator` for ``space="features"`` (default: shipped).

    Returns:
        A :class:`Memorization`.

    Raises:
        ValueError: on bad images, an unknown ``space``, or fewer than 2 held-out digits.
    """
    if not isinstance(space, str) or space not in SPACES:
        raise ValueError(f"space must be one of {SPACES}, got {space!r}")
    train_images, held_out_images = _default_split(train_images, held_out_images)
    if len(np.asarray(held_out_images)) < 2:
        raise ValueError(f"expected at least 2 held-out digits, got {len(np.asarray(held_out_images))}")
    judge = (evaluator if evaluator is not None else ev.load_evaluator()) if space == "features" else None
    bank = _embed(train_images, "auto", space, judge)
    sample_d, nearest = _nearest(_embed(images, value_range, space, judge), bank)
    held_d, _ = _nearest(_embed(held_out_images, "auto", space, judge), bank)
    p1, p5 = np.quantile(held_d, [0.01, 0.05])
    return Memorization(
        space=space, sample_distances=sample_d, nearest_train=nearest, held_out_distances=held_d,
        sample_quantiles=np.quantile(sample_d, QUANTILE_LEVELS), held_out_quantiles=np.quantile(held_d, QUANTILE_LEVELS),
        frac_below_p1=float(np.mean(sample_d < p1)), frac_below_p5=float(np.mean(sample_d < p5)),
    )
