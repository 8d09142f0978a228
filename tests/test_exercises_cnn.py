"""The checks of 03_cnn_classifier's exercises accept the solutions and reject trivial or common wrong answers."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import layers

from course_utils.checks import ExerciseError
from course_utils.exercises import cnn as ex
from course_utils.lessons import load_lesson_code


def _article(input_shape, num_classes, *, padding="valid", dropout=False, head=None, filters=(32, 64)):
    units = 1 if num_classes <= 2 else num_classes
    act = head or ("sigmoid" if units == 1 else "softmax")
    stack = [keras.Input(shape=input_shape),
             layers.Conv2D(filters[0], 3, activation="relu", padding=padding), layers.MaxPooling2D(2),
             layers.Conv2D(filters[1], 3, activation="relu", padding=padding), layers.MaxPooling2D(2),
             layers.Flatten(), layers.Dense(128, activation="relu")]
    if dropout:
        stack.append(layers.Dropout(0.5))
    return keras.Sequential(stack + [layers.Dense(units, activation=act)])


# --- exercise 1 -----------------------------------------------------------------------------------

def test_reference_param_counts():
    assert ex.article_param_count((64, 64, 3), 1) == 1_625_281
    assert ex.article_param_count((28, 28, 1), 10) == 225_034
    assert ex.article_param_count((64, 64, 3), 1) == _article((64, 64, 3), 1).count_params()
    with pytest.raises(ValueError, match="too small"):
        ex.article_layer_plan((5, 5, 1), 10)


def test_lesson_solutions_pass():
    code = load_lesson_code("03_cnn_classifier")
    get = code.get if isinstance(code, dict) else lambda name: getattr(code, name)
    assert ex.check_layer_table(get("layer_table")) is True
    assert ex.check_layer_table(get("layer_table"), hidden=True) is True


def test_the_reference_table_agrees_with_keras_and_refuses_unknown_layers():
    for shape, stack in ex._table_cases(False) + ex._table_cases(True):
        assert ex.layer_table_reference(shape, stack) == ex._keras_table(shape, stack)
    with pytest.raises(ValueError, match="expected padding 'valid' or 'same', got 'full'"):
        ex.layer_table_reference((8, 8, 1), [("conv", 2, 3, 1, "full")])
    with pytest.raises(ValueError, match="expected layers of kind conv, pool, flatten or dense, got \\('dropout', 0.5\\)"):
        ex.layer_table_reference((8, 8, 1), [("dropout", 0.5)])


def _slipped(**slip):
    return lambda shape, stack: ex.layer_table_reference(shape, stack, **slip)


@pytest.mark.parametrize("fn, message", [
    (_slipped(same_floor=True), "Hint: 'same' padding rounds up"),
    (_slipped(valid_no_plus_one=True), r"Hint: a 'valid' convolution has \(n - k\) // stride \+ 1 outputs"),
    (_slipped(pool_ceil=True), "Hint: pooling drops the last row and column"),
    (_slipped(no_bias=True), "Hint: the biases are missing"),
    (_slipped(no_channels=True), "Hint: the input channels are missing"),
    (lambda shape, stack: None, "you returned None"),
    (lambda shape, stack: [((1,), 0)], r"expected one \(output_shape, params\) pair per layer \(7\), got list of 1"),
    (lambda shape, stack: [(s, float(p)) for s, p in ex.layer_table_reference(shape, stack)], "got shape .* and 320.0"),
    (lambda shape, stack: [3] * len(stack), r"expected a pair \(output_shape, params\), got 3"),
])
def test_each_layer_table_mistake_is_named(fn, message):
    with pytest.raises(ExerciseError, match=message):
        ex.check_layer_table(fn)


def test_hidden_layer_tables_catch_an_answer_fitted_to_the_visible_ones():
    known = {(shape, tuple(stack)): ex.layer_table_reference(shape, stack) for shape, stack in ex._table_cases(False)}

    def fitted(shape, stack):
        return known.get((shape, tuple(stack)), [((1,), 0)] * len(stack))

    assert ex.check_layer_table(fitted) is True
    with pytest.raises(ExerciseError):
        ex.check_layer_table(fitted, hidden=True)


# --- exercise 1: softmax_cross_entropy ------------------------------------------------------------------------------

def _log_softmax(z, axis=1):
    s = z - z.max(axis=axis, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))


def _ce(logits, labels):
    z = np.asarray(logits, np.float64)
    n = z.shape[0]
    logp = _log_softmax(z)
    grad = np.exp(logp) - np.eye(z.shape[1])[labels]
    return -logp[np.arange(n), labels].mean(), grad / n


def _ce_float32(logits, labels):
    """All in float32, returning float32 numbers and arrays."""
    z = np.asarray(logits, np.float32)
    n = z.shape[0]
    logp = _log_softmax(z)
    grad = (np.exp(logp) - np.eye(z.shape[1], dtype=np.float32)[labels]) / np.float32(n)
    return np.float32(-logp[np.arange(n), labels].mean()), grad


def _ce_scipy(logits, labels):
    """SciPy's logsumexp, a list instead of a tuple, the loss as a 0-d array."""
    from scipy.special import logsumexp

    z = np.asarray(logits)
    lse = logsumexp(z, axis=1, keepdims=True)
    p = np.exp(z - lse)
    p[np.arange(len(z)), labels] -= 1
    return [np.asarray(np.mean(lse[:, 0] - z[np.arange(len(z)), labels])), p / len(z)]


@pytest.mark.parametrize("fn", [_ce, _ce_float32, _ce_scipy])
def test_right_cross_entropies_pass(fn, capsys):
    """float64 or float32 arithmetic and results; batches of 1 to 7, 3 to 10 classes, float32 and float64 logits."""
    assert ex.check_softmax_cross_entropy(fn) is True
    assert ex.check_softmax_cross_entropy(fn, hidden=True) is True
    assert "Correct: softmax_cross_entropy" in capsys.readouterr().out


def _naive(logits, labels):
    z = np.asarray(logits, np.float64)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    return -np.log(p[np.arange(len(z)), labels]).mean(), (p - np.eye(z.shape[1])[labels]) / len(z)


def _grad_of_sum(logits, labels):
    loss, grad = _ce(logits, labels)
    return loss, grad * len(logits)


def _sums(logits, labels):
    loss, grad = _ce(logits, labels)
    return loss * len(logits), grad * len(logits)


def _batch_max(logits, labels):
    z = np.asarray(logits, np.float64)
    s = z - z.max()
    logp = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
    return -logp[np.arange(len(z)), labels].mean(), _ce(logits, labels)[1]


def _prob_then_log(logits, labels):
    z = np.asarray(logits, np.float64)
    p = np.exp(_log_softmax(z))
    return -np.log(p[np.arange(len(z)), labels]).mean(), _ce(logits, labels)[1]


def _axis0(logits, labels):
    z = np.asarray(logits, np.float64)
    return -_log_softmax(z, axis=0)[np.arange(len(z)), labels].mean(), _ce(logits, labels)[1]


def _no_onehot(logits, labels):
    z = np.asarray(logits, np.float64)
    return _ce(logits, labels)[0], np.exp(_log_softmax(z)) / len(z)


def _with_tape(logits, labels):
    import tensorflow as tf

    z = tf.Variable(logits)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=z))
    return loss, tape.gradient(loss, z)


@pytest.mark.parametrize("fn, message", [
    (_naive, r"logits of size 1000 \(exp overflows\)\), loss: exp of a large logit overflows.*subtract each "
             "example's largest logit"),
    (_grad_of_sum, r"grad: the gradient is that of the \*sum\* over the examples"),
    (_sums, "loss: the loss is the sum over the examples, not their mean"),
    (lambda z, y: (_ce(z, y)[0], -_ce(z, y)[1]), "grad: the gradient's sign is flipped"),
    (_no_onehot, "grad: the gradient is softmax / n without the one-hot"),
    (_batch_max, "loss: one maximum was subtracted for the whole batch"),
    (_prob_then_log, "loss: this is -log of the probability, which underflows to 0"),
    (_axis0, r"loss: the softmax runs over the batch axis \(axis 0\)"),
    (_with_tape, "write it yourself rather than calling (GradientTape|sparse_softmax_cross_entropy_with_logits)"),
    (lambda z, y: _ce(z, y)[0], r"expected two things, \(loss, grad\), got float"),
    (lambda z, y: (_ce(z, y)[0], _ce(z, y)[1][:, :-1]), r"expected grad to have the logits' shape \(4, 3\)"),
    (lambda z, y: None, "you returned None"),
])
def test_each_cross_entropy_mistake_is_named(fn, message):
    with np.errstate(all="ignore"), pytest.raises(ExerciseError, match=message):
        ex.check_softmax_cross_entropy(fn)


def test_the_reference_is_tensorflow_and_matches_the_closed_form():
    z, y = np.array([[1000.0, 0.0, -1000.0], [2.0, 1.0, 0.5]]), np.array([2, 0])
    loss, grad = ex.reference_softmax_cross_entropy(z, y)
    want_loss, want_grad = _ce(z, y)
    assert np.isclose(loss, want_loss) and np.allclose(grad, want_grad) and np.isclose(loss, (2000 + 0.4643688) / 2)


def test_an_unanswered_cross_entropy_is_reported_not_raised(capsys):
    def stub(logits, labels):
        raise NotImplementedError()

    assert ex.check_softmax_cross_entropy(stub) is False
    assert "Exercise 1: not attempted yet" in capsys.readouterr().err


# --- exercise 3: frechet_distance_np ------------------------------------------------------------------------------

def _fd_eigh(mu1, s1, mu2, s2):
    mu1, mu2, s1, s2 = (np.asarray(a, np.float64) for a in (mu1, mu2, s1, s2))
    w, v = np.linalg.eigh(s1)
    r = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    tr = np.sqrt(np.clip(np.linalg.eigvalsh(r @ s2 @ r), 0, None)).sum()
    return float((mu1 - mu2) @ (mu1 - mu2) + np.trace(s1) + np.trace(s2) - 2 * tr)


def _fd_sqrtm(mu1, s1, mu2, s2):
    """SciPy's general matrix root of the non-symmetric product, its real part, a NumPy float64 returned."""
    from scipy import linalg

    return np.float64(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(linalg.sqrtm(s1 @ s2)).real)


def _fd_eigvals_float32(mu1, s1, mu2, s2):
    """Eigenvalues of the non-symmetric product by the general routine, all in float32."""
    mu1, mu2, s1, s2 = (np.asarray(a, np.float32) for a in (mu1, mu2, s1, s2))
    e = np.linalg.eigvals(s1 @ s2).real
    return np.float32(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(np.clip(e, 0, None)).sum())


@pytest.mark.parametrize("fn", [_fd_eigh, _fd_sqrtm, _fd_eigvals_float32])
def test_right_frechet_distances_pass(fn, capsys):
    """Three ways to the trace of the root, float64 and float32 arithmetic; d from 1 to 8, singular covariances."""
    assert ex.check_frechet_distance(fn) is True
    assert ex.check_frechet_distance(fn, hidden=True) is True
    assert "Correct: frechet_distance_np" in capsys.readouterr().out


def _fd_with(trace_root, *, two=2.0, squared=True):
    def fn(mu1, s1, mu2, s2):
        d2 = float(((mu1 - mu2) ** 2).sum())
        return (d2 if squared else np.sqrt(d2)) + np.trace(s1) + np.trace(s2) - two * trace_root(s1, s2)
    return fn


def _root(s):
    w, v = np.linalg.eigh(s)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def _tr_right(s1, s2):
    r = _root(s1)
    return np.sqrt(np.clip(np.linalg.eigvalsh(r @ s2 @ r), 0, None)).sum()


def _complex(mu1, s1, mu2, s2):
    from scipy import linalg

    return ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(linalg.sqrtm(s1 @ s2) + 0j)


@pytest.mark.parametrize("fn, message", [
    (_fd_with(lambda s1, s2: np.trace(np.sqrt(s1 @ s2))), "np.sqrt takes the square root of each entry"),
    (_fd_with(lambda s1, s2: np.trace(_root(s1) @ _root(s2))), "this takes Σ1\\^\\(1/2\\) Σ2\\^\\(1/2\\)"),
    (_fd_with(lambda s1, s2: np.sqrt(np.clip(np.linalg.eigvalsh(s1 @ s2), 0, None)).sum()),
     "np.linalg.eigvalsh \\(or eigh\\) assumes a symmetric matrix"),
    (_fd_with(_tr_right, two=1.0), "the cross term has lost its factor 2"),
    (_fd_with(_tr_right, squared=False), "the means' distance is not squared"),
    (_complex, "expected a real number, got the complex"),
    (lambda *a: None, "you returned None"),
])
def test_each_frechet_mistake_is_named(fn, message):
    with np.errstate(all="ignore"), pytest.raises(ExerciseError, match=message):
        ex.check_frechet_distance(fn)


def test_the_course_frechet_distance_is_refused():
    def borrowed(mu1, s1, mu2, s2):
        from course_utils.frechet import frechet_distance

        return frechet_distance(mu1, s1, mu2, s2)

    with pytest.raises(ExerciseError, match="write it yourself rather than calling frechet_distance"):
        ex.check_frechet_distance(borrowed)


def test_an_unanswered_frechet_distance_is_reported_not_raised(capsys):
    def stub(mu1, s1, mu2, s2):
        raise NotImplementedError()

    assert ex.check_frechet_distance(stub) is False
    assert "Exercise 3: not attempted yet" in capsys.readouterr().err


def through_the_grader(fn):
    """fn as the grader's proxy calls it: arguments and result cross as data (course_utils.rpc), nothing else."""
    from course_utils import rpc

    def proxy(*args):
        arrays = {}
        doc = rpc.encode(list(args), arrays)  # raises rpc.NotData for anything but data
        result = fn(*rpc.decode(doc, arrays, tensors=False))
        out = {}
        return rpc.decode(rpc.encode(result, out), out, tensors=False)

    proxy.__course_names__ = set()
    return proxy


def test_exercises_1_and_3_are_judged_as_data_outside_the_kernel():
    assert ex.check_softmax_cross_entropy(through_the_grader(_ce)) is True
    assert ex.check_softmax_cross_entropy(through_the_grader(_ce), hidden=True) is True
    assert ex.check_frechet_distance(through_the_grader(_fd_eigh)) is True
    assert ex.check_frechet_distance(through_the_grader(_fd_eigh), hidden=True) is True
    with pytest.raises(ExerciseError, match="grad: the gradient's sign is flipped"):
        ex.check_softmax_cross_entropy(through_the_grader(lambda z, y: (_ce(z, y)[0], -_ce(z, y)[1])))
