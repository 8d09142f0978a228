"""The checks of 06_image_restoration's exercises accept the solutions and reject each plausible wrong answer."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from course_utils.checks import ExerciseError
from course_utils.exercises import restoration as ex


def f64(x):
    return np.asarray(x, np.float64)


def right_psnr(c, r, d):
    return float(10 * np.log10(d ** 2 / np.mean((f64(c) - f64(r)) ** 2)))


def test_psnr_check_accepts_right_answers(capsys):
    assert ex.check_psnr(right_psnr) is True
    assert ex.check_psnr(lambda c, r, d: 20 * np.log10(d / np.sqrt(np.mean((f64(c) - f64(r)) ** 2)))) is True
    assert "Correct: psnr" in capsys.readouterr().out


PSNR_WRONG = {
    "uint8 wrap-around": (lambda c, r, d: 10 * np.log10(d ** 2 / np.mean(f64(c - r) ** 2)), "wraps around"),
    "peak not squared": (lambda c, r, d: 10 * np.log10(d / np.mean((f64(c) - f64(r)) ** 2)), "not squared"),
    "20 log of squares": (lambda c, r, d: 20 * np.log10(d ** 2 / np.mean((f64(c) - f64(r)) ** 2)), "20 log10"),
    "natural log": (lambda c, r, d: 10 * np.log(d ** 2 / np.mean((f64(c) - f64(r)) ** 2)), "natural logarithm"),
    "sum not mean": (lambda c, r, d: 10 * np.log10(d ** 2 / np.sum((f64(c) - f64(r)) ** 2)), "sum of squared"),
    "range ignored": (lambda c, r, d: 10 * np.log10(1 / np.mean((f64(c) - f64(r)) ** 2)), "data_range was ignored"),
    "absolute error": (lambda c, r, d: 10 * np.log10(d ** 2 / np.mean(np.abs(f64(c) - f64(r)))), "mean absolute"),
    "a constant": (lambda c, r, d: 30.0, "expected"),
    "None": (lambda c, r, d: None, "returned None"),
}


@pytest.mark.parametrize("name", PSNR_WRONG)
def test_psnr_check_names_the_mistake(name):
    fn, match = PSNR_WRONG[name]
    with pytest.raises(ExerciseError, match=match):
        ex.check_psnr(fn)


def test_psnr_check_refuses_the_library():
    from skimage import metrics

    def lazy(c, r, d):
        return metrics.peak_signal_noise_ratio(c, r, data_range=d)

    with pytest.raises(ExerciseError, match="scikit-image's answer"):
        ex.check_psnr(lazy)


def test_not_attempted_is_reported_not_raised(capsys):
    def stub(*args):
        raise NotImplementedError()

    assert ex.check_psnr(stub) is False
    assert "Exercise 1: not attempted yet" in capsys.readouterr().err


def test_skip_connection_check():
    assert ex.check_skip_connection(lambda d, e: keras.ops.concatenate([d, e], axis=-1)) is True
    assert ex.check_skip_connection(lambda d, e: np.concatenate([e, d], axis=-1)) is True  # either order
    with pytest.raises(ExerciseError, match="add them"):
        ex.check_skip_connection(lambda d, e: d + e)
    with pytest.raises(ExerciseError, match="channel axis"):
        ex.check_skip_connection(lambda d, e: keras.ops.concatenate([d, e], axis=0))
    with pytest.raises(ExerciseError, match="side by side"):
        ex.check_skip_connection(lambda d, e: np.tanh(np.concatenate([d, e], axis=-1)))


def right_shapes(size, in_channels, width, depth):
    skips = [(size // 2 ** k, size // 2 ** k, width * 2 ** k) for k in range(depth)]
    b = size // 2 ** depth
    concats = [(size // 2 ** k, size // 2 ** k, 2 * width * 2 ** k) for k in reversed(range(depth))]
    return {"skips": skips, "bottleneck": (b, b, width * 2 ** depth), "concats": concats, "output": (size, size, 1)}


def test_unet_shapes_check_accepts_the_solution_and_matches_the_network():
    assert ex.check_unet_shapes(right_shapes) is True
    assert ex.reference_unet_shapes(28, 2, 32, 2) == right_shapes(28, 2, 32, 2)


def _changed(key, fn):
    def shapes(*args):
        d = right_shapes(*args)
        d[key] = fn(d[key])
        return d
    return shapes


@pytest.mark.parametrize("fn, match", [
    (_changed("concats", lambda v: [(h, w, c // 2) for h, w, c in v]), "plus"),
    (_changed("concats", lambda v: v[::-1]), "deepest first"),
    (_changed("skips", lambda v: [(h, w, v[0][2]) for h, w, _ in v]), "doubles the channels"),
    (_changed("bottleneck", lambda v: (v[0] * 2, v[1] * 2, v[2])), "halves"),
    (lambda *a: {"skips": []}, "keys"),
    (lambda *a: right_shapes(28, 2, 32, 2), "expected"),  # the same answer for every configuration
])
def test_unet_shapes_check_names_the_mistake(fn, match):
    with pytest.raises(ExerciseError, match=match):
        ex.check_unet_shapes(fn)


def right_loss(logits, clean, restored, w):
    return tf.reduce_mean(tf.nn.softplus(-logits)) + w * tf.reduce_mean(tf.abs(clean - restored))


def test_generator_loss_check_accepts_right_answers():
    assert ex.check_pix2pix_generator_loss(right_loss) is True
    assert ex.check_pix2pix_generator_loss(tf.function(right_loss)) is True
    bce = keras.losses.BinaryCrossentropy(from_logits=True)
    assert ex.check_pix2pix_generator_loss(
        lambda z, c, r, w: bce(tf.ones_like(z), z) + w * keras.losses.MeanAbsoluteError()(c, r)) is True


sp, mean = tf.nn.softplus, tf.reduce_mean


@pytest.mark.parametrize("fn, match", [
    (lambda z, c, r, w: -mean(sp(z)) + w * mean(tf.abs(c - r)), "saturating"),
    (lambda z, c, r, w: mean(sp(z)) + w * mean(tf.abs(c - r)), "target"),
    (lambda z, c, r, w: mean(sp(-z)) + w * mean((c - r) ** 2), "squared error"),
    (lambda z, c, r, w: w * mean(sp(-z)) + mean(tf.abs(c - r)), "multiplies the adversarial"),
    (lambda z, c, r, w: mean(sp(-z)) + mean(tf.abs(c - r)), "l1_weight is missing"),
    (lambda z, c, r, w: mean(sp(-z)), "L1 term is missing"),
    (lambda z, c, r, w: w * mean(tf.abs(c - r)), "adversarial term is missing"),
    (lambda z, c, r, w: -mean(tf.math.log(tf.sigmoid(z))) + w * mean(tf.abs(c - r)), "softplus"),
    (lambda z, c, r, w: 1.0, "expected"),
])
def test_generator_loss_check_names_the_mistake(fn, match):
    with pytest.raises(ExerciseError, match=match):
        ex.check_pix2pix_generator_loss(fn)


def test_both_parts_of_exercise_2_are_one_exercise(capsys):
    from course_utils.exercises.restoration import check_unet

    assert check_unet(lambda d, e: np.concatenate([d, e], -1), right_shapes) is True
    out = capsys.readouterr().out
    assert "skip_connect passes" in out and "unet_shapes passes" in out
    with pytest.raises(ExerciseError, match="add them"):
        check_unet(lambda d, e: d + e, right_shapes)

    def stub(*args):
        raise NotImplementedError()

    assert check_unet(stub, stub) is False
    assert capsys.readouterr().err.count("Exercise 2: not attempted yet") == 1


@pytest.mark.parametrize("clean, restored, data_range, message", [
    (np.zeros((28, 28)), np.zeros((28, 28, 1)), 1.0, "same shape"),
    (np.zeros((4, 4)), np.ones((4, 4)), 0.0, "finite number > 0"),
    (np.zeros((4, 4)), np.ones((4, 4)), float("nan"), "finite number > 0"),
    (np.zeros((4, 4), np.uint8), np.full((4, 4), 200, np.uint8), 1.0, "data_range=255"),
])
def test_reference_psnr_refuses_bad_input(clean, restored, data_range, message):
    from course_utils.exercises.restoration import reference_psnr

    with pytest.raises(ValueError, match=message):
        reference_psnr(clean, restored, data_range)
