"""Automatic checks for the exercises of lesson ``04_dcgan``: the two halves of a train step, a bug hunt, the k-step
alternating update and the R1 penalty (a tape inside a tape).

The step checks build tiny seeded networks (a discriminator Flatten -> Dense(8) -> LeakyReLU -> Dense(1) on 6x6x1
images, a generator Dense(36) -> reshape to 6x6x1 -> tanh on 3-D noise), twice with identical weights, each with a
fresh ``Adam(2e-4, beta_1=0.5)``. They run the learner's step on one copy and the reference on the other, on the
same inputs, and compare the returned loss, the updated weights and the optimizer's step counter. The cases
include a discriminator with logits near +-200, where a naive ``log(sigmoid(l))`` gives infinity and
``BinaryCrossentropy()`` without ``from_logits=True`` clips to a wrong finite value. The alternating update's
generator also has a BatchNormalization, so that its images depend on ``training=True``; the R1 check uses small
conv discriminators on grey and RGB images. Each check raises
:class:`course_utils.checks.ExerciseError` naming the case and the cause, and returns True (after printing a
success line) when every case passes. Eager functions and ``tf.function``s are both accepted.

Conventions (also stated in the lesson):

* a discriminator logit ``l`` gives ``D = sigmoid(l)``; ``-log D = softplus(-l)`` and ``-log(1 - D) = softplus(l)``;
* ``discriminator_step(discriminator, d_optimizer, real_images, fake_images) -> loss``: one update of the
  discriminator on ``mean(softplus(-D(x))) + mean(softplus(D(G(z))))`` (binary cross-entropy from logits,
  real -> 1, fake -> 0, the sum of the two batch means), the network called with ``training=True``;
* ``generator_step(generator, discriminator, g_optimizer, noise) -> loss``: one update of the generator on the
  non-saturating loss ``mean(softplus(-D(G(z))))``, the images made inside the tape, the generator called with
  ``training=True``, the discriminator left untouched;
* the bug hunt: :data:`TRAINING_LOOP_SOURCE` (shown by :func:`show_training_loop`) runs and has exactly three
  wrong lines, none of them a defect of the lesson's section 1;
* ``alternating_update(generator, d_step, g_step, real_batches, sample_noise, k) -> (d_losses, g_loss)``: k
  discriminator steps, each on the next real batch and fakes from fresh noise, then one generator step;
* ``r1_penalty(discriminator, real_images, gamma) -> penalty``: ``gamma / 2`` times the mean over the batch of each
  real image's squared input-gradient norm ``|grad_x l(x)|^2`` (``l`` the logit, ``training=True``), a tensor that
  an outer tape can differentiate with respect to the discriminator's weights.

The references are the lesson's own solutions, loaded from its cells tagged ``export``
(:func:`course_utils.lessons.load_lesson_code`), so the lesson and its checks cannot disagree.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

import numpy as np

from .. import harness
from ..checks import (
    ExerciseError,
    _returned_none,
    as_scalar,
    call_safely,
    check_close,
    exercise,
    forbid_calls,
    name_mistake,
    passed,
    softplus,
)

__all__ = ["TRAINING_LOOP_SOURCE", "check_alternating_update", "check_bug_hunt", "check_discriminator_step",
           "check_generator_step", "check_r1_penalty", "lesson_function", "reference_discriminator_step",
           "reference_generator_step", "reference_r1_penalty", "show_training_loop"]

IMAGE_SHAPE = harness.TINY_IMAGE_SHAPE
NOISE_DIM = harness.TINY_NOISE_DIM
LEARNING_RATE = harness.TINY_LEARNING_RATE
BETA_1 = harness.TINY_BETA_1

_FROM_LOGITS = ("compute the loss from the logits: tf.nn.softplus(-l) is -log(sigmoid(l)) without the overflow, "
                "or use keras.losses.BinaryCrossentropy(from_logits=True)")


# ---------------------------------------------------------------------------------------------
# Reference answers: the lesson's own exported solutions
# ---------------------------------------------------------------------------------------------

LESSON = "04_dcgan"


@cache
def _lesson() -> Any:
    """The namespace of lesson 04's ``export`` cells (its solutions are there, between the solution markers)."""
    from ..lessons import load_lesson_code

    return load_lesson_code(LESSON)


def lesson_function(name: str) -> Callable[..., Any]:
    """A function defined in an ``export`` cell of 04_dcgan: the lesson's solution that the checks compare with.

    Introduced in 04_dcgan.

    Args:
        name: the function's name, e.g. ``"discriminator_step"``.

    Returns:
        The function, from ``course_utils.lessons.load_lesson_code("04_dcgan")``.

    Raises:
        ValueError: if the lesson's export cells define no function of that name.
    """
    lesson = _lesson()
    fn = getattr(lesson, name, None)
    if not callable(fn):
        raise ValueError(f"expected notebooks/{LESSON}.py to define {name!r} in a cell tagged 'export', found none")
    return fn


def reference_discriminator_step(discriminator: Any, d_optimizer: Any, real_images: Any, fake_images: Any) -> Any:
    """One discriminator update on binary cross-entropy from logits (real -> 1, fake -> 0); returns the loss.

    This is the lesson's ``discriminator_step`` (exercise 1's solution, exported).

    Introduced in 04_dcgan.

    Args:
        discriminator: a Keras model mapping images to one logit each.
        d_optimizer: the discriminator's own optimizer.
        real_images: a batch of real images.
        fake_images: a batch of generated images (a plain tensor: no gradient flows to the generator here).

    Returns:
        The loss ``mean(softplus(-real_logits)) + mean(softplus(fake_logits))`` as a scalar tensor.
    """
    return lesson_function("discriminator_step")(discriminator, d_optimizer, real_images, fake_images)


def reference_generator_step(generator: Any, discriminator: Any, g_optimizer: Any, noise: Any) -> Any:
    """One generator update on the non-saturating loss ``mean(-log D(G(z)))``; returns the loss.

    This is the lesson's ``generator_step`` (exercise 2's solution, exported).

    Introduced in 04_dcgan.

    Args:
        generator: a Keras model mapping noise vectors to images.
        discriminator: a Keras model mapping images to one logit each; it is not updated.
        g_optimizer: the generator's own optimizer.
        noise: a batch of noise vectors.

    Returns:
        The loss ``mean(softplus(-D(G(z))))`` as a scalar tensor.
    """
    return lesson_function("generator_step")(generator, discriminator, g_optimizer, noise)


# ---------------------------------------------------------------------------------------------
# Tiny seeded networks
# ---------------------------------------------------------------------------------------------

# The tiny networks live in course_utils.harness (public, no answers): the harness builds the learner's copies,
# in the grading sandbox when a teacher grades, and the judge here builds the reference's from the same weights.
_tiny_discriminator, _tiny_generator, _adam = harness.tiny_discriminator, harness.tiny_generator, harness.tiny_adam


def _discriminator_weights(rng: np.random.Generator, bias: float = 0.0) -> list[np.ndarray]:
    n_in = int(np.prod(IMAGE_SHAPE))
    return [rng.normal(0.0, 0.3, (n_in, 8)).astype(np.float32), rng.normal(0.0, 0.1, 8).astype(np.float32),
            rng.normal(0.0, 0.5, (8, 1)).astype(np.float32), np.array([bias], np.float32)]


def _generator_weights(rng: np.random.Generator) -> list[np.ndarray]:
    n_out = int(np.prod(IMAGE_SHAPE))
    return [rng.normal(0.0, 0.5, (NOISE_DIM, n_out)).astype(np.float32), rng.normal(0.0, 0.1, n_out).astype(np.float32)]


def _logits(discriminator: Any, images: np.ndarray) -> np.ndarray:
    """The discriminator's logits as float64, from a copy that the learner's function never sees."""
    out = np.asarray(discriminator(images, training=True), np.float64).ravel()
    discriminator.get_layer("probe").seen.clear()
    return out


def _require_function(fn: Any) -> None:
    if not callable(fn):
        raise ExerciseError(f"expected a function, got {type(fn).__name__}")


def _names(model: Any) -> list[str]:
    return [getattr(v, "path", v.name) for v in model.weights]


_LOSS = "the loss (one number, the batch mean)"


def _scalar(value: Any, what: str, meaning: str = _LOSS) -> float:
    """A number that came back from the harness, as one float (a note when it was not data)."""
    if isinstance(value, dict) and "not_data" in value:
        raise ExerciseError(f"{what}: expected {meaning}, got a {value['not_data']}")
    return as_scalar(value, what, meaning=meaning)


# ---------------------------------------------------------------------------------------------
# Shared verdicts
# ---------------------------------------------------------------------------------------------

def _call_step(fn: Callable[..., Any], *args: Any, what: str, no_gradients: str, unknown_variable: str,
               **kwargs: Any) -> Any:
    """Call the learner's step; translate Keras's errors for None gradients and foreign variables into plain words."""
    try:
        return call_safely(fn, *args, what=what, **kwargs)
    except ExerciseError as err:
        cause = err.__cause__
        text = str(cause) if cause is not None else ""
        if "No gradients provided" in text:
            raise ExerciseError(f"{what} raised {type(cause).__name__} 'No gradients provided for any variable': "
                                f"{no_gradients}") from cause
        if "Unknown variable" in text or "originally built with" in text:
            raise ExerciseError(f"{what} raised {type(cause).__name__} (the optimizer was given a variable it was "
                                f"not built for): {unknown_variable}") from cause
        raise


def _check_loss(got: float, expected: float, mistakes: dict[str, float], *, what: str, large_logits: bool) -> None:
    """Compare a loss with the reference; name the mistake when the value is that of a known wrong answer."""
    scale = max(1.0, abs(expected))
    if np.isfinite(got) and abs(got - expected) <= 1e-5 * scale:
        return
    if not np.isfinite(got):
        raise ExerciseError(f"{what}: expected the loss {expected:.6g}, got {got!r}. With logits this large, "
                            f"sigmoid(l) rounds to exactly 0 or 1 in float32 and the log of 0 is -infinity: "
                            f"{_FROM_LOGITS}.")
    mistake = name_mistake([got], {text: [value] for text, value in mistakes.items()}, [expected], rtol=1e-5, atol=1e-5)
    if mistake is not None:
        raise ExerciseError(f"{what}: expected the loss {expected:.6g}, got {got:.6g}: {mistake}.")
    hint = ""
    if large_logits:
        hint = (" With logits this large, a loss computed from probabilities (a sigmoid, then a log, or "
                "BinaryCrossentropy() without from_logits=True, which clips them to [1e-7, 1 - 1e-7]) is wrong: "
                f"{_FROM_LOGITS}.")
    raise ExerciseError(f"{what}: expected the loss {expected:.6g}, got {got:.6g}.{hint}")


def _check_training_flag(seen: Sequence[Any], network: str, what: str) -> None:
    """``seen``: the training flags the network's probe recorded (True, False, or None for no flag)."""
    wrong = [flag for flag in seen if flag is not True]
    if wrong:
        how = "training=False" if any(flag is False for flag in wrong) else "no training argument"
        raise ExerciseError(f"{what}: the {network} was called with {how}. Call it with training=True in a training "
                            "step: layers such as BatchNormalization and Dropout behave differently while training, "
                            "and without the flag Keras runs them in inference mode.")


def _check_steps(steps: int, name: str, unchanged: bool, network: str, what: str) -> None:
    if steps == 1:
        return
    apply = f"{name}.apply_gradients(zip(grads, {network}.trainable_variables))"
    if steps == 0 and unchanged:
        raise ExerciseError(f"{what}: the {network}'s weights did not change and {name} took no step: compute the "
                            f"gradients with tape.gradient and apply them once with {apply}.")
    if steps == 0:
        raise ExerciseError(f"{what}: the {network}'s weights changed, but not through {name} (its step counter "
                            f"is still 0): apply the gradients with {apply} rather than changing the variables by hand.")
    raise ExerciseError(f"{what}: {name} took {steps} steps in one call (its `iterations` went from 0 to {steps}): "
                        "apply the gradients exactly once per call.")


def _check_update(names: Sequence[str], before: Sequence[np.ndarray], after: Sequence[Any],
                  expected: Sequence[np.ndarray], *, network: str, what: str) -> None:
    """Compare the learner's updated weights with the reference's, variable by variable."""
    if len(after) != len(expected):
        raise ExerciseError(f"{what}: the {network} came back with {len(after)} weights, expected {len(expected)}")
    for name, old, got, want in zip(names, before, after, expected):
        got = np.asarray(got)
        if not np.all(np.isfinite(got)):
            raise ExerciseError(f"{what}: the {network}'s variable {name} holds NaN or infinity after the step: the gradients "
                                f"were not finite. Is the loss numerically stable? {_FROM_LOGITS}.")
        # one Adam step moves each weight by about 2e-4; allow a few float32 roundings of the weight itself
        tol = 1e-6 + 4 * np.spacing(np.abs(old).astype(np.float32))
        if np.all(np.abs(got.astype(np.float64) - want) <= tol):
            continue
        got_step, want_step = got.astype(np.float64) - old, want.astype(np.float64) - old
        if np.allclose(got_step, -want_step, rtol=1e-3, atol=tol.max()):
            raise ExerciseError(f"{what}: the {network}'s variable {name} moved in the wrong direction, against the reference "
                                "step: minimize the loss (apply its gradients as they are, do not negate them).")
        worst = float(np.max(np.abs(got - want)))
        raise ExerciseError(f"{what}: after the step the {network}'s variable {name} differs from one Adam step on the "
                            f"returned loss (largest difference {worst:.3g}; one step moves a weight by about "
                            f"{LEARNING_RATE:g}). Take the gradients of that loss with respect to "
                            f"{network}.trainable_variables and apply them once.")


# ---------------------------------------------------------------------------------------------
# Exercise 1: one discriminator step
# ---------------------------------------------------------------------------------------------

def _discriminator_cases() -> list[tuple[str, list[np.ndarray], np.ndarray, np.ndarray, bool]]:
    rng = np.random.default_rng(404)
    return [
        ("5 real and 3 fake 6x6 images, moderate logits", _discriminator_weights(rng),
         rng.normal(0.0, 1.0, (5, *IMAGE_SHAPE)).astype(np.float32),
         rng.uniform(-1.0, 1.0, (3, *IMAGE_SHAPE)).astype(np.float32), False),
        ("a discriminator that calls every image real, logits near +200 (4 real, 6 fake)",
         _discriminator_weights(rng, bias=200.0), rng.normal(0.0, 1.0, (4, *IMAGE_SHAPE)).astype(np.float32),
         rng.uniform(-1.0, 1.0, (6, *IMAGE_SHAPE)).astype(np.float32), True),
        ("a discriminator that calls every image fake, logits near -200 (3 real, 2 fake)",
         _discriminator_weights(rng, bias=-200.0), rng.normal(0.0, 1.0, (3, *IMAGE_SHAPE)).astype(np.float32),
         rng.uniform(-1.0, 1.0, (2, *IMAGE_SHAPE)).astype(np.float32), True),
    ]


def _discriminator_mistakes(real: np.ndarray, fake: np.ndarray) -> dict[str, float]:
    sp_real, sp_fake = softplus(-real), softplus(fake)
    return {
        "the labels are swapped: real images must get label 1 and generated ones label 0 (the discriminator's "
        "loss is low when D(x) is near 1 on real images)": float(np.mean(softplus(real)) + np.mean(softplus(-fake))),
        "the sign is flipped: the discriminator minimizes -log D(x) - log(1 - D(G(z))), which is >= 0":
            -float(np.mean(sp_real) + np.mean(sp_fake)),
        "this is the article's loss, mean(log D(x)) on real images only; minimizing it drives D(x) to 0 on real "
        "images. The discriminator's loss has two terms: -log D(x) on the real images and -log(1 - D(G(z))) on "
        "the generated ones": -float(np.mean(sp_real)),
        "the fake term is missing: add mean(-log(1 - D(G(z)))), i.e. binary cross-entropy with label 0 on the "
        "generated images": float(np.mean(sp_real)),
        "the real term is missing: add mean(-log D(x)), i.e. binary cross-entropy with label 1 on the real images":
            float(np.mean(sp_fake)),
        "this is the mean over both batches together; the loss is the sum of two batch means (the batches may "
        "differ in size)": float(np.mean(np.concatenate([sp_real, sp_fake]))),
        "these are sums over the batches; take the mean of each term": float(np.sum(sp_real) + np.sum(sp_fake)),
        "the two terms are averaged; add them instead": 0.5 * float(np.mean(sp_real) + np.mean(sp_fake)),
    }


@exercise(1, "discriminator_step")
def check_discriminator_step(fn: Callable[..., Any]) -> bool:
    """Check ``fn(discriminator, d_optimizer, real_images, fake_images) -> loss``: one discriminator update.

    Expected: under a ``tf.GradientTape``, the logits of the real and the fake images (``training=True``), the loss
    ``mean(softplus(-real_logits)) + mean(softplus(fake_logits))`` (binary cross-entropy from logits, real -> 1,
    fake -> 0), its gradients with respect to ``discriminator.trainable_variables`` applied once with
    ``d_optimizer``; the loss returned (a scalar tensor or a float). ``fake_images`` is a plain tensor.

    Introduced in 04_dcgan.

    Returns:
        True when every case passes.

    Raises:
        ExerciseError: on the first case that fails: swapped labels, the article's real-only loss, a missing term,
            a naive ``log(sigmoid)`` (infinity for large logits), no update or two, ``training`` not True, ...
    """
    import tensorflow as tf

    _require_function(fn)
    for case, weights, real, fake, large in _discriminator_cases():
        what = f"discriminator_step({case})"
        ref_model = _tiny_discriminator(weights)
        real_logits, fake_logits = _logits(ref_model, real), _logits(ref_model, fake)
        expected = float(reference_discriminator_step(ref_model, _adam(ref_model), tf.constant(real),
                                                      tf.constant(fake)))
        # the learner's step runs in the harness (in the grading sandbox when a teacher grades) and comes back as data
        got = _call_step(harness.run, fn, "dcgan.discriminator_step", weights=weights, real=real, fake=fake, what=what,
                         no_gradients="compute the discriminator's logits and the loss inside the "
                                      "`with tf.GradientTape() as tape:` block, so that the tape records them.",
                         unknown_variable="apply d_optimizer to discriminator.trainable_variables only.")
        loss = _scalar(got["loss"], what)
        _check_loss(loss, expected, _discriminator_mistakes(real_logits, fake_logits), what=what, large_logits=large)
        _check_training_flag(got["flags"], "discriminator", what)
        unchanged = all(np.array_equal(a, b) for a, b in zip(weights, got["weights"]))
        _check_steps(got["steps"], "d_optimizer", unchanged, "discriminator", what)
        _check_update(_names(ref_model), weights, got["weights"], ref_model.get_weights(), network="discriminator",
                      what=what)
    return passed("discriminator_step")


# ---------------------------------------------------------------------------------------------
# Exercise 2: one generator step
# ---------------------------------------------------------------------------------------------

def _generator_cases() -> list[tuple[str, list[np.ndarray], list[np.ndarray], np.ndarray, bool]]:
    rng = np.random.default_rng(2015)
    return [
        ("4 noise vectors, moderate logits", _generator_weights(rng), _discriminator_weights(rng),
         rng.normal(0.0, 1.0, (4, NOISE_DIM)).astype(np.float32), False),
        ("a discriminator that rejects every fake, logits near -200 (5 noise vectors)", _generator_weights(rng),
         _discriminator_weights(rng, bias=-200.0), rng.normal(0.0, 1.0, (5, NOISE_DIM)).astype(np.float32), True),
    ]


def _generator_mistakes(logits: np.ndarray) -> dict[str, float]:
    return {
        "this is the minimax loss mean(log(1 - D(G(z)))), which saturates when the discriminator rejects the fakes; "
        "use the non-saturating loss mean(-log D(G(z)))": -float(np.mean(softplus(logits))),
        "the label is 0, the discriminator's label for fakes: the generator wants D to call its images real, so its "
        "loss is binary cross-entropy with label 1, mean(-log D(G(z)))": float(np.mean(softplus(logits))),
        "the sign is flipped: the article's L(G) = mean(log D(G(z))) is to be maximized, so the generator minimizes "
        "its negative, mean(-log D(G(z)))": -float(np.mean(softplus(-logits))),
        "this is a sum over the batch; take the mean": float(np.sum(softplus(-logits))),
    }


@exercise(2, "generator_step")
def check_generator_step(fn: Callable[..., Any]) -> bool:
    """Check ``fn(generator, discriminator, g_optimizer, noise) -> loss``: one generator update.

    Expected: under a ``tf.GradientTape``, the images ``generator(noise, training=True)`` and their logits, the
    non-saturating loss ``mean(softplus(-fake_logits))`` (``= mean(-log D(G(z)))``), its gradients with respect to
    ``generator.trainable_variables`` only, applied once with ``g_optimizer``; the discriminator's weights are left
    as they were; the loss returned (a scalar tensor or a float).

    Introduced in 04_dcgan.

    Returns:
        True when every case passes.

    Raises:
        ExerciseError: on the first case that fails: images made outside the tape, the minimax loss, a flipped
            sign, a naive ``log(sigmoid)``, the discriminator updated too, no update or two, ...
    """
    import tensorflow as tf

    _require_function(fn)
    for case, g_weights, d_weights, noise, large in _generator_cases():
        what = f"generator_step({case})"
        ref_gen, ref_disc = _tiny_generator(g_weights), _tiny_discriminator(d_weights)
        logits = _logits(ref_disc, np.asarray(ref_gen(noise, training=True)))
        ref_gen.get_layer("probe").seen.clear()
        expected = float(reference_generator_step(ref_gen, ref_disc, _adam(ref_gen), tf.constant(noise)))
        got = _call_step(harness.run, fn, "dcgan.generator_step", g_weights=g_weights, d_weights=d_weights,
                         noise=noise, what=what,
                         no_gradients="the generator's images must be computed inside the GradientTape. Made before "
                                      "the `with tf.GradientTape() as tape:` block, they are a constant to the tape, "
                                      "so every gradient with respect to generator.trainable_variables is None.",
                         unknown_variable="the generator step must update generator.trainable_variables only; the "
                                          "discriminator keeps its weights (it has its own optimizer and step).")
        loss = _scalar(got["loss"], what)
        _check_loss(loss, expected, _generator_mistakes(logits), what=what, large_logits=large)
        if not all(np.array_equal(a, b) for a, b in zip(d_weights, got["d_weights"])):
            raise ExerciseError(f"{what}: the discriminator's weights changed. The generator step must update "
                                "generator.trainable_variables only: take the gradients with respect to those and "
                                "apply them with g_optimizer.")
        _check_training_flag(got["flags"], "generator", what)
        unchanged = all(np.array_equal(a, b) for a, b in zip(g_weights, got["weights"]))
        if unchanged and got["steps"] == 1:
            raise ExerciseError(f"{what}: g_optimizer took a step but the generator's weights did not change: its "
                                "gradients were None. The generator's images must be computed inside the GradientTape.")
        _check_steps(got["steps"], "g_optimizer", unchanged, "generator", what)
        _check_update(_names(ref_gen), g_weights, got["weights"], ref_gen.get_weights(), network="generator",
                      what=what)
    return passed("generator_step")


# ---------------------------------------------------------------------------------------------
# Exercise 3: find the bugs
# ---------------------------------------------------------------------------------------------

# The listing and its printer are public (shown to the learner): they live in course_utils.harness, which the grading
# sandbox also holds; what is wrong with the listing stays here.
TRAINING_LOOP_SOURCE = harness.TRAINING_LOOP_SOURCE
show_training_loop = harness.show_training_loop
SANDBOX_PUBLIC = ("TRAINING_LOOP_SOURCE", "show_training_loop")
"""Names that the grading sandbox's stand-in for this module takes from :mod:`course_utils.harness`."""

_LOOP_LINES = TRAINING_LOOP_SOURCE.splitlines()


def _line_of(text: str) -> int:
    return next(i for i, line in enumerate(_LOOP_LINES, 1) if line.strip().startswith(text))


# What each wrong line does to training, said without pointing at the line.
_BUG_SYMPTOMS = {
    _line_of("real_all ="): "real and generated images differ in something that has nothing to do with digits: "
                            "the generator ends in tanh, and the discriminator can win by looking at one property "
                            "of the pixel values alone. What values can a real pixel take here, and a generated one?",
    _line_of("noise ="): "the generator is fed the very same inputs at every step, so it can learn to draw at most "
                         "batch_size images; noise sampled after training shows images it never trained on. "
                         "Which values must be new at every step?",
    _line_of("idx ="): "the discriminator only ever sees a small part of the dataset, so the generator is rewarded "
                       "for copying those few images. Which images can the random indices reach?",
}
_BUG_LINES = frozenset(_BUG_SYMPTOMS)


@exercise(3, "find_the_bugs")
def check_bug_hunt(find_the_bugs: Callable[[], Any]) -> bool:
    """Check ``find_the_bugs()`` -> the numbers (1-based) of the three wrong lines of :data:`TRAINING_LOOP_SOURCE`.

    A wrong answer is told only how many of the lines it names are wrong lines and how many are right, with what
    the three wrong lines do to training (the same words for every answer): never which line is which, so that
    the feedback cannot be used to find them by elimination.

    Introduced in 04_dcgan.

    Returns:
        True when the answer names exactly the three wrong lines.

    Raises:
        ExerciseError: on anything else (more or fewer than three lines, a number outside the listing, right lines
            named as wrong, wrong lines missed).
    """
    what = "find_the_bugs()"
    got = call_safely(find_the_bugs, what=what)
    if isinstance(got, numbers.Integral) and not isinstance(got, bool):
        raise ExerciseError(f"{what}: expected the numbers of all three wrong lines (a set or list of ints), got one "
                            f"number, {got!r}")
    if isinstance(got, str | bytes) or not isinstance(got, set | frozenset | list | tuple):
        raise ExerciseError(f"{what}: expected a set or list of line numbers, got {type(got).__name__} {got!r}")
    bad = [x for x in got if isinstance(x, bool) or not isinstance(x, numbers.Integral)]
    if bad:
        raise ExerciseError(f"{what}: expected line numbers (ints), got {bad!r}")
    lines = {int(x) for x in got}
    n = len(_LOOP_LINES)
    outside = sorted(x for x in lines if not 1 <= x <= n)
    if outside:
        raise ExerciseError(f"{what}: line(s) {outside} are not in the listing, which has lines 1 to {n} "
                            "(show_training_loop() prints them with their numbers)")
    if len(lines) > len(_BUG_LINES):
        raise ExerciseError(f"{what}: you named {len(lines)} lines; exactly {len(_BUG_LINES)} are wrong. Name only "
                            "those you can say what is wrong with.")
    if lines == _BUG_LINES:
        return passed(f"find the bugs (lines {', '.join(map(str, sorted(_BUG_LINES)))})")
    found = len(lines & _BUG_LINES)
    symptoms = " ".join(f"({i}) {text}" for i, text in enumerate(_BUG_SYMPTOMS.values(), 1))
    raise ExerciseError(f"{what}: {found} of the {len(lines)} lines you named are wrong lines and "
                        f"{len(lines) - found} are right; {len(_BUG_LINES) - found} of the {len(_BUG_LINES)} wrong "
                        f"lines are still to be found. What the three wrong lines do to training: {symptoms}")


# ---------------------------------------------------------------------------------------------
# Exercise 4: k discriminator steps, then one generator step
# ---------------------------------------------------------------------------------------------

def _alternating_cases(hidden: bool) -> list[tuple[int, int, int]]:
    """(k, batch size, seed) per case."""
    return [(1, 5, 11), (4, 2, 12)] if hidden else [(3, 4, 7), (2, 3, 8)]


def _steps(events: list[tuple[Any, ...]], kind: str) -> list[tuple[Any, ...]]:
    return [e for e in events if e[0] == kind]


def _judge_alternating(events: list[tuple[Any, ...]], k: int, m: int, what: str) -> None:
    """Name the first way the learner's sequence of draws and steps differs from k D steps, then one G step."""
    d_steps, g_steps = _steps(events, "d_step"), _steps(events, "g_step")
    if len(d_steps) != k:
        raise ExerciseError(f"{what}: expected {k} discriminator steps (one per value of k), got {len(d_steps)}")
    if len(g_steps) != 1:
        raise ExerciseError(f"{what}: expected one generator step after the {k} discriminator steps, got "
                            f"{len(g_steps)}: the generator moves once per call, after the discriminator has caught up")
    if events.index(g_steps[0]) < events.index(d_steps[-1]):
        raise ExerciseError(f"{what}: the generator's step came before a discriminator step. Goodfellow et al.'s "
                            "algorithm 1 updates the discriminator k times, then the generator once.")
    used_batches, used_noise = [], []
    for i, (_, batch, noise, n_real, n_fake, inference) in enumerate(d_steps, 1):
        if noise is None and inference is not None:
            raise ExerciseError(f"{what}: the fake images of discriminator step {i} were made with the generator in "
                                "inference mode (called without training=True, or with training=False): call "
                                "generator(noise, training=True). Layers such as BatchNormalization (this check's "
                                "generator has one) and Dropout behave differently while training.")
        if batch is None:
            raise ExerciseError(f"{what}: discriminator step {i} was not given a batch from real_batches as it came: "
                                "pass next(real_batches) unchanged")
        if batch in used_batches:
            raise ExerciseError(f"{what}: discriminator step {i} was given the same real batch as step "
                                f"{used_batches.index(batch) + 1}: each step takes the next batch, next(real_batches)")
        if noise is None:
            raise ExerciseError(f"{what}: the fake images of discriminator step {i} are not generator(noise, "
                                "training=True) of noise drawn with sample_noise")
        if noise in used_noise:
            raise ExerciseError(f"{what}: discriminator step {i} was shown the same fakes as step "
                                f"{used_noise.index(noise) + 1}: draw fresh noise for every discriminator step")
        if n_fake != n_real:
            raise ExerciseError(f"{what}: discriminator step {i} got {n_real} real and {n_fake} fake images: draw as "
                                "many noise vectors as there are real images in the batch, sample_noise(len(real))")
        used_batches.append(batch)
        used_noise.append(noise)
    g_noise = g_steps[0][1]
    if g_noise is None:
        raise ExerciseError(f"{what}: the generator step was not given noise drawn with sample_noise")
    if g_noise in used_noise:
        raise ExerciseError(f"{what}: the generator step reused the noise of discriminator step "
                            f"{used_noise.index(g_noise) + 1}: draw fresh noise for the generator's step too")
    sizes = [e[2] for e in events if e[0] == "noise" and e[1] == g_noise]
    if sizes and sizes[0] != m:
        raise ExerciseError(f"{what}: the generator step was given {sizes[0]} noise vectors; use a batch as large "
                            f"as the real batches ({m})")


@exercise(4, "alternating_update")
def check_alternating_update(fn: Callable[..., Any], *, hidden: bool = False) -> bool:
    """Check ``fn(generator, d_step, g_step, real_batches, sample_noise, k) -> (d_losses, g_loss)``.

    Expected: ``k`` times, the next real batch, fresh noise for as many images, ``d_step(real, fakes)`` on the
    generator's images of that noise (``training=True``); then fresh noise and one ``g_step(noise)``; the ``k``
    discriminator losses (a list) and the generator's loss returned. The check hands in recording versions of
    ``d_step``, ``g_step``, ``real_batches`` and ``sample_noise`` (on tiny networks), compares the learner's
    sequence with the lesson's ``alternating_update`` and names the first difference.

    Introduced in 04_dcgan.

    Args:
        fn: the learner's function.
        hidden: use the grading cases instead of the visible ones.

    Returns:
        True when every case passes.

    Raises:
        ExerciseError: naming the case and the mistake (the steps in the wrong order or number, a real batch or
            noise used twice, fakes not made from fresh noise, losses not returned, ...).
    """
    _require_function(fn)
    reference = lesson_function("alternating_update")
    for k, m, seed in _alternating_cases(hidden):
        rng = np.random.default_rng(seed)
        g_weights, d_weights = _generator_weights(rng), _discriminator_weights(rng)
        batches = [rng.normal(0.0, 1.0, (m, *IMAGE_SHAPE)).astype(np.float32) for _ in range(k + 2)]
        what = f"alternating_update(k={k}, real batches of {m} images)"
        ref = harness.Recorder(g_weights, d_weights, batches, seed)
        want = reference(ref.generator, ref.d_step, ref.g_step, ref.real_batches(), ref.sample_noise, k)
        _judge_alternating(ref.events, k, m, "the lesson's alternating_update")  # guards the reference itself
        # the learner's function runs with its own recorder in the harness; the events come back as data
        rec = call_safely(harness.run, fn, "dcgan.alternating_update", g_weights=g_weights, d_weights=d_weights,
                          batches=batches, seed=seed, k=k, what=what)
        got = rec["result"]
        if got is None:
            raise _returned_none(what)
        events = [tuple(e) for e in rec["events"]]
        _judge_alternating(events, k, m, what)
        if not isinstance(got, tuple | list) or len(got) != 2:
            shown = got.get("not_data", "dict") if isinstance(got, dict) else type(got).__name__
            raise ExerciseError(f"{what}: expected (d_losses, g_loss), got {shown}")
        d_losses, g_loss = got
        if not isinstance(d_losses, tuple | list) or len(d_losses) != k:
            size = f" of {len(d_losses)}" if isinstance(d_losses, tuple | list) else ""
            raise ExerciseError(f"{what}: expected d_losses to be a list of the {k} discriminator losses, got "
                                f"{type(d_losses).__name__}{size}")
        for i, (g, w) in enumerate(zip(d_losses, want[0]), 1):
            check_close(_scalar(g, f"{what}: d_losses[{i - 1}]"), float(w),
                        what=f"{what}: d_losses[{i - 1}] (the loss d_step returned at step {i})", rtol=1e-5, atol=1e-6)
        check_close(_scalar(g_loss, f"{what}: g_loss"), float(want[1]),
                    what=f"{what}: g_loss (the loss g_step returned)", rtol=1e-5, atol=1e-6)
        for network, weights, ref_model in (("discriminator", rec["d_weights"], ref.discriminator),
                                            ("generator", rec["g_weights"], ref.generator)):
            for got_w, want_w in zip(weights, ref_model.get_weights()):
                if not np.allclose(got_w, want_w, atol=1e-6):
                    raise ExerciseError(f"{what}: the {network}'s weights differ from k discriminator steps and one "
                                        "generator step taken with d_step and g_step: update through them only")
    return passed("alternating_update")


# ---------------------------------------------------------------------------------------------
# Exercise 5: the R1 penalty, with a tape inside the tape
# ---------------------------------------------------------------------------------------------

def reference_r1_penalty(discriminator: Any, real_images: Any, gamma: float) -> Any:
    """``gamma / 2 * mean_i |grad_x l(x_i)|^2``, with one input tape per image: the reference for exercise 5.

    Call it inside an outer ``tf.GradientTape`` to differentiate it with respect to the discriminator's weights.

    Introduced in 04_dcgan.

    Args:
        discriminator: a Keras model mapping images to one logit each (called with ``training=True``).
        real_images: a batch of real images, shape ``(n, height, width, channels)``.
        gamma: the weight of the penalty.

    Returns:
        The penalty as a scalar float32 tensor.
    """
    import tensorflow as tf

    real = tf.convert_to_tensor(real_images)
    norms = []
    for i in range(int(real.shape[0])):
        image = real[i:i + 1]
        with tf.GradientTape() as tape:
            tape.watch(image)
            logit = tf.reduce_sum(tf.cast(discriminator(image, training=True), tf.float32))
        grad = tf.cast(tape.gradient(logit, image), tf.float32)
        norms.append(tf.reduce_sum(tf.square(grad)))
    return 0.5 * float(gamma) * tf.reduce_mean(tf.stack(norms))


def _r1_cases(hidden: bool) -> list[tuple[str, tuple[int, int, int], int, float, str, int]]:
    """(case, image shape, batch size, gamma, dtype, seed)."""
    if hidden:
        return [("3 images of 5x5x2, gamma 3", (5, 5, 2), 3, 3.0, "float32", 61),
                ("6 float64 images of 4x4x1, gamma 0.1", (4, 4, 1), 6, 0.1, "float64", 62)]
    return [("5 real 6x6x1 images, gamma 1", (6, 6, 1), 5, 1.0, "float32", 51),
            ("3 real 4x4x3 images, gamma 10", (4, 4, 3), 3, 10.0, "float32", 52),
            ("4 real float64 8x8x1 images, gamma 0.5", (8, 8, 1), 4, 0.5, "float64", 53)]


def _r1_parts(discriminator: Any, real: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each image's squared input-gradient norm and D(x_i) = sigmoid(l(x_i)), in float64, from per-image tapes."""
    import tensorflow as tf

    norms, probs = [], []
    for i in range(real.shape[0]):
        image = tf.constant(real[i:i + 1])
        with tf.GradientTape() as tape:
            tape.watch(image)
            logit = tf.reduce_sum(discriminator(image, training=True))
        norms.append(float(np.sum(np.square(np.asarray(tape.gradient(logit, image), np.float64)))))
        probs.append(1.0 / (1.0 + np.exp(-float(logit))))
    discriminator.get_layer("probe").seen.clear()
    return np.array(norms), np.array(probs)


def _r1_mistakes(norms: np.ndarray, probs: np.ndarray, gamma: float, pixels: int) -> dict[str, float]:
    n = len(norms)
    half = 0.5 * gamma
    return {
        "this is the mean squared norm without the weight: the penalty is gamma / 2 times it": float(np.mean(norms)),
        "this is gamma times the mean squared norm: the lesson's penalty is gamma / 2 times it":
            gamma * float(np.mean(norms)),
        "the norms are not squared: R1 penalizes |grad_x l(x)|^2, the sum of the squares of the gradient's entries":
            half * float(np.mean(np.sqrt(norms))),
        "this sums the squared norms over the batch; take their mean over the images": half * float(np.sum(norms)),
        "this averages the squared entries over the pixels too (tf.reduce_mean of the whole squared gradient): sum "
        "over each image's pixels and channels, then take the mean over the images":
            half * float(np.mean(norms)) / pixels,
        "the input gradient is that of the batch *mean* of the logits, which divides each image's gradient by the "
        "batch size: differentiate the sum of the logits (each image's logit depends on that image only)":
            half * float(np.mean(norms)) / n ** 2,
        "this is the gradient of D's probability sigmoid(l(x)), not of its logit l(x)":
            half * float(np.mean(norms * (probs * (1.0 - probs)) ** 2)),
    }


_R1_NOT_DIFFERENTIABLE = (
    "D's update must differentiate the penalty with respect to D's weights (a second derivative), and the outer "
    "tape that records the update saw no path from them to your result. Keep everything a tensor (no .numpy(), "
    "no float(), no NumPy functions), take the input gradient with an inner tape *while the outer one records* "
    "(the inner tape's gradient call is itself recorded), and do not stop the gradient.")

_FORBIDDEN_R1 = {name: "that is the lesson's own R1 code; write the nested tape yourself"
                 for name in ("real_logits_and_r1", "discriminator_terms", "gan_update", "make_train_step")}


@exercise(5, "r1_penalty")
def check_r1_penalty(fn: Callable[..., Any], *, hidden: bool = False) -> bool:
    """Check ``fn(discriminator, real_images, gamma)`` -> ``gamma / 2 * mean_i |grad_x l(x_i)|^2`` (lesson 04's R1).

    The check calls the learner's function inside an outer ``tf.GradientTape`` on small seeded discriminators and
    compares the penalty and its gradient with respect to the discriminator's weights with
    :func:`reference_r1_penalty`, which takes one input tape per image. Cases include RGB images and float64 images
    (the discriminator computes in float32).

    Introduced in 04_dcgan.

    Args:
        fn: the learner's ``r1_penalty``.
        hidden: use the grading cases instead of the visible ones.

    Returns:
        True when every case passes.

    Raises:
        ExerciseError: naming the case and, where the value is that of a known slip, the slip: gamma instead of
            gamma / 2 or no weight, norms not squared, a sum over the batch, a mean over the pixels, the gradient of
            the mean logit or of sigmoid(l); a result the outer tape cannot differentiate; ``training`` not True;
            the discriminator's weights changed.
    """
    import tensorflow as tf

    _require_function(fn)
    forbid_calls(fn, _FORBIDDEN_R1, what="r1_penalty")
    answers, expected, mistakes, whats, grads = [], [], [], [], []
    for case, shape, n, gamma, dtype, seed in _r1_cases(hidden):
        disc, real = harness.r1_case(shape, n, dtype, seed)
        what = f"r1_penalty({case})"
        norms, probs = _r1_parts(disc, real)
        variables = disc.trainable_variables
        with tf.GradientTape() as tape:
            want = reference_r1_penalty(disc, tf.constant(real), gamma)
        # (UnconnectedGradients.ZERO fails on Keras variables, whose dtype is a string: None is read as 0 below)
        want_grads = [np.zeros(v.shape) if g is None else np.asarray(g, np.float64)
                      for v, g in zip(variables, tape.gradient(want, variables))]
        # the learner's function runs inside an outer tape in the harness; value, gradients and flags come back
        got = call_safely(harness.run, fn, "dcgan.r1_penalty", shape=list(shape), n=n, dtype=dtype, seed=seed,
                          gamma=gamma, what=what)
        value = _scalar(got["value"], what, meaning="the penalty (one number)")
        _check_training_flag(got["flags"], "discriminator", what)
        if got["weights_changed"]:
            raise ExerciseError(f"{what}: the discriminator's weights changed. r1_penalty only computes the penalty; "
                                "D's optimizer applies its gradient in the training step.")
        answers.append(value)
        expected.append(float(want))
        mistakes.append(_r1_mistakes(norms, probs, gamma, int(np.prod(shape))))
        whats.append(what)
        grads.append((got["grads"], want_grads))
    for what, value, want in zip(whats, answers, expected):
        if np.isfinite(value) and abs(value - want) <= 1e-4 * max(abs(want), 1e-6):
            continue
        table = {text: [m[text] for m in mistakes] for text in mistakes[0]}
        slip = name_mistake(answers, table, expected, rtol=1e-4, atol=1e-9)
        reason = f": {slip}" if slip else ""
        raise ExerciseError(f"{what}: expected the penalty {want:.6g}, got {value:.6g}{reason}")
    for what, (got_grads, want_grads) in zip(whats, grads):
        if got_grads is None or all(g is None for g in got_grads):
            raise ExerciseError(f"{what}: the value is right, but {_R1_NOT_DIFFERENTIABLE}")
        for g, w in zip(got_grads, want_grads):
            g = np.zeros(w.shape) if g is None else np.asarray(g, np.float64)
            if not np.allclose(g, w, rtol=1e-3, atol=1e-6 * max(1.0, float(np.max(np.abs(w))))):
                worst = float(np.max(np.abs(g - w)))
                raise ExerciseError(f"{what}: the value is right, but its gradient with respect to the "
                                    f"discriminator's weights differs from the reference's (largest difference "
                                    f"{worst:.3g}): {_R1_NOT_DIFFERENTIABLE}")
    return passed("r1_penalty")
