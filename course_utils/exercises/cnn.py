"""Checks for the exercises of 03_cnn_classifier: softmax cross-entropy and its gradient from scratch, any small
CNN's table by hand, and the Fréchet distance between two Gaussians (the maths of the FID).

Each check runs the learner's function on several inputs and raises :class:`course_utils.checks.ExerciseError`
naming the input, what was expected and what came, with a hint when the answer matches a known mistake
(an overflowing exp, a sum for a mean, a gradient without the one-hot; a forgotten bias, forgotten input channels,
``padding="same"`` rounded the wrong way, an output size off by one). The cross-entropy is checked against
TensorFlow's and a ``tf.GradientTape``; the layer table against Keras itself, which builds each stack.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import numpy as np

from ..checks import ExerciseError, as_scalar, call_safely, check_close, exercise, forbid_calls, name_mistake, passed

__all__ = ["article_layer_plan", "article_param_count", "check_frechet_distance", "check_layer_table",
           "check_softmax_cross_entropy",
           "conv2d_param_count_reference", "layer_table_reference", "reference_softmax_cross_entropy"]


# ---------------------------------------------------------------------------------------------
# Reference answers
# ---------------------------------------------------------------------------------------------

def conv2d_param_count_reference(kernel_size: int | tuple[int, int], in_channels: int, filters: int,
                                 use_bias: bool = True) -> int:
    """Parameters of a ``Conv2D``: ``(k_h * k_w * in_channels + bias) * filters``.

    Introduced in 03_cnn_classifier.
    """
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    return (kh * kw * in_channels + (1 if use_bias else 0)) * filters


def article_layer_plan(input_shape: tuple[int, int, int], num_classes: int) -> list[tuple[str, tuple[int, ...], int]]:
    """The article's CNN layer by layer: ``(layer type, output shape without batch, parameters)``.

    Introduced in 03_cnn_classifier.

    Raises:
        ValueError: if the input is too small for two 3x3 'valid' convolutions and two 2x2 poolings.
    """
    h, w, c = input_shape
    plan = []
    for filters in (32, 64):
        if h < 4 or w < 4:
            raise ValueError(f"input {input_shape} is too small for the article's two conv/pool blocks")
        plan.append(("Conv2D", (h - 2, w - 2, filters), conv2d_param_count_reference(3, c, filters)))
        h, w, c = h - 2, w - 2, filters
        plan.append(("MaxPooling2D", (h // 2, w // 2, c), 0))
        h, w = h // 2, w // 2
    flat = h * w * c
    units = 1 if num_classes <= 2 else num_classes
    plan += [("Flatten", (flat,), 0), ("Dense", (128,), (flat + 1) * 128), ("Dense", (units,), (128 + 1) * units)]
    return plan


def article_param_count(input_shape: tuple[int, int, int], num_classes: int) -> int:
    """Total parameters of the article's CNN for an input shape and a number of classes.

    Introduced in 03_cnn_classifier.
    """
    return sum(p for _, _, p in article_layer_plan(input_shape, num_classes))


# ---------------------------------------------------------------------------------------------
# Exercise 1: softmax cross-entropy from logits, and its gradient, stable for any logit
# ---------------------------------------------------------------------------------------------

def reference_softmax_cross_entropy(logits: Any, labels: Any) -> tuple[float, np.ndarray]:
    """The batch mean of ``-log softmax(logits)[label]`` and its gradient with respect to the logits, by TensorFlow.

    TensorFlow's ``sparse_softmax_cross_entropy_with_logits`` in float64 gives the loss and a ``tf.GradientTape``
    its gradient: nothing here is the closed form the learner writes.

    Introduced in 03_cnn_classifier.

    Args:
        logits: shape ``(n, classes)``.
        labels: ``n`` class indices.

    Returns:
        ``(loss, gradient)``: a float and a float64 array of the logits' shape.
    """
    import tensorflow as tf

    z = tf.Variable(np.asarray(logits, np.float64))
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=tf.constant(np.asarray(labels, np.int64)), logits=z))
    return float(loss), np.asarray(tape.gradient(loss, z), np.float64)


def _softmax_cases(hidden: bool) -> list[tuple[str, np.ndarray, np.ndarray]]:
    if hidden:
        rng = np.random.default_rng(3003)
        return [
            ("7 examples, 5 classes, logits of size 50", rng.normal(0, 50, (7, 5)), rng.integers(0, 5, 7)),
            ("2 examples, 4 classes, logits near 1e4", np.array([[1e4, 9990.0, -1e4, 0.0], [-1e4, -1e4, -1e4, -9995.0]]),
             np.array([1, 0])),
        ]
    rng = np.random.default_rng(3001)
    return [
        ("4 examples, 3 classes, moderate logits", rng.normal(0, 2, (4, 3)), np.array([0, 2, 1, 2])),
        ("1 example, 10 classes", rng.normal(0, 1, (1, 10)), np.array([7])),
        ("3 examples, 3 classes, logits of size 1000 (exp overflows)",
         np.array([[1000.0, 0.0, -1000.0], [1000.0, 999.0, 0.0], [-1000.0, 1000.0, 500.0]]), np.array([0, 1, 0])),
        ("2 examples whose logits sit at very different levels, 1000 apart",
         np.array([[1000.0, 1001.0, 998.0], [-5.0, -3.0, -4.0]]), np.array([2, 0])),
        ("5 examples, 10 classes, float32 logits up to 300", (rng.normal(0, 100, (5, 10))).astype(np.float32),
         np.array([3, 3, 0, 9, 1])),
    ]


def _softmax_mistakes(logits: np.ndarray, labels: np.ndarray) -> dict[str, tuple[float, np.ndarray]]:
    """The usual slips' (loss, gradient) for one case (NaN or inf where the slip overflows)."""
    z = np.asarray(logits, np.float64)
    n = z.shape[0]
    onehot = np.eye(z.shape[1])[labels]
    shifted = z - z.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    p = np.exp(logp)
    loss = -float(np.mean(logp[np.arange(n), labels]))
    grad = (p - onehot) / n
    with np.errstate(all="ignore"):
        global_shift = z - z.max()
        g_logp = global_shift - np.log(np.exp(global_shift).sum(axis=1, keepdims=True))
        prob_of_true = -float(np.mean(np.log(p[np.arange(n), labels])))
        col = z - z.max(axis=0, keepdims=True)
        col_logp = col - np.log(np.exp(col).sum(axis=0, keepdims=True))
    return {
        "the gradient is that of the *sum* over the examples: the loss is their mean, so divide by the batch size":
            (loss, p - onehot),
        "the loss is the sum over the examples, not their mean": (loss * n, grad * n),
        "the gradient's sign is flipped: d(loss)/d(logits) = (softmax - one_hot) / n": (loss, -grad),
        "the gradient is softmax / n without the one-hot of the labels: d(-l_y)/d(l_y) = -1 is missing":
            (loss, p / n),
        "one maximum was subtracted for the whole batch; in an example whose logits sit far below it every exp "
            "underflows to 0 and log 0 = -infinity. Subtract each example's own maximum (axis=1, keepdims=True)":
            (-float(np.mean(g_logp[np.arange(n), labels])), grad),
        "this is -log of the probability, which underflows to 0 when the true class's logit is far below the "
            "largest: compute log-softmax directly, (l - max) - log(sum(exp(l - max))), and take its entry":
            (prob_of_true, grad),
        "the softmax runs over the batch axis (axis 0); it runs over the classes of each example (axis=1)":
            (-float(np.mean(col_logp[np.arange(n), labels])), grad),
    }


_FORBIDDEN_SOFTMAX = {name: "write the loss and its gradient yourself (the check compares with TensorFlow's)"
                      for name in ("sparse_softmax_cross_entropy_with_logits", "softmax_cross_entropy_with_logits",
                                   "SparseCategoricalCrossentropy", "CategoricalCrossentropy",
                                   "sparse_categorical_crossentropy", "categorical_crossentropy",
                                   "reduce_logsumexp", "GradientTape")}


@exercise(1, "softmax_cross_entropy")
def check_softmax_cross_entropy(fn: Callable[..., Any], *, hidden: bool = False) -> bool:
    """Check ``fn(logits, labels) -> (loss, grad)``: the mean softmax cross-entropy and its gradient, from scratch.

    ``logits`` has shape ``(n, classes)``, ``labels`` holds ``n`` class indices; ``loss`` is the batch mean of
    ``-log softmax(logits)[label]`` and ``grad`` its gradient with respect to ``logits`` (same shape). Both are
    compared with TensorFlow's loss and a ``tf.GradientTape`` (:func:`reference_softmax_cross_entropy`), on cases
    with logits of size 1000, examples whose logits differ by 1000 in level, and float32 logits.

    Introduced in 03_cnn_classifier.

    Args:
        fn: the learner's function.
        hidden: use the grading cases instead of the visible ones.

    Returns:
        True when every case passes.

    Raises:
        ExerciseError: naming the case and, where it is a known slip, the slip: overflow (inf or NaN), a sum
            instead of a mean in the loss or the gradient, the gradient's sign or one-hot, one maximum for the
            whole batch, -log of an underflowing probability, the softmax over the wrong axis.
    """
    forbid_calls(fn, _FORBIDDEN_SOFTMAX, what="softmax_cross_entropy")
    whats, answers, expected, mistakes = [], [], [], []
    for case, logits, labels in _softmax_cases(hidden):
        what = f"softmax_cross_entropy({case})"
        with np.errstate(all="ignore"):
            got = call_safely(fn, logits.copy(), labels.copy(), what=what)
        if not isinstance(got, tuple | list) or len(got) != 2:
            kind = f"a {type(got).__name__} of {len(got)} items" if isinstance(got, tuple | list) else type(got).__name__
            raise ExerciseError(f"{what}: expected two things, (loss, grad), got {kind}")
        loss = as_scalar(got[0], f"{what}: loss", meaning="the loss (one number, the batch mean)")
        try:
            grad = np.asarray(got[1], np.float64)
        except (TypeError, ValueError):
            raise ExerciseError(f"{what}: expected grad to be an array, got {type(got[1]).__name__}") from None
        if grad.shape != logits.shape:
            raise ExerciseError(f"{what}: expected grad to have the logits' shape {logits.shape}, got {grad.shape}")
        whats.append(what)
        answers.append((loss, grad))
        expected.append(reference_softmax_cross_entropy(logits, labels))
        mistakes.append(_softmax_mistakes(logits, labels))
    loose = [np.asarray(c[1]).dtype == np.float32 for c in _softmax_cases(hidden)]
    for k, label in ((0, "loss"), (1, "grad")):
        got_k, want_k = [a[k] for a in answers], [e[k] for e in expected]
        table = {text: [m[text][k] for m in mistakes] for text in mistakes[0]}
        for what, got, want, f32 in zip(whats, got_k, want_k, loose):
            rtol, atol = (1e-5, 1e-4) if f32 else (1e-5, 1e-6)
            if np.all(np.isfinite(got)) and np.allclose(got, want, rtol=rtol, atol=atol):
                continue
            slip = name_mistake(got_k, table, want_k, rtol=1e-5, atol=1e-6)
            if slip is None and not np.all(np.isfinite(got)):
                slip = ("exp of a large logit overflows (exp(1000) is infinity in float64): subtract each example's "
                        "largest logit before exponentiating; softmax and log-softmax do not change")
            hint = f": {slip}" if slip else ""
            check_close(got, want, what=f"{what}, {label}{hint}", rtol=rtol, atol=atol)
    return passed("softmax_cross_entropy")


# ---------------------------------------------------------------------------------------------
# Exercise 2: a CNN's layer table by hand
# ---------------------------------------------------------------------------------------------

def layer_table_reference(input_shape: tuple[int, int, int], layers: list[tuple[Any, ...]], *,
                          same_floor: bool = False, valid_no_plus_one: bool = False, pool_ceil: bool = False,
                          no_bias: bool = False, no_channels: bool = False) -> list[tuple[tuple[int, ...], int]]:
    """``(output shape without the batch axis, parameters)`` of each layer of a small CNN, or of a usual slip.

    ``layers`` holds ``("conv", filters, kernel, stride, padding)``, ``("pool", size)`` (stride = size, "valid"),
    ``("flatten",)`` and ``("dense", units)``; convolutions and dense layers have biases.

    Introduced in 03_cnn_classifier.

    Raises:
        ValueError: on a layer of another kind, or a padding other than "valid" and "same".
    """
    h, w, c = input_shape
    flat: int | None = None
    table = []
    bias = 0 if no_bias else 1
    for layer in layers:
        kind = layer[0]
        if kind == "conv":
            _, f, k, s, pad = layer
            if pad not in ("valid", "same"):
                raise ValueError(f"expected padding 'valid' or 'same', got {pad!r}")

            def size(n: int, k: int = k, s: int = s, pad: str = pad) -> int:
                if pad == "same":
                    return n // s if same_floor else -(-n // s)
                return (n - k) // s + (0 if valid_no_plus_one else 1)

            params = (k * k * (1 if no_channels else c) + bias) * f
            h, w, c = size(h), size(w), f
            table.append(((h, w, c), params))
        elif kind == "pool":
            p = layer[1]
            h, w = (-(-h // p), -(-w // p)) if pool_ceil else (h // p, w // p)
            table.append(((h, w, c), 0))
        elif kind == "flatten":
            flat = h * w * c
            table.append(((flat,), 0))
        elif kind == "dense":
            units = layer[1]
            table.append(((units,), ((flat or 0) + bias) * units))
            flat = units
        else:
            raise ValueError(f"expected layers of kind conv, pool, flatten or dense, got {layer!r}")
    return table


def _keras_table(input_shape: tuple[int, int, int], layers: list[tuple[Any, ...]]) -> list[tuple[tuple[int, ...], int]]:
    import keras

    built = []
    for layer in layers:
        kind = layer[0]
        if kind == "conv":
            built.append(keras.layers.Conv2D(layer[1], layer[2], strides=layer[3], padding=layer[4]))
        elif kind == "pool":
            built.append(keras.layers.MaxPooling2D(layer[1]))
        elif kind == "flatten":
            built.append(keras.layers.Flatten())
        else:
            built.append(keras.layers.Dense(layer[1]))
    model = keras.Sequential([keras.Input(input_shape), *built])
    return [(tuple(int(d) for d in layer.output.shape[1:]), int(layer.count_params())) for layer in model.layers]


def _table_cases(hidden: bool) -> list[tuple[tuple[int, int, int], list[tuple[Any, ...]]]]:
    if hidden:
        return [((15, 15, 2), [("conv", 6, 3, 2, "same"), ("conv", 4, 2, 1, "valid"), ("pool", 3), ("flatten",),
                               ("dense", 5)]),
                ((20, 20, 4), [("conv", 3, 5, 3, "valid"), ("flatten",), ("dense", 2)])]
    return [((28, 28, 1), [("conv", 32, 3, 1, "valid"), ("pool", 2), ("conv", 64, 3, 1, "valid"), ("pool", 2),
                           ("flatten",), ("dense", 128), ("dense", 10)]),
            ((9, 9, 3), [("conv", 8, 3, 2, "same"), ("conv", 4, 3, 2, "valid"), ("flatten",), ("dense", 3)]),
            ((13, 11, 2), [("conv", 5, 4, 3, "same"), ("pool", 2), ("flatten",), ("dense", 1)])]


_TABLE_MISTAKES = {
    "'same' padding rounds up: the output has ceil(n / stride) pixels, so a 9-pixel input with stride 2 gives 5":
        {"same_floor": True},
    "a 'valid' convolution has (n - k) // stride + 1 outputs: the '+ 1' is missing": {"valid_no_plus_one": True},
    "pooling drops the last row and column when they do not fill a window: round down": {"pool_ceil": True},
    "the biases are missing: one per filter, and one per unit of a dense layer": {"no_bias": True},
    "the input channels are missing: each filter spans every input channel, k * k * in_channels weights":
        {"no_channels": True},
}


def _flat(table: Any) -> tuple[int, ...] | None:
    try:
        return tuple(int(v) for shape, params in table for v in (*shape, params))
    except (TypeError, ValueError):
        return None


@exercise(2, "layer_table")
def check_layer_table(fn: Callable[..., Any], *, hidden: bool = False) -> bool:
    """Check ``fn(input_shape, layers) -> [(output_shape, params), ...]`` against Keras on several small CNNs.

    ``layers`` is a list of ``("conv", filters, kernel, stride, padding)``, ``("pool", size)``, ``("flatten",)``
    and ``("dense", units)`` (see :func:`layer_table_reference`); ``output_shape`` has no batch axis.

    Introduced in 03_cnn_classifier.

    Args:
        fn: the learner's function.
        hidden: use the grading cases instead of the visible ones.

    Returns:
        True when every case passes.

    Raises:
        ExerciseError: naming the stack, the first layer that differs and the slip when it is a known one.
    """
    cases = _table_cases(hidden)
    answers, expected = [], []
    for input_shape, layers in cases:
        want = _keras_table(input_shape, layers)
        if want != layer_table_reference(input_shape, layers):  # pragma: no cover - guards the reference itself
            raise RuntimeError(f"the reference disagrees with Keras on {layers}")
        what = f"layer_table({input_shape}, {layers})"
        got = call_safely(fn, tuple(input_shape), [tuple(layer) for layer in layers], what=what)
        if not isinstance(got, tuple | list) or len(got) != len(layers):
            raise ExerciseError(f"{what}: expected one (output_shape, params) pair per layer ({len(layers)}), got "
                                f"{type(got).__name__}" + (f" of {len(got)}" if isinstance(got, tuple | list) else ""))
        answers.append(got)
        expected.append(want)
    mistakes = {text: [_flat(layer_table_reference(s, ls, **slip)) for s, ls in cases]
                for text, slip in _TABLE_MISTAKES.items()}
    flat_answers = [_flat(a) for a in answers]
    for (input_shape, layers), got, want in zip(cases, answers, expected):
        for i, (layer, g, (shape, params)) in enumerate(zip(layers, got, want)):
            try:
                g_shape, g_params = tuple(int(v) for v in g[0]), g[1]
            except (TypeError, ValueError, IndexError):
                raise ExerciseError(f"layer_table({input_shape}, ...), layer {i} {layer}: expected a pair "
                                    f"(output_shape, params), got {g!r}") from None
            if g_shape != shape or isinstance(g_params, bool) or not isinstance(g_params, numbers.Integral) \
                    or int(g_params) != params:
                mistake = None
                if all(a is not None for a in flat_answers):
                    mistake = name_mistake(flat_answers, mistakes, [_flat(e) for e in expected], rtol=0.0, atol=0.0)
                hint = f" Hint: {mistake}." if mistake else ""
                raise ExerciseError(f"layer_table({input_shape}, ...), layer {i} {layer}: expected shape {shape} and "
                                    f"{params:,} parameters, got shape {g_shape} and {g_params!r}.{hint}")
    return passed("layer_table")


# ---------------------------------------------------------------------------------------------
# Exercise 3: the Fréchet distance between two Gaussians
# ---------------------------------------------------------------------------------------------

def _spd(rng: np.random.Generator, d: int, rank: int | None = None, scale: float = 1.0) -> np.ndarray:
    """A covariance matrix d x d of the given rank (full by default), as np.cov of random features gives."""
    a = rng.normal(0.0, scale, (d, rank or d))
    return a @ a.T / (rank or d)


def _frechet_cases(hidden: bool) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    if hidden:
        rng = np.random.default_rng(3303)
        return [
            ("d = 6, full-rank covariances of different scales", rng.normal(0, 1, 6), _spd(rng, 6, scale=3.0),
             rng.normal(0, 1, 6), _spd(rng, 6, scale=0.2)),
            ("d = 5, both covariances of rank 3", rng.normal(0, 1, 5), _spd(rng, 5, 3), rng.normal(0, 1, 5),
             _spd(rng, 5, 3)),
        ]
    rng = np.random.default_rng(3301)
    feats = rng.normal(0, 1, (200, 4)) @ rng.normal(0, 1, (4, 4))
    return [
        ("d = 1: N(1, 4) and N(3, 9)", np.array([1.0]), np.array([[4.0]]), np.array([3.0]), np.array([[9.0]])),
        ("d = 3, two full-rank covariances that do not commute", rng.normal(0, 1, 3), _spd(rng, 3),
         rng.normal(0, 1, 3), _spd(rng, 3, scale=2.0)),
        ("d = 4, the same Gaussian twice (distance 0)", feats.mean(0), np.cov(feats, rowvar=False), feats.mean(0),
         np.cov(feats, rowvar=False)),
        ("d = 8, covariances of rank 3 and 5 (singular, as with dead ReLU features)", rng.normal(0, 0.5, 8),
         _spd(rng, 8, 3), rng.normal(0, 0.5, 8), _spd(rng, 8, 5)),
        ("d = 6, float32 inputs", rng.normal(0, 1, 6).astype(np.float32), _spd(rng, 6).astype(np.float32),
         rng.normal(0, 1, 6).astype(np.float32), _spd(rng, 6, scale=1.5).astype(np.float32)),
    ]


def _psd_root(s: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((s + s.T) / 2)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def _frechet_mistakes(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> dict[str, float]:
    mu1, mu2, s1, s2 = (np.asarray(a, np.float64) for a in (mu1, mu2, s1, s2))
    base = float(np.trace(s1) + np.trace(s2))
    dist2 = float((mu1 - mu2) @ (mu1 - mu2))
    root1 = _psd_root(s1)
    tr_root = float(np.sqrt(np.clip(np.linalg.eigvalsh(root1 @ s2 @ root1), 0.0, None)).sum())
    with np.errstate(invalid="ignore"):
        elementwise = float(np.trace(np.sqrt(s1 @ s2)))  # NaN where a diagonal entry is negative
        tri = float(np.sqrt(np.clip(np.linalg.eigvalsh(s1 @ s2), 0.0, None)).sum())
    return {
        "np.sqrt takes the square root of each entry; (Σ1 Σ2)^(1/2) is a *matrix* square root (a matrix R with "
        "R @ R = Σ1 Σ2)": dist2 + base - 2.0 * elementwise,
        "this takes Σ1^(1/2) Σ2^(1/2): the root of a product is the product of the roots only when the matrices "
        "commute, which covariances rarely do": dist2 + base - 2.0 * float(np.trace(_psd_root(s1) @ _psd_root(s2))),
        "np.linalg.eigvalsh (or eigh) assumes a symmetric matrix and reads only one triangle of it, but Σ1 Σ2 is not "
        "symmetric. Its eigenvalues are those of the symmetric Σ1^(1/2) Σ2 Σ1^(1/2)": dist2 + base - 2.0 * tri,
        "the cross term has lost its factor 2: Tr(Σ1 + Σ2 - 2 (Σ1 Σ2)^(1/2))": dist2 + base - tr_root,
        "the means' distance is not squared: the first term is |μ1 - μ2|^2":
            float(np.sqrt(dist2)) + base - 2.0 * tr_root,
    }


_FORBIDDEN_FRECHET = {name: "that is the course's own Fréchet distance, which the check compares with"
                      for name in ("frechet_distance", "fid", "frechet", "evaluator")}


@exercise(3, "frechet_distance_np")
def check_frechet_distance(fn: Callable[..., Any], *, hidden: bool = False) -> bool:
    """Check ``fn(mu1, sigma1, mu2, sigma2) -> float`` against :func:`course_utils.frechet.frechet_distance`.

    Cases: one dimension, covariances that do not commute, the same Gaussian twice, singular covariances (rank
    below d), float32 inputs.

    Introduced in 03_cnn_classifier.

    Args:
        fn: the learner's function.
        hidden: use the grading cases instead of the visible ones.

    Returns:
        True when every case passes.

    Raises:
        ExerciseError: naming the case and, where it is a known slip, the slip: an element-wise square root,
            the product of the roots, ``eigvalsh`` of the non-symmetric product, a lost factor 2, an unsquared
            mean distance, a complex result.
    """
    from ..frechet import frechet_distance

    forbid_calls(fn, _FORBIDDEN_FRECHET, what="frechet_distance_np")
    whats, answers, expected, mistakes = [], [], [], []
    for case, mu1, s1, mu2, s2 in _frechet_cases(hidden):
        what = f"frechet_distance_np({case})"
        with np.errstate(all="ignore"):
            got = call_safely(fn, mu1.copy(), s1.copy(), mu2.copy(), s2.copy(), what=what)
        if np.iscomplexobj(got) or isinstance(got, complex):
            raise ExerciseError(f"{what}: expected a real number, got the complex {got!r}. scipy.linalg.sqrtm of the "
                                "non-symmetric product Σ1 Σ2 can come back with tiny imaginary parts from rounding; "
                                "the exact trace is real, so keep the real part")
        whats.append(what)
        answers.append(as_scalar(got, what, meaning="the distance (one number)"))
        expected.append(frechet_distance(mu1, s1, mu2, s2))
        mistakes.append(_frechet_mistakes(mu1, s1, mu2, s2))
    nan = -1e300  # a NaN answer matches a slip that gives NaN on that case
    table = {text: [m[text] if np.isfinite(m[text]) else nan for m in mistakes] for text in mistakes[0]}
    marked = [a if np.isfinite(a) else nan for a in answers]
    for what, got, want, (_, _, s1, _, s2) in zip(whats, answers, expected, _frechet_cases(hidden)):
        scale = 1.0 + float(np.trace(s1) + np.trace(s2))
        if np.isfinite(got) and abs(got - want) <= 1e-4 * scale:
            continue
        slip = name_mistake(marked, table, expected, rtol=1e-4, atol=1e-4)
        hint = f": {slip}" if slip else ""
        check_close(got, want, what=f"{what}{hint}", rtol=0.0, atol=1e-4 * scale)
    return passed("frechet_distance_np")
