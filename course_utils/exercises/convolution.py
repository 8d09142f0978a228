"""Checks for the exercises of 02_convolution_and_pooling: the backward passes and the transposed convolution.

The exercises ask for what section 7 and 8 work out for whole batches, in the form cs231n's assignments use: one
image, explicit loops, nothing but NumPy. Each check compares the learner's answer with ``tf.GradientTape`` (or
``tf.nn.conv2d_transpose``) on several inputs, chosen so that the usual mistakes give a different answer (a kernel
rotated by 180 degrees, contributions overwritten where windows overlap, the mean instead of the sum, every tied
maximum given the gradient, the wrong output size), and raises :class:`course_utils.checks.ExerciseError` naming the
input, the expected and the received value, and the mistake when the answers match a known one on every case.
Calling the lesson's own ``conv2d_grad_input``, ``max_pool_grad``, ``conv2d_transpose`` or TensorFlow is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..checks import ExerciseError, call_safely, check_close, exercise, forbid_calls, name_mistake, passed

__all__ = ["check_conv_backward", "check_conv_transpose", "check_max_pool_backward"]

_SECTION_7 = "section 7 already wrote the batched version; this exercise is to write the loops yourself"
_FORBIDDEN = {
    "conv2d_grad_input": _SECTION_7, "conv2d_grad_kernel": _SECTION_7, "max_pool_grad": _SECTION_7,
    "conv2d_transpose": "section 8 already wrote it with conv2d_grad_input; write the scatter yourself",
    "tf": "the check compares with TensorFlow's answer, so the answer must come from NumPy",
    "tensorflow": "the check compares with TensorFlow's answer, so the answer must come from NumPy",
    "keras": "the check compares with TensorFlow's answer, so the answer must come from NumPy",
    "GradientTape": "the check compares with tf.GradientTape, so the answer must come from NumPy",
}


def _tf() -> Any:
    import tensorflow as tf

    return tf


def _check_parts(whats: list[str], answers: list[Any], expected: list[np.ndarray],
                 mistakes: dict[str, list[np.ndarray]], *, atol: float = 1e-4) -> None:
    """Compare each case; on the first failure, name the mistake that explains *every* case's answer."""
    for what, got, want in zip(whats, answers, expected):
        try:
            check_close(got, want, what=what, rtol=1e-4, atol=atol)
        except ExerciseError as err:
            mistake = name_mistake(answers, mistakes, expected, rtol=1e-4, atol=atol)
            raise ExerciseError(f"{err}" + (f" Hint: {mistake}." if mistake else "")) from None


# ---------------------------------------------------------------------------------------------
# Exercise 1: convolution backward
# ---------------------------------------------------------------------------------------------

def _conv_cases(hidden: bool) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, int]]:
    rng = np.random.default_rng(72 if hidden else 7)
    shapes = [((5, 6, 2), (3, 2, 2, 3), 1), ((7, 7, 3), (3, 3, 3, 2), 2), ((9, 8, 1), (4, 3, 1, 4), 3)]
    if hidden:
        shapes = [((6, 5, 3), (2, 3, 3, 2), 1), ((8, 9, 2), (3, 3, 2, 5), 2)]
    return [(rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[-1]), s) for xs, ws, s in shapes]


def _conv_tape(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int) -> tuple[np.ndarray, ...]:
    """TensorFlow's (y, dx, dw, db) for L = sum(g * (conv2d(x, w) + b)), with g drawn after y's shape is known."""
    tf = _tf()
    xt, wt, bt = tf.constant(x[None]), tf.constant(w), tf.constant(b)
    y = tf.nn.conv2d(xt, wt, stride, "VALID") + bt
    g = np.random.default_rng(int(abs(x.sum()) * 1000) % 2**32).standard_normal(tuple(y.shape[1:]))
    with tf.GradientTape() as tape:
        tape.watch([xt, wt, bt])
        loss = tf.reduce_sum((tf.nn.conv2d(xt, wt, stride, "VALID") + bt) * g)
    dx, dw, db = tape.gradient(loss, [xt, wt, bt])
    return g, dx.numpy()[0], dw.numpy(), db.numpy()


def _conv_dx_scatter(g: np.ndarray, x_shape: tuple[int, ...], w: np.ndarray, stride: int, *,
                     overwrite: bool = False) -> np.ndarray:
    kh, kw = w.shape[:2]
    dx = np.zeros(x_shape)
    for i in range(g.shape[0]):
        for j in range(g.shape[1]):
            patch = np.einsum("uvcf,f->uvc", w, g[i, j])
            rows, cols = slice(i * stride, i * stride + kh), slice(j * stride, j * stride + kw)
            if overwrite:
                dx[rows, cols] = patch
            else:
                dx[rows, cols] += patch
    return dx


def _conv_dw(x: np.ndarray, g: np.ndarray, kernel_shape: tuple[int, ...], stride: int) -> np.ndarray:
    kh, kw = kernel_shape[:2]
    dw = np.zeros(kernel_shape)
    for i in range(g.shape[0]):
        for j in range(g.shape[1]):
            window = x[i * stride:i * stride + kh, j * stride:j * stride + kw]
            dw += np.einsum("uvc,f->uvcf", window, g[i, j])
    return dw


@exercise(1, "conv_backward")
def check_conv_backward(fn: Callable[..., Any], *, hidden: bool = False) -> bool:
    """Check ``fn(x, w, b, g, stride) -> (dx, dw, db)``: the gradients of a "valid" convolution of one image.

    ``x`` is ``(H, W, C)``, ``w`` is ``(K_h, K_w, C, F)``, ``b`` is ``(F,)`` and ``g = dL/dy`` is ``(H_out, W_out,
    F)`` for ``y = conv2d(x, w, stride) + b``. The reference is ``tf.GradientTape`` on ``sum(g * y)``.

    Introduced in 02_convolution_and_pooling.

    Args:
        fn: the learner's function.
        hidden: use the grading cases instead of the visible ones.

    Returns:
        True when every case passes (and prints a success line).

    Raises:
        ExerciseError: naming the case, the gradient that is wrong, and the mistake when it is a known one.
    """
    forbid_calls(fn, _FORBIDDEN, what="conv_backward")
    parts: dict[str, tuple[list[str], list[Any], list[np.ndarray], dict[str, list[np.ndarray]]]] = {
        name: ([], [], [], {}) for name in ("db", "dw", "dx")}
    for x, w, b, stride in _conv_cases(hidden):
        g, dx, dw, db = _conv_tape(x, w, b, stride)
        what = f"conv_backward(x of shape {x.shape}, w of shape {w.shape}, stride={stride})"
        got = call_safely(fn, x.copy(), w.copy(), b.copy(), g.copy(), stride, what=what)
        if not isinstance(got, tuple | list) or len(got) != 3:
            raise ExerciseError(f"{what}: expected the three gradients (dx, dw, db), got {type(got).__name__}"
                                + (f" of {len(got)} items" if isinstance(got, tuple | list) else ""))
        mistakes = {
            "db": {"db is the sum of g over the output positions, not its mean": g.mean(axis=(0, 1)),
                   "db sums g over the output channels; it has one entry per filter: sum over rows and columns":
                       np.full_like(db, g.sum() / db.size)},
            "dw": {"dw is rotated by 180 degrees: a cross-correlation's kernel gradient is the input window times g, "
                   "with no flip": dw[::-1, ::-1].copy(),
                   "dw ignores the stride: the window for output (i, j) starts at (i * stride, j * stride)":
                       _conv_dw(x, g, w.shape, 1)},
            "dx": {"dx uses the kernel rotated by 180 degrees: scatter g[i, j] through w as it is, back onto the "
                   "window it came from": _conv_dx_scatter(g, x.shape, w[::-1, ::-1], stride),
                   "dx ignores the stride: the window of output (i, j) starts at (i * stride, j * stride)":
                       _conv_dx_scatter(g, x.shape, w, 1),
                   "dx overwrites where windows overlap: each input pixel collects the contributions of every window "
                   "it took part in, so add them (+=)": _conv_dx_scatter(g, x.shape, w, stride, overwrite=True)},
        }
        for name, got_part, want in zip(("dx", "dw", "db"), got, (dx, dw, db)):
            whats, answers, expected, named = parts[name]
            whats.append(f"{what}: {name}")
            answers.append(got_part)
            expected.append(want)
            for text, value in mistakes[name].items():
                named.setdefault(text, []).append(value)
    for name in ("db", "dw", "dx"):
        _check_parts(*parts[name])
    return passed("conv_backward")


# ---------------------------------------------------------------------------------------------
# Exercise 2: max-pool backward, with ties
# ---------------------------------------------------------------------------------------------

def _pool_cases(hidden: bool) -> list[tuple[np.ndarray, int, int]]:
    rng = np.random.default_rng(33 if hidden else 3)
    ties = np.array([[1.0, 3.0, 3.0, 0.0], [3.0, 2.0, 1.0, 3.0], [0.0, 0.0, 5.0, 5.0], [0.0, 0.0, 5.0, 5.0]])
    cases = [(ties, 2, 2), (rng.integers(0, 3, (5, 5)).astype(float), 2, 1),
             (rng.integers(0, 4, (7, 7)).astype(float), 3, 2), (rng.standard_normal((6, 7)), 2, 2)]
    if hidden:
        cases = [(rng.integers(0, 2, (6, 6)).astype(float), 3, 1), (rng.integers(0, 3, (8, 7)).astype(float), 2, 2),
                 (rng.standard_normal((7, 6)), 3, 2)]
    return cases


def _pool_tape(x: np.ndarray, size: int, stride: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    tf = _tf()
    xt = tf.constant(x[None, :, :, None])
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = tf.nn.max_pool2d(xt, size, stride, "VALID")
        g = np.random.default_rng(seed).integers(1, 9, tuple(y.shape)).astype(np.float64)
        loss = tf.reduce_sum(y * g)
    return g[0, :, :, 0], tape.gradient(loss, xt).numpy()[0, :, :, 0]


def _pool_variant(x: np.ndarray, g: np.ndarray, size: int, stride: int, how: str) -> np.ndarray:
    dx = np.zeros_like(x)
    for i in range(g.shape[0]):
        for j in range(g.shape[1]):
            window = x[i * stride:i * stride + size, j * stride:j * stride + size]
            target = dx[i * stride:i * stride + size, j * stride:j * stride + size]
            is_max = window == window.max()
            if how == "all ties":
                target += g[i, j] * is_max
            elif how == "split":
                target += g[i, j] * is_max / is_max.sum()
            elif how == "last":
                flat = np.flatnonzero(is_max.ravel())[-1]
                target[np.unravel_index(flat, window.shape)] += g[i, j]
            elif how == "overwrite":
                target[np.unravel_index(int(np.argmax(window)), window.shape)] = g[i, j]
            elif how == "average":
                target += g[i, j] / window.size
    return dx


@exercise(2, "max_pool_backward")
def check_max_pool_backward(fn: Callable[..., Any], *, hidden: bool = False) -> bool:
    """Check ``fn(x, g, size, stride) -> dx``: the gradient of "valid" max pooling of a 2-D image.

    Each window's gradient goes to its maximum; when several pixels tie for the maximum, to the first of them in
    row-major order (what TensorFlow does). Where windows overlap, a pixel collects the gradient of every window
    whose maximum it is. The reference is ``tf.GradientTape`` on ``sum(g * max_pool2d(x))``.

    Introduced in 02_convolution_and_pooling.

    Args:
        fn: the learner's function.
        hidden: use the grading cases instead of the visible ones.

    Returns:
        True when every case passes (and prints a success line).

    Raises:
        ExerciseError: naming the case, and the mistake when it is a known one (every tied maximum given the
            gradient, the gradient split among ties, the last maximum, overwriting, average pooling's gradient).
    """
    forbid_calls(fn, _FORBIDDEN, what="max_pool_backward")
    whats, answers, expected = [], [], []
    mistakes: dict[str, list[np.ndarray]] = {}
    texts = {
        "all ties": "every pixel that ties for the maximum got the gradient; only one of them was the output "
                    "(the first in row-major order), so only it gets the gradient",
        "split": "the gradient is split among the tied maxima; it goes whole to one of them (the first in "
                 "row-major order)",
        "last": "the gradient goes to the last of the tied maxima; TensorFlow (and np.argmax) take the first",
        "overwrite": "where windows overlap, a later window overwrites an earlier one's gradient; add them (+=)",
        "average": "that is average pooling's gradient, g spread evenly over the window",
    }
    for n, (x, size, stride) in enumerate(_pool_cases(hidden)):
        g, dx = _pool_tape(x, size, stride, seed=100 + n)
        what = f"max_pool_backward(x of shape {x.shape}, size={size}, stride={stride})"
        whats.append(what)
        answers.append(call_safely(fn, x.copy(), g.copy(), size, stride, what=what))
        expected.append(dx)
        for how, text in texts.items():
            mistakes.setdefault(text, []).append(_pool_variant(x, g, size, stride, how))
    _check_parts(whats, answers, expected, mistakes, atol=1e-9)
    return passed("max_pool_backward")


# ---------------------------------------------------------------------------------------------
# Exercise 3: the transposed convolution as a scatter
# ---------------------------------------------------------------------------------------------

def _transpose_cases(hidden: bool) -> list[tuple[np.ndarray, np.ndarray, int]]:
    rng = np.random.default_rng(88 if hidden else 8)
    shapes = [((2, 3), (3, 3), 2), ((3, 3), (2, 2), 1), ((3, 2), (3, 2), 3), ((2, 2), (4, 4), 2)]
    if hidden:
        shapes = [((3, 4), (3, 2), 2), ((2, 3), (2, 3), 1)]
    return [(rng.standard_normal(xs), rng.standard_normal(ks), s) for xs, ks, s in shapes]


def _transpose_tf(x: np.ndarray, k: np.ndarray, stride: int) -> np.ndarray:
    tf = _tf()
    out = ((x.shape[0] - 1) * stride + k.shape[0], (x.shape[1] - 1) * stride + k.shape[1])
    y = tf.nn.conv2d_transpose(x[None, :, :, None], k[:, :, None, None], (1, *out, 1), strides=stride,
                               padding="VALID")
    return y.numpy()[0, :, :, 0]


def _scatter(x: np.ndarray, k: np.ndarray, stride: int, *, overwrite: bool = False) -> np.ndarray:
    kh, kw = k.shape
    out = np.zeros(((x.shape[0] - 1) * stride + kh, (x.shape[1] - 1) * stride + kw))
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            region = (slice(i * stride, i * stride + kh), slice(j * stride, j * stride + kw))
            if overwrite:
                out[region] = x[i, j] * k
            else:
                out[region] += x[i, j] * k
    return out


@exercise(3, "conv_transpose")
def check_conv_transpose(fn: Callable[..., Any], *, hidden: bool = False) -> bool:
    """Check ``fn(x, k, stride) -> y``: the "valid" transposed convolution of a 2-D map with a 2-D kernel.

    Each input pixel ``x[i, j]`` adds ``x[i, j] * k`` onto the output window that starts at ``(i * stride,
    j * stride)``; the output has ``(n - 1) * stride + k`` pixels per axis. The reference is
    ``tf.nn.conv2d_transpose``.

    Introduced in 02_convolution_and_pooling.

    Args:
        fn: the learner's function.
        hidden: use the grading cases instead of the visible ones.

    Returns:
        True when every case passes (and prints a success line).

    Raises:
        ExerciseError: naming the case, and the mistake when it is a known one (the wrong output size, a flipped
            kernel, overlapping contributions overwritten).
    """
    forbid_calls(fn, _FORBIDDEN, what="conv_transpose")
    whats, answers, expected = [], [], []
    mistakes: dict[str, list[np.ndarray]] = {
        "the kernel is flipped: a transposed convolution scatters x[i, j] * k with k as it is": [],
        "where windows overlap, the later one overwrites the earlier; the contributions add up (+=)": [],
    }
    flipped, overwritten = mistakes.keys()
    for x, k, stride in _transpose_cases(hidden):
        what = f"conv_transpose(x of shape {x.shape}, k of shape {k.shape}, stride={stride})"
        want = _transpose_tf(x, k, stride)
        got = call_safely(fn, x.copy(), k.copy(), stride, what=what)
        shape = np.shape(got)
        if shape != want.shape:
            hint = ""
            if shape == (x.shape[0] * stride, x.shape[1] * stride):
                hint = (" That is n * stride per axis, what padding='same' gives; with 'valid' the last window still "
                        "adds k - stride pixels: (n - 1) * stride + k.")
            elif shape == (x.shape[0] + k.shape[0] - 1, x.shape[1] + k.shape[1] - 1):
                hint = " That is n + k - 1, the size for stride 1: the windows start stride pixels apart."
            raise ExerciseError(f"{what}: expected an output of shape {want.shape} ((n - 1) * stride + k per axis), "
                                f"got shape {shape}.{hint}")
        whats.append(what)
        answers.append(got)
        expected.append(want)
        mistakes[flipped].append(_scatter(x, k[::-1, ::-1], stride))
        mistakes[overwritten].append(_scatter(x, k, stride, overwrite=True))
    _check_parts(whats, answers, expected, mistakes)
    return passed("conv_transpose")
