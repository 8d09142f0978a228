"""Checks for the exercises of 02_convolution_and_pooling: output size, single-channel conv2d, max pooling.

Each check calls the learner's function on several inputs chosen so that the usual mistakes give a different
answer (a flipped kernel, an off-by-one output size, a forgotten stride or dilation, the mean instead of the
maximum), and raises :class:`course_utils.checks.ExerciseError` naming the input, the expected and the received
value, with a hint when the answer matches a known mistake.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..checks import ExerciseError, call_safely, check_close, describe, passed

__all__ = ["check_output_size", "check_conv2d_single", "check_max_pool"]


# ---------------------------------------------------------------------------------------------
# Reference answers and the mistakes the checks recognise
# ---------------------------------------------------------------------------------------------

def _output_size(n: int, k: int, stride: int, padding: int, dilation: int) -> int:
    return (n + 2 * padding - dilation * (k - 1) - 1) // stride + 1


_SIZE_MISTAKES: dict[str, Callable[[int, int, int, int, int], float]] = {
    "the '+ 1' is missing (off by one: a kernel as wide as the input still gives one output)":
        lambda n, k, s, p, d: (n + 2 * p - d * (k - 1) - 1) // s,
    "off by one: the kernel covers k pixels, so subtract k - 1 (or d*(k-1)+1 - 1), not k":
        lambda n, k, s, p, d: (n + 2 * p - d * (k - 1) - 2) // s + 1,
    "the stride is ignored":
        lambda n, k, s, p, d: n + 2 * p - d * (k - 1),
    "the dilation is ignored (a dilated kernel spans d*(k-1)+1 pixels)":
        lambda n, k, s, p, d: (n + 2 * p - k) // s + 1,
    "the padding is counted once; it is added on each side":
        lambda n, k, s, p, d: (n + p - d * (k - 1) - 1) // s + 1,
    "the division rounds up; a window that does not fit is dropped, so round down":
        lambda n, k, s, p, d: -(-(n + 2 * p - d * (k - 1) - 1) // s) + 1,
    "the division is not rounded (use // for a whole number of windows)":
        lambda n, k, s, p, d: (n + 2 * p - d * (k - 1) - 1) / s + 1,
}

# (n, k, stride, padding, dilation): each mistake above fails on at least one of these.
SIZE_CASES = (
    (5, 3, 1, 0, 1), (5, 5, 1, 0, 1), (7, 3, 2, 0, 1), (8, 3, 2, 1, 1), (10, 3, 3, 0, 1),
    (9, 3, 1, 0, 2), (12, 3, 2, 2, 2), (28, 5, 1, 2, 1), (6, 2, 2, 0, 1), (11, 4, 3, 1, 2),
)


def _correlate(image: np.ndarray, kernel: np.ndarray, stride: int) -> np.ndarray:
    kh, kw = kernel.shape
    oh, ow = (image.shape[0] - kh) // stride + 1, (image.shape[1] - kw) // stride + 1
    out = np.empty((oh, ow))
    for i in range(oh):
        for j in range(ow):
            out[i, j] = np.sum(image[i * stride:i * stride + kh, j * stride:j * stride + kw] * kernel)
    return out


def _pool(image: np.ndarray, size: int, stride: int, reduce: Callable[[np.ndarray], float]) -> np.ndarray:
    oh, ow = (image.shape[0] - size) // stride + 1, (image.shape[1] - size) // stride + 1
    out = np.empty((oh, ow))
    for i in range(oh):
        for j in range(ow):
            out[i, j] = reduce(image[i * stride:i * stride + size, j * stride:j * stride + size])
    return out


def _same(got: Any, candidate: np.ndarray) -> bool:
    try:
        arr = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return arr.shape == candidate.shape and bool(np.allclose(arr, candidate, rtol=1e-5, atol=1e-6))


def _check_arrays(results: list[tuple[str, Any, np.ndarray, dict[str, np.ndarray]]]) -> None:
    """Raise for the first case that fails; hint at a mistake only if it explains the answers to *every* case."""
    for what, got, expected, _ in results:
        try:
            check_close(got, expected, what=what)
        except ExerciseError as err:
            hint = ""
            for text in results[0][3]:
                if all(_same(g, m[text]) for _, g, _, m in results):
                    hint = f" Hint: {text}."
                    break
            raise ExerciseError(str(err) + hint) from None


# ---------------------------------------------------------------------------------------------
# The checks
# ---------------------------------------------------------------------------------------------

def check_output_size(fn: Callable[..., Any]) -> bool:
    """Check ``fn(n, k, stride=1, padding=0, dilation=1)``: the output length of a convolution.

    ``padding`` is the number of zeros added on *each* side. Called with keyword arguments.

    Introduced in 02_convolution_and_pooling.

    Args:
        fn: the learner's function.

    Returns:
        True when every case passes (and prints a success line).

    Raises:
        ExerciseError: naming the input, the expected and the received value, with a hint for common mistakes.
    """
    answers = []
    for n, k, s, p, d in SIZE_CASES:
        what = f"output_size(n={n}, k={k}, stride={s}, padding={p}, dilation={d})"
        got = call_safely(fn, n, k, stride=s, padding=p, dilation=d, what=what)
        expected = _output_size(n, k, s, p, d)
        if isinstance(got, (bool, np.bool_)) or not isinstance(got, (int, float, np.integer, np.floating)):
            raise ExerciseError(f"{what}: expected the int {expected}, got {got!r} ({type(got).__name__})")
        answers.append(((n, k, s, p, d), what, got, expected))
    for _, what, got, expected in answers:
        if got != expected or (isinstance(got, (float, np.floating)) and not float(got).is_integer()):
            hint = ""
            for text, mistake in _SIZE_MISTAKES.items():
                if all(mistake(*c) == g for c, _, g, _ in answers):
                    hint = f" Hint: {text}."
                    break
            raise ExerciseError(f"{what}: expected {expected}, got {got!r}.{hint}")
    return passed("output_size")


def _conv_cases() -> list[tuple[np.ndarray, np.ndarray, int]]:
    rng = np.random.default_rng(2)
    asymmetric = np.array([[1.0, 2.0, 0.0], [0.0, -1.0, 3.0], [-2.0, 0.5, 1.0]])
    return [
        (np.arange(20.0).reshape(4, 5), np.array([[1.0, 2.0], [0.0, -1.0]]), 1),
        (rng.standard_normal((6, 7)), asymmetric, 1),
        (rng.standard_normal((7, 8)), asymmetric, 2),
        (rng.standard_normal((9, 6)), rng.standard_normal((2, 3)), 3),
    ]


def check_conv2d_single(fn: Callable[..., Any]) -> bool:
    """Check ``fn(image, kernel, stride=1)``: the "valid" cross-correlation of a 2-D image with a 2-D kernel.

    The reference is what ``tf.nn.conv2d`` computes for one channel and one filter (no kernel flip).

    Introduced in 02_convolution_and_pooling.

    Args:
        fn: the learner's function.

    Returns:
        True when every case passes (and prints a success line).

    Raises:
        ExerciseError: naming the input, the expected and the received value, with a hint for common mistakes
            (a flipped kernel, the stride ignored, an output one pixel too small or too large).
    """
    results = []
    for image, kernel, stride in _conv_cases():
        what = (f"conv2d_single(image of shape {image.shape}, kernel {describe(kernel)}, stride={stride})")
        got = call_safely(fn, image.copy(), kernel.copy(), stride=stride, what=what)
        expected = _correlate(image, kernel, stride)
        mistakes = {
            "that is a true convolution (kernel flipped); deep-learning conv2d is a cross-correlation: "
            "do not flip the kernel": _correlate(image, kernel[::-1, ::-1], stride),
            "the stride is ignored (move the window by `stride` pixels)": _correlate(image, kernel, 1),
            "the output is one pixel short per axis: there are (n - k) // stride + 1 windows":
                _correlate(image, kernel, stride)[:-1, :-1],
        }
        results.append((what, got, expected, mistakes))
    _check_arrays(results)
    return passed("conv2d_single")


def _pool_cases() -> list[tuple[np.ndarray, int, int]]:
    rng = np.random.default_rng(3)
    return [
        (np.arange(16.0).reshape(4, 4)[::-1].copy(), 2, 2),
        (rng.standard_normal((6, 7)), 2, 2),
        (rng.standard_normal((7, 7)), 3, 2),
        (rng.standard_normal((5, 6)), 2, 1),
    ]


def check_max_pool(fn: Callable[..., Any]) -> bool:
    """Check ``fn(image, size=2, stride=2)``: "valid" max pooling of a 2-D image.

    Introduced in 02_convolution_and_pooling.

    Args:
        fn: the learner's function.

    Returns:
        True when every case passes (and prints a success line).

    Raises:
        ExerciseError: naming the input, the expected and the received value, with a hint for common mistakes
            (average instead of maximum, the stride ignored, an off-by-one output size).
    """
    results = []
    for image, size, stride in _pool_cases():
        what = f"max_pool(image of shape {image.shape}, size={size}, stride={stride})"
        got = call_safely(fn, image.copy(), size=size, stride=stride, what=what)
        expected = _pool(image, size, stride, np.max)
        mistakes = {
            "that is average pooling; take the maximum of each window": _pool(image, size, stride, np.mean),
            "the stride is ignored: the windows are always `size` pixels apart; move them by `stride` pixels":
                _pool(image, size, size, np.max),
            "the stride is ignored: the windows move one pixel at a time; move them by `stride` pixels":
                _pool(image, size, 1, np.max),
            "the output is one pixel short per axis: there are (n - size) // stride + 1 windows": expected[:-1, :-1],
        }
        results.append((what, got, expected, mistakes))
    _check_arrays(results)
    return passed("max_pool")
