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


# ---- Exercise 2: D* from log-densities -------------------------------------------------------------------------

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


# ---- Exercise 3: the game on histograms ------------------------------------------------------------------------

def fractions(x_data, x_g, edges):
    return np.histogram(x_data, edges)[0] / len(x_data), np.histogram(x_g, edges)[0] / len(x_g)


def xlogy(a, b):
    return np.where(a > 0, a * np.log(np.where(a > 0, b, 1.0)), 0.0)


def game_solution(x_data, x_g, edges):
    p, q = fractions(x_data, x_g, edges)
    with np.errstate(invalid="ignore"):
        d = p / (p + q)  # NaN where neither sample falls: allowed
    dd = np.nan_to_num(d, nan=0.5)
    m = (p + q) / 2
    return d, float(np.sum(xlogy(p, dd) + xlogy(q, 1 - dd))), float(np.sum(xlogy(p, p / np.where(m > 0, m, 1)))
                                                                     + np.sum(xlogy(q, q / np.where(m > 0, m, 1)))) / 2


def game_with_scipy(x_data, x_g, edges):
    """SciPy's distance squared, 0.5 in unreached bins, a list instead of a tuple, float32 d_star."""
    from scipy.spatial.distance import jensenshannon
    from scipy.special import xlogy as sx

    p, q = fractions(x_data, x_g, edges)
    s = p + q
    d = np.divide(p, s, out=np.full_like(s, 0.5), where=s > 0)
    return [d.astype(np.float32), float(np.sum(sx(p, d) + sx(q, 1 - d))), jensenshannon(p, q) ** 2]


@pytest.mark.parametrize("fn", [game_solution, game_with_scipy])
def test_game_check_accepts_right_answers(fn, capsys):
    """NumPy or SciPy, NaN or 0.5 where no sample falls, a tuple or a list, float64 or float32 d_star; the cases
    have float32 and float64 samples, equal and unequal bins, samples of different sizes."""
    assert ex.check_game_on_histograms(fn) is True
    assert ex.check_game_on_histograms(fn, hidden=True) is True
    out = capsys.readouterr().out
    assert "Correct: game_on_histograms" in out and "-log 4 + 2 JSD agree to" in out


def with_jsd(fn):
    return lambda x, y, e: (*game_solution(x, y, e)[:2], fn(game_solution(x, y, e)[2], x, y, e))


def with_c(fn):
    return lambda x, y, e: (game_solution(x, y, e)[0], fn(x, y, e), game_solution(x, y, e)[2])


def counts_share(x, y, e):
    n_p, n_q = np.histogram(x, e)[0], np.histogram(y, e)[0]
    with np.errstate(invalid="ignore"):
        return n_p / (n_p + n_q)


def naive_c(x, y, e):
    """Skips the bins that no sample reaches, but computes 0 * log 0 as it comes (NaN)."""
    p, q = fractions(x, y, e)
    r = p + q > 0
    with np.errstate(all="ignore"):
        d = p[r] / (p[r] + q[r])
        return float(np.sum(p[r] * np.log(d) + q[r] * np.log(1 - d)))


def density_c(x, y, e):
    p, q = fractions(x, y, e)
    w = np.diff(e)
    d = np.nan_to_num(game_solution(x, y, e)[0], nan=0.5)
    return float(np.sum(xlogy(p / w, d) + xlogy(q / w, 1 - d)))


GAME_WRONG = {
    "D from the counts": (lambda x, y, e: (counts_share(x, y, e), *game_solution(x, y, e)[1:]),
                          r"d_star .*: this is the share of the \*counts\*"),
    "D swapped with 1 - D": (lambda x, y, e: (1 - game_solution(x, y, e)[0], *game_solution(x, y, e)[1:]),
                             r"d_star .*the probability that x is \*generated\*"),
    "0 log 0 as NaN": (with_c(naive_c), r"c = C\(G\) holds NaN or infinity .*0 \* log 0: its limit, 0"),
    "densities in V": (with_c(density_c), r"c = C\(G\): this weights the logs by densities"),
    "V at D = 1/2": (with_c(lambda x, y, e: -np.log(4)), r"c = C\(G\): this is V at D = 1/2 everywhere"),
    "JSD in bits": (with_jsd(lambda j, *a: j / np.log(2)), "jsd: this is the JSD in bits"),
    "JSD's square root": (with_jsd(lambda j, *a: np.sqrt(j)), "jsd: this is the square root of the JSD"),
    "twice the JSD": (with_jsd(lambda j, *a: 2 * j), r"jsd: this is KL\(P \|\| M\) \+ KL\(Q \|\| M\), twice"),
    "one value for all bins": (lambda x, y, e: (0.5, *game_solution(x, y, e)[1:]),
                               r"d_star to hold one value per bin, shape \(30,\) for 31 edges, got shape \(\)"),
    "two things": (lambda x, y, e: game_solution(x, y, e)[1:], r"expected three things, \(d_star, c, jsd\), got a tuple of 2"),
    "None": (lambda x, y, e: None, "you returned None"),
}


@pytest.mark.parametrize("name", GAME_WRONG)
def test_game_check_rejects(name):
    fn, message = GAME_WRONG[name]
    with np.errstate(all="ignore"), pytest.raises(ExerciseError, match=message):
        ex.check_game_on_histograms(fn)


def test_the_reference_obeys_the_identity_and_the_extremes():
    rng = np.random.default_rng(0)
    x, y = rng.normal(0, 1, 500), rng.normal(0.5, 1, 800)
    edges = np.linspace(-6, 6, 25)
    d, c, j = ex.reference_game_on_histograms(x.clip(-5.9, 5.9), y.clip(-5.9, 5.9), edges)
    assert np.isclose(c, -np.log(4) + 2 * j, atol=1e-12)
    d, c, j = ex.reference_game_on_histograms(np.full(3, 0.5), np.full(4, 2.5), np.array([0.0, 1.0, 2.0, 3.0]))
    assert np.array_equal(d[[0, 2]], [1.0, 0.0]) and np.isnan(d[1]) and c == 0.0 and np.isclose(j, np.log(2))


def test_the_exercises_give_no_formula_away():
    """Exercise 1 no longer hands over np.logaddexp; exercise 3 states neither D* nor the identity."""
    import json
    from pathlib import Path

    nb = json.loads((Path(__file__).resolve().parent.parent / "notebooks" / "01_gan_objective.ipynb").read_text())
    cells = nb["cells"]
    start = next(i for i, c in enumerate(cells) if c["cell_type"] == "markdown" and "## Exercises" in "".join(c["source"]))
    text = "".join("".join(c["source"]) for c in cells[start:] if c["cell_type"] == "markdown")
    assert "logaddexp" not in text and "log(1 + e^" not in text
    assert "p_data / (p_data + p_g)" in text  # exercise 2 names the naive formula it must avoid ...
    ex3 = text.split("**Exercise 3.**")[1]
    assert "P_i / (P_i + Q_i)" not in ex3 and "log 4" not in ex3  # ... exercise 3 gives neither answer away


def through_the_grader(fn):
    """fn as the grader's proxy calls it: arguments and result cross as data (course_utils.rpc), nothing else."""
    from course_utils import rpc

    def proxy(*args):
        arrays = {}
        doc = rpc.encode(list(args), arrays)  # raises rpc.NotData for anything but data
        result = fn(*rpc.decode(doc, arrays, tensors=False))
        out = {}
        return rpc.decode(rpc.encode(result, out), out, tensors=False)

    proxy.__course_names__ = set()
    return proxy


def test_exercise_3_is_judged_as_data_outside_the_kernel(capsys):
    assert ex.check_game_on_histograms(through_the_grader(game_solution)) is True
    assert ex.check_game_on_histograms(through_the_grader(game_solution), hidden=True) is True
    with pytest.raises(ExerciseError, match="jsd: this is the JSD in bits"):
        ex.check_game_on_histograms(through_the_grader(GAME_WRONG["JSD in bits"][0]))
