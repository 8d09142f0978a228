"""The checks of 05_gan_engineering's exercises accept the solutions and reject each plausible wrong answer."""

from __future__ import annotations

import numpy as np
import pytest

from course_utils.checks import ExerciseError
from course_utils.exercises import engineering as ex
from course_utils.lessons import load_lesson_code


@pytest.fixture(scope="module")
def E():
    return load_lesson_code("05_gan_engineering")


def test_the_lessons_solutions_pass(E):
    assert ex.check_same_state(E.same_state) is True
    assert ex.check_scaled_gradients(E.scaled_gradients) is True


def _compare(xs, ys):
    return len(xs) == len(ys) and all(np.array_equal(u.numpy(), v.numpy()) for u, v in zip(xs, ys))


def test_same_state_rejects_what_a_bad_checkpoint_would_miss():
    import keras

    def trainable_only(a, b):
        return len(a) == len(b) and all(_compare(x.trainable_variables, y.trainable_variables)
                                        for x, y in zip(a, b) if isinstance(x, keras.Model))

    def weights_only(a, b):
        return len(a) == len(b) and all(_compare(x.weights, y.weights) for x, y in zip(a, b)
                                        if isinstance(x, keras.Model))

    def no_length_check(a, b):
        return all(_compare(x.weights if isinstance(x, keras.Model) else x.variables,
                            y.weights if isinstance(y, keras.Model) else y.variables) for x, y in zip(a, b))

    with pytest.raises(ExerciseError, match="moving mean"):
        ex.check_same_state(trainable_only)
    with pytest.raises(ExerciseError, match="Adam moment"):
        ex.check_same_state(weights_only)
    with pytest.raises(ExerciseError, match="different lengths"):
        ex.check_same_state(no_length_check)
    with pytest.raises(ExerciseError, match="expected True, got False"):
        ex.check_same_state(lambda a, b: a is b)
    with pytest.raises(ExerciseError, match="True or False"):
        ex.check_same_state(lambda a, b: 1)


def test_scaled_gradients_rejects_the_usual_slips():
    import tensorflow as tf

    def unscaled(loss_fn, variables, scale):
        with tf.GradientTape() as tape:
            loss = loss_fn()
        return tape.gradient(loss, variables)

    def not_divided(loss_fn, variables, scale):
        with tf.GradientTape() as tape:
            loss = loss_fn() * scale
        return tape.gradient(loss, variables)

    def twice(loss_fn, variables, scale):
        with tf.GradientTape() as tape:
            loss = loss_fn() * scale
        return [g / scale**2 for g in tape.gradient(loss, variables)]

    def outside(loss_fn, variables, scale):
        loss = loss_fn() * scale
        with tf.GradientTape() as tape:
            pass
        return tape.gradient(loss, variables)

    with pytest.raises(ExerciseError, match="came back 0"):
        ex.check_scaled_gradients(unscaled)
    with pytest.raises(ExerciseError, match="still multiplied"):
        ex.check_scaled_gradients(not_divided)
    with pytest.raises(ExerciseError, match="twice"):
        ex.check_scaled_gradients(twice)
    with pytest.raises(ExerciseError, match="None"):
        ex.check_scaled_gradients(outside)


def test_a_stub_is_reported_not_raised(capsys):
    def stub(*args):
        raise NotImplementedError

    assert ex.check_same_state(stub) is False
    assert "not attempted" in capsys.readouterr().err
