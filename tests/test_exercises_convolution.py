"""The checks of 02_convolution_and_pooling's exercises accept the solutions and reject common mistakes."""

from __future__ import annotations

import numpy as np
import pytest

from course_utils.checks import ExerciseError
from course_utils.exercises import convolution as ex

# ----- output size --------------------------------------------------------------------------

def size_ok(n, k, stride=1, padding=0, dilation=1):
    return (n + 2 * padding - dilation * (k - 1) - 1) // stride + 1


def _size(formula):
    """Wrap f(n, k, s, p, d) as a learner's output_size(n, k, stride=1, padding=0, dilation=1)."""
    return lambda n, k, stride=1, padding=0, dilation=1: formula(n, k, stride, padding, dilation)


SIZE_WRONG = {
    "no plus one": (_size(lambda n, k, s, p, d: (n + 2 * p - d * (k - 1) - 1) // s), "off by one"),
    "minus k": (_size(lambda n, k, s, p, d: (n + 2 * p - d * k) // s + 1), "expected"),
    "no stride": (_size(lambda n, k, s, p, d: n + 2 * p - d * (k - 1)), "stride"),
    "no dilation": (_size(lambda n, k, s, p, d: (n + 2 * p - k) // s + 1), "dilation"),
    "padding once": (_size(lambda n, k, s, p, d: (n + p - d * (k - 1) - 1) // s + 1), "each side"),
    "ceil": (_size(lambda n, k, s, p, d: -(-(n + 2 * p - d * (k - 1) - 1) // s) + 1), "round down"),
    "true division": (_size(lambda n, k, s, p, d: (n + 2 * p - d * (k - 1) - 1) / s + 1), "expected"),
    "returns None": (_size(lambda n, k, s, p, d: None), "expected the int"),
    "constant": (_size(lambda n, k, s, p, d: 3), "expected"),
}


def test_output_size_accepts_solution(capsys):
    assert ex.check_output_size(size_ok) is True
    assert "Correct" in capsys.readouterr().out


def test_output_size_accepts_float_integers():
    assert ex.check_output_size(lambda *a, **k: float(size_ok(*a, **k)))


@pytest.mark.parametrize("name", SIZE_WRONG)
def test_output_size_rejects_mistakes(name):
    fn, hint = SIZE_WRONG[name]
    with pytest.raises(ExerciseError, match=hint) as err:
        ex.check_output_size(fn)
    assert "output_size(n=" in str(err.value) and "expected" in str(err.value) and "got" in str(err.value)


def test_output_size_names_crash():
    def crashes(n, k, stride=1, padding=0, dilation=1):
        raise ZeroDivisionError("oops")

    with pytest.raises(ExerciseError, match="raised ZeroDivisionError"):
        ex.check_output_size(crashes)


# ----- conv2d -------------------------------------------------------------------------------

def conv_ok(image, kernel, stride=1):
    kh, kw = kernel.shape
    oh, ow = (image.shape[0] - kh) // stride + 1, (image.shape[1] - kw) // stride + 1
    return np.array([[np.sum(image[i * stride:i * stride + kh, j * stride:j * stride + kw] * kernel)
                      for j in range(ow)] for i in range(oh)])


def test_conv2d_accepts_solution():
    assert ex.check_conv2d_single(conv_ok) is True


def test_conv2d_accepts_scipy_correlate():
    scipy_signal = pytest.importorskip("scipy.signal")
    assert ex.check_conv2d_single(
        lambda image, kernel, stride=1: scipy_signal.correlate2d(image, kernel, mode="valid")[::stride, ::stride])


def test_conv2d_matches_tensorflow_reference():
    tf = pytest.importorskip("tensorflow")
    for image, kernel, stride in ex._conv_cases():
        expected = tf.nn.conv2d(image[None, :, :, None], kernel[:, :, None, None], stride, "VALID").numpy()[0, :, :, 0]
        assert np.allclose(ex._correlate(image, kernel, stride), expected, atol=1e-6)


CONV_WRONG = {
    "flipped kernel": (lambda image, kernel, stride=1: conv_ok(image, kernel[::-1, ::-1], stride), "kernel flipped"),
    "scipy convolve": (lambda image, kernel, stride=1: __import__("scipy.signal").signal.convolve2d(
        image, kernel, mode="valid")[::stride, ::stride], "kernel flipped"),
    "stride ignored": (lambda image, kernel, stride=1: conv_ok(image, kernel, 1), "stride is ignored"),
    "off by one": (lambda image, kernel, stride=1: conv_ok(image, kernel, stride)[:-1, :-1], "one pixel short"),
    "transposed output": (lambda image, kernel, stride=1: conv_ok(image, kernel, stride).T, "expected shape"),
    "zeros": (lambda image, kernel, stride=1: np.zeros_like(conv_ok(image, kernel, stride)), "expected"),
    "product not sum": (lambda image, kernel, stride=1: conv_ok(image, kernel, stride) / kernel.size, "expected"),
}


@pytest.mark.parametrize("name", CONV_WRONG)
def test_conv2d_rejects_mistakes(name):
    fn, hint = CONV_WRONG[name]
    with pytest.raises(ExerciseError, match=hint) as err:
        ex.check_conv2d_single(fn)
    message = str(err.value)
    assert "conv2d_single(image of shape" in message and "expected" in message and "got" in message


def test_conv2d_names_crash_and_non_callable():
    with pytest.raises(ExerciseError, match="raised IndexError"):
        ex.check_conv2d_single(lambda image, kernel, stride=1: image[100, 100])
    with pytest.raises(ExerciseError, match="expected a function"):
        ex.check_conv2d_single(42)


# ----- max pooling ------------------------------------------------------------------------------

def pool_ok(image, size=2, stride=2):
    oh, ow = (image.shape[0] - size) // stride + 1, (image.shape[1] - size) // stride + 1
    return np.array([[image[i * stride:i * stride + size, j * stride:j * stride + size].max()
                      for j in range(ow)] for i in range(oh)])


def test_max_pool_accepts_solution():
    assert ex.check_max_pool(pool_ok) is True


def test_max_pool_matches_keras_reference():
    keras = pytest.importorskip("keras")
    for image, size, stride in ex._pool_cases():
        expected = keras.layers.MaxPooling2D(size, stride)(image[None, :, :, None].astype("float32"))
        assert np.allclose(ex._pool(image, size, stride, np.max), np.asarray(expected)[0, :, :, 0], atol=1e-6)


POOL_WRONG = {
    "average": (lambda image, size=2, stride=2: ex._pool(image, size, stride, np.mean), "average pooling"),
    "stride ignored": (lambda image, size=2, stride=2: pool_ok(image, size, size), "stride is ignored"),
    "off by one": (lambda image, size=2, stride=2: pool_ok(image, size, stride)[:-1, :-1], "one pixel short"),
    "min": (lambda image, size=2, stride=2: -pool_ok(-image, size, stride), "expected"),
    "returns string": (lambda image, size=2, stride=2: "max", "expected"),
}


@pytest.mark.parametrize("name", POOL_WRONG)
def test_max_pool_rejects_mistakes(name):
    fn, hint = POOL_WRONG[name]
    with pytest.raises(ExerciseError, match=hint) as err:
        ex.check_max_pool(fn)
    assert "max_pool(image of shape" in str(err.value)
