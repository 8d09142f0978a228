"""The checks of 03_cnn_classifier's exercises accept the solutions and reject trivial or common wrong answers."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import layers

from course_utils.checks import ExerciseError
from course_utils.exercises import cnn as ex
from course_utils.lessons import load_lesson_code


def _article(input_shape, num_classes, *, padding="valid", dropout=False, head=None, filters=(32, 64)):
    units = 1 if num_classes <= 2 else num_classes
    act = head or ("sigmoid" if units == 1 else "softmax")
    stack = [keras.Input(shape=input_shape),
             layers.Conv2D(filters[0], 3, activation="relu", padding=padding), layers.MaxPooling2D(2),
             layers.Conv2D(filters[1], 3, activation="relu", padding=padding), layers.MaxPooling2D(2),
             layers.Flatten(), layers.Dense(128, activation="relu")]
    if dropout:
        stack.append(layers.Dropout(0.5))
    return keras.Sequential(stack + [layers.Dense(units, activation=act)])


# --- exercise 1 -----------------------------------------------------------------------------------

def test_reference_param_counts():
    assert ex.article_param_count((64, 64, 3), 1) == 1_625_281
    assert ex.article_param_count((28, 28, 1), 10) == 225_034
    assert ex.article_param_count((64, 64, 3), 1) == _article((64, 64, 3), 1).count_params()
    with pytest.raises(ValueError, match="too small"):
        ex.article_layer_plan((5, 5, 1), 10)


def test_lesson_solutions_pass():
    code = load_lesson_code("03_cnn_classifier")
    get = code.get if isinstance(code, dict) else lambda name: getattr(code, name)
    assert ex.check_layer_table(get("layer_table")) is True
    assert ex.check_layer_table(get("layer_table"), hidden=True) is True
    assert ex.check_conv2d_param_count(get("conv2d_param_count")) is True


def test_the_reference_table_agrees_with_keras_and_refuses_unknown_layers():
    for shape, stack in ex._table_cases(False) + ex._table_cases(True):
        assert ex.layer_table_reference(shape, stack) == ex._keras_table(shape, stack)
    with pytest.raises(ValueError, match="expected padding 'valid' or 'same', got 'full'"):
        ex.layer_table_reference((8, 8, 1), [("conv", 2, 3, 1, "full")])
    with pytest.raises(ValueError, match="expected layers of kind conv, pool, flatten or dense, got \\('dropout', 0.5\\)"):
        ex.layer_table_reference((8, 8, 1), [("dropout", 0.5)])


def _slipped(**slip):
    return lambda shape, stack: ex.layer_table_reference(shape, stack, **slip)


@pytest.mark.parametrize("fn, message", [
    (_slipped(same_floor=True), "Hint: 'same' padding rounds up"),
    (_slipped(valid_no_plus_one=True), r"Hint: a 'valid' convolution has \(n - k\) // stride \+ 1 outputs"),
    (_slipped(pool_ceil=True), "Hint: pooling drops the last row and column"),
    (_slipped(no_bias=True), "Hint: the biases are missing"),
    (_slipped(no_channels=True), "Hint: the input channels are missing"),
    (lambda shape, stack: None, "you returned None"),
    (lambda shape, stack: [((1,), 0)], r"expected one \(output_shape, params\) pair per layer \(7\), got list of 1"),
    (lambda shape, stack: [(s, float(p)) for s, p in ex.layer_table_reference(shape, stack)], "got shape .* and 320.0"),
    (lambda shape, stack: [3] * len(stack), r"expected a pair \(output_shape, params\), got 3"),
])
def test_each_layer_table_mistake_is_named(fn, message):
    with pytest.raises(ExerciseError, match=message):
        ex.check_layer_table(fn)


def test_hidden_layer_tables_catch_an_answer_fitted_to_the_visible_ones():
    known = {(shape, tuple(stack)): ex.layer_table_reference(shape, stack) for shape, stack in ex._table_cases(False)}

    def fitted(shape, stack):
        return known.get((shape, tuple(stack)), [((1,), 0)] * len(stack))

    assert ex.check_layer_table(fitted) is True
    with pytest.raises(ExerciseError):
        ex.check_layer_table(fitted, hidden=True)


# --- exercise 1: conv2d_param_count -----------------------------------------------------------------------------------

def _right(kernel_size, in_channels, filters, use_bias=True):
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    return (kh * kw * in_channels + int(use_bias)) * filters


def test_correct_count_passes():
    assert ex.check_conv2d_param_count(_right) is True
    assert ex.check_conv2d_param_count(lambda *a, **k: np.int64(_right(*a, **k))) is True


def _k(ks):
    return (ks, ks) if isinstance(ks, int) else ks


@pytest.mark.parametrize("wrong, hint", [
    (lambda ks, c, f, use_bias=True: _k(ks)[0] * _k(ks)[1] * c * f, "the biases are missing"),
    (lambda ks, c, f, use_bias=True: (_k(ks)[0] * _k(ks)[1] + use_bias) * f, "the input channels are missing"),
    (lambda ks, c, f, use_bias=True: (_k(ks)[0] * _k(ks)[1] + use_bias) * c * f, "counted per input channel"),
    (lambda ks, c, f, use_bias=True: (_k(ks)[0] * _k(ks)[1] * c + 1) * f, "even though use_bias=False"),
    (lambda ks, c, f, use_bias=True: (_k(ks)[0] * c + use_bias) * f, "only one side of the kernel"),
    (lambda ks, c, f, use_bias=True: _k(ks)[0] * _k(ks)[1] * c * f + use_bias, "a single bias"),
])
def test_common_mistakes_get_a_hint(wrong, hint):
    with pytest.raises(ExerciseError, match=hint):
        ex.check_conv2d_param_count(wrong)


@pytest.mark.parametrize("wrong, message", [
    (lambda *a, **k: 0, r"expected 320, got 0\."),
    (lambda *a, **k: float(_right(*a, **k)), "expected an int"),
    (lambda *a, **k: str(_right(*a, **k)), "got '320'"),
    (lambda *a, **k: True, "got True"),
    (lambda ks, c, f: _right(ks, c, f), "raised TypeError"),
    ("320", "expected a function"),
])
def test_trivial_answers_fail(wrong, message):
    with pytest.raises(ExerciseError, match=message):
        ex.check_conv2d_param_count(wrong)
