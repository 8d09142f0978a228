"""The machinery behind the exercises' automatic checks.

Each lesson's checks live in ``course_utils.exercises.<topic>``; they call :func:`check_close` and friends,
which raise :class:`ExerciseError` with a message that names the input, what was expected and what came.
This module is the one home of the mechanisms every check shares: calling the learner's function
(:func:`call_safely`), reading one number (:func:`as_scalar`), naming a known mistake (:func:`name_mistake`), and
reporting an exercise that is not attempted yet (:func:`exercise`).

A check's verdict is also what nbgrader grades: a check cell gets its points when it runs without an error and
without writing to stderr. A wrong answer raises :class:`ExerciseError`; an exercise not attempted yet (its
function still raises ``NotImplementedError``, nbgrader's stub) prints one line to stderr and returns False, so
the learner's notebook keeps running while the grade is zero.
"""

from __future__ import annotations

import functools
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np

from .validate import int_at_least

F = TypeVar("F", bound=Callable[..., Any])


class ExerciseError(AssertionError):
    """A wrong answer to an exercise: the message says which input, what was expected and what came."""


class NotAttempted(Exception):
    """The learner's function still raises ``NotImplementedError`` (the stub of the student edition)."""


def passed(name: str) -> bool:
    """Print the success line for an exercise and return True.

    Introduced in 00_start_here.
    """
    print(f"Correct: {name} passes every check.")
    return True


def not_attempted(number: int, name: str) -> bool:
    """Report on stderr that exercise ``number`` is not attempted yet, and return False.

    Introduced in 00_start_here.

    Args:
        number: the exercise's number in its lesson.
        name: what the learner writes (e.g. ``"class_counts"``).

    Returns:
        False (the check did not pass; nbgrader gives no points to a cell that writes to stderr).
    """
    print(f"Exercise {number}: not attempted yet ({name} still raises NotImplementedError; replace "
          "`raise NotImplementedError()` with your code and run this cell again).", file=sys.stderr)
    return False


def exercise(number: int, name: str) -> Callable[[F], F]:
    """Decorate a check: an exercise whose function is still nbgrader's stub is reported, not raised.

    Introduced in 00_start_here.

    Args:
        number: the exercise's number in its lesson (>= 1).
        name: what the learner writes, for the message.

    Returns:
        A decorator. The decorated check returns what the check returns, or False after printing
        "Exercise N: not attempted yet" to stderr when the learner's function raised ``NotImplementedError``.

    Raises:
        ValueError: if ``number`` is not an int >= 1 or ``name`` is empty.
    """
    int_at_least(number, 1, "number", expected="an exercise number (an int >= 1)")
    if not isinstance(name, str) or not name:
        raise ValueError(f"expected the name of what the learner writes (a non-empty str), got {name!r}")

    def decorate(check: F) -> F:
        @functools.wraps(check)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return check(*args, **kwargs)
            except NotAttempted:
                return not_attempted(number, name)

        wrapper.exercise_number = number  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


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


def _returned_none(what: str) -> ExerciseError:
    return ExerciseError(f"{what}: you returned None. Did you forget the `return` statement?")


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
    if got is None:
        raise _returned_none(what)
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


def tolerance_for(*values: Any, rtol: float = 1e-6, atol: float = 1e-9) -> tuple[float, float]:
    """The tolerances a right answer needs at the lowest floating-point precision among ``values``.

    A learner may compute in float32 (TensorFlow's default) or get float32 inputs; a right float32 answer then
    differs from a float64 reference by many float32 epsilons (a cumulative product over 200 steps: about 2e-5
    relative), so a float64 tolerance would reject it. Pass the learner's answer *and* the inputs it was given.

    Introduced in 06_image_restoration.

    Args:
        *values: arrays, tensors or numbers (Python floats count as float64; integers are ignored).
        rtol: the relative tolerance for float64.
        atol: the absolute tolerance for float64.

    Returns:
        ``(rtol, atol)``: the float64 ones given, at least ``(1e-4, 1e-5)`` for float32 and ``(1e-2, 1e-2)`` for
        float16 or bfloat16.
    """
    bits = 64
    for value in values:
        dtype = getattr(value, "dtype", None)
        if dtype is None:
            continue
        name = str(getattr(dtype, "name", dtype))
        if "float16" in name:
            bits = min(bits, 16)
        elif "float32" in name or name == "complex64":
            bits = min(bits, 32)
    if bits == 16:
        return max(rtol, 1e-2), max(atol, 1e-2)
    if bits == 32:
        return max(rtol, 1e-4), max(atol, 1e-5)
    return rtol, atol


def as_scalar(value: Any, what: str, *, meaning: str = "one number") -> float:
    """Read the learner's answer as one float, or raise :class:`ExerciseError` saying what came instead.

    Introduced in 01_gan_objective.

    Args:
        value: a Python or NumPy number, a 0-d or one-element array or tensor.
        what: the case, for the message.
        meaning: what the number is, e.g. ``"the loss (one number, the batch mean)"``.

    Returns:
        The value as a Python float (it may be NaN or infinite; :func:`check_close` judges that).
    """
    if value is None:
        raise _returned_none(what)
    if isinstance(value, tuple | list | dict):
        raise ExerciseError(f"{what}: expected {meaning}, got a {type(value).__name__} of {len(value)} items")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ExerciseError(f"{what}: expected {meaning}, got {type(value).__name__}") from None
    if arr.size != 1:
        raise ExerciseError(f"{what}: expected {meaning}, got an array of shape {arr.shape}")
    return float(arr.reshape(()))


def softplus(x: Any) -> np.ndarray:
    """``log(1 + exp(x))`` in float64, stable for any x: ``-log sigmoid(l) = softplus(-l)``.

    Introduced in 01_gan_objective.
    """
    return np.logaddexp(0.0, np.asarray(x, np.float64))


def _same(got: Any, candidate: Any, rtol: float, atol: float) -> bool:
    if got is None:
        return False
    try:
        arr, cand = np.asarray(got, dtype=np.float64), np.asarray(candidate, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return arr.shape == cand.shape and bool(np.allclose(arr, cand, rtol=rtol, atol=atol, equal_nan=False))


def name_mistake(answers: Sequence[Any], mistakes: Mapping[str, Sequence[Any]], expected: Sequence[Any], *,
                 rtol: float = 1e-5, atol: float = 1e-6) -> str | None:
    """Name the known mistake that explains the learner's answers, if one does.

    A mistake is named only if its wrong answers match the learner's on *every* case and differ from the right
    answer on at least one, so a lucky coincidence on one input names nothing.

    Introduced in 02_convolution_and_pooling.

    Args:
        answers: the learner's answer to each case.
        mistakes: for each mistake (its explanation), the answer it gives on each case, in the same order.
        expected: the right answer to each case.
        rtol: relative tolerance of a match.
        atol: absolute tolerance of a match.

    Returns:
        The explanation of the first matching mistake, or None.

    Raises:
        ValueError: if a mistake does not give one answer per case, or ``expected`` has another length.
    """
    n = len(answers)
    if len(expected) != n:
        raise ValueError(f"expected one right answer per case ({n}), got {len(expected)}")
    for text, wrong in mistakes.items():
        if len(wrong) != n:
            raise ValueError(f"expected one answer per case ({n}) for the mistake {text!r}, got {len(wrong)}")
        if all(_same(w, e, 10 * rtol, 10 * atol) for w, e in zip(wrong, expected)):
            continue  # on these inputs the mistake gives the right answer: it explains nothing
        if all(_same(a, w, rtol, atol) for a, w in zip(answers, wrong)):
            return text
    return None


def call_safely(fn: Callable[..., Any], *args: Any, what: str, returns: bool = True, **kwargs: Any) -> Any:
    """Call the learner's function; turn a crash into an :class:`ExerciseError` that names the input.

    Warnings the learner's code raises are printed on stdout (not stderr, which nbgrader reads as a failed
    check). A ``NotImplementedError`` (nbgrader's stub) becomes :class:`NotAttempted`.

    Introduced in 00_start_here.

    Args:
        fn: the learner's function.
        *args: its positional arguments.
        what: the case, for messages.
        returns: whether the function must return something; if so, None gets "you returned None".
        **kwargs: its keyword arguments.
    """
    if not callable(fn):
        raise ExerciseError(f"expected a function, got {type(fn).__name__}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = fn(*args, **kwargs)
        except ExerciseError:
            raise
        except NotImplementedError as err:
            raise NotAttempted(what) from err
        except Exception as err:  # the learner's code failed: say on what
            raise ExerciseError(f"{what} raised {type(err).__name__}: {err}") from err
    seen = set()
    for w in caught:
        text = f"{w.category.__name__}: {w.message}"
        if text not in seen:
            seen.add(text)
            print(f"Note: {what} warned {text}")
    if returns and result is None:
        raise _returned_none(what)
    return result


def forbid_calls(fn: Callable[..., Any], names: Mapping[str, str], *, what: str) -> None:
    """Refuse a function that calls one of ``names`` (directly or through functions of its own module).

    Used where the lesson already has a function that would answer the exercise by itself.

    Introduced in 02_convolution_and_pooling.

    Args:
        fn: the learner's function.
        names: forbidden global name -> why (e.g. ``{"conv2d_grad_input": "that is section 7's answer"}``).
        what: the exercise, for the message.

    Raises:
        ExerciseError: naming the forbidden name that is used.
    """
    used = getattr(fn, "__course_names__", None)
    if used is not None:  # a graded submission's function, called in its sandbox: its names come from its cells
        for name in sorted(used):
            if name in names:
                raise ExerciseError(f"{what}: write it yourself rather than calling {name}: {names[name]}")
        return
    seen: set[int] = set()
    todo = [fn]
    while todo:
        f = todo.pop()
        code = getattr(f, "__code__", None)
        if code is None or id(code) in seen:
            continue
        seen.add(id(code))
        codes = [code]
        while codes:
            c = codes.pop()
            for name in c.co_names:
                if name in names:
                    raise ExerciseError(f"{what}: write it yourself rather than calling {name}: {names[name]}")
                target = getattr(f, "__globals__", {}).get(name)
                if callable(target) and getattr(target, "__module__", None) == getattr(f, "__module__", None):
                    todo.append(target)
            codes.extend(k for k in c.co_consts if hasattr(k, "co_names"))
