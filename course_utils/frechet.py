"""The maths of the Fréchet distance between two Gaussians, as used by FID: feature statistics and the distance.

Kept apart from :mod:`course_utils.evaluator` (which runs the network that produces the features), so the
formula can be read, tested and reused on any features: ``frechet_distance(*gaussian_stats(a), ...)``.
Lesson 03 checks :func:`frechet_distance` against the closed form for one dimension.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

__all__ = ["ReferenceStats", "gaussian_stats", "frechet_distance"]


@dataclass(frozen=True)
class ReferenceStats:
    """Mean and covariance of evaluator features over a set of images.

    Introduced in 03_cnn_classifier (through ``evaluator.fid``).

    Attributes:
        mu: mean feature vector, shape ``(FEATURE_DIM,)``.
        sigma: feature covariance, shape ``(FEATURE_DIM, FEATURE_DIM)``.
        n: number of images the statistics were computed on.
        metadata: free-form strings (source data, recipe, versions, held-out accuracy).
    """

    mu: np.ndarray
    sigma: np.ndarray
    n: int
    metadata: dict[str, str] = field(default_factory=dict)


def gaussian_stats(features: np.ndarray) -> ReferenceStats:
    """Fit a Gaussian to feature vectors: their mean and (unbiased) covariance.

    Introduced in 03_cnn_classifier (through ``evaluator.fid``).

    Args:
        features: shape ``(n, d)`` with n >= 2.

    Returns:
        A :class:`ReferenceStats` with ``mu`` ``(d,)``, ``sigma`` ``(d, d)`` and ``n``.

    Raises:
        ValueError: if ``features`` is not 2-D or has fewer than 2 rows.
    """
    feats = np.asarray(features, dtype=np.float64)
    if feats.ndim != 2:
        raise ValueError(f"expected features of shape (n, d), got shape {feats.shape}")
    if len(feats) < 2:
        raise ValueError(f"expected at least 2 images to estimate a covariance, got {len(feats)}")
    return ReferenceStats(mu=feats.mean(axis=0), sigma=np.cov(feats, rowvar=False).reshape(feats.shape[1], -1),
                          n=int(len(feats)))


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray,
                     eps: float = 1e-6) -> float:
    """Fréchet distance between two Gaussians: ``|mu1 - mu2|^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2))``.

    The matrix square root comes from ``scipy.linalg.sqrtm``. Rounding can give it a tiny imaginary part
    (the exact root of a product of two covariance matrices has real eigenvalues); it is dropped. If the
    product is singular (dead ReLU units give zero-variance features) ``eps`` is added to both diagonals.

    Introduced in 03_cnn_classifier.

    Args:
        mu1, sigma1: mean ``(d,)`` and covariance ``(d, d)`` of the first distribution (symmetric).
        mu2, sigma2: the same for the second.
        eps: diagonal offset used when the product is singular (a finite number >= 0).

    Returns:
        The distance (>= 0, up to rounding), as a Python float.

    Raises:
        ValueError: on mismatched shapes, non-finite values, a covariance that is not symmetric or not positive
            semi-definite (an eigenvalue below -1e-6 times the largest), a negative
            or non-finite ``eps``, or a square root with a large imaginary part.
    """
    from scipy import linalg

    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    s1, s2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    d = mu1.shape[0]
    if mu1.shape != (d,) or mu2.shape != (d,) or s1.shape != (d, d) or s2.shape != (d, d):
        raise ValueError(f"expected means (d,) and covariances (d, d) with one d, got {mu1.shape}, {s1.shape}, "
                         f"{mu2.shape}, {s2.shape}")
    if not all(np.all(np.isfinite(a)) for a in (mu1, mu2, s1, s2)):
        raise ValueError("expected finite means and covariances, got NaN or infinity")
    for name, s in (("sigma1", s1), ("sigma2", s2)):
        asym = float(np.abs(s - s.T).max())
        if asym > 1e-6 * max(1.0, float(np.abs(s).max())):
            raise ValueError(f"{name} must be a covariance matrix (symmetric), got one whose entries differ from their "
                             f"transpose by up to {asym:.3g}; pass np.cov(features, rowvar=False)")
    for name, s in (("sigma1", s1), ("sigma2", s2)):
        eigen = np.linalg.eigvalsh((s + s.T) / 2)
        if eigen.min() < -1e-6 * max(1.0, float(np.abs(eigen).max())):
            raise ValueError(f"{name} must be a covariance matrix (positive semi-definite), got one with the "
                             f"eigenvalue {eigen.min():.3g}; pass np.cov(features, rowvar=False)")
    if isinstance(eps, bool) or not isinstance(eps, (int, float, np.integer, np.floating)) or not (
            np.isfinite(eps) and eps >= 0):
        raise ValueError(f"eps must be a finite number >= 0 (a small diagonal offset), got {eps!r}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", linalg.LinAlgWarning)
            covmean = linalg.sqrtm(s1 @ s2)
        singular = not np.all(np.isfinite(covmean))
    except (linalg.LinAlgWarning, linalg.LinAlgError):
        singular = True
    if singular:
        offset = np.eye(d) * eps
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", linalg.LinAlgWarning)
            covmean = linalg.sqrtm((s1 + offset) @ (s2 + offset))
    if np.iscomplexobj(covmean):
        scale = max(1.0, float(np.abs(covmean).max()))
        if np.abs(covmean.imag).max() > 1e-3 * scale:
            raise ValueError(f"sqrtm gave an imaginary part of {np.abs(covmean.imag).max():.3g}; "
                             "the covariances are probably not positive semi-definite")
        covmean = covmean.real
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(covmean))
