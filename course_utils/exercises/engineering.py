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

from .. import harness
from ..checks import ExerciseError, call_safely, check_close, exercise, name_mistake, passed

__all__ = ["check_same_state", "check_scaled_gradients"]


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
    def case(what: str, **spec: Any) -> Any:
        # The harness builds the states and calls fn (in the grading sandbox when a teacher grades); judged here.
        return call_safely(harness.run, fn, "engineering.same_state", what=what, seed=3, **spec)

    got = case("two identical training states")
    if not isinstance(got, (bool, np.bool_)):
        shown = got.get("not_data") if isinstance(got, dict) else f"{type(got).__name__} {got!r}"
        raise ExerciseError(f"two identical training states: expected True or False, got {shown}")
    if not got:
        raise ExerciseError("two identical training states (same seed, same step): expected True, got False; compare "
                            "values (np.array_equal(a.numpy(), b.numpy())), not variable objects")
    for what, message in why.items():
        if bool(case(f"states where {what} differs", change=what)):
            raise ExerciseError(f"two training states where {message}: expected False, got True")
    if bool(case("lists of different lengths", unequal_lengths=True)):
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

    quadratic, variables = harness.quadratic_case()  # the reference gradients, computed here
    with tf.GradientTape() as tape:
        loss = quadratic()
    plain = [g.numpy() for g in tape.gradient(loss, variables)]
    scale = 1024.0
    got = call_safely(harness.run, fn, "engineering.scaled_gradients", case="quadratic", scale=scale,
                      what="scaled_gradients on a float32 quadratic, scale 1024")
    if not isinstance(got, (list, tuple)) or len(got) != 2:
        shown = got.get("not_data") if isinstance(got, dict) else type(got).__name__
        raise ExerciseError("scaled_gradients on a float32 quadratic: expected a list of 2 gradients (one per "
                            f"variable), got {shown}" + (f" of length {len(got)}" if isinstance(got, (list, tuple))
                                                         else ""))
    if any(g is None for g in got):
        raise ExerciseError("scaled_gradients on a float32 quadratic: a gradient is None: compute the loss inside "
                            "`with tf.GradientTape() as tape:` (call loss_fn() there)")
    if any(isinstance(g, dict) for g in got):
        raise ExerciseError("scaled_gradients on a float32 quadratic: expected tensors or arrays, got "
                            + ", ".join(g["not_data"] for g in got if isinstance(g, dict)))
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

    tiny_loss, (v,) = harness.float16_case()
    with tf.GradientTape() as tape:
        loss = tiny_loss()
    unscaled = tape.gradient(loss, [v])[0].numpy()
    got = call_safely(harness.run, fn, "engineering.scaled_gradients", case="float16", scale=2.0 ** 15,
                      what="scaled_gradients on a float16 loss, scale 2**15")
    if not isinstance(got, (list, tuple)) or len(got) != 1 or got[0] is None or isinstance(got[0], dict):
        raise ExerciseError("scaled_gradients on a float16 loss: expected a list of 1 gradient (an array), got "
                            f"{got!r}"[:300])
    g = np.asarray(got[0], dtype=np.float64)
    if np.all(g == 0):
        raise ExerciseError("scaled_gradients on a float16 loss: the gradient came back 0, as without scaling "
                            f"(unscaled: {unscaled}); multiply the loss by `scale` *before* tape.gradient, so the "
                            "float16 gradients are large enough to be represented, then divide them back")
    check_close(g, np.full(2, 1e-8), what="the gradient of the float16 loss (true value 1e-8 each)", rtol=0.05,
                atol=1e-10)
    return passed("loss-scaled gradients")
