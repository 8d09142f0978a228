"""Automatic checks for the exercises of lesson ``07_trends_and_challenges``: DiffAugment in a GAN step, a DDPM's
training loss (with its forward noising q(x_t | x_0)), its ancestral sampling step, and a class-mean latent
direction.

Conventions (also stated in the lesson):

* ``diffaugment_views(real, fake, draws, size) -> {"d_real", "d_fake", "g_fake"}``: the batches D sees in the
  discriminator's loss (real and fake) and in the generator's loss (fake), each through the same policy T:
  translation, then cutout. ``draws`` holds the random draws of each batch: ``real_shifts``, ``real_centers``,
  ``fake_shifts``, ``fake_centers``, each ``(n, 2)`` ints. A shift ``(dr, dc)`` gives ``out[i, r, c] =
  images[i, r + dr, c + dc]``, -1 (the background) where that falls outside (the lesson's ``translate`` with
  ``dr = offset - 2``); cutout then sets rows and columns ``[centre - size // 2, centre - size // 2 + size)``,
  clipped at the border, to 0 (the lesson's ``cutout``). The generator's loss sees the *same* augmented fakes as
  the discriminator's (the lesson's ``gan_update`` computes D(T(G(z))) once);
* ``q_sample_np(x0, t, noise, betas) = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise`` with
  ``abar_t = prod_{s <= t} (1 - betas[s])`` and 0-based integer steps ``t`` (one per row);
* ``ddpm_loss(x0, t, noise, betas, w, b)``: the simplified DDPM loss of a *linear* denoiser given by its weights,
  ``eps_hat = x_t @ w + b[t]`` with ``x_t = q_sample(x0, t, noise)``: ``mean((noise - eps_hat) ** 2)`` over every
  coordinate (the lesson's ``make_diffusion_step``);
* ``ddpm_step_back(x_t, t, eps_pred, z, betas)``: ``(x_t - beta_t / sqrt(1 - abar_t) eps_pred) / sqrt(1 - beta_t) +
  sqrt(beta_t) z``, without the noise at ``t = 0`` (the lesson's ``diffusion_sample``);
* ``class_mean_direction(z, labels, source, target)``: the unit vector along ``mean(z[labels == target]) -
  mean(z[labels == source])``; ``ValueError`` when either class has no sample.

The learner's functions receive and return arrays and numbers only, so the autograder can call them in its
sandbox. Tolerances follow the precision of the learner's answer and of the inputs
(:func:`course_utils.checks.tolerance_for`): a right float32 answer passes. Each check raises
:class:`course_utils.checks.ExerciseError` naming the case and, where it recognizes one, the mistake; it returns
True (after printing a success line) when every case passes. ``tests/test_exercises_trends.py`` checks the DDPM
references against the lesson's own ``q_sample``, ``make_diffusion_step`` loss and ``diffusion_sample``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
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
    tolerance_for,
)

__all__ = ["check_class_mean_direction", "check_ddpm_step_back", "check_ddpm_training", "check_diffaugment_views",
           "check_q_sample", "reference_class_mean_direction", "reference_cutout", "reference_ddpm_loss",
           "reference_ddpm_step_back", "reference_diffaugment_views", "reference_q_sample", "reference_translate"]


# ---------------------------------------------------------------------------------------------
# Reference answers
# ---------------------------------------------------------------------------------------------

def reference_cutout(images: Any, centers: Any, size: int, *, fill: float = 0.0, clip: bool = True,
                     swap: bool = False, centred_odd: bool = False) -> np.ndarray:
    """The reference cutout (the keyword arguments produce the known mistakes the check names).

    Introduced in 07_trends_and_challenges.
    """
    out = np.array(images, dtype=np.float64, copy=True)
    h, w = out.shape[1], out.shape[2]
    for i, (r, c) in enumerate(np.asarray(centers, dtype=int)):
        if swap:
            r, c = c, r
        top, left = (r - (size - 1) // 2, c - (size - 1) // 2) if centred_odd else (r - size // 2, c - size // 2)
        if clip:
            rows = slice(min(max(top, 0), h), min(max(top + size, 0), h))
            cols = slice(min(max(left, 0), w), min(max(left + size, 0), w))
        else:  # naive slicing: a negative start counts from the end
            rows, cols = slice(top, top + size), slice(left, left + size)
        out[i, rows, cols] = fill
    return out


def reference_q_sample(x0: Any, t: Any, noise: Any, betas: Any) -> np.ndarray:
    """``sqrt(abar_t) x0 + sqrt(1 - abar_t) noise`` with ``abar_t = prod_{s <= t}(1 - betas[s])``.

    Introduced in 07_trends_and_challenges.
    """
    abar = np.cumprod(1.0 - np.asarray(betas, np.float64))[np.asarray(t)][:, None]
    return np.sqrt(abar) * np.asarray(x0, np.float64) + np.sqrt(1.0 - abar) * np.asarray(noise, np.float64)


def reference_class_mean_direction(z: Any, labels: Any, source: int, target: int) -> np.ndarray:
    """The unit vector along ``mean(z[labels == target]) - mean(z[labels == source])``.

    Introduced in 07_trends_and_challenges.
    """
    z, labels = np.asarray(z, np.float64), np.asarray(labels)
    d = z[labels == target].mean(axis=0) - z[labels == source].mean(axis=0)
    return d / np.linalg.norm(d)


def reference_translate(images: Any, shifts: Any, *, fill: float = -1.0, sign: int = 1) -> np.ndarray:
    """``out[i, r, c] = images[i, r + dr, c + dc]``, ``fill`` outside (``sign=-1`` moves the other way: a mistake).

    Introduced in 07_trends_and_challenges.
    """
    x = np.asarray(images, np.float64)
    out = np.full_like(x, fill)
    h, w = x.shape[1], x.shape[2]
    for i, (dr, dc) in enumerate(np.asarray(shifts, dtype=int) * sign):
        rows, cols = np.arange(h) + dr, np.arange(w) + dc
        ok_r, ok_c = (rows >= 0) & (rows < h), (cols >= 0) & (cols < w)
        out[i][np.ix_(ok_r, ok_c)] = x[i][np.ix_(rows[ok_r], cols[ok_c])]
    return out


def reference_diffaugment_views(real: Any, fake: Any, draws: dict[str, Any], size: int) -> dict[str, np.ndarray]:
    """What D sees in one DiffAugment step: ``T(real)``, ``T(fake)`` for D's loss and the same ``T(fake)`` for G's.

    Introduced in 07_trends_and_challenges.
    """
    def t(images: Any, which: str) -> np.ndarray:
        return reference_cutout(reference_translate(images, draws[f"{which}_shifts"]), draws[f"{which}_centers"], size)

    fake_view = t(fake, "fake")
    return {"d_real": t(real, "real"), "d_fake": fake_view, "g_fake": fake_view.copy()}


def _abar(betas: Any) -> np.ndarray:
    return np.cumprod(1.0 - np.asarray(betas, np.float64))


def reference_ddpm_loss(x0: Any, t: Any, noise: Any, betas: Any, w: Any, b: Any) -> float:
    """``mean((noise - (x_t @ w + b[t])) ** 2)`` with ``x_t = q_sample(x0, t, noise)``, in float64.

    Introduced in 07_trends_and_challenges.
    """
    x_t = reference_q_sample(x0, t, noise, betas)
    eps_hat = x_t @ np.asarray(w, np.float64) + np.asarray(b, np.float64)[np.asarray(t)]
    return float(np.mean((np.asarray(noise, np.float64) - eps_hat) ** 2))


def reference_ddpm_step_back(x_t: Any, t: int, eps_pred: Any, z: Any, betas: Any) -> np.ndarray:
    """One ancestral DDPM step, with ``sigma_t**2 = beta_t`` and no noise at ``t = 0``, in float64.

    Introduced in 07_trends_and_challenges.
    """
    beta, abar = float(np.asarray(betas, np.float64)[t]), float(_abar(betas)[t])
    x = (np.asarray(x_t, np.float64) - beta / np.sqrt(1.0 - abar) * np.asarray(eps_pred, np.float64))
    x = x / np.sqrt(1.0 - beta)
    return x + np.sqrt(beta) * np.asarray(z, np.float64) if t > 0 else x



# ---------------------------------------------------------------------------------------------
# Exercise 1: DiffAugment in a GAN step
# ---------------------------------------------------------------------------------------------

def _views_cases() -> list[tuple[str, np.ndarray, np.ndarray, dict[str, np.ndarray], int]]:
    rng = np.random.default_rng(2020)
    cases = []
    for what, n, h, w, c, size, dtype in (("4 digits 28x28x1, size 14 (the lesson's), float32", 4, 28, 28, 1, 14,
                                           np.float32),
                                          ("3 images 12x9x2, size 5 (odd), float64", 3, 12, 9, 2, 5, np.float64),
                                          ("2 images 10x10x1, size 4, centres on the border, float32", 2, 10, 10, 1,
                                           4, np.float32)):
        real = rng.uniform(-1, 1, (n, h, w, c)).astype(dtype)
        fake = rng.uniform(-1, 1, (n, h, w, c)).astype(dtype)
        draws = {f"{k}_shifts": rng.integers(-2, 3, (n, 2)) for k in ("real", "fake")}
        draws.update({f"{k}_centers": np.stack([rng.integers(0, h + 1, n), rng.integers(0, w + 1, n)], 1)
                      for k in ("real", "fake")})
        if "border" in what:
            draws["real_centers"][0] = (0, 0)
            draws["fake_centers"][-1] = (h, w - 1)
        for k in ("real", "fake"):  # no shift of (0, 0) on the first image: every image moves
            draws[f"{k}_shifts"][0] = (1, -2) if k == "real" else (-1, 2)
        cases.append((what, real, fake, draws, size))
    return cases


def _views_mistakes(real: np.ndarray, fake: np.ndarray, d: dict[str, np.ndarray], size: int
                    ) -> dict[str, dict[str, np.ndarray]]:
    right = reference_diffaugment_views(real, fake, d, size)
    r, f = np.asarray(real, np.float64), np.asarray(fake, np.float64)

    def with_(**kw: Any) -> dict[str, np.ndarray]:
        out = dict(right)
        out.update(kw)
        return out

    def t(images: np.ndarray, which: str, **kw: Any) -> np.ndarray:
        order = kw.pop("order", "translate first")
        fill_hole = kw.pop("hole", 0.0)
        if order == "cutout first":
            return reference_translate(reference_cutout(images, d[f"{which}_centers"], size),
                                       d[f"{which}_shifts"], **kw)
        return reference_cutout(reference_translate(images, d[f"{which}_shifts"], **kw), d[f"{which}_centers"], size,
                                fill=fill_hole)

    def everywhere(**kw: Any) -> dict[str, np.ndarray]:
        fv = t(f, "fake", **dict(kw))
        return {"d_real": t(r, "real", **dict(kw)), "d_fake": fv, "g_fake": fv}

    return {
        "only the real images are augmented: the fakes must go through the same T, or D learns that augmented "
        "means real and the generator learns to draw the augmentations": with_(d_fake=f, g_fake=f),
        "the generator's loss sees un-augmented fakes: D was trained on T(G(z)) only, so G's loss must go through "
        "the same T, D(T(G(z))) (T is differentiable, so the gradient reaches G through it)": with_(g_fake=f),
        "the real images are not augmented (only the fakes are): D would tell them apart by the augmentation alone":
            with_(d_real=r),
        "the fakes used the real batch's draws: each batch has its own random draw (draws['fake_shifts'], "
        "draws['fake_centers'])": with_(d_fake=t(f, "real"), g_fake=t(f, "real")),
        "the translation moves the wrong way: out[i, r, c] = images[i, r + dr, c + dc]": everywhere(sign=-1),
        "the translation fills the uncovered border with 0; it fills it with -1, the background of digits in "
        "[-1, 1] (the lesson's translate)": everywhere(fill=0.0),
        "cutout's hole is filled with -1; cutout sets it to 0, mid-grey in [-1, 1]": everywhere(hole=-1.0),
        "cutout comes before the translation: the policy is translation, then cutout (the lesson's diff_augment)":
            everywhere(order="cutout first"),
    }


_VIEW_KEYS = ("d_real", "d_fake", "g_fake")


def _views_of(got: Any, what: str) -> dict[str, np.ndarray]:
    if got is None:
        raise ExerciseError(f"{what}: you returned None. Did you forget the `return` statement?")
    if not isinstance(got, dict) or set(got) != set(_VIEW_KEYS):
        raise ExerciseError(f"{what}: expected a dict with the keys {list(_VIEW_KEYS)}, got "
                            f"{sorted(got) if isinstance(got, dict) else type(got).__name__}")
    try:
        return {k: np.asarray(got[k], np.float64) for k in _VIEW_KEYS}
    except (TypeError, ValueError) as err:
        raise ExerciseError(f"{what}: expected an array for each key ({err})") from None


def _same_views(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    return all(a[k].shape == b[k].shape and np.allclose(a[k], b[k], rtol=0, atol=1e-5) for k in _VIEW_KEYS)


@exercise(1, "diffaugment_views")
def check_diffaugment_views(fn: Callable[..., Any]) -> bool:
    """Check exercise 1: ``fn(real, fake, draws, size) -> {"d_real", "d_fake", "g_fake"}``, DiffAugment's views.

    Introduced in 07_trends_and_challenges.

    Raises:
        ExerciseError: naming the case, the view that is wrong and, when every case shows it, the mistake (fakes
            or reals left un-augmented, the generator's loss without T, the other batch's draws, the translation's
            direction or fill, cutout's fill, the order of the policy).
    """
    forbid_calls(fn, {"diff_augment": "that is the lesson's answer, with its own random draws",
                      "random_cutout": "that draws its own centres; use the draws you are given"},
                 what="diffaugment_views")
    cases = _views_cases()
    answers = []
    for what, real, fake, draws, size in cases:
        case = f"diffaugment_views on {what}"
        before = (real.copy(), fake.copy())
        got = call_safely(fn, real, fake, {k: v.copy() for k, v in draws.items()}, size, what=case)
        if not (np.array_equal(real, before[0]) and np.array_equal(fake, before[1])):
            raise ExerciseError(f"{case}: the input images were changed; augment copies and leave real and fake "
                                "as they were")
        answers.append(_views_of(got, case))
    mistakes = [_views_mistakes(real, fake, draws, size) for _, real, fake, draws, size in cases]
    expected = [reference_diffaugment_views(real, fake, draws, size) for _, real, fake, draws, size in cases]
    for text in mistakes[0]:
        if all(_same_views(a, m[text]) for a, m in zip(answers, mistakes)):
            raise ExerciseError(f"diffaugment_views: {text}")
    for (what, *_), got, want in zip(cases, answers, expected):
        for key in _VIEW_KEYS:
            check_close(got[key], want[key], what=f"diffaugment_views on {what}, {key!r}", rtol=0, atol=1e-5)
    return passed("diffaugment_views")


# ---------------------------------------------------------------------------------------------
# Exercise 2: the DDPM training loss, and its forward noising q(x_t | x_0)
# ---------------------------------------------------------------------------------------------

def _q_cases() -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(2015)
    linear = np.linspace(1e-4, 0.05, 200)
    return [
        ("5 points in 2-D, steps 0..199 of a linear schedule", rng.normal(size=(5, 2)), np.array([0, 1, 50, 120, 199]),
         rng.normal(size=(5, 2)), linear),
        ("3 points in 4-D, a short schedule of 10 steps", rng.normal(size=(3, 4)), np.array([9, 0, 4]),
         rng.normal(size=(3, 4)), np.linspace(0.05, 0.3, 10)),
        ("one point, step 0 only", np.array([[2.0, -1.0]]), np.array([0]), np.array([[0.5, 0.5]]), linear),
    ]


def _q_variant(x0, t, noise, betas, kind):
    betas = np.asarray(betas, np.float64)
    t = np.asarray(t)
    if kind == "beta_t":
        a = (1.0 - betas)[t][:, None]
    elif kind == "no_sqrt":
        a = np.cumprod(1.0 - betas)[t][:, None]
        return a * x0 + (1.0 - a) * noise
    elif kind == "cumprod_betas":
        a = 1.0 - np.cumprod(betas)[t][:, None]
    elif kind == "one_early":
        a = np.concatenate([[1.0], np.cumprod(1.0 - betas)])[t][:, None]
    else:
        raise ValueError(kind)
    return np.sqrt(a) * x0 + np.sqrt(1.0 - a) * noise


_Q_MISTAKES = {
    "alpha-bar is not cumulative: you used 1 - betas[t] for the step t alone; abar_t is the product of (1 - beta_s) "
    "over every s <= t (np.cumprod)": "beta_t",
    "the square roots are missing: the mean is sqrt(abar_t) x0 and the standard deviation sqrt(1 - abar_t)": "no_sqrt",
    "you took the cumulative product of the betas; abar_t is the cumulative product of 1 - beta_s": "cumprod_betas",
    "the product stops one step early: with 0-based t, abar_t includes (1 - betas[t]) itself": "one_early",
}


def _check_q_sample(fn: Callable[..., np.ndarray]) -> bool:
    forbid_calls(fn, {"q_sample": "that is the lesson's TensorFlow answer",
                      "ALPHA_BARS": "compute abar_t from the betas you are given"}, what="q_sample_np")
    cases = _q_cases()
    raw = [call_safely(fn, x0.copy(), t.copy(), e.copy(), b.copy(), what=f"q_sample_np({case})")
           for case, x0, t, e, b in cases]
    answers = [np.asarray(a, dtype=np.float64) for a in raw]
    expected = [reference_q_sample(x0, t, e, b) for _, x0, t, e, b in cases]
    tols = [tolerance_for(a, x0, e, b, rtol=1e-6, atol=1e-9) for a, (_, x0, _, e, b) in zip(raw, cases)]
    rtol, atol = max(t[0] for t in tols), max(t[1] for t in tols)
    mistake = name_mistake(answers, {text: [_q_variant(x0, t, e, b, kind) for _, x0, t, e, b in cases]
                                     for text, kind in _Q_MISTAKES.items()}, expected, rtol=rtol, atol=atol)
    if mistake:
        raise ExerciseError(f"q_sample_np: {mistake}")
    for (case, *_), got, exp, (rt, at) in zip(cases, answers, expected, tols):
        check_close(got, exp, what=f"q_sample_np({case})", rtol=rt, atol=at)
    return passed("q_sample_np")


@exercise(2, "q_sample_np")
def check_q_sample(fn: Callable[..., np.ndarray]) -> bool:
    """Check ``fn(x0, t, noise, betas)`` against ``sqrt(abar_t) x0 + sqrt(1 - abar_t) noise``.

    A right answer computed in float32 passes (its tolerance follows its precision).

    Introduced in 07_trends_and_challenges.

    Args:
        fn: the learner's ``q_sample_np``.

    Returns:
        True when every case passes.

    Raises:
        ExerciseError: on the first case that fails, naming a known mistake where one explains every answer.
    """
    return _check_q_sample(fn)


def _loss_cases() -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(2021)
    linear = np.linspace(1e-4, 0.05, 200)
    cases = []
    for what, n, d, betas, dtype in (("6 points in 2-D, the lesson's linear schedule of 200 steps, float64", 6, 2,
                                      linear, np.float64),
                                     ("4 points in 3-D, a short schedule of 10 steps, float32", 4, 3,
                                      np.linspace(0.05, 0.3, 10), np.float32),
                                     ("8 points in 2-D, steps at both ends, float32", 8, 2, linear, np.float32)):
        t = rng.integers(0, len(betas), n)
        if "both ends" in what:
            t[:2] = (0, len(betas) - 1)
        cases.append((what, rng.normal(size=(n, d)).astype(dtype), t, rng.normal(size=(n, d)).astype(dtype),
                      betas.astype(dtype), rng.normal(0, 0.5, (d, d)).astype(dtype),
                      rng.normal(0, 0.3, (len(betas), d)).astype(dtype)))
    return cases


def _loss_mistakes(x0: np.ndarray, t: np.ndarray, e: np.ndarray, betas: np.ndarray, w: np.ndarray, b: np.ndarray
                   ) -> dict[str, float]:
    x0, e, w, b = (np.asarray(a, np.float64) for a in (x0, e, w, b))
    x_t = reference_q_sample(x0, t, e, betas)
    eps = x_t @ w + b[t]

    def mse(target: np.ndarray, pred: np.ndarray) -> float:
        return float(np.mean((target - pred) ** 2))

    return {
        "the target is x0: the simplified DDPM loss regresses the *noise*, mean((noise - eps_hat) ** 2)":
            mse(x0, eps),
        "the target is x_t: the network predicts the noise that was added, mean((noise - eps_hat) ** 2)":
            mse(x_t, eps),
        "the denoiser was fed x0: it sees the noised x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise (it never has "
        "x0 at sampling time)": mse(e, x0 @ w + b[t]),
        "the denoiser was fed the noise itself: feed it x_t": mse(e, e @ w + b[t]),
        "x_t is wrong: alpha-bar is not cumulative (1 - betas[t] of the step alone); abar_t is the product of "
        "(1 - beta_s) over every s <= t": mse(e, _q_variant(x0, t, e, betas, "beta_t") @ w + b[t]),
        "x_t is wrong: the square roots are missing (sqrt(abar_t) x0 + sqrt(1 - abar_t) noise)":
            mse(e, _q_variant(x0, t, e, betas, "no_sqrt") @ w + b[t]),
        "the weights are transposed: eps_hat = x_t @ w + b[t] (one row per example)": mse(e, x_t @ w.T + b[t]),
        "the time term b[t] is missing: eps_hat = x_t @ w + b[t]": mse(e, x_t @ w),
        "the squared errors are summed instead of averaged": float(np.sum((e - eps) ** 2)),
        "the squared error is summed over the coordinates and averaged over the examples (||noise - eps_hat||^2 per "
        "example, Ho et al.'s form): the lesson's loss, and this exercise, average over every coordinate":
            float(np.mean(np.sum((e - eps) ** 2, axis=1))),
        "that is the root of the mean squared error: the loss is the mean squared error itself": float(np.sqrt(
            np.mean((e - eps) ** 2))),
    }


def _check_ddpm_loss(fn: Callable[..., Any]) -> bool:
    forbid_calls(fn, {"q_sample": "that is the lesson's TensorFlow q_sample, with its own schedule; use the betas you "
                                  "are given", "ALPHA_BARS": "compute abar_t from the betas you are given",
                      "make_diffusion_step": "that is the lesson's training step"}, what="ddpm_loss")
    cases = _loss_cases()
    answers, expected, tols, mistakes = [], [], [], {}
    for what, x0, t, e, betas, w, b in cases:
        case = f"ddpm_loss on {what}"
        raw = call_safely(fn, x0.copy(), t.copy(), e.copy(), betas.copy(), w.copy(), b.copy(), what=case)
        answers.append(as_scalar(raw, case, meaning="the loss (one number, the mean over the batch)"))
        expected.append(reference_ddpm_loss(x0, t, e, betas, w, b))
        tols.append(tolerance_for(raw, x0, rtol=1e-6, atol=1e-9))
        for text, value in _loss_mistakes(x0, t, e, betas, w, b).items():
            mistakes.setdefault(text, []).append(value)
    rtol, atol = max(t[0] for t in tols), max(t[1] for t in tols)
    if np.allclose(answers, expected, rtol=rtol, atol=atol):
        return passed("ddpm_loss")
    mistake = name_mistake(answers, mistakes, expected, rtol=rtol, atol=atol)
    for (what, *_), got, want in zip(cases, answers, expected):
        if not np.isclose(got, want, rtol=rtol, atol=atol):
            raise ExerciseError(f"ddpm_loss on {what}: expected {want:.6g}, got {got:.6g}"
                                + (f": {mistake}." if mistake else "."))
    raise ExerciseError("ddpm_loss: wrong on at least one case")  # pragma: no cover - raised above


@exercise(2, "q_sample_np and ddpm_loss")
def check_ddpm_training(q_sample_np: Callable[..., Any], ddpm_loss: Callable[..., Any]) -> bool:
    """Check exercise 2: ``q_sample_np(x0, t, noise, betas)``, then ``ddpm_loss(x0, t, noise, betas, w, b)``.

    Introduced in 07_trends_and_challenges.

    Raises:
        ExerciseError: naming the part, the case and, when every case shows it, the mistake (for the loss: x0 or
            x_t as the target, the denoiser fed x0, a wrong x_t, transposed weights, the time term missing, sums,
            the per-example norm, the root of the mean).
    """
    _check_q_sample(q_sample_np)
    return _check_ddpm_loss(ddpm_loss)


# ---------------------------------------------------------------------------------------------
# Exercise 3: one step of ancestral sampling
# ---------------------------------------------------------------------------------------------

def _step_cases() -> list[tuple[str, np.ndarray, int, np.ndarray, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(2022)
    linear = np.linspace(1e-4, 0.05, 200)
    short = np.linspace(0.05, 0.3, 10)
    out = []
    for what, n, d, t, betas, dtype in (("the first step back, t = 199 of 200, 5 points in 2-D, float64", 5, 2, 199,
                                         linear, np.float64),
                                        ("t = 60 of 200, 4 points in 3-D, float32", 4, 3, 60, linear, np.float32),
                                        ("t = 5 of a 10-step schedule, 3 points in 2-D, float64", 3, 2, 5, short,
                                         np.float64),
                                        ("the last step, t = 0 (z is given but must not be added), 4 points in 2-D, "
                                         "float32", 4, 2, 0, linear, np.float32)):
        out.append((what, rng.normal(size=(n, d)).astype(dtype), t, rng.normal(size=(n, d)).astype(dtype),
                    rng.normal(size=(n, d)).astype(dtype), betas.astype(dtype)))
    return out


def _step_mistakes(x: np.ndarray, t: int, eps: np.ndarray, z: np.ndarray, betas: np.ndarray) -> dict[str, Any]:
    x, eps, z = (np.asarray(a, np.float64) for a in (x, eps, z))
    bet = np.asarray(betas, np.float64)
    abar = _abar(bet)
    beta, ab = bet[t], abar[t]
    noise = np.sqrt(beta) * z if t > 0 else 0.0
    prev = abar[t - 1] if t > 0 else 1.0
    one_early = (bet[t - 1], abar[t - 1]) if t > 0 else (bet[0], abar[0])
    return {
        "noise was added at the last step (t = 0): the sampler returns the mean there, with no z":
            (x - beta / np.sqrt(1 - ab) * eps) / np.sqrt(1 - beta) + np.sqrt(beta) * z,
        "the mean is divided by sqrt(abar_t); one step back divides by sqrt(alpha_t) = sqrt(1 - beta_t)":
            (x - beta / np.sqrt(1 - ab) * eps) / np.sqrt(ab) + noise,
        "the noise coefficient is beta_t / (1 - abar_t); it is beta_t / sqrt(1 - abar_t)":
            (x - beta / (1 - ab) * eps) / np.sqrt(1 - beta) + noise,
        "the whole predicted noise sqrt(1 - abar_t) eps was removed in one step; one step removes only "
        "beta_t / sqrt(1 - abar_t) of it": (x - np.sqrt(1 - ab) * eps) / np.sqrt(1 - beta) + noise,
        "the predicted noise is added instead of subtracted": (x + beta / np.sqrt(1 - ab) * eps) / np.sqrt(1 - beta)
        + noise,
        "the noise's standard deviation is beta_t; sigma_t = sqrt(beta_t) (sigma_t squared is beta_t)":
            (x - beta / np.sqrt(1 - ab) * eps) / np.sqrt(1 - beta) + (beta * z if t > 0 else 0.0),
        "1 - abar_t was replaced by beta_t (abar_t is cumulative: the product of 1 - beta_s for s <= t)":
            (x - np.sqrt(beta) * eps) / np.sqrt(1 - beta) + noise,
        "sigma_t squared is the posterior's variance beta_tilde_t = (1 - abar_{t-1}) / (1 - abar_t) beta_t (Ho et "
        "al.'s other choice); the lesson samples with sigma_t squared = beta_t":
            (x - beta / np.sqrt(1 - ab) * eps) / np.sqrt(1 - beta)
            + (np.sqrt((1 - prev) / (1 - ab) * beta) * z if t > 0 else 0.0),
        "the step uses betas[t - 1] and abar_{t - 1}: with 0-based t, x_t steps back with betas[t] and abar_t":
            (x - one_early[0] / np.sqrt(1 - one_early[1]) * eps) / np.sqrt(1 - one_early[0])
            + (np.sqrt(one_early[0]) * z if t > 0 else 0.0),
    }


@exercise(3, "ddpm_step_back")
def check_ddpm_step_back(fn: Callable[..., Any]) -> bool:
    """Check exercise 3: ``fn(x_t, t, eps_pred, z, betas) -> x_{t-1}``, one ancestral DDPM step.

    Introduced in 07_trends_and_challenges.

    Raises:
        ExerciseError: naming the case and, when every case shows it, the mistake (noise at the last step,
            sqrt(abar) for sqrt(alpha), the coefficient without its root, the whole noise removed, the sign,
            sigma = beta, the posterior's variance, an index one step early).
    """
    forbid_calls(fn, {"diffusion_sample": "that is the lesson's sampler", "ALPHA_BARS": "compute abar_t from the "
                      "betas you are given", "BETAS": "use the betas you are given"}, what="ddpm_step_back")
    cases = _step_cases()
    raw = [call_safely(fn, x.copy(), t, e.copy(), z.copy(), b.copy(), what=f"ddpm_step_back on {what}")
           for what, x, t, e, z, b in cases]
    answers = [np.asarray(a, np.float64) for a in raw]
    expected = [reference_ddpm_step_back(x, t, e, z, b) for _, x, t, e, z, b in cases]
    tols = [tolerance_for(a, x, rtol=1e-6, atol=1e-9) for a, (_, x, *_) in zip(raw, cases)]
    rtol, atol = max(t[0] for t in tols), max(t[1] for t in tols)
    wrong: dict[str, list[Any]] = {}
    for _, x, t, e, z, b in cases:
        for text, value in _step_mistakes(x, t, e, z, b).items():
            wrong.setdefault(text, []).append(np.broadcast_to(value, x.shape))
    mistake = name_mistake(answers, wrong, expected, rtol=rtol, atol=atol)
    if mistake:
        raise ExerciseError(f"ddpm_step_back: {mistake}")
    for (what, *_), got, want, (rt, at) in zip(cases, answers, expected, tols):
        check_close(got, want, what=f"ddpm_step_back on {what}", rtol=rt, atol=at)
    return passed("ddpm_step_back")


# ---------------------------------------------------------------------------------------------
# Exercise 4: a class-mean direction
# ---------------------------------------------------------------------------------------------

def _direction_cases() -> list[tuple[str, np.ndarray, np.ndarray, int, int]]:
    rng = np.random.default_rng(2019)
    labels = np.array([0] * 3 + [1] * 7 + [2] * 5)
    z = rng.normal(size=(15, 4)) + labels[:, None] * np.array([1.0, -0.5, 0.0, 2.0])
    wide = rng.integers(0, 10, 400)
    return [
        ("15 vectors in 4-D, classes of 3, 7 and 5, from 0 to 2", z, labels, 0, 2),
        ("the same, from 2 to 1", z, labels, 2, 1),
        ("400 vectors in 64-D with labels 0..9, from 1 to 7", rng.normal(size=(400, 64)) + wide[:, None] * 0.1,
         wide, 1, 7),
    ]


@exercise(4, "class_mean_direction")
def check_class_mean_direction(fn: Callable[..., np.ndarray]) -> bool:
    """Check ``fn(z, labels, source, target)``: the unit vector from the source class mean to the target's.

    Introduced in 07_trends_and_challenges.

    Args:
        fn: the learner's ``class_mean_direction``.

    Returns:
        True when every case passes.

    Raises:
        ExerciseError: on the first case that fails (wrong sign, not unit length, means of the wrong rows, no
            ValueError when the source or the target class has no sample).
    """
    cases = _direction_cases()
    got_raw = [call_safely(fn, z.copy(), y.copy(), a, b, what=f"class_mean_direction({case})")
               for case, z, y, a, b in cases]
    answers = [np.asarray(g, dtype=np.float64) for g in got_raw]
    tols = [tolerance_for(g, rtol=1e-6, atol=1e-9) for g in got_raw]
    expected = [reference_class_mean_direction(z, y, a, b) for _, z, y, a, b in cases]
    raw = [reference_class_mean_direction(z, y, a, b) * np.linalg.norm(z[y == b].mean(0) - z[y == a].mean(0))
           for _, z, y, a, b in cases]
    mistake = name_mistake(answers, {
        "the direction points the wrong way: it goes from the source class mean TO the target's (target - source)":
            [-e for e in expected],
        "the direction is not a unit vector: divide it by its length (np.linalg.norm)": raw,
        "you subtracted the overall mean instead of the source class mean":
            [(z[y == b].mean(0) - z.mean(0)) / np.linalg.norm(z[y == b].mean(0) - z.mean(0)) for _, z, y, a, b in cases],
    }, expected, rtol=max(t[0] for t in tols), atol=max(t[1] for t in tols))
    if mistake:
        raise ExerciseError(f"class_mean_direction: {mistake}")
    for (case, *_), got, exp, (rt, at) in zip(cases, answers, expected, tols):
        check_close(got, exp, what=f"class_mean_direction({case})", rtol=rt, atol=at)
    z, y = cases[0][1], cases[0][2]
    for source, target, missing in ((0, 5, "target"), (5, 0, "source")):
        what = f"class_mean_direction(labels 0..2, source class {source}, target class {target})"
        try:
            with warnings.catch_warnings():  # a mean of no rows warns before it gives NaN: the message below says it
                warnings.simplefilter("ignore", RuntimeWarning)
                fn(z.copy(), y.copy(), source, target)
        except ValueError:
            continue
        except NotImplementedError:
            raise
        except Exception as err:  # the learner's code failed in another way
            raise ExerciseError(f"{what}: expected a ValueError (class 5 has no sample), got "
                                f"{type(err).__name__}: {err}") from err
        raise ExerciseError(f"{what}: class 5 has no sample, so the {missing} class mean does not exist; raise "
                            "ValueError saying so instead of returning a vector of NaN"
                            + (" (you check the target class; check the source class too)"
                               if missing == "source" else ""))
    return passed("class_mean_direction")
