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


def test_correct_model_passes(capsys):
    assert ex.check_article_cnn(_article) is True
    assert "Correct" in capsys.readouterr().out


def test_lesson_solution_passes():
    code = load_lesson_code("03_cnn_classifier")
    assert ex.check_article_cnn(code["build_article_cnn"]) is True
    assert ex.check_conv2d_param_count(code["conv2d_param_count"]) is True


@pytest.mark.parametrize("build, message", [
    (lambda s, n: None, "you returned None"),
    (lambda s, n: 3, "expected a keras.Model"),
    (lambda s, n: keras.Sequential([keras.Input(shape=s), layers.Flatten(), layers.Dense(1, activation="sigmoid")]),
     r"expected the layers \['Conv2D', 'MaxPooling2D'"),
    (lambda s, n: _article((64, 64, 3), 1), r"expected the model's input shape \(28, 28, 1\)"),
    (lambda s, n: _article(s, n, padding="same"), "expected padding='valid'"),
    (lambda s, n: _article(s, n, dropout=True), "has no Dropout"),
    (lambda s, n: _article(s, n, head="softmax"), "needs a sigmoid"),
    (lambda s, n: _article(s, 10), r"expected output shape \(1,\).*got \(10,\)"),
    (lambda s, n: _article(s, n, filters=(16, 64)), r"layer 0 \(Conv2D\): expected output shape \(62, 62, 32\)"),
    (lambda s, n: 1 / 0, "raised ZeroDivisionError"),
])
def test_wrong_models_fail_with_helpful_messages(build, message):
    with pytest.raises(ExerciseError, match=message):
        ex.check_article_cnn(build)


def test_two_softmax_units_for_a_binary_case_fail():
    # Two softmax units make a fine binary classifier, but the article's has one sigmoid unit.
    def two_units(s, n):
        model = _article(s, n)
        return keras.Sequential([keras.Input(shape=s)] + model.layers[:-1] + [layers.Dense(max(n, 2), activation="softmax")])

    with pytest.raises(ExerciseError, match=r"num_classes=1\).*expected output shape \(1,\)"):
        ex.check_article_cnn(two_units)


# --- exercise 2 -----------------------------------------------------------------------------------

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
