"""The checks of 02_convolution_and_pooling's exercises accept the solutions and name each usual mistake."""

from __future__ import annotations

import numpy as np
import pytest

from course_utils.checks import ExerciseError
from course_utils.exercises import convolution as ex

# ----- exercise 1: convolution backward -----------------------------------------------------------------------


def conv_backward(x, w, b, g, stride, *, flip=False, overwrite=False, db_mean=False, dw_flip=False, no_stride=False):
    """The right answer, or one with one mistake."""
    kh, kw = w.shape[:2]
    wk = w[::-1, ::-1] if flip else w
    step = 1 if no_stride else stride
    dx, dw = np.zeros_like(x), np.zeros_like(w)
    for i in range(g.shape[0]):
        for j in range(g.shape[1]):
            rows, cols = slice(i * step, i * step + kh), slice(j * step, j * step + kw)
            dw += x[rows, cols, :, None] * g[i, j]
            if overwrite:
                dx[rows, cols] = wk @ g[i, j]
            else:
                dx[rows, cols] += wk @ g[i, j]
    db = g.mean(axis=(0, 1)) if db_mean else g.sum(axis=(0, 1))
    return dx, (dw[::-1, ::-1] if dw_flip else dw), db


def test_the_solution_passes_visible_and_hidden_cases(capsys):
    assert ex.check_conv_backward(conv_backward) is True
    assert ex.check_conv_backward(conv_backward, hidden=True) is True
    assert "Correct: conv_backward" in capsys.readouterr().out


@pytest.mark.parametrize("mistake, message", [
    ({"flip": True}, r"dx.*Hint: dx uses the kernel rotated by 180 degrees"),
    ({"overwrite": True}, r"dx.*Hint: dx overwrites where windows overlap"),
    ({"no_stride": True}, r"dw.*Hint: dw ignores the stride"),
    ({"db_mean": True}, r"db.*Hint: db is the sum of g over the output positions, not its mean"),
    ({"dw_flip": True}, r"dw.*Hint: dw is rotated by 180 degrees"),
])
def test_each_conv_backward_mistake_is_named(mistake, message):
    with pytest.raises(ExerciseError, match=message):
        ex.check_conv_backward(lambda x, w, b, g, s: conv_backward(x, w, b, g, s, **mistake))


def tape_answer(x, w, b, g, stride):
    import tensorflow as tf

    xt = tf.constant(x[None])
    with tf.GradientTape() as tape:
        tape.watch(xt)
        loss = tf.reduce_sum(tf.nn.conv2d(xt, w, stride, "VALID") * g)
    return tape.gradient(loss, xt).numpy()[0], np.zeros_like(w), g.sum(axis=(0, 1))


@pytest.mark.parametrize("fn, message", [
    (lambda x, w, b, g, s: None, "you returned None"),
    (lambda x, w, b, g, s: (np.zeros_like(x), np.zeros_like(w)),
     r"expected the three gradients \(dx, dw, db\), got tuple of 2"),
    (lambda x, w, b, g, s: (np.zeros_like(x), np.zeros_like(w), np.zeros(1)), r"db: expected shape"),
    (tape_answer, "write it yourself rather than calling (tf|tensorflow)"),
])
def test_conv_backward_refuses_shortcuts_and_malformed_answers(fn, message):
    with pytest.raises(ExerciseError, match=message):
        ex.check_conv_backward(fn)


def test_an_answer_fitted_to_the_visible_shapes_fails_the_hidden_cases():
    visible = {}
    for x, w, b, s in ex._conv_cases(False):
        g, *grads = ex._conv_tape(x, w, b, s)
        visible[x.shape] = tuple(grads)

    def memorised(x, w, b, g, stride):
        return visible.get(x.shape, (np.zeros_like(x), np.zeros_like(w), np.zeros_like(b)))

    assert ex.check_conv_backward(memorised) is True
    with pytest.raises(ExerciseError):
        ex.check_conv_backward(memorised, hidden=True)


def test_the_lesson_helpers_are_refused():
    def via_lesson(x, w, b, g, stride):
        return conv2d_grad_input(g, x.shape, w, stride)  # noqa: F821 - the name is what is refused

    with pytest.raises(ExerciseError, match="calling conv2d_grad_input: section 7 already wrote"):
        ex.check_conv_backward(via_lesson)


# ----- exercise 2: max-pool backward, with ties ----------------------------------------------------------------

def max_pool_backward(x, g, size, stride, *, how="first"):
    dx = np.zeros_like(x)
    for i in range(g.shape[0]):
        for j in range(g.shape[1]):
            window = x[i * stride:i * stride + size, j * stride:j * stride + size]
            target = dx[i * stride:i * stride + size, j * stride:j * stride + size]
            ties = window == window.max()
            if how == "first":
                target[np.unravel_index(np.argmax(window), window.shape)] += g[i, j]
            elif how == "all":
                target += g[i, j] * ties
            elif how == "split":
                target += g[i, j] * ties / ties.sum()
            elif how == "last":
                target[np.unravel_index(np.flatnonzero(ties)[-1], window.shape)] += g[i, j]
            elif how == "overwrite":
                target[np.unravel_index(np.argmax(window), window.shape)] = g[i, j]
            elif how == "average":
                target += g[i, j] / window.size
    return dx


def test_the_max_pool_solution_passes(capsys):
    assert ex.check_max_pool_backward(max_pool_backward) is True
    assert ex.check_max_pool_backward(max_pool_backward, hidden=True) is True
    assert "Correct: max_pool_backward" in capsys.readouterr().out


def test_the_visible_cases_have_ties_and_overlapping_windows():
    cases = ex._pool_cases(False)
    assert any(stride < size for _, size, stride in cases)
    assert any(np.any(np.sum(x[:2, :2] == x[:2, :2].max()) > 1) for x, _, _ in cases)


@pytest.mark.parametrize("how, message", [
    ("all", "every pixel that ties for the maximum got the gradient"),
    ("split", "the gradient is split among the tied maxima"),
    ("last", "the gradient goes to the last of the tied maxima"),
    ("overwrite", "a later window overwrites an earlier one's gradient"),
    ("average", "that is average pooling's gradient"),
])
def test_each_max_pool_mistake_is_named(how, message):
    with pytest.raises(ExerciseError, match=message):
        ex.check_max_pool_backward(lambda x, g, size, stride: max_pool_backward(x, g, size, stride, how=how))


# ----- exercise 3: the transposed convolution as a scatter -----------------------------------------------------

def conv_transpose(x, k, stride, *, flip=False, overwrite=False, size="valid"):
    kh, kw = k.shape
    kk = k[::-1, ::-1] if flip else k
    if size == "same":
        return np.zeros((x.shape[0] * stride, x.shape[1] * stride))
    if size == "stride 1":
        return np.zeros((x.shape[0] + kh - 1, x.shape[1] + kw - 1))
    out = np.zeros(((x.shape[0] - 1) * stride + kh, (x.shape[1] - 1) * stride + kw))
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            region = (slice(i * stride, i * stride + kh), slice(j * stride, j * stride + kw))
            if overwrite:
                out[region] = x[i, j] * kk
            else:
                out[region] += x[i, j] * kk
    return out


def test_the_transpose_solution_passes(capsys):
    assert ex.check_conv_transpose(conv_transpose) is True
    assert ex.check_conv_transpose(conv_transpose, hidden=True) is True
    assert "Correct: conv_transpose" in capsys.readouterr().out


@pytest.mark.parametrize("mistake, message", [
    ({"flip": True}, "Hint: the kernel is flipped"),
    ({"overwrite": True}, "Hint: where windows overlap, the later one overwrites"),
    ({"size": "same"}, r"That is n \* stride per axis"),
    ({"size": "stride 1"}, "That is n \\+ k - 1, the size for stride 1"),
])
def test_each_transpose_mistake_is_named(mistake, message):
    with pytest.raises(ExerciseError, match=message):
        ex.check_conv_transpose(lambda x, k, s: conv_transpose(x, k, s, **mistake))


def test_an_unattempted_exercise_is_reported_not_raised(capsys):
    def stub(*args):
        raise NotImplementedError()

    assert ex.check_conv_backward(stub) is False
    assert ex.check_max_pool_backward(stub) is False
    assert ex.check_conv_transpose(stub) is False
    err = capsys.readouterr().err
    assert all(f"Exercise {n}: not attempted yet" in err for n in (1, 2, 3))
