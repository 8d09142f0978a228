"""The machinery behind the exercises' automatic checks.

Each lesson's checks live in ``course_utils.exercises.<topic>``; they call :func:`check_close` and friends,
which raise :class:`ExerciseError` with a message that names the input, what was expected and what came.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


class ExerciseError(AssertionError):
    """A wrong answer to an exercise: the message says which input, what was expected and what came."""


def passed(name: str) -> bool:
    """Print the success line for an exercise and return True.

    Introduced in 00_start_here.
    """
    print(f"Correct: {name} passes every check.")
    return True


def describe(value: Any) -> str:
    """Describe a value for a feedback message: small arrays in full, large ones by shape and dtype.

    Introduced in 00_start_here.
    """
    arr = np.asarray(value)
    if arr.ndim == 0:
        return repr(value)
    if arr.size <= 8:
        return f"{np.array2string(arr, precision=6)} (shape {arr.shape}, dtype {arr.dtype})"
    return f"array of shape {arr.shape}, dtype {arr.dtype}"


def check_close(got: Any, expected: Any, *, what: str, rtol: float = 1e-5, atol: float = 1e-6) -> None:
    """Raise :class:`ExerciseError` unless ``got`` matches ``expected`` in shape and value.

    Introduced in 00_start_here.

    Args:
        got: the learner's result (array-like, tensors are converted with ``np.asarray``).
        expected: the reference result.
        what: a description of the case, e.g. ``"conv2d(x of shape (5, 5), k of shape (3, 3))"``.
        rtol: relative tolerance.
        atol: absolute tolerance.
    """
    try:
        got_arr = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ExerciseError(f"{what}: expected a number or array, got {type(got).__name__} ({err})") from None
    exp_arr = np.asarray(expected, dtype=np.float64)
    if got_arr.shape != exp_arr.shape:
        raise ExerciseError(f"{what}: expected shape {exp_arr.shape}, got shape {got_arr.shape}")
    if not np.all(np.isfinite(got_arr)) and np.all(np.isfinite(exp_arr)):
        raise ExerciseError(f"{what}: got NaN or infinity ({describe(got_arr)}), expected {describe(exp_arr)}. "
                            "Is the computation numerically stable?")
    if not np.allclose(got_arr, exp_arr, rtol=rtol, atol=atol):
        worst = float(np.max(np.abs(got_arr - exp_arr)))
        raise ExerciseError(f"{what}: expected {describe(exp_arr)}, got {describe(got_arr)} "
                            f"(largest difference {worst:.3g})")


def call_safely(fn: Callable[..., Any], *args: Any, what: str, **kwargs: Any) -> Any:
    """Call the learner's function; turn a crash into an :class:`ExerciseError` that names the input.

    Introduced in 00_start_here.
    """
    if not callable(fn):
        raise ExerciseError(f"expected a function, got {type(fn).__name__}")
    try:
        return fn(*args, **kwargs)
    except ExerciseError:
        raise
    except Exception as err:  # the learner's code failed: say on what
        raise ExerciseError(f"{what} raised {type(err).__name__}: {err}") from err
