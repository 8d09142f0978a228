"""course_utils.receptive_field: the recurrence, literature values, Keras models and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from course_utils.receptive_field import (
    ALEXNET_LAYERS,
    VGG16_LAYERS,
    LayerSpec,
    ReceptiveField,
    from_keras,
    receptive_field,
    receptive_fields,
)


def test_single_layer_is_its_kernel():
    assert receptive_field([(5, 1)]) == ReceptiveField(size=5, jump=1, start=2.0)


def test_two_3x3_convolutions_see_5x5():
    assert [f.size for f in receptive_fields([(3, 1), (3, 1)])] == [3, 5]


def test_stride_multiplies_later_growth():
    fields = receptive_fields([(3, 2), (3, 1), (3, 1)])
    assert [(f.size, f.jump) for f in fields] == [(3, 2), (7, 2), (11, 2)]


def test_dilation_widens_kernel():
    assert receptive_field([(3, 1, 2)]).size == 5
    assert receptive_field([(3, 1, 1), (3, 1, 2), (3, 1, 4)]).size == 15   # WaveNet-style doubling


def test_vgg16_literature_values():
    # Araujo, Norris & Sim, "Computing receptive fields of convolutional neural networks", Distill 2019.
    fields = receptive_fields(VGG16_LAYERS)
    by_name = {spec.name: f for spec, f in zip(VGG16_LAYERS, fields)}
    assert by_name["conv5_3"].size == 196
    assert by_name["pool5"].size == 212
    assert by_name["pool5"].jump == 32
    assert by_name["conv1_2"].size == 5


def test_alexnet_literature_value():
    field = receptive_field(ALEXNET_LAYERS)
    assert (field.size, field.jump) == (195, 32)
    # Centre of the first pool5 pixel's field: 5 (conv1) + 1*4 (pool1) + 1*8 (pool2) + 1*16 (pool5) = 33.
    assert field.start == 33.0


def test_accepts_mappings_and_specs():
    layers = [{"kernel": 3, "stride": 2}, LayerSpec(3), (2, 2, 1, 0)]
    assert receptive_field(layers).size == receptive_field([(3, 2), (3, 1), (2, 2)]).size


def test_padding_moves_start_only():
    a = receptive_field([(3, 1, 1, 0), (3, 1, 1, 0)])
    b = receptive_field([(3, 1, 1, 1), (3, 1, 1, 1)])
    assert (a.size, a.jump) == (b.size, b.jump)
    assert (a.start, b.start) == (2.0, 0.0)


@pytest.mark.parametrize("bad, match", [
    ([], "at least one layer"),
    ("conv", "sequence of layers"),
    (None, "sequence of layers"),
    ([(0, 1)], "kernel must be an int >= 1"),
    ([(3, 0)], "stride must be an int >= 1"),
    ([(3, 1, -1)], "dilation must be an int >= 1"),
    ([(3, 1, 1, -2)], "padding must be an int >= 0"),
    ([(3.5, 1)], "kernel must be an int"),
    ([{"size": 3}], "mapping with 'kernel'"),
    ([(3, 1, 1, 0, 0)], "tuple"),
    ([3], "tuple"),
])
def test_rejects_bad_input(bad, match):
    with pytest.raises(ValueError, match=match):
        receptive_fields(bad)


def _centre_gradient_extent(model, size):
    import tensorflow as tf

    x = tf.constant(np.random.default_rng(0).uniform(size=(1, size, size, 1)).astype(np.float32))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = model(x)
        centre = y[0, y.shape[1] // 2, y.shape[2] // 2, 0]
    rows, cols = np.nonzero(tape.gradient(centre, x).numpy()[0, :, :, 0])
    return rows.max() - rows.min() + 1, cols.max() - cols.min() + 1


def test_from_keras_matches_gradient_extent():
    keras = pytest.importorskip("keras")
    layers = keras.layers
    ones = {"kernel_initializer": "ones", "use_bias": False}
    model = keras.Sequential([
        keras.Input((64, 64, 1)),
        layers.Conv2D(1, 3, **ones), layers.ReLU(),
        layers.Conv2D(1, 5, strides=2, padding="same", **ones),
        layers.AveragePooling2D(3, strides=2),
        layers.Conv2D(1, 3, dilation_rate=3, **ones),
    ])
    specs = from_keras(model)
    assert [s.kernel for s in specs] == [3, 5, 3, 3]
    field = receptive_field(specs)
    assert field.size == 3 + 4 + 2 * 2 + 3 * 2 * 4    # = 35
    assert _centre_gradient_extent(model, 64) == (field.size, field.size)


def test_from_keras_rejects_bad_input():
    keras = pytest.importorskip("keras")
    with pytest.raises(ValueError, match="axis"):
        from_keras(keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(1, 3)]), axis=2)
    with pytest.raises(ValueError, match="keras.Model"):
        from_keras([(3, 1)])
    with pytest.raises(ValueError, match="no Conv2D"):
        from_keras(keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]))
    with pytest.raises(ValueError, match="not supported"):
        from_keras(keras.Sequential([keras.Input((8, 8, 1)), keras.layers.UpSampling2D(2)]))


@pytest.mark.slow
def test_from_keras_on_keras_vgg16():
    keras = pytest.importorskip("keras")
    model = keras.applications.VGG16(weights=None, include_top=False, input_shape=(64, 64, 3))
    fields = receptive_fields(from_keras(model))
    assert fields[-1].size == 212 and fields[-1].jump == 32


# --- issue 16: nested models, non-chains, NumPy integers ----------------------------------------------

def test_from_keras_reads_nested_models():
    keras = pytest.importorskip("keras")
    layers = keras.layers
    inner = keras.Sequential([keras.Input((16, 16, 1)), layers.Conv2D(2, 3), layers.Conv2D(2, 3)], name="inner")
    outer = keras.Sequential([keras.Input((16, 16, 1)), inner], name="outer")
    assert [s.name for s in from_keras(outer)] == [layer.name for layer in inner.layers]
    assert receptive_field(from_keras(outer)).size == 5  # two 3x3 convolutions, not 3
    inp = keras.Input((16, 16, 1))
    functional = keras.Model(inp, layers.MaxPooling2D(2)(inner(inp)))
    assert receptive_field(from_keras(functional)).size == 6
    assert _centre_gradient_extent(outer, 16) == (5, 5)


def test_from_keras_refuses_what_is_not_a_single_chain():
    keras = pytest.importorskip("keras")
    layers = keras.layers
    inp = keras.Input((16, 16, 1))
    a = layers.Conv2D(2, 3, padding="same")(inp)
    b = layers.Conv2D(2, 9, padding="same")(inp)
    branches = keras.Model(inp, layers.Add()([a, b]), name="branches")
    with pytest.raises(ValueError, match=r"model 'branches' is not a single chain of layers: layer .* does not take "
                                         r"exactly the previous layer's output \(parallel branches"):
        from_keras(branches)
    inp = keras.Input((16, 16, 1))
    x = layers.Conv2D(1, 3, padding="same")(inp)
    skip = keras.Model(inp, layers.Add()([x, inp]), name="skip")
    with pytest.raises(ValueError, match=r"model 'skip' is not a single chain"):
        from_keras(skip)
    nested = keras.Sequential([keras.Input((16, 16, 1)), branches], name="holds_branches")
    with pytest.raises(ValueError, match=r"model 'branches' is not a single chain"):
        from_keras(nested)


def test_layer_spec_accepts_numpy_integers():
    spec = LayerSpec(np.int64(3), np.int32(2), np.int8(1), np.int64(1))
    assert spec == LayerSpec(3, 2, 1, 1) and type(spec.kernel) is int and type(spec.padding) is int
    assert receptive_field([spec, (np.int64(3), np.int64(1))]).size == 7
    with pytest.raises(ValueError, match=r"kernel must be an int >= 1, got np.int64\(0\)|kernel must be an int >= 1, got 0"):
        LayerSpec(np.int64(0))
    with pytest.raises(ValueError, match=r"kernel must be an int >= 1, got np.float64\(3.0\)"):
        LayerSpec(np.float64(3.0))
    with pytest.raises(ValueError, match=r"kernel must be an int >= 1, got np.True_|kernel must be an int >= 1, got True"):
        LayerSpec(np.bool_(True))


# --- issue 24: wrappers, subclasses and unknown layers ---------------------------------------------------------

def _rf_of(*layers_):
    import keras

    model = keras.Sequential([keras.Input((28, 28, 1)), *layers_])
    return receptive_field(from_keras(model)).size


def test_spectral_normalization_and_conv2d_subclasses_are_read():
    import keras
    from keras import layers

    class MyConv(layers.Conv2D):
        pass

    assert _rf_of(layers.Conv2D(4, 3), layers.Conv2D(4, 3), layers.Conv2D(4, 3)) == 7
    assert _rf_of(layers.Conv2D(4, 3), keras.layers.SpectralNormalization(layers.Conv2D(4, 3)),
                  keras.layers.SpectralNormalization(layers.Conv2D(4, 3))) == 7
    assert _rf_of(layers.Conv2D(4, 3), MyConv(4, 5), layers.Conv2D(4, 3)) == 9


def test_a_lambda_that_changes_the_spatial_size_is_refused():
    import keras
    import tensorflow as tf
    from keras import layers

    with pytest.raises(ValueError, match=r"layer 'pool' \(Lambda\) changes the spatial size, \(26, 26\) -> \(13, 13\)"):
        _rf_of(layers.Conv2D(4, 3), layers.Lambda(lambda x: tf.nn.avg_pool2d(x, 2, 2, "VALID"), name="pool"),
               layers.Conv2D(4, 3))
    assert _rf_of(layers.Conv2D(4, 3), layers.Lambda(lambda x: x * 2), keras.layers.Activation("relu")) == 3
