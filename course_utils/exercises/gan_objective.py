"""Automatic checks for the exercises of lesson ``01_gan_objective`` (the GAN objective).

Each check calls the learner's function on several inputs, including logits of size 100 and 1000 where a naive
``log(sigmoid(...))`` overflows to infinity, and batches of different sizes so that a sum cannot pass for a
mean. It raises :class:`course_utils.checks.ExerciseError` naming the input, what was expected and what came,
and returns True (after printing a success line) when every case passes.

Conventions (also stated in the lesson):

* a discriminator logit ``l`` gives ``D = sigmoid(l)``;
* ``discriminator_loss(real_logits, fake_logits)`` is the *negative* of the article's L(D), estimated by batch
  means: ``mean(-log D(x)) + mean(-log(1 - D(G(z))))``; the discriminator minimizes it;
* ``generator_loss_minimax(fake_logits) = mean(log(1 - D(G(z))))`` (Goodfellow et al., 2014, eq. 1; G minimizes);
* ``generator_loss_non_saturating(fake_logits) = mean(-log D(G(z)))`` (the negative of the article's L(G));
* ``optimal_discriminator_from_log_densities(log_p_data, log_p_g) = p_data / (p_data + p_g)``, element-wise.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..checks import ExerciseError, as_scalar, call_safely, check_close, exercise, passed, softplus


def reference_discriminator_loss(real_logits: np.ndarray, fake_logits: np.ndarray) -> float:
    """The reference answer: ``mean(softplus(-real)) + mean(softplus(fake))`` (``-log sigmoid(l) = softplus(-l)``).

    Introduced in 01_gan_objective.
    """
    return float(np.mean(softplus(-np.asarray(real_logits, np.float64)))
                 + np.mean(softplus(np.asarray(fake_logits, np.float64))))


def reference_generator_loss_minimax(fake_logits: np.ndarray) -> float:
    """The reference answer: ``mean(log(1 - sigmoid(l))) = -mean(softplus(l))``.

    Introduced in 01_gan_objective.
    """
    return float(-np.mean(softplus(np.asarray(fake_logits, np.float64))))


def reference_generator_loss_non_saturating(fake_logits: np.ndarray) -> float:
    """The reference answer: ``mean(-log sigmoid(l)) = mean(softplus(-l))``.

    Introduced in 01_gan_objective.
    """
    return float(np.mean(softplus(-np.asarray(fake_logits, np.float64))))


def reference_optimal_discriminator(log_p_data: np.ndarray, log_p_g: np.ndarray) -> np.ndarray:
    """The reference answer: ``sigmoid(log_p_data - log_p_g)``, which equals ``p_data / (p_data + p_g)``.

    Introduced in 01_gan_objective.
    """
    diff = np.asarray(log_p_data, np.float64) - np.asarray(log_p_g, np.float64)
    return np.exp(-np.logaddexp(0.0, -diff))


def _logit_cases(hidden: bool = False) -> list[tuple[str, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(2014)
    if hidden:
        rng = np.random.default_rng(1406)
        return [
            ("7 real and 2 fake logits", rng.normal(1, 3, 7), rng.normal(-1, 3, 2)),
            ("logits of size 500", np.array([500.0, -500.0, 0.0]), np.array([-500.0, 2.0, 500.0, 7.0])),
        ]
    return [
        ("moderate logits, 5 real and 3 fake", rng.normal(0, 2, 5), rng.normal(0, 2, 3)),
        ("a confident discriminator, 4 real and 6 fake", rng.normal(6, 1, 4), rng.normal(-6, 1, 6)),
        ("logits of size 100", np.array([100.0, -100.0, 3.0]), np.array([-100.0, 100.0])),
        ("logits of size 1000 (exp overflows)", np.array([1000.0, -1000.0]), np.array([1000.0, -1000.0, 0.5, 2.0])),
        ("float32 logits of size 100", np.array([-100.0, 100.0, 1.0], np.float32), np.array([100.0], np.float32)),
    ]


_MEAN = "one number (the batch mean)"


@exercise(1, "discriminator_loss_np")
def check_discriminator_loss(fn: Callable[[np.ndarray, np.ndarray], float], *, hidden: bool = False) -> bool:
    """Check ``fn(real_logits, fake_logits)`` against ``mean(-log D(x)) + mean(-log(1 - D(G(z))))``.

    Introduced in 01_gan_objective.

    Args:
        fn: the learner's discriminator loss; takes two 1-D arrays of logits (they may differ in length).
        hidden: use the grading cases instead of the visible ones.

    Returns:
        True when every case passes.

    Raises:
        ExerciseError: on the first case that fails (wrong sign, swapped labels, sum instead of mean,
            an unstable ``log(sigmoid)`` giving inf/NaN, ...).
    """
    for case, real, fake in _logit_cases(hidden):
        what = f"discriminator_loss({case})"
        got = call_safely(fn, real.copy(), fake.copy(), what=what)
        check_close(as_scalar(got, what, meaning=_MEAN), reference_discriminator_loss(real, fake), what=what,
                    rtol=1e-5, atol=1e-5)
    return passed("discriminator_loss")


@exercise(2, "generator_loss_minimax_np / generator_loss_non_saturating_np")
def check_generator_losses(minimax_fn: Callable[[np.ndarray], float],
                           non_saturating_fn: Callable[[np.ndarray], float], *, hidden: bool = False) -> bool:
    """Check both generator losses: ``mean(log(1 - D(G(z))))`` and ``mean(-log D(G(z)))``.

    Introduced in 01_gan_objective.

    Args:
        minimax_fn: the learner's ``generator_loss_minimax(fake_logits)``.
        non_saturating_fn: the learner's ``generator_loss_non_saturating(fake_logits)``.
        hidden: use the grading cases instead of the visible ones.

    Returns:
        True when every case passes.

    Raises:
        ExerciseError: on the first case that fails.
    """
    for case, _, fake in _logit_cases(hidden):
        what = f"generator_loss_minimax({case}, fake logits only)"
        got = call_safely(minimax_fn, fake.copy(), what=what)
        expected = reference_generator_loss_minimax(fake)
        got = as_scalar(got, what, meaning=_MEAN)
        if np.isfinite(got) and abs(got + expected) < 1e-5 * max(1.0, abs(expected)) and abs(expected) > 1e-3:
            raise ExerciseError(f"{what}: expected {expected:.6g}, got {got:.6g}: the sign is flipped. The minimax "
                                "generator *minimizes* log(1 - D(G(z))), which is <= 0.")
        check_close(got, expected, what=what, rtol=1e-5, atol=1e-5)
        what = f"generator_loss_non_saturating({case}, fake logits only)"
        got = call_safely(non_saturating_fn, fake.copy(), what=what)
        check_close(as_scalar(got, what, meaning=_MEAN), reference_generator_loss_non_saturating(fake), what=what,
                    rtol=1e-5, atol=1e-5)
    return passed("generator_loss_minimax and generator_loss_non_saturating")


@exercise(3, "optimal_discriminator_from_log_densities")
def check_optimal_discriminator(fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> bool:
    """Check ``fn(log_p_data, log_p_g)`` against ``D*(x) = p_data(x) / (p_data(x) + p_g(x))``, element-wise.

    The inputs are log-densities; some are around -1000, where ``exp`` underflows to 0 and a naive
    ``p / (p + q)`` gives 0/0 = NaN.

    Introduced in 01_gan_objective.

    Args:
        fn: the learner's function; takes two arrays of the same shape and returns one of that shape.

    Returns:
        True when every case passes.

    Raises:
        ExerciseError: on the first case that fails.
    """
    x = np.linspace(-3.0, 3.0, 7)
    log_normal = lambda mu, s: -0.5 * ((x - mu) / s) ** 2 - np.log(s * np.sqrt(2 * np.pi))
    cases = [
        ("p_data = N(0, 1), p_g = N(1, 0.5) on 7 points", log_normal(0.0, 1.0), log_normal(1.0, 0.5)),
        ("p_g = p_data", log_normal(0.5, 1.0), log_normal(0.5, 1.0)),
        ("far tails: log-densities near -1000",
         np.array([-1000.0, -1001.0, -5.0]), np.array([-1002.0, -1000.0, -1000.0])),
        ("a (2, 2) array", np.log(np.array([[0.1, 0.2], [0.3, 0.4]])), np.log(np.array([[0.3, 0.2], [0.1, 0.05]]))),
    ]
    for case, lp, lq in cases:
        what = f"optimal_discriminator_from_log_densities({case})"
        got = call_safely(fn, lp.copy(), lq.copy(), what=what)
        check_close(got, reference_optimal_discriminator(lp, lq), what=what, rtol=1e-6, atol=1e-9)
    return passed("optimal_discriminator_from_log_densities")
