"""Automatic checks for the exercises of lesson ``05_gan_engineering``: what a checkpoint must hold, loss scaling.

Conventions (also stated in the lesson):

* ``same_state(a, b) -> bool``: ``a`` and ``b`` are lists of the same length of Keras models and optimizers, in
  the same order; True exactly when every variable of every pair is equal: all of a model's weights
  (batch-norm moving statistics included, not only the trainable ones) and all of an optimizer's variables
  (its step counter and Adam moments);
* ``scaled_gradients(loss_fn, variables, scale) -> list``: what a ``LossScaleOptimizer`` does to the gradients:
  the loss multiplied by ``scale`` inside a ``tf.GradientTape``, differentiated with respect to ``variables``, and
  each gradient divided by ``scale`` again. In float32 the result equals the plain gradients; in float16 it keeps
  small gradients that would otherwise underflow to zero.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..checks import ExerciseError, call_safely, check_close, exercise, name_mistake, passed

__all__ = ["check_same_state", "check_scaled_gradients"]


def _tiny_state(seed: int) -> list[Any]:
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


def _changed(state: list[Any], what: str) -> list[Any]:
    """`state` with one kind of variable nudged."""
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


@exercise(1, "same_state")
def check_same_state(fn: Callable[..., Any]) -> bool:
    """Check ``fn(a, b)`` on identical training states and on states differing in one kind of variable.

    Introduced in 05_gan_engineering.

    Args:
        fn: the learner's ``same_state``.

    Returns:
        True when every case passes (after printing a success line).

    Raises:
        ExerciseError: on a wrong answer, naming the case and what a checkpoint that missed it would lose.
    """
    why = {
        "kernel": "a trainable weight differs",
        "moving mean": "only a batch-norm moving mean differs: it is a weight (model.weights), but not a trainable "
                       "one; compare model.weights, not model.trainable_variables, or a restored generator would draw "
                       "with the wrong statistics",
        "adam moment": "only an Adam moment differs: optimizer.variables hold them; a checkpoint without them resumes "
                       "with a cold optimizer",
        "step counter": "only the optimizer's step counter (optimizer.iterations) differs: without it a learning-rate "
                        "schedule restarts and Adam's bias correction is wrong",
    }
    got = call_safely(fn, _tiny_state(3), _tiny_state(3), what="two identical training states")
    if not isinstance(got, (bool, np.bool_)):
        raise ExerciseError(f"two identical training states: expected True or False, got {type(got).__name__} {got!r}")
    if not got:
        raise ExerciseError("two identical training states (same seed, same step): expected True, got False; compare "
                            "values (np.array_equal(a.numpy(), b.numpy())), not variable objects")
    for what, message in why.items():
        got = call_safely(fn, _tiny_state(3), _changed(_tiny_state(3), what), what=f"states where {what} differs")
        if bool(got):
            raise ExerciseError(f"two training states where {message}: expected False, got True")
    a, b = _tiny_state(3), _tiny_state(3)
    got = call_safely(fn, a + a, b + b[:1], what="lists of different lengths")
    if bool(got):
        raise ExerciseError("lists of different lengths (4 objects against 3): expected False, got True")
    return passed("same training state")


@exercise(2, "scaled_gradients")
def check_scaled_gradients(fn: Callable[..., Any]) -> bool:
    """Check ``fn(loss_fn, variables, scale)``: gradients of ``scale * loss`` divided back by ``scale``.

    Cases: a float32 quadratic (the result must equal the plain gradients), and a float16 loss whose plain
    gradient underflows to 0 in float16 but survives with a scale of 2**15.

    Introduced in 05_gan_engineering.

    Args:
        fn: the learner's ``scaled_gradients``.

    Returns:
        True when every case passes (after printing a success line).

    Raises:
        ExerciseError: on a wrong answer, naming the case and, where it recognises one, the mistake.
    """
    import tensorflow as tf

    w = tf.Variable([1.0, -2.0, 0.5], dtype=tf.float32)
    b = tf.Variable(3.0, dtype=tf.float32)
    x = tf.constant([0.3, 0.1, -0.7])

    def quadratic():
        return tf.reduce_sum((w * x + b) ** 2)

    with tf.GradientTape() as tape:
        loss = quadratic()
    plain = [g.numpy() for g in tape.gradient(loss, [w, b])]
    scale = 1024.0
    got = call_safely(fn, quadratic, [w, b], scale, what="scaled_gradients on a float32 quadratic, scale 1024")
    if not isinstance(got, (list, tuple)) or len(got) != 2:
        raise ExerciseError("scaled_gradients on a float32 quadratic: expected a list of 2 gradients (one per "
                            f"variable), got {type(got).__name__}" + (f" of length {len(got)}" if hasattr(got, '__len__')
                                                                      else ""))
    if any(g is None for g in got):
        raise ExerciseError("scaled_gradients on a float32 quadratic: a gradient is None: compute the loss inside "
                            "`with tf.GradientTape() as tape:` (call loss_fn() there)")
    got = [np.asarray(g, dtype=np.float64) for g in got]
    mistake = name_mistake([np.concatenate([g.ravel() for g in got])],
                           {"the gradients are still multiplied by the scale: divide each one by `scale` after "
                            "tape.gradient": [np.concatenate([scale * p.ravel() for p in plain])],
                            "the scale is applied twice (loss * scale and gradient / scale**2, or the reverse)": [
                                np.concatenate([p.ravel() / scale for p in plain])]},
                           [np.concatenate([p.ravel() for p in plain])])
    if mistake:
        raise ExerciseError(f"scaled_gradients on a float32 quadratic: {mistake}")
    for g, p, name in zip(got, plain, ("w", "b")):
        check_close(g, p, what=f"the gradient for {name} (float32 quadratic, scale 1024)", rtol=1e-5, atol=1e-5)

    v = tf.Variable([1.0, 1.0], dtype=tf.float32)

    small = tf.constant(1e-4, tf.float16)

    def tiny_loss():  # float16 maths whose gradient for v (1e-8) is below float16's smallest subnormal (6e-8)
        return tf.cast(tf.reduce_sum(tf.cast(v, tf.float16) * small * small), tf.float32)

    with tf.GradientTape() as tape:
        loss = tiny_loss()
    unscaled = tape.gradient(loss, [v])[0].numpy()
    got = call_safely(fn, tiny_loss, [v], 2.0 ** 15, what="scaled_gradients on a float16 loss, scale 2**15")
    g = np.asarray(got[0], dtype=np.float64)
    if np.all(g == 0):
        raise ExerciseError("scaled_gradients on a float16 loss: the gradient came back 0, as without scaling "
                            f"(unscaled: {unscaled}); multiply the loss by `scale` *before* tape.gradient, so the "
                            "float16 gradients are large enough to be represented, then divide them back")
    check_close(g, np.full(2, 1e-8), what="the gradient of the float16 loss (true value 1e-8 each)", rtol=0.05,
                atol=1e-10)
    return passed("loss-scaled gradients")
