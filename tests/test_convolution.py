"""The implementations written in 02_convolution_and_pooling, checked against TensorFlow/Keras.

The functions come from the lesson's cells tagged ``export`` (``load_lesson_code``), so a broken lesson fails
here even if nobody opens the notebook.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from course_utils.lessons import load_lesson_code  # noqa: E402

TOL = 1e-5
PADDINGS = ("valid", "same")


@pytest.fixture(scope="module")
def lesson():
    return load_lesson_code("02_convolution_and_pooling")


def _case(n, h, w, c, k, f, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, h, w, c)).astype(np.float32)
    kernel = (rng.standard_normal((k, k, c, f)) / np.sqrt(k * k * c)).astype(np.float32)
    return x, kernel


def _max_err(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, f"shape {a.shape} != {b.shape}"
    return float(np.max(np.abs(a - b)))


# Sizes odd/even and non-square, both paddings, strides 1-3, dilations 1-2, kernels 2-3, several channels.
CONV_GRID = [
    pytest.param(h, w, k, s, d, p, c, id=f"{h}x{w}-k{k}-s{s}-d{d}-{p}-c{c}")
    for (h, w), k, s, d, p, c in itertools.product(((7, 7), (8, 9)), (2, 3), (1, 2, 3), (1, 2), PADDINGS, (1, 3))
]


@pytest.mark.parametrize("h, w, k, stride, dilation, padding, channels", CONV_GRID)
@pytest.mark.parametrize("impl", ["conv2d_loops", "conv2d_vectorized"])
def test_conv2d_matches_tf(lesson, impl, h, w, k, stride, dilation, padding, channels):
    x, kernel = _case(2, h, w, channels, k, 4, seed=h + 10 * k + 100 * stride)
    bias = np.linspace(-1, 1, 4).astype(np.float32)
    expected = tf.nn.conv2d(x, kernel, strides=stride, padding=padding.upper(), dilations=dilation).numpy() + bias
    got = getattr(lesson, impl)(x, kernel, bias, stride=stride, padding=padding, dilation=dilation)
    assert _max_err(got, expected) <= TOL


@pytest.mark.parametrize("stride, dilation", [(1, 1), (2, 1), (3, 1), (1, 2)])
@pytest.mark.parametrize("padding", PADDINGS)
def test_conv2d_matches_keras_layer(lesson, stride, dilation, padding):
    x, _ = _case(2, 9, 8, 3, 3, 5, seed=7)
    layer = keras.layers.Conv2D(5, 3, strides=stride, padding=padding, dilation_rate=dilation,
                                bias_initializer="random_normal")
    expected = layer(x).numpy()
    got = lesson.conv2d_vectorized(x, layer.kernel.numpy(), layer.bias.numpy(), stride, padding, dilation)
    assert _max_err(got, expected) <= TOL


@pytest.mark.parametrize("n, k, stride, dilation, padding",
                         [(n, k, s, d, p) for n in (5, 6, 7, 8) for k in (1, 2, 3, 4) for s in (1, 2, 3)
                          for d in (1, 2) for p in PADDINGS if not (p == "valid" and d * (k - 1) + 1 > n)])
def test_output_size_matches_tf(lesson, n, k, stride, dilation, padding):
    out = tf.nn.conv2d(np.zeros((1, n, n, 1), np.float32), np.zeros((k, k, 1, 1), np.float32),
                       strides=stride, padding=padding.upper(), dilations=dilation)
    assert out.shape[1] == lesson.conv_output_size(n, k, stride, padding, dilation)


def test_same_padding_extra_pixel_goes_bottom_right(lesson):
    assert lesson.same_padding(3, 2) == (0, 1)
    assert lesson.same_padding(6, 4) == (1, 2)
    x = np.arange(1, 10, dtype=np.float32).reshape(1, 3, 3, 1)
    top_left = np.array([[1, 0], [0, 0]], np.float32).reshape(2, 2, 1, 1)
    assert np.array_equal(tf.nn.conv2d(x, top_left, 1, "SAME").numpy(), x)
    assert np.array_equal(lesson.conv2d_vectorized(x, top_left, padding="same"), x)


def test_flipped_kernel_is_detected(lesson, monkeypatch):
    """A deliberately broken implementation (true convolution: kernel flipped) must fail the comparison."""
    x, kernel = _case(1, 7, 7, 2, 3, 3, seed=1)
    expected = tf.nn.conv2d(x, kernel, strides=1, padding="SAME").numpy()
    honest = lesson.conv2d_vectorized
    broken = lambda x_, w_, *args, **kwargs: honest(x_, w_[::-1, ::-1], *args, **kwargs)
    monkeypatch.setattr(lesson, "conv2d_vectorized", broken)
    assert _max_err(lesson.conv2d_vectorized(x, kernel, padding="same"), expected) > 100 * TOL
    assert _max_err(honest(x, kernel, padding="same"), expected) <= TOL


def test_missing_stride_is_detected(lesson):
    x, kernel = _case(1, 8, 8, 2, 3, 3, seed=2)
    expected = tf.nn.conv2d(x, kernel, strides=2, padding="VALID").numpy()
    wrong = lesson.conv2d_vectorized(x, kernel, stride=1)
    assert wrong.shape != expected.shape


@pytest.mark.parametrize("bad, match", [
    ({"stride": 0}, "stride"), ({"dilation": (1, 0)}, "dilation"), ({"padding": "full"}, "padding"),
])
def test_conv2d_rejects_bad_arguments(lesson, bad, match):
    x, kernel = _case(1, 5, 5, 2, 3, 1, seed=0)
    for impl in ("conv2d_loops", "conv2d_vectorized"):
        with pytest.raises(ValueError, match=match):
            getattr(lesson, impl)(x, kernel, **bad)


def test_conv2d_rejects_channel_mismatch(lesson):
    x, _ = _case(1, 5, 5, 2, 3, 1, seed=0)
    _, kernel = _case(1, 5, 5, 3, 3, 1, seed=0)
    with pytest.raises(ValueError, match="expected x of shape"):
        lesson.conv2d_vectorized(x, kernel)


POOL_GRID = [
    pytest.param(h, w, size, strides, padding, id=f"{h}x{w}-p{size}-s{strides}-{padding}")
    for (h, w), (size, strides), padding in itertools.product(
        ((6, 6), (7, 8)), ((2, None), (3, None), (3, 2), (2, 1), (3, 1)), PADDINGS)
]


@pytest.mark.parametrize("h, w, size, strides, padding", POOL_GRID)
@pytest.mark.parametrize("mode", ["max", "avg"])
def test_pool2d_matches_keras(lesson, mode, h, w, size, strides, padding):
    x = np.random.default_rng(h * w + size).standard_normal((2, h, w, 3)).astype(np.float32)
    layer = {"max": keras.layers.MaxPooling2D, "avg": keras.layers.AveragePooling2D}[mode]
    expected = layer(size, strides=strides, padding=padding)(x).numpy()
    assert _max_err(lesson.pool2d(x, size, strides, padding, mode), expected) <= TOL


def test_average_is_not_max(lesson):
    x = np.random.default_rng(0).standard_normal((1, 6, 6, 2)).astype(np.float32)
    expected = keras.layers.MaxPooling2D(2)(x).numpy()
    assert _max_err(lesson.pool2d(x, 2, mode="avg"), expected) > 0.1


GRAD_GRID = [
    pytest.param(size, k, s, d, p, id=f"{size}-k{k}-s{s}-d{d}-{p}")
    for size, k, s, d, p in itertools.product((7, 8), (2, 3), (1, 2, 3), (1, 2), PADDINGS)
]


@pytest.mark.parametrize("size, k, stride, dilation, padding", GRAD_GRID)
def test_conv2d_gradients_match_gradient_tape(lesson, size, k, stride, dilation, padding):
    x, kernel = _case(2, size, size + 1, 3, k, 4, seed=size + k + stride)
    x_t, w_t = tf.constant(x), tf.constant(kernel)
    y_shape = tf.nn.conv2d(x_t, w_t, stride, padding.upper(), dilations=dilation).shape
    g = np.random.default_rng(1).standard_normal(y_shape).astype(np.float32)
    # The lesson's portable reference: TensorFlow's gradient of the same convolution with a zero-inserted kernel
    # (TensorFlow's CPU kernels without oneDNN have no gradient for dilation > 1).
    dx_tf, dw_tf = lesson.tape_gradients(x, kernel, g, stride, padding, dilation)
    dx = lesson.conv2d_grad_input(g, x.shape, kernel, stride, padding, dilation)
    dw = lesson.conv2d_grad_kernel(x, g, k, stride, padding, dilation)
    assert _max_err(dx, dx_tf) <= TOL
    assert _max_err(dw, dw_tf) <= TOL


@pytest.mark.parametrize("k, dilation", [(2, 2), (3, 2), (3, (2, 3)), (3, 1)])
def test_dilate_kernel_rewrites_the_convolution_exactly(lesson, k, dilation):
    x, kernel = _case(2, 9, 10, 3, k, 4, seed=7)
    for stride, padding in itertools.product((1, 2), PADDINGS):
        direct = tf.nn.conv2d(x, kernel, stride, padding.upper(), dilations=dilation).numpy()
        rewritten = tf.nn.conv2d(x, lesson.dilate_kernel(kernel, dilation), stride, padding.upper()).numpy()
        assert direct.shape == rewritten.shape and _max_err(direct, rewritten) <= TOL


def test_portable_gradients_equal_the_direct_kernel_where_it_exists(lesson):
    x, kernel = _case(2, 8, 9, 3, 3, 4, seed=3)
    x_t, w_t = tf.constant(x), tf.constant(kernel)
    g = np.random.default_rng(4).standard_normal((2, 8, 9, 4)).astype(np.float32)
    with tf.GradientTape() as tape:
        tape.watch([x_t, w_t])
        loss = tf.reduce_sum(tf.nn.conv2d(x_t, w_t, 1, "SAME", dilations=2) * g)
    try:
        direct = [t.numpy() for t in tape.gradient(loss, [x_t, w_t])]
    except tf.errors.InvalidArgumentError as err:  # TensorFlow's kernels without oneDNN
        assert "dilation rates larger than 1" in str(err)
        pytest.skip("this TensorFlow CPU build has no dilated-convolution gradient (oneDNN off)")
    portable = lesson.tape_gradients(x, kernel, g, 1, "same", 2)
    for a, b in zip(direct, portable):
        assert _max_err(a, b) <= TOL


@pytest.mark.parametrize("size, strides, padding", [
    (s, st, p) for s, st, p in itertools.product((2, 3), (None, 1, 2), PADDINGS)])
def test_max_pool_gradient_routes_to_argmax(lesson, size, strides, padding):
    x = tf.constant(np.random.default_rng(size).standard_normal((2, 7, 8, 3)).astype(np.float32))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = keras.layers.MaxPooling2D(size, strides, padding)(x)
        g = tf.constant(np.random.default_rng(5).standard_normal(y.shape).astype(np.float32))
        loss = tf.reduce_sum(y * g)
    expected = tape.gradient(loss, x).numpy()
    got = lesson.max_pool_grad(x.numpy(), g.numpy(), size, strides, padding)
    assert _max_err(got, expected) <= TOL


TRANSPOSE_GRID = [
    pytest.param(n, k, s, p, id=f"{n}-k{k}-s{s}-{p}")
    for n, k, s, p in itertools.product((4, 5), (1, 2, 3, 4), (1, 2, 3), PADDINGS)
]


@pytest.mark.parametrize("n, k, stride, padding", TRANSPOSE_GRID)
def test_conv2d_transpose_matches_keras_and_conv_gradient(lesson, n, k, stride, padding):
    x = np.random.default_rng(n + k).standard_normal((2, n, n + 1, 3)).astype(np.float32)
    layer = keras.layers.Conv2DTranspose(4, k, strides=stride, padding=padding, use_bias=False)
    expected = layer(x).numpy()
    got = lesson.conv2d_transpose(x, layer.kernel.numpy(), stride, padding)
    assert _max_err(got, expected) <= TOL
    assert got.shape[1] == lesson.conv_transpose_output_size(n, k, stride, padding)
    # conv2d_transpose(x) is the gradient of conv2d with respect to its input, with upstream gradient x.
    z = tf.zeros(expected.shape)
    with tf.GradientTape() as tape:
        tape.watch(z)
        loss = tf.reduce_sum(tf.nn.conv2d(z, layer.kernel, stride, padding.upper()) * x)
    assert _max_err(got, tape.gradient(loss, z)) <= TOL


def test_explore_kernel_shapes_and_values(lesson):
    photo = lesson.load_photo(scale=4)
    assert photo.ndim == 2 and photo.dtype == np.float32 and 0 <= photo.min() <= photo.max() <= 1
    identity = lesson.explore_kernel(photo, lesson.PRESET_KERNELS["identity"])
    assert np.allclose(identity, photo)
    pooled = lesson.explore_kernel(photo, lesson.PRESET_KERNELS["Sobel x"], stride=2, padding="valid",
                                      pooling="max", pool_size=2)
    expected = tf.nn.max_pool2d(tf.nn.conv2d(photo[None, :, :, None],
                                             np.float32(lesson.PRESET_KERNELS["Sobel x"])[:, :, None, None],
                                             2, "VALID"), 2, 2, "VALID").numpy()[0, :, :, 0]
    assert _max_err(pooled, expected) <= TOL
    with pytest.raises(ValueError, match="pooling"):
        lesson.explore_kernel(photo, np.eye(3), pooling="median")
    with pytest.raises(ValueError, match="2-D"):
        lesson.explore_kernel(photo[None], np.eye(3))


def test_kernel_explorer_widget_without_browser(lesson):
    pytest.importorskip("ipywidgets")
    photo = lesson.load_photo(scale=8)
    box, controls = lesson.make_kernel_explorer(photo)
    assert [c.value for c in controls["cells"]] == [-1, 0, 1, -2, 0, 2, -1, 0, 1]   # "Sobel x" preset
    controls["preset"].value = "sharpen"
    assert [c.value for c in controls["cells"]] == [0, -1, 0, -1, 5, -1, 0, -1, 0]
    controls["stride"].value = 2
    assert controls["shape"].value == f"input {photo.shape} -> output {tuple(-(-n // 2) for n in photo.shape)}"
    controls["pooling"].value = "avg"
    controls["cells"][4].value = 1.0
    controls["apply"].click()
    result = controls["update"]()
    assert result.shape == tuple(-(-n // 2) // 2 for n in photo.shape)
    assert controls["shape"].value.endswith(f"output {result.shape}")
