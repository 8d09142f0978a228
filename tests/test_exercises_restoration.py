"""The checks of 06_image_restoration's exercises accept right answers (float32 and float64, NumPy and TensorFlow)
and reject each plausible wrong answer with the mistake named; the loss reference is one step of the lesson's own
``make_gan_step``."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from course_utils.checks import ExerciseError
from course_utils.exercises import restoration as ex
from course_utils.lessons import load_lesson_code


@pytest.fixture(scope="module")
def lesson():
    return load_lesson_code("06_image_restoration")


def _stub(*_args, **_kwargs):
    raise NotImplementedError()


def test_the_lesson_solutions_pass(lesson, capsys):
    assert ex.check_patchgan_inputs(lesson.patchgan_inputs) is True
    assert ex.check_pix2pix_losses(lesson.pix2pix_losses) is True
    assert ex.check_unet_shapes(lesson.unet_shapes) is True
    out = capsys.readouterr().out
    assert all(f"Correct: {name}" in out for name in ("patchgan_inputs", "pix2pix_losses", "unet_shapes"))


def test_stubs_are_not_attempted(capsys):
    assert ex.check_patchgan_inputs(_stub) is False
    assert ex.check_pix2pix_losses(_stub) is False
    assert ex.check_unet_shapes(_stub) is False
    err = capsys.readouterr().err
    assert all(f"Exercise {n}: not attempted yet" in err for n in (1, 2, 3))


# --- exercise 1: what the PatchGAN sees ---------------------------------------------------------------------

def test_patchgan_inputs_accepts_right_answers():
    assert ex.check_patchgan_inputs(ex.reference_patchgan_inputs) is True
    assert ex.check_patchgan_inputs(lambda c, x, g: (tf.concat([c, x], -1), tf.concat([c, g], -1))) is True
    assert ex.check_patchgan_inputs(lambda c, x, g: [np.concatenate([c, x], -1).astype(np.float32),
                                                     np.concatenate([c, g], -1).astype(np.float32)]) is True


cat = np.concatenate


@pytest.mark.parametrize("fn, match", [
    (lambda c, x, g: (x, g), "images alone"),
    (lambda c, x, g: (cat([x, c], -1), cat([g, c], -1)), "condition's channels first"),
    (lambda c, x, g: (cat([c, g], -1), cat([c, x], -1)), "swapped"),
    (lambda c, x, g: (cat([c, x], -1), cat([x, g], -1)), "conditioned on the target"),
    (lambda c, x, g: (cat([c, x], 1), cat([c, g], 1)), r"expected shape|along an axis|raised"),
    (lambda c, x, g: (cat([c, x], -1), cat([c, x], -1)), "fake_pair"),
    (lambda c, x, g: cat([c, x], -1), "two arrays"),
    (lambda c, x, g: None, "returned None"),
])
def test_patchgan_inputs_names_the_mistake(fn, match):
    with pytest.raises(ExerciseError, match=match):
        ex.check_patchgan_inputs(fn)


def test_patchgan_inputs_on_the_batch_axis_is_told_the_axis():
    with pytest.raises(ExerciseError, match="channel axis"):
        ex.check_patchgan_inputs(lambda c, x, g: (cat([c[..., :x.shape[-1]], x], 0), cat([c[..., :x.shape[-1]], g], 0)))


# --- exercise 2: the two losses of one pix2pix step ----------------------------------------------------------

sp, mean = tf.nn.softplus, tf.reduce_mean


def right_losses(r, f, c, x, g, lam):
    return float(mean(sp(-f)) + lam * mean(tf.abs(x - g))), float(mean(sp(-r)) + mean(sp(f)))


def test_pix2pix_losses_accepts_right_answers(lesson):
    assert ex.check_pix2pix_losses(ex.reference_pix2pix_losses) is True
    assert ex.check_pix2pix_losses(right_losses) is True
    assert ex.check_pix2pix_losses(lesson.pix2pix_losses) is True

    def float32_keras(r, f, c, x, g, lam):  # all in float32, with Keras's cross-entropy from logits
        import keras

        bce = keras.losses.BinaryCrossentropy(from_logits=True)
        r, f, x, g = (tf.cast(a, tf.float32) for a in (r, f, x, g))
        return (bce(tf.ones_like(f), f) + lam * mean(tf.abs(x - g)),
                bce(tf.ones_like(r), r) + bce(tf.zeros_like(f), f))

    assert ex.check_pix2pix_losses(float32_keras) is True
    assert ex.check_pix2pix_losses(lambda *a: np.asarray(right_losses(*a), np.float32)) is True


def _g(g_loss):
    return lambda r, f, c, x, g, lam: (g_loss(r, f, c, x, g, lam), right_losses(r, f, c, x, g, lam)[1])


def _d(d_loss):
    return lambda r, f, c, x, g, lam: (right_losses(r, f, c, x, g, lam)[0], d_loss(r, f, c, x, g, lam))


def _l1(a, b):
    return mean(tf.abs(a - b))


@pytest.mark.parametrize("fn, match", [
    (_g(lambda r, f, c, x, g, lam: mean(sp(-f)) + lam * _l1(c[..., :1], g)), "damaged input"),
    (_g(lambda r, f, c, x, g, lam: mean(sp(-f)) + lam * _l1(x, c[..., :1])), "does not depend on the generator"),
    (_g(lambda r, f, c, x, g, lam: mean(sp(-f)) + _l1(x, g)), "lam is missing"),
    (_g(lambda r, f, c, x, g, lam: lam * mean(sp(-f)) + _l1(x, g)), "multiplies the adversarial"),
    (_g(lambda r, f, c, x, g, lam: -mean(sp(f)) + lam * _l1(x, g)), "saturating"),
    (_g(lambda r, f, c, x, g, lam: mean(sp(f)) + lam * _l1(x, g)), "discriminator's target"),
    (_g(lambda r, f, c, x, g, lam: mean(sp(-tf.sigmoid(f))) + lam * _l1(x, g)), "applied twice"),
    (_g(lambda r, f, c, x, g, lam: tf.reduce_sum(sp(-f)) + lam * _l1(x, g)), "summed over the patches"),
    (_g(lambda r, f, c, x, g, lam: mean(sp(-f)) + lam * mean((x - g) ** 2)), "squared error"),
    (_g(lambda r, f, c, x, g, lam: mean(sp(-r)) + lam * _l1(x, g)), "real pairs' logits"),
    (_d(lambda r, f, c, x, g, lam: mean(sp(-r)) + mean(sp(-f))), "non-saturating"),
    (_d(lambda r, f, c, x, g, lam: mean(sp(r)) + mean(sp(-f))), "labels are swapped"),
    (_d(lambda r, f, c, x, g, lam: mean(sp(-tf.sigmoid(r))) + mean(sp(tf.sigmoid(f)))), "applied twice"),
    (_d(lambda r, f, c, x, g, lam: tf.reduce_sum(sp(-r)) + tf.reduce_sum(sp(f))), "summed over the patches"),
    (_d(lambda r, f, c, x, g, lam: (mean(sp(-r)) + mean(sp(f))) / 2), "halved"),
    (_d(lambda r, f, c, x, g, lam: mean(sp(-r)) + mean(sp(f)) + lam * _l1(x, g)), "generator's loss only"),
    (_d(lambda r, f, c, x, g, lam: mean(0.9 * sp(-r) + 0.1 * sp(r)) + mean(sp(f))), "label smoothing"),
    (_d(lambda r, f, c, x, g, lam: -(mean(sp(-r)) + mean(sp(f)))), "value D maximizes"),
    (lambda *a: right_losses(*a)[::-1], "wrong order"),
    (lambda *a: right_losses(*a)[0], "two numbers"),
    (_g(lambda r, f, c, x, g, lam: -mean(tf.math.log(tf.sigmoid(f)))
        + lam * _l1(x, g)), "softplus"),
    (lambda *a: (1.0, 1.0), "expected"),
])
def test_pix2pix_losses_names_the_mistake(fn, match):
    with pytest.raises(ExerciseError, match=match):
        ex.check_pix2pix_losses(fn)


def test_pix2pix_losses_may_not_call_the_lessons_loss(lesson):
    namespace = {"pix2pix_generator_loss": lesson.pix2pix_generator_loss, "tf": tf}
    exec("def losses(r, f, c, x, g, lam):\n    return (float(pix2pix_generator_loss(f, x, g, lam)), "
         "float(tf.reduce_mean(tf.nn.softplus(-r)) + tf.reduce_mean(tf.nn.softplus(f))))", namespace)
    with pytest.raises(ExerciseError, match="rather than calling pix2pix_generator_loss"):
        ex.check_pix2pix_losses(namespace["losses"])


def test_the_references_are_one_step_of_the_lessons_make_gan_step(lesson):
    """The losses and the discriminator's inputs the check expects are those of the lesson's own training step."""
    import keras

    keras.utils.set_random_seed(3)
    model, disc = lesson.build_unet(2, 4, 1), lesson.build_patch_discriminator(2, 4)
    rng = np.random.default_rng(0)
    clean = rng.uniform(0, 1, (2, 8, 8, 1)).astype(np.float32)
    inputs = np.concatenate([clean * (rng.uniform(size=clean.shape) > 0.3), rng.uniform(size=clean.shape) < 0.3],
                            -1).astype(np.float32)
    restored = model(inputs, training=True).numpy()
    real_pair, fake_pair = ex.reference_patchgan_inputs(inputs, clean, restored)
    real_logits = disc(real_pair.astype(np.float32), training=True).numpy()
    fake_logits = disc(fake_pair.astype(np.float32), training=True).numpy()
    lam = lesson.RECIPE.l1_weight
    g_want, d_want = ex.reference_pix2pix_losses(real_logits, fake_logits, inputs, clean, restored, lam)
    step = lesson.make_gan_step(model, disc, keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    out = step(tf.constant(inputs), tf.constant(clean))
    assert float(out["g_loss"]) == pytest.approx(g_want, rel=1e-5)
    assert float(out["d_loss"]) == pytest.approx(d_want, rel=1e-5)


# --- exercise 3: the U-Net's shapes -------------------------------------------------------------------------

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



# --- the PSNR reference ---------------------------------------------------------------------------------------

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
