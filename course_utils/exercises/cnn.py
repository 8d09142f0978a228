"""Checks for the exercises of 03_cnn_classifier: a convolution's parameters, and any small CNN's table by hand.

Each check runs the learner's function on several inputs and raises :class:`course_utils.checks.ExerciseError`
naming the input, what was expected and what came, with a hint when the answer matches a known mistake
(a forgotten bias, forgotten input channels, ``padding="same"`` rounded the wrong way, an output size off by one).
The layer table is checked against Keras itself, which builds each stack.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

from ..checks import ExerciseError, call_safely, exercise, name_mistake, passed

__all__ = ["article_layer_plan", "article_param_count", "check_conv2d_param_count", "check_layer_table",
           "conv2d_param_count_reference", "layer_table_reference"]


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
# Exercise 1: parameters of a convolution, by hand
# ---------------------------------------------------------------------------------------------

_CONV_MISTAKES: dict[str, Callable[[int, int, int, int, bool], int]] = {
    "the biases are missing: each filter has one bias, so add `filters` when use_bias is True":
        lambda kh, kw, c, f, b: kh * kw * c * f,
    "the input channels are missing: each filter spans all in_channels, so its kernel has k_h * k_w * in_channels "
    "weights": lambda kh, kw, c, f, b: (kh * kw + (1 if b else 0)) * f,
    "the biases are counted per input channel; there is one bias per filter (per output channel)":
        lambda kh, kw, c, f, b: (kh * kw + (1 if b else 0)) * c * f,
    "the biases are counted even though use_bias=False":
        lambda kh, kw, c, f, b: (kh * kw * c + 1) * f,
    "only one side of the kernel is counted; a k_h x k_w kernel has k_h * k_w weights per channel":
        lambda kh, kw, c, f, b: (kh * c + (1 if b else 0)) * f,
    "a single bias is counted for the whole layer; there is one per filter":
        lambda kh, kw, c, f, b: kh * kw * c * f + (1 if b else 0),
}

# (kernel_size, in_channels, filters, use_bias): each mistake above fails on at least one of these.
CONV_CASES = (
    (3, 1, 32, True), (3, 32, 64, True), ((5, 3), 3, 8, True), (1, 16, 4, True), (3, 3, 16, False),
    ((4, 4), 128, 64, True), ((2, 5), 7, 3, False),
)


@exercise(1, "conv2d_param_count")
def check_conv2d_param_count(fn: Callable[..., Any]) -> bool:
    """Check ``fn(kernel_size, in_channels, filters, use_bias=True)`` -> the number of parameters of a Conv2D.

    ``kernel_size`` is an int (square kernel) or a pair ``(k_h, k_w)``. The checks also compare with Keras.

    Introduced in 03_cnn_classifier.

    Raises:
        ExerciseError: naming the case, the expected and received count, and the mistake when it is a known one.
    """
    import keras

    for k, c, f, b in CONV_CASES:
        what = f"conv2d_param_count(kernel_size={k!r}, in_channels={c}, filters={f}, use_bias={b})"
        got = call_safely(fn, k, c, f, use_bias=b, what=what)
        if isinstance(got, numbers.Integral) and not isinstance(got, bool):
            got = int(got)  # NumPy integers are fine
        expected = conv2d_param_count_reference(k, c, f, b)
        layer = keras.layers.Conv2D(f, k, use_bias=b)
        layer.build((None, 9, 9, c))
        if layer.count_params() != expected:  # pragma: no cover - guards the reference itself
            raise RuntimeError(f"reference disagrees with Keras for {what}")
        if isinstance(got, bool) or not isinstance(got, int | float) or got != expected:
            kh, kw = (k, k) if isinstance(k, int) else k
            mistake = None
            if isinstance(got, int | float) and not isinstance(got, bool):
                mistake = name_mistake([got], {text: [wrong(kh, kw, c, f, b)] for text, wrong in _CONV_MISTAKES.items()},
                                       [expected], rtol=0.0, atol=0.0)
            hint = f" Hint: {mistake}." if mistake else ""
            raise ExerciseError(f"{what}: expected {expected:,}, got {got!r}.{hint}")
        if not isinstance(got, int):
            raise ExerciseError(f"{what}: expected an int (a count), got {type(got).__name__} {got!r}")
    return passed("conv2d_param_count")


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
