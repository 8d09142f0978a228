"""Automatic checks for the exercises of lesson ``07_trends_and_challenges``: cutout, the DDPM forward noising
q(x_t | x_0), and a class-mean latent direction.

Conventions (also stated in the lesson):

* ``cutout_np(images, centers, size)``: images ``(n, h, w)`` or ``(n, h, w, c)``, centres ``(n, 2)`` (row, column);
  rows and columns ``[centre - size // 2, centre - size // 2 + size)``, clipped at the border, are set to 0; a new
  array is returned and the input is left unchanged;
* ``q_sample_np(x0, t, noise, betas) = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise`` with
  ``abar_t = prod_{s <= t} (1 - betas[s])`` and 0-based integer steps ``t`` (one per row);
* ``class_mean_direction(z, labels, source, target)``: the unit vector along ``mean(z[labels == target]) -
  mean(z[labels == source])``; ``ValueError`` when either class has no sample.

The cases include non-square images (so swapped rows and columns show), squares that cross every border
(negative starts, which NumPy slicing would wrap or empty), odd and even sizes, steps at both ends of the schedule,
and classes of different sizes (so a mean of the means is not the mean). Each check raises
:class:`course_utils.checks.ExerciseError` naming the case and, where it recognizes one, the mistake; it returns
True (after printing a success line) when every case passes.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from ..checks import ExerciseError, call_safely, check_close, exercise, forbid_calls, name_mistake, passed

__all__ = ["check_class_mean_direction", "check_cutout", "check_q_sample", "reference_class_mean_direction",
           "reference_cutout", "reference_q_sample"]


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


# ---------------------------------------------------------------------------------------------
# Exercise 1: cutout
# ---------------------------------------------------------------------------------------------

def _cutout_cases() -> list[tuple[str, np.ndarray, np.ndarray, int]]:
    rng = np.random.default_rng(2020)
    return [
        ("3 images 12x9, centres inside, size 4", rng.uniform(-1, 1, (3, 12, 9)), np.array([[5, 4], [6, 2], [3, 6]]), 4),
        ("2 images 10x10, size 5 (odd)", rng.uniform(-1, 1, (2, 10, 10)), np.array([[4, 6], [7, 3]]), 5),
        ("corners: centres (0, 0) and (11, 8) of 12x9 images, size 6", rng.uniform(-1, 1, (2, 12, 9)),
         np.array([[0, 0], [11, 8]]), 6),
        ("a centre one past the edge (row 12 of 12), size 4", rng.uniform(-1, 1, (1, 12, 9)), np.array([[12, 1]]), 4),
        ("4 images 8x8x2 with a channel axis, size 3", rng.uniform(-1, 1, (4, 8, 8, 2)),
         np.array([[1, 1], [0, 7], [7, 0], [4, 4]]), 3),
        ("28x28 digits, size 14 (the lesson's)", rng.uniform(-1, 1, (2, 28, 28, 1)), np.array([[14, 3], [27, 20]]), 14),
    ]


_CUTOUT_MISTAKES = {
    "rows and columns are swapped: centers[i] is (row, column), and images[i] is indexed [row, column]":
        {"swap": True},
    "squares that start before row or column 0 come out wrong: a negative start in NumPy slicing counts from the "
    "end (or gives an empty slice); clip the start at 0": {"clip": False},
    "the hole is filled with -1 (the background); cutout sets it to 0, mid-grey in [-1, 1], as Zhao et al. do":
        {"fill": -1.0},
    "the square starts at centre - (size - 1) // 2; it should start at centre - size // 2": {"centred_odd": True},
}


@exercise(1, "cutout_np")
def check_cutout(fn: Callable[[np.ndarray, np.ndarray, int], np.ndarray]) -> bool:
    """Check ``fn(images, centers, size)`` against the cutout convention of the lesson.

    Introduced in 07_trends_and_challenges.

    Args:
        fn: the learner's ``cutout_np``.

    Returns:
        True when every case passes.

    Raises:
        ExerciseError: on the first case that fails, naming a known mistake where one explains every answer.
    """
    forbid_calls(fn, {"cutout": "that is the lesson's TensorFlow answer", "random_cutout": "that is the lesson's"},
                 what="cutout_np")
    cases, answers = _cutout_cases(), []
    for case, images, centers, size in cases:
        what = f"cutout_np({case})"
        before = images.copy()
        got = call_safely(fn, images, centers.copy(), size, what=what)
        if not np.array_equal(images, before):
            raise ExerciseError(f"{what}: the input images were changed; return a new array (np.array(images, "
                                "copy=True)) and leave the learner's data alone")
        answers.append(np.asarray(got, dtype=np.float64))
    expected = [reference_cutout(im, ce, sz) for _, im, ce, sz in cases]
    mistake = name_mistake(answers, {text: [reference_cutout(im, ce, sz, **kw) for _, im, ce, sz in cases]
                                     for text, kw in _CUTOUT_MISTAKES.items()}, expected)
    if mistake:
        raise ExerciseError(f"cutout_np: {mistake}")
    for (case, images, _, _), got, exp in zip(cases, answers, expected):
        if np.array_equal(got, images):
            raise ExerciseError(f"cutout_np({case}): the images came back unchanged; no pixel was set to 0")
        check_close(got, exp, what=f"cutout_np({case})", rtol=0, atol=1e-9)
    return passed("cutout_np")


# ---------------------------------------------------------------------------------------------
# Exercise 2: q(x_t | x_0)
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


@exercise(2, "q_sample_np")
def check_q_sample(fn: Callable[..., np.ndarray]) -> bool:
    """Check ``fn(x0, t, noise, betas)`` against ``sqrt(abar_t) x0 + sqrt(1 - abar_t) noise``.

    Introduced in 07_trends_and_challenges.

    Args:
        fn: the learner's ``q_sample_np``.

    Returns:
        True when every case passes.

    Raises:
        ExerciseError: on the first case that fails, naming a known mistake where one explains every answer.
    """
    forbid_calls(fn, {"q_sample": "that is the lesson's TensorFlow answer",
                      "ALPHA_BARS": "compute abar_t from the betas you are given"}, what="q_sample_np")
    cases = _q_cases()
    answers = [np.asarray(call_safely(fn, x0.copy(), t.copy(), e.copy(), b.copy(), what=f"q_sample_np({case})"),
                          dtype=np.float64) for case, x0, t, e, b in cases]
    expected = [reference_q_sample(x0, t, e, b) for _, x0, t, e, b in cases]
    mistake = name_mistake(answers, {text: [_q_variant(x0, t, e, b, kind) for _, x0, t, e, b in cases]
                                     for text, kind in _Q_MISTAKES.items()}, expected)
    if mistake:
        raise ExerciseError(f"q_sample_np: {mistake}")
    for (case, *_), got, exp in zip(cases, answers, expected):
        check_close(got, exp, what=f"q_sample_np({case})", rtol=1e-6, atol=1e-9)
    return passed("q_sample_np")


# ---------------------------------------------------------------------------------------------
# Exercise 3: a class-mean direction
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


@exercise(3, "class_mean_direction")
def check_class_mean_direction(fn: Callable[..., np.ndarray]) -> bool:
    """Check ``fn(z, labels, source, target)``: the unit vector from the source class mean to the target's.

    Introduced in 07_trends_and_challenges.

    Args:
        fn: the learner's ``class_mean_direction``.

    Returns:
        True when every case passes.

    Raises:
        ExerciseError: on the first case that fails (wrong sign, not unit length, means of the wrong rows, no
            ValueError for a class without samples).
    """
    cases = _direction_cases()
    answers = [np.asarray(call_safely(fn, z.copy(), y.copy(), a, b, what=f"class_mean_direction({case})"),
                          dtype=np.float64) for case, z, y, a, b in cases]
    expected = [reference_class_mean_direction(z, y, a, b) for _, z, y, a, b in cases]
    raw = [reference_class_mean_direction(z, y, a, b) * np.linalg.norm(z[y == b].mean(0) - z[y == a].mean(0))
           for _, z, y, a, b in cases]
    mistake = name_mistake(answers, {
        "the direction points the wrong way: it goes from the source class mean TO the target's (target - source)":
            [-e for e in expected],
        "the direction is not a unit vector: divide it by its length (np.linalg.norm)": raw,
        "you subtracted the overall mean instead of the source class mean":
            [(z[y == b].mean(0) - z.mean(0)) / np.linalg.norm(z[y == b].mean(0) - z.mean(0)) for _, z, y, a, b in cases],
    }, expected)
    if mistake:
        raise ExerciseError(f"class_mean_direction: {mistake}")
    for (case, *_), got, exp in zip(cases, answers, expected):
        check_close(got, exp, what=f"class_mean_direction({case})", rtol=1e-6, atol=1e-9)
    z, y = cases[0][1], cases[0][2]
    try:
        with warnings.catch_warnings():  # a mean of no rows warns before it gives NaN: the message below says it
            warnings.simplefilter("ignore", RuntimeWarning)
            fn(z.copy(), y.copy(), 0, 5)
    except ValueError:
        pass
    except NotImplementedError:
        raise
    except Exception as err:  # the learner's code failed in another way
        raise ExerciseError(f"class_mean_direction(labels 0..2, target class 5): expected a ValueError (class 5 has no "
                            f"sample), got {type(err).__name__}: {err}") from err
    else:
        raise ExerciseError("class_mean_direction(labels 0..2, target class 5): class 5 has no sample, so its mean "
                            "does not exist; raise ValueError saying so instead of returning a vector of NaN")
    return passed("class_mean_direction")
