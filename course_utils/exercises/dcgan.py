"""Automatic checks for the exercises of lesson ``04_dcgan``: one discriminator step, one generator step, a bug hunt.

The step checks build tiny seeded networks (a discriminator Flatten -> Dense(8) -> LeakyReLU -> Dense(1) on 6x6x1
images, a generator Dense(36) -> reshape to 6x6x1 -> tanh on 3-D noise), twice with identical weights, each with a
fresh ``Adam(2e-4, beta_1=0.5)``. They run the learner's step on one copy and the reference on the other, on the
same inputs, and compare the returned loss, the updated weights and the optimizer's step counter. The cases
include a discriminator with logits near +-200, where a naive ``log(sigmoid(l))`` gives infinity and
``BinaryCrossentropy()`` without ``from_logits=True`` clips to a wrong finite value. Each check raises
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
* the bug hunt: :data:`BUGGY_TRAIN_STEP_SOURCE` (shown by :func:`show_buggy_train_step`) has exactly one wrong line.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

import numpy as np

from ..checks import ExerciseError, as_scalar, call_safely, check_close, exercise, name_mistake, passed, softplus

__all__ = ["BUGGY_TRAIN_STEP_SOURCE", "check_bug_answer", "check_discriminator_step", "check_generator_step",
           "reference_discriminator_step", "reference_generator_step", "show_buggy_train_step"]

IMAGE_SHAPE = (6, 6, 1)
NOISE_DIM = 3
LEARNING_RATE = 2e-4
BETA_1 = 0.5

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
    fn = lesson.get(name) if isinstance(lesson, dict) else getattr(lesson, name, None)
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

@cache
def _probe_class() -> type:
    """A layer that passes its input through and records the ``training`` flag of each call."""
    import keras

    class TrainingProbe(keras.layers.Layer):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.seen: list[Any] = []

        def call(self, inputs: Any, training: Any = None) -> Any:
            self.seen.append(training)
            return inputs

    return TrainingProbe


def _discriminator_weights(rng: np.random.Generator, bias: float = 0.0) -> list[np.ndarray]:
    n_in = int(np.prod(IMAGE_SHAPE))
    return [rng.normal(0.0, 0.3, (n_in, 8)).astype(np.float32), rng.normal(0.0, 0.1, 8).astype(np.float32),
            rng.normal(0.0, 0.5, (8, 1)).astype(np.float32), np.array([bias], np.float32)]


def _generator_weights(rng: np.random.Generator) -> list[np.ndarray]:
    n_out = int(np.prod(IMAGE_SHAPE))
    return [rng.normal(0.0, 0.5, (NOISE_DIM, n_out)).astype(np.float32), rng.normal(0.0, 0.1, n_out).astype(np.float32)]


def _tiny_discriminator(weights: list[np.ndarray]) -> Any:
    import keras
    from keras import layers

    model = keras.Sequential([keras.Input(IMAGE_SHAPE), layers.Flatten(), layers.Dense(8, name="hidden"),
                              layers.LeakyReLU(negative_slope=0.2), _probe_class()(name="probe"),
                              layers.Dense(1, name="logit")], name="discriminator")
    model.set_weights(weights)
    model.get_layer("probe").seen.clear()
    return model


def _tiny_generator(weights: list[np.ndarray]) -> Any:
    import keras
    from keras import layers

    model = keras.Sequential([keras.Input((NOISE_DIM,)), layers.Dense(int(np.prod(IMAGE_SHAPE)), name="project"),
                              _probe_class()(name="probe"), layers.Reshape(IMAGE_SHAPE),
                              layers.Activation("tanh")], name="generator")
    model.set_weights(weights)
    model.get_layer("probe").seen.clear()
    return model


def _adam(model: Any) -> Any:
    """A fresh Adam, built for the model's variables so that a learner's tf.function creates no variable."""
    import keras

    optimizer = keras.optimizers.Adam(LEARNING_RATE, beta_1=BETA_1)
    optimizer.build(model.trainable_variables)
    return optimizer


def _steps_taken(optimizer: Any) -> int:
    return int(np.asarray(optimizer.iterations))


def _logits(discriminator: Any, images: np.ndarray) -> np.ndarray:
    """The discriminator's logits as float64, from a copy that the learner's function never sees."""
    out = np.asarray(discriminator(images, training=True), np.float64).ravel()
    discriminator.get_layer("probe").seen.clear()
    return out


# ---------------------------------------------------------------------------------------------
# Shared verdicts
# ---------------------------------------------------------------------------------------------

def _call_step(fn: Callable[..., Any], *args: Any, what: str, no_gradients: str, unknown_variable: str) -> Any:
    """Call the learner's step; translate Keras's errors for None gradients and foreign variables into plain words."""
    try:
        return call_safely(fn, *args, what=what)
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


_LOSS = "the loss (one number, the batch mean)"


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


def _check_training_flag(model: Any, network: str, what: str) -> None:
    seen = model.get_layer("probe").seen
    wrong = [flag for flag in seen if flag is not True]
    if wrong:
        how = "training=False" if any(flag is False for flag in wrong) else "no training argument"
        raise ExerciseError(f"{what}: the {network} was called with {how}. Call it with training=True in a training "
                            "step: layers such as BatchNormalization and Dropout behave differently while training, "
                            "and without the flag Keras runs them in inference mode.")


def _check_steps(optimizer: Any, name: str, unchanged: bool, network: str, what: str) -> None:
    steps = _steps_taken(optimizer)
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


def _check_update(model: Any, before: Sequence[np.ndarray], expected: Sequence[np.ndarray], *, network: str,
                  what: str) -> None:
    """Compare the learner's updated weights with the reference's, variable by variable."""
    names = [getattr(v, "path", v.name) for v in model.weights]
    for name, old, got, want in zip(names, before, model.get_weights(), expected):
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

    for case, weights, real, fake, large in _discriminator_cases():
        what = f"discriminator_step({case})"
        ref_model, model = _tiny_discriminator(weights), _tiny_discriminator(weights)
        real_logits, fake_logits = _logits(ref_model, real), _logits(ref_model, fake)
        ref_opt, opt = _adam(ref_model), _adam(model)
        expected = float(reference_discriminator_step(ref_model, ref_opt, tf.constant(real), tf.constant(fake)))
        before = model.get_weights()
        got = _call_step(fn, model, opt, tf.constant(real), tf.constant(fake), what=what,
                         no_gradients="compute the discriminator's logits and the loss inside the "
                                      "`with tf.GradientTape() as tape:` block, so that the tape records them.",
                         unknown_variable="apply d_optimizer to discriminator.trainable_variables only.")
        got = as_scalar(got, what, meaning=_LOSS)
        _check_loss(got, expected, _discriminator_mistakes(real_logits, fake_logits), what=what, large_logits=large)
        _check_training_flag(model, "discriminator", what)
        unchanged = all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
        _check_steps(opt, "d_optimizer", unchanged, "discriminator", what)
        _check_update(model, before, ref_model.get_weights(), network="discriminator", what=what)
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

    for case, g_weights, d_weights, noise, large in _generator_cases():
        what = f"generator_step({case})"
        ref_gen, ref_disc = _tiny_generator(g_weights), _tiny_discriminator(d_weights)
        gen, disc = _tiny_generator(g_weights), _tiny_discriminator(d_weights)
        logits = _logits(ref_disc, np.asarray(ref_gen(noise, training=True)))
        ref_gen.get_layer("probe").seen.clear()
        ref_opt, opt = _adam(ref_gen), _adam(gen)
        expected = float(reference_generator_step(ref_gen, ref_disc, ref_opt, tf.constant(noise)))
        before, d_before = gen.get_weights(), disc.get_weights()
        got = _call_step(fn, gen, disc, opt, tf.constant(noise), what=what,
                         no_gradients="the generator's images must be computed inside the GradientTape. Made before "
                                      "the `with tf.GradientTape() as tape:` block, they are a constant to the tape, "
                                      "so every gradient with respect to generator.trainable_variables is None.",
                         unknown_variable="the generator step must update generator.trainable_variables only; the "
                                          "discriminator keeps its weights (it has its own optimizer and step).")
        got = as_scalar(got, what, meaning=_LOSS)
        _check_loss(got, expected, _generator_mistakes(logits), what=what, large_logits=large)
        if not all(np.array_equal(a, b) for a, b in zip(d_before, disc.get_weights())):
            raise ExerciseError(f"{what}: the discriminator's weights changed. The generator step must update "
                                "generator.trainable_variables only: take the gradients with respect to those and "
                                "apply them with g_optimizer.")
        _check_training_flag(gen, "generator", what)
        unchanged = all(np.array_equal(a, b) for a, b in zip(before, gen.get_weights()))
        if unchanged and _steps_taken(opt) == 1:
            raise ExerciseError(f"{what}: g_optimizer took a step but the generator's weights did not change: its "
                                "gradients were None. The generator's images must be computed inside the GradientTape.")
        _check_steps(opt, "g_optimizer", unchanged, "generator", what)
        _check_update(gen, before, ref_gen.get_weights(), network="generator", what=what)
    return passed("generator_step")


# ---------------------------------------------------------------------------------------------
# Exercise 3: find the bug
# ---------------------------------------------------------------------------------------------

BUGGY_TRAIN_STEP_SOURCE = '''\
def make_train_step(generator, discriminator):
    """Return train_step(real_images, noise): one discriminator update, then one generator update."""
    d_optimizer = g_optimizer = keras.optimizers.Adam(2e-4, beta_1=0.5)

    def train_step(real_images, noise):
        with tf.GradientTape() as d_tape, tf.GradientTape() as g_tape:
            fake_images = generator(noise, training=True)
            real_logits = discriminator(real_images, training=True)
            fake_logits = discriminator(fake_images, training=True)
            d_loss = tf.reduce_mean(tf.nn.softplus(-real_logits)) + tf.reduce_mean(tf.nn.softplus(fake_logits))
            g_loss = tf.reduce_mean(tf.nn.softplus(-fake_logits))
        d_grads = d_tape.gradient(d_loss, discriminator.trainable_variables)
        g_grads = g_tape.gradient(g_loss, generator.trainable_variables)
        d_optimizer.apply_gradients(zip(d_grads, discriminator.trainable_variables))
        g_optimizer.apply_gradients(zip(g_grads, generator.trainable_variables))
        return d_loss, g_loss

    return train_step
'''
"""A DCGAN training step with exactly one wrong line (one optimizer shared by both networks, as in the article).

Introduced in 04_dcgan."""

_SOURCE_LINES = BUGGY_TRAIN_STEP_SOURCE.splitlines()
_BUG_TEXT = "d_optimizer = g_optimizer = keras.optimizers.Adam(2e-4, beta_1=0.5)"
_BUG_LINE = next(i for i, line in enumerate(_SOURCE_LINES, 1) if line.strip() == _BUG_TEXT)
_FIXED_TRAIN_STEP_SOURCE = BUGGY_TRAIN_STEP_SOURCE.replace(
    _BUG_TEXT, "d_optimizer = keras.optimizers.Adam(2e-4, beta_1=0.5)\n"
               "    g_optimizer = keras.optimizers.Adam(2e-4, beta_1=0.5)")

_OPTIMIZER_HINT = ("Hint: count the optimizers. How many Adam objects does make_train_step create, and how many "
                   "networks do they update? Keras 3 builds an optimizer's state (Adam's moments) for the variables "
                   "of its first apply_gradients and refuses any others.")


_ONLY_THE_WRONG_LINE = ("Change only the wrong line: one Adam(2e-4, beta_1=0.5) per network, each created once in "
                        "make_train_step so that its moments carry over from step to step.")


def _line_note(line: str) -> str:
    """What is right about a correct line of the listing (a hint towards the wrong one)."""
    text = line.strip()
    if text.startswith("g_optimizer.apply_gradients"):
        return ("this is where Keras 3 stops with 'Unknown variable ... This optimizer can only be called for the "
                "variables it was originally built with', but the line itself is right: the generator's gradients go "
                "to the generator's variables. The cause is elsewhere: which object is g_optimizer?")
    if text.startswith("d_optimizer.apply_gradients"):
        return "the discriminator's gradients go to the discriminator's variables, through d_optimizer."
    if "GradientTape" in text:
        return ("two tapes, one per network, both recording the forward pass: each network gets the gradients of its "
                "own loss.")
    if text.startswith(("d_grads", "g_grads")):
        return "each loss is differentiated with respect to its own network's variables."
    if text.startswith(("d_loss", "g_loss")):
        return "these are the losses of exercises 1 and 2, computed stably from the logits."
    if text.startswith("fake_images"):
        return ("the images are made inside the tapes, once, and serve both losses: the generator's tape sees them "
                "made.")
    if "_logits =" in text:
        return "the discriminator is called inside the tapes with training=True."
    return "nothing is wrong here."


def show_buggy_train_step() -> None:
    """Print :data:`BUGGY_TRAIN_STEP_SOURCE` with line numbers, for the find-the-bug exercise.

    Introduced in 04_dcgan.
    """
    width = len(str(len(_SOURCE_LINES)))
    for i, line in enumerate(_SOURCE_LINES, 1):
        print(f"{i:>{width}} | {line}".rstrip())


def _fixed_make_train_step() -> Callable[..., Any]:
    import keras
    import tensorflow as tf

    namespace: dict[str, Any] = {"keras": keras, "tf": tf}
    exec(compile(_FIXED_TRAIN_STEP_SOURCE, "<fixed make_train_step>", "exec"), namespace)
    return namespace["make_train_step"]


def _check_fixed_step(make_train_step: Callable[..., Any]) -> None:
    """Run the learner's fixed ``make_train_step`` for two steps next to the fixed listing, on twin networks."""
    rng = np.random.default_rng(1806)
    g_weights, d_weights = _generator_weights(rng), _discriminator_weights(rng)
    batches = [(rng.normal(0.0, 1.0, (4, *IMAGE_SHAPE)).astype(np.float32),
                rng.normal(0.0, 1.0, (4, NOISE_DIM)).astype(np.float32)) for _ in range(2)]
    ref_gen, ref_disc = _tiny_generator(g_weights), _tiny_discriminator(d_weights)
    gen, disc = _tiny_generator(g_weights), _tiny_discriminator(d_weights)
    ref_step = _fixed_make_train_step()(ref_gen, ref_disc)
    what = "make_train_step(generator, discriminator)"
    step = call_safely(make_train_step, gen, disc, what=what)
    if not callable(step):
        raise ExerciseError(f"{what}: expected it to return the function train_step, got {type(step).__name__}")
    for i, (real, noise) in enumerate(batches, 1):
        what = f"train_step(real_images, noise), step {i} of 2, with your fixed make_train_step"
        got = _call_step(step, real, noise, what=what,
                         no_gradients="keep the forward pass inside the two GradientTapes, as in the listing.",
                         unknown_variable="an optimizer is still shared by the two networks: give each network its "
                                          "own Adam, created once in make_train_step.")
        want = ref_step(real, noise)
        if not isinstance(got, tuple | list) or len(got) != 2:
            raise ExerciseError(f"{what}: expected (d_loss, g_loss), as in the listing, got {type(got).__name__}")
        for name, g, w in zip(("d_loss", "g_loss"), got, want):
            try:
                check_close(as_scalar(g, f"{what}: {name}", meaning=_LOSS), float(w), what=f"{what}: {name}", rtol=1e-5, atol=1e-5)
            except ExerciseError as err:
                raise ExerciseError(f"{err} {_ONLY_THE_WRONG_LINE}") from None
    for network, model, ref in (("discriminator", disc, ref_disc), ("generator", gen, ref_gen)):
        for name, got_w, want_w in zip([getattr(v, "path", v.name) for v in model.weights], model.get_weights(),
                                       ref.get_weights()):
            if not np.allclose(got_w, want_w, rtol=0.0, atol=1e-6):
                raise ExerciseError(f"after two calls of train_step, the {network}'s variable {name} differs from the fixed "
                                    f"listing's (largest difference {float(np.max(np.abs(got_w - want_w))):.3g}). "
                                    f"{_ONLY_THE_WRONG_LINE}")


def check_bug_answer(line_number: int, fixed_step_fn: Callable[..., Any] | None = None) -> bool:
    """Check the number (1-based) of the wrong line of :data:`BUGGY_TRAIN_STEP_SOURCE`, and optionally a fix.

    Introduced in 04_dcgan.

    Args:
        line_number: the line that holds the bug, as numbered by :func:`show_buggy_train_step`.
        fixed_step_fn: optionally, the learner's corrected ``make_train_step(generator, discriminator)``; it is run
            for two steps on tiny networks next to the corrected listing and must match it.

    Returns:
        True when the line (and the fix, if given) is right.

    Raises:
        ExerciseError: on a wrong line (with a hint that says what that line does right), on a value that is not a
            line number, or on a fix that fails or computes something else.
    """
    if isinstance(line_number, bool) or not isinstance(line_number, numbers.Integral):
        raise ExerciseError(f"expected a line number (an int), got {type(line_number).__name__} {line_number!r}")
    line_number = int(line_number)
    n = len(_SOURCE_LINES)
    if not 1 <= line_number <= n:
        raise ExerciseError(f"line {line_number} is not in the listing, which has lines 1 to {n} "
                            "(show_buggy_train_step() prints them with their numbers)")
    if line_number != _BUG_LINE:
        line = _SOURCE_LINES[line_number - 1]
        shown = f" ({line.strip()})" if line.strip() else " (an empty line)"
        raise ExerciseError(f"line {line_number}{shown} is not the bug: {_line_note(line)} {_OPTIMIZER_HINT}")
    if fixed_step_fn is not None:
        _check_fixed_step(fixed_step_fn)
        return passed(f"find the bug (line {_BUG_LINE}) and the fixed make_train_step")
    return passed(f"find the bug (line {_BUG_LINE})")
