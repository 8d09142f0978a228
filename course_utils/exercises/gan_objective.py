"""Automatic checks for the exercises of lesson ``01_gan_objective`` (the GAN objective).

Each check calls the learner's function on several inputs, including logits of size 100 and 1000 where a naive
``log(sigmoid(...))`` overflows to infinity, batches of different sizes so that a sum cannot pass for a mean, and
histograms with bins that only one sample reaches, where a naive ``0 * log 0`` gives NaN. It raises
:class:`course_utils.checks.ExerciseError` naming the input, what was expected and what came, and returns True
(after printing a success line) when every case passes.

Conventions (also stated in the lesson):

* a discriminator logit ``l`` gives ``D = sigmoid(l)``;
* ``discriminator_loss(real_logits, fake_logits)`` is the *negative* of the article's L(D), estimated by batch
  means: ``mean(-log D(x)) + mean(-log(1 - D(G(z))))``; the discriminator minimizes it;
* ``optimal_discriminator_from_log_densities(log_p_data, log_p_g) = p_data / (p_data + p_g)``, element-wise;
* ``game_on_histograms(x_data, x_g, edges) -> (d_star, c, jsd)``: on the histograms of two samples over the same
  bins (P_i, Q_i: the fraction of each sample in bin i), the D_i that maximizes the empirical value
  V = sum_i P_i log D_i + Q_i log(1 - D_i) (any value where neither sample falls), its maximum C(G), and
  JSD(P || Q) = KL(P || M) / 2 + KL(Q || M) / 2 with M = (P + Q) / 2, in nats, 0 log 0 = 0.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..checks import ExerciseError, as_scalar, call_safely, check_close, exercise, name_mistake, passed, softplus


def reference_discriminator_loss(real_logits: np.ndarray, fake_logits: np.ndarray) -> float:
    """The reference answer: ``mean(softplus(-real)) + mean(softplus(fake))`` (``-log sigmoid(l) = softplus(-l)``).

    Introduced in 01_gan_objective.
    """
    return float(np.mean(softplus(-np.asarray(real_logits, np.float64)))
                 + np.mean(softplus(np.asarray(fake_logits, np.float64))))


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


@exercise(2, "optimal_discriminator_from_log_densities")
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


# ---------------------------------------------------------------------------------------------
# Exercise 3: the game on histograms
# ---------------------------------------------------------------------------------------------

def _xlogy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``x * log(y)`` with ``0 * log(anything) = 0`` (the limit), element-wise."""
    out = np.zeros(np.broadcast(x, y).shape)
    nz = x != 0
    out[nz] = x[nz] * np.log(y[nz])
    return out


def _fractions(x_data: np.ndarray, x_g: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = np.histogram(np.asarray(x_data, np.float64), np.asarray(edges, np.float64))[0] / len(x_data)
    q = np.histogram(np.asarray(x_g, np.float64), np.asarray(edges, np.float64))[0] / len(x_g)
    return p, q


def reference_game_on_histograms(x_data: np.ndarray, x_g: np.ndarray,
                                 edges: np.ndarray) -> tuple[np.ndarray, float, float]:
    """The reference answer to exercise 3: ``(d_star, c, jsd)`` on the histograms of two samples.

    ``d_star`` is NaN in bins that neither sample reaches (any D does there); ``c`` is the largest value of
    ``V = sum_i P_i log D_i + Q_i log(1 - D_i)``; ``jsd`` is JSD(P || Q) in nats. Both sums take ``0 log 0 = 0``.

    Introduced in 01_gan_objective.

    Args:
        x_data: samples of the data distribution (1-D).
        x_g: samples of the generator (1-D, any size).
        edges: increasing bin edges, as for ``np.histogram``; every sample lies within them.

    Returns:
        ``(d_star, c, jsd)``.
    """
    p, q = _fractions(x_data, x_g, edges)
    s = p + q
    d = np.full(s.shape, np.nan)
    np.divide(p, s, out=d, where=s > 0)
    dd = np.where(s > 0, d, 0.5)
    c = float(np.sum(_xlogy(p, dd) + _xlogy(q, 1.0 - dd)))
    m = s / 2
    mm = np.where(m > 0, m, 1.0)
    jsd = 0.5 * float(np.sum(_xlogy(p, p / mm))) + 0.5 * float(np.sum(_xlogy(q, q / mm)))
    return d, c, jsd


def _histogram_cases(hidden: bool) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    if hidden:
        rng = np.random.default_rng(1407)
        return [
            ("1200 data samples of N(1, 1) and 700 generated of N(-1, 2), 25 equal bins on [-9, 9]",
             rng.normal(1, 1, 1200), rng.normal(-1, 2, 700).clip(-8.9, 8.9), np.linspace(-9, 9, 26)),
            ("600 data samples and 2400 generated, uniform on [0, 2] and [1, 3], 9 unequal bins",
             rng.uniform(0, 2, 600), rng.uniform(1, 3, 2400), np.array([0, 0.3, 0.5, 1.0, 1.2, 1.9, 2.0, 2.5, 2.7, 3])),
        ]
    rng = np.random.default_rng(2014)
    return [
        ("2000 data samples of N(0, 1) and 3000 generated of N(1, 0.5^2), 30 equal bins on [-5, 5]",
         rng.normal(0, 1, 2000).clip(-4.99, 4.99), rng.normal(1, 0.5, 3000), np.linspace(-5, 5, 31)),
        ("two samples of N(0, 1), 1000 each, 12 equal bins on [-6, 6] (p_g = p_data)",
         rng.normal(0, 1, 1000).clip(-5.99, 5.99), rng.normal(0, 1, 1000).clip(-5.99, 5.99), np.linspace(-6, 6, 13)),
        ("500 float32 data samples and 1500 generated, 8 unequal bins on [0, 4]",
         rng.gamma(2.0, 0.5, 500).clip(0.01, 3.99).astype(np.float32),
         rng.uniform(0.5, 3.5, 1500).astype(np.float32), np.array([0.0, 0.2, 0.7, 1.0, 1.1, 2.0, 2.4, 3.3, 4.0])),
        ("disjoint supports: 400 data samples on [0, 1], 800 generated on [2, 3], 6 bins on [0, 3]",
         rng.uniform(0, 1, 400), rng.uniform(2, 3, 800), np.linspace(0, 3, 7)),
    ]


def _histogram_mistakes(x_data: np.ndarray, x_g: np.ndarray,
                        edges: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, float], dict[str, float]]:
    """The usual slips' answers for one case: (for d_star, for c, for jsd)."""
    p, q = _fractions(x_data, x_g, edges)
    n_p, n_q = p * len(x_data), q * len(x_g)
    s = p + q
    mask = s > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        counts_d = n_p[mask] / (n_p + n_q)[mask]
        d = p[mask] / s[mask]
        widths = np.diff(np.asarray(edges, np.float64))[mask]
        pd, qd = p[mask] / widths, q[mask] / widths
        dens_c = float(np.sum(_xlogy(pd, d) + _xlogy(qd, 1.0 - d)))
    _, _, jsd = reference_game_on_histograms(x_data, x_g, edges)
    pm, qm = p[mask], q[mask]
    cd = np.clip(counts_d, 0.0, 1.0)
    counts_c = float(np.sum(_xlogy(pm, cd) + _xlogy(qm, 1.0 - cd)))
    d_mistakes = {
        "this is the share of the *counts*, n_data / (n_data + n_g); the two samples have different sizes, so "
        "compare the fractions of each sample that fall in the bin": counts_d,
        "this is the probability that x is *generated*: D(x) is the probability that x is real": 1.0 - d,
    }
    c_mistakes = {
        "this is V for the counts' share n_data / (n_data + n_g), not for the best D; the samples differ in size, "
        "so use the fractions of each sample": counts_c,
        "this weights the logs by densities (fraction / bin width); V sums the fractions P_i and Q_i themselves, "
        "which sum to 1 (the bins here are not all equally wide)": dens_c,
        "this is V at D = 1/2 everywhere, -log 4, not its maximum": -np.log(4.0),
        "this is V with the roles of D and 1 - D swapped (the probability of *generated*)":
            float(np.sum(_xlogy(pm, 1.0 - d) + _xlogy(qm, d))) if np.all((d > 0) & (d < 1)) else float("-inf"),
    }
    j_mistakes = {
        "this is the JSD in bits (log base 2); the identity with -log 4 uses natural logarithms (nats)":
            jsd / np.log(2.0),
        "this is the square root of the JSD (what scipy.spatial.distance.jensenshannon returns): square it":
            float(np.sqrt(jsd)),
        "this is KL(P || M) + KL(Q || M), twice the JSD: the JSD is their mean": 2.0 * jsd,
    }
    return d_mistakes, c_mistakes, j_mistakes


def _as_triple(got: object, what: str) -> tuple[object, object, object]:
    if got is None:
        raise ExerciseError(f"{what}: you returned None. Did you forget the `return` statement?")
    if not isinstance(got, tuple | list) or len(got) != 3:
        kind = f"a {type(got).__name__} of {len(got)} items" if isinstance(got, tuple | list) else type(got).__name__
        raise ExerciseError(f"{what}: expected three things, (d_star, c, jsd), got {kind}")
    return got[0], got[1], got[2]


@exercise(3, "game_on_histograms")
def check_game_on_histograms(fn: Callable[[np.ndarray, np.ndarray, np.ndarray], tuple], *,
                             hidden: bool = False) -> bool:
    """Check ``fn(x_data, x_g, edges) -> (d_star, c, jsd)`` against :func:`reference_game_on_histograms`.

    The cases have samples of different sizes, bins of different widths, float32 samples, bins that only one
    sample reaches (a term ``0 * log 0`` there) and two samples with disjoint supports. ``d_star`` is compared
    only in bins that at least one sample reaches.

    Introduced in 01_gan_objective.

    Args:
        fn: the learner's function.
        hidden: use the grading cases instead of the visible ones.

    Returns:
        True when every case passes (after printing, for each case, how far the learner's C(G) is from
        -log 4 + 2 JSD).

    Raises:
        ExerciseError: naming the case and, where it is a known slip, the slip: counts instead of fractions, D
            swapped with 1 - D, densities weighting V, V at D = 1/2, a JSD in bits, its square root or twice it,
            NaN from ``0 * log 0``.
    """
    cases = _histogram_cases(hidden)
    whats, answers, expected, mistakes = [], [], [], []
    for case, x_data, x_g, edges in cases:
        what = f"game_on_histograms({case})"
        got = call_safely(fn, x_data.copy(), x_g.copy(), edges.copy(), what=what)
        d_star, c, jsd = _as_triple(got, what)
        n_bins = len(edges) - 1
        try:
            d_arr = np.asarray(d_star, np.float64)
        except (TypeError, ValueError):
            raise ExerciseError(f"{what}: expected d_star to be an array of numbers, got {type(d_star).__name__}") from None
        if d_arr.shape != (n_bins,):
            raise ExerciseError(f"{what}: expected d_star to hold one value per bin, shape ({n_bins},) for "
                                f"{len(edges)} edges, got shape {d_arr.shape}")
        c = as_scalar(c, f"{what}: c", meaning="C(G), one number")
        jsd = as_scalar(jsd, f"{what}: jsd", meaning="the JSD, one number")
        ref_d, ref_c, ref_j = reference_game_on_histograms(x_data, x_g, edges)
        mask = ~np.isnan(ref_d)
        whats.append(what)
        answers.append((d_arr[mask], c, jsd))
        expected.append((ref_d[mask], ref_c, ref_j))
        mistakes.append(_histogram_mistakes(x_data, x_g, edges))
    parts = (("d_star (in the bins that a sample reaches)", 0), ("c = C(G)", 1), ("jsd", 2))
    for label, k in parts:
        got_k, want_k = [a[k] for a in answers], [e[k] for e in expected]
        table = {text: [m[k][text] for m in mistakes] for text in mistakes[0][k]}
        for what, got, want in zip(whats, got_k, want_k):
            if _close(got, want):
                continue
            if not np.all(np.isfinite(got)):
                raise ExerciseError(f"{what}: {label} holds NaN or infinity ({_describe_short(got)}), expected "
                                    f"{_describe_short(want)}. In a bin that only one sample reaches, a term is "
                                    "0 * log 0: its limit, 0, is what counts.")
            slip = name_mistake(got_k, table, want_k, rtol=1e-6, atol=1e-9)
            hint = f": {slip}" if slip else ""
            check_close(got, want, what=f"{what}, {label}{hint}", rtol=1e-6, atol=1e-9)
    gaps = [abs(c + np.log(4.0) - 2 * jsd) for _, c, jsd in answers]
    print(f"Your C(G) and -log 4 + 2 JSD agree to {max(gaps):.1e} in every case (the identity of section 3 holds "
          "for histograms too).")
    return passed("game_on_histograms")


def _close(got: object, want: object) -> bool:
    g, w = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return g.shape == w.shape and bool(np.all(np.isfinite(g))) and bool(np.allclose(g, w, rtol=1e-6, atol=1e-9))


def _describe_short(value: object) -> str:
    arr = np.asarray(value, np.float64)
    return repr(float(arr)) if arr.ndim == 0 else f"{int(np.sum(~np.isfinite(arr)))} of {arr.size} values not finite"
