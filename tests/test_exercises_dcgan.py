"""The checks of 04_dcgan's exercises accept the solutions and reject each plausible wrong answer."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from course_utils.checks import ExerciseError
from course_utils.exercises import dcgan as ex

# Keras formats a variable's value into its "Unknown variable" error, which NumPy 2 warns about: not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")

sp = tf.nn.softplus
mean = tf.reduce_mean


# ---- Exercise 1: one discriminator step ------------------------------------------------------------------------

def d_step(loss_fn, *, training=True, applications=1, negate=False, tape_outside=False):
    """A discriminator step with one thing changed; loss_fn(real_logits, fake_logits) -> loss."""

    def step(discriminator, d_optimizer, real_images, fake_images):
        kwargs = {} if training is None else {"training": training}
        if tape_outside:
            real_logits, fake_logits = discriminator(real_images, **kwargs), discriminator(fake_images, **kwargs)
        with tf.GradientTape() as tape:
            if not tape_outside:
                real_logits, fake_logits = discriminator(real_images, **kwargs), discriminator(fake_images, **kwargs)
            loss = loss_fn(real_logits, fake_logits)
        grads = tape.gradient(loss, discriminator.trainable_variables)
        if negate:
            grads = [-g for g in grads]
        for _ in range(applications):
            d_optimizer.apply_gradients(zip(grads, discriminator.trainable_variables))
        return loss

    return step


def right_d_loss(r, f):
    return mean(sp(-r)) + mean(sp(f))


def bce_d_loss(r, f, from_logits=True):
    bce = keras.losses.BinaryCrossentropy(from_logits=from_logits)
    if not from_logits:
        r, f = tf.sigmoid(r), tf.sigmoid(f)
    return bce(tf.ones_like(r), r) + bce(tf.zeros_like(f), f)


def concatenated_batch_step(discriminator, d_optimizer, real_images, fake_images):
    n = tf.shape(real_images)[0]
    with tf.GradientTape() as tape:
        logits = discriminator(tf.concat([real_images, fake_images], axis=0), training=True)
        loss = mean(sp(-logits[:n])) + mean(sp(logits[n:]))
    grads = tape.gradient(loss, discriminator.trainable_variables)
    d_optimizer.apply_gradients(zip(grads, discriminator.trainable_variables))
    return float(loss)


@pytest.mark.parametrize("fn", [ex.reference_discriminator_step, tf.function(ex.reference_discriminator_step),
                                d_step(bce_d_loss), concatenated_batch_step],
                         ids=["reference", "tf.function", "BinaryCrossentropy(from_logits=True)", "one batch"])
def test_discriminator_check_accepts_right_answers(fn, capsys):
    assert ex.check_discriminator_step(fn) is True
    assert "Correct: discriminator_step" in capsys.readouterr().out


D_WRONG = {
    "swapped labels": (d_step(lambda r, f: mean(sp(r)) + mean(sp(-f))), "labels are swapped"),
    "the article's loss": (d_step(lambda r, f: mean(tf.math.log(tf.sigmoid(r)))), "article's loss"),
    "forgot the fake term": (d_step(lambda r, f: mean(sp(-r))), "fake term is missing"),
    "sign flipped": (d_step(lambda r, f: -right_d_loss(r, f)), "sign is flipped"),
    "one mean over both batches": (d_step(lambda r, f: mean(tf.concat([sp(-r), sp(f)], 0))), "sum of two batch means"),
    "naive log(sigmoid)": (d_step(lambda r, f: -mean(tf.math.log(tf.sigmoid(r))) - mean(tf.math.log(1 - tf.sigmoid(f)))),
                           r"got inf.*from_logits=True"),
    "BinaryCrossentropy on probabilities": (d_step(lambda r, f: bce_d_loss(r, f, from_logits=False)),
                                            r"clips them.*from_logits=True"),
    "gradients applied twice": (d_step(right_d_loss, applications=2), "took 2 steps"),
    "gradients not applied": (d_step(right_d_loss, applications=0), "weights did not change"),
    "gradient ascent": (d_step(right_d_loss, negate=True), "wrong direction"),
    "training=False": (d_step(right_d_loss, training=False), "called with training=False"),
    "no training argument": (d_step(right_d_loss, training=None), "no training argument"),
    "logits outside the tape": (d_step(right_d_loss, tape_outside=True), "inside the `with tf.GradientTape"),
}


@pytest.mark.parametrize("name", D_WRONG)
def test_discriminator_check_rejects(name):
    fn, message = D_WRONG[name]
    with pytest.raises(ExerciseError, match=message) as info:
        ex.check_discriminator_step(fn)
    assert str(info.value).startswith("discriminator_step(")


def test_discriminator_weights_changed_by_hand_are_reported():
    def by_hand(discriminator, d_optimizer, real_images, fake_images):
        with tf.GradientTape() as tape:
            loss = right_d_loss(discriminator(real_images, training=True), discriminator(fake_images, training=True))
        for g, v in zip(tape.gradient(loss, discriminator.trainable_variables), discriminator.trainable_variables):
            v.assign_sub(2e-4 * g)
        return loss

    with pytest.raises(ExerciseError, match="not through d_optimizer"):
        ex.check_discriminator_step(by_hand)


@pytest.mark.parametrize("fn, message", [
    (lambda d, o, r, f: 1 / 0, "raised ZeroDivisionError"),
    ("discriminator_step", "expected a function"),
    (lambda d, o, r, f: None, "you returned None. Did you forget the `return` statement"),
    (lambda d, o, r, f: (1.0, 2.0), r"expected the loss \(one number, the batch mean\), got a tuple of 2 items"),
    (lambda d, o, r, f: "loss", r"expected the loss \(one number, the batch mean\), got str"),
    (lambda d, o, r, f: tf.zeros(3), r"got an array of shape \(3,\)"),
    (lambda d, o: 0.0, "raised TypeError"),
])
def test_discriminator_check_reports_crashes_and_wrong_types(fn, message):
    with pytest.raises(ExerciseError, match=message):
        ex.check_discriminator_step(fn)


# ---- Exercise 2: one generator step ----------------------------------------------------------------------------

def g_step(loss_fn, *, images_outside=False, update_discriminator=None, training=True, apply=True):
    """A generator step with one thing changed; loss_fn(fake_logits) -> loss."""

    def step(generator, discriminator, g_optimizer, noise):
        kwargs = {} if training is None else {"training": training}
        if images_outside:
            fake_images = generator(noise, **kwargs)
        with tf.GradientTape() as tape:
            if not images_outside:
                fake_images = generator(noise, **kwargs)
            loss = loss_fn(discriminator(fake_images, training=True))
        variables = generator.trainable_variables
        if update_discriminator == "same optimizer":
            variables = variables + discriminator.trainable_variables
        grads = tape.gradient(loss, variables)
        if apply:
            g_optimizer.apply_gradients(zip(grads, variables))
        if update_discriminator == "another optimizer":
            with tf.GradientTape() as d_tape:
                d_loss = loss_fn(discriminator(fake_images, training=True))
            d_vars = discriminator.trainable_variables
            keras.optimizers.Adam(2e-4).apply_gradients(zip(d_tape.gradient(d_loss, d_vars), d_vars))
        return loss

    return step


def right_g_loss(f):
    return mean(sp(-f))


@pytest.mark.parametrize("fn", [ex.reference_generator_step, tf.function(ex.reference_generator_step),
                                g_step(lambda f: keras.losses.BinaryCrossentropy(from_logits=True)(tf.ones_like(f), f))],
                         ids=["reference", "tf.function", "BinaryCrossentropy(from_logits=True)"])
def test_generator_check_accepts_right_answers(fn, capsys):
    assert ex.check_generator_step(fn) is True
    assert "Correct: generator_step" in capsys.readouterr().out


G_WRONG = {
    "images made outside the tape": (g_step(right_g_loss, images_outside=True),
                                     "images must be computed inside the GradientTape"),
    "minimax loss": (g_step(lambda f: mean(tf.math.log(1 - tf.sigmoid(f)))), "minimax loss"),
    "wrong sign (the article's L(G) minimized)": (g_step(lambda f: -mean(sp(-f))), "sign is flipped"),
    "label 0": (g_step(lambda f: mean(sp(f))), "label is 0"),
    "naive -log(sigmoid)": (g_step(lambda f: -mean(tf.math.log(tf.sigmoid(f)))), r"got inf.*from_logits=True"),
    "discriminator updated by g_optimizer": (g_step(right_g_loss, update_discriminator="same optimizer"),
                                             "update generator.trainable_variables only"),
    "discriminator updated by another optimizer": (g_step(right_g_loss, update_discriminator="another optimizer"),
                                                   "discriminator's weights changed"),
    "gradients not applied": (g_step(right_g_loss, apply=False), "weights did not change"),
    "no training argument": (g_step(right_g_loss, training=None), "generator was called with no training argument"),
}


@pytest.mark.parametrize("name", G_WRONG)
def test_generator_check_rejects(name):
    fn, message = G_WRONG[name]
    with pytest.raises(ExerciseError, match=message) as info:
        ex.check_generator_step(fn)
    assert str(info.value).startswith("generator_step(")


@pytest.mark.parametrize("fn, message", [
    (lambda g, d, o, z: 1 / 0, "raised ZeroDivisionError"),
    (lambda g, d, o, z: None, "you returned None"),
    (lambda g, d, o, z: [0.5], "got a list of 1 items"),
])
def test_generator_check_reports_crashes_and_wrong_types(fn, message):
    with pytest.raises(ExerciseError, match=message):
        ex.check_generator_step(fn)


# ---- Exercise 3: find the bug ----------------------------------------------------------------------------------

def test_the_listing_is_shown_with_numbers_and_the_bug_is_one_line(capsys):
    ex.show_buggy_train_step()
    out = capsys.readouterr().out.splitlines()
    assert len(out) == len(ex.BUGGY_TRAIN_STEP_SOURCE.splitlines())
    assert out[2] == " 3 |     d_optimizer = g_optimizer = keras.optimizers.Adam(2e-4, beta_1=0.5)"


def test_the_listing_really_fails_in_keras_3():
    namespace = {"tf": tf, "keras": keras}
    exec(ex.BUGGY_TRAIN_STEP_SOURCE, namespace)
    step = namespace["make_train_step"](keras.Sequential([keras.Input((2,)), keras.layers.Dense(4)]),
                                        keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)]))
    with pytest.raises(ValueError, match="Unknown variable"):
        step(tf.zeros((2, 4)), tf.zeros((2, 2)))


def test_the_right_line_passes(capsys):
    assert ex.check_bug_answer(3) is True
    assert ex.check_bug_answer(np.int64(3)) is True
    assert "Correct: find the bug (line 3)" in capsys.readouterr().out


@pytest.mark.parametrize("answer, message", [
    (15, "which object is g_optimizer"),
    (14, "d_optimizer"),
    (7, "line 7 .*fake_images = generator.*is not the bug"),
    (4, "an empty line"),
    (0, "lines 1 to 18"),
    (19, "lines 1 to 18"),
    ("3", "expected a line number"),
    (3.0, "expected a line number"),
    (True, "expected a line number"),
])
def test_a_wrong_line_gets_a_hint(answer, message):
    with pytest.raises(ExerciseError, match=message) as info:
        ex.check_bug_answer(answer)
    if type(answer) is int and 1 <= answer <= 18:
        assert "count the optimizers" in str(info.value)


def _fixed_source(optimizers_line):
    return ex.BUGGY_TRAIN_STEP_SOURCE.replace("    d_optimizer = g_optimizer = keras.optimizers.Adam(2e-4, beta_1=0.5)",
                                              optimizers_line)


def _make(source):
    namespace = {"tf": tf, "keras": keras}
    exec(source, namespace)
    return namespace["make_train_step"]


def test_a_right_fix_passes(capsys):
    fixed = _make(_fixed_source("    d_optimizer = keras.optimizers.Adam(2e-4, beta_1=0.5)\n"
                                "    g_optimizer = keras.optimizers.Adam(2e-4, beta_1=0.5)"))
    assert ex.check_bug_answer(3, fixed) is True
    assert "fixed make_train_step" in capsys.readouterr().out

    def compiled(generator, discriminator):  # a tf.function train_step is as good
        return tf.function(fixed(generator, discriminator))

    assert ex.check_bug_answer(3, compiled) is True


@pytest.mark.parametrize("fix, message", [
    (_make(ex.BUGGY_TRAIN_STEP_SOURCE), "still shared"),
    (_make(_fixed_source("    d_optimizer = keras.optimizers.Adam(2e-4, beta_1=0.5)\n"
                         "    g_optimizer = keras.optimizers.Adam(1e-3, beta_1=0.5)")), "Change only the wrong line"),
    (_make(_fixed_source("    d_optimizer = g_optimizer = None").replace(
        "d_optimizer.apply", "keras.optimizers.Adam(2e-4, beta_1=0.5).apply").replace(
        "g_optimizer.apply", "keras.optimizers.Adam(2e-4, beta_1=0.5).apply")), "created once"),
    (lambda g, d: None, "expected it to return the function train_step"),
    (lambda g, d: (lambda real, noise: 0.0), r"expected \(d_loss, g_loss\)"),
])
def test_a_wrong_fix_is_rejected(fix, message):
    with pytest.raises(ExerciseError, match=message):
        ex.check_bug_answer(3, fix)
