"""The checks of 09_image_translation's exercises accept right answers and name each plausible wrong one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from course_utils import harness
from course_utils.checks import ExerciseError
from course_utils.exercises import translation as ex

LESSON = Path(__file__).resolve().parent.parent / "notebooks" / "09_image_translation.py"


def mean(x):
    return tf.reduce_mean(x)


# ---- Exercise 1: the cycle loss --------------------------------------------------------------------------------

def cycle_numpy(x, y, g, f):  # the lesson's solution
    forward = np.mean(np.abs(f(g(x)) - x))
    backward = np.mean(np.abs(g(f(y)) - y))
    return float(forward + backward)


def cycle_tf(x, y, g, f):
    return mean(tf.abs(f(g(x)) - x)) + mean(tf.abs(g(f(y)) - y))


@pytest.mark.parametrize("fn", [cycle_numpy, cycle_tf, tf.function(cycle_tf), ex.reference_cycle_loss])
def test_cycle_check_accepts_right_answers(fn, capsys):
    assert ex.check_cycle_loss(fn) is True
    assert ex.check_cycle_loss(fn, hidden=True) is True
    assert "Correct: cycle_loss" in capsys.readouterr().out


def both(term):
    """``term(a, b)`` on the two cycles, added: ``term(f(g(x)), x) + term(g(f(y)), y)``."""
    return lambda x, y, g, f: term(f(g(x)), x) + term(g(f(y)), y)


def l1(a, b):
    return mean(tf.abs(a - b))


CYCLE_WRONG = {
    "forward only": (lambda x, y, g, f: l1(f(g(x)), x), "this is the forward cycle alone"),
    "backward only": (lambda x, y, g, f: l1(g(f(y)), y), "this is the backward cycle alone"),
    "L2": (both(lambda a, b: mean(tf.square(a - b))), r"these are squared errors \(L2\)"),
    "one mean over both batches": (
        lambda x, y, g, f: mean(tf.concat([tf.reshape(tf.abs(f(g(x)) - x), [-1]), tf.reshape(tf.abs(g(f(y)) - y), [-1])],
                                          0)),
        "this is one mean over both batches together"),
    "the other domain's batch": (lambda x, y, g, f: l1(f(g(x)), y) + l1(g(f(y)), x),
                                 r"compared with the other domain's batch \(F\(G\(x\)\) with y\)"),
    "the other domain's batch, sizes differ": (
        lambda x, y, g, f: cycle_numpy(x, y, g, f) if len(x) == len(y) else l1(f(g(x)), y),
        r"4 Google and 2 Twitter images .* raised .*Hint: the batches of the same size passed"),
    "compositions in the wrong order": (lambda x, y, g, f: l1(g(f(x)), x) + l1(f(g(y)), y),
                                        r"the compositions are in the wrong order"),
    "the identity loss": (lambda x, y, g, f: l1(g(y), y) + l1(f(x), x), "this is the identity loss"),
    "sums": (both(lambda a, b: tf.reduce_sum(tf.abs(a - b))), "these are sums over the pixels"),
    "an unknown slip": (lambda x, y, g, f: 1.1 * cycle_numpy(x, y, g, f), r"expected the loss [\d.]+, got [\d.]+$"),
    "nothing returned": (lambda x, y, g, f: None, "you returned None"),
    "one loss per image": (both(lambda a, b: tf.reduce_mean(tf.abs(a - b), axis=[1, 2, 3])),
                           r"expected the loss \(one number\), got an array of shape"),
    "a tuple": (lambda x, y, g, f: (l1(f(g(x)), x), l1(g(f(y)), y)), "got a tuple of 2 items"),
    "a string": (lambda x, y, g, f: "about 0.5", r"expected the loss \(one number\), got str"),
    "a function": (lambda x, y, g, f: g, r"expected the loss \(one number\), got a .*function"),
    "the lesson's own step": (lambda x, y, g, f: make_cyclegan_step(g, f),  # noqa: F821 - refused by name
                              "write it yourself rather than calling make_cyclegan_step"),
}


@pytest.mark.parametrize("name", CYCLE_WRONG)
def test_cycle_check_names_each_mistake(name):
    fn, message = CYCLE_WRONG[name]
    with pytest.raises(ExerciseError, match=message):
        ex.check_cycle_loss(fn)


def test_the_cycle_cases_tell_every_slip_apart():
    """On every case each slip is far from the right value and from every other slip."""
    for hidden in (False, True):
        for _, spec in ex._cycle_cases(hidden):
            g, f = harness.colour_map(*spec["g"]), harness.colour_map(*spec["f"])
            right = ex.reference_cycle_loss(spec["x"], spec["y"], g, f)
            values = [right] + [v for v in ex._cycle_mistakes(spec["x"], spec["y"], g, f).values() if v is not None]
            assert np.min(np.diff(np.sort(values))) > 1e-2 * right


def test_the_translators_keep_numpy_and_tensors_apart():
    g = harness.colour_map(*ex._G)
    x = np.zeros((1, 2, 2, 3), np.float32)
    assert isinstance(g(x), np.ndarray) and g(x).dtype == np.float32 and tf.is_tensor(g(tf.constant(x)))
    np.testing.assert_allclose(g(x)[0, 0, 0], np.tanh(ex._G[1]), rtol=1e-6)
    with pytest.raises(ValueError, match=r"one scale and one shift per channel \(3 each\)"):
        harness.colour_map([1.0, 2.0], [0.0, 0.0, 0.0])


# ---- Exercise 2: the conditional discriminator loss ------------------------------------------------------------

def cond_tf(disc, source, target, fake):  # the lesson's solution
    real_logits = disc(tf.concat([source, target], axis=-1))
    fake_logits = disc(tf.concat([source, fake], axis=-1))
    return float(tf.reduce_mean(tf.nn.softplus(-real_logits)) + tf.reduce_mean(tf.nn.softplus(fake_logits)))


def cond_numpy(disc, source, target, fake):
    real = np.asarray(disc(np.concatenate([source, target], -1), training=True))
    fake = np.asarray(disc(np.concatenate([source, fake], -1), training=True))
    return np.logaddexp(0, -real).mean() + np.logaddexp(0, fake).mean()


def cond_keras_bce(disc, source, target, fake):
    import keras

    bce = keras.losses.BinaryCrossentropy(from_logits=True)
    real, fake = disc(tf.concat([source, target], -1)), disc(tf.concat([source, fake], -1))
    return bce(tf.ones_like(real), real) + bce(tf.zeros_like(fake), fake)


@pytest.mark.parametrize("fn", [cond_tf, cond_numpy, cond_keras_bce, ex.reference_conditional_d_loss])
def test_conditional_d_check_accepts_right_answers(fn, capsys):
    assert ex.check_conditional_d_loss(fn) is True
    assert ex.check_conditional_d_loss(fn, hidden=True) is True
    assert "Correct: conditional_d_loss" in capsys.readouterr().out


def d_loss_of(real_pair, fake_pair, real_term=lambda r: tf.nn.softplus(-r), fake_term=tf.nn.softplus, reduce=mean,
              pre=tf.identity):
    """A discriminator loss assembled from its parts (each pair from (source, target, fake))."""
    def fn(disc, s, t, f):
        real, fake = pre(disc(real_pair(s, t, f))), pre(disc(fake_pair(s, t, f)))
        return reduce(real_term(real)) + reduce(fake_term(fake))
    return fn


def cat(a, b):
    return tf.concat([a, b], axis=-1)


REAL, FAKE = (lambda s, t, f: cat(s, t)), (lambda s, t, f: cat(s, f))

D_WRONG = {
    "the output alone": (d_loss_of(lambda s, t, f: t, lambda s, t, f: f),
                         r"given shape \(2, 4, 4, 3\): the PatchGAN must see the input together with the output "
                         r"\(6 channels, condition first\), not the output alone"),
    "concatenated on the batch axis": (d_loss_of(lambda s, t, f: tf.concat([s, t], 0), lambda s, t, f: tf.concat([s, f], 0)),
                                       r"given shape \(4, 4, 4, 3\); it takes one pair per image, \(2, 4, 4, 6\)"),
    "wrong order": (d_loss_of(lambda s, t, f: cat(t, s), lambda s, t, f: cat(f, s)),
                    "the condition and the image are concatenated in the wrong order"),
    "the fake pair with the target": (d_loss_of(REAL, REAL), "the fake pair is built with the target"),
    "the real pair with the fake": (d_loss_of(FAKE, FAKE), "the real pair is built with the generator's output"),
    "labels swapped": (d_loss_of(REAL, FAKE, real_term=tf.nn.softplus, fake_term=lambda x: tf.nn.softplus(-x)),
                       "the labels are swapped"),
    "sigmoid twice": (d_loss_of(REAL, FAKE, pre=tf.sigmoid), r"a sigmoid is applied to the logits .*sigmoid twice"),
    "sums": (d_loss_of(REAL, FAKE, reduce=tf.reduce_sum), "these are sums over the patches"),
    "the generator's term": (d_loss_of(REAL, FAKE, fake_term=lambda x: tf.nn.softplus(-x)),
                             "the fake term is the generator's non-saturating loss"),
    "naive log(sigmoid)": (d_loss_of(REAL, FAKE, real_term=lambda r: -tf.math.log(tf.sigmoid(r)),
                                     fake_term=lambda x: -tf.math.log(1.0 - tf.sigmoid(x))),
                           r"logits up to \+-45\): expected the loss [\d.]+, got inf. Is the computation numerically "
                           r"stable\? -log\(sigmoid\(l\)\) is softplus\(-l\)"),
    "an unknown slip": (d_loss_of(REAL, FAKE, reduce=lambda v: 0.9 * mean(v)), r"expected the loss [\d.]+, got [\d.]+$"),
    "the discriminator never called": (lambda d, s, t, f: 1.0, "the discriminator was never called"),
    "nothing returned": (lambda d, s, t, f: None, "you returned None"),
    "the logits": (lambda d, s, t, f: d(cat(s, t)), r"expected the loss \(one number\), got an array of shape \(2, 2, 2, 1\)"),
    "a dict": (lambda d, s, t, f: {"d_loss": 1.0}, r"expected the loss \(one number\), got a builtins\.dict"),
    "the discriminator itself": (lambda d, s, t, f: d, r"got a course_utils\.harness\.RecordingPatchGAN"),
    "a tf.function": (tf.function(cond_tf), "call conditional_d_loss eagerly"),
    "a 5-D input": (lambda d, s, t, f: d(tf.stack([s, t], -1)), r"raised ValueError: the PatchGAN takes .*\(2, 4, 4, 3, 2\)"),
    "the lesson's own step": (lambda d, s, t, f: make_pix2pix_step(d),  # noqa: F821 - refused by name
                              "write it yourself rather than calling make_pix2pix_step"),
}


@pytest.mark.parametrize("name", D_WRONG)
def test_conditional_d_check_names_each_mistake(name):
    fn, message = D_WRONG[name]
    with pytest.raises(ExerciseError, match=message):
        ex.check_conditional_d_loss(fn)


def test_the_discriminator_cases_tell_every_slip_apart():
    for hidden in (False, True):
        for _, spec in ex._d_cases(hidden):
            disc = lambda x, s=spec: harness.patch_logits(x, s["weights"], s["bias"])  # noqa: E731
            args = spec["source"], spec["target"], spec["fake"]
            right = ex.reference_conditional_d_loss(disc, *args)
            values = [right, *ex._d_mistakes(disc, *args).values()]
            assert np.isfinite(values).all() and np.min(np.diff(np.sort(values))) > 1e-2 * right


def test_the_discriminator_is_a_linear_patchgan_that_records_its_input():
    rng = np.random.default_rng(0)
    weights, x = rng.normal(size=(2, 2, 6)).astype(np.float32), rng.normal(size=(2, 4, 6, 6)).astype(np.float32)
    disc = harness.RecordingPatchGAN(weights, 0.5)
    logits = disc(x)
    assert logits.shape == (2, 2, 3, 1) and logits.dtype == np.float32 and tf.is_tensor(disc(tf.constant(x)))
    np.testing.assert_allclose(logits[1, 1, 2, 0], np.sum(x[1, 2:4, 4:6] * weights) + 0.5, rtol=1e-5)
    assert len(disc.fed) == 2 and np.array_equal(disc.fed[0], x)
    np.testing.assert_allclose(disc(x[..., 3:])[1, 1, 2, 0], np.sum(x[1, 2:4, 4:6, 3:] * weights[..., 3:]) + 0.5,
                               rtol=1e-5)
    with pytest.raises(ValueError, match=r"expected weights of shape \(2, 2, 6\)"):
        harness.RecordingPatchGAN(weights[..., :3], 0.0)


# ---- Exercise 3: the least-squares GAN losses ------------------------------------------------------------------

def lsgan_numpy(real_scores, fake_scores):  # the lesson's solution
    d_loss = 0.5 * (np.mean((np.asarray(real_scores) - 1.0) ** 2) + np.mean(np.asarray(fake_scores) ** 2))
    g_loss = np.mean((np.asarray(fake_scores) - 1.0) ** 2)
    return float(d_loss), float(g_loss)


def lsgan_tf(real_scores, fake_scores):
    return 0.5 * (mean(tf.square(real_scores - 1.0)) + mean(tf.square(fake_scores))), mean(tf.square(fake_scores - 1))


@pytest.mark.parametrize("fn", [lsgan_numpy, lsgan_tf, tf.function(lsgan_tf), ex.reference_lsgan_losses])
def test_lsgan_check_accepts_right_answers(fn, capsys):
    assert ex.check_lsgan_losses(fn) is True
    assert ex.check_lsgan_losses(fn, hidden=True) is True
    assert "Correct: lsgan_losses" in capsys.readouterr().out


def with_d(d_of):
    return lambda r, f: (d_of(r, f), lsgan_tf(r, f)[1])


def with_g(g_of):
    return lambda r, f: (lsgan_tf(r, f)[0], g_of(f))


LSGAN_WRONG = {
    "cross-entropy": (with_d(lambda r, f: mean(tf.nn.softplus(-r)) + mean(tf.nn.softplus(f))),
                      r"d_loss [\d.]+, got [\d.]+: these are the binary cross-entropy"),
    "no 1/2": (with_d(lambda r, f: mean(tf.square(r - 1)) + mean(tf.square(f))), "the 1/2 is missing"),
    "absolute values": (with_d(lambda r, f: 0.5 * (mean(tf.abs(r - 1)) + mean(tf.abs(f)))),
                        "d_loss .*these are absolute values"),
    "one mean over both": (with_d(lambda r, f: mean(tf.concat([tf.reshape(tf.square(r - 1), [-1]),
                                                               tf.reshape(tf.square(f), [-1])], 0))),
                           r"2 real and 5 fake .*this is one mean over real and fake together"),
    "generator cross-entropy": (with_g(lambda f: mean(tf.nn.softplus(-f))), "g_loss .*this is the non-saturating loss"),
    "generator target 0": (with_g(lambda f: mean(tf.square(f))), "the generator's target is 0"),
    "generator absolute": (with_g(lambda f: mean(tf.abs(f - 1))), "g_loss .*these are absolute values"),
    "generator halved": (with_g(lambda f: 0.5 * mean(tf.square(f - 1))), "the generator's loss is halved"),
    "wrong order": (lambda r, f: lsgan_tf(r, f)[::-1], "the two losses are in the wrong order"),
    "an unknown slip": (with_g(lambda f: 1.2 * mean(tf.square(f - 1))), r"expected g_loss [\d.]+, got [\d.]+$"),
    "d_loss alone": (lambda r, f: lsgan_tf(r, f)[0], r"expected two numbers, \(d_loss, g_loss\), got one value"),
    "three values": (lambda r, f: (*lsgan_tf(r, f), 0.0), "got a tuple of 3 items"),
    "per-image losses": (lambda r, f: (tf.reduce_mean(tf.square(r - 1), [1, 2, 3]), 0.0),
                         r"d_loss: expected d_loss \(one number\), got an array of shape \(3,\)"),
    "a None inside": (lambda r, f: (None, 0.0), "you returned None"),
    "a string inside": (lambda r, f: ("low", 0.0), r"expected d_loss \(one number\), got str"),
    "the lesson's own losses": (lambda r, f: (lsgan_d(r, f), lsgan_g(f)),  # noqa: F821 - refused by name
                                "write it yourself rather than calling lsgan_d"),
}


@pytest.mark.parametrize("name", LSGAN_WRONG)
def test_lsgan_check_names_each_mistake(name):
    fn, message = LSGAN_WRONG[name]
    with pytest.raises(ExerciseError, match=message):
        ex.check_lsgan_losses(fn)


def test_the_lsgan_cases_tell_every_slip_apart():
    """Each slip is off on some case; the one-mean slip only where the batches differ in size."""
    for hidden in (False, True):
        for case, real, fake, _ in ex._lsgan_cases(hidden):
            right = ex.reference_lsgan_losses(real, fake)
            for i, table in enumerate(ex._lsgan_mistakes(real, fake)):
                for text, value in table.items():
                    same = len(real) == len(fake) and "one mean" in text
                    assert same == bool(np.isclose(value, right[i], rtol=1e-3)), (case, text)


# ---- All three -------------------------------------------------------------------------------------------------

CHECKS = {"cycle_loss": (ex.check_cycle_loss, cycle_numpy),
          "conditional_d_loss": (ex.check_conditional_d_loss, cond_tf),
          "lsgan_losses": (ex.check_lsgan_losses, lsgan_numpy)}


@pytest.mark.parametrize("name", CHECKS)
def test_a_stub_is_reported_not_raised(name, capsys):
    def stub(*args):
        raise NotImplementedError()

    assert CHECKS[name][0](stub) is False
    err = capsys.readouterr().err
    assert "not attempted" in err and name in err


def test_each_check_is_its_exercise():
    assert [CHECKS[n][0].exercise_number for n in CHECKS] == [1, 2, 3]
    for check, _ in CHECKS.values():
        with pytest.raises(ExerciseError, match="expected a function, got int"):
            check(3)


@pytest.mark.parametrize("name", CHECKS)
def test_every_case_goes_through_its_harness_as_data(name, data_only_remote):
    """What the grader does: the judge sees only data, right answers pass and a wrong one is still named."""
    check, solution = CHECKS[name]
    remote = data_only_remote(solution)
    assert check(remote) is True and check(remote, hidden=True) is True
    assert remote.harness_names == {f"translation.{name}"}
    wrong = {"cycle_loss": CYCLE_WRONG["compositions in the wrong order"], "conditional_d_loss": D_WRONG["the output alone"],
             "lsgan_losses": LSGAN_WRONG["no 1/2"]}[name]
    with pytest.raises(ExerciseError, match=wrong[1]):
        check(data_only_remote(wrong[0]))


# ---- The lesson ------------------------------------------------------------------------------------------------

def _lesson_defines(name):
    return LESSON.exists() and f"def {name}(" in LESSON.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", CHECKS)
def test_the_lessons_solutions_pass(name):
    """The lesson's own solution (an `export` cell) passes its check, visible and hidden cases."""
    if not _lesson_defines(name):
        pytest.skip(f"notebooks/09_image_translation.py does not define {name} yet")
    from course_utils.lessons import load_lesson_code

    solution = getattr(load_lesson_code("09_image_translation"), name, None)
    assert callable(solution), f"09_image_translation defines {name} outside the cells tagged 'export'"
    check = CHECKS[name][0]
    assert check(solution) is True and check(solution, hidden=True) is True
