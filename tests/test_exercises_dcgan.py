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


# ---- Exercise 3: find the bugs ---------------------------------------------------------------------------------

BUGS = {3, 6, 9}


def test_the_listing_is_shown_with_numbers(capsys):
    ex.show_training_loop()
    out = capsys.readouterr().out.splitlines()
    assert len(out) == len(ex.TRAINING_LOOP_SOURCE.splitlines())
    assert out[2] == " 3 |     real_all = tf.cast(images_uint8, tf.float32) / 255.0"


def test_the_listing_runs_and_its_three_bugs_are_real():
    """It trains without an error; the fixed listing differs in exactly the three lines and samples as it should."""
    namespace = {"tf": tf, "keras": keras}
    exec(ex.TRAINING_LOOP_SOURCE, namespace)
    gen = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4, activation="tanh")])
    disc = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    images = np.arange(40, dtype=np.uint8).reshape(10, 4) * 6
    history = namespace["train"](gen, disc, images, steps=2, batch_size=3, noise_dim=4)
    assert len(history) == 2 and all(np.isfinite(h).all() for h in history)
    lines = ex.TRAINING_LOOP_SOURCE.splitlines()
    assert "/ 255.0" in lines[2] and "tf.random.normal" in lines[5] and ", 0, batch_size," in lines[8]
    assert lines[5].startswith("    noise") and not lines[5].startswith("        ")  # sampled once, outside the loop


def test_the_right_lines_pass_in_any_collection(capsys):
    for answer in ({3, 6, 9}, [9, 6, 3], (3, 6, 9, 9), [np.int64(3), 6, 9]):
        assert ex.check_bug_hunt(lambda a=answer: a) is True
    assert "Correct: find the bugs (lines 3, 6, 9)" in capsys.readouterr().out


@pytest.mark.parametrize("answer, message", [
    ({3, 6}, r"2 of the 2 lines you named are wrong lines and 0 are right; 1 of the 3 wrong lines are still to be "
             r"found\. What the three wrong lines do to training: \(1\) .*tanh"),
    ({3, 6, 16}, r"2 of the 3 lines you named are wrong lines and 1 are right; 1 of the 3"),
    ({4, 5, 12}, r"0 of the 3 lines you named are wrong lines and 3 are right; 3 of the 3"),
    (set(range(1, 23)), "you named 22 lines; exactly 3 are wrong"),
    ({3, 6, 9, 12}, "you named 4 lines; exactly 3 are wrong"),
    ({0, 3}, r"line\(s\) \[0\] are not in the listing, which has lines 1 to 22"),
    (3, "expected the numbers of all three wrong lines .*got one number, 3"),
    ("3, 6, 9", "expected a set or list of line numbers, got str"),
    ({3.0, 6, 9}, "expected line numbers"),
    (None, "you returned None"),
])
def test_a_wrong_answer_is_told_why_without_the_answer(answer, message):
    with pytest.raises(ExerciseError, match=message) as info:
        ex.check_bug_hunt(lambda: answer)
    text = str(info.value)
    for bug in BUGS:  # the message never names a wrong line the answer did not name
        if not (isinstance(answer, set) and bug in answer):
            assert f"Line {bug} " not in text and f"line {bug} " not in text


def test_every_wrong_answer_gets_the_three_symptoms():
    with pytest.raises(ExerciseError) as info:
        ex.check_bug_hunt(lambda: {3, 6})
    text = str(info.value).split("What the three wrong lines do to training: ")[1]
    assert "tanh" in text and "same inputs" in text and "small part of the dataset" in text


def test_an_unanswered_bug_hunt_is_reported_not_raised(capsys):
    def stub():
        raise NotImplementedError()

    assert ex.check_bug_hunt(stub) is False
    assert "Exercise 3: not attempted yet" in capsys.readouterr().err


# ---- Exercise 4: k discriminator steps, then one generator step --------------------------------------------------

def right_update(generator, d_step, g_step, real_batches, sample_noise, k):
    d_losses = []
    for _ in range(k):
        real = next(real_batches)
        d_losses.append(d_step(real, generator(sample_noise(len(real)), training=True)))
    return d_losses, g_step(sample_noise(len(real)))


def test_the_lesson_solution_and_a_float_returning_variant_pass(capsys):
    assert ex.check_alternating_update(ex.lesson_function("alternating_update")) is True
    assert ex.check_alternating_update(ex.lesson_function("alternating_update"), hidden=True) is True

    def floats(*args):
        d, g = right_update(*args)
        return tuple(float(x) for x in d), float(g)

    assert ex.check_alternating_update(floats) is True
    assert "Correct: alternating_update" in capsys.readouterr().out


def generator_first(generator, d_step, g_step, real_batches, sample_noise, k):
    m = 4
    g_loss = g_step(sample_noise(m))
    d_losses = [d_step(r, generator(sample_noise(len(r)), training=True)) for r in (next(real_batches) for _ in range(k))]
    return d_losses, g_loss


def one_noise(generator, d_step, g_step, real_batches, sample_noise, k):
    real = next(real_batches)
    noise = sample_noise(len(real))
    d_losses = [d_step(real if i == 0 else next(real_batches), generator(noise, training=True)) for i in range(k)]
    return d_losses, g_step(sample_noise(len(real)))


def same_real(generator, d_step, g_step, real_batches, sample_noise, k):
    real = next(real_batches)
    d_losses = [d_step(real, generator(sample_noise(len(real)), training=True)) for _ in range(k)]
    return d_losses, g_step(sample_noise(len(real)))


def reused_g_noise(generator, d_step, g_step, real_batches, sample_noise, k):
    d_losses = []
    for _ in range(k):
        real = next(real_batches)
        noise = sample_noise(len(real))
        d_losses.append(d_step(real, generator(noise, training=True)))
    return d_losses, g_step(noise)


def k_generator_steps(generator, d_step, g_step, real_batches, sample_noise, k):
    d_losses, g_loss = right_update(generator, d_step, g_step, real_batches, sample_noise, k)
    for _ in range(k - 1):
        g_loss = g_step(sample_noise(4))
    return d_losses, g_loss


def one_d_step(generator, d_step, g_step, real_batches, sample_noise, k):
    return right_update(generator, d_step, g_step, real_batches, sample_noise, 1)


def last_loss_only(*args):
    d, g = right_update(*args)
    return d[-1], g


def double_fakes(generator, d_step, g_step, real_batches, sample_noise, k):
    d_losses = []
    for _ in range(k):
        real = next(real_batches)
        d_losses.append(d_step(real, generator(sample_noise(2 * len(real)), training=True)))
    return d_losses, g_step(sample_noise(len(real)))


@pytest.mark.parametrize("fn, message", [
    (generator_first, "the generator's step came before a discriminator step"),
    (one_noise, "discriminator step 2 was shown the same fakes as step 1: draw fresh noise"),
    (same_real, "discriminator step 2 was given the same real batch as step 1"),
    (reused_g_noise, "the generator step reused the noise of discriminator step 3"),
    (k_generator_steps, "expected one generator step after the 3 discriminator steps, got 3"),
    (one_d_step, "expected 3 discriminator steps .*got 1"),
    (last_loss_only, "expected d_losses to be a list of the 3 discriminator losses"),
    (double_fakes, "got 4 real and 8 fake images"),
    (lambda *args: None, "you returned None"),
])
def test_each_alternation_mistake_is_named(fn, message):
    with pytest.raises(ExerciseError, match=message):
        ex.check_alternating_update(fn)


def test_hidden_cases_catch_an_answer_fitted_to_the_visible_ones():
    def fitted(generator, d_step, g_step, real_batches, sample_noise, k):
        return right_update(generator, d_step, g_step, real_batches, sample_noise, 3 if k == 3 else 2)

    assert ex.check_alternating_update(fitted) is True
    with pytest.raises(ExerciseError, match="expected 1 discriminator steps"):
        ex.check_alternating_update(fitted, hidden=True)


# ---- Exercise 5: the R1 penalty, a tape inside the tape ---------------------------------------------------------

def r1_parts(discriminator, real_images, *, of=lambda logits: logits, training=True):
    """Each image's input gradient of sum(of(D(x))), computed with one tape for the batch."""
    kwargs = {} if training is None else {"training": training}
    with tf.GradientTape() as tape:
        tape.watch(real_images)
        total = tf.reduce_sum(of(discriminator(real_images, **kwargs)))
    return tape.gradient(total, real_images)


def r1_solution(discriminator, real_images, gamma):
    grad = r1_parts(discriminator, real_images)
    return 0.5 * gamma * tf.reduce_mean(tf.reduce_sum(tf.square(grad), axis=[1, 2, 3]))


def r1_per_image(discriminator, real_images, gamma):
    norms = []
    for i in range(real_images.shape[0]):
        x = real_images[i:i + 1]
        with tf.GradientTape() as tape:
            tape.watch(x)
            logit = discriminator(x, training=True)[0, 0]
        norms.append(tf.reduce_sum(tape.gradient(logit, x) ** 2))
    return gamma / 2 * tf.add_n(norms) / len(norms)


def r1_flattened(discriminator, real_images, gamma):
    grad = tf.reshape(r1_parts(discriminator, real_images), [tf.shape(real_images)[0], -1])
    return gamma * tf.reduce_mean(tf.norm(grad, axis=1) ** 2) / 2


def r1_float64_result(discriminator, real_images, gamma):
    grad = tf.cast(r1_parts(discriminator, real_images), tf.float64)
    return tf.constant(0.5 * gamma, tf.float64) * tf.reduce_mean(tf.reduce_sum(grad * grad, axis=[1, 2, 3]))


@pytest.mark.parametrize("fn", [r1_solution, r1_per_image, r1_flattened, r1_float64_result,
                                ex.reference_r1_penalty])
def test_r1_check_accepts_right_answers(fn, capsys):
    """One tape for the batch or one per image, a flattened norm, a float64 result; float32 and float64 images,
    grey and RGB, several batch sizes and gammas (visible and hidden cases)."""
    assert ex.check_r1_penalty(fn) is True
    assert ex.check_r1_penalty(fn, hidden=True) is True
    assert "Correct: r1_penalty" in capsys.readouterr().out


def test_the_lesson_solution_passes():
    assert ex.check_r1_penalty(ex.lesson_function("r1_penalty")) is True


def sq_norms(discriminator, real_images, **kwargs):
    return tf.reduce_sum(tf.square(r1_parts(discriminator, real_images, **kwargs)), axis=[1, 2, 3])


def with_the_lesson_code(discriminator, real_images, gamma):
    return gamma / 2 * real_logits_and_r1(discriminator, real_images)[1]  # noqa: F821 - the name is what is refused


def stop_recording(discriminator, real_images, gamma):
    return tf.stop_gradient(r1_solution(discriminator, real_images, gamma))


R1_WRONG = {
    "no weight": (lambda d, x, g: tf.reduce_mean(sq_norms(d, x)),
                  r"expected the penalty .*: this is the mean squared norm without the weight"),
    "gamma, not gamma / 2": (lambda d, x, g: g * tf.reduce_mean(sq_norms(d, x)),
                             "this is gamma times the mean squared norm"),
    "norms not squared": (lambda d, x, g: g / 2 * tf.reduce_mean(tf.sqrt(sq_norms(d, x))),
                          "the norms are not squared"),
    "sum over the batch": (lambda d, x, g: g / 2 * tf.reduce_sum(sq_norms(d, x)),
                           "this sums the squared norms over the batch"),
    "mean over the pixels": (lambda d, x, g: g / 2 * tf.reduce_mean(tf.square(r1_parts(d, x))),
                             "this averages the squared entries over the pixels too"),
    "gradient of the mean logit": (
        lambda d, x, g: g / 2 * tf.reduce_mean(tf.reduce_sum(tf.square(r1_parts(
            d, x, of=lambda t: t / tf.cast(tf.shape(t)[0], t.dtype))), axis=[1, 2, 3])),
        r"the input gradient is that of the batch \*mean\* of the logits"),
    "gradient of sigmoid": (lambda d, x, g: g / 2 * tf.reduce_mean(sq_norms(d, x, of=tf.sigmoid)),
                            r"the gradient of D's probability sigmoid\(l\(x\)\), not of its logit"),
    "a NumPy float": (lambda d, x, g: float(r1_solution(d, x, g)),
                      r"the value is right, but D's update must differentiate the penalty .*no \.numpy\(\)"),
    "stop_gradient": (stop_recording, "the value is right, but D's update must differentiate the penalty"),
    "no training flag": (lambda d, x, g: g / 2 * tf.reduce_mean(sq_norms(d, x, training=None)),
                         "the discriminator was called with no training argument"),
    "the lesson's own code": (with_the_lesson_code, "write it yourself rather than calling real_logits_and_r1"),
    "nothing returned": (lambda d, x, g: None, "you returned None"),
}


@pytest.mark.parametrize("name", R1_WRONG)
def test_r1_check_rejects(name):
    fn, message = R1_WRONG[name]
    with pytest.raises(ExerciseError, match=message):
        ex.check_r1_penalty(fn)


def test_a_gradient_that_differs_only_in_its_second_derivative_is_rejected():
    """Right value, wrong dependence on the weights: the penalty of a frozen copy of D plus a term of zero value."""
    def frozen(discriminator, real_images, gamma):
        value = tf.stop_gradient(r1_solution(discriminator, real_images, gamma))
        w = discriminator.trainable_variables[0]
        return value + tf.cast(tf.reduce_sum(w) - tf.stop_gradient(tf.reduce_sum(w)), value.dtype)

    with pytest.raises(ExerciseError, match="its gradient with respect to the discriminator's weights differs"):
        ex.check_r1_penalty(frozen)


def test_an_unanswered_r1_penalty_is_reported_not_raised(capsys):
    def stub(discriminator, real_images, gamma):
        raise NotImplementedError()

    assert ex.check_r1_penalty(stub) is False
    assert "Exercise 5: not attempted yet" in capsys.readouterr().err


# ---- Gaps closed (issue 23): each of these failed on the earlier checks -----------------------------------------

def test_a_bug_hunt_answer_learns_how_many_not_which():
    """Gap (b): two answers with the same counts get the same feedback, so no line can be ruled in or out by it."""
    def message(answer):
        with pytest.raises(ExerciseError) as info:
            ex.check_bug_hunt(lambda: answer)
        return str(info.value)

    assert message({3, 4, 5}) == message({6, 4, 7}) == message({9, 12, 20})
    assert message({4, 5, 12}) == message({1, 2, 7})
    assert message({3, 6}) == message({6, 9})
    text = message({4, 5, 12})
    assert "0 of the 3 lines you named are wrong lines" in text
    assert "is right" not in text and "Line 4" not in text and "Line 12" not in text


def test_the_listing_docstring_says_what_the_loop_does():
    """Gap (b): the loop updates both networks from one forward pass; its docstring must not call that alternating."""
    doc = ex.TRAINING_LOOP_SOURCE.splitlines()[1]
    assert "Alternate" not in doc and "alternat" not in doc.lower()
    assert "simultaneous" in doc.lower()


def no_training_flag(generator, d_step, g_step, real_batches, sample_noise, k):
    d_losses = []
    for _ in range(k):
        real = next(real_batches)
        d_losses.append(d_step(real, generator(sample_noise(len(real)))))
    return d_losses, g_step(sample_noise(len(real)))


def inference_mode(generator, d_step, g_step, real_batches, sample_noise, k):
    d_losses = []
    for _ in range(k):
        real = next(real_batches)
        d_losses.append(d_step(real, generator(sample_noise(len(real)), training=False)))
    return d_losses, g_step(sample_noise(len(real)))


@pytest.mark.parametrize("fn", [no_training_flag, inference_mode])
def test_fakes_made_in_inference_mode_are_named(fn):
    """Gap (a): the check's generator has batch norm, so its fakes depend on the training flag."""
    with pytest.raises(ExerciseError, match=r"discriminator step 1 .*inference mode.*training=True"):
        ex.check_alternating_update(fn)
