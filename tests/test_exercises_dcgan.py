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


# ---- Exercise 5: the receptive field of the lesson's discriminator ---------------------------------------------

def field(layers):
    size, jump = 1, 1
    for spec in layers:
        k, s, d = (*spec, 1)[:3]
        size += d * (k - 1) * jump
        jump *= s
    return size, jump


def test_the_discriminator_specs_come_from_the_lesson():
    assert ex.discriminator_specs() == [(4, 2, 1), (4, 2, 1), (3, 2, 1)]


def test_a_right_field_passes_and_reports_the_discriminator(capsys):
    assert ex.check_receptive_field(field) is True
    assert ex.check_receptive_field(field, hidden=True) is True
    assert "sees 18x18 of the 28x28 input pixels; neighbouring units are 8 pixels apart" in capsys.readouterr().out
    assert field(ex.discriminator_specs()) == (18, 8)


def no_jump(layers):
    return 1 + sum((*s, 1)[2] * (s[0] - 1) for s in layers), int(np.prod([s[1] for s in layers]))


def jump_first(layers):
    size, jump = 1, 1
    for spec in layers:
        k, s, d = (*spec, 1)[:3]
        jump *= s
        size += d * (k - 1) * jump
    return size, jump


def no_dilation(layers):
    return field([s[:2] for s in layers])


def k_not_k_minus_1(layers):
    size, jump = 1, 1
    for spec in layers:
        k, s, d = (*spec, 1)[:3]
        size += d * k * jump
        jump *= s
    return size, jump


def with_the_helper(layers):
    from course_utils.receptive_field import receptive_field  # noqa: F401 - the name is what is refused
    return receptive_field(layers)


@pytest.mark.parametrize("fn, message", [
    (no_jump, "Hint: the jump is missing"),
    (jump_first, "Hint: the jump is updated too early"),
    (no_dilation, "Hint: the dilation is ignored"),
    (k_not_k_minus_1, r"Hint: each layer adds d\*\(k-1\)\*j pixels, not d\*k\*j"),
    (lambda layers: field(layers)[0], r"expected \(size, jump\), two ints, got 3"),
    (lambda layers: (18.0, 8), r"expected \(size, jump\), two ints"),
    (with_the_helper, "write it yourself rather than calling receptive_field"),
])
def test_each_field_mistake_is_named(fn, message):
    with pytest.raises(ExerciseError, match=message):
        ex.check_receptive_field(fn)


def test_hidden_field_cases_catch_a_table_of_the_visible_answers():
    visible = {tuple(map(tuple, specs)): field(specs) for _, specs in ex._field_cases(False)}
    visible[tuple(ex.discriminator_specs())] = (18, 8)

    def table(layers):
        return visible.get(tuple(map(tuple, layers)), (0, 0))

    assert ex.check_receptive_field(table) is True
    with pytest.raises(ExerciseError, match="expected"):
        ex.check_receptive_field(table, hidden=True)


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
