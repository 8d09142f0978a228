"""Degradations for the restoration lesson: noise, salt-and-pepper, blur, missing regions, downsampling.

Every function takes float images in [0, 1] with one of three layouts, and returns the same layout and dtype:

* ``(h, w)``: one grey image;
* ``(h, w, c)``: one image with ``c`` <= 4 channels;
* ``(n, h, w, c)``: a batch.

Random degradations take a ``seed`` (an int, or a ``numpy.random.Generator``) so that a lesson's figures and the
tests are reproducible. Masks follow scikit-image's convention (``skimage.restoration.inpaint_biharmonic``):
``True`` marks a *missing* pixel. Arguments are checked, and a ``ValueError`` says what was expected and what came.

Nothing happens on import.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import numpy as np

from .validate import int_at_least

__all__ = ["MASK_KINDS", "apply_mask", "downsample", "gaussian_blur", "gaussian_noise", "make_mask", "salt_and_pepper"]

MASK_KINDS = ("box", "lines", "pixels")


def _check_images(images: Any) -> np.ndarray:
    arr = np.asarray(images)
    if not np.issubdtype(arr.dtype, np.floating):
        raise ValueError(f"expected float images in [0, 1] (convert uint8 with x / 255), got dtype {arr.dtype}")
    if arr.ndim not in (2, 3, 4):
        raise ValueError(f"expected images of shape (h, w), (h, w, c) or (n, h, w, c), got shape {arr.shape}")
    if arr.ndim == 4 and arr.shape[-1] > 4:
        hint = (f"; that looks like channels-first (n, c, h, w) = {arr.shape}: move the channels last with "
                "np.moveaxis(x, 1, -1)") if arr.shape[1] <= 4 else ""
        raise ValueError(f"expected (n, h, w, c) with c <= 4 channels, got shape {arr.shape}{hint}")
    if arr.ndim == 3 and arr.shape[-1] > 4:
        raise ValueError(f"expected (h, w, c) with c <= 4 channels, got shape {arr.shape}; for a batch of grey images "
                         "add a channel axis: x[..., None]")
    if arr.size == 0:
        raise ValueError(f"expected at least one pixel, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("expected finite pixel values, got NaN or infinity")
    low, high = float(arr.min()), float(arr.max())
    if low < 0.0 or high > 1.0:
        raise ValueError(f"expected pixel values in [0, 1], got values in [{low:.4g}, {high:.4g}]")
    return arr


def _spatial_axes(arr: np.ndarray) -> tuple[int, int]:
    return (0, 1) if arr.ndim in (2, 3) else (1, 2)


def _rng(seed: Any) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(int_at_least(seed, 0, "seed", expected="a non-negative int or a numpy.random.Generator"))


def _number(value: Any, name: str, low: float, high: float, *, low_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not np.isfinite(float(value)):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    value = float(value)
    if value < low or value > high or (low_open and value == low):
        bracket = "(" if low_open else "["
        raise ValueError(f"{name} must be in {bracket}{low:g}, {high:g}], got {value!r}")
    return value


def gaussian_noise(images: Any, sigma: float, *, seed: Any = 0, clip: bool = True) -> np.ndarray:
    """Add white Gaussian noise of standard deviation ``sigma`` (in units of the [0, 1] range).

    Introduced in 06_image_restoration.

    Args:
        images: float images in [0, 1] (see the module docstring for the layouts).
        sigma: noise standard deviation, in [0, 1] (0.1 is about 25 grey levels of 255).
        seed: int or ``numpy.random.Generator``.
        clip: clip the result to [0, 1], as a camera's sensor would (the noise is then no longer exactly Gaussian
            near black and white).

    Returns:
        The noisy images, same shape and dtype.

    Raises:
        ValueError: on bad images, ``sigma`` outside [0, 1] or a bad seed.
    """
    arr = _check_images(images)
    sigma = _number(sigma, "sigma", 0.0, 1.0)
    noisy = arr + sigma * _rng(seed).standard_normal(arr.shape)
    if clip:
        noisy = np.clip(noisy, 0.0, 1.0)
    return noisy.astype(arr.dtype)


def salt_and_pepper(images: Any, amount: float, *, seed: Any = 0, salt_vs_pepper: float = 0.5) -> np.ndarray:
    """Replace a fraction ``amount`` of the pixels by white (salt) or black (pepper) impulses.

    Each pixel position is hit with probability ``amount``; all channels of a hit pixel get the same value.

    Introduced in 06_image_restoration.

    Args:
        images: float images in [0, 1].
        amount: fraction of pixels replaced, in [0, 1].
        seed: int or ``numpy.random.Generator``.
        salt_vs_pepper: the share of hits that are white, in [0, 1].

    Returns:
        The corrupted images, same shape and dtype.

    Raises:
        ValueError: on bad images, ``amount`` or ``salt_vs_pepper`` outside [0, 1], or a bad seed.
    """
    arr = _check_images(images)
    amount = _number(amount, "amount", 0.0, 1.0)
    salt_vs_pepper = _number(salt_vs_pepper, "salt_vs_pepper", 0.0, 1.0)
    rng = _rng(seed)
    pixel_shape = arr.shape if arr.ndim == 2 else arr.shape[:-1]
    hit = rng.random(pixel_shape) < amount
    salt = rng.random(pixel_shape) < salt_vs_pepper
    out = arr.copy()
    if arr.ndim == 2:
        out[hit] = salt[hit].astype(arr.dtype)
    else:
        out[hit] = salt[hit].astype(arr.dtype)[:, None]
    return out


def gaussian_blur(images: Any, sigma: float) -> np.ndarray:
    """Blur each image (each channel separately) with a Gaussian of standard deviation ``sigma`` pixels.

    Only the two spatial axes are blurred, never across the images of a batch or across channels. Borders are
    handled by reflection (``scipy.ndimage.gaussian_filter``, ``mode="reflect"``), so a constant image stays
    constant.

    Introduced in 06_image_restoration.

    Args:
        images: float images in [0, 1].
        sigma: the blur's standard deviation in pixels, in [0, 20]; 0 returns a copy.

    Returns:
        The blurred images, same shape and dtype.

    Raises:
        ValueError: on bad images or ``sigma`` outside [0, 20].
    """
    from scipy import ndimage

    arr = _check_images(images)
    sigma = _number(sigma, "sigma", 0.0, 20.0)
    if sigma == 0.0:
        return arr.copy()
    sigmas = [0.0] * arr.ndim
    for axis in _spatial_axes(arr):
        sigmas[axis] = sigma
    return ndimage.gaussian_filter(arr.astype(np.float64), sigmas, mode="reflect").astype(arr.dtype)


def make_mask(shape: tuple[int, int], kind: str = "box", size: float = 0.4, *, seed: Any = 0) -> np.ndarray:
    """A mask of missing pixels for one image: ``True`` where the pixel is lost.

    Introduced in 06_image_restoration.

    Args:
        shape: ``(h, w)`` of the image, each at least 4.
        kind: ``"box"``: one square hole at a random place (its side ``size`` times the shorter side);
            ``"lines"``: random horizontal and vertical scratches, 1 pixel wide, until about ``size`` of the pixels
            are lost; ``"pixels"``: each pixel lost independently with probability ``size``.
        size: in (0, 1): the box's side as a fraction of the shorter image side, or the fraction of pixels lost.
        seed: int or ``numpy.random.Generator``.

    Returns:
        A bool array of shape ``shape``.

    Raises:
        ValueError: on a bad shape, an unknown kind, ``size`` outside (0, 1), or a bad seed.
    """
    if (not isinstance(shape, tuple | list) or len(shape) != 2
            or not all(isinstance(s, Integral) and not isinstance(s, bool) and s >= 4 for s in shape)):
        raise ValueError(f"shape must be (h, w), two ints >= 4, got {shape!r}")
    if kind not in MASK_KINDS:
        raise ValueError(f"kind must be one of {MASK_KINDS}, got {kind!r}")
    size = _number(size, "size", 0.0, 1.0, low_open=True)
    if size == 1.0:
        raise ValueError(f"size must be in (0, 1): a mask that removes every pixel leaves nothing to restore, got {size!r}")
    h, w = int(shape[0]), int(shape[1])
    rng = _rng(seed)
    mask = np.zeros((h, w), bool)
    if kind == "box":
        side = max(1, int(round(size * min(h, w))))
        top, left = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        mask[top:top + side, left:left + side] = True
    elif kind == "pixels":
        mask = rng.random((h, w)) < size
    else:
        while mask.mean() < size:
            if rng.random() < 0.5:
                mask[int(rng.integers(0, h)), :] = True
            else:
                mask[:, int(rng.integers(0, w))] = True
    return mask


def apply_mask(images: Any, mask: Any, *, fill: float = 0.0) -> np.ndarray:
    """Set the pixels where ``mask`` is True to ``fill`` (every channel).

    Introduced in 06_image_restoration.

    Args:
        images: float images in [0, 1].
        mask: bool, ``(h, w)`` (the same hole in every image) or ``(n, h, w)`` for a batch (one mask per image).
        fill: the value of a missing pixel, in [0, 1].

    Returns:
        The masked images, same shape and dtype.

    Raises:
        ValueError: on bad images, a mask that is not bool or whose shape does not fit, or ``fill`` outside [0, 1].
    """
    arr = _check_images(images)
    mask = np.asarray(mask)
    fill = _number(fill, "fill", 0.0, 1.0)
    if mask.dtype != bool:
        raise ValueError(f"mask must be a bool array (True = missing pixel), got dtype {mask.dtype}")
    a, b = _spatial_axes(arr)
    hw = (arr.shape[a], arr.shape[b])
    fits = mask.shape == hw or (arr.ndim == 4 and mask.shape == (arr.shape[0], *hw))
    if not fits:
        want = f"{hw}" + (f" or {(arr.shape[0], *hw)}" if arr.ndim == 4 else "")
        raise ValueError(f"mask must have shape {want} for images of shape {arr.shape}, got {mask.shape}")
    out = arr.copy()
    if arr.ndim == 2:
        out[mask] = fill
    elif arr.ndim == 3:
        out[mask, :] = fill
    elif mask.ndim == 2:
        out[:, mask, :] = fill
    else:
        out[mask, :] = fill
    return out


def downsample(images: Any, factor: int) -> np.ndarray:
    """Shrink each image by an integer ``factor`` by averaging ``factor`` x ``factor`` blocks (area downsampling).

    Averaging first is what a camera with bigger pixels does, and it avoids the aliasing of keeping every
    ``factor``-th pixel.

    Introduced in 06_image_restoration.

    Args:
        images: float images in [0, 1] whose height and width are multiples of ``factor``.
        factor: an int >= 2.

    Returns:
        The small images, ``(h / factor, w / factor)`` in the same layout and dtype.

    Raises:
        ValueError: on bad images, a factor that is not an int >= 2, or a size that is not a multiple of it.
    """
    arr = _check_images(images)
    factor = int_at_least(factor, 2, "factor")
    a, b = _spatial_axes(arr)
    h, w = arr.shape[a], arr.shape[b]
    if h % factor or w % factor:
        raise ValueError(f"height and width must be multiples of factor {factor}, got {h} x {w}; crop first, "
                         f"e.g. to {h - h % factor} x {w - w % factor}")
    shape = list(arr.shape)
    shape[a:b + 1] = [h // factor, factor, w // factor, factor]
    return arr.reshape(shape).mean(axis=(a + 1, a + 3), dtype=np.float64).astype(arr.dtype)
