"""Automatic checks for the exercises of lesson ``08_colour_gans``: the WGAN-GP gradient penalty, the power iteration
behind spectral normalization, and the hinge losses.

The gradient-penalty check builds tiny seeded critics on 8x8x3 images (a linear one, Flatten -> Dense(1), whose
input gradient is its kernel, so the right penalty is ``(|w| - 1)^2`` in closed form; and a small conv critic, Conv2D
-> tanh -> Dense(1), whose gradient changes from image to image), runs the learner's function on them inside an outer
``tf.GradientTape`` as a training step does, and compares the penalty and its gradient with respect to the critic's
weights with the reference. The alphas differ from image to image and from 1/2, so that a penalty taken at the real
images, at the fakes or with alpha on the wrong side gives another value. The spectral-norm check compares the
estimate with NumPy's SVD after 50 iterations and with the exact value after one to three (below the true one: an
SVD instead of the iteration shows there), on Dense kernels first, then on conv kernels. The hinge check uses logits
beyond +-1 and batches of different sizes. Each check raises :class:`course_utils.checks.ExerciseError` naming the
case and, where the answers match a known mistake on every case, the mistake; it returns True (after printing a
success line) when every case passes. Eager functions and ``tf.function``s are both accepted. Where TF32 may round
float32 matrix products (a GPU, in a training lesson), the tolerances widen (relative 1e-2 for the penalty, 3e-3 for
sigma): every known slip is further off than that on some case.

Conventions (also stated in the lesson):

* ``gradient_penalty(critic, real, fake, alpha) -> penalty``: with ``x_hat = alpha * real + (1 - alpha) * fake``
  (``alpha`` of shape ``(n, 1, 1, 1)``, one per image), the mean over the batch of ``(|grad_x_hat critic(x_hat)|_2 -
  1)^2``, each image's norm taken over all its pixels and channels (Gulrajani et al. 2017, WGAN-GP); ``critic`` a
  Keras model, images ``(n, h, w, c)`` -> scores ``(n, 1)``; ``real``, ``fake`` and ``alpha`` float32 tensors. The
  gradient comes from a ``tf.GradientTape`` that watches ``x_hat``; the result is a scalar float32 tensor that the
  training step's outer tape can differentiate with respect to the critic's weights (no ``.numpy()``, no
  ``float()``); the critic's weights are left as they are;
* ``spectral_norm(kernel, u, iterations) -> (sigma, u_new)``: the power iteration of Keras's
  ``SpectralNormalization``: ``W = reshape(kernel, (-1, out))`` (a Dense kernel ``(in, out)`` as it is, a conv
  kernel ``(kh, kw, in, out)`` as ``(kh * kw * in, out)``), then ``iterations`` times ``v = W u / |W u|``,
  ``u = W^T v / |W^T v|``, and ``sigma = v^T W u`` with the last ``v`` and ``u``. The check passes float32 NumPy
  arrays or tensors, ``u`` of shape ``(out,)`` (not unit length, as Keras draws it), ``iterations >= 1``; it accepts
  ``sigma`` as a number or a one-element array or tensor and ``u_new`` of shape ``(out,)`` or ``(1, out)``;
* ``hinge_losses(real_logits, fake_logits) -> (d_loss, g_loss)``: ``d_loss = mean(relu(1 - real_logits)) +
  mean(relu(1 + fake_logits))``, ``g_loss = -mean(fake_logits)`` (Lim & Ye 2017; Miyato et al. 2018, SNGAN), two
  numbers; the logits are arrays or tensors of shape ``(n,)`` or ``(n, 1)``, the two batches of different sizes.

The learner's functions run through :mod:`course_utils.harness` (``colour.gradient_penalty``,
``colour.spectral_norm``, ``colour.hinge_losses``), which builds the critic and the inputs from plain data and hands
back what came, as data, so that a teacher's grader can run them in its sandbox.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import harness
from ..checks import ExerciseError, as_scalar, call_safely, check_close, exercise, forbid_calls, name_mistake, passed

__all__ = ["check_gradient_penalty", "check_hinge_losses", "check_spectral_norm", "reference_gradient_penalty",
           "reference_hinge_losses", "reference_spectral_norm"]


def _tf32() -> bool:
    """Whether TF32 may round float32 matrix products and convolutions here: a GPU, with TF32 allowed (TensorFlow's
    default, and what ``course_utils.device.setup(..., training=True)`` keeps)."""
    import tensorflow as tf

    return bool(tf.config.experimental.tensor_float_32_execution_enabled() and tf.config.list_logical_devices("GPU"))


def _require_function(fn: Any) -> None:
    if not callable(fn):
        raise ExerciseError(f"expected a function, got {type(fn).__name__}")


def _scalar(value: Any, what: str, meaning: str) -> float:
    """A number that came back from the harness, as one float (a note when it was not data)."""
    if isinstance(value, dict) and "not_data" in value:
        raise ExerciseError(f"{what}: expected {meaning}, got a {value['not_data']}")
    return as_scalar(value, what, meaning=meaning)


# ---------------------------------------------------------------------------------------------
# Exercise 1: the WGAN-GP gradient penalty
# ---------------------------------------------------------------------------------------------

def reference_gradient_penalty(critic: Any, real: Any, fake: Any, alpha: Any) -> Any:
    """``mean_i (|grad critic(x_hat_i)| - 1)^2`` at ``x_hat = alpha * real + (1 - alpha) * fake``: exercise 1's answer.

    Call it inside an outer ``tf.GradientTape`` to differentiate it with respect to the critic's weights.

    Introduced in 08_colour_gans.

    Args:
        critic: a Keras model mapping images ``(n, h, w, c)`` to scores ``(n, 1)``.
        real: a batch of real images.
        fake: a batch of generated images of the same shape.
        alpha: one interpolation weight per image, shape ``(n, 1, 1, 1)``.

    Returns:
        The penalty as a scalar float32 tensor.
    """
    import tensorflow as tf

    real, fake = tf.cast(real, tf.float32), tf.cast(fake, tf.float32)
    alpha = tf.cast(alpha, tf.float32)
    x_hat = alpha * real + (1.0 - alpha) * fake
    with tf.GradientTape() as tape:
        tape.watch(x_hat)
        scores = critic(x_hat, training=True)
    grads = tape.gradient(scores, x_hat)
    norms = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=[1, 2, 3]))
    return tf.reduce_mean(tf.square(norms - 1.0))


def _gp_cases(hidden: bool) -> list[tuple[str, dict[str, Any]]]:
    """(case, harness spec): linear critics (the penalty in closed form) and conv critics, alphas away from 1/2."""
    if hidden:
        return [("a linear critic with |w| = 2.2, 2 images", dict(critic="linear", n=2, seed=81, w_norm=2.2,
                                                                  alpha=[0.85, 0.05])),
                ("a conv critic, 6 images", dict(critic="conv", n=6, seed=82,
                                                 alpha=[0.05, 0.9, 0.45, 0.7, 0.2, 0.95])),
                ("a conv critic, 3 images", dict(critic="conv", n=3, seed=83, alpha=[0.75, 0.15, 0.6]))]
    return [("a linear critic with |w| = 1.5, 4 images", dict(critic="linear", n=4, seed=41, w_norm=1.5,
                                                              alpha=[0.1, 0.8, 0.3, 0.65])),
            ("a linear critic with |w| = 0.6, 3 images", dict(critic="linear", n=3, seed=42, w_norm=0.6,
                                                              alpha=[0.9, 0.25, 0.4])),
            ("a conv critic, 4 images", dict(critic="conv", n=4, seed=43, alpha=[0.1, 0.8, 0.3, 0.65])),
            ("a conv critic, 5 images", dict(critic="conv", n=5, seed=44, alpha=[0.95, 0.2, 0.55, 0.05, 0.7]))]


def _input_grads(critic: Any, x: np.ndarray, *, mean: bool = False) -> np.ndarray:
    """The gradient of the critic's scores (their sum, or their mean) with respect to the images ``x``, float64."""
    import tensorflow as tf

    x = tf.constant(np.asarray(x, np.float32))
    with tf.GradientTape() as tape:
        tape.watch(x)
        scores = critic(x, training=True)
        total = tf.reduce_mean(scores) if mean else tf.reduce_sum(scores)
    return np.asarray(tape.gradient(total, x), np.float64)


def _weight_grad_norm(critic: Any, x: np.ndarray, *, mean: bool) -> float:
    """The global norm of the gradient of the critic's summed (or mean) scores with respect to its weights."""
    import tensorflow as tf

    x = tf.constant(np.asarray(x, np.float32))
    with tf.GradientTape() as tape:
        scores = critic(x, training=True)
        total = tf.reduce_mean(scores) if mean else tf.reduce_sum(scores)
    grads = tape.gradient(total, critic.trainable_variables)
    return float(np.sqrt(sum(np.sum(np.square(np.asarray(g, np.float64))) for g in grads if g is not None)))


def _per_image_norms(g: np.ndarray) -> np.ndarray:
    return np.sqrt(np.sum(np.square(g.reshape(g.shape[0], -1)), axis=1))


def _gp(norms: np.ndarray) -> float:
    return float(np.mean(np.square(norms - 1.0)))


_GP_AT = "WGAN-GP takes the gradient at the interpolates x_hat = alpha * real + (1 - alpha) * fake"
_GP_WEIGHTS = ("this is the norm of the gradient with respect to the critic's weights; the penalty is on the gradient "
               "with respect to its input: watch x_hat with the tape (tape.watch(x_hat)), compute critic(x_hat) inside "
               "it and differentiate the scores with respect to x_hat")


def _gp_mistakes(critic: Any, real: np.ndarray, fake: np.ndarray, alpha: np.ndarray) -> dict[str, float]:
    """What each known slip gives on one case."""
    x_hat = alpha * real + (1.0 - alpha) * fake
    g = _input_grads(critic, x_hat)
    norms = _per_image_norms(g)
    n = g.shape[0]
    return {
        "the norm is taken over the whole batch at once (tf.norm(grads) without an axis); WGAN-GP penalizes each "
        "image's gradient norm: sqrt(reduce_sum(square(grads), axis=[1, 2, 3])), then the mean over the batch of "
        "(norm - 1)^2": (float(np.sqrt(np.sum(g ** 2))) - 1.0) ** 2,
        "this uses the squared norm, mean((|g|^2 - 1)^2): take the square root of the sum of squares (the norm "
        "itself), then (|g| - 1)^2": float(np.mean(np.square(norms ** 2 - 1.0))),
        "this is mean(|g|^2): the \"- 1\" is missing (or the squared norm was taken for the penalty); the penalty "
        "pulls each image's norm towards 1: mean((|g| - 1)^2)": float(np.mean(norms ** 2)),
        "this is the mean norm, mean(|g|): the penalty is the mean of (|g| - 1)^2": float(np.mean(norms)),
        "this is the mean absolute difference mean(| |g| - 1 |): square the difference, (|g| - 1)^2":
            float(np.mean(np.abs(norms - 1.0))),
        "this sums the images' penalties over the batch; take their mean": n * _gp(norms),
        f"the gradient is taken at the real images; {_GP_AT}": _gp(_per_image_norms(_input_grads(critic, real))),
        f"the gradient is taken at the fake images; {_GP_AT}": _gp(_per_image_norms(_input_grads(critic, fake))),
        "alpha is on the wrong side (alpha * fake + (1 - alpha) * real); the convention here is x_hat = alpha * real + "
        "(1 - alpha) * fake":
            _gp(_per_image_norms(_input_grads(critic, alpha * fake + (1.0 - alpha) * real))),
        "the interpolates ignore alpha (this is the midpoint (real + fake) / 2); use the alpha you are given: x_hat = "
        "alpha * real + (1 - alpha) * fake": _gp(_per_image_norms(_input_grads(critic, 0.5 * (real + fake)))),
        "the gradient is that of the batch *mean* of the scores, which divides each image's gradient by the batch "
        "size: differentiate the scores themselves, tape.gradient(critic(x_hat), x_hat) (their sum)":
            _gp(_per_image_norms(_input_grads(critic, x_hat, mean=True))),
        "the norm is taken over the channels only (axis=-1), one norm per pixel: take one norm per image, over all "
        "its pixels and channels (axis=[1, 2, 3])": _gp(np.sqrt(np.sum(g ** 2, axis=-1))),
        "the norm is taken over axis 1 only (as for a batch of vectors), but each image is a 3-D array: take one "
        "norm per image, over all its pixels and channels (axis=[1, 2, 3])": _gp(np.sqrt(np.sum(g ** 2, axis=1))),
        _GP_WEIGHTS + " (here: the weights' gradient of the summed scores)":
            (_weight_grad_norm(critic, x_hat, mean=False) - 1.0) ** 2,
        _GP_WEIGHTS + " (here: the weights' gradient of the mean score)":
            (_weight_grad_norm(critic, x_hat, mean=True) - 1.0) ** 2,
    }


_GP_NOT_DIFFERENTIABLE = (
    "the critic's update differentiates the penalty with respect to the critic's weights (the penalty is part of its "
    "loss), and the training step's outer tape saw no path from them to your result. Keep everything a tensor (no "
    ".numpy(), no float(), no NumPy functions), take the input gradient with an inner tape *while the outer one "
    "records*, and do not stop the gradient.")

_GP_MEANING = "the penalty (one number, the batch mean)"

_FORBIDDEN_GP = {name: "that is the lesson's own penalty code; write the tape yourself"
                 for name in ("interpolates_penalty", "gan_update", "make_train_step")}


def _gp_value(got: Any, per_image: np.ndarray, what: str, rtol: float) -> float:
    """The learner's penalty as a float; one penalty per image gets its own message."""
    if isinstance(got, dict) and "not_data" in got:
        raise ExerciseError(f"{what}: expected {_GP_MEANING}, got a {got['not_data']}")
    if isinstance(got, np.ndarray) and got.size == per_image.size and got.size > 1:
        if np.allclose(got.astype(np.float64).ravel(), per_image, rtol=rtol, atol=1e-6):
            raise ExerciseError(f"{what}: you returned each image's penalty (shape {got.shape}); return their mean "
                                "over the batch, one number")
    return _scalar(got, what, _GP_MEANING)


@exercise(1, "gradient_penalty")
def check_gradient_penalty(fn: Callable[..., Any], *, hidden: bool = False) -> bool:
    """Check ``fn(critic, real, fake, alpha)`` -> ``mean_i (|grad critic(x_hat_i)| - 1)^2`` (WGAN-GP).

    The check calls the learner's function inside an outer ``tf.GradientTape`` (as the critic's training step does)
    on tiny seeded critics: linear ones, whose input gradient is their kernel ``w`` for every image, so the penalty is
    ``(|w| - 1)^2`` whatever alpha, and conv ones, whose gradient changes with the image, with alphas that differ from
    image to image. It compares the value and its gradient with respect to the critic's weights with
    :func:`reference_gradient_penalty`, and calls the function twice on the same inputs (it must not draw its own
    alpha).

    Introduced in 08_colour_gans.

    Args:
        fn: the learner's ``gradient_penalty``.
        hidden: use the grading cases instead of the visible ones.

    Returns:
        True when every case passes (after printing a success line).

    Raises:
        ExerciseError: naming the case and, where the values are those of a known slip on every case, the slip: the
            norm over the whole batch or over one axis, the squared norm, a missing ``- 1``, an absolute value, a sum
            over the batch, the gradient at the real or the fake images or with alpha on the wrong side, the gradient
            of the mean score or with respect to the weights; one penalty per image, None, a result that changes from
            call to call, a result the outer tape cannot differentiate, the critic's weights changed.
    """
    import tensorflow as tf

    _require_function(fn)
    forbid_calls(fn, _FORBIDDEN_GP, what="gradient_penalty")
    rtol = 1e-2 if _tf32() else 1e-4  # every known slip is off by more than 40% on some case
    answers, expected, mistakes, whats, grads = [], [], [], [], []
    for case, spec in _gp_cases(hidden):
        critic, real, fake, alpha = harness.critic_case(**spec)
        what = f"gradient_penalty({case}, alphas {spec['alpha']})"
        variables = critic.trainable_variables
        with tf.GradientTape() as tape:
            want = reference_gradient_penalty(critic, tf.constant(real), tf.constant(fake), tf.constant(alpha))
        # (UnconnectedGradients.ZERO fails on Keras variables, whose dtype is a string: None is read as 0 below)
        want_grads = [np.zeros(v.shape) if g is None else np.asarray(g, np.float64)
                      for v, g in zip(variables, tape.gradient(want, variables))]
        want = float(want)
        if spec["critic"] == "linear":  # the closed form guards the reference
            closed = (float(spec["w_norm"]) - 1.0) ** 2
            if abs(want - closed) > 1e-4 * max(1.0, closed):
                raise RuntimeError(f"the reference gives {want} on {case}, the closed form {closed}")
        x_hat = alpha * real + (1.0 - alpha) * fake
        per_image = np.square(_per_image_norms(_input_grads(critic, x_hat)) - 1.0)
        # the learner's function runs inside an outer tape in the harness; its value and gradients come back as data
        got = call_safely(harness.run, fn, "colour.gradient_penalty", what=what, **spec)
        value = _gp_value(got["value"], per_image, what, rtol)
        again = _gp_value(got["again"], per_image, what + ", called a second time", rtol)
        if got["weights_changed"]:
            raise ExerciseError(f"{what}: the critic's weights changed. gradient_penalty only computes the penalty; "
                                "the critic's optimizer applies its gradient in the training step.")
        if not np.isclose(value, again, rtol=rtol, atol=1e-7):
            raise ExerciseError(f"{what}: two calls on the same inputs gave {value:.6g} and {again:.6g}. Use the alpha "
                                "you are given (the training step draws it), and draw nothing at random inside "
                                "gradient_penalty.")
        answers.append(value)
        expected.append(want)
        mistakes.append(_gp_mistakes(critic, real, fake, alpha))
        whats.append(what)
        grads.append((got["grads"], want_grads))
    for what, value, want in zip(whats, answers, expected):
        if np.isfinite(value) and abs(value - want) <= rtol * abs(want) + 1e-6:
            continue
        table = {text: [m[text] for m in mistakes] for text in mistakes[0]}
        slip = name_mistake(answers, table, expected, rtol=rtol, atol=1e-6)
        raise ExerciseError(f"{what}: expected the penalty {want:.6g}, got {value:.6g}" + (f": {slip}" if slip else ""))
    for what, (got_grads, want_grads) in zip(whats, grads):
        if got_grads is None or all(g is None for g in got_grads):
            raise ExerciseError(f"{what}: the value is right, but {_GP_NOT_DIFFERENTIABLE}")
        for g, w in zip(got_grads, want_grads):
            g = np.zeros(w.shape) if g is None else np.asarray(g, np.float64)
            if not np.allclose(g, w, rtol=10 * rtol, atol=1e-5 * max(1.0, float(np.max(np.abs(w))))):
                worst = float(np.max(np.abs(g - w)))
                raise ExerciseError(f"{what}: the value is right, but its gradient with respect to the critic's "
                                    f"weights differs from the reference's (largest difference {worst:.3g}): "
                                    f"{_GP_NOT_DIFFERENTIABLE}")
    return passed("gradient_penalty")


# ---------------------------------------------------------------------------------------------
# Exercise 2: the power iteration of spectral normalization
# ---------------------------------------------------------------------------------------------

def _power_iteration(w: np.ndarray, u: np.ndarray, iterations: int, *, normalize: bool = True
                     ) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """``(sigma, u, v, u_before_the_last_update)`` of ``iterations`` power iterations on the matrix ``w``, float64."""
    u = np.asarray(u, np.float64).ravel()
    v = np.zeros(w.shape[0])
    previous = u
    for _ in range(iterations):
        previous = u
        v = w @ u
        if normalize:
            v = v / np.linalg.norm(v)
        u = w.T @ v
        if normalize:
            u = u / np.linalg.norm(u)
    return float(v @ w @ u), u, v, previous


def reference_spectral_norm(kernel: Any, u: Any, iterations: int) -> tuple[float, np.ndarray]:
    """The power iteration of Keras's ``SpectralNormalization``, in float64: exercise 2's answer.

    ``W = reshape(kernel, (-1, out))``; ``iterations`` times ``v = W u / |W u|``, ``u = W^T v / |W^T v|``; then
    ``sigma = v^T W u``.

    Introduced in 08_colour_gans.

    Args:
        kernel: a Dense kernel ``(in, out)`` or a conv kernel ``(kh, kw, in, out)``.
        u: the start vector, shape ``(out,)`` or ``(1, out)``.
        iterations: how many power iterations (>= 1).

    Returns:
        ``(sigma, u_new)``: the estimate of the largest singular value of ``W`` and the last ``u``, shape ``(out,)``.

    Raises:
        ValueError: if ``u`` does not have ``out`` entries or ``iterations`` is not an int >= 1.
    """
    from ..validate import int_at_least

    iterations = int_at_least(iterations, 1, "iterations", expected="a number of power iterations (an int >= 1)")
    kernel = np.asarray(kernel, np.float64)
    w = kernel.reshape(-1, kernel.shape[-1])
    u = np.asarray(u, np.float64)
    if u.size != w.shape[1]:
        raise ValueError(f"expected u with one entry per output unit ({w.shape[1]}), got shape {u.shape}")
    sigma, u_new, _, _ = _power_iteration(w, u, iterations)
    return sigma, u_new


def _spectral_cases(hidden: bool) -> list[tuple[str, np.ndarray, np.ndarray, int, bool]]:
    """(case, kernel, u, iterations, as tensors): Dense kernels first (the iteration), then conv kernels (the reshape).

    Each converged case has a clear gap between its two largest singular values (50 iterations reach the SVD's value
    to float32 precision); each one-step case starts far enough from the top singular vector that its estimate is
    clearly below the largest singular value."""
    rng = np.random.default_rng(88 if hidden else 8)

    def case(shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        return (rng.normal(0.0, 0.3, shape).astype(np.float32), rng.normal(0.0, 1.0, shape[-1]).astype(np.float32))

    if hidden:
        shapes = [("a Dense kernel (9, 4), 50 iterations", (9, 4), 50, False),
                  ("a Dense kernel (6, 8), 1 iteration", (6, 8), 1, False),
                  ("a conv kernel (3, 3, 2, 5), 2 iterations", (3, 3, 2, 5), 2, False),
                  ("a conv kernel (2, 2, 3, 3) as tensors, 50 iterations", (2, 2, 3, 3), 50, True)]
    else:
        shapes = [("a Dense kernel (12, 5), 50 iterations", (12, 5), 50, False),
                  ("a Dense kernel (7, 9), 50 iterations", (7, 9), 50, False),
                  ("a Dense kernel (10, 6), 1 iteration", (10, 6), 1, False),
                  ("a Dense kernel (8, 5), 3 iterations", (8, 5), 3, False),
                  ("a conv kernel (3, 3, 3, 6), 1 iteration", (3, 3, 3, 6), 1, False),
                  ("a conv kernel (3, 3, 4, 4) as tensors, 50 iterations", (3, 3, 4, 4), 50, True)]
    return [(name, *case(shape), iterations, tensors) for name, shape, iterations, tensors in shapes]


def _matrix_sigma(w: np.ndarray | None, u: np.ndarray, iterations: int) -> float:
    """The power iteration's estimate on another matrix ``w`` (NaN when ``u`` does not fit it)."""
    if w is None or w.shape[1] != u.size:
        return float("nan")
    return _power_iteration(w, u, iterations)[0]


_SVD = ("this is the exact largest singular value (an SVD or a matrix 2-norm?): the exercise is the power iteration, "
        "whose estimate after `iterations` steps from the given u is below it; iterate v = W u / |W u|, u = W^T v / "
        "|W^T v|, then sigma = v^T W u")
_RESHAPE = ("W = reshape(kernel, (-1, out)), the reshape Keras's SpectralNormalization uses: a Dense kernel (in, out) "
            "as it is, a conv kernel (kh, kw, in, out) as a matrix of shape (kh * kw * in, out)")
_SHAPES = (f"{_RESHAPE}; then u and W^T v have shape (out,), the shape of the u you are given, and v = W u has one "
           "entry per row of W")


def _spectral_mistakes(kernel: np.ndarray, u: np.ndarray, iterations: int) -> dict[str, float]:
    """What each known slip gives as sigma on one case."""
    kernel = np.asarray(kernel, np.float64)
    out = kernel.shape[-1]
    w = kernel.reshape(-1, out)
    s = np.linalg.svd(w, compute_uv=False)
    sigma, u_new, v, previous = _power_iteration(w, u, iterations)
    mistakes = {
        "this is the Frobenius norm sqrt(sum(W^2)), not the spectral norm (the largest singular value)":
            float(np.linalg.norm(w)),
        "this is the smallest singular value; spectral normalization divides by the largest": float(s[-1]),
        _SVD: float(s[0]),
        "this is sigma squared (|W u|^2); sigma is v^T W u, with no square": float(np.linalg.norm(w @ u_new) ** 2),
        "this is sigma squared ((v^T W u)^2); sigma is v^T W u, with no square": sigma ** 2,
        "v and u are not normalized: divide v = W u by its norm, and u = W^T v by its norm, at every iteration":
            _power_iteration(w, u, iterations, normalize=False)[0],
        "sigma uses the u from before the last update (|W u_old|); compute sigma = v^T W u after updating u":
            float(np.linalg.norm(w @ previous)),
        "this is |W u| with the new u; sigma is v^T W u with the v and u of the last iteration":
            float(np.linalg.norm(w @ u_new)),
    }
    mistakes[f"the kernel is reshaped to (out, -1) (then transposed), which mixes its entries up: {_RESHAPE}"] = \
        _matrix_sigma(kernel.reshape(out, -1).T, u, iterations)
    # (reshape(kernel, (-1, in)) gives a matrix that u does not fit unless in == out, where it is the right one: the
    # crash's hint names it)
    return mistakes


def _spectral_parts(got: Any, what: str, out: int, m: int) -> tuple[float, np.ndarray]:
    """``(sigma, u_new)`` from what came back, or an :class:`ExerciseError` saying what came instead."""
    if not isinstance(got, tuple | list) or len(got) != 2:
        if isinstance(got, tuple | list):
            shown = f"a {type(got).__name__} of {len(got)} items"
        elif isinstance(got, dict):
            shown = f"a {got.get('not_data', 'dict')}"
        else:
            shown = f"one value ({type(got).__name__})"
        raise ExerciseError(f"{what}: expected two values, (sigma, u_new), got {shown}: return the estimate and the "
                            "updated u (the layer keeps u for the next training step)")
    sigma = _scalar(got[0], f"{what}: sigma", "sigma (one number)")
    u_new = got[1]
    if u_new is None or (isinstance(u_new, dict) and "not_data" in u_new):
        raise ExerciseError(f"{what}: expected u_new to be an array of shape ({out},), got "
                            f"{'None' if u_new is None else u_new['not_data']}")
    try:
        u_new = np.asarray(u_new, np.float64)
    except (TypeError, ValueError):
        raise ExerciseError(f"{what}: expected u_new to be an array of shape ({out},), got "
                            f"{type(u_new).__name__}") from None
    if u_new.shape not in ((out,), (1, out)):
        hint = " (that is v's shape: return u, the vector of the output side)" if u_new.size == m != out else ""
        raise ExerciseError(f"{what}: expected u_new of shape ({out},) or (1, {out}), got shape {u_new.shape}{hint}")
    return sigma, u_new.ravel()


def _judge_spectral(fn: Callable[..., Any], cases: Sequence[tuple[str, np.ndarray, np.ndarray, int, bool]],
                    conv: bool) -> None:
    loose = _tf32()  # every known slip is off by more than 3% on some case
    answers, expected, mistakes, whats, u_pairs = [], [], [], [], []
    for case, kernel, u, iterations, tensors in cases:
        what = f"spectral_norm({case})"
        out, m = kernel.shape[-1], int(np.prod(kernel.shape[:-1]))
        try:
            got = call_safely(harness.run, fn, "colour.spectral_norm", kernel=kernel, u=u, iterations=iterations,
                              tensors=tensors, what=what)
        except ExerciseError as err:
            if err.__cause__ is None:
                raise
            if tensors:
                hint = ("it works on NumPy arrays but not on tensors (a layer's kernel is a tensor): use TensorFlow's "
                        "operations, or np.asarray(kernel) first")
            else:
                hint = f"the Dense kernels passed; {_SHAPES}" if conv else f"check the shapes: {_SHAPES}"
            raise ExerciseError(f"{err} Hint: {hint}.") from err.__cause__
        sigma, u_new = _spectral_parts(got, what, out, m)
        want, want_u = reference_spectral_norm(kernel, u, iterations)
        w = np.asarray(kernel, np.float64).reshape(-1, out)
        top = float(np.linalg.svd(w, compute_uv=False)[0])
        if not np.isfinite(sigma) or sigma > 1e3 * top:
            raise ExerciseError(f"{what}: expected sigma {want:.6g}, got {sigma:.6g}: v and u are not normalized, so "
                                "they grow at every iteration; divide v = W u by its norm, and u = W^T v by its norm, "
                                "at every iteration")
        answers.append(sigma)
        expected.append(want)
        mistakes.append(_spectral_mistakes(kernel, u, iterations))
        whats.append((what, iterations, top))
        u_pairs.append((u_new, want_u, u))
    for (what, iterations, top), sigma, want in zip(whats, answers, expected):
        # converged: the SVD's largest singular value (rtol 1e-3); a few steps: the exact estimate of those steps
        target, rtol = (top, 1e-3) if iterations >= 50 else (want, 1e-4)
        rtol = 3e-3 if loose else rtol
        if abs(sigma - target) <= rtol * abs(target):
            continue
        table = {text: [m[text] for m in mistakes] for text in mistakes[0]}
        slip = name_mistake(answers, table, expected, rtol=3e-3 if loose else 1e-4, atol=1e-6)
        told = "the largest singular value of W" if iterations >= 50 else f"the estimate after {iterations} iteration(s)"
        raise ExerciseError(f"{what}: expected sigma {target:.6g} ({told}), got {sigma:.6g}"
                            + (f": {slip}" if slip else ""))
    for (what, iterations, _), (u_new, want_u, start) in zip(whats, u_pairs):
        if np.allclose(u_new, start, rtol=1e-5, atol=1e-6) and not np.allclose(want_u, start, atol=1e-3):
            raise ExerciseError(f"{what}: u_new is the u you were given: return the u of the last iteration "
                                "(the layer keeps it for the next training step)")
        length = float(np.linalg.norm(u_new))
        if not np.isclose(length, 1.0, atol=1e-3):
            raise ExerciseError(f"{what}: u_new has norm {length:.6g}, expected a unit vector: u = W^T v / |W^T v|")
        atol = 5e-3 if loose else 1e-3 if iterations >= 50 else 1e-4
        check_close(u_new, want_u, what=f"{what}: u_new", rtol=1e-3, atol=atol)


@exercise(2, "spectral_norm")
def check_spectral_norm(fn: Callable[..., Any], *, hidden: bool = False) -> bool:
    """Check ``fn(kernel, u, iterations) -> (sigma, u_new)``: the power iteration of spectral normalization.

    Dense kernels first, then conv kernels (one passed as tensors). After 50 iterations sigma must equal the largest
    singular value of ``W = reshape(kernel, (-1, out))`` from ``np.linalg.svd`` (relative tolerance 1e-3); after one
    to three iterations, the exact estimate of those iterations from the given ``u`` (relative tolerance 1e-4), which
    is below the largest singular value, so an SVD in place of the iteration fails there. ``u_new`` must be the
    iteration's last ``u``, shape ``(out,)`` or ``(1, out)``.

    Introduced in 08_colour_gans.

    Args:
        fn: the learner's ``spectral_norm``.
        hidden: use the grading cases instead of the visible ones.

    Returns:
        True when every case passes (after printing a success line).

    Raises:
        ExerciseError: naming the case and, where the values are those of a known slip on every case, the slip: the
            Frobenius norm, the smallest singular value, an exact SVD instead of the iteration, sigma squared, v and u
            not normalized, sigma from the u before its update or ``|W u|``, a kernel reshaped to ``(out, -1)`` (by
            its values; a reshape that u does not fit, such as ``(-1, in)``, crashes, and the message's hint gives
            the right one); one value instead of two, v instead of u, u not returned or not of unit length.
    """
    _require_function(fn)
    forbid_calls(fn, {"SpectralNormalization": "Keras's layer runs this iteration itself (on a u of its own); write "
                                               "the iteration yourself"}, what="spectral_norm")
    cases = _spectral_cases(hidden)
    _judge_spectral(fn, [c for c in cases if c[1].ndim == 2], conv=False)
    _judge_spectral(fn, [c for c in cases if c[1].ndim == 4], conv=True)
    return passed("spectral_norm")


# ---------------------------------------------------------------------------------------------
# Exercise 3: the hinge losses
# ---------------------------------------------------------------------------------------------

def reference_hinge_losses(real_logits: Any, fake_logits: Any) -> tuple[float, float]:
    """``(mean(relu(1 - real)) + mean(relu(1 + fake)), -mean(fake))`` in float64: exercise 3's answer.

    Introduced in 08_colour_gans.

    Args:
        real_logits: the critic's scores on real images, any shape.
        fake_logits: its scores on generated images, any shape.

    Returns:
        ``(d_loss, g_loss)`` as floats.
    """
    real, fake = np.asarray(real_logits, np.float64), np.asarray(fake_logits, np.float64)
    d_loss = np.mean(np.maximum(0.0, 1.0 - real)) + np.mean(np.maximum(0.0, 1.0 + fake))
    return float(d_loss), float(-np.mean(fake))


def _hinge_cases(hidden: bool) -> list[tuple[str, np.ndarray, np.ndarray, bool]]:
    """(case, real logits, fake logits, as tensors): logits inside and beyond +-1, batches of different sizes."""
    rng = np.random.default_rng(1718 if hidden else 2017)
    if hidden:
        return [("6 real and 2 fake logits", rng.normal(0.8, 1.5, 6), rng.normal(-0.8, 1.5, 2), False),
                ("3 real and 5 fake logits of shape (n, 1), as tensors", rng.normal(0.0, 2.0, (3, 1)),
                 rng.normal(0.5, 2.0, (5, 1)), True)]
    return [("5 real and 3 fake logits", rng.normal(0.5, 1.5, 5), rng.normal(-0.5, 1.5, 3), False),
            ("a confident critic, 4 real and 6 fake logits", rng.normal(2.0, 1.0, 4), rng.normal(-2.0, 1.0, 6), False),
            ("2 real and 7 fake logits of shape (n, 1), as tensors", np.array([[0.3], [-1.7]]),
             np.array([[1.4], [-0.2], [2.5], [-3.0], [0.9], [-1.1], [0.0]]), True)]


def _hinge_mistakes(real: np.ndarray, fake: np.ndarray) -> tuple[dict[str, float], dict[str, float]]:
    """What each known slip gives as d_loss, and as g_loss, on one case."""
    relu = lambda x: np.maximum(0.0, x)  # noqa: E731
    real, fake = np.asarray(real, np.float64).ravel(), np.asarray(fake, np.float64).ravel()
    d_terms = (relu(1.0 - real), relu(1.0 + fake))
    d_right = float(np.mean(d_terms[0]) + np.mean(d_terms[1]))
    d = {
        "the relu is missing: mean(1 - real) + mean(1 + fake) is the Wasserstein critic loss plus 2, with no margin; "
        "the hinge loss is mean(relu(1 - real_logits)) + mean(relu(1 + fake_logits))":
            float(np.mean(1.0 - real) + np.mean(1.0 + fake)),
        "this is the Wasserstein critic loss mean(fake) - mean(real); the hinge loss clips each term at the margin: "
        "mean(relu(1 - real_logits)) + mean(relu(1 + fake_logits))": float(np.mean(fake) - np.mean(real)),
        "the signs of real and fake are swapped: the critic wants real logits above +1 and fake ones below -1, so its "
        "loss is mean(relu(1 - real_logits)) + mean(relu(1 + fake_logits))":
            float(np.mean(relu(1.0 + real)) + np.mean(relu(1.0 - fake))),
        "these are sums over the batches; take the mean of each term": float(np.sum(d_terms[0]) + np.sum(d_terms[1])),
        "the two terms are averaged (a factor 1/2); add them: mean(relu(1 - real)) + mean(relu(1 + fake))":
            0.5 * d_right,
        "this is the mean over both batches together; the loss is the sum of two batch means (the batches may differ "
        "in size)": float(np.mean(np.concatenate(d_terms))),
    }
    g = {
        "the generator's loss is hinged too (mean(relu(1 - fake_logits))); in SNGAN's hinge GAN the generator "
        "minimizes -mean(fake_logits), with no relu": float(np.mean(relu(1.0 - fake))),
        "the sign is flipped: the generator wants high scores on its images, so it minimizes -mean(fake_logits)":
            float(np.mean(fake)),
        "this is a sum over the batch; take the mean: -mean(fake_logits)": float(-np.sum(fake)),
        "this is the non-saturating loss of lesson 04, mean(softplus(-fake_logits)); the hinge GAN's generator "
        "minimizes -mean(fake_logits)": float(np.mean(np.logaddexp(0.0, -fake))),
    }
    return d, g


_FORBIDDEN_HINGE = {name: "that is the lesson's own loss code; write the hinge losses yourself"
                    for name in ("discriminator_loss", "generator_loss", "gan_update", "make_train_step")}


@exercise(3, "hinge_losses")
def check_hinge_losses(fn: Callable[..., Any], *, hidden: bool = False) -> bool:
    """Check ``fn(real_logits, fake_logits) -> (d_loss, g_loss)``: the hinge losses of SNGAN.

    Expected: ``d_loss = mean(relu(1 - real_logits)) + mean(relu(1 + fake_logits))`` and ``g_loss =
    -mean(fake_logits)``, two numbers. The cases hold logits inside and beyond +-1 (where the relu matters) and
    batches of different sizes (a sum is not a mean, and the mean of both batches together is not the sum of the two
    means); one passes tensors of shape ``(n, 1)``, as a critic returns them.

    Introduced in 08_colour_gans.

    Args:
        fn: the learner's ``hinge_losses``.
        hidden: use the grading cases instead of the visible ones.

    Returns:
        True when every case passes (after printing a success line).

    Raises:
        ExerciseError: naming the case and, where the values are those of a known slip on every case, the slip: no
            relu (the Wasserstein loss), real and fake swapped, the generator hinged too or its sign flipped, sums
            for means, the two terms averaged; one value instead of two, or the two in the wrong order.
    """
    _require_function(fn)
    forbid_calls(fn, _FORBIDDEN_HINGE, what="hinge_losses")
    results: list[tuple[str, float, float, float, float, dict[str, float], dict[str, float]]] = []
    for case, real, fake, tensors in _hinge_cases(hidden):
        what = f"hinge_losses({case})"
        got = call_safely(harness.run, fn, "colour.hinge_losses", real_logits=real, fake_logits=fake,
                          tensors=tensors, what=what)
        d_want, g_want = reference_hinge_losses(real, fake)
        if not isinstance(got, tuple | list) or len(got) != 2:
            if isinstance(got, tuple | list):
                shown = f"a {type(got).__name__} of {len(got)} items"
            elif isinstance(got, dict):
                shown = f"a {got.get('not_data', 'dict')}"
            else:
                shown = "one value"
                try:
                    one = float(np.asarray(got, np.float64).reshape(()))
                except (TypeError, ValueError):
                    one = float("nan")
                for name, want in (("d_loss", d_want), ("g_loss", g_want)):
                    if np.isclose(one, want, rtol=1e-5, atol=1e-6):
                        shown = f"one value, {name} alone"
            raise ExerciseError(f"{what}: expected two numbers, (d_loss, g_loss), got {shown}")
        d = _scalar(got[0], f"{what}: d_loss", "d_loss (one number)")
        g = _scalar(got[1], f"{what}: g_loss", "g_loss (one number)")
        if (not np.isclose(d, d_want, rtol=1e-5, atol=1e-6) and np.isclose(d, g_want, rtol=1e-5, atol=1e-6)
                and np.isclose(g, d_want, rtol=1e-5, atol=1e-6)):
            raise ExerciseError(f"{what}: the two losses are in the wrong order: return (d_loss, g_loss), the critic's "
                                "loss first")
        results.append((what, d, g, d_want, g_want, *_hinge_mistakes(real, fake)))
    for index, name in ((1, "d_loss"), (2, "g_loss")):
        answers = [r[index] for r in results]
        expected = [r[index + 2] for r in results]
        for what, got, want in zip((r[0] for r in results), answers, expected):
            if abs(got - want) <= 1e-5 * max(1.0, abs(want)):
                continue
            tables = [r[index + 4] for r in results]
            slip = name_mistake(answers, {text: [t[text] for t in tables] for text in tables[0]}, expected,
                                rtol=1e-5, atol=1e-6)
            raise ExerciseError(f"{what}: expected {name} {want:.6g}, got {got:.6g}" + (f": {slip}" if slip else ""))
    return passed("hinge_losses")
