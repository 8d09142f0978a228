"""The checks of 08_colour_gans's exercises accept right answers and name each plausible wrong one."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from course_utils import harness
from course_utils.checks import ExerciseError
from course_utils.exercises import colour as ex

LESSON = Path(__file__).resolve().parent.parent / "notebooks" / "08_colour_gans.py"


# ---- Exercise 1: the gradient penalty --------------------------------------------------------------------------

def input_grads(critic, x, *, of=tf.identity):
    with tf.GradientTape() as tape:
        tape.watch(x)
        scores = of(critic(x, training=True))
    return tape.gradient(scores, x)


def norms_at(critic, x, **kwargs):
    return tf.sqrt(tf.reduce_sum(tf.square(input_grads(critic, x, **kwargs)), axis=[1, 2, 3]))


def gp_solution(critic, real, fake, alpha):
    x_hat = alpha * real + (1.0 - alpha) * fake
    return tf.reduce_mean(tf.square(norms_at(critic, x_hat) - 1.0))


def gp_flattened(critic, real, fake, alpha):
    """tf.norm of the flattened gradients, the critic called without the training flag, a persistent tape."""
    x_hat = real * alpha + fake * (1 - alpha)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x_hat)
        total = tf.reduce_sum(critic(x_hat))
    grads = tf.reshape(tape.gradient(total, x_hat), [tf.shape(real)[0], -1])
    return tf.reduce_mean((tf.norm(grads, axis=1) - 1) ** 2)


gp_function = tf.function(gp_solution)


@pytest.mark.parametrize("fn", [gp_solution, gp_flattened, gp_function, ex.reference_gradient_penalty])
def test_gradient_penalty_check_accepts_right_answers(fn, capsys):
    assert ex.check_gradient_penalty(fn) is True
    assert ex.check_gradient_penalty(fn, hidden=True) is True
    assert "Correct: gradient_penalty" in capsys.readouterr().out


def interpolates(real, fake, alpha):
    return alpha * real + (1.0 - alpha) * fake


def penalty_at(point):
    """A penalty with the right formula, its gradient taken at ``point(real, fake, alpha)``."""
    return lambda c, r, f, a: tf.reduce_mean(tf.square(norms_at(c, point(r, f, a)) - 1.0))


def grads_hat(c, r, f, a):
    return input_grads(c, interpolates(r, f, a))


def norms_hat(c, r, f, a):
    return norms_at(c, interpolates(r, f, a))


def weights_gradient(reduce):
    def fn(critic, real, fake, alpha):
        x_hat = interpolates(real, fake, alpha)
        with tf.GradientTape() as tape:
            score = reduce(critic(x_hat, training=True))
        return tf.square(tf.linalg.global_norm(tape.gradient(score, critic.trainable_variables)) - 1.0)
    return fn


def own_alpha(critic, real, fake, alpha):
    return gp_solution(critic, real, fake, tf.random.uniform(tf.shape(alpha)))


def changes_the_critic(critic, real, fake, alpha):
    critic.trainable_variables[0].assign_add(tf.ones_like(critic.trainable_variables[0]) * 0.01)
    return gp_solution(critic, real, fake, alpha)


GP_WRONG = {
    "norm over the whole batch": (lambda c, r, f, a: tf.square(tf.norm(grads_hat(c, r, f, a)) - 1.0),
                                  "the norm is taken over the whole batch at once"),
    "squared norm, minus 1, squared": (
        lambda c, r, f, a: tf.reduce_mean(tf.square(tf.reduce_sum(tf.square(grads_hat(c, r, f, a)), [1, 2, 3]) - 1)),
        r"this uses the squared norm, mean\(\(\|g\|\^2 - 1\)\^2\)"),
    "squared norm alone": (lambda c, r, f, a: tf.reduce_mean(tf.reduce_sum(tf.square(grads_hat(c, r, f, a)), [1, 2, 3])),
                           r"this is mean\(\|g\|\^2\): the \"- 1\" is missing"),
    "- 1 missing": (lambda c, r, f, a: tf.reduce_mean(tf.square(norms_hat(c, r, f, a))),
                    r"the \"- 1\" is missing"),
    "the norm alone": (lambda c, r, f, a: tf.reduce_mean(norms_hat(c, r, f, a)), r"this is the mean norm"),
    "absolute value": (lambda c, r, f, a: tf.reduce_mean(tf.abs(norms_hat(c, r, f, a) - 1.0)),
                       "square the difference"),
    "sum over the batch": (lambda c, r, f, a: tf.reduce_sum(tf.square(norms_hat(c, r, f, a) - 1.0)),
                           "this sums the images' penalties over the batch"),
    "at the real images": (penalty_at(lambda r, f, a: r), "the gradient is taken at the real images"),
    "at the fake images": (penalty_at(lambda r, f, a: f), "the gradient is taken at the fake images"),
    "alpha swapped": (penalty_at(lambda r, f, a: a * f + (1 - a) * r), "alpha is on the wrong side"),
    "alpha ignored": (penalty_at(lambda r, f, a: (r + f) / 2), "the interpolates ignore alpha"),
    "gradient of the mean score": (
        lambda c, r, f, a: tf.reduce_mean(tf.square(norms_at(c, interpolates(r, f, a), of=tf.reduce_mean) - 1.0)),
        r"the gradient is that of the batch \*mean\* of the scores"),
    "norm over the channels": (
        lambda c, r, f, a: tf.reduce_mean(tf.square(tf.norm(grads_hat(c, r, f, a), axis=-1) - 1.0)),
        r"the norm is taken over the channels only \(axis=-1\)"),
    "norm over axis 1": (lambda c, r, f, a: tf.reduce_mean(tf.square(tf.norm(grads_hat(c, r, f, a), axis=1) - 1.0)),
                         "the norm is taken over axis 1 only"),
    "gradient w.r.t. the weights (sum)": (weights_gradient(tf.reduce_sum),
                                          "this is the norm of the gradient with respect to the critic's weights"),
    "gradient w.r.t. the weights (mean)": (weights_gradient(tf.reduce_mean),
                                           "this is the norm of the gradient with respect to the critic's weights"),
    "one penalty per image": (lambda c, r, f, a: tf.square(norms_hat(c, r, f, a) - 1.0),
                              r"you returned each image's penalty \(shape \(4,\)\)"),
    "a vector of another length": (lambda c, r, f, a: tf.zeros([2]),
                                   r"expected the penalty \(one number, the batch mean\), got an array of shape \(2,\)"),
    "nothing returned": (lambda c, r, f, a: None, "you returned None"),
    "a Python float": (lambda c, r, f, a: float(gp_solution(c, r, f, a)),
                       r"the value is right, but the critic's update differentiates the penalty .*no \.numpy\(\)"),
    "stop_gradient": (lambda c, r, f, a: tf.stop_gradient(gp_solution(c, r, f, a)),
                      "the value is right, but the critic's update differentiates the penalty"),
    "its own random alpha": (own_alpha, "two calls on the same inputs gave"),
    "the critic changed": (changes_the_critic, "the critic's weights changed"),
    "a crash": (lambda c, r, f, a: c(r)[5, 0, 0], r"raised .*Error"),
    "the lesson's own code": (lambda c, r, f, a: interpolates_penalty(c, r, f, a),  # noqa: F821 - refused by name
                              "write it yourself rather than calling interpolates_penalty"),
    "a model returned": (lambda c, r, f, a: c, r"expected the penalty \(one number, the batch mean\), got a keras"),
}


@pytest.mark.parametrize("name", GP_WRONG)
def test_gradient_penalty_check_names_each_mistake(name):
    fn, message = GP_WRONG[name]
    with pytest.raises(ExerciseError, match=message):
        ex.check_gradient_penalty(fn)


def test_the_linear_critic_has_its_penalty_in_closed_form():
    """The linear critic's input gradient is its kernel: (|w| - 1)^2 whatever the images and alphas."""
    for w_norm in (0.6, 1.5, 2.2):
        critic, real, fake, alpha = harness.critic_case("linear", 3, 5, [0.2, 0.5, 0.9], w_norm)
        assert np.isclose(np.linalg.norm(critic.get_weights()[0]), w_norm, rtol=1e-6)
        assert np.isclose(float(ex.reference_gradient_penalty(critic, real, fake, alpha)), (w_norm - 1) ** 2,
                          rtol=1e-5)


def test_the_conv_cases_tell_the_interpolates_from_their_ends():
    """On the conv critics the penalty at the real images, at the fakes, with alpha swapped or at the midpoint
    differs from the right one by far more than the tolerance."""
    for _, spec in ex._gp_cases(False)[2:] + ex._gp_cases(True)[1:]:
        critic, real, fake, alpha = harness.critic_case(**spec)
        right = float(ex.reference_gradient_penalty(critic, real, fake, alpha))
        mistakes = ex._gp_mistakes(critic, real, fake, alpha)
        assert len({round(v, 6) for v in mistakes.values()}) == len(mistakes), "two slips give the same value"
        for text, value in mistakes.items():
            assert abs(value - right) > 1e-3 * abs(right), text


# ---- Exercise 2: the power iteration ---------------------------------------------------------------------------

def sn_solution(kernel, u, iterations):
    w = np.reshape(np.asarray(kernel), (-1, np.shape(kernel)[-1]))
    u = np.asarray(u).ravel()
    for _ in range(iterations):
        v = w @ u
        v = v / np.linalg.norm(v)
        u = w.T @ v
        u = u / np.linalg.norm(u)
    return float(v @ w @ u), u


def sn_keras_style(kernel, u, iterations):
    """Keras's own form: u of shape (1, out), row vectors, tensors all along; u_new returned as (1, out)."""
    w = tf.reshape(kernel, [-1, kernel.shape[-1]])
    u = tf.reshape(tf.cast(u, w.dtype), [1, -1])
    for _ in range(iterations):
        v = tf.math.l2_normalize(tf.matmul(u, w, transpose_b=True))
        u = tf.math.l2_normalize(tf.matmul(v, w))
    return tf.matmul(tf.matmul(v, w), u, transpose_b=True), u


@pytest.mark.parametrize("fn", [sn_solution, sn_keras_style, ex.reference_spectral_norm])
def test_spectral_norm_check_accepts_right_answers(fn, capsys):
    assert ex.check_spectral_norm(fn) is True
    assert ex.check_spectral_norm(fn, hidden=True) is True
    assert "Correct: spectral_norm" in capsys.readouterr().out


@pytest.mark.parametrize("hidden", [False, True])
def test_the_spectral_cases_converge_or_stay_clearly_below(hidden):
    """50 iterations reach the SVD's value; one to three stay clearly below it (so an SVD cannot pass for them)."""
    for case, kernel, u, iterations, _ in ex._spectral_cases(hidden):
        w = kernel.astype(np.float64).reshape(-1, kernel.shape[-1])
        top = np.linalg.svd(w, compute_uv=False)[0]
        sigma, u_new = ex.reference_spectral_norm(kernel, u, iterations)
        assert np.isclose(np.linalg.norm(u_new), 1.0) and u_new.shape == (kernel.shape[-1],)
        if iterations >= 50:
            assert abs(sigma - top) < 1e-6 * top, case
        else:
            assert sigma < (1 - 1e-2) * top, case


def numpy_w(kernel):
    return np.reshape(np.asarray(kernel, np.float64), (-1, np.shape(kernel)[-1]))


def iterate(w, u, iterations, normalize=True):
    u = np.asarray(u, np.float64).ravel()
    previous = u
    for _ in range(iterations):
        previous = u
        v = w @ u
        v = v / np.linalg.norm(v) if normalize else v
        u = w.T @ v
        u = u / np.linalg.norm(u) if normalize else u
    return v, u, previous


def sn_with_matrix(matrix):
    def fn(kernel, u, iterations):
        w = matrix(np.asarray(kernel, np.float64))
        v, u, _ = iterate(w, u, iterations)
        return v @ w @ u, u
    return fn


def sn_sigma(sigma_of):
    """The right iteration, then ``sigma_of(w, v, u, u_before)`` as sigma."""
    def fn(kernel, u, iterations):
        w = numpy_w(kernel)
        v, u, previous = iterate(w, u, iterations)
        return sigma_of(w, v, u, previous), u
    return fn


def sn_svd(which):
    def fn(kernel, u, iterations):
        w = numpy_w(kernel)
        _, s, vt = np.linalg.svd(w)
        return s[which], vt[which] * np.sign(vt[which] @ iterate(w, u, iterations)[1])
    return fn


def sn_unnormalized(kernel, u, iterations):
    w = numpy_w(kernel).astype(np.float32)
    v, u, _ = iterate(w, u, iterations, normalize=False)
    return np.float32(v @ w @ u), u / np.linalg.norm(u)


def sn_returns(pick):
    def fn(kernel, u, iterations):
        w = numpy_w(kernel)
        v, u_new, _ = iterate(w, u, iterations)
        return pick(v @ w @ u_new, u_new, v, w, u)
    return fn


def sn_numpy_methods(kernel, u, iterations):
    """NumPy methods that a tensor does not have (.reshape with a shape tuple works on arrays only)."""
    w = kernel.reshape(-1, kernel.shape[-1])
    return sn_solution(w, u, iterations)


SN_WRONG = {
    "Frobenius norm": (sn_sigma(lambda w, v, u, p: np.linalg.norm(w)), "this is the Frobenius norm"),
    "no normalization": (sn_unnormalized, "v and u are not normalized"),
    "reshape (out, -1), transposed": (sn_with_matrix(lambda k: k.reshape(k.shape[-1], -1).T),
                                      r"Dense kernel \(12, 5\).*the kernel is reshaped to \(out, -1\)"),
    "reshape (out, -1), transposed, conv only": (
        sn_with_matrix(lambda k: k.reshape(k.shape[-1], -1).T if k.ndim == 4 else k),
        r"conv kernel \(3, 3, 3, 6\).*the kernel is reshaped to \(out, -1\) \(then transposed\)"),
    "reshape (out, -1)": (sn_with_matrix(lambda k: k.reshape(k.shape[-1], -1)),
                          r"raised ValueError: .*Hint: check the shapes: W = reshape\(kernel, \(-1, out\)\)"),
    "reshape (-1, in), conv only": (sn_with_matrix(lambda k: k.reshape(-1, k.shape[-2]) if k.ndim == 4 else k),
                                    r"raised ValueError: .*Hint: the Dense kernels passed; W = reshape\(kernel, "
                                    r"\(-1, out\)\), .* a conv kernel \(kh, kw, in, out\) as a matrix of shape"),
    "sigma squared, |W u|^2": (sn_sigma(lambda w, v, u, p: np.sum((w @ u) ** 2)), r"this is sigma squared \(\|W u\|"),
    "sigma squared, (v W u)^2": (sn_sigma(lambda w, v, u, p: (v @ w @ u) ** 2), r"this is sigma squared \(\(v\^T"),
    "smallest singular value": (sn_svd(-1), "this is the smallest singular value"),
    "an SVD instead of the iteration": (sn_svd(0), r"this is the exact largest singular value \(an SVD"),
    "sigma before the u update": (sn_sigma(lambda w, v, u, p: v @ w @ p), "sigma uses the u from before the last"),
    "sigma alone": (sn_returns(lambda s, u_new, v, w, u: s), r"expected two values, \(sigma, u_new\), got one value"),
    "v for u": (sn_returns(lambda s, u_new, v, w, u: (s, v)), r"that is v's shape"),
    "u not normalized": (sn_returns(lambda s, u_new, v, w, u: (s, w.T @ v)), "u_new has norm"),
    "the start vector": (sn_returns(lambda s, u_new, v, w, u: (s, u)), "u_new is the u you were given"),
    "NumPy methods on a tensor": (sn_numpy_methods, "it works on NumPy arrays but not on tensors"),
    "nothing returned": (lambda k, u, i: None, "you returned None"),
    "Keras's layer": (lambda k, u, i: keras.layers.SpectralNormalization(keras.layers.Dense(2)),
                      "write it yourself rather than calling SpectralNormalization"),
}


@pytest.mark.parametrize("name", SN_WRONG)
def test_spectral_norm_check_names_each_mistake(name):
    fn, message = SN_WRONG[name]
    with pytest.raises(ExerciseError, match=message):
        ex.check_spectral_norm(fn)


def test_reference_spectral_norm_refuses_bad_input():
    with pytest.raises(ValueError, match=r"iterations must be a number of power iterations \(an int >= 1\), got 0"):
        ex.reference_spectral_norm(np.ones((3, 2)), np.ones(2), 0)
    with pytest.raises(ValueError, match=r"expected u with one entry per output unit \(2\), got shape \(3,\)"):
        ex.reference_spectral_norm(np.ones((3, 2)), np.ones(3), 1)


# ---- Exercise 3: the hinge losses ------------------------------------------------------------------------------

def hinge_solution(real_logits, fake_logits):
    d_loss = tf.reduce_mean(tf.nn.relu(1.0 - real_logits)) + tf.reduce_mean(tf.nn.relu(1.0 + fake_logits))
    return d_loss, -tf.reduce_mean(fake_logits)


def hinge_numpy(real_logits, fake_logits):
    r, f = np.asarray(real_logits), np.asarray(fake_logits)
    return float(np.maximum(0, 1 - r).mean() + np.maximum(0, 1 + f).mean()), float(-f.mean())


@pytest.mark.parametrize("fn", [hinge_solution, hinge_numpy, tf.function(hinge_solution), ex.reference_hinge_losses])
def test_hinge_check_accepts_right_answers(fn, capsys):
    assert ex.check_hinge_losses(fn) is True
    assert ex.check_hinge_losses(fn, hidden=True) is True
    assert "Correct: hinge_losses" in capsys.readouterr().out


def mean(x):
    return tf.reduce_mean(x)


relu = tf.nn.relu

HINGE_WRONG = {
    "no relu": (lambda r, f: (mean(1 - r) + mean(1 + f), -mean(f)), "the relu is missing"),
    "the Wasserstein loss": (lambda r, f: (mean(f) - mean(r), -mean(f)), "this is the Wasserstein critic loss"),
    "real and fake swapped": (lambda r, f: (mean(relu(1 + r)) + mean(relu(1 - f)), -mean(f)),
                              "the signs of real and fake are swapped"),
    "sums": (lambda r, f: (tf.reduce_sum(relu(1 - r)) + tf.reduce_sum(relu(1 + f)), -mean(f)),
             "these are sums over the batches"),
    "halved": (lambda r, f: ((mean(relu(1 - r)) + mean(relu(1 + f))) / 2, -mean(f)), "the two terms are averaged"),
    "one mean of both batches": (lambda r, f: (mean(tf.concat([relu(1 - tf.reshape(r, [-1])),
                                                               relu(1 + tf.reshape(f, [-1]))], 0)), -mean(f)),
                                 "this is the mean over both batches together"),
    "generator hinged": (lambda r, f: (hinge_solution(r, f)[0], mean(relu(1 - f))),
                         "the generator's loss is hinged too"),
    "generator sign": (lambda r, f: (hinge_solution(r, f)[0], mean(f)), "the sign is flipped"),
    "generator sum": (lambda r, f: (hinge_solution(r, f)[0], -tf.reduce_sum(f)), "this is a sum over the batch"),
    "generator non-saturating": (lambda r, f: (hinge_solution(r, f)[0], mean(tf.nn.softplus(-f))),
                                 "this is the non-saturating loss of lesson 04"),
    "d_loss alone": (lambda r, f: hinge_solution(r, f)[0], "got one value, d_loss alone"),
    "g_loss alone": (lambda r, f: hinge_solution(r, f)[1], "got one value, g_loss alone"),
    "wrong order": (lambda r, f: hinge_solution(r, f)[::-1], "the two losses are in the wrong order"),
    "three values": (lambda r, f: (*hinge_solution(r, f), 0.0), "got a tuple of 3 items"),
    "per-example losses": (lambda r, f: (relu(1 - r), -f), r"d_loss: expected d_loss \(one number\), got an array"),
    "nothing returned": (lambda r, f: None, "you returned None"),
    "the lesson's own code": (lambda r, f: (discriminator_loss("hinge", r, f),  # noqa: F821 - refused by name
                                            generator_loss("hinge", f)),  # noqa: F821
                              "write it yourself rather than calling discriminator_loss"),
}


@pytest.mark.parametrize("name", HINGE_WRONG)
def test_hinge_check_names_each_mistake(name):
    fn, message = HINGE_WRONG[name]
    with pytest.raises(ExerciseError, match=message):
        ex.check_hinge_losses(fn)


# ---- All three -------------------------------------------------------------------------------------------------

CHECKS = {"gradient_penalty": (ex.check_gradient_penalty, gp_solution),
          "spectral_norm": (ex.check_spectral_norm, sn_solution),
          "hinge_losses": (ex.check_hinge_losses, hinge_solution)}


@pytest.mark.parametrize("name", CHECKS)
def test_a_stub_is_reported_not_raised(name, capsys):
    def stub(*args):
        raise NotImplementedError()

    assert CHECKS[name][0](stub) is False
    err = capsys.readouterr().err
    assert "not attempted" in err and name in err


def test_each_check_is_its_exercise():
    assert [CHECKS[n][0].exercise_number for n in CHECKS] == [1, 2, 3]
    with pytest.raises(ExerciseError, match="expected a function, got int"):
        ex.check_hinge_losses(3)


@pytest.mark.parametrize("name", CHECKS)
def test_every_case_goes_through_its_harness_as_data(name, data_only_remote):
    """What the grader does: the judge sees only data, right answers pass and a wrong one is still named."""
    check, solution = CHECKS[name]
    remote = data_only_remote(solution)
    assert check(remote) is True and check(remote, hidden=True) is True
    assert remote.harness_names == {f"colour.{name}"}
    wrong = {"gradient_penalty": GP_WRONG["alpha swapped"], "spectral_norm": SN_WRONG["an SVD instead of the iteration"],
             "hinge_losses": HINGE_WRONG["no relu"]}[name]
    with pytest.raises(ExerciseError, match=wrong[1]):
        check(data_only_remote(wrong[0]))


def test_the_harnesses_refuse_bad_cases():
    with pytest.raises(ValueError, match=r"expected a critic in \('linear', 'conv'\), got 'mlp'"):
        harness.colour_critic("mlp", 0)
    with pytest.raises(ValueError, match="w_norm must be a positive number"):
        harness.colour_critic("linear", 0, w_norm=0.0)
    with pytest.raises(ValueError, match=r"n must be a number of images \(an int >= 1\), got 0"):
        harness.critic_case("conv", 0, 1, [])
    with pytest.raises(ValueError, match=r"expected one alpha per image \(3\), got 2"):
        harness.critic_case("conv", 3, 1, [0.1, 0.2])
    with pytest.raises(ValueError, match=r"iterations must be a number of power iterations \(an int >= 1\), got 0"):
        harness.run(sn_solution, "colour.spectral_norm", kernel=np.ones((2, 2)), u=np.ones(2), iterations=0)


def test_the_critics_are_seeded_and_float32():
    a, b = harness.colour_critic("conv", 7), harness.colour_critic("conv", 7)
    assert all(np.array_equal(x, y) for x, y in zip(a.get_weights(), b.get_weights()))
    assert a.output_shape == (None, 1) and all(w.dtype == np.float32 for w in a.get_weights())


# ---- The lesson ------------------------------------------------------------------------------------------------

def _lesson_defines(name):
    return LESSON.exists() and f"def {name}(" in LESSON.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", CHECKS)
def test_the_lessons_solutions_pass(name):
    """The lesson's own solution (an `export` cell) passes its check, visible and hidden cases."""
    if not _lesson_defines(name):
        pytest.skip(f"notebooks/08_colour_gans.py does not define {name} yet")
    from course_utils.lessons import load_lesson_code

    solution = getattr(load_lesson_code("08_colour_gans"), name, None)
    assert callable(solution), f"08_colour_gans defines {name} outside the cells tagged 'export'"
    check = CHECKS[name][0]
    assert check(solution) is True and check(solution, hidden=True) is True
