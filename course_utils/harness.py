"""Exercise harnesses: what runs the learner's function on live objects and hands back plain data.

Some exercises take live objects, not arrays: Keras models, optimizers, a loss function (lesson 05). The check
cannot send those into the grading sandbox, and the sandbox must not hold the check (a student could patch it). So
each such check is split in two:

* the **harness** (here, public, no answers): builds the objects of one case from a small spec of plain data (a
  seed, the name of a change), calls the learner's function on them, and returns what it gave as plain data
  (bools, numbers, lists of arrays);
* the **judge** (``course_utils.exercises``): chooses the cases, runs the reference in its own process, and
  compares.

In a lesson both run in the learner's kernel (:func:`run` calls the harness directly). When a teacher grades, the
judge runs in the grader's process and :func:`run` sends the case to the sandboxed kernel, which runs only the
harness (``tools/grading.py``). Nothing here knows a right answer.

Introduced in 05_gan_engineering (its two exercises).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np

from .validate import int_at_least, positive_number

__all__ = ["HARNESSES", "TRAINING_LOOP_SOURCE", "harness", "run", "show_training_loop"]

HARNESSES: dict[str, Callable[..., Any]] = {}


def harness(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a harness under ``name`` (``"lesson_topic.exercise"``)."""
    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        if name in HARNESSES:
            raise ValueError(f"a harness named {name!r} is already registered")
        HARNESSES[name] = fn
        return fn
    return register


def run(fn: Callable[..., Any], name: str, **spec: Any) -> Any:
    """Run harness ``name`` on the learner's ``fn`` for one case; in the grader, inside the sandbox.

    Args:
        fn: the learner's function, or the grader's stand-in for it (which has ``__course_harness__``).
        name: a registered harness.
        **spec: the case, as plain data.

    Raises:
        ValueError: for an unknown harness name.
    """
    if name not in HARNESSES:
        raise ValueError(f"unknown harness {name!r}; expected one of {sorted(HARNESSES)}")
    remote = getattr(fn, "__course_harness__", None)
    if remote is not None:
        return remote(name, spec)
    return HARNESSES[name](fn, **spec)


def _as_data(value: Any) -> Any:
    """The learner's result as plain data: tensors become arrays; lists stay lists; other objects become a note."""
    if value is None or isinstance(value, (bool, int, float, str, np.bool_, np.number)):
        return value.item() if isinstance(value, (np.bool_, np.number)) else value
    if isinstance(value, (list, tuple)):
        items = [_as_data(v) for v in value]
        return tuple(items) if isinstance(value, tuple) else items
    if hasattr(value, "numpy"):
        return np.asarray(value.numpy())
    if isinstance(value, np.ndarray):
        return value
    return {"not_data": f"{type(value).__module__}.{type(value).__name__}"}


# ---------------------------------------------------------------------------------------------
# Lesson 05, exercise 1: same_state(a, b)
# ---------------------------------------------------------------------------------------------

CHANGES = ("kernel", "moving mean", "adam moment", "step counter")


def tiny_state(seed: int) -> list[Any]:
    """A small model with batch norm and an Adam optimizer that has taken one step (identical for equal seeds)."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), keras.layers.BatchNormalization(),
                              keras.layers.Dense(1)])
    opt = keras.optimizers.Adam(1e-2)
    x = tf.constant(np.random.default_rng(seed).standard_normal((8, 3)), tf.float32)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(model(x, training=True) ** 2)
    opt.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
    return [model, opt]


def changed_state(state: list[Any], what: str) -> list[Any]:
    """``state`` with one kind of variable nudged (one of :data:`CHANGES`)."""
    if what not in CHANGES:
        raise ValueError(f"expected a change in {CHANGES}, got {what!r}")
    model, opt = state
    if what == "kernel":
        var = model.trainable_variables[0]
    elif what == "moving mean":
        var = next(v for v in model.non_trainable_variables if "moving_mean" in v.path)
    elif what == "adam moment":
        var = next(v for v in opt.variables if "momentum" in v.path or "velocity" in v.path)
    else:  # the step counter
        opt.iterations.assign_add(1)
        return state
    var.assign(var + 0.5)
    return state


@harness("engineering.same_state")
def same_state_case(fn: Callable[..., Any], seed: int, change: str | None = None, unequal_lengths: bool = False) -> Any:
    """``fn(a, b)`` on two training states built from ``seed``: equal, one ``change`` apart, or of unequal lengths."""
    a, b = tiny_state(seed), tiny_state(seed)
    if change is not None:
        b = changed_state(b, change)
    if unequal_lengths:
        a, b = a + a, b + b[:1]
    return _as_data(fn(a, b))


# ---------------------------------------------------------------------------------------------
# Lesson 05, exercise 2: scaled_gradients(loss_fn, variables, scale)
# ---------------------------------------------------------------------------------------------

def quadratic_case() -> tuple[Callable[[], Any], list[Any]]:
    """A float32 quadratic loss and its two variables."""
    import tensorflow as tf

    w = tf.Variable([1.0, -2.0, 0.5], dtype=tf.float32)
    b = tf.Variable(3.0, dtype=tf.float32)
    x = tf.constant([0.3, 0.1, -0.7])

    def quadratic():
        return tf.reduce_sum((w * x + b) ** 2)

    return quadratic, [w, b]


def float16_case() -> tuple[Callable[[], Any], list[Any]]:
    """A loss computed in float16 whose gradient for ``v`` (1e-8 each) is below float16's smallest subnormal."""
    import tensorflow as tf

    v = tf.Variable([1.0, 1.0], dtype=tf.float32)
    small = tf.constant(1e-4, tf.float16)

    def tiny_loss():
        return tf.cast(tf.reduce_sum(tf.cast(v, tf.float16) * small * small), tf.float32)

    return tiny_loss, [v]


@harness("engineering.scaled_gradients")
def scaled_gradients_case(fn: Callable[..., Any], case: str, scale: float) -> Any:
    """``fn(loss_fn, variables, scale)`` on the ``"quadratic"`` or the ``"float16"`` case, as arrays."""
    cases = {"quadratic": quadratic_case, "float16": float16_case}
    if case not in cases:
        raise ValueError(f"expected a case in {sorted(cases)}, got {case!r}")
    loss_fn, variables = cases[case]()
    return _as_data(fn(loss_fn, variables, scale))


# ---------------------------------------------------------------------------------------------
# Lesson 04: tiny seeded networks, and the harnesses of exercises 1, 2, 4 and 5
# ---------------------------------------------------------------------------------------------

TINY_IMAGE_SHAPE = (6, 6, 1)
TINY_NOISE_DIM = 3
TINY_LEARNING_RATE = 2e-4
TINY_BETA_1 = 0.5


@cache
def probe_class() -> type:
    """A layer that passes its input through and records the ``training`` flag of each call (``.seen``)."""
    import keras

    class TrainingProbe(keras.layers.Layer):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.seen: list[Any] = []

        def call(self, inputs: Any, training: Any = None) -> Any:
            self.seen.append(training)
            return inputs

    return TrainingProbe


def tiny_discriminator(weights: list[np.ndarray]) -> Any:
    """Flatten -> Dense(8) -> LeakyReLU -> probe -> Dense(1) on 6x6x1 images, with the given weights."""
    import keras
    from keras import layers

    model = keras.Sequential([keras.Input(TINY_IMAGE_SHAPE), layers.Flatten(), layers.Dense(8, name="hidden"),
                              layers.LeakyReLU(negative_slope=0.2), probe_class()(name="probe"),
                              layers.Dense(1, name="logit")], name="discriminator")
    model.set_weights([np.asarray(w, np.float32) for w in weights])
    model.get_layer("probe").seen.clear()
    return model


def tiny_generator(weights: list[np.ndarray], *, batch_norm: bool = False) -> Any:
    """Dense(36) -> [BatchNormalization] -> probe -> reshape to 6x6x1 -> tanh on 3-D noise, with the given weights.

    With ``batch_norm`` the output depends on the ``training`` flag (batch statistics when training, fixed ones
    otherwise; momentum 1, so the moving statistics never change)."""
    import keras
    from keras import layers

    n_out = int(np.prod(TINY_IMAGE_SHAPE))
    norm = [layers.BatchNormalization(momentum=1.0, name="norm")] if batch_norm else []
    model = keras.Sequential([keras.Input((TINY_NOISE_DIM,)), layers.Dense(n_out, name="project"), *norm,
                              probe_class()(name="probe"), layers.Reshape(TINY_IMAGE_SHAPE),
                              layers.Activation("tanh")], name="generator")
    weights = [np.asarray(w, np.float32) for w in weights]
    if batch_norm:
        weights = [*weights, np.ones(n_out, np.float32), np.zeros(n_out, np.float32), np.zeros(n_out, np.float32),
                   np.ones(n_out, np.float32)]
    model.set_weights(weights)
    model.get_layer("probe").seen.clear()
    return model


def tiny_adam(model: Any) -> Any:
    """A fresh ``Adam(2e-4, beta_1=0.5)``, built for the model's variables (a learner's tf.function creates none)."""
    import keras

    optimizer = keras.optimizers.Adam(TINY_LEARNING_RATE, beta_1=TINY_BETA_1)
    optimizer.build(model.trainable_variables)
    return optimizer


def training_flags(model: Any) -> list[bool | None]:
    """The ``training`` flags the model's probe saw: True, False, or None for anything else (no flag given)."""
    return [flag if isinstance(flag, bool) else None for flag in model.get_layer("probe").seen]


def _step_report(result: Any, model: Any, optimizer: Any) -> dict[str, Any]:
    return {"loss": _as_data(result), "weights": [np.asarray(w) for w in model.get_weights()],
            "steps": int(np.asarray(optimizer.iterations)), "flags": training_flags(model)}


@harness("dcgan.discriminator_step")
def discriminator_step_case(fn: Callable[..., Any], weights: list[Any], real: Any, fake: Any) -> dict[str, Any]:
    """``fn(discriminator, d_optimizer, real, fake)`` on a tiny discriminator with ``weights`` and a fresh Adam:
    the loss it returned, the weights after the call, the optimizer's step count and the training flags seen."""
    import tensorflow as tf

    model = tiny_discriminator(weights)
    optimizer = tiny_adam(model)
    result = fn(model, optimizer, tf.constant(np.asarray(real)), tf.constant(np.asarray(fake)))
    return _step_report(result, model, optimizer)


@harness("dcgan.generator_step")
def generator_step_case(fn: Callable[..., Any], g_weights: list[Any], d_weights: list[Any], noise: Any
                        ) -> dict[str, Any]:
    """``fn(generator, discriminator, g_optimizer, noise)`` on tiny networks: as :func:`discriminator_step_case`
    for the generator, plus the discriminator's weights after the call."""
    import tensorflow as tf

    generator, discriminator = tiny_generator(g_weights), tiny_discriminator(d_weights)
    optimizer = tiny_adam(generator)
    result = fn(generator, discriminator, optimizer, tf.constant(np.asarray(noise)))
    return dict(_step_report(result, generator, optimizer),
                d_weights=[np.asarray(w) for w in discriminator.get_weights()])


class Recorder:
    """Instrumented arguments for lesson 04's ``alternating_update``: every batch drawn and every step is recorded.

    ``d_step`` and ``g_step`` are stand-ins, not the GAN's steps: each takes one Adam step on a simple squared loss
    of the logits (so the networks move, and a step taken twice or skipped shows), and returns that loss."""

    def __init__(self, g_weights: list[Any], d_weights: list[Any], batches: list[Any], seed: int) -> None:
        import tensorflow as tf

        self.generator = tiny_generator(g_weights, batch_norm=True)  # its fakes depend on training=True
        self.discriminator = tiny_discriminator(d_weights)
        self.g_opt, self.d_opt = tiny_adam(self.generator), tiny_adam(self.discriminator)
        self.batches = [np.asarray(b, np.float32) for b in batches]
        self.rng = np.random.default_rng(seed)
        self.events: list[tuple[Any, ...]] = []
        self.noises: list[np.ndarray] = []
        self._tf = tf

    def real_batches(self) -> Any:
        for i, batch in enumerate(self.batches):
            self.events.append(("real", i))
            yield self._tf.constant(batch)

    def sample_noise(self, n: Any) -> Any:
        int_at_least(n, 1, "sample_noise(n)", expected="a number of noise vectors (an int >= 1)")
        noise = self.rng.normal(0.0, 1.0, (int(n), TINY_NOISE_DIM)).astype(np.float32)
        self.noises.append(noise)
        self.events.append(("noise", len(self.noises) - 1, int(n)))
        return self._tf.constant(noise)

    def _which_batch(self, x: Any) -> int | None:
        arr = np.asarray(x)
        return next((i for i, b in enumerate(self.batches) if b.shape == arr.shape and np.array_equal(b, arr)), None)

    def _which_noise_made(self, fake: Any, training: bool = True) -> int | None:
        arr = np.asarray(fake)
        for i, noise in enumerate(self.noises):
            made = np.asarray(self.generator(noise, training=training))
            if made.shape == arr.shape and np.allclose(made, arr, atol=1e-6):
                return i
        return None

    def _update(self, model: Any, optimizer: Any, loss_of: Callable[[], Any]) -> Any:
        tf = self._tf
        with tf.GradientTape() as tape:
            loss = loss_of()
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
        return loss

    def d_step(self, real_images: Any, fake_images: Any) -> Any:
        made = self._which_noise_made(fake_images)
        inference = None if made is not None else self._which_noise_made(fake_images, training=False)
        self.events.append(("d_step", self._which_batch(real_images), made,
                            int(np.shape(real_images)[0]), int(np.shape(fake_images)[0]), inference))
        self.generator.get_layer("probe").seen.clear()
        tf, d = self._tf, self.discriminator
        real, fake = tf.constant(np.asarray(real_images)), tf.constant(np.asarray(fake_images))
        return self._update(d, self.d_opt, lambda: tf.reduce_mean(tf.square(d(real, training=True) - 0.5))
                            + tf.reduce_mean(tf.square(d(fake, training=True) + 0.5)))

    def g_step(self, noise: Any) -> Any:
        arr = np.asarray(noise)
        which = next((i for i, z in enumerate(self.noises) if z.shape == arr.shape and np.array_equal(z, arr)), None)
        self.events.append(("g_step", which))
        tf, g, d = self._tf, self.generator, self.discriminator
        z = tf.constant(arr)
        loss = self._update(g, self.g_opt, lambda: tf.reduce_mean(tf.square(d(g(z, training=True),
                                                                               training=True) - 0.5)))
        self.generator.get_layer("probe").seen.clear()
        return loss


@harness("dcgan.alternating_update")
def alternating_update_case(fn: Callable[..., Any], g_weights: list[Any], d_weights: list[Any], batches: list[Any],
                            seed: int, k: int) -> dict[str, Any]:
    """``fn(generator, d_step, g_step, real_batches, sample_noise, k)`` with a :class:`Recorder`: what it returned,
    the recorded events and both networks' weights afterwards."""
    rec = Recorder(g_weights, d_weights, batches, seed)
    result = fn(rec.generator, rec.d_step, rec.g_step, rec.real_batches(), rec.sample_noise, k)
    return {"result": _as_data(result), "events": [list(e) for e in rec.events],
            "d_weights": [np.asarray(w) for w in rec.discriminator.get_weights()],
            "g_weights": [np.asarray(w) for w in rec.generator.get_weights()]}


def r1_discriminator(shape: tuple[int, int, int], rng: np.random.Generator) -> Any:
    """A small seeded discriminator on ``shape`` images: conv 3x3/2 -> tanh -> probe -> dense -> one logit.

    Each image's logit depends on that image only, and the logit is smooth in the weights and the input, so the
    R1 penalty's gradient with respect to every weight but the last bias (a second derivative) is non-zero."""
    import keras
    from keras import layers

    f32 = "float32"  # float32 under any global policy (mixed precision would make the references disagree)
    model = keras.Sequential([keras.Input(shape),
                              layers.Conv2D(3, 3, strides=2, padding="same", name="conv", dtype=f32),
                              layers.Activation("tanh", dtype=f32), probe_class()(name="probe", dtype=f32),
                              layers.Flatten(dtype=f32), layers.Dense(4, activation="tanh", name="hidden", dtype=f32),
                              layers.Dense(1, name="logit", dtype=f32)], name="discriminator")
    model.set_weights([rng.normal(0.0, 0.6, w.shape).astype(np.float32) for w in model.get_weights()])
    model.get_layer("probe").seen.clear()
    return model


def r1_case(shape: Any, n: int, dtype: str, seed: int) -> tuple[Any, np.ndarray]:
    """The discriminator and the real images of one R1 case, the same on both sides for the same arguments."""
    rng = np.random.default_rng(seed)
    shape = tuple(int(s) for s in shape)
    disc = r1_discriminator(shape, rng)
    real = rng.uniform(-1.0, 1.0, (int(n), *shape)).astype(dtype)
    return disc, real


@harness("dcgan.r1_penalty")
def r1_penalty_case(fn: Callable[..., Any], shape: Any, n: int, dtype: str, seed: int, gamma: float
                    ) -> dict[str, Any]:
    """``fn(discriminator, real_images, gamma)`` inside an outer tape: its value, the value's gradient with respect
    to the discriminator's weights (None where the tape found no path), the training flags and whether the weights
    changed."""
    import tensorflow as tf

    disc, real = r1_case(shape, n, dtype, seed)
    before = disc.get_weights()
    variables = disc.trainable_variables
    with tf.GradientTape() as tape:
        got = fn(disc, tf.constant(real), gamma)
    grads = None
    if tf.is_tensor(got) or isinstance(got, tf.Variable):
        try:
            grads = [None if g is None else np.asarray(g) for g in tape.gradient(got, variables)]
        except (TypeError, ValueError, LookupError):
            grads = None
    return {"value": _as_data(got), "grads": grads, "flags": training_flags(disc),
            "weights_changed": not all(np.array_equal(a, b) for a, b in zip(before, disc.get_weights()))}


# ---------------------------------------------------------------------------------------------
# Lesson 04, exercise 3: the listing of the bug hunt (public: the learner reads it; what is wrong is not here)
# ---------------------------------------------------------------------------------------------

TRAINING_LOOP_SOURCE = """\
def train(generator, discriminator, images_uint8, steps, batch_size=64, noise_dim=64):
    \"\"\"Update both networks simultaneously, from one forward pass, `steps` times; return the losses.\"\"\"
    real_all = tf.cast(images_uint8, tf.float32) / 255.0
    d_optimizer = keras.optimizers.Adam(2e-4, beta_1=0.5)
    g_optimizer = keras.optimizers.Adam(2e-4, beta_1=0.5)
    noise = tf.random.normal([batch_size, noise_dim])
    history = []
    for step in range(steps):
        idx = tf.random.uniform([batch_size], 0, batch_size, dtype=tf.int32)
        real_images = tf.gather(real_all, idx)
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
        history.append((float(d_loss), float(g_loss)))
    return history
"""
"""A DCGAN training loop that runs without an error and has exactly three wrong lines, none of them a defect of
lesson 04's section 1 (the generator is the lesson's, ending in ``tanh``).

Introduced in 04_dcgan."""


def show_training_loop() -> None:
    """Print :data:`TRAINING_LOOP_SOURCE` with line numbers, for lesson 04's find-the-bugs exercise (the lesson
    calls it as ``ex.show_training_loop()``)."""
    lines = TRAINING_LOOP_SOURCE.splitlines()
    width = len(str(len(lines)))
    for i, line in enumerate(lines, 1):
        print(f"{i:>{width}} | {line}".rstrip())


# ---------------------------------------------------------------------------------------------
# Lesson 08: a tiny critic, and the harnesses of its three exercises
# ---------------------------------------------------------------------------------------------
# spectral_norm and hinge_losses take arrays; their harnesses build the inputs from plain data like the others, as
# float32 NumPy arrays or as tensors (a layer's kernel and a critic's scores are tensors in the lesson).

CRITIC_IMAGE_SHAPE = (8, 8, 3)
CRITICS = ("linear", "conv")


def colour_critic(kind: str, seed: int, w_norm: float = 1.0) -> Any:
    """A tiny seeded critic on 8x8x3 images (float32 under any global policy), the same for the same arguments.

    ``"linear"``: Flatten -> Dense(1), its kernel drawn from ``seed`` and scaled to the norm ``w_norm``, so that its
    input gradient is that kernel for every image. ``"conv"``: Conv2D(4, 3x3, stride 2) -> tanh -> Flatten ->
    Dense(1): each image's score depends on that image only, and its input gradient changes with the image.

    Raises:
        ValueError: for a kind not in :data:`CRITICS` or a ``w_norm`` that is not a positive number.
    """
    import keras
    from keras import layers

    if kind not in CRITICS:
        raise ValueError(f"expected a critic in {CRITICS}, got {kind!r}")
    w_norm = positive_number(w_norm, "w_norm", expected="a positive number (the norm of the linear critic's kernel)")
    rng = np.random.default_rng(seed)
    f32 = "float32"  # float32 under any global policy (mixed precision would make the references disagree)
    if kind == "linear":
        model = keras.Sequential([keras.Input(CRITIC_IMAGE_SHAPE), layers.Flatten(dtype=f32),
                                  layers.Dense(1, name="score", dtype=f32)], name="critic")
        kernel = rng.normal(0.0, 1.0, (int(np.prod(CRITIC_IMAGE_SHAPE)), 1))
        model.set_weights([(kernel * (w_norm / np.linalg.norm(kernel))).astype(np.float32),
                           rng.normal(0.0, 0.5, 1).astype(np.float32)])
        return model
    model = keras.Sequential([keras.Input(CRITIC_IMAGE_SHAPE),
                              layers.Conv2D(4, 3, strides=2, padding="same", name="conv", dtype=f32),
                              layers.Activation("tanh", dtype=f32), layers.Flatten(dtype=f32),
                              layers.Dense(1, name="score", dtype=f32)], name="critic")
    model.set_weights([rng.normal(0.0, scale, w.shape).astype(np.float32)
                       for w, scale in zip(model.get_weights(), (0.5, 0.1, 0.09, 0.1))])
    return model


def critic_case(critic: str, n: int, seed: int, alpha: Any, w_norm: float = 1.0
                ) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray]:
    """The critic, real images, fake images and ``alpha`` (shape ``(n, 1, 1, 1)``, float32) of one gradient-penalty
    case, the same on both sides for the same arguments (:func:`colour_critic` for ``critic`` and ``w_norm``)."""
    n = int_at_least(n, 1, "n", expected="a number of images (an int >= 1)")
    alpha = np.asarray(alpha, np.float32)
    if alpha.size != n:
        raise ValueError(f"expected one alpha per image ({n}), got {alpha.size}")
    rng = np.random.default_rng(seed)
    model = colour_critic(critic, int(rng.integers(2**31)), w_norm)
    real = rng.uniform(-1.0, 1.0, (n, *CRITIC_IMAGE_SHAPE)).astype(np.float32)
    fake = np.tanh(rng.normal(0.0, 1.0, (n, *CRITIC_IMAGE_SHAPE))).astype(np.float32)
    return model, real, fake, alpha.reshape(n, 1, 1, 1)


@harness("colour.gradient_penalty")
def gradient_penalty_case(fn: Callable[..., Any], critic: str, n: int, seed: int, alpha: Any, w_norm: float = 1.0
                          ) -> dict[str, Any]:
    """``fn(critic, real, fake, alpha)`` (tensors) inside an outer tape, as a training step calls it: its value, the
    value's gradient with respect to the critic's weights (None where the tape found no path), the value of a
    second call on the same inputs, and whether the critic's weights changed."""
    import tensorflow as tf

    model, real, fake, alpha = critic_case(critic, n, seed, alpha, w_norm)
    before = model.get_weights()
    variables = model.trainable_variables
    args = (tf.constant(real), tf.constant(fake), tf.constant(alpha))
    with tf.GradientTape() as tape:
        got = fn(model, *args)
    grads = None
    if tf.is_tensor(got) or isinstance(got, tf.Variable):
        try:
            grads = [None if g is None else np.asarray(g) for g in tape.gradient(got, variables)]
        except (TypeError, ValueError, LookupError):
            grads = None
    again = fn(model, *args)
    return {"value": _as_data(got), "again": _as_data(again), "grads": grads,
            "weights_changed": not all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))}


@harness("colour.spectral_norm")
def spectral_norm_case(fn: Callable[..., Any], kernel: Any, u: Any, iterations: int, tensors: bool = False) -> Any:
    """``fn(kernel, u, iterations)`` with float32 NumPy arrays, or tensors when ``tensors`` (a layer's kernel is
    one); what it returned, as data."""
    kernel, u = np.asarray(kernel, np.float32), np.asarray(u, np.float32)
    iterations = int_at_least(iterations, 1, "iterations", expected="a number of power iterations (an int >= 1)")
    if tensors:
        import tensorflow as tf

        kernel, u = tf.constant(kernel), tf.constant(u)
    return _as_data(fn(kernel, u, iterations))


@harness("colour.hinge_losses")
def hinge_losses_case(fn: Callable[..., Any], real_logits: Any, fake_logits: Any, tensors: bool = False) -> Any:
    """``fn(real_logits, fake_logits)`` with float32 NumPy arrays, or tensors when ``tensors`` (a critic's output
    is one); what it returned, as data."""
    real, fake = np.asarray(real_logits, np.float32), np.asarray(fake_logits, np.float32)
    if tensors:
        import tensorflow as tf

        real, fake = tf.constant(real), tf.constant(fake)
    return _as_data(fn(real, fake))


# ---------------------------------------------------------------------------------------------
# Lesson 09: stand-ins for the translators and the PatchGAN, and the harnesses of its three exercises
# ---------------------------------------------------------------------------------------------

def _is_tensor(value: Any) -> bool:
    return type(value).__module__.startswith("tensorflow")


def colour_map(scale: Any, shift: Any) -> Callable[[Any], Any]:
    """A stand-in translator for lesson 09's cycle loss: ``tanh(scale * images + shift)``, one scale and one shift
    per channel, float32; NumPy in, NumPy out; a tensor in (eager or in a ``tf.function``), a tensor out."""
    scale, shift = np.asarray(scale, np.float32), np.asarray(shift, np.float32)
    if scale.shape != (3,) or shift.shape != (3,):
        raise ValueError(f"expected one scale and one shift per channel (3 each), got shapes {scale.shape} and "
                         f"{shift.shape}")

    def translate(images: Any) -> Any:
        if _is_tensor(images):
            import tensorflow as tf

            return tf.tanh(tf.cast(images, tf.float32) * scale + shift)
        return np.tanh(np.asarray(images, np.float32) * scale + shift).astype(np.float32)

    return translate


@harness("translation.cycle_loss")
def cycle_loss_case(fn: Callable[..., Any], x: Any, y: Any, g: Any, f: Any, tensors: bool = False) -> Any:
    """``fn(x, y, g, f)`` with float32 batches (tensors when ``tensors``) and the translators ``colour_map(*g)``
    and ``colour_map(*f)``; what it returned, as data."""
    x, y = np.asarray(x, np.float32), np.asarray(y, np.float32)
    if tensors:
        import tensorflow as tf

        x, y = tf.constant(x), tf.constant(y)
    return _as_data(fn(x, y, colour_map(*g), colour_map(*f)))


def patch_logits(images: Any, weights: Any, bias: float) -> np.ndarray:
    """A linear PatchGAN in float64: one logit per 2x2 patch (stride 2), ``(n, h, w, c)`` -> ``(n, h/2, w/2, 1)``,
    ``weights`` of shape ``(2, 2, c)``."""
    x = np.asarray(images, np.float64)
    n, h, w, c = x.shape
    patches = x[:, :h - h % 2, :w - w % 2].reshape(n, h // 2, 2, w // 2, 2, c)
    return (np.einsum("npiqjc,ijc->npq", patches, np.asarray(weights, np.float64)) + bias)[..., None]


class RecordingPatchGAN:
    """Lesson 09's stand-in discriminator: :func:`patch_logits` on the condition and the image concatenated on the
    last axis (6 channels), or on 3 channels with the image's weights, so that an output judged alone gets logits
    too; every input it is given is kept in ``fed`` (float32). Arrays in, float32 arrays out; tensors in, tensors
    out (eager only: it reads its input)."""

    def __init__(self, weights: Any, bias: float) -> None:
        self.weights, self.bias = np.asarray(weights, np.float32), float(bias)
        if self.weights.shape != (2, 2, 6):
            raise ValueError(f"expected weights of shape (2, 2, 6), got {self.weights.shape}")
        self.fed: list[np.ndarray] = []

    def __call__(self, images: Any, training: Any = None) -> Any:
        try:
            x = np.asarray(images, np.float32)
        except (NotImplementedError, TypeError, ValueError):
            raise TypeError("this PatchGAN is a Python function that reads its input: call conditional_d_loss "
                            "eagerly (not inside a tf.function)") from None
        if x.ndim != 4 or x.shape[-1] not in (3, 6):
            raise ValueError(f"the PatchGAN takes a batch of condition-image pairs of shape (n, h, w, 6), got shape "
                             f"{x.shape}")
        self.fed.append(x)
        logits = patch_logits(x, self.weights if x.shape[-1] == 6 else self.weights[..., 3:], self.bias)
        if _is_tensor(images):
            import tensorflow as tf

            return tf.constant(logits, tf.float32)
        return logits.astype(np.float32)


@harness("translation.conditional_d_loss")
def conditional_d_loss_case(fn: Callable[..., Any], source: Any, target: Any, fake: Any, weights: Any, bias: float,
                            tensors: bool = False) -> dict[str, Any]:
    """``fn(disc, source, target, fake)`` with a :class:`RecordingPatchGAN` and float32 batches (tensors when
    ``tensors``): what it returned and every input the discriminator was given."""
    disc = RecordingPatchGAN(weights, bias)
    batches = [np.asarray(b, np.float32) for b in (source, target, fake)]
    if tensors:
        import tensorflow as tf

        batches = [tf.constant(b) for b in batches]
    return {"value": _as_data(fn(disc, *batches)), "fed": disc.fed}


@harness("translation.lsgan_losses")
def lsgan_losses_case(fn: Callable[..., Any], real_scores: Any, fake_scores: Any, tensors: bool = False) -> Any:
    """``fn(real_scores, fake_scores)`` with float32 arrays, or tensors when ``tensors``; what it returned, as data."""
    real, fake = np.asarray(real_scores, np.float32), np.asarray(fake_scores, np.float32)
    if tensors:
        import tensorflow as tf

        real, fake = tf.constant(real), tf.constant(fake)
    return _as_data(fn(real, fake))
