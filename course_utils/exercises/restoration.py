"""Automatic checks for the exercises of lesson ``06_image_restoration``: PSNR, the U-Net's skip connection and
shapes, and the pix2pix generator loss.

Conventions (also stated in the lesson):

* ``psnr(clean, restored, data_range) -> float``: ``10 log10(data_range**2 / mean((clean - restored)**2))`` in dB,
  for arrays of any dtype (``uint8`` included: subtract in floating point);
* ``skip_connect(decoder_features, encoder_features)``: concatenation along the channel axis (either order);
* ``unet_shapes(size, in_channels, width, depth) -> {"skips", "bottleneck", "concats", "output"}``: the
  ``(height, width, channels)`` of the lesson's ``build_unet``;
* ``generator_loss(fake_logits, clean, restored, l1_weight)``: ``mean(softplus(-fake_logits)) + l1_weight *
  mean(|clean - restored|)``.

Each check raises :class:`course_utils.checks.ExerciseError` naming the case and, when it recognizes it, the
mistake; it returns True after printing a success line. The U-Net reference is the lesson's own ``build_unet``
(loaded from its cells tagged ``export``), so the lesson and its check cannot disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np

from ..checks import (
    ExerciseError,
    as_scalar,
    call_safely,
    check_close,
    exercise,
    forbid_calls,
    name_mistake,
    passed,
    softplus,
)

__all__ = ["check_pix2pix_generator_loss", "check_psnr", "check_skip_connection", "check_unet", "check_unet_shapes",
           "reference_psnr", "reference_unet_shapes"]

LESSON = "06_image_restoration"


@cache
def _lesson() -> Any:
    from ..lessons import load_lesson_code

    return load_lesson_code(LESSON)


# ---------------------------------------------------------------------------------------------
# Exercise 1: PSNR
# ---------------------------------------------------------------------------------------------

def reference_psnr(clean: Any, restored: Any, data_range: float) -> float:
    """PSNR in dB: ``10 log10(data_range**2 / MSE)``, computed in float64 (scikit-image's formula).

    Introduced in 06_image_restoration.

    Raises:
        ValueError: if the two images differ in shape (no broadcasting: (28, 28) against (28, 28, 1) is refused),
            ``data_range`` is not a finite number > 0, or integer images hold values beyond ``data_range``
            (uint8 pixels with a range of 1).
    """
    a, b = np.asarray(clean), np.asarray(restored)
    if a.shape != b.shape:
        raise ValueError(f"expected clean and restored images of the same shape, got {a.shape} and {b.shape}")
    if isinstance(data_range, bool) or not isinstance(data_range, int | float | np.number) \
            or not np.isfinite(data_range) or data_range <= 0:
        raise ValueError(f"expected data_range to be a finite number > 0, got {data_range!r}")
    for name, arr in (("clean", a), ("restored", b)):
        if np.issubdtype(arr.dtype, np.integer) and arr.size and np.max(np.abs(arr.astype(np.int64))) > data_range:
            raise ValueError(f"expected {name} pixels within data_range={data_range} for {arr.dtype} images, got values "
                             f"up to {np.max(arr)} (uint8 images have data_range=255)")
    err = a.astype(np.float64) - b.astype(np.float64)
    return float(10 * np.log10(float(data_range) ** 2 / np.mean(err ** 2)))


def _psnr_cases() -> list[tuple[str, np.ndarray, np.ndarray, float]]:
    rng = np.random.default_rng(606)
    a = rng.uniform(0, 1, (16, 16)).astype(np.float32)
    b = np.clip(a + rng.normal(0, 0.05, a.shape), 0, 1).astype(np.float32)
    c = rng.integers(0, 256, (12, 20), dtype=np.uint8)
    d = np.clip(c.astype(int) + rng.integers(-30, 31, c.shape), 0, 255).astype(np.uint8)
    e = rng.uniform(0, 1, (2, 8, 8, 1))
    f = e + rng.normal(0, 0.2, e.shape)
    return [("float32 16x16 images in [0, 1], noise 0.05, data_range=1", a, b, 1.0),
            ("uint8 12x20 images, noise of up to 30 grey levels, data_range=255", c, d, 255.0),
            ("a (2, 8, 8, 1) float64 batch, noise 0.2, data_range=1", e, f, 1.0),
            ("the same float32 pair with data_range=2", a, b, 2.0)]


def _psnr_mistakes(x: np.ndarray, y: np.ndarray, r: float) -> dict[str, float]:
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    mse = np.mean((x64 - y64) ** 2)
    wrapped = np.mean(((x - y).astype(np.float64)) ** 2) if x.dtype == np.uint8 else mse
    return {
        "uint8 arithmetic wraps around (3 - 5 is 254 in uint8): convert to float before subtracting":
            10 * np.log10(r ** 2 / wrapped),
        "the peak is not squared: PSNR = 10 log10(data_range**2 / MSE)": 10 * np.log10(r / mse),
        "20 log10 of a ratio of squares: use 10 log10(data_range**2 / MSE), or 20 log10(data_range / RMSE)":
            20 * np.log10(r ** 2 / mse),
        "the natural logarithm was used: decibels use log10": 10 * np.log(r ** 2 / mse),
        "the sum of squared errors was used: take their mean (MSE)": 10 * np.log10(r ** 2 / np.sum((x64 - y64) ** 2)),
        "data_range was ignored: the peak is data_range (255 for uint8 images)": 10 * np.log10(1.0 / mse),
        "the mean absolute error was used: PSNR uses the mean *squared* error":
            10 * np.log10(r ** 2 / np.mean(np.abs(x64 - y64))),
    }


@exercise(1, "psnr")
def check_psnr(psnr: Callable[..., Any]) -> bool:
    """Check exercise 1: ``psnr(clean, restored, data_range)`` on float and uint8 images and several ranges.

    Introduced in 06_image_restoration.
    """
    forbid_calls(psnr, {"peak_signal_noise_ratio": "that is scikit-image's answer; write the formula",
                        "psnr_mean": "that is the lesson's scikit-image helper"}, what="psnr")
    cases = _psnr_cases()
    answers, expected = [], []
    for what, x, y, r in cases:
        case = f"psnr on {what}"
        got = as_scalar(call_safely(psnr, x.copy(), y.copy(), r, what=case), case, meaning="the PSNR in dB (one number)")
        answers.append(got)
        expected.append(reference_psnr(x, y, r))
    mistakes: dict[str, list[float]] = {}
    for _, x, y, r in cases:
        for text, value in _psnr_mistakes(x, y, r).items():
            mistakes.setdefault(text, []).append(value)
    if not np.allclose(answers, expected, rtol=1e-4, atol=1e-4):
        mistake = name_mistake(answers, mistakes, expected, rtol=1e-4, atol=1e-4)
        for (what, *_), got, want in zip(cases, answers, expected):
            if not np.isclose(got, want, rtol=1e-4, atol=1e-4):
                raise ExerciseError(f"psnr on {what}: expected {want:.4f} dB, got {got:.4f}"
                                    + (f": {mistake}." if mistake else "."))
    return passed("psnr")


# ---------------------------------------------------------------------------------------------
# Exercise 2: the skip connection and the U-Net's shapes
# ---------------------------------------------------------------------------------------------

@exercise(2, "skip_connect")
def check_skip_connection(skip_connect: Callable[..., Any]) -> bool:
    """Check exercise 2 (a): the skip connection concatenates along the channel axis.

    Introduced in 06_image_restoration.
    """
    rng = np.random.default_rng(62)
    for dec_c, enc_c in ((3, 5), (4, 4)):
        dec = rng.normal(size=(2, 6, 6, dec_c)).astype(np.float32)
        enc = rng.normal(size=(2, 6, 6, enc_c)).astype(np.float32)
        what = f"skip_connect(decoder (2, 6, 6, {dec_c}), encoder (2, 6, 6, {enc_c}))"
        try:
            got = np.asarray(call_safely(skip_connect, dec, enc, what=what))
        except ExerciseError as err:
            text = str(err).lower()
            if "broadcast" in text or "incompatible" in text:
                raise ExerciseError(f"{what} failed with features of different channel counts: did you add them? A "
                                    "ResNet's skip adds; the U-Net's concatenates along the channel axis, so both "
                                    "keep their channels.") from err
            if "concat" in text:
                raise ExerciseError(f"{what} failed: the features were concatenated along an axis where their sizes "
                                    "differ. Join them along the channel axis (axis=-1).") from err
            raise
        if got.shape == (2, 6, 6, dec_c) and dec_c == enc_c and np.allclose(got, dec + enc, atol=1e-5):
            raise ExerciseError(f"{what}: you added the two feature maps (a ResNet's skip). The U-Net concatenates "
                                f"them along the channel axis: expected shape (2, 6, 6, {dec_c + enc_c}).")
        if got.shape in ((4, 6, 6, dec_c), (2, 12, 6, dec_c), (2, 6, 12, dec_c)):
            raise ExerciseError(f"{what}: got shape {got.shape}: you concatenated along a batch or spatial axis; "
                                "join the features along the channel axis (axis=-1).")
        if got.shape != (2, 6, 6, dec_c + enc_c):
            raise ExerciseError(f"{what}: expected shape (2, 6, 6, {dec_c + enc_c}) (the channels of both), "
                                f"got {got.shape}")
        if not (np.allclose(got, np.concatenate([dec, enc], -1), atol=1e-6)
                or np.allclose(got, np.concatenate([enc, dec], -1), atol=1e-6)):
            raise ExerciseError(f"{what}: the shape is right but the values are not the two inputs side by side: "
                                "concatenate them unchanged (no activation, no convolution)")
    return passed("skip_connect")


def reference_unet_shapes(size: int, in_channels: int, width: int, depth: int) -> dict[str, Any]:
    """The shapes of the lesson's ``build_unet`` for a ``size`` x ``size`` input, read from the real network.

    Introduced in 06_image_restoration.
    """
    import keras

    lesson = _lesson()
    model = lesson.build_unet(in_channels, width, depth, residual=False)
    layers = keras.layers
    probe = keras.Model(model.input, [layer.output for layer in model.layers
                                      if isinstance(layer, (layers.Conv2D, layers.Concatenate))
                                      and not isinstance(layer, layers.Conv2DTranspose)])
    outs = [tuple(int(d) for d in o.shape[1:]) for o in probe(np.zeros((1, size, size, in_channels), np.float32))]
    kinds = [layer for layer in model.layers if isinstance(layer, (layers.Conv2D, layers.Concatenate))
             and not isinstance(layer, layers.Conv2DTranspose)]
    convs = [s for s, k in zip(outs, kinds) if isinstance(k, layers.Conv2D)]
    concats = [s for s, k in zip(outs, kinds) if isinstance(k, layers.Concatenate)]
    blocks = convs[1:-1:2]  # the second convolution of each block (the last conv is the 1x1 output)
    return {"skips": blocks[:depth], "bottleneck": blocks[depth], "concats": concats, "output": convs[-1]}


@exercise(2, "unet_shapes")
def check_unet_shapes(unet_shapes: Callable[..., Any]) -> bool:
    """Check exercise 2 (b): predicted U-Net shapes against the real network, for several configurations.

    Introduced in 06_image_restoration.
    """
    for size, in_channels, width, depth in ((28, 2, 32, 2), (48, 1, 8, 3), (32, 1, 4, 1)):
        what = f"unet_shapes(size={size}, in_channels={in_channels}, width={width}, depth={depth})"
        got = call_safely(unet_shapes, size, in_channels, width, depth, what=what)
        want = reference_unet_shapes(size, in_channels, width, depth)
        if not isinstance(got, dict) or set(got) != set(want):
            raise ExerciseError(f"{what}: expected a dict with the keys {sorted(want)}, got "
                                f"{sorted(got) if isinstance(got, dict) else type(got).__name__}")
        norm = {k: ([tuple(int(d) for d in s) for s in v] if k in ("skips", "concats") else tuple(int(d) for d in v))
                for k, v in got.items()}
        for key in ("skips", "bottleneck", "concats", "output"):
            if norm[key] == want[key]:
                continue
            hint = ""
            if key == "concats" and [s[:2] for s in norm[key]] == [s[:2] for s in want[key]]:
                hint = (" The sizes are right, the channels are not: a concatenation has the decoder's channels "
                        "*plus* the skip's (both halves).")
            elif key == "concats" and norm[key] == want[key][::-1]:
                hint = " The decoder goes from the deepest level up: list the concatenations deepest first."
            elif key == "skips" and all(s[2] == width for s in norm[key]) and depth > 1:
                hint = " Each level down doubles the channels (width * 2**level)."
            elif key in ("skips", "bottleneck") and norm[key] and want[key]:
                hint = " Each 2x2 max-pooling halves the height and the width; 'same' convolutions keep them."
            raise ExerciseError(f"{what}: {key} expected {want[key]}, got {norm[key]}.{hint}")
    return passed("unet_shapes")


# ---------------------------------------------------------------------------------------------
# Exercise 3: the pix2pix generator loss
# ---------------------------------------------------------------------------------------------

def _loss_cases() -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray, float]]:
    rng = np.random.default_rng(63)
    cases = []
    for what, scale, bias, weight in (("moderate logits, l1_weight=20", 1.5, 0.0, 20.0),
                                      ("a discriminator that rejects every fake (logits near -200), l1_weight=5", 3.0,
                                       -200.0, 5.0),
                                      ("moderate logits, l1_weight=100 (pix2pix's value)", 1.0, 0.5, 100.0)):
        logits = (rng.normal(0, scale, (3, 4, 4, 1)) + bias).astype(np.float32)
        clean = rng.uniform(0, 1, (3, 8, 8, 1)).astype(np.float32)
        restored = np.clip(clean + rng.normal(0, 0.1, clean.shape), 0, 1).astype(np.float32)
        cases.append((what, logits, clean, restored, weight))
    return cases


def _loss_mistakes(logits: np.ndarray, clean: np.ndarray, restored: np.ndarray, w: float) -> dict[str, float]:
    lg = logits.astype(np.float64)
    l1 = np.mean(np.abs(clean.astype(np.float64) - restored))
    l2 = np.mean((clean.astype(np.float64) - restored) ** 2)
    adv = np.mean(softplus(-lg))
    return {
        "the saturating minimax loss log(1 - D(G(y))) was used: minimize -log D(G(y)), softplus(-l)":
            float(-np.mean(softplus(lg)) + w * l1),
        "the adversarial term has the discriminator's target: the generator wants its fakes called real, "
        "softplus(-l), not softplus(l)": float(np.mean(softplus(lg)) + w * l1),
        "the squared error was used: pix2pix's reconstruction term is L1, mean(|clean - restored|)": float(adv + w * l2),
        "l1_weight multiplies the adversarial term instead of the L1 term": float(w * adv + l1),
        "l1_weight is missing": float(adv + l1),
        "the L1 term is missing": float(adv),
        "the adversarial term is missing: that is plain L1 training": float(w * l1),
        "the L1 term is summed, not averaged": float(adv + w * np.sum(np.abs(clean.astype(np.float64) - restored))),
    }


@exercise(3, "generator_loss")
def check_pix2pix_generator_loss(generator_loss: Callable[..., Any]) -> bool:
    """Check exercise 3: the pix2pix generator loss on three cases, one with saturated logits.

    Introduced in 06_image_restoration.
    """
    forbid_calls(generator_loss, {"pix2pix_generator_loss": "that is the lesson's answer; write it yourself"},
                 what="generator_loss")
    cases = _loss_cases()
    answers, expected, mistakes = [], [], {}
    for what, logits, clean, restored, w in cases:
        case = f"generator_loss on {what}"
        answers.append(as_scalar(call_safely(generator_loss, logits, clean, restored, w, what=case), case,
                                 meaning="the loss (one number)"))
        l1 = np.mean(np.abs(clean.astype(np.float64) - restored))
        expected.append(float(np.mean(softplus(-logits.astype(np.float64))) + w * l1))
        for text, value in _loss_mistakes(logits, clean, restored, w).items():
            mistakes.setdefault(text, []).append(value)
    if np.allclose(answers, expected, rtol=1e-5, atol=1e-4):
        return passed("generator_loss")
    mistake = name_mistake(answers, mistakes, expected, rtol=1e-5, atol=1e-4)
    for (what, *_), got, want in zip(cases, answers, expected):
        if not np.isfinite(got):
            raise ExerciseError(f"generator_loss on {what}: got {got!r}: with logits this large log(sigmoid(l)) is "
                                "log(0); compute -log D from the logits, tf.nn.softplus(-l).")
        if not np.isclose(got, want, rtol=1e-5, atol=1e-4):
            check_close(got, want, what=f"generator_loss on {what}" + (f" ({mistake})" if mistake else ""),
                        rtol=1e-5, atol=1e-4)
    raise ExerciseError("generator_loss: wrong on at least one case")  # pragma: no cover - check_close raised


@exercise(2, "skip_connect and unet_shapes")
def check_unet(skip_connect: Callable[..., Any], unet_shapes: Callable[..., Any]) -> bool:
    """Check both parts of exercise 2 (:func:`check_skip_connection`, then :func:`check_unet_shapes`), reported as
    one exercise.

    Introduced in 06_image_restoration.
    """
    check_skip_connection.__wrapped__(skip_connect)
    return check_unet_shapes.__wrapped__(unet_shapes)
