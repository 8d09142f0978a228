"""Checks for the exercises of 03_cnn_classifier: build the article's CNN, count a convolution's parameters.

Each check runs the learner's function on several inputs and raises :class:`course_utils.checks.ExerciseError`
naming the input, what was expected and what came, with a hint when the answer matches a known mistake
(a forgotten bias, forgotten input channels, ``padding="same"``, a softmax for a binary output, ...).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

from ..checks import ExerciseError, call_safely, exercise, name_mistake, passed

__all__ = ["article_layer_plan", "article_param_count", "check_article_cnn", "check_conv2d_param_count",
           "conv2d_param_count_reference"]


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
# Exercise 1: the article's model from its description
# ---------------------------------------------------------------------------------------------

_ARTICLE_CASES = (((64, 64, 3), 1), ((28, 28, 1), 10), ((32, 32, 3), 2))


def _activation_name(layer: Any) -> str:
    act = getattr(layer, "activation", None)
    return getattr(act, "__name__", str(act))


@exercise(1, "build_article_cnn")
def check_article_cnn(build: Callable[..., Any]) -> bool:
    """Check ``build(input_shape, num_classes)`` against the article's CNN (section 4.2).

    Expected: Conv2D(32, 3x3, ReLU) -> MaxPooling2D(2x2) -> Conv2D(64, 3x3, ReLU) -> MaxPooling2D(2x2) -> Flatten
    -> Dense(128, ReLU) -> output; the output is one sigmoid unit when ``num_classes`` is 1 or 2 and
    ``num_classes`` softmax units otherwise. Tried on (64, 64, 3) binary, (28, 28, 1) with 10 classes and
    (32, 32, 3) with 2 classes.

    Introduced in 03_cnn_classifier.

    Raises:
        ExerciseError: naming the case, the layer and what differs.
    """
    import keras

    for input_shape, num_classes in _ARTICLE_CASES:
        what = f"build(input_shape={input_shape}, num_classes={num_classes})"
        model = call_safely(build, input_shape, num_classes, what=what)
        if not isinstance(model, keras.Model):
            raise ExerciseError(f"{what}: expected a keras.Model (e.g. keras.Sequential), got {type(model).__name__}")
        got_in = tuple(model.inputs[0].shape[1:]) if model.inputs else None
        if got_in != tuple(input_shape):
            raise ExerciseError(f"{what}: expected the model's input shape {input_shape} (start with "
                                f"keras.Input(shape=input_shape)), got {got_in}")
        plan = article_layer_plan(input_shape, num_classes)
        got_layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
        got_types = [type(layer).__name__ for layer in got_layers]
        want_types = [t for t, _, _ in plan]
        if got_types != want_types:
            hint = ""
            if "Dropout" in got_types:
                hint = " The article's model has no Dropout; leave it out here."
            raise ExerciseError(f"{what}: expected the layers {want_types}, got {got_types}.{hint}")
        for i, (layer, (kind, want_shape, want_params)) in enumerate(zip(got_layers, plan)):
            where = f"{what}, layer {i} ({kind})"
            if kind == "Conv2D":
                if tuple(layer.kernel_size) != (3, 3):
                    raise ExerciseError(f"{where}: expected a 3x3 kernel, got {tuple(layer.kernel_size)}")
                if layer.padding != "valid":
                    raise ExerciseError(f"{where}: expected padding='valid' (the article's default: each 3x3 "
                                        f"convolution trims one pixel per side), got padding={layer.padding!r}")
                if tuple(layer.strides) != (1, 1):
                    raise ExerciseError(f"{where}: expected strides (1, 1), got {tuple(layer.strides)}")
            if kind == "MaxPooling2D" and tuple(layer.pool_size) != (2, 2):
                raise ExerciseError(f"{where}: expected pool_size (2, 2), got {tuple(layer.pool_size)}")
            got_shape = tuple(layer.output.shape[1:])
            if got_shape != want_shape:
                raise ExerciseError(f"{where}: expected output shape {want_shape} (without the batch axis), "
                                    f"got {got_shape}")
            if kind in ("Conv2D", "Dense"):
                want_act = "relu" if i < len(plan) - 1 else ("sigmoid" if want_shape == (1,) else "softmax")
                got_act = _activation_name(layer)
                if got_act != want_act:
                    hint = ""
                    if want_act == "sigmoid" and got_act == "softmax":
                        hint = " A softmax over one unit is always 1.0: a binary output needs a sigmoid."
                    raise ExerciseError(f"{where}: expected activation {want_act!r}, got {got_act!r}.{hint}")
            got_params = layer.count_params()
            if got_params != want_params:
                bias = "" if getattr(layer, "use_bias", True) else " (use_bias=False: the article's layers have biases)"
                raise ExerciseError(f"{where}: expected {want_params:,} parameters, got {got_params:,}{bias}")
        total = article_param_count(input_shape, num_classes)
        if model.count_params() != total:
            raise ExerciseError(f"{what}: expected {total:,} parameters in all, got {model.count_params():,}")
    return passed("build_article_cnn")


# ---------------------------------------------------------------------------------------------
# Exercise 2: parameters of a convolution, by hand
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


@exercise(2, "conv2d_param_count")
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
