"""The checks of lesson 01's exercises accept the solutions and reject each plausible wrong answer."""

from __future__ import annotations

import numpy as np
import pytest

from course_utils.checks import ExerciseError
from course_utils.exercises import gan_objective as ex

sp = lambda t: np.logaddexp(0, t)  # softplus, stable
sigmoid = lambda t: 1 / (1 + np.exp(-t))  # naive: overflows for large negative t


# ---- Exercise 1: the discriminator loss ----------------------------------------------------------------------

def d_solution(real, fake):
    return np.mean(sp(-real)) + np.mean(sp(fake))


def d_tensorflow(real, fake):  # a TensorFlow answer is as good as a NumPy one
    import tensorflow as tf

    return tf.reduce_mean(tf.nn.softplus(-real)) + tf.reduce_mean(tf.nn.softplus(fake))


D_WRONG = {
    "sign error (returns V, not -V)": lambda r, f: -(np.mean(sp(-r)) + np.mean(sp(f))),
    "naive log(sigmoid)": lambda r, f: -np.mean(np.log(sigmoid(r))) - np.mean(np.log(1 - sigmoid(f))),
    "swapped labels": lambda r, f: np.mean(sp(r)) + np.mean(sp(-f)),
    "sum instead of mean": lambda r, f: np.sum(sp(-r)) + np.sum(sp(f)),
    "mean over both batches concatenated": lambda r, f: np.mean(np.concatenate([sp(-r), sp(f)])),
    "per-example losses, not the mean": lambda r, f: sp(-r[:1]) + sp(f[:1]) + np.zeros(2),
    "forgot the fake term": lambda r, f: np.mean(sp(-r)),
}


def test_discriminator_check_accepts_the_solution(capsys):
    assert ex.check_discriminator_loss(d_solution)
    assert "Correct" in capsys.readouterr().out
    assert ex.check_discriminator_loss(d_tensorflow)


@pytest.mark.parametrize("name", D_WRONG)
def test_discriminator_check_rejects(name):
    with np.errstate(all="ignore"), pytest.raises(ExerciseError, match="discriminator_loss"):
        ex.check_discriminator_loss(D_WRONG[name])


def test_naive_log_sigmoid_is_reported_as_unstable():
    with np.errstate(all="ignore"), pytest.raises(ExerciseError, match="NaN or infinity.*numerically stable"):
        ex.check_discriminator_loss(D_WRONG["naive log(sigmoid)"])


def test_a_crash_and_a_non_function_are_reported():
    with pytest.raises(ExerciseError, match="raised ZeroDivisionError"):
        ex.check_discriminator_loss(lambda r, f: 1 / 0)
    with pytest.raises(ExerciseError, match="expected a function"):
        ex.check_discriminator_loss(3.0)
    with pytest.raises(ExerciseError, match="expected one number"):
        ex.check_discriminator_loss(lambda r, f: "loss")


# ---- Exercise 2: both generator losses ------------------------------------------------------------------------

def mm_solution(fake):
    return -np.mean(sp(fake))


def ns_solution(fake):
    return np.mean(sp(-fake))


MM_WRONG = {
    "sign error (BCE with label 0)": lambda f: np.mean(sp(f)),
    "naive log(1 - sigmoid)": lambda f: np.mean(np.log(1 - sigmoid(f))),
    "the non-saturating loss instead": ns_solution,
    "sum instead of mean": lambda f: -np.sum(sp(f)),
}
NS_WRONG = {
    "swapped labels (BCE with label 0)": lambda f: np.mean(sp(f)),
    "sign error (the article's L(G) itself)": lambda f: -np.mean(sp(-f)),
    "naive -log(sigmoid)": lambda f: -np.mean(np.log(sigmoid(f))),
    "sum instead of mean": lambda f: np.sum(sp(-f)),
}


def test_generator_check_accepts_the_solution():
    assert ex.check_generator_losses(mm_solution, ns_solution)


@pytest.mark.parametrize("name", MM_WRONG)
def test_generator_check_rejects_wrong_minimax(name):
    with np.errstate(all="ignore"), pytest.raises(ExerciseError, match="generator_loss_minimax"):
        ex.check_generator_losses(MM_WRONG[name], ns_solution)


@pytest.mark.parametrize("name", NS_WRONG)
def test_generator_check_rejects_wrong_non_saturating(name):
    with np.errstate(all="ignore"), pytest.raises(ExerciseError, match="generator_loss_non_saturating"):
        ex.check_generator_losses(mm_solution, NS_WRONG[name])


def test_minimax_sign_error_gets_a_specific_hint():
    with pytest.raises(ExerciseError, match="sign is flipped"):
        ex.check_generator_losses(MM_WRONG["sign error (BCE with label 0)"], ns_solution)


# ---- Exercise 3: D* from log-densities -------------------------------------------------------------------------

def dstar_solution(lp, lq):
    return np.exp(-np.logaddexp(0, -(lp - lq)))


DSTAR_WRONG = {
    "naive p / (p + q) (0/0 in the tails)": lambda lp, lq: np.exp(lp) / (np.exp(lp) + np.exp(lq)),
    "swapped: p_g / (p_data + p_g)": lambda lp, lq: dstar_solution(lq, lp),
    "density ratio p / q": lambda lp, lq: np.exp(lp - lq),
    "missing parentheses p / p + q": lambda lp, lq: np.exp(lp) / np.exp(lp) + np.exp(lq),
    "a scalar instead of an array": lambda lp, lq: float(np.mean(dstar_solution(lp, lq))),
}


def test_optimal_discriminator_check_accepts_the_solution():
    assert ex.check_optimal_discriminator(dstar_solution)


@pytest.mark.parametrize("name", DSTAR_WRONG)
def test_optimal_discriminator_check_rejects(name):
    with np.errstate(all="ignore"), pytest.raises(ExerciseError, match="optimal_discriminator_from_log_densities"):
        ex.check_optimal_discriminator(DSTAR_WRONG[name])


def test_references_agree_with_the_textbook_formulas():
    lp, lq = np.log([0.2, 0.5]), np.log([0.6, 0.5])
    assert np.allclose(ex.reference_optimal_discriminator(lp, lq), [0.25, 0.5])
    r, f = np.array([0.3, -1.0]), np.array([2.0])
    s = lambda t: 1 / (1 + np.exp(-t))
    assert np.isclose(ex.reference_discriminator_loss(r, f), -np.mean(np.log(s(r))) - np.mean(np.log(1 - s(f))))
    assert np.isclose(ex.reference_generator_loss_minimax(f), np.mean(np.log(1 - s(f))))
    assert np.isclose(ex.reference_generator_loss_non_saturating(f), -np.mean(np.log(s(f))))


def test_hidden_cases_reject_an_answer_fitted_to_the_visible_ones():
    from course_utils.exercises.gan_objective import _logit_cases, reference_discriminator_loss

    table = {(tuple(r), tuple(f)): reference_discriminator_loss(r, f) for _, r, f in _logit_cases()}

    def fitted(real, fake):
        return table.get((tuple(real), tuple(fake)), 0.0)

    assert ex.check_discriminator_loss(fitted) is True
    with pytest.raises(ExerciseError, match="7 real and 2 fake logits"):
        ex.check_discriminator_loss(fitted, hidden=True)
    right = lambda real, fake: np.mean(np.logaddexp(0, -real)) + np.mean(np.logaddexp(0, fake))
    assert ex.check_discriminator_loss(right, hidden=True) is True
    assert ex.check_generator_losses(lambda f: -np.mean(np.logaddexp(0, f)), lambda f: np.mean(np.logaddexp(0, -f)),
                                     hidden=True) is True
