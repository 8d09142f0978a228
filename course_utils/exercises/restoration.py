"""Automatic checks for the exercises of lesson ``06_image_restoration``: what pix2pix's discriminator sees, the
two losses of one pix2pix training step, and the U-Net's shapes.

Conventions (also stated in the lesson):

* ``patchgan_inputs(condition, target, fake) -> (real_pair, fake_pair)``: the PatchGAN judges an image *given* the
  damaged input: ``real_pair = concat([condition, target], -1)``, ``fake_pair = concat([condition, fake], -1)``,
  the condition's channels first (the order the lesson's ``make_gan_step`` feeds ``build_patch_discriminator``);
* ``pix2pix_losses(real_logits, fake_logits, condition, target, fake, lam) -> (g_loss, d_loss)``, two numbers:
  ``g_loss = mean(softplus(-fake_logits)) + lam * mean(|target - fake|)`` (non-saturating, from logits, plus
  λ·L1 between the restored image and the clean one) and ``d_loss = mean(softplus(-real_logits)) +
  mean(softplus(fake_logits))`` (real pairs called real, fake pairs fake; no halving, no label smoothing), the
  losses ``make_gan_step`` computes in one step;
* ``unet_shapes(size, in_channels, width, depth) -> {"skips", "bottleneck", "concats", "output"}``: the
  ``(height, width, channels)`` of the lesson's ``build_unet``.

The learner's functions receive and return arrays and numbers only, so the autograder can call them in its
sandbox. Each check raises :class:`course_utils.checks.ExerciseError` naming the case and, when it recognizes it,
the mistake; it returns True after printing a success line. The U-Net reference is the lesson's own ``build_unet``
(loaded from its cells tagged ``export``), and ``tests/test_exercises_restoration.py`` checks the loss reference
against one step of the lesson's ``make_gan_step``, so the lesson and its checks cannot disagree.
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
    passed,
    softplus,
    tolerance_for,
)
from ..validate import positive_number

__all__ = ["check_patchgan_inputs", "check_pix2pix_losses", "check_unet_shapes", "reference_patchgan_inputs",
           "reference_pix2pix_losses", "reference_psnr", "reference_unet_shapes"]

LESSON = "06_image_restoration"


@cache
def _lesson() -> Any:
    from ..lessons import load_lesson_code

    return load_lesson_code(LESSON)


# ---------------------------------------------------------------------------------------------
# PSNR (the formula section 3 checks; kept as a reference for tests and teachers)
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
    positive_number(data_range, "data_range", expected="a finite number > 0")
    for name, arr in (("clean", a), ("restored", b)):
        if np.issubdtype(arr.dtype, np.integer) and arr.size and np.max(np.abs(arr.astype(np.int64))) > data_range:
            raise ValueError(f"expected {name} pixels within data_range={data_range} for {arr.dtype} images, got values "
                             f"up to {np.max(arr)} (uint8 images have data_range=255)")
    err = a.astype(np.float64) - b.astype(np.float64)
    return float(10 * np.log10(float(data_range) ** 2 / np.mean(err ** 2)))


# ---------------------------------------------------------------------------------------------
# Exercise 1: what the PatchGAN sees
# ---------------------------------------------------------------------------------------------

def reference_patchgan_inputs(condition: Any, target: Any, fake: Any) -> tuple[np.ndarray, np.ndarray]:
    """pix2pix's discriminator inputs: ``(concat([condition, target], -1), concat([condition, fake], -1))``.

    Introduced in 06_image_restoration.
    """
    c, x, g = (np.asarray(a, np.float64) for a in (condition, target, fake))
    return np.concatenate([c, x], -1), np.concatenate([c, g], -1)


def _pair_cases() -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(601)
    cases = []
    for what, n, h, w, c_in, c_out, dtype in (
            ("inpainting: condition (2, 8, 8, 2) = damaged digit + mask, images (2, 8, 8, 1), float32",
             2, 8, 8, 2, 1, np.float32),
            ("denoising: condition and images (3, 6, 10, 1), float64", 3, 6, 10, 1, 1, np.float64),
            ("colour photos: condition and images (1, 5, 7, 3), float32", 1, 5, 7, 3, 3, np.float32)):
        cond = rng.uniform(0, 1, (n, h, w, c_in)).astype(dtype)
        target = rng.uniform(0, 1, (n, h, w, c_out)).astype(dtype)
        fake = np.clip(target + rng.normal(0, 0.2, target.shape), 0, 1).astype(dtype)
        cases.append((what, cond, target, fake))
    return cases


_PAIR_MISTAKES: dict[str, Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]] = {
    "the discriminator sees the images alone: pix2pix's PatchGAN judges an image *given* its input, so each pair "
    "is concat([condition, image], axis=-1)": lambda c, x, g: (x, g),
    "the image comes first and the condition second: the lesson's PatchGAN is fed concat([condition, image]) (the "
    "condition's channels first); keep that order for both pairs": lambda c, x, g: (np.concatenate([x, c], -1),
                                                                                   np.concatenate([g, c], -1)),
    "the real and the fake pairs are swapped: the real pair holds the clean target, the fake pair the restored "
    "image": lambda c, x, g: (np.concatenate([c, g], -1), np.concatenate([c, x], -1)),
    "the fake pair is conditioned on the target instead of the damaged input: both pairs use the same condition":
        lambda c, x, g: (np.concatenate([c, x], -1), np.concatenate([x, g], -1)),
}


def _pair_of_arrays(got: Any, what: str) -> tuple[np.ndarray, np.ndarray]:
    if got is None:
        raise ExerciseError(f"{what}: you returned None. Did you forget the `return` statement?")
    if isinstance(got, dict) or not isinstance(got, tuple | list) or len(got) != 2:
        raise ExerciseError(f"{what}: expected two arrays (real_pair, fake_pair), got {type(got).__name__}"
                            + (f" of {len(got)} items" if isinstance(got, tuple | list) else ""))
    try:
        return np.asarray(got[0], np.float64), np.asarray(got[1], np.float64)
    except (TypeError, ValueError) as err:
        raise ExerciseError(f"{what}: expected two arrays, got items that are not arrays ({err})") from None


@exercise(1, "patchgan_inputs")
def check_patchgan_inputs(fn: Callable[..., Any]) -> bool:
    """Check exercise 1: ``fn(condition, target, fake) -> (real_pair, fake_pair)``, what pix2pix's D sees.

    Introduced in 06_image_restoration.

    Raises:
        ExerciseError: naming the case and the mistake (images alone, the wrong order, real and fake swapped, the
            wrong condition, the wrong axis).
    """
    cases = _pair_cases()
    answers = []
    for what, c, x, g in cases:
        case = f"patchgan_inputs on {what}"
        answers.append(_pair_of_arrays(call_safely(fn, c.copy(), x.copy(), g.copy(), what=case), case))
    for text, mistake in _PAIR_MISTAKES.items():
        wrong = [mistake(*(np.asarray(a, np.float64) for a in case[1:])) for case in cases]
        if all(a[0].shape == w[0].shape and a[1].shape == w[1].shape and np.allclose(a[0], w[0], atol=1e-6)
               and np.allclose(a[1], w[1], atol=1e-6) for a, w in zip(answers, wrong)):
            raise ExerciseError(f"patchgan_inputs: {text}")
    for (what, c, x, g), (real, fake) in zip(cases, answers):
        want_real, want_fake = reference_patchgan_inputs(c, x, g)
        case = f"patchgan_inputs on {what}"
        for name, got, want in (("real_pair", real, want_real), ("fake_pair", fake, want_fake)):
            if got.shape != want.shape:
                hint = (" The last axis does not hold both: join them along the channel axis (axis=-1), not the "
                        "batch or a spatial axis." if got.ndim == want.ndim and got.shape[-1] != want.shape[-1] else "")
                raise ExerciseError(f"{case}: {name} expected shape {want.shape} (the condition's {c.shape[-1]} "
                                    f"channel(s) then the image's {x.shape[-1]}), got {got.shape}.{hint}")
            check_close(got, want, what=f"{case}, {name}", rtol=0, atol=1e-6)
    return passed("patchgan_inputs")


# ---------------------------------------------------------------------------------------------
# Exercise 2: the two losses of one pix2pix step
# ---------------------------------------------------------------------------------------------

def reference_pix2pix_losses(real_logits: Any, fake_logits: Any, condition: Any, target: Any, fake: Any,
                             lam: float) -> tuple[float, float]:
    """The generator's and the PatchGAN's losses of one pix2pix step, in float64 (the lesson's ``make_gan_step``).

    Introduced in 06_image_restoration.

    Returns:
        ``(g_loss, d_loss)``: ``mean(softplus(-fake_logits)) + lam * mean(|target - fake|)`` and
        ``mean(softplus(-real_logits)) + mean(softplus(fake_logits))``. ``condition`` is not used: it reaches
        the losses only through D's logits.
    """
    r, f = np.asarray(real_logits, np.float64), np.asarray(fake_logits, np.float64)
    l1 = np.mean(np.abs(np.asarray(target, np.float64) - np.asarray(fake, np.float64)))
    return float(np.mean(softplus(-f)) + lam * l1), float(np.mean(softplus(-r)) + np.mean(softplus(f)))


def _loss_cases() -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]]:
    rng = np.random.default_rng(602)
    cases = []
    for what, shape, c_in, scale, bias, lam, dtype in (
            ("inpainting digits (2, 8, 8, 1), condition with a mask channel, 2x2 logits per image, lam=20, float32",
             (2, 8, 8), 2, 1.5, 0.0, 20.0, np.float32),
            ("a discriminator that rejects every fake (fake logits near -800, real near +800), (3, 6, 6, 1), lam=5, "
             "float64", (3, 6, 6), 1, 3.0, 800.0, 5.0, np.float64),
            ("pix2pix's lam=100, (1, 12, 12, 1), 3x3 logits, float32", (1, 12, 12), 1, 1.0, 0.5, 100.0, np.float32)):
        n, h, w = shape
        p = h // 4 + (h == 6)
        real = (rng.normal(0, scale, (n, p, p, 1)) + bias).astype(dtype)
        fake_logits = (rng.normal(0, scale, (n, p, p, 1)) - bias).astype(dtype)
        target = rng.uniform(0, 1, (n, h, w, 1)).astype(dtype)
        fake = np.clip(target + rng.normal(0, 0.1, target.shape), 0, 1).astype(dtype)
        cond = np.clip(target + rng.normal(0, 0.3, target.shape), 0, 1)
        if c_in == 2:
            cond = np.concatenate([cond, (rng.uniform(size=target.shape) < 0.3)], -1)
        cases.append((what, real, fake_logits, cond.astype(dtype), target, fake, lam))
    return cases


def _g_mistakes(r: np.ndarray, f: np.ndarray, c: np.ndarray, x: np.ndarray, g: np.ndarray, lam: float
                ) -> dict[str, float]:
    def sig(v: np.ndarray) -> np.ndarray:
        return np.exp(-np.logaddexp(0.0, -v))  # sigmoid(v), without overflow at logits of -800

    adv, l1 = np.mean(softplus(-f)), np.mean(np.abs(x - g))
    wrong_pair = "g_loss: the L1 term compares the restored image with the damaged input (the condition); it " \
        "compares it with the clean target, mean(|target - fake|)"
    no_generator = "g_loss: the L1 term compares the target with the condition, which does not depend on the " \
        "generator at all; compare the target with the fake"
    image = c[..., :x.shape[-1]]  # the condition's image channels (an inpainting condition also holds the mask)
    return {
        wrong_pair: adv + lam * np.mean(np.abs(image - g)),
        wrong_pair + " (here broadcast against the mask channel too)": adv + lam * np.mean(np.abs(c - g)),
        no_generator: adv + lam * np.mean(np.abs(x - image)),
        no_generator + " (here broadcast against the mask channel too)": adv + lam * np.mean(np.abs(x - c)),
        "g_loss: lam is missing: the L1 term is weighted by lam": adv + l1,
        "g_loss: lam multiplies the adversarial term instead of the L1 term": lam * adv + l1,
        "g_loss: the saturating minimax term log(1 - D(G(y))) was used; the generator minimizes -log D(G(y)), "
        "softplus(-fake_logits)": -np.mean(softplus(f)) + lam * l1,
        "g_loss: the adversarial term has the discriminator's target: the generator wants its fakes called real, "
        "softplus(-fake_logits), not softplus(fake_logits)": np.mean(softplus(f)) + lam * l1,
        "g_loss: a sigmoid was applied to the logits before a loss that takes logits (the sigmoid is applied "
        "twice): use the logits as they are": np.mean(softplus(-sig(f))) + lam * l1,
        "g_loss: the adversarial term uses the real pairs' logits; the generator is judged on its fakes":
            np.mean(softplus(-r)) + lam * l1,
        "g_loss: the adversarial term is summed over the patches instead of averaged": np.sum(softplus(-f)) + lam * l1,
        "g_loss: the L1 term is summed over the pixels instead of averaged": adv + lam * np.sum(np.abs(x - g)),
        "g_loss: the squared error was used; pix2pix's reconstruction term is L1, mean(|target - fake|)":
            adv + lam * np.mean((x - g) ** 2),
        "g_loss: the adversarial term is missing (that is plain L1 training)": lam * l1,
    }


def _d_mistakes(r: np.ndarray, f: np.ndarray, c: np.ndarray, x: np.ndarray, g: np.ndarray, lam: float
                ) -> dict[str, float]:
    def sig(v: np.ndarray) -> np.ndarray:
        return np.exp(-np.logaddexp(0.0, -v))  # sigmoid(v), without overflow at logits of -800

    right = np.mean(softplus(-r)) + np.mean(softplus(f))
    return {
        "d_loss: the fake term uses the generator's (non-saturating) target softplus(-fake_logits); the "
        "discriminator calls fakes fake: softplus(fake_logits)": np.mean(softplus(-r)) + np.mean(softplus(-f)),
        "d_loss: the labels are swapped: real pairs should be called real (softplus(-real_logits)) and fake pairs "
        "fake (softplus(fake_logits))": np.mean(softplus(r)) + np.mean(softplus(-f)),
        "d_loss: a sigmoid was applied to the logits before a loss that takes logits (the sigmoid is applied twice)":
            np.mean(softplus(-sig(r))) + np.mean(softplus(sig(f))),
        "d_loss: the terms are summed over the patches instead of averaged":
            np.sum(softplus(-r)) + np.sum(softplus(f)),
        "d_loss: it is halved (pix2pix's paper divides D's objective by 2 to slow D down); the lesson's step, and "
        "this exercise, do not": right / 2,
        "d_loss: the lam * L1 term belongs to the generator's loss only": right + lam * np.mean(np.abs(x - g)),
        "d_loss: one-sided label smoothing (real_label = 0.9, lessons 04 and 07) is not part of this pix2pix step: "
        "use hard labels": np.mean(0.9 * softplus(-r) + 0.1 * softplus(r)) + np.mean(softplus(f)),
        "d_loss: that is the value D maximizes (log D + log(1 - D)); the loss to minimize is its negative":
            -right,
        "d_loss: the fake term is missing": np.mean(softplus(-r)),
        "d_loss: the real term is missing": np.mean(softplus(f)),
    }


def _named(mistakes: list[dict[str, float]], expected: list[float], answers: list[float],
           rtol: float, atol: float) -> str | None:
    for text in mistakes[0]:
        wrong = [m[text] for m in mistakes]
        if all(np.isclose(w, e, rtol=10 * rtol, atol=10 * atol) for w, e in zip(wrong, expected)):
            continue
        if all(np.isclose(a, w, rtol=rtol, atol=atol) for a, w in zip(answers, wrong)):
            return text
    return None


@exercise(2, "pix2pix_losses")
def check_pix2pix_losses(fn: Callable[..., Any]) -> bool:
    """Check exercise 2: ``fn(real_logits, fake_logits, condition, target, fake, lam) -> (g_loss, d_loss)``.

    Introduced in 06_image_restoration.

    Raises:
        ExerciseError: naming the case, the loss that is wrong and, when every case shows it, the mistake (L1 on
            the wrong pair, lam missing or misplaced, D's fake term with the generator's target, a sigmoid applied
            twice, sums for means, the paper's halving, label smoothing, the order of the two losses).
    """
    forbid_calls(fn, {"pix2pix_generator_loss": "that is the lesson's generator loss; write it yourself",
                      "make_gan_step": "that is the lesson's training step"}, what="pix2pix_losses")
    cases = _loss_cases()
    got_g, got_d, want_g, want_d, g_wrong, d_wrong, tols = [], [], [], [], [], [], []
    for what, r, f, c, x, g, lam in cases:
        case = f"pix2pix_losses on {what}"
        out = call_safely(fn, r.copy(), f.copy(), c.copy(), x.copy(), g.copy(), lam, what=case)
        if hasattr(out, "shape") and tuple(out.shape) == (2,):  # one array of the two numbers
            out = list(np.asarray(out))
        if isinstance(out, dict) or not isinstance(out, tuple | list) or len(out) != 2:
            raise ExerciseError(f"{case}: expected two numbers (g_loss, d_loss), got {type(out).__name__}"
                                + (f" of {len(out)} items" if isinstance(out, tuple | list) else ""))
        tols.append(tolerance_for(r, out[0], out[1], rtol=1e-6, atol=1e-8))
        got_g.append(as_scalar(out[0], case, meaning="g_loss (one number, the mean over the batch)"))
        got_d.append(as_scalar(out[1], case, meaning="d_loss (one number, the mean over the batch)"))
        wg, wd = reference_pix2pix_losses(r, f, c, x, g, lam)
        want_g.append(wg)
        want_d.append(wd)
        args64 = [np.asarray(a, np.float64) for a in (r, f, c, x, g)]
        g_wrong.append({k: float(v) for k, v in _g_mistakes(*args64, lam).items()})
        d_wrong.append({k: float(v) for k, v in _d_mistakes(*args64, lam).items()})
    rtol, atol = max(t[0] for t in tols), max(t[1] for t in tols)
    ok_g = np.allclose(got_g, want_g, rtol=rtol, atol=atol)
    ok_d = np.allclose(got_d, want_d, rtol=rtol, atol=atol)
    if ok_g and ok_d:
        return passed("pix2pix_losses")
    if np.allclose(got_g, want_d, rtol=rtol, atol=atol) and np.allclose(got_d, want_g, rtol=rtol, atol=atol):
        raise ExerciseError("pix2pix_losses: the two losses are in the wrong order: return (g_loss, d_loss)")
    found = []
    if not ok_g:
        found.append(_named(g_wrong, want_g, got_g, rtol, atol))
    if not ok_d:
        found.append(_named(d_wrong, want_d, got_d, rtol, atol))
    for (what, *_), gg, gd, wg, wd in zip(cases, got_g, got_d, want_g, want_d):
        for name, got, want in (("g_loss", gg, wg), ("d_loss", gd, wd)):
            if not np.isfinite(got):
                raise ExerciseError(f"pix2pix_losses on {what}: {name} is {got!r}: with logits this large "
                                    "log(sigmoid(l)) is log(0); compute the losses from the logits with softplus "
                                    "(-log sigmoid(l) = softplus(-l), -log(1 - sigmoid(l)) = softplus(l)).")
            if not np.isclose(got, want, rtol=rtol, atol=atol):
                named = "; ".join(t for t in found if t)
                raise ExerciseError(f"pix2pix_losses on {what}: {name} expected {want:.6g}, got {got:.6g}"
                                    + (f". {named}." if named else "."))
    raise ExerciseError("pix2pix_losses: wrong on at least one case")  # pragma: no cover - raised above


# ---------------------------------------------------------------------------------------------
# Exercise 3: the U-Net's shapes
# ---------------------------------------------------------------------------------------------

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


@exercise(3, "unet_shapes")
def check_unet_shapes(unet_shapes: Callable[..., Any]) -> bool:
    """Check exercise 3: predicted U-Net shapes against the real network, for several configurations.

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
