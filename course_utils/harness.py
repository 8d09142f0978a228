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
from typing import Any

import numpy as np

__all__ = ["HARNESSES", "harness", "run"]

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
        return [_as_data(v) for v in value]
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
