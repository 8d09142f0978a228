"""A toy 2-D data set for seeing mode collapse, and a metric that counts the modes a generator covers.

The data is the classic "ring of Gaussians" (Metz et al., 2017, *Unrolled GANs*; Srivastava et al., 2017,
*VEEGAN*): ``n_modes`` small isotropic Gaussians with their centres evenly spaced on a circle. Because every
mode is known, how well a generator covers them can be counted instead of judged by eye:

* a generated point is *high quality* when it lies within ``n_std`` standard deviations of its nearest centre;
* a mode is *covered* when at least ``min_share`` of the generated points are high-quality points of that mode.

Nothing here trains a model; the GANs live in the lesson (``01_gan_objective``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .validate import int_at_least, positive_number


def _check_positive_int(value: object, name: str) -> int:
    return int_at_least(value, 1, name, expected="a positive int")


def _check_positive_float(value: object, name: str) -> float:
    return positive_number(value, name)


def ring_centers(n_modes: int = 8, radius: float = 2.0) -> np.ndarray:
    """Return the centres of the ring's modes, evenly spaced on a circle, the first on the positive x axis.

    Introduced in 01_gan_objective.

    Args:
        n_modes: number of modes (at least 1).
        radius: radius of the circle (> 0).

    Returns:
        float32 array of shape ``(n_modes, 2)``.

    Raises:
        ValueError: if ``n_modes`` is not a positive int or ``radius`` is not a positive finite number.
    """
    n_modes = _check_positive_int(n_modes, "n_modes")
    radius = _check_positive_float(radius, "radius")
    angles = 2.0 * np.pi * np.arange(n_modes) / n_modes
    return (radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)).astype(np.float32)


def sample_ring(n: int, *, n_modes: int = 8, radius: float = 2.0, std: float = 0.05,
                seed: int | np.random.Generator | None = None) -> np.ndarray:
    """Draw ``n`` points from an equal-weight mixture of isotropic Gaussians centred on a ring.

    Introduced in 01_gan_objective.

    Args:
        n: number of points (at least 1).
        n_modes: number of mixture components.
        radius: radius of the ring of centres.
        std: standard deviation of each component (same in x and y).
        seed: an int seed, a NumPy ``Generator``, or None for fresh randomness.

    Returns:
        float32 array of shape ``(n, 2)``.

    Raises:
        ValueError: if a size is not a positive int, ``radius``/``std`` not positive and finite, or ``seed``
            neither None, an int nor a ``Generator``.
    """
    n = _check_positive_int(n, "n")
    std = _check_positive_float(std, "std")
    centers = ring_centers(n_modes, radius)
    if seed is None or (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool)):
        rng = np.random.default_rng(seed)
    elif isinstance(seed, np.random.Generator):
        rng = seed
    else:
        raise ValueError(f"seed must be None, an int or a numpy Generator, got {type(seed).__name__}")
    which = rng.integers(0, len(centers), size=n)
    return (centers[which] + std * rng.standard_normal((n, 2))).astype(np.float32)


@dataclass(frozen=True)
class Coverage:
    """How well a set of samples covers the modes of a mixture (the result of :func:`mode_coverage`).

    Introduced in 01_gan_objective.

    Attributes:
        modes_covered: number of modes that received at least ``min_share`` of the samples as high-quality points.
        n_modes: number of modes in the mixture.
        high_quality_share: fraction of all samples within ``n_std`` standard deviations of their nearest centre.
        counts: high-quality samples per mode (length ``n_modes``).
        n_samples: number of samples scored.
    """

    modes_covered: int
    n_modes: int
    high_quality_share: float
    counts: tuple[int, ...] = field(repr=False)
    n_samples: int = 0

    def summary(self) -> str:
        """One line, e.g. ``"modes covered 3/8, high-quality samples 91.2%"``."""
        return (f"modes covered {self.modes_covered}/{self.n_modes}, "
                f"high-quality samples {100 * self.high_quality_share:.1f}%")


def mode_coverage(samples: np.ndarray, centers: np.ndarray, std: float, *, n_std: float = 3.0,
                  min_share: float | None = None) -> Coverage:
    """Count the modes a generator covers and the share of its samples that land on a mode.

    Each sample is assigned to its nearest centre; it is *high quality* when its distance to that centre is at
    most ``n_std * std``. A mode is *covered* when its high-quality samples make up at least ``min_share`` of all
    samples. The default ``min_share`` is a quarter of a fair share (``0.25 / n_modes``): a generator that
    spreads evenly over 8 modes puts 12.5% on each, one that only grazes a mode puts far less.

    Introduced in 01_gan_objective.

    Args:
        samples: generated points, shape ``(n, d)`` with ``n >= 1``; must be finite.
        centers: the mixture's centres, shape ``(k, d)`` (e.g. from :func:`ring_centers`).
        std: the mixture components' standard deviation (> 0).
        n_std: how many standard deviations count as "on the mode" (> 0); 3 keeps 98.9% of a 2-D Gaussian.
        min_share: share of all samples a mode needs to count as covered, in (0, 1]; default ``0.25 / k``.

    Returns:
        A :class:`Coverage`.

    Raises:
        ValueError: if the arrays are not 2-D with matching widths, are empty or hold NaN/inf, or a
            number is out of range.
    """
    pts = np.asarray(samples, dtype=np.float64)
    ctr = np.asarray(centers, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[0] == 0:
        raise ValueError(f"samples must have shape (n, d) with n >= 1, got shape {pts.shape}")
    if ctr.ndim != 2 or ctr.shape[0] == 0 or ctr.shape[1] != pts.shape[1]:
        raise ValueError(f"centers must have shape (k, {pts.shape[1]}) with k >= 1 to match the samples, "
                         f"got shape {ctr.shape}")
    if not np.all(np.isfinite(pts)):
        raise ValueError("samples contain NaN or infinite values; the generator may have diverged")
    if not np.all(np.isfinite(ctr)):
        raise ValueError("centers contain NaN or infinite values")
    std = _check_positive_float(std, "std")
    n_std = _check_positive_float(n_std, "n_std")
    k = ctr.shape[0]
    if min_share is None:
        min_share = 0.25 / k
    min_share = _check_positive_float(min_share, "min_share")
    if min_share > 1:
        raise ValueError(f"min_share must be in (0, 1], got {min_share!r}")
    dist = np.linalg.norm(pts[:, None, :] - ctr[None, :, :], axis=-1)
    nearest = np.argmin(dist, axis=1)
    good = dist[np.arange(len(pts)), nearest] <= n_std * std
    counts = np.bincount(nearest[good], minlength=k)
    covered = int(np.sum(counts >= min_share * len(pts)))
    return Coverage(modes_covered=covered, n_modes=k, high_quality_share=float(np.mean(good)),
                    counts=tuple(int(c) for c in counts), n_samples=len(pts))


def dominant_mode(samples: np.ndarray, centers: np.ndarray) -> tuple[int, float]:
    """Return the mode nearest to the most samples, and the share of the samples nearest to it.

    A collapsed generator puts (almost) every sample nearest one centre, wherever those samples are; a generator
    that spreads evenly over ``k`` modes gives a share near ``1 / k``. Following the dominant mode from snapshot to
    snapshot shows *mode hopping*. Unlike :func:`mode_coverage` this does not ask whether the samples are close to
    the centre, only which centre is closest.

    Introduced in 01_gan_objective.

    Args:
        samples: points, shape ``(n, d)`` with ``n >= 1``; must be finite.
        centers: the mixture's centres, shape ``(k, d)``.

    Returns:
        ``(index, share)``: the index of the centre nearest to the most samples (the lowest index on a tie) and
        the fraction of samples nearest to it, in ``[1 / k, 1]``.

    Raises:
        ValueError: if the arrays are not 2-D with matching widths, are empty or hold NaN/inf.
    """
    pts = np.asarray(samples, dtype=np.float64)
    ctr = np.asarray(centers, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[0] == 0:
        raise ValueError(f"samples must have shape (n, d) with n >= 1, got shape {pts.shape}")
    if ctr.ndim != 2 or ctr.shape[0] == 0 or ctr.shape[1] != pts.shape[1]:
        raise ValueError(f"centers must have shape (k, {pts.shape[1]}) with k >= 1 to match the samples, "
                         f"got shape {ctr.shape}")
    if not (np.all(np.isfinite(pts)) and np.all(np.isfinite(ctr))):
        raise ValueError("samples or centers contain NaN or infinite values")
    nearest = np.argmin(np.linalg.norm(pts[:, None, :] - ctr[None, :, :], axis=-1), axis=1)
    counts = np.bincount(nearest, minlength=len(ctr))
    top = int(np.argmax(counts))
    return top, float(counts[top] / len(pts))
