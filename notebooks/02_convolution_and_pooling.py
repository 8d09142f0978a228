# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     notebook_metadata_filter: kernelspec,jupytext,-jupytext.text_representation.jupytext_version,-jupytext.formats
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Convolution and pooling from the ground up
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/image-synthesis-course/gans-and-cnns/blob/main/notebooks/02_convolution_and_pooling.ipynb)
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/image-synthesis-course/gans-and-cnns/main?labpath=notebooks%2F02_convolution_and_pooling.ipynb)
#
# ## Overview
#
# Every network in this course, the classifier of the next lesson and the generators and discriminators of the
# GAN lessons, is built from two operations: convolution and pooling. This lesson writes them down exactly,
# implements them twice in NumPy (a readable loop version and a fast vectorized one), and checks every
# implementation against what TensorFlow computes.
#
# **Learning objectives.** After this lesson you can
# - write the convolution a deep-learning framework computes (a *cross-correlation*) with channels, many filters,
#   padding, stride and dilation, and predict the shape of its output;
# - explain where TensorFlow puts the padding for `padding="same"`;
# - implement convolution with loops and with `sliding_window_view` + a matrix product, and say how fast each is;
# - implement max and average pooling;
# - derive and implement the gradients of convolution and max pooling (backpropagation);
# - explain the transposed convolution that generators use to upsample, its checkerboard artifacts and the
#   resize-then-convolve remedy;
# - compute the receptive field of a stack of layers;
# - say why images call for convolutions (locality, weight sharing, translation equivariance, far fewer parameters
#   than a dense layer), and what a 1×1 convolution is.
#
# **Prerequisites.** Lesson 00 (set-up, profiles); NumPy indexing, slicing and broadcasting; the chain rule of
# calculus (section 7). Lesson 01 (the GAN objective) is not needed here.
#
# **Where this stands in the source article.** Section 3.2 "卷积神经网络（CNNs）", mainly 3.2.3 "数学模型公式"
# (mathematical model). The article describes the two operations in words only:
#
# > 卷积操作可以通过将一个过滤器（filter）与输入图像I的某个子区域进行乘法运算来生成一个新的图像。
#
# "The convolution operation produces a new image by multiplying a filter with some sub-region of the input image I."
#
# > 池化操作可以通过将一个窗口（window）与输入图像I的某个子区域进行取最大值（或其他操作）来生成一个新的图像。池化操作可以学习图像中的全局结构。
#
# "The pooling operation produces a new image by taking the maximum (or another operation) of a window over some
# sub-region of the input image I. The pooling operation can learn the global structure of the image."
#
# Both sentences point the right way but are loose, and this lesson makes them exact:
# - "multiplied with a sub-region" leaves out the **sum**: each output value is the sum of the element-wise
#   products (a dot product), not a product image. It also leaves out the **channels** (a colour image has three,
#   and each filter spans all of them), the **many filters** (one output channel each), the **bias**, and the
#   **stride**, **padding** and **dilation** that decide which sub-regions are used and so the output size.
# - What frameworks call convolution does not flip the filter: it is a **cross-correlation** (section 1).
# - Pooling has **no parameters**, so it cannot *learn* anything. What it does is summarise a neighbourhood and
#   shrink the image, which makes each later layer see a larger part of the input (its receptive field, section 9);
#   the global structure is learned by the convolutions stacked after it.

# %%
# Set-up (the same in every lesson): on Colab, fetch the course and install its helpers without touching
# Colab's own TensorFlow and Keras; anywhere else it only imports TensorFlow quietly.
import os
import shutil
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # hide TensorFlow's C++ log lines; Python errors still show
if "google.colab" in sys.modules:
    COURSE_DIR = "/content/gans-and-cnns"
    git = ["git", "-C", COURSE_DIR]
    gone = subprocess.run(git + ["ls-files", "--deleted", "-z"], capture_output=True, text=True)
    gone = [f for f in gone.stdout.split("\0") if f] if gone.returncode == 0 else []
    repaired = bool(gone) and subprocess.run(git + ["checkout", "HEAD", "--", *gone], capture_output=True).returncode == 0
    if repaired:
        print(f"Repaired {COURSE_DIR}: restored {len(gone)} missing files from its git history")
    fresh = (gone and not repaired) or not os.path.isfile(f"{COURSE_DIR}/course_utils/__init__.py")
    if fresh:  # absent, empty, or a clone that was interrupted before its files were written
        if os.path.exists(COURSE_DIR):
            print(f"{COURSE_DIR} is empty or a broken clone: deleting it and cloning the course again")
            shutil.rmtree(COURSE_DIR)
        subprocess.run(["git", "clone", "--quiet", "--depth", "1",
                        "https://github.com/image-synthesis-course/gans-and-cnns", COURSE_DIR], check=True)
    if fresh or repaired:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "-e", COURSE_DIR], check=True)
    sys.path.insert(0, COURSE_DIR)

from course_utils.device import quiet_tensorflow_startup

tf = quiet_tensorflow_startup()  # import TensorFlow once, without its C++ start-up log lines

# %%
import keras
import matplotlib.pyplot as plt
import numpy as np
from keras import layers

from course_utils import device, profiles, viz
from course_utils.receptive_field import VGG16_LAYERS, from_keras, receptive_field, receptive_fields

config = device.setup(seed=2)
rng = np.random.default_rng(2)
print("profile:", profiles.get_profile(), "| device:", config.device_name)

# %% [markdown]
# ## 1. Compute a convolution the way frameworks do: cross-correlation
#
# A batch of images is a 4-D array $x$ of shape $(N, H, W, C)$: images, rows, columns, channels (TensorFlow's
# "channels last" layout). A convolution layer holds a kernel $w$ of shape $(K_h, K_w, C, F)$ (one
# $K_h \times K_w \times C$ filter for each of its $F$ output channels) and a bias $b$ of shape $(F,)$. With stride
# $s$ and dilation $d$, output pixel $(i, j)$ of output channel $f$ is
#
# $$y_{n,i,j,f} = b_f + \sum_{u=0}^{K_h-1} \sum_{v=0}^{K_w-1} \sum_{c=0}^{C-1}
#   \tilde x_{n,\; i s + u d,\; j s + v d,\; c}\; w_{u,v,c,f}$$
#
# where $\tilde x$ is the input after padding (section 2). In words: put the filter on a window of the image,
# multiply element by element **across all channels**, **sum**, add the bias; slide by $s$ pixels and repeat; do it
# once per filter. The filter is *not* flipped, so mathematicians would call this a cross-correlation; a true
# convolution uses $w_{K_h-1-u,\,K_w-1-v}$. For a learned kernel the difference does not matter (the network just
# learns the flipped kernel), but for checking code, and for the exercises, it does.
#
# Start with the smallest case: one image, one channel, one $2 \times 2$ filter, stride 1, no padding.

# %%
x_small = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)   # (N, H, W, C)
w_small = np.array([[1.0, 2.0], [0.0, -1.0]], dtype=np.float32).reshape(2, 2, 1, 1)   # (Kh, Kw, C, F)
print(x_small[0, :, :, 0])
print(w_small[:, :, 0, 0])

# %%
# Output pixel (0, 0) by hand: the top-left 2x2 window times the filter, summed.
by_hand = 0 * 1 + 1 * 2 + 4 * 0 + 5 * (-1)
tf_out = tf.nn.conv2d(x_small, w_small, strides=1, padding="VALID").numpy()
print(tf_out[0, :, :, 0])
assert by_hand == tf_out[0, 0, 0, 0] == -3

# True convolution flips the filter: here it gives a different number, so TensorFlow does not flip.
flipped = w_small[::-1, ::-1]
true_conv_00 = np.sum(x_small[0, :2, :2, 0] * flipped[:, :, 0, 0])
print("cross-correlation:", by_hand, "| true convolution:", true_conv_00)
assert true_conv_00 != tf_out[0, 0, 0, 0]

# %% [markdown]
# With several channels and filters nothing changes but the sum: output $(i, j, f)$ adds up the products over the
# window **and over all input channels**, with filter $f$, plus its bias. Three input channels and two filters:

# %%
x_rgb = rng.standard_normal((1, 5, 5, 3)).astype(np.float32)
w_two = rng.standard_normal((3, 3, 3, 2)).astype(np.float32)       # (Kh, Kw, C=3, F=2)
b_two = np.array([0.5, -1.0], np.float32)
y_two = tf.nn.conv2d(x_rgb, w_two, strides=1, padding="VALID").numpy() + b_two
i, j = 1, 2
by_formula = [b_two[f] + np.sum(x_rgb[0, i:i + 3, j:j + 3, :] * w_two[:, :, :, f]) for f in range(2)]
print("output shape:", y_two.shape, "| pixel (1, 2) from TensorFlow:", y_two[0, i, j],
      "| by the formula:", np.array(by_formula, np.float32))
assert y_two.shape == (1, 3, 3, 2)
assert np.allclose(y_two[0, i, j], by_formula, atol=1e-5)

# %% [markdown]
# ### See the sliding window
#
# The same operation drawn, on the small example of *Dive into Deep Learning* (Zhang et al., section 7.2): a
# 3×3 input holding 0 to 8 and the 2×2 kernel (0, 1; 2, 3). The window (orange) visits the four positions in turn;
# each gives one output number. The first is 0·0 + 1·1 + 3·2 + 4·3 = 19.

# %%
x_d2l = np.arange(9, dtype=np.float32).reshape(3, 3)
k_d2l = np.arange(4, dtype=np.float32).reshape(2, 2)
y_d2l = tf.nn.conv2d(x_d2l[None, :, :, None], k_d2l[:, :, None, None], 1, "VALID").numpy()[0, :, :, 0]
assert np.array_equal(y_d2l, [[19, 25], [37, 43]])
fig, axes = plt.subplots(2, 4, figsize=(9, 4.2))
for col, (i, j) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
    window = [(i + u, j + v) for u in range(2) for v in range(2)]
    viz.draw_matrix(axes[0, col], x_d2l, highlight=window, title=f"input, window for output ({i}, {j})")
    viz.draw_matrix(axes[1, col], y_d2l, highlight=[(i, j)],
                    title=f"{' + '.join(f'{x_d2l[c]:g}·{k_d2l[u, v]:g}' for c, (u, v) in zip(window, np.ndindex(2, 2)))}")
    assert y_d2l[i, j] == sum(x_d2l[c] * k_d2l[u, v] for c, (u, v) in zip(window, np.ndindex(2, 2)))
fig.suptitle("kernel (0, 1; 2, 3) slides over the input; each position gives one output (bottom)")
fig.tight_layout()
plt.show()

# %% [markdown]
# ### See several input channels
#
# With two input channels the kernel has two slices, one per channel; each slice slides over its own channel,
# and the two results are **added** into one output channel (d2l, section 7.4). The orange cells of both channels
# make the orange output: (0·0 + 1·1 + 3·2 + 4·3) + (1·1 + 2·2 + 4·3 + 5·4) = 19 + 37 = 56.

# %%
x_two = np.stack([x_d2l, x_d2l + 1], axis=-1)                 # (3, 3, 2): channels last
k_two = np.stack([k_d2l, k_d2l + 1], axis=-1)[:, :, :, None]  # (2, 2, 2, 1): one filter spanning both channels
y_sum = tf.nn.conv2d(x_two[None], k_two, 1, "VALID").numpy()[0, :, :, 0]
per_channel = [tf.nn.conv2d(x_two[None, :, :, c:c + 1], k_two[:, :, c:c + 1], 1, "VALID").numpy()[0, :, :, 0]
               for c in range(2)]
assert np.array_equal(y_sum, [[56, 72], [104, 120]]) and np.array_equal(y_sum, per_channel[0] + per_channel[1])
window = [(0, 0), (0, 1), (1, 0), (1, 1)]
fig, axes = plt.subplots(1, 5, figsize=(11, 2.4))
viz.draw_matrix(axes[0], x_two[:, :, 0], highlight=window, title="input, channel 0")
viz.draw_matrix(axes[1], k_two[:, :, 0, 0], title="kernel, slice 0")
viz.draw_matrix(axes[2], x_two[:, :, 1], highlight=window, title="input, channel 1")
viz.draw_matrix(axes[3], k_two[:, :, 1, 0], title="kernel, slice 1")
viz.draw_matrix(axes[4], y_sum, highlight=[(0, 0)], title="output: the sum")
fig.tight_layout()
plt.show()

# %% [markdown]
# ### Why convolution: locality, weight sharing, translation equivariance
#
# A convolution is a fully connected (dense) layer with two constraints on its weight matrix, which the check
# below makes visible by writing a small convolution as a matrix: feed it each of the 36 one-pixel images of a
# 6×6 input; output (i, j) of basis image p is the weight from pixel p to output (i, j).
# - **Locality**: each output depends only on a k×k window, so each row of the matrix has only k² = 9 non-zeros
#   out of 36.
# - **Weight sharing**: every output uses the same 9 numbers, so the 144 non-zeros take only 9 distinct values.
# - **Translation equivariance**: moving the input moves the output by the same amount: conv(shift(x)) =
#   shift(conv(x)), away from the borders.

# %%
k_rand = rng.standard_normal((3, 3, 1, 1)).astype(np.float32)
basis = np.eye(36, dtype=np.float32).reshape(36, 6, 6, 1)        # 36 one-pixel images
as_matrix = tf.nn.conv2d(basis, k_rand, 1, "VALID").numpy().reshape(36, 16).T   # (16 outputs, 36 pixels)
x_test_img = rng.standard_normal((1, 6, 6, 1)).astype(np.float32)
assert np.allclose(as_matrix @ x_test_img.ravel(), tf.nn.conv2d(x_test_img, k_rand, 1, "VALID").numpy().ravel(),
                   atol=1e-5)
nonzero_per_row = (as_matrix != 0).sum(axis=1)
distinct = np.unique(as_matrix[as_matrix != 0])
print(f"matrix {as_matrix.shape}; non-zeros per row: {set(nonzero_per_row.tolist())} of 36; "
      f"distinct non-zero values: {distinct.size}")  # NBVAL_CHECK_OUTPUT
assert set(nonzero_per_row) == {9} and distinct.size == 9 and np.allclose(np.sort(distinct), np.sort(k_rand.ravel()))

# %%
x_big_img = rng.standard_normal((1, 16, 16, 1)).astype(np.float32)
shifted = np.roll(x_big_img, shift=(2, 3), axis=(1, 2))           # move the image 2 down and 3 right
conv_then_shift = np.roll(tf.nn.conv2d(x_big_img, k_rand, 1, "SAME").numpy(), shift=(2, 3), axis=(1, 2))
shift_then_conv = tf.nn.conv2d(shifted, k_rand, 1, "SAME").numpy()
inner = (slice(None), slice(4, -2), slice(5, -2))                 # away from the borders the roll wrapped or padded
gap = float(np.max(np.abs(conv_then_shift[inner] - shift_then_conv[inner])))
print(f"translation equivariance: largest difference away from the borders {gap:.1e}")
assert gap < 1e-5
dense_like = rng.standard_normal((256, 256)).astype(np.float32)  # a dense layer has no such property
dense_gap = np.max(np.abs(np.roll((dense_like @ x_big_img.ravel()).reshape(16, 16), (2, 3), (0, 1))
                          - (dense_like @ shifted.ravel()).reshape(16, 16)))
assert dense_gap > 1.0

# %% [markdown]
# The constraints are what make convolutions cheap. Map a 28×28 grey image to 32 feature maps of the same size:
# a 3×3 convolution needs (3·3·1 + 1)·32 parameters whatever the image size; a dense layer producing the same
# 28·28·32 outputs from the 784 inputs needs (784 + 1)·25,088. Keras counts both (the dense layer is only built,
# never run):

# %%
conv_layer = layers.Conv2D(32, 3, padding="same")
conv_layer.build((None, 28, 28, 1))
dense_layer = layers.Dense(28 * 28 * 32)
dense_layer.build((None, 28 * 28))
n_conv, n_dense = conv_layer.count_params(), dense_layer.count_params()
assert n_conv == (3 * 3 * 1 + 1) * 32 and n_dense == (28 * 28 + 1) * 28 * 28 * 32
print(f"3x3 convolution: {n_conv:,} parameters; dense layer with the same output: {n_dense:,} "
      f"({n_dense // n_conv:,} times more)")  # NBVAL_CHECK_OUTPUT
del dense_layer  # 79 MB of weights, not needed any more

# %% [markdown]
# ### 1×1 convolutions
#
# A 1×1 kernel sees one pixel at a time, so it mixes **channels only**: at every pixel it computes the same
# C_in → C_out linear map plus bias, which is a dense layer applied to each pixel's channel vector (d2l, section
# 7.4.3). Networks use it to change the number of channels cheaply (the inception and ResNet bottleneck blocks
# [@szegedy2016rethinking; @he2016deep]). Check: a Keras `Conv2D(4, 1)` and a `Dense(4)` with the same weights
# give the same output, and so does one matrix product over all pixels.

# %%
x_pix = rng.standard_normal((2, 5, 5, 3)).astype(np.float32)
one_by_one = layers.Conv2D(4, 1, bias_initializer="random_normal")
y_conv = one_by_one(x_pix).numpy()
kernel_1x1, bias_1x1 = one_by_one.get_weights()                   # kernel (1, 1, 3, 4)
per_pixel = layers.Dense(4)
per_pixel.build((None, 3))
per_pixel.set_weights([kernel_1x1[0, 0], bias_1x1])
y_dense = per_pixel(x_pix).numpy()                                # Dense acts on the last axis: each pixel
y_matmul = (x_pix.reshape(-1, 3) @ kernel_1x1[0, 0] + bias_1x1).reshape(2, 5, 5, 4)
print("1x1 conv:", y_conv.shape, "| largest difference to the per-pixel dense layer:",
      f"{np.max(np.abs(y_conv - y_dense)):.1e}")
assert np.allclose(y_conv, y_dense, atol=1e-5) and np.allclose(y_conv, y_matmul, atol=1e-5)

# %% [markdown]
# ## 2. Predict the output size: padding, stride, dilation
#
# Along one axis of length $n$, a kernel of size $k$ with dilation $d$ spans $k_\text{eff} = d(k-1)+1$ pixels
# (dilation leaves $d-1$ pixels out between taps). With $p_0$ zeros added before and $p_1$ after, and stride $s$,
#
# $$n_\text{out} = \left\lfloor \frac{n + p_0 + p_1 - k_\text{eff}}{s} \right\rfloor + 1 .$$
#
# TensorFlow and Keras know two padding modes:
# - `"valid"`: no padding, $p_0 = p_1 = 0$, so $n_\text{out} = \lfloor (n - k_\text{eff})/s \rfloor + 1$;
# - `"same"`: $n_\text{out} = \lceil n / s \rceil$ (the *same* size when $s = 1$). The total padding needed is
#   $p = \max\big((n_\text{out}-1)s + k_\text{eff} - n,\ 0\big)$, split as $p_0 = \lfloor p/2 \rfloor$ and
#   $p_1 = p - p_0$: **when $p$ is odd, the extra pixel goes at the bottom/right** (other libraries may differ).

# %% tags=["export"]
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

PADDINGS = ("valid", "same")


def _pair(value, name):
    """Turn an int or a pair of ints (each >= 1) into a pair; raise ValueError otherwise."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (value, value)
    if (not isinstance(value, (tuple, list)) or len(value) != 2
            or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1 for v in value)):
        raise ValueError(f"{name} must be a positive int or a pair of positive ints, got {value!r}")
    return int(value[0]), int(value[1])


def _check_padding(padding):
    if padding not in PADDINGS:
        raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")


# %% tags=["export"]
def conv_output_size(n, k, stride=1, padding="valid", dilation=1):
    """Length of a convolution's output along one axis (`padding` is "valid", "same" or an int on each side)."""
    k_eff = dilation * (k - 1) + 1
    if padding == "same":
        return -(-n // stride)          # ceil(n / stride)
    if padding == "valid":
        padding = 0
    return (n + 2 * padding - k_eff) // stride + 1


def same_padding(n, k, stride=1, dilation=1):
    """(before, after) zeros TensorFlow adds along one axis for padding="same"; the odd pixel goes after."""
    k_eff = dilation * (k - 1) + 1
    total = max((conv_output_size(n, k, stride, "same") - 1) * stride + k_eff - n, 0)
    return total // 2, total - total // 2


def pad_input(x, kernel_size, stride, dilation, padding, value=0.0):
    """Pad an (N, H, W, C) batch as TensorFlow does for `padding`, with `value`."""
    _check_padding(padding)
    if padding == "valid":
        return x
    (kh, kw), (sh, sw), (dh, dw) = kernel_size, stride, dilation
    pad_h = same_padding(x.shape[1], kh, sh, dh)
    pad_w = same_padding(x.shape[2], kw, sw, dw)
    return np.pad(x, ((0, 0), pad_h, pad_w, (0, 0)), constant_values=value)


# %% [markdown]
# Check the formula against the shapes TensorFlow produces, over odd and even sizes, kernels, strides, dilations
# and both paddings.

# %%
shape_cases = 0
for n in (5, 6, 7, 8):
    for k in (1, 2, 3, 4):
        for s in (1, 2, 3):
            for d in (1, 2):
                for padding in PADDINGS:
                    if padding == "valid" and d * (k - 1) + 1 > n:
                        continue
                    out = tf.nn.conv2d(np.zeros((1, n, n, 1), np.float32), np.zeros((k, k, 1, 1), np.float32),
                                       strides=s, padding=padding.upper(), dilations=d)
                    assert out.shape[1] == conv_output_size(n, k, s, padding, d), (n, k, s, d, padding)
                    shape_cases += 1
print(f"output-size formula agrees with TensorFlow on {shape_cases} cases")

# %% [markdown]
# Now see where the odd padding pixel goes. Take a $3 \times 3$ image and a $2 \times 2$ kernel that only picks its
# top-left tap. With `"same"` padding the total padding is $2 - 1 = 1$ per axis. If that pixel goes bottom/right,
# the window of output $(i, j)$ starts at input $(i, j)$ and the output equals the input; if it went top/left,
# the output would be the input shifted down and right by one pixel.

# %%
# NBVAL_CHECK_OUTPUT
x_pad_demo = np.arange(1, 10, dtype=np.float32).reshape(1, 3, 3, 1)
pick_top_left = np.array([[1, 0], [0, 0]], np.float32).reshape(2, 2, 1, 1)
same_out = tf.nn.conv2d(x_pad_demo, pick_top_left, strides=1, padding="SAME").numpy()
print("input:\n", x_pad_demo[0, :, :, 0])
print("same-padded output:\n", same_out[0, :, :, 0])
print("padding (before, after) per axis:", same_padding(3, 2))
assert same_padding(3, 2) == (0, 1)
assert np.array_equal(same_out, x_pad_demo)   # the extra zero row/column went to the bottom/right

# %% [markdown]
# ### See padding, stride and dilation
#
# The four settings drawn in the style of Dumoulin and Visin's guide [@dumoulin2016guide], on a 5×5 input with a
# 3×3 kernel: grey cells are padding zeros, orange cells are what the orange output reads. Padding 1 keeps the
# size; stride 2 skips every other position and halves it; dilation 2 spreads the taps apart, seeing a 5×5 region
# with 9 weights (Yu and Koltun's dilated convolutions [@yu2016multi]). `viz.draw_conv_diagram` draws them, and
# its geometry is checked below against TensorFlow.

# %%
DIAGRAMS = [{"padding": 0}, {"padding": 1, "position": (0, 0)}, {"padding": 1, "stride": 2, "position": (1, 2)},
            {"dilation": 2}]
fig, axes = plt.subplots(1, 4, figsize=(13, 3.2))
drawn = [viz.draw_conv_diagram(ax, 5, 3, **settings) for ax, settings in zip(axes, DIAGRAMS)]
fig.tight_layout()
plt.show()
for settings, diagram in zip(DIAGRAMS, drawn):
    pad = settings.get("padding", 0)
    assert diagram["out_size"] == conv_output_size(5, 3, settings.get("stride", 1), pad, settings.get("dilation", 1))
print("output sizes:", [d["out_size"] for d in drawn])  # NBVAL_CHECK_OUTPUT

# %% [markdown]
# The check: number the input's cells 1 to 25 (so that 0 marks padding), and convolve with a kernel that has a
# single 1 at tap (u, v). The orange output then holds the number of the cell that tap reads, which must be the
# cell the diagram coloured.

# %%
numbered = np.arange(1, 26, dtype=np.float32).reshape(1, 5, 5, 1)
for settings, diagram in zip(DIAGRAMS, drawn):
    pad, stride_ = settings.get("padding", 0), settings.get("stride", 1)
    dilation_, (i, j) = settings.get("dilation", 1), settings.get("position", (0, 0))
    x_in = np.pad(numbered, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    for tap, (r, c) in zip(np.ndindex(3, 3), diagram["taps"]):
        one_hot = np.zeros((3, 3, 1, 1), np.float32)
        one_hot[tap] = 1.0
        read = tf.nn.conv2d(x_in, one_hot, stride_, "VALID", dilations=dilation_).numpy()[0, i, j, 0]
        assert read == x_in[0, r, c, 0], (settings, tap, read)
print("every coloured cell is the one TensorFlow reads")

# %% [markdown]
# ## 3. Implement it with loops
#
# The loop version follows the formula line by line: for every image, output row, output column and filter, cut
# out the (strided, dilated) window, multiply it by the filter and sum.

# %% tags=["export"]
def conv2d_loops(x, w, b=None, stride=1, padding="valid", dilation=1):
    """Cross-correlation of x (N, H, W, C) with w (Kh, Kw, C, F), plus bias b (F,): readable loops."""
    (sh, sw), (dh, dw) = _pair(stride, "stride"), _pair(dilation, "dilation")
    kh, kw, c, f = w.shape
    if x.ndim != 4 or x.shape[3] != c:
        raise ValueError(f"expected x of shape (N, H, W, {c}) for a kernel of shape {w.shape}, got {x.shape}")
    xp = pad_input(x, (kh, kw), (sh, sw), (dh, dw), padding)
    oh = conv_output_size(x.shape[1], kh, sh, padding, dh)
    ow = conv_output_size(x.shape[2], kw, sw, padding, dw)
    y = np.zeros((x.shape[0], oh, ow, f), dtype=np.result_type(x, w))
    for n in range(x.shape[0]):
        for i in range(oh):
            for j in range(ow):
                top, left = i * sh, j * sw
                window = xp[n, top:top + dh * (kh - 1) + 1:dh, left:left + dw * (kw - 1) + 1:dw, :]
                for o in range(f):
                    y[n, i, j, o] = np.sum(window * w[:, :, :, o])
    return y if b is None else y + b


# %%
out_loops = conv2d_loops(x_small, w_small)
print(out_loops[0, :, :, 0])
assert np.allclose(out_loops, tf_out)

# %% [markdown]
# ## 4. Vectorize it: sliding windows and one matrix product
#
# Loops in Python cost about a microsecond per step. The fast way is **im2col**: copy every window into one row of
# a matrix, then do a single matrix product with the kernel reshaped to $(K_h K_w C) \times F$, which NumPy hands
# to an optimised BLAS library. `numpy.lib.stride_tricks.sliding_window_view` gives all windows as a *view*
# (no copy); slicing it with steps applies the stride and the dilation.

# %% tags=["export"]
def extract_windows(xp, kernel_size, stride, dilation):
    """All windows of a padded (N, H, W, C) batch, as a view of shape (N, out_h, out_w, C, Kh, Kw)."""
    (kh, kw), (sh, sw), (dh, dw) = kernel_size, stride, dilation
    windows = sliding_window_view(xp, (dh * (kh - 1) + 1, dw * (kw - 1) + 1), axis=(1, 2))
    return windows[:, ::sh, ::sw, :, ::dh, ::dw]


def conv2d_vectorized(x, w, b=None, stride=1, padding="valid", dilation=1):
    """The same cross-correlation as conv2d_loops, as im2col + one matrix product."""
    (sh, sw), (dh, dw) = _pair(stride, "stride"), _pair(dilation, "dilation")
    kh, kw, c, f = w.shape
    if x.ndim != 4 or x.shape[3] != c:
        raise ValueError(f"expected x of shape (N, H, W, {c}) for a kernel of shape {w.shape}, got {x.shape}")
    windows = extract_windows(pad_input(x, (kh, kw), (sh, sw), (dh, dw), padding), (kh, kw), (sh, sw), (dh, dw))
    n, oh, ow = windows.shape[:3]
    # im2col: one row per output pixel, ordered (Kh, Kw, C) like the kernel; this is the only copy.
    cols = np.ascontiguousarray(windows.transpose(0, 1, 2, 4, 5, 3)).reshape(n * oh * ow, kh * kw * c)
    y = (cols @ w.reshape(kh * kw * c, f)).reshape(n, oh, ow, f)
    return y if b is None else y + b


# %%
windows_demo = extract_windows(x_small, (2, 2), (1, 1), (1, 1))
print("windows:", windows_demo.shape, "| first window:", windows_demo[0, 0, 0, 0].ravel(),
      "| a view of x, not a copy:", "yes" if np.shares_memory(windows_demo, x_small) else "no")
assert np.allclose(conv2d_vectorized(x_small, w_small), tf_out)

# %% [markdown]
# Now the real test: a grid of cases with several input and output channels, odd and even sizes, both paddings,
# strides 1 to 3 and dilations 1 and 2, against `tf.nn.conv2d` (and `keras.layers.Conv2D` with its own kernel
# and bias, where Keras allows the combination: it refuses stride > 1 together with dilation > 1). Kernels are
# scaled like a real layer's initialisation ($\text{std} = 1/\sqrt{K_h K_w C}$), so outputs are of order 1 and a
# float32 error of $10^{-5}$ means a real bug. The same grid runs in `tests/test_convolution.py`.

# %%
def random_case(n, h, w, c, k, f, seed=0):
    """A float32 batch and a kernel scaled like a real layer's initialisation."""
    r = np.random.default_rng(seed)
    x = r.standard_normal((n, h, w, c)).astype(np.float32)
    kernel = (r.standard_normal((k, k, c, f)) / np.sqrt(k * k * c)).astype(np.float32)
    return x, kernel


worst = {"loops": 0.0, "vectorized": 0.0, "keras": 0.0}
n_cases = 0
for size in (7, 8):
    for padding in PADDINGS:
        for stride in (1, 2, 3):
            for dilation in (1, 2):
                x_g, w_g = random_case(2, size, size + 1, 3, 3, 4, seed=n_cases)
                reference = tf.nn.conv2d(x_g, w_g, strides=stride, padding=padding.upper(), dilations=dilation).numpy()
                for name, fn in (("loops", conv2d_loops), ("vectorized", conv2d_vectorized)):
                    got = fn(x_g, w_g, stride=stride, padding=padding, dilation=dilation)
                    assert got.shape == reference.shape, (name, got.shape, reference.shape)
                    worst[name] = max(worst[name], float(np.max(np.abs(got - reference))))
                if stride == 1 or dilation == 1:
                    conv = layers.Conv2D(4, 3, strides=stride, padding=padding, dilation_rate=dilation,
                                         bias_initializer="random_normal")
                    y_keras = conv(x_g).numpy()
                    got = conv2d_vectorized(x_g, conv.kernel.numpy(), conv.bias.numpy(), stride, padding, dilation)
                    worst["keras"] = max(worst["keras"], float(np.max(np.abs(got - y_keras))))
                n_cases += 1
print(f"{n_cases} cases; largest absolute error: " + ", ".join(f"{k} {v:.1e}" for k, v in worst.items()))
assert max(worst.values()) <= 1e-5

# %% [markdown]
# ## 5. Measure the speed
#
# A realistic layer: a batch of 8 images of $64 \times 64$ pixels with 16 channels, 32 filters of $3 \times 3$,
# `"same"` padding. Each timing is the minimum of several runs (the minimum is the least disturbed by other
# programs on the machine). The loop version would take seconds on the whole batch, so it is timed on one
# image's top-left $16 \times 16$ corner and scaled by the number of output values, which its cost is
# proportional to (one Python step per output value and filter). In the full profile it also runs once on the
# whole batch to check that extrapolation, and the two claims of this section (vectorized within 5x of TensorFlow,
# loops at least 50x slower than vectorized) are asserted; the smoke profile, with 3 repeats, only shows them.
# Timings depend on the machine and on what else runs on it: the figures saved here were measured on a 2-core
# machine shared with other jobs. NumPy's matrix product runs on several threads (OpenBLAS); when other programs
# keep the cores busy, those threads wait for each other and the vectorized time can jump several-fold for a
# while. So the full profile measures up to three rounds and keeps the first that is not disturbed that way.
# `benchmarks/conv_speed.py` repeats the measurement outside the notebook.

# %% tags=["export"]
import time


def best_times(fns, repeats):
    """Minimum wall-clock time of each function over `repeats` rounds, in seconds. The functions take turns
    within each round, so a burst of load from other programs hits all of them alike."""
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, record in zip(fns, times):
            start = time.perf_counter()
            fn()
            record.append(time.perf_counter() - start)
    return [min(record) for record in times]


# %%
REPEATS = profiles.pick(full=20, smoke=3)
x_big, w_big = random_case(8, 64, 64, 16, 3, 32, seed=1)
x_big_tf, w_big_tf = tf.constant(x_big), tf.constant(w_big)
y_tf = tf.nn.conv2d(x_big_tf, w_big_tf, strides=1, padding="SAME").numpy()   # warm-up
assert np.max(np.abs(conv2d_vectorized(x_big, w_big, padding="same") - y_tf)) <= 1e-5
rounds = 0
while True:   # up to 3 rounds in the full profile; see the note above
    rounds += 1
    t_tf, t_vec = best_times([lambda: tf.nn.conv2d(x_big_tf, w_big_tf, strides=1, padding="SAME").numpy(),
                              lambda: conv2d_vectorized(x_big, w_big, padding="same")], REPEATS)
    if t_vec <= 5 * t_tf or rounds == profiles.pick(full=3, smoke=1):
        break
x_slice = x_big[:1, :16, :16]
(t_slice,) = best_times([lambda: conv2d_loops(x_slice, w_big, padding="same")], max(1, REPEATS // 5))
t_loops = t_slice * x_big[:, :, :, 0].size / x_slice[:, :, :, 0].size
print(f"TensorFlow      {t_tf * 1e3:8.2f} ms   (minimum of {REPEATS} runs, round {rounds})")
print(f"vectorized      {t_vec * 1e3:8.2f} ms   ({t_vec / t_tf:.1f}x TensorFlow's time)")
print(f"loops (extrap.) {t_loops * 1e3:8.0f} ms   ({t_loops / t_vec:.0f}x the vectorized time; "
      f"measured {t_slice * 1e3:.1f} ms on a 1x16x16 slice, scaled by {x_big[:, :, :, 0].size // x_slice[:, :, :, 0].size})")

# %%
if not profiles.is_smoke():
    start = time.perf_counter()
    y_loops = conv2d_loops(x_big, w_big, padding="same")
    t_loops_full = time.perf_counter() - start
    print(f"loops, measured once on the whole batch: {t_loops_full:.2f} s (extrapolated {t_loops:.2f} s)")
    assert np.max(np.abs(y_loops - y_tf)) <= 1e-5
    # Timing claims are checked only here, in the full profile: the smoke profile's few repeats are too noisy.
    assert t_vec <= 5 * t_tf, f"vectorized {t_vec:.4f} s is more than 5x TensorFlow's {t_tf:.4f} s"
    assert t_loops_full >= 50 * t_vec, f"loops {t_loops_full:.3f} s are not 50x slower than {t_vec:.4f} s"

# %% [markdown]
# TensorFlow is still faster. Its oneDNN kernels compute the convolution block by block, in pieces that fit the
# processor's caches, instead of writing the whole im2col matrix to memory (here $K_h K_w = 9$ times the size of
# the input) and reading it back. But in both, almost all the arithmetic is one big matrix product, which is why
# GPUs, built for matrix products, train convolutional networks so fast.
#
# ## 6. Pool: max and average
#
# Pooling slides a $P_h \times P_w$ window with stride $s$ (Keras' default: $s = P$, windows side by side) over each
# channel separately and keeps the maximum or the mean:
#
# $$y^{\max}_{n,i,j,c} = \max_{0 \le u < P_h,\ 0 \le v < P_w} \tilde x_{n,\, i s + u,\, j s + v,\, c}, \qquad
#   y^{\text{avg}}_{n,i,j,c} = \frac{1}{|V_{ij}|} \sum_{(u, v) \in V_{ij}} \tilde x_{n,\, i s + u,\, j s + v,\, c}$$
#
# The output size is the convolution's formula with $k = P$. With `"same"` padding the padded pixels never count:
# max pooling pads with $-\infty$, and average pooling divides by the number $|V_{ij}|$ of *real* pixels in the
# window, not by $P_h P_w$. Pooling has no weights: it does the same thing before and after training.

# %% tags=["export"]
def pool2d(x, pool_size=2, strides=None, padding="valid", mode="max"):
    """Max or average pooling of x (N, H, W, C), like keras.layers.MaxPooling2D / AveragePooling2D."""
    pool = _pair(pool_size, "pool_size")
    stride = pool if strides is None else _pair(strides, "strides")
    if mode not in ("max", "avg"):
        raise ValueError(f"mode must be 'max' or 'avg', got {mode!r}")
    if mode == "max":
        xp = pad_input(x, pool, stride, (1, 1), padding, value=-np.inf)
        return extract_windows(xp, pool, stride, (1, 1)).max(axis=(-2, -1))
    xp = pad_input(x, pool, stride, (1, 1), padding, value=0.0)
    real = pad_input(np.ones((1, *x.shape[1:3], 1), x.dtype), pool, stride, (1, 1), padding, value=0.0)
    sums = extract_windows(xp, pool, stride, (1, 1)).sum(axis=(-2, -1))
    counts = extract_windows(real, pool, stride, (1, 1)).sum(axis=(-2, -1))
    return (sums / counts).astype(x.dtype)


# %%
x_pool = np.arange(25, dtype=np.float32).reshape(1, 5, 5, 1)
print("max, 2x2, same:\n", pool2d(x_pool, 2, padding="same", mode="max")[0, :, :, 0])
print("avg, 2x2, same:\n", pool2d(x_pool, 2, padding="same", mode="avg")[0, :, :, 0])
# Bottom-right window of the average: only the real pixel 24 is in it, so the mean is 24, not 24/4.
assert pool2d(x_pool, 2, padding="same", mode="avg")[0, -1, -1, 0] == 24

worst_pool = 0.0
for size in (6, 7):
    for pool_size, strides in ((2, None), (3, None), (3, 2), (2, 1)):
        for padding in PADDINGS:
            x_p = rng.standard_normal((2, size, size + 1, 3)).astype(np.float32)
            for mode, layer in (("max", layers.MaxPooling2D), ("avg", layers.AveragePooling2D)):
                expected = layer(pool_size, strides=strides, padding=padding)(x_p).numpy()
                got = pool2d(x_p, pool_size, strides, padding, mode)
                assert got.shape == expected.shape, (mode, pool_size, strides, padding, got.shape, expected.shape)
                worst_pool = max(worst_pool, float(np.max(np.abs(got - expected))))
print(f"pooling agrees with Keras: largest absolute error {worst_pool:.1e}")
assert worst_pool <= 1e-6

# %% [markdown]
# ## 7. Backpropagate through convolution and pooling
#
# Training needs the gradient of a loss $L$ with respect to the kernel (to update it) and with respect to the
# input (to pass on to the layer below). Write $g_{n,i,j,f} = \partial L / \partial y_{n,i,j,f}$ for the gradient
# arriving from above. Since $y$ is linear in both $w$ and $\tilde x$, the chain rule says: the gradient of a weight
# (or of a padded-input pixel) is the sum, over every output it took part in, of that output's gradient times what
# it was multiplied with there:
#
# $$\frac{\partial L}{\partial w_{u,v,c,f}} = \sum_{n,i,j} \tilde x_{n,\, i s + u d,\, j s + v d,\, c}\; g_{n,i,j,f}
#   \qquad \frac{\partial L}{\partial \tilde x_{n,p,q,c}} = \sum_{\substack{i, j, u, v, f:\\ i s + u d = p,\;
#   j s + v d = q}} g_{n,i,j,f}\; w_{u,v,c,f}$$
#
# and $\partial L / \partial b_f = \sum_{n,i,j} g_{n,i,j,f}$. The kernel gradient is again a cross-correlation (of the
# input windows with $g$), so it reuses `extract_windows`. The input gradient *scatters*: every output gradient is
# spread back over the window it came from, weighted by the filter; looping over the $K_h K_w$ kernel taps
# (not over pixels) keeps it vectorized. For stride 1 and dilation 1 it is a "full" cross-correlation of $g$ with
# the kernel rotated by 180° (and its channel axes swapped). Finally, the padded border is cut off: the padding
# zeros are constants, so their gradient goes nowhere.
#
# Max pooling passes each output gradient to the one input that was the maximum of its window (the **argmax**);
# all other inputs get zero. (Average pooling would spread it evenly over the window.)

# %% tags=["export"]
def _padded_shape_and_offsets(x_shape, kernel_size, stride, dilation, padding):
    _check_padding(padding)
    n, h, w_, c = x_shape
    if padding == "valid":
        return (n, h, w_, c), 0, 0
    (kh, kw), (sh, sw), (dh, dw) = kernel_size, stride, dilation
    ph, pw = same_padding(h, kh, sh, dh), same_padding(w_, kw, sw, dw)
    return (n, h + sum(ph), w_ + sum(pw), c), ph[0], pw[0]


def conv2d_grad_input(g, x_shape, w, stride=1, padding="valid", dilation=1):
    """dL/dx of y = conv2d(x, w) given g = dL/dy: scatter g back through every kernel tap."""
    (sh, sw), (dh, dw) = _pair(stride, "stride"), _pair(dilation, "dilation")
    kh, kw = w.shape[:2]
    padded_shape, top, left = _padded_shape_and_offsets(x_shape, (kh, kw), (sh, sw), (dh, dw), padding)
    dxp = np.zeros(padded_shape, dtype=np.result_type(g, w))
    oh, ow = g.shape[1:3]
    for a in range(kh):
        for c in range(kw):
            rows = slice(a * dh, a * dh + sh * (oh - 1) + 1, sh)
            cols = slice(c * dw, c * dw + sw * (ow - 1) + 1, sw)
            dxp[:, rows, cols, :] += g @ w[a, c].T          # (N, oh, ow, F) @ (F, C)
    return dxp[:, top:top + x_shape[1], left:left + x_shape[2], :]


# %% tags=["export"]
def conv2d_grad_kernel(x, g, kernel_size, stride=1, padding="valid", dilation=1):
    """dL/dw of y = conv2d(x, w) given g = dL/dy: correlate the input windows with g."""
    kernel, (sh, sw), (dh, dw) = _pair(kernel_size, "kernel_size"), _pair(stride, "stride"), _pair(dilation, "dilation")
    windows = extract_windows(pad_input(x, kernel, (sh, sw), (dh, dw), padding), kernel, (sh, sw), (dh, dw))
    dw_ = np.tensordot(windows, g, axes=([0, 1, 2], [0, 1, 2]))   # (C, Kh, Kw, F)
    return dw_.transpose(1, 2, 0, 3)


def max_pool_grad(x, g, pool_size=2, strides=None, padding="valid"):
    """dL/dx of y = max_pool(x) given g = dL/dy: each g goes to the argmax of its window."""
    pool = _pair(pool_size, "pool_size")
    stride = pool if strides is None else _pair(strides, "strides")
    xp = pad_input(x, pool, stride, (1, 1), padding, value=-np.inf)
    windows = extract_windows(xp, pool, stride, (1, 1))            # (N, oh, ow, C, Ph, Pw)
    flat_argmax = windows.reshape(*windows.shape[:4], -1).argmax(axis=-1)
    da, dc = np.divmod(flat_argmax, pool[1])                       # row and column inside the window
    n, i, j, k = np.indices(flat_argmax.shape)
    dxp = np.zeros(xp.shape, dtype=g.dtype)
    np.add.at(dxp, (n, i * stride[0] + da, j * stride[1] + dc, k), g)   # add.at: windows may overlap
    _, top, left = _padded_shape_and_offsets(x.shape, pool, stride, (1, 1), padding)
    return dxp[:, top:top + x.shape[1], left:left + x.shape[2], :]


# %% [markdown]
# Check against `tf.GradientTape`, with a random upstream gradient $g$ (the loss $L = \sum y \odot g$ has exactly
# that gradient), over strides, dilations and paddings.
#
# **One portability trap first.** TensorFlow's CPU kernels come in two sets. With oneDNN (Intel's library, on by
# default on recent Intel and AMD Zen 4 CPUs, and turned on by this course's set-up cell on every x86-64 CPU) the
# gradients of a *dilated* convolution exist. Without it (TensorFlow's default on AVX2-only CPUs, for instance
# most AMD laptops, or whenever `TF_ENABLE_ONEDNN_OPTS=0`) they do not: asking for them fails with "Current CPU
# implementations do not yet support dilation rates larger than 1". A lesson must not depend on which CPU it runs
# on, so the reference below takes a path that exists everywhere: a dilated kernel is an ordinary kernel with
# $d-1$ zeros inserted between its taps, so
# $\mathrm{conv2d}(x, w, \text{dilation } d) = \mathrm{conv2d}(x, \mathrm{dilate}(w, d), \text{dilation } 1)$,
# whose gradients every CPU kernel has. `tf.scatter_nd` builds the zero-inserted kernel inside the tape, so the
# tape carries the gradient back to the $k \times k$ taps. First check the identity itself (forward dilated
# convolutions exist on every CPU):

# %% tags=["export"]
import tensorflow as tf


def dilate_kernel(w, dilation):
    """The kernel with dilation-1 zeros between its taps, built with TensorFlow ops (GradientTape follows it)."""
    (dh, dw), w = _pair(dilation, "dilation"), tf.convert_to_tensor(w)
    kh, kw, c, f = w.shape
    taps = [[a * dh, b * dw] for a in range(kh) for b in range(kw)]
    shape = (dh * (kh - 1) + 1, dw * (kw - 1) + 1, c, f)
    return tf.scatter_nd(taps, tf.reshape(w, (kh * kw, c, f)), shape)


def tape_gradients(x, w, g, stride, padding, dilation):
    """TensorFlow's dL/dx and dL/dw for L = sum(conv2d(x, w, dilation) * g), on every CPU (see above)."""
    x_t, w_t = tf.constant(x), tf.constant(w)
    with tf.GradientTape() as tape:
        tape.watch([x_t, w_t])
        y = tf.nn.conv2d(x_t, dilate_kernel(w_t, dilation), stride, padding.upper())  # dilation 1 from here on
        loss = tf.reduce_sum(y * g)
    dx, dw = tape.gradient(loss, [x_t, w_t])
    return dx.numpy(), dw.numpy()


# %%
x_d, w_d = random_case(2, 9, 9, 3, 3, 4, seed=21)
for stride, dilation, padding in [(1, 2, "same"), (2, 2, "valid"), (1, (2, 3), "same")]:
    direct = tf.nn.conv2d(x_d, w_d, stride, padding.upper(), dilations=dilation).numpy()
    rewritten = tf.nn.conv2d(x_d, dilate_kernel(w_d, dilation), stride, padding.upper()).numpy()
    assert direct.shape == rewritten.shape and np.allclose(direct, rewritten, atol=1e-5)
print("dilate_kernel(w, 2) has shape", tuple(dilate_kernel(w_d, 2).shape), "and gives the same convolution")  # NBVAL_CHECK_OUTPUT

# %% [markdown]
# Where this CPU's TensorFlow does have the direct kernel, the two ways of asking for the gradient agree (the
# message below depends on your machine; the lesson never needs the direct kernel):

# %%
x_t, w_t = tf.constant(x_d), tf.constant(w_d)
g_d = np.random.default_rng(22).standard_normal((2, 9, 9, 4)).astype(np.float32)  # the shape of the output
with tf.GradientTape() as tape:
    tape.watch([x_t, w_t])
    loss = tf.reduce_sum(tf.nn.conv2d(x_t, w_t, 1, "SAME", dilations=2) * g_d)
try:
    direct_grads = [t.numpy() for t in tape.gradient(loss, [x_t, w_t])]
    portable = tape_gradients(x_d, w_d, g_d, 1, "same", 2)
    gap = max(float(np.max(np.abs(a - b))) for a, b in zip(direct_grads, portable))
    print(f"this CPU's TensorFlow has the dilated-gradient kernel; it agrees with the portable path to {gap:.1e}")
    assert gap <= 1e-4
except tf.errors.InvalidArgumentError as err:
    print("this CPU's TensorFlow lacks the dilated-gradient kernel:", err.message.split("}")[-1].split(" [Op")[0].strip())

# %% [markdown]
# Now the hand-written gradients against the portable reference, over the same grid of cases as before, and max
# pooling's against the tape. One entry of the kernel gradient sums a product over every image and output pixel
# (here up to 2·8·8 = 128 of them, each of order 1), so its float32 round-off grows with its size; the convolution
# gradients are therefore compared relative to their largest entry. (TensorFlow's kernels with and without
# oneDNN sum in different orders, so an absolute tolerance that fits one CPU path can fail on the other.)

# %%
worst_grad = {"input": 0.0, "kernel": 0.0, "max pool": 0.0}
for size in (7, 8):
    for padding in PADDINGS:
        for stride in (1, 2, 3):
            for dilation in (1, 2):
                x_g, w_g = random_case(2, size, size, 3, 3, 4, seed=10 + stride + 3 * dilation)
                out_shape = tf.nn.conv2d(x_g, w_g, stride, padding.upper(), dilations=dilation).shape
                g = rng.standard_normal(out_shape).astype(np.float32)
                dx_tf, dw_tf = tape_gradients(x_g, w_g, g, stride, padding, dilation)
                dx = conv2d_grad_input(g, x_g.shape, w_g, stride, padding, dilation)
                dw = conv2d_grad_kernel(x_g, g, 3, stride, padding, dilation)
                # Relative to the gradient's size: a kernel-gradient entry sums hundreds of float32 products.
                worst_grad["input"] = max(worst_grad["input"], float(np.max(np.abs(dx - dx_tf)) / np.max(np.abs(dx_tf))))
                worst_grad["kernel"] = max(worst_grad["kernel"], float(np.max(np.abs(dw - dw_tf)) / np.max(np.abs(dw_tf))))
        for pool_size, strides in ((2, None), (3, 2), (3, 1)):
            x_p = tf.constant(rng.standard_normal((2, size, size, 3)).astype(np.float32))
            with tf.GradientTape() as tape:
                tape.watch(x_p)
                y_p = layers.MaxPooling2D(pool_size, strides, padding)(x_p)
                g = tf.constant(rng.standard_normal(y_p.shape).astype(np.float32))
                loss = tf.reduce_sum(y_p * g)
            got = max_pool_grad(x_p.numpy(), g.numpy(), pool_size, strides, padding)
            worst_grad["max pool"] = max(worst_grad["max pool"], float(np.max(np.abs(got - tape.gradient(loss, x_p)))))
print("largest error against tf.GradientTape (relative to the gradient's largest entry; max pool: absolute):",
      {k: f"{v:.1e}" for k, v in worst_grad.items()})
assert max(worst_grad.values()) <= 1e-5

# %%
# The bias gradient: the sum of g over images, rows and columns.
x_b, w_b = random_case(2, 8, 8, 3, 3, 4, seed=5)
bias = tf.Variable(np.zeros(4, np.float32))
g = rng.standard_normal((2, 8, 8, 4)).astype(np.float32)
with tf.GradientTape() as tape:
    loss = tf.reduce_sum((tf.nn.conv2d(x_b, w_b, 1, "SAME") + bias) * g)
assert np.allclose(tape.gradient(loss, bias).numpy(), g.sum(axis=(0, 1, 2)), atol=1e-5)

# %% [markdown]
# ## 8. Upsample with the transposed convolution
#
# A GAN's generator has to go the other way: from a small feature map to a large image. The usual layer is the
# **transposed convolution** (`Conv2DTranspose`, sometimes wrongly called "deconvolution"). It is exactly the
# input-gradient of section 7 used as a forward pass: each input pixel is multiplied by the whole kernel and
# *scattered* into the output, windows $s$ pixels apart, and overlapping contributions add up. So the transposed
# convolution with kernel $w$ maps the output shape of `conv2d(·, w)` back to its input shape, and
# `conv2d_transpose` is literally `conv2d_grad_input`. (Its kernel has shape $(K_h, K_w, F_\text{out}, C_\text{in})$:
# the conv kernel's last two axes in the forward roles reversed, the layout Keras uses.)
#
# Along one axis, an input of length $n$ becomes
#
# $$n_\text{out} = (n - 1)\, s + k - p_0 - p_1 + p_\text{out}$$
#
# where $p_0, p_1$ are the padding the matching convolution would cut away and $p_\text{out}$ the "output padding"
# that picks one of the $s$ input sizes a strided convolution maps to the same output size. Keras' defaults give
# $n_\text{out} = n s + \max(k - s, 0)$ for `"valid"` and $n_\text{out} = n s$ for `"same"`.

# %% tags=["export"]
def conv_transpose_output_size(n, k, stride=1, padding="valid"):
    """Length of a transposed convolution's output along one axis, with Keras' default output padding."""
    _check_padding(padding)
    return n * stride if padding == "same" else n * stride + max(k - stride, 0)


def conv2d_transpose(x, w, stride=1, padding="valid"):
    """Transposed convolution of x (N, H, W, C_in) with w (Kh, Kw, F_out, C_in), as in keras Conv2DTranspose."""
    sh, sw = _pair(stride, "stride")
    kh, kw, f_out, c_in = w.shape
    if x.ndim != 4 or x.shape[3] != c_in:
        raise ValueError(f"expected x of shape (N, H, W, {c_in}) for a kernel of shape {w.shape}, got {x.shape}")
    out_shape = (x.shape[0], conv_transpose_output_size(x.shape[1], kh, sh, padding),
                 conv_transpose_output_size(x.shape[2], kw, sw, padding), f_out)
    return conv2d_grad_input(x, out_shape, w, (sh, sw), padding)


# %%
# The general formula: a stride-s "valid" convolution maps all of (n-1)s + k, ..., (n-1)s + k + s - 1 to n, and
# the output padding p_out = 0, ..., s - 1 picks one. tf.nn.conv2d_transpose takes the output shape explicitly.
n_in, k_t, s_t = 4, 3, 3
x_t = rng.standard_normal((1, n_in, n_in, 2)).astype(np.float32)
w_t = rng.standard_normal((k_t, k_t, 1, 2)).astype(np.float32)      # (Kh, Kw, F_out, C_in)
for p_out in range(s_t):
    n_out = (n_in - 1) * s_t + k_t + p_out
    assert conv_output_size(n_out, k_t, s_t, "valid") == n_in
    expected = tf.nn.conv2d_transpose(x_t, w_t, (1, n_out, n_out, 1), strides=s_t, padding="VALID").numpy()
    assert np.allclose(conv2d_grad_input(x_t, (1, n_out, n_out, 1), w_t, s_t, "valid"), expected, atol=1e-5)
print(f"n = {n_in}, k = {k_t}, s = {s_t}: output padding 0..{s_t - 1} gives outputs of "
      f"{[(n_in - 1) * s_t + k_t + p for p in range(s_t)]} pixels, all checked against tf.nn.conv2d_transpose")

# %%
worst_t = {"vs Conv2DTranspose": 0.0, "vs gradient of conv2d": 0.0}
for size in (4, 5):
    for k in (2, 3, 4):
        for stride in (1, 2, 3):
            for padding in PADDINGS:
                x_t = rng.standard_normal((2, size, size + 1, 3)).astype(np.float32)
                layer = layers.Conv2DTranspose(5, k, strides=stride, padding=padding)
                expected = layer(x_t).numpy()
                got = conv2d_transpose(x_t, layer.kernel.numpy(), stride, padding)
                assert got.shape == expected.shape, (k, stride, padding, got.shape, expected.shape)
                assert got.shape[1] == conv_transpose_output_size(size, k, stride, padding)
                worst_t["vs Conv2DTranspose"] = max(worst_t["vs Conv2DTranspose"], float(np.max(np.abs(got - expected))))
                # The same numbers are the gradient of a convolution with respect to its input.
                z = tf.constant(np.zeros(expected.shape, np.float32))
                with tf.GradientTape() as tape:
                    tape.watch(z)
                    loss = tf.reduce_sum(tf.nn.conv2d(z, layer.kernel, stride, padding.upper()) * x_t)
                grad = tape.gradient(loss, z).numpy()
                worst_t["vs gradient of conv2d"] = max(worst_t["vs gradient of conv2d"], float(np.max(np.abs(got - grad))))
print("transposed convolution, largest absolute error:", {k: f"{v:.1e}" for k, v in worst_t.items()})
assert max(worst_t.values()) <= 1e-5

# %% [markdown]
# ### Checkerboard artifacts
#
# When the kernel size is not a multiple of the stride, the scattered windows overlap unevenly: with $k = 3$ and
# $s = 2$, every other output row and column receives two contributions per axis and the ones between receive
# one. Even a constant input then comes out striped, and a stack of such layers paints a checkerboard over
# generated images (Odena, Dumoulin and Olah, "Deconvolution and checkerboard artifacts", *Distill* 2016
# [@odena2016deconvolution]). Their
# remedy: **resize first** (nearest-neighbour or bilinear `UpSampling2D`), **then convolve** with stride 1, so
# every output pixel sees the same number of inputs. (With $k$ a multiple of $s$ the overlap is even, but a learned
# kernel can still produce the pattern; resize-then-convolve has no uneven overlap to begin with.)

# %%
constant = np.ones((1, 8, 8, 1), np.float32)
overlap = conv2d_transpose(constant, np.ones((3, 3, 1, 1), np.float32), stride=2, padding="same")
print("ones kernel, k=3, s=2, rows 0-5 / columns 0-5 of the output:\n", overlap[0, :6, :6, 0])
assert set(np.unique(overlap[0, 1:-1, 1:-1, 0])) == {1.0, 2.0, 4.0}

# A randomly initialised layer of each kind, both upsampling a constant 16x16 map to 32x32.
keras.utils.set_random_seed(3)
flat_map = np.ones((1, 16, 16, 4), np.float32)
transposed = layers.Conv2DTranspose(1, 3, strides=2, padding="same", use_bias=False)(flat_map).numpy()[0, :, :, 0]
resized = keras.Sequential([layers.UpSampling2D(2), layers.Conv2D(1, 3, padding="same", use_bias=False)])
resize_conv = resized(flat_map).numpy()[0, :, :, 0]
interior = (slice(2, -2), slice(2, -2))   # ignore the border, where padding changes the sums
spread_t, spread_r = float(np.std(transposed[interior])), float(np.std(resize_conv[interior]))
print(f"std of the interior: transposed convolution {spread_t:.3f}, resize-then-convolve {spread_r:.1e}")
assert spread_t > 0.05 and spread_r < 1e-5

fig, axes = plt.subplots(1, 3, figsize=(9, 3))
for ax, img, title in zip(axes, (overlap[0, :, :, 0], transposed, resize_conv),
                          ("overlap count (ones kernel)", "Conv2DTranspose(k=3, s=2)", "UpSampling2D + Conv2D")):
    ax.imshow(img, cmap="gray")
    ax.set_title(title, fontsize=9)
    ax.axis("off")
fig.suptitle("Upsampling a constant input")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 9. Compute the receptive field
#
# The **receptive field** of an output pixel is the set of input pixels it depends on. Stacked layers widen it:
# a layer with kernel $k$, dilation $d$ and stride $s$, applied after layers whose outputs are $j$ input pixels
# apart (the "jump", the product of the strides so far), adds $(d(k-1)+1 - 1)\, j$ pixels:
#
# $$r_\ell = r_{\ell-1} + d_\ell (k_\ell - 1)\, j_{\ell-1}, \qquad j_\ell = j_{\ell-1}\, s_\ell, \qquad r_0 = j_0 = 1 .$$
#
# Pooling layers count as layers with $k = P$. `course_utils.receptive_field` implements this recurrence (it is
# used again for the discriminators of the GAN lessons). Two classic values from the literature: VGG-16's last
# pooling layer sees $212 \times 212$ pixels and AlexNet's $195 \times 195$ (Araujo, Norris and Sim, "Computing
# receptive fields of convolutional neural networks", *Distill* 2019).

# %%
# NBVAL_CHECK_OUTPUT
vgg_fields = receptive_fields(VGG16_LAYERS)
for spec, field in list(zip(VGG16_LAYERS, vgg_fields))[-5:]:
    print(f"{spec.name:8s} kernel {spec.kernel} stride {spec.stride}: receptive field {field.size:3d}, jump {field.jump}")
assert vgg_fields[-1].size == 212 and vgg_fields[-2].size == 196

# %% [markdown]
# Check the recurrence empirically: build a small stack of Keras layers with all-ones kernels (so no
# contribution cancels), take the gradient of the centre output pixel with respect to the input, and measure
# the extent of its non-zero region. Average pooling is used because max pooling would route the gradient to a
# single pixel per window.

# %%
probe = keras.Sequential([
    keras.Input((48, 48, 1)),
    layers.Conv2D(1, 3, kernel_initializer="ones", use_bias=False),
    layers.Conv2D(1, 3, strides=2, kernel_initializer="ones", use_bias=False),
    layers.AveragePooling2D(2),
    layers.Conv2D(1, 3, dilation_rate=2, kernel_initializer="ones", use_bias=False),
])
x_probe = tf.constant(rng.uniform(size=(1, 48, 48, 1)).astype(np.float32))
with tf.GradientTape() as tape:
    tape.watch(x_probe)
    y_probe = probe(x_probe)
    centre = y_probe[0, y_probe.shape[1] // 2, y_probe.shape[2] // 2, 0]
sensitivity = tape.gradient(centre, x_probe).numpy()[0, :, :, 0]
rows, cols = np.nonzero(sensitivity)
measured = (rows.max() - rows.min() + 1, cols.max() - cols.min() + 1)
predicted = receptive_field(from_keras(probe))
print(f"measured {measured[0]}x{measured[1]} pixels, predicted {predicted.size} (jump {predicted.jump})")
assert measured == (predicted.size, predicted.size) == (23, 23)

# %% [markdown]
# ## 10. Explore kernels on a photograph
#
# The photograph of Grace Hopper ships with matplotlib (no download). The explorer applies a $3 \times 3$ kernel with
# the `conv2d_vectorized` of section 4 and, optionally, pooling from section 6, and shows the result and its shape.
# Choose a preset (blur, sharpen, Sobel, edge) or type your own numbers into the kernel. The computation is an
# ordinary function, `explore_kernel`, so it is tested without a browser; the widget only calls it.

# %% tags=["export"]
PRESET_KERNELS = {
    "identity": [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
    "box blur": [[1 / 9] * 3] * 3,
    "sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
    "Sobel x": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
    "Sobel y": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
    "edge (Laplacian)": [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]],
}
POOLINGS = ("none", "max", "avg")


def load_photo(scale=2):
    """Grace Hopper's photograph from matplotlib's sample data, grey, in [0, 1], downsampled by `scale`."""
    import matplotlib.cbook
    import matplotlib.image

    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as fh:
        rgb = matplotlib.image.imread(fh, format="jpg").astype(np.float32) / 255.0
    return (rgb[::scale, ::scale, :3] @ np.array([0.299, 0.587, 0.114], np.float32)).astype(np.float32)


# %% tags=["export"]
from course_utils import kernel_explorer


def explore_kernel(image, kernel, stride=1, padding="same", pooling="none", pool_size=2):
    """Apply a 2-D kernel to a grey image, then optionally pool; return the 2-D result."""
    kernel = np.asarray(kernel, dtype=np.float32)
    if np.ndim(image) != 2 or kernel.ndim != 2:
        raise ValueError(f"expected a 2-D image and a 2-D kernel, got shapes {np.shape(image)} and {kernel.shape}")
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    y = conv2d_vectorized(np.asarray(image, np.float32)[None, :, :, None], kernel[:, :, None, None],
                          stride=stride, padding=padding)
    if pooling != "none":
        y = pool2d(y, pool_size, padding="valid", mode=pooling)
    return y[0, :, :, 0]


def make_kernel_explorer(image):
    """The explorer widget: `course_utils.kernel_explorer` wires `explore_kernel` to the controls."""
    return kernel_explorer.build_kernel_explorer(image, explore_kernel, PRESET_KERNELS, paddings=PADDINGS,
                                                 poolings=POOLINGS, default="Sobel x")


# %%
photo = load_photo(scale=3)
print("photo:", photo.shape, photo.dtype)
for name in ("Sobel x", "box blur"):
    for stride_, pooling_ in ((1, "none"), (2, "max")):
        result = explore_kernel(photo, PRESET_KERNELS[name], stride_, "same", pooling_)
        expected_shape = tuple(conv_output_size(n, 3, stride_, "same") // (2 if pooling_ != "none" else 1)
                               for n in photo.shape)
        print(f"{name:9s} stride {stride_} pooling {pooling_:4s}: output {result.shape}")
        assert result.shape == expected_shape

# %% [markdown]
# The four results side by side, a static picture that stays in the saved notebook; the interactive explorer
# follows (it needs a running kernel).

# %%
panels = [explore_kernel(photo, PRESET_KERNELS[name]) for name in ("box blur", "sharpen", "Sobel x", "edge (Laplacian)")]
fig = viz.show_images(np.stack([(p - p.min()) / (p.max() - p.min()) for p in panels]), ncols=4, size=2.2,
                      labels=["box blur", "sharpen", "Sobel x", "edge (Laplacian)"], value_range=(0, 1))
plt.show()

# %%
explorer, explorer_controls = make_kernel_explorer(photo)
explorer

# %% [markdown]
# ## Summary
#
# - A convolution layer computes, for every output pixel and filter, the **sum** of the element-wise products
#   of the filter with a window spanning **all input channels**, plus a bias. Frameworks do not flip the filter:
#   it is a cross-correlation.
# - It is a dense layer constrained by **locality** (9 non-zero weights per output for a 3×3 kernel) and **weight
#   sharing** (the same 9 everywhere), which makes it **translation equivariant** and, for a 28×28 image, tens of
#   thousands of times smaller than the dense layer with the same output (section 1 computed both).
# - A 1×1 convolution is a dense layer applied to every pixel's channels.
# - Output size: $\lfloor (n + p_0 + p_1 - d(k-1) - 1)/s \rfloor + 1$; `"same"` gives $\lceil n/s \rceil$ and
#   TensorFlow puts an odd padding pixel at the bottom/right.
# - im2col (`sliding_window_view` + one matrix product) matched TensorFlow to $10^{-5}$ and ran within a small factor of
#   it, and far faster than Python loops (at least 50 times, asserted in the full profile; section 5 has the
#   figures measured on this machine).
# - Pooling has no parameters; `"same"` average pooling divides by the number of real pixels.
# - Backpropagation: the kernel gradient correlates inputs with the output gradient; the input gradient scatters
#   the output gradient back through the kernel; max pooling routes it to the argmax.
# - A transposed convolution *is* the input gradient of a convolution. With $k$ not a multiple of $s$ it makes
#   checkerboard artifacts; resize-then-convolve avoids them.
# - The receptive field grows by $d(k-1)$ times the product of the earlier strides at each layer
#   (`course_utils.receptive_field`).
#
# ## Exercises
#
# Sections 7 and 8 worked out the backward passes and the transposed convolution for whole batches, vectorized.
# Here you write them yourself for one image, with loops and NumPy only (calling the lesson's `conv2d_grad_input`,
# `max_pool_grad`, `conv2d_transpose` or TensorFlow is refused). Each check compares your answer with
# `tf.GradientTape` or `tf.nn.conv2d_transpose` and names the usual mistakes.
#
# **Exercise 1.** Write `conv_backward(x, w, b, g, stride)` for $y = \mathrm{conv2d}(x, w) + b$ ("valid", one image):
# `x` is $(H, W, C)$, `w` is $(K_h, K_w, C, F)$, `b` is $(F,)$ and `g` $= \partial L/\partial y$ is
# $(H_\text{out}, W_\text{out}, F)$. Return `(dx, dw, db)`, of the shapes of `x`, `w` and `b`. Hint: loop over the
# output positions $(i, j)$; the window of $(i, j)$ starts at $(i s, j s)$; it received `w` and gave its pixels to
# `dw`, and it gets `g[i, j]` back through `w`.

# %%
from course_utils.exercises import convolution as ex


def conv_backward(x, w, b, g, stride):
    ### BEGIN SOLUTION
    kh, kw = w.shape[:2]
    dx, dw = np.zeros_like(x), np.zeros_like(w)
    for i in range(g.shape[0]):
        for j in range(g.shape[1]):
            rows, cols = slice(i * stride, i * stride + kh), slice(j * stride, j * stride + kw)
            dw += x[rows, cols, :, None] * g[i, j]            # (Kh, Kw, C, 1) * (F,)
            dx[rows, cols] += w @ g[i, j]                     # (Kh, Kw, C, F) @ (F,)
    db = g.sum(axis=(0, 1))
    return dx, dw, db
    ### END SOLUTION


# %%
_ = ex.check_conv_backward(conv_backward)  # prints the verdict
### BEGIN HIDDEN TESTS
_ = ex.check_conv_backward(conv_backward, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# **Exercise 2.** Write `max_pool_backward(x, g, size, stride)`: the gradient of "valid" max pooling of a 2-D image
# `x` given `g` $= \partial L / \partial y$. Each window's gradient goes to its maximum; when pixels **tie** for the
# maximum, only the first of them in row-major order was the output (what TensorFlow and `np.argmax` pick). Windows
# may overlap (`stride < size`).

# %%
def max_pool_backward(x, g, size, stride):
    ### BEGIN SOLUTION
    dx = np.zeros_like(x)
    for i in range(g.shape[0]):
        for j in range(g.shape[1]):
            window = x[i * stride:i * stride + size, j * stride:j * stride + size]
            a, c = np.unravel_index(np.argmax(window), window.shape)   # the first maximum
            dx[i * stride + a, j * stride + c] += g[i, j]             # += : windows may overlap
    return dx
    ### END SOLUTION


# %%
_ = ex.check_max_pool_backward(max_pool_backward)  # prints the verdict
### BEGIN HIDDEN TESTS
_ = ex.check_max_pool_backward(max_pool_backward, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# **Exercise 3.** Write `conv_transpose(x, k, stride)`: the "valid" transposed convolution of a 2-D map `x` with a
# 2-D kernel `k`, as a **scatter**: every input pixel adds `x[i, j] * k` onto the output window that starts at
# $(i s, j s)$. Work out the output size first (it is not $n s$).

# %%
def conv_transpose(x, k, stride):
    ### BEGIN SOLUTION
    kh, kw = k.shape
    out = np.zeros(((x.shape[0] - 1) * stride + kh, (x.shape[1] - 1) * stride + kw))
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            out[i * stride:i * stride + kh, j * stride:j * stride + kw] += x[i, j] * k
    return out
    ### END SOLUTION


# %%
_ = ex.check_conv_transpose(conv_transpose)  # prints the verdict
### BEGIN HIDDEN TESTS
_ = ex.check_conv_transpose(conv_transpose, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# ## Next
#
# [03_cnn_classifier](03_cnn_classifier.ipynb) makes the article's CNN (section 4.2) work: it stacks these layers
# into a classifier, trains it on real images, and turns it into the course's image evaluator.
