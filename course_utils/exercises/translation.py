"""Automatic checks for the exercises of lesson ``09_image_translation``: CycleGAN's cycle loss, pix2pix's
conditional discriminator loss, and the least-squares GAN losses of the lesson's CycleGAN.

Conventions (also stated in the lesson):

* ``cycle_loss(x, y, g, f) -> number``: ``mean(|f(g(x)) - x|) + mean(|g(f(y)) - y|)`` (Zhu et al. 2017, without
  the weight lambda), each mean over every element of its own batch; ``x`` a float32 batch of Google-style images
  ``(n, h, w, 3)`` in [-1, 1], ``y`` one of Twitter-style images ``(m, h, w, 3)`` (``m`` may differ from ``n``);
  ``g`` (Google -> Twitter) and ``f`` (Twitter -> Google) map a batch to a batch of the same shape;
* ``conditional_d_loss(disc, source, target, fake) -> number``: ``mean(softplus(-disc(concat[source, target]))) +
  mean(softplus(disc(concat[source, fake])))``, the PatchGAN fed ``(n, h, w, 6)``, the condition's 3 channels first
  (as in lesson 06), and returning logits ``(n, p, p, 1)``;
* ``lsgan_losses(real_scores, fake_scores) -> (d_loss, g_loss)``: ``d_loss = 0.5 * (mean((real - 1)^2) +
  mean(fake^2))`` (Mao et al. 2017, halved as in CycleGAN), ``g_loss = mean((fake - 1)^2)``, two numbers; the scores
  are patch maps ``(n, p, p, 1)``, the two batches of different sizes in some case.

The learner may use NumPy or TensorFlow and return Python numbers, 0-d arrays or scalar tensors. The checks' ``g``,
``f`` and ``disc`` are small deterministic Python functions built by :mod:`course_utils.harness` from plain data
(``translation.cycle_loss``, ``translation.conditional_d_loss``, ``translation.lsgan_losses``), so that a teacher's
grader can run the learner's function in its sandbox: ``g`` and ``f`` are per-channel ``tanh(scale * x + shift)``
colour maps (not inverses of each other, and they do not commute), ``disc`` a fixed linear 2x2-strided patch
projection that records what it was fed (a Python function: call ``conditional_d_loss`` eagerly, not in a
``tf.function``). One discriminator case has logits up to about +-50, where ``log(sigmoid(l))`` overflows in
float32. Each check raises :class:`course_utils.checks.ExerciseError` naming the case and, where the answers match a
known mistake on every case, the mistake; it returns True (after printing a success line) when every case passes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import harness
from ..checks import ExerciseError, as_scalar, call_safely, exercise, forbid_calls, name_mistake, passed, softplus

__all__ = ["check_conditional_d_loss", "check_cycle_loss", "check_lsgan_losses", "reference_conditional_d_loss",
           "reference_cycle_loss", "reference_lsgan_losses"]

RTOL, ATOL = 1e-4, 1e-5  # float32 answers


def _require_function(fn: Any) -> None:
    if not callable(fn):
        raise ExerciseError(f"expected a function, got {type(fn).__name__}")


def _scalar(value: Any, what: str, meaning: str = "the loss (one number)") -> float:
    if isinstance(value, dict) and "not_data" in value:
        raise ExerciseError(f"{what}: expected {meaning}, got a {value['not_data']}")
    return as_scalar(value, what, meaning=meaning)


def _judge(whats: Sequence[str], answers: Sequence[float], expected: Sequence[float],
           tables: Sequence[dict[str, float | None]], name: str = "the loss", unstable: str = "") -> None:
    """Raise for the first NaN or infinity (with the hint ``unstable``), then for the first wrong answer, naming the
    mistake that matches every case where it applies (a mistake's None on a case: it does not apply there)."""
    for what, got, want in zip(whats, answers, expected):
        if not np.isfinite(got):
            raise ExerciseError(f"{what}: expected {name} {want:.6g}, got {got}. Is the computation numerically "
                                f"stable?{unstable}")
    for what, got, want in zip(whats, answers, expected):
        if abs(got - want) <= RTOL * abs(want) + ATOL:
            continue
        slip = None
        for text in tables[0]:
            keep = [i for i, t in enumerate(tables) if t[text] is not None]
            if keep and name_mistake([answers[i] for i in keep], {text: [tables[i][text] for i in keep]},
                                     [expected[i] for i in keep], rtol=RTOL, atol=ATOL):
                slip = text
                break
        raise ExerciseError(f"{what}: expected {name} {want:.6g}, got {got:.6g}" + (f": {slip}" if slip else ""))


def _images(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    return rng.uniform(-1.0, 1.0, (n, size, size, 3)).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Exercise 1: the cycle-consistency loss
# ---------------------------------------------------------------------------------------------

def reference_cycle_loss(x: Any, y: Any, g: Callable[[Any], Any], f: Callable[[Any], Any]) -> float:
    """``mean(|f(g(x)) - x|) + mean(|g(f(y)) - y|)`` in float64: exercise 1's answer.

    Introduced in 09_image_translation.
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    return float(np.mean(np.abs(np.asarray(f(g(x)), np.float64) - x))
                 + np.mean(np.abs(np.asarray(g(f(y)), np.float64) - y)))


# G and F: (scale, shift) per channel, chosen (with the images) so that on every case each slip is at least 5% away
# from the right value and from every other slip
_G, _F = ([0.5, -1.9, 0.4], [-0.2, 0.5, -0.1]), ([-1.9, -1.5, 0.5], [-0.1, 0.4, -0.1])


def _cycle_cases(hidden: bool) -> list[tuple[str, dict[str, Any]]]:
    """(case, harness spec): batches of the same size first, then of different sizes; x spread over [-1, 1], y
    (Twitter's flatter colours) near 0.1."""
    rng = np.random.default_rng(909 if hidden else 99)
    sizes = ([(2, 2, 8, False), (3, 3, 4, True), (5, 3, 4, False)] if hidden else
             [(3, 3, 4, False), (2, 2, 6, True), (4, 2, 4, False), (2, 5, 4, True)])
    return [(f"{n} Google and {m} Twitter images of {s}x{s}" + (", as tensors" if t else ""),
             dict(x=_images(rng, n, s), y=np.tanh(rng.normal(0.1, 0.3, (m, s, s, 3))).astype(np.float32), g=_G, f=_F,
                  tensors=t)) for n, m, s, t in sizes]


_CYCLE = "mean(|F(G(x)) - x|) + mean(|G(F(y)) - y|)"


def _cycle_mistakes(x: np.ndarray, y: np.ndarray, g: Callable[[Any], Any], f: Callable[[Any], Any]
                    ) -> dict[str, float | None]:
    """What each known slip gives on one case (None where it does not apply)."""
    x, y = x.astype(np.float64), y.astype(np.float64)
    fwd, bwd = f(g(x)) - x, g(f(y)) - y
    return {
        f"this is the forward cycle alone, mean(|F(G(x)) - x|); add the backward one: {_CYCLE}": np.mean(np.abs(fwd)),
        f"this is the backward cycle alone, mean(|G(F(y)) - y|); add the forward one: {_CYCLE}": np.mean(np.abs(bwd)),
        f"these are squared errors (L2); the cycle loss is an L1 loss, mean absolute errors: {_CYCLE}":
            np.mean(fwd ** 2) + np.mean(bwd ** 2),
        f"this is one mean over both batches together; take one mean per batch and add them: {_CYCLE} (the batches "
        "may differ in size)": np.mean(np.concatenate([np.abs(fwd).ravel(), np.abs(bwd).ravel()])),
        "each reconstruction is compared with the other domain's batch (F(G(x)) with y); a cycle comes back to where "
        f"it started: {_CYCLE}": (np.mean(np.abs(f(g(x)) - y)) + np.mean(np.abs(g(f(y)) - x))
                                  if x.shape == y.shape else None),
        "the compositions are in the wrong order (g(f(x)) and f(g(y))): G goes from Google to Twitter, so the "
        f"Google batch x goes through G first, then F: f(g(x)); and y through F, then G: {_CYCLE}":
            np.mean(np.abs(g(f(x)) - x)) + np.mean(np.abs(f(g(y)) - y)),
        f"this is the identity loss, mean(|G(y) - y|) + mean(|F(x) - x|); the cycle translates and comes back: {_CYCLE}":
            np.mean(np.abs(g(y) - y)) + np.mean(np.abs(f(x) - x)),
        f"these are sums over the pixels; take the mean of each cycle's absolute errors: {_CYCLE}":
            np.sum(np.abs(fwd)) + np.sum(np.abs(bwd)),
    }


def _run_cycle(fn: Callable[..., Any], cases: list[tuple[str, dict[str, Any]]], hint: str) -> None:
    whats, answers, expected, tables = [], [], [], []
    for case, spec in cases:
        what = f"cycle_loss({case})"
        try:
            got = call_safely(harness.run, fn, "translation.cycle_loss", what=what, **spec)
        except ExerciseError as err:
            if err.__cause__ is None or not hint:
                raise
            raise ExerciseError(f"{err}. Hint: {hint}") from err.__cause__
        g, f = harness.colour_map(*spec["g"]), harness.colour_map(*spec["f"])
        whats.append(what)
        answers.append(_scalar(got, what))
        expected.append(reference_cycle_loss(spec["x"], spec["y"], g, f))
        tables.append(_cycle_mistakes(spec["x"], spec["y"], g, f))
    _judge(whats, answers, expected, tables)


@exercise(1, "cycle_loss")
def check_cycle_loss(fn: Callable[..., Any], *, hidden: bool = False) -> bool:
    """Check ``fn(x, y, g, f)`` -> ``mean(|f(g(x)) - x|) + mean(|g(f(y)) - y|)``: CycleGAN's cycle loss.

    ``g`` and ``f`` are per-channel colour maps ``tanh(scale * x + shift)``, neither the other's inverse; the
    batches have the same size in the first cases, different sizes in the last ones (tensors in some).

    Introduced in 09_image_translation.

    Args:
        fn: the learner's ``cycle_loss``.
        hidden: use the grading cases instead of the visible ones.

    Returns:
        True when every case passes (after printing a success line).

    Raises:
        ExerciseError: naming the case and, where the values are those of a known slip on every case, the slip: one
            cycle only, squared errors, one mean over both batches, each batch compared with the other domain's, the
            compositions in the wrong order, the identity loss, sums; None or not one number.
    """
    _require_function(fn)
    forbid_calls(fn, {"make_cyclegan_step": "that is the lesson's own training step; write the loss yourself"},
                 what="cycle_loss")
    cases = _cycle_cases(hidden)
    same = [c for c in cases if len(c[1]["x"]) == len(c[1]["y"])]
    _run_cycle(fn, same, "")
    _run_cycle(fn, [c for c in cases if c not in same],
               "the batches of the same size passed; here they differ: compare F(G(x)) with x and G(F(y)) with y, "
               "each mean over its own batch")
    return passed("cycle_loss")


# ---------------------------------------------------------------------------------------------
# Exercise 2: pix2pix's conditional discriminator loss
# ---------------------------------------------------------------------------------------------

def reference_conditional_d_loss(disc: Callable[[Any], Any], source: Any, target: Any, fake: Any) -> float:
    """``mean(softplus(-disc([source, target]))) + mean(softplus(disc([source, fake])))`` in float64, the pairs
    concatenated on the last axis, the condition first: exercise 2's answer.

    Introduced in 09_image_translation.
    """
    real = np.asarray(disc(np.concatenate([source, target], axis=-1)), np.float64)
    fake_logits = np.asarray(disc(np.concatenate([source, fake], axis=-1)), np.float64)
    return float(np.mean(softplus(-real)) + np.mean(softplus(fake_logits)))


def _d_cases(hidden: bool) -> list[tuple[str, dict[str, Any]]]:
    """(case, harness spec): washed-out fakes, a PatchGAN that leans towards the image's channels, and one case whose
    logits reach about +-50 (chosen so that on every case each slip is at least 2% away from every other value)."""
    rng = np.random.default_rng(2017 if hidden else 1611)  # pix2pix: Isola et al., arXiv 1611.07004
    sizes = [(3, 4, 1.5, True), (2, 6, 12.0, False)] if hidden else [(2, 4, 0.7, False), (3, 6, 1.0, True),
                                                                     (4, 4, 9.0, False)]
    cases = []
    for n, s, scale, tensors in sizes:
        source, target = _images(rng, n, s), _images(rng, n, s)
        fake = np.clip(0.4 * target + 0.6 + rng.normal(0.0, 0.4, target.shape), -1, 1).astype(np.float32)
        weights = rng.normal(0.0, scale, (2, 2, 6)).astype(np.float32)
        weights[..., 3:] += 0.2 * scale
        top = max(float(np.max(np.abs(harness.patch_logits(np.concatenate([source, b], -1), weights, -0.9))))
                  for b in (target, fake))
        name = f"{n} pairs of {s}x{s}" + (f", logits up to +-{top:.0f}" if top > 20 else "") + \
            (", as tensors" if tensors else "")
        cases.append((name, dict(source=source, target=target, fake=fake, weights=weights, bias=-0.9, tensors=tensors)))
    return cases


_D = "mean(softplus(-D([source, target]))) + mean(softplus(D([source, fake])))"


def _d_mistakes(disc: Callable[[Any], Any], s: np.ndarray, t: np.ndarray, f: np.ndarray) -> dict[str, float | None]:
    """What each known slip gives on one case."""
    cat = lambda a, b: np.concatenate([a, b], axis=-1)  # noqa: E731
    real, fake = disc(cat(s, t)), disc(cat(s, f))
    sig = lambda v: 1.0 / (1.0 + np.exp(-v))  # noqa: E731
    return {
        "the condition and the image are concatenated in the wrong order: the condition's channels come first, "
        f"concat([source, image], axis=-1): {_D}":
            float(np.mean(softplus(-disc(cat(t, s)))) + np.mean(softplus(disc(cat(f, s))))),
        f"the fake pair is built with the target: the fake pair is concat([source, fake]): {_D}":
            float(np.mean(softplus(-real)) + np.mean(softplus(real))),
        f"the real pair is built with the generator's output: the real pair is concat([source, target]): {_D}":
            float(np.mean(softplus(-fake)) + np.mean(softplus(fake))),
        f"the labels are swapped: D wants high logits on the real pair and low ones on the fake pair: {_D}":
            float(np.mean(softplus(real)) + np.mean(softplus(-fake))),
        "a sigmoid is applied to the logits before a loss that takes logits (the sigmoid twice): softplus (or "
        f"from_logits=True) takes the logits themselves: {_D}":
            float(np.mean(softplus(-sig(real))) + np.mean(softplus(sig(fake)))),
        f"these are sums over the patches; take the mean of each term: {_D}":
            float(np.sum(softplus(-real)) + np.sum(softplus(fake))),
        "the fake term is the generator's non-saturating loss, softplus(-fake_logits); the discriminator calls the "
        f"fake pair fake: {_D}": float(np.mean(softplus(-real)) + np.mean(softplus(-fake))),
    }


_ALONE = ("the PatchGAN must see the input together with the output (6 channels, condition first), not the output "
          "alone: concat([source, target], axis=-1) and concat([source, fake], axis=-1)")


def _check_fed(fed: Any, what: str, shape: tuple[int, ...]) -> None:
    """Refuse an answer that gave the discriminator anything but a ``(n, h, w, 6)`` pair."""
    if not fed:
        raise ExerciseError(f"{what}: the discriminator was never called: its logits on the real and the fake pairs "
                            f"make the loss, {_D}")
    for x in fed:
        x = np.asarray(x)
        if x.shape == (*shape[:3], 3):
            raise ExerciseError(f"{what}: the discriminator was given shape {x.shape}: {_ALONE}")
        if x.shape != (*shape[:3], 6):
            raise ExerciseError(f"{what}: the discriminator was given shape {x.shape}; it takes one pair per image, "
                                f"{(*shape[:3], 6)}: concat([source, image], axis=-1)")


@exercise(2, "conditional_d_loss")
def check_conditional_d_loss(fn: Callable[..., Any], *, hidden: bool = False) -> bool:
    """Check ``fn(disc, source, target, fake)`` -> pix2pix's discriminator loss on conditional pairs.

    Expected: ``mean(softplus(-disc(concat[source, target]))) + mean(softplus(disc(concat[source, fake])))``, the
    pairs concatenated on the last axis, condition first. ``disc`` is a fixed linear PatchGAN (one logit per 2x2
    patch) that records what it is given; one case has logits up to about +-50, where a naive ``log(sigmoid)``
    overflows; one passes tensors.

    Introduced in 09_image_translation.

    Args:
        fn: the learner's ``conditional_d_loss``.
        hidden: use the grading cases instead of the visible ones.

    Returns:
        True when every case passes (after printing a success line).

    Raises:
        ExerciseError: naming the case and the slip: the output judged alone (3 channels), pairs of another shape,
            and, where the values are those of a known slip on every case, the pair in the wrong order, a pair built
            with the wrong image, swapped labels, a sigmoid before the loss, sums, the generator's term; NaN or
            infinity; None or not one number.
    """
    _require_function(fn)
    forbid_calls(fn, {"make_pix2pix_step": "that is the lesson's own training step; write the loss yourself"},
                 what="conditional_d_loss")
    whats, answers, expected, tables = [], [], [], []
    for case, spec in _d_cases(hidden):
        what = f"conditional_d_loss({case})"
        got = call_safely(harness.run, fn, "translation.conditional_d_loss", what=what, **spec)
        answers.append(_scalar(got["value"], what))
        _check_fed(got["fed"], what, spec["source"].shape)
        disc = lambda x, w=spec["weights"], b=spec["bias"]: harness.patch_logits(x, w, b)  # noqa: E731
        whats.append(what)
        expected.append(reference_conditional_d_loss(disc, spec["source"], spec["target"], spec["fake"]))
        tables.append(_d_mistakes(disc, spec["source"], spec["target"], spec["fake"]))
    _judge(whats, answers, expected, tables, unstable=" -log(sigmoid(l)) is softplus(-l) and -log(1 - sigmoid(l)) is "
                                                      "softplus(l), which never overflow")
    return passed("conditional_d_loss")


# ---------------------------------------------------------------------------------------------
# Exercise 3: the least-squares GAN losses
# ---------------------------------------------------------------------------------------------

def reference_lsgan_losses(real_scores: Any, fake_scores: Any) -> tuple[float, float]:
    """``(0.5 * (mean((real - 1)^2) + mean(fake^2)), mean((fake - 1)^2))`` in float64: exercise 3's answer.

    Introduced in 09_image_translation.
    """
    real, fake = np.asarray(real_scores, np.float64), np.asarray(fake_scores, np.float64)
    return float(0.5 * (np.mean((real - 1.0) ** 2) + np.mean(fake ** 2))), float(np.mean((fake - 1.0) ** 2))


def _lsgan_cases(hidden: bool) -> list[tuple[str, np.ndarray, np.ndarray, bool]]:
    """(case, real scores, fake scores, as tensors): patch maps, batches of different sizes in some."""
    rng = np.random.default_rng(2071 if hidden else 2017)  # LSGAN: Mao et al. 2017
    sizes = [(2, 4, 3, True), (3, 3, 2, False)] if hidden else [(3, 3, 2, False), (2, 5, 2, False), (4, 2, 3, True)]
    return [(f"{n} real and {m} fake patch maps of {p}x{p}" + (", as tensors" if t else ""),
             rng.normal(0.7, 0.6, (n, p, p, 1)), rng.normal(0.3, 0.6, (m, p, p, 1)), t) for n, m, p, t in sizes]


_LS_D, _LS_G = "0.5 * (mean((real - 1)^2) + mean(fake^2))", "mean((fake - 1)^2)"


def _lsgan_mistakes(real: np.ndarray, fake: np.ndarray) -> tuple[dict[str, float | None], dict[str, float | None]]:
    """What each known slip gives as d_loss, and as g_loss, on one case."""
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    d = {
        f"these are the binary cross-entropy (softplus) losses of the standard GAN; the least-squares GAN squares: "
        f"d_loss = {_LS_D}": float(np.mean(softplus(-real)) + np.mean(softplus(fake))),
        f"the 1/2 is missing: CycleGAN halves the discriminator's loss, d_loss = {_LS_D}":
            float(np.mean((real - 1) ** 2) + np.mean(fake ** 2)),
        f"these are absolute values; the least-squares GAN squares: d_loss = {_LS_D}":
            float(0.5 * (np.mean(np.abs(real - 1)) + np.mean(np.abs(fake)))),
        f"this is one mean over real and fake together; take one mean per batch: d_loss = {_LS_D} (the batches may "
        "differ in size)": float(np.mean(np.concatenate([((real - 1) ** 2).ravel(), (fake ** 2).ravel()]))),
    }
    g = {
        f"this is the non-saturating loss mean(softplus(-fake)); the least-squares generator's is g_loss = {_LS_G}":
            float(np.mean(softplus(-fake))),
        "the generator's target is 0 (it minimizes its own score, mean(fake^2)); it wants its images scored as real, "
        f"1: g_loss = {_LS_G}": float(np.mean(fake ** 2)),
        f"these are absolute values; the least-squares GAN squares: g_loss = {_LS_G}": float(np.mean(np.abs(fake - 1))),
        f"the generator's loss is halved; only the discriminator's is: g_loss = {_LS_G}":
            float(0.5 * np.mean((fake - 1) ** 2)),
    }
    return d, g


@exercise(3, "lsgan_losses")
def check_lsgan_losses(fn: Callable[..., Any], *, hidden: bool = False) -> bool:
    """Check ``fn(real_scores, fake_scores) -> (d_loss, g_loss)``: the least-squares GAN losses of CycleGAN.

    Expected: ``d_loss = 0.5 * (mean((real - 1)^2) + mean(fake^2))`` and ``g_loss = mean((fake - 1)^2)``, two
    numbers, on patch maps ``(n, p, p, 1)``; the batches differ in size in some cases; one passes tensors.

    Introduced in 09_image_translation.

    Args:
        fn: the learner's ``lsgan_losses``.
        hidden: use the grading cases instead of the visible ones.

    Returns:
        True when every case passes (after printing a success line).

    Raises:
        ExerciseError: naming the case and, where the values are those of a known slip on every case, the slip: the
            cross-entropy losses, no 1/2, absolute values, one mean over both batches, the generator's target 0 or
            its loss halved; one value instead of two, or the two in the wrong order.
    """
    _require_function(fn)
    forbid_calls(fn, {name: "that is the lesson's own loss; write the least-squares losses yourself"
                      for name in ("lsgan_d", "lsgan_g", "make_cyclegan_step")}, what="lsgan_losses")
    whats, answers, expected, tables = [], [], [], []
    for case, real, fake, tensors in _lsgan_cases(hidden):
        what = f"lsgan_losses({case})"
        got = call_safely(harness.run, fn, "translation.lsgan_losses", real_scores=real, fake_scores=fake,
                          tensors=tensors, what=what)
        want = reference_lsgan_losses(real, fake)
        if not isinstance(got, tuple | list) or len(got) != 2:
            shown = (f"a {type(got).__name__} of {len(got)} items" if isinstance(got, tuple | list) else
                     f"a {got['not_data']}" if isinstance(got, dict) and "not_data" in got else "one value")
            raise ExerciseError(f"{what}: expected two numbers, (d_loss, g_loss), got {shown}")
        d, g = _scalar(got[0], f"{what}: d_loss", "d_loss (one number)"), _scalar(got[1], f"{what}: g_loss",
                                                                                 "g_loss (one number)")
        if np.allclose([g, d], want, rtol=RTOL, atol=ATOL) and not np.allclose([d, g], want, rtol=RTOL, atol=ATOL):
            raise ExerciseError(f"{what}: the two losses are in the wrong order: return (d_loss, g_loss), the "
                                "discriminator's loss first")
        whats.append(what)
        answers.append((d, g))
        expected.append(want)
        tables.append(_lsgan_mistakes(real, fake))
    for i, name in enumerate(("d_loss", "g_loss")):
        _judge(whats, [a[i] for a in answers], [e[i] for e in expected], [t[i] for t in tables], name)
    return passed("lsgan_losses")
