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
# # Image restoration with CNNs, and where GANs join in
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/image-synthesis-course/gans-and-cnns/blob/main/notebooks/06_image_restoration.ipynb)
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/image-synthesis-course/gans-and-cnns/main?labpath=notebooks%2F06_image_restoration.ipynb)
#
# ## Overview
#
# The source article splits image synthesis into two halves: *generating* images (GANs) and *restoring* them
# (CNNs), and says the two combine: "restore with a CNN, then generate with a GAN". This lesson teaches the
# restoration half properly and measures the link. We damage real images (handwritten digits and patches of
# photographs bundled with scikit-image) in five ways, repair them with the field's classical methods, then with a
# small U-Net trained in a few CPU minutes, and then with the same U-Net trained against a PatchGAN discriminator
# (the pix2pix recipe [@isola2017image], the idea of SRGAN [@ledig2017photo]). Finally an *untrained* network
# restores one photo patch on its own (Deep Image Prior [@ulyanov2018deep]).
#
# **Learning objectives.** After this lesson you can
# - degrade images in controlled ways (Gaussian and impulse noise, blur, missing regions, downsampling) and say
#   what each does to the signal;
# - run the classical baselines from scikit-image (total-variation, bilateral and wavelet denoising, biharmonic
#   inpainting, bicubic upsampling) and tune them fairly on training images;
# - compute PSNR and SSIM, and make two libraries (scikit-image and TensorFlow) agree on them;
# - build a U-Net (encoder, decoder, skip connections), predict its shapes, and train it to a time budget with
#   checkpoints that resume;
# - add a PatchGAN adversarial loss to an L1 loss, measure realism (FID) beside distortion (PSNR, SSIM), and
#   explain the perception–distortion trade-off;
# - use an untrained CNN as a prior (Deep Image Prior) and stop it, with a rule that needs no clean image, before
#   it fits the noise.
#
# **Prerequisites.** Lesson 02 (convolution, pooling, transposed convolution and output sizes), lesson 03 (the
# evaluator: `fid` and `class_coverage`), lesson 04 (a GAN training step from logits, training to a clock,
# checkpoints).
#
# **Where this stands in the source article.** Section 2 "核心概念与联系" (core concepts and their connection):
# its point 3 says GANs and CNNs combine, "例如通过CNNs进行图像修复，然后使用GANs进行图像生成" (for example,
# restore images with CNNs, then generate images with GANs). A terminology note: 图像修复 usually means
# *inpainting* (filling missing regions); restoration in general is 图像复原 or 图像恢复. We teach both. Section 5
# "未来发展趋势与挑战" (future trends and challenges) lists image enhancement and better image quality as
# directions, and too little data as a challenge: Deep Image Prior restores an image with no training data at
# all. The article's reference list names the classic works of this link, with errors: it calls Deep Image Prior
# "for Image-to-Image Translation" with the wrong co-authors (it is Ulyanov, Vedaldi and Lempitsky, CVPR 2018, and
# it is about restoration without training data), and it gives pix2pix and SRGAN wrong titles or authors.

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
import shutil
import time
from pathlib import Path

import ipywidgets as widgets
import keras
import matplotlib.pyplot as plt
import numpy as np
import skimage
from IPython.display import display
from skimage import metrics as skmetrics
from skimage import restoration, transform

from course_utils import claims, data, degrade, device, evaluator, pretrained, profiles, viz
from course_utils.exercises import restoration as ex

config = device.setup(seed=6)  # float32 everywhere: the metrics below are compared to 1e-4
print(f"profile: {profiles.get_profile()}, device: {config.device_name}, Keras {keras.__version__}, "
      f"scikit-image {skimage.__version__}")
OUTPUTS = Path("outputs") / "06_image_restoration"  # generated files (ignored by git)
OUTPUTS.mkdir(parents=True, exist_ok=True)

# %% [markdown]
# ## 1. Real images, damaged in five ways
#
# Two kinds of real images, both offline: the course's MNIST digits (`data.load_mnist()`; we restore the 1,000
# held-out digits, never trained on) and patches of the photographs that ship inside scikit-image's wheel
# (`skimage.data`). Twelve photos are for training; three others, `camera`, `gravel` and `clock`, are kept for
# testing only. Everything is grey and in [0, 1].

# %% tags=["export"]
import dataclasses
import time  # noqa: F811 (export cells run on their own in the tests)
from pathlib import Path

import keras
import numpy as np  # noqa: F811
import tensorflow as tf  # noqa: F811
from keras import layers

from course_utils import degrade  # noqa: F811

TRAIN_PHOTOS = ("astronaut", "coffee", "chelsea", "brick", "grass", "rocket", "coins", "moon", "page",
                "immunohistochemistry", "hubble_deep_field", "text")
TEST_PHOTOS = ("camera", "gravel", "clock")  # never seen in training


def load_photo(name):
    """One of scikit-image's bundled photographs as a grey float32 image in [0, 1]."""
    import skimage.data
    from skimage.color import rgb2gray

    image = getattr(skimage.data, name)()
    image = rgb2gray(image[..., :3]) if image.ndim == 3 else image / 255.0
    return image.astype(np.float32)


def random_patches(names, n, size, seed):
    """n random size x size crops (n, size, size, 1) of the named photos, half of them mirrored."""
    rng = np.random.default_rng(seed)
    photos = [load_photo(name) for name in names]
    out = np.empty((n, size, size, 1), np.float32)
    for i in range(n):
        photo = photos[rng.integers(len(photos))]
        top, left = rng.integers(0, photo.shape[0] - size + 1), rng.integers(0, photo.shape[1] - size + 1)
        patch = photo[top:top + size, left:left + size]
        out[i, ..., 0] = patch[:, ::-1] if rng.random() < 0.5 else patch
    return out


# %%
mnist = data.load_mnist()
digits = (mnist.x_test[:: profiles.pick(full=1, smoke=4)][..., None] / 255.0).astype(np.float32)  # every class
photos = random_patches(TEST_PHOTOS, profiles.pick(full=48, smoke=12), 48, seed=2026)  # held-out photo patches
print(f"held-out digits {digits.shape}, held-out photo patches {photos.shape}, values in "
      f"[{photos.min():.2f}, {photos.max():.2f}]")

# %% [markdown]
# (The held-out digits are sorted by class; the quick profile takes every fourth.) The five degradations live in `course_utils.degrade` (tested in `tests/test_degrade.py`; each checks its
# arguments). Gaussian noise $y = x + \sigma n$, $n \sim \mathcal N(0, 1)$, clipped to [0, 1] like a sensor;
# salt-and-pepper replaces a fraction of the pixels by pure black or white; blur convolves with a Gaussian of
# $\sigma$ pixels; a mask marks missing pixels (`True` = lost, scikit-image's convention); downsampling averages
# $f \times f$ blocks. Check the noise formula on a flat grey image, where clipping never bites:

# %%
flat = np.full((200, 200), 0.5, np.float32)
noise = degrade.gaussian_noise(flat, 0.05, seed=1) - flat
assert np.allclose([noise.mean(), noise.std()], [0.0, 0.05], atol=2e-3)
small = degrade.downsample(photos[:1], 4)
assert np.allclose(small[0, 0, 0, 0], photos[0, :4, :4, 0].mean(), atol=1e-6)
print(f"noise mean {noise.mean():+.4f}, std {noise.std():.4f}; downsampled {photos[:1].shape} -> {small.shape}")

# %%
patch = photos[:1]
mask = degrade.make_mask((48, 48), "box", 0.4, seed=3)
examples = [patch, degrade.gaussian_noise(patch, 0.1, seed=0), degrade.salt_and_pepper(patch, 0.1, seed=0),
            degrade.gaussian_blur(patch, 1.5), degrade.apply_mask(patch, mask),
            np.repeat(np.repeat(degrade.downsample(patch, 4), 4, axis=1), 4, axis=2)]
viz.show_images(np.concatenate(examples), ncols=6, value_range=(0, 1), size=1.6,
                labels=["clean", "noise σ=0.1", "salt & pepper 10%", "blur σ=1.5", "box mask", "4× down"])
plt.show()

# %% [markdown]
# ## 2. Classical baselines, tuned fairly
#
# What a CNN must beat is the field's own toolbox, here scikit-image's implementations (not hand-written ones):
# - **total variation** denoising [@rudin1992nonlinear] (`denoise_tv_chambolle`): the image closest to the noisy
#   one whose gradients are small in total, so flat regions and sharp edges survive;
# - **bilateral** filtering [@tomasi1998bilateral] (`denoise_bilateral`): average neighbours that are near in
#   position *and* in value;
# - **wavelet** shrinkage [@chang2000adaptive] (`denoise_wavelet`, BayesShrink): shrink the small wavelet
#   coefficients, where the noise lives;
# - **biharmonic** inpainting [@damelin2018surface] (`inpaint_biharmonic`): fill holes with the smoothest surface
#   that meets the known pixels;
# - **bicubic** upsampling (`skimage.transform.resize(order=3)` and `tf.image.resize(method="bicubic")`).
#
# Each denoiser has a strength parameter. Choosing it on the test images would flatter the baseline, so we choose
# it on *training* photos at the test noise level and keep it.

# %%
SIGMA = 0.1  # the table's noise level (about 25 grey levels of 255)
tune_clean = random_patches(TRAIN_PHOTOS, profiles.pick(full=24, smoke=6), 48, seed=1)
tune_noisy = degrade.gaussian_noise(tune_clean, SIGMA, seed=1)


def psnr_mean(clean, restored):
    """Mean PSNR over a batch, scikit-image's peak_signal_noise_ratio per image (data_range 1)."""
    return float(np.mean([skmetrics.peak_signal_noise_ratio(c[..., 0], r[..., 0], data_range=1.0)
                          for c, r in zip(clean, restored)]))


def per_image(fn, images, **kwargs):
    """Apply a scikit-image filter of one grey image to every image of a batch (n, h, w, 1)."""
    return np.stack([fn(x[..., 0], **kwargs) for x in images])[..., None].astype(np.float32)


GRIDS = {"total variation": (restoration.denoise_tv_chambolle, [{"weight": w} for w in (0.04, 0.06, 0.08, 0.1, 0.13)]),
         "bilateral": (restoration.denoise_bilateral, [{"sigma_color": c, "sigma_spatial": s}
                                                      for c in (0.1, 0.2, 0.3) for s in (1, 2, 3)]),
         "wavelet": (restoration.denoise_wavelet, [{"sigma": SIGMA * k, "method": "BayesShrink", "rescale_sigma": True}
                                                  for k in (0.75, 1.0, 1.5)])}
TUNED = {}
for name, (fn, grid) in GRIDS.items():
    scores = [psnr_mean(tune_clean, per_image(fn, tune_noisy, **kw)) for kw in grid]
    TUNED[name] = (fn, grid[int(np.argmax(scores))])
    print(f"{name:16s} best on training photos: {grid[int(np.argmax(scores))]} ({max(scores):.2f} dB)")

# %% [markdown]
# ## 3. Metrics: PSNR and SSIM, two libraries that agree
#
# **PSNR** (peak signal-to-noise ratio) is the mean squared error on a log scale, for pixels in $[0, L]$:
# $$\mathrm{PSNR}(x, \hat x) = 10 \log_{10} \frac{L^2}{\frac1N \sum_i (x_i - \hat x_i)^2}\ \text{dB}.$$
# Each halving of the error's standard deviation adds 6 dB. **SSIM** [@wang2004image] compares local means
# $\mu$, variances $\sigma^2$ and the covariance $\sigma_{x\hat x}$ in a Gaussian window (σ = 1.5, 11×11) and
# averages over the image:
# $$\mathrm{SSIM} = \frac{(2\mu_x\mu_{\hat x} + C_1)(2\sigma_{x\hat x} + C_2)}{(\mu_x^2 + \mu_{\hat x}^2 + C_1)(\sigma_x^2 + \sigma_{\hat x}^2 + C_2)},
# \quad C_1 = (0.01 L)^2,\ C_2 = (0.03 L)^2.$$
# scikit-image's defaults differ from Wang et al.'s: a 7×7 *uniform* window and sample covariances. With
# `gaussian_weights=True, sigma=1.5, use_sample_covariance=False, win_size=11` it computes the paper's SSIM, and
# so does `tf.image.ssim` (which averages over the "valid" region only; scikit-image crops the same 5-pixel border
# before it averages). The cell checks the PSNR formula by hand and the two libraries against each other.

# %%
from scipy import ndimage

x, y = photos[:4], degrade.gaussian_noise(photos[:4], 0.1, seed=5)
by_hand = 10 * np.log10(1.0 / np.mean((x[0] - y[0]) ** 2))
sk_psnr = [skmetrics.peak_signal_noise_ratio(a[..., 0], b[..., 0], data_range=1.0) for a, b in zip(x, y)]
tf_psnr = tf.image.psnr(x, y, max_val=1.0).numpy()
SSIM_SETTINGS = {"data_range": 1.0, "gaussian_weights": True, "sigma": 1.5, "use_sample_covariance": False,
                 "win_size": 11}
sk_ssim = [skmetrics.structural_similarity(a[..., 0], b[..., 0], **SSIM_SETTINGS) for a, b in zip(x, y)]
tf_ssim = tf.image.ssim(x, y, max_val=1.0, filter_size=11, filter_sigma=1.5, k1=0.01, k2=0.03).numpy()
sk_default = skmetrics.structural_similarity(x[0, ..., 0], y[0, ..., 0], data_range=1.0)
g = lambda im: ndimage.gaussian_filter(im.astype(np.float64), 1.5, truncate=3.5)  # the 11x11 Gaussian window
a, b = x[0, ..., 0], y[0, ..., 0]
mu_a, mu_b = g(a), g(b)
var_a, var_b, cov = g(a * a) - mu_a ** 2, g(b * b) - mu_b ** 2, g(a * b) - mu_a * mu_b
ssim_map = ((2 * mu_a * mu_b + 0.01 ** 2) * (2 * cov + 0.03 ** 2)) / ((mu_a ** 2 + mu_b ** 2 + 0.01 ** 2) * (var_a + var_b + 0.03 ** 2))
assert np.isclose(ssim_map[5:-5, 5:-5].mean(), sk_ssim[0], atol=1e-4)  # the formula, averaged inside the 5-pixel border
assert np.isclose(by_hand, sk_psnr[0], atol=1e-4)
assert np.allclose(sk_psnr, tf_psnr, atol=1e-3), (sk_psnr, tf_psnr)
assert np.allclose(sk_ssim, tf_ssim, atol=1e-3), (sk_ssim, tf_ssim)
print("PSNR  scikit-image", np.round(sk_psnr, 3), " tf.image", np.round(tf_psnr, 3))
print("SSIM  scikit-image", np.round(sk_ssim, 4), " tf.image", np.round(tf_ssim, 4))
print(f"scikit-image's default SSIM (7x7 uniform window) on the first pair: {sk_default:.4f}: not the same number")


# %%
def ssim_mean(clean, restored):
    """Mean SSIM over a batch with Wang et al.'s settings (SSIM_SETTINGS, as tf.image.ssim)."""
    return float(np.mean([skmetrics.structural_similarity(c[..., 0], r[..., 0], **SSIM_SETTINGS)
                          for c, r in zip(clean, restored)]))


RESULTS = []  # one row per (task, method): PSNR and SSIM on held-out images


def score(task, method, clean, restored, source="scikit-image"):
    """Record and return one row of the results table."""
    row = {"task": task, "method": method, "source": source, "psnr": psnr_mean(clean, restored),
           "ssim": ssim_mean(clean, restored)}
    RESULTS.append(row)
    return row


# %% [markdown]
# ### The baselines on held-out images
#
# The network inputs for every task are made by one exported function, `degrade_task`, so the baselines, the
# training and the tests see the same damage: noise σ = 0.1 on photo patches; a square hole of half the digit's
# width (14×14 pixels) somewhere in the 20×20 box where MNIST centres its digits; 2× downsampled photo patches;
# 4× downsampled digits (7×7 pixels!). For super-resolution the network's input is the bicubic upsampling, which
# the network then corrects.

# %% tags=["export"]
def bicubic_up(small, factor):
    """Bicubic upsampling with tf.image.resize, clipped to [0, 1] (the input the super-resolution networks refine)."""
    n, h, w, c = small.shape
    up = tf.image.resize(small, (h * factor, w * factor), method="bicubic")
    return np.clip(up.numpy(), 0.0, 1.0).astype(np.float32)


def digit_box_masks(n, size, seed):
    """n square holes of side size * 20 pixels inside the central 20x20 of a 28x28 digit: (n, 28, 28) bool."""
    rng = np.random.default_rng(seed)
    masks = np.zeros((n, 28, 28), bool)
    masks[:, 4:24, 4:24] = [degrade.make_mask((20, 20), "box", size, seed=rng) for _ in range(n)]
    return masks


# %% tags=["export"]
def degrade_task(task, clean, seed, strength=None, kind="box"):
    """The network's input for `task` from clean images (n, h, w, 1): (n, h, w, 1), or (n, h, w, 2) with the mask.

    strength: the noise sigma ("denoise") or the hole size ("inpaint"); None draws the training mix (noise sigma
    0.03-0.2; holes of 0.3-0.8 of the digit box, 30 % of them scratches or missing pixels instead)."""
    rng = np.random.default_rng(seed)
    n = len(clean)
    if task == "denoise":
        if strength is not None:
            return degrade.gaussian_noise(clean, strength, seed=rng)
        sigma = rng.uniform(0.03, 0.2, (n, 1, 1, 1))  # a different noise level for every image
        return np.clip(clean + sigma * rng.standard_normal(clean.shape), 0, 1).astype(np.float32)
    if task == "inpaint":
        if strength is None:
            masks = np.stack([digit_box_masks(1, rng.uniform(0.3, 0.8), rng)[0] if rng.random() < 0.7 else
                              degrade.make_mask((28, 28), str(rng.choice(["lines", "pixels"])), rng.uniform(0.1, 0.4),
                                                seed=rng) for _ in range(n)])
        elif kind == "box":
            masks = digit_box_masks(n, strength, rng)
        else:
            masks = np.stack([degrade.make_mask((28, 28), kind, strength, seed=rng) for _ in range(n)])
        return np.concatenate([degrade.apply_mask(clean, masks), masks[..., None].astype(np.float32)], axis=-1)
    if task in ("sr2", "sr4"):
        factor = int(task[2])
        return bicubic_up(degrade.downsample(clean, factor), factor)
    raise ValueError(f"task must be one of {tuple(TASKS)}, got {task!r}")


TASKS = {  # the data each task restores, its input channels, and the damage of the results table
    "denoise": {"data": "photos", "channels": 1, "test": {"strength": 0.1}},
    "inpaint": {"data": "digits", "channels": 2, "test": {"strength": 0.7, "kind": "box"}},
    "sr2": {"data": "photos", "channels": 1, "test": {}},
    "sr4": {"data": "digits", "channels": 1, "test": {}},
}

# %%
test_inputs = {task: degrade_task(task, photos if spec["data"] == "photos" else digits, seed=7, **spec["test"])
               for task, spec in TASKS.items()}
test_clean = {task: photos if spec["data"] == "photos" else digits for task, spec in TASKS.items()}
score("denoise", "noisy input", photos, test_inputs["denoise"], source="-")
for name, (fn, kwargs) in TUNED.items():
    score("denoise", name, photos, per_image(fn, test_inputs["denoise"], **kwargs))
holed, masks = test_inputs["inpaint"][..., :1], test_inputs["inpaint"][..., 1] > 0.5
biharmonic = np.stack([restoration.inpaint_biharmonic(h[..., 0], m) for h, m in zip(holed, masks)])[..., None]
score("inpaint", "holes filled with 0", digits, holed, source="-")
score("inpaint", "biharmonic", digits, np.clip(biharmonic, 0, 1).astype(np.float32))
for task, factor in (("sr2", 2), ("sr4", 4)):
    small = degrade.downsample(test_clean[task], factor)
    up_sk = np.stack([transform.resize(s[..., 0], (s.shape[0] * factor, s.shape[1] * factor), order=3)
                      for s in small])[..., None]
    score(task, "bicubic", test_clean[task], np.clip(up_sk, 0, 1).astype(np.float32))
    score(task, "bicubic", test_clean[task], test_inputs[task], source="tf.image")
for row in RESULTS:
    print(f"{row['task']:8s} {row['method']:22s} ({row['source']:12s}) PSNR {row['psnr']:6.2f} dB  SSIM {row['ssim']:.3f}")

# %% [markdown]
# (The two bicubic resamplers differ a little: scikit-image's `resize` smooths before it upsamples
# (anti-aliasing) and treats the borders differently.)
#
# ## 4. A small U-Net
#
# A U-Net [@ronneberger2015unet] is an encoder–decoder: the encoder halves the image size twice (3×3
# convolutions, then 2×2 max-pooling), doubling the channels; the decoder doubles the size back with 2×2
# transposed convolutions. What makes it a U-Net are the **skip connections**: at each size the decoder
# concatenates the encoder's features of that size to its own, so fine detail lost by pooling comes straight back.
# The network predicts a *correction* added to its input (residual learning, as DnCNN [@zhang2017beyond] does for
# denoising, and VDSR (Kim, Lee and Lee, CVPR 2016) for super-resolution; SRCNN [@dong2014learning], which
# VDSR improved on, also starts from a bicubic upsampling but predicts the whole image, not a correction); for
# inpainting it receives the mask as a second channel and keeps the known pixels as they are.

# %% tags=["export"]
def conv_block(x, channels):
    """Two 3x3 convolutions with ReLU; the size is kept."""
    x = layers.Conv2D(channels, 3, padding="same", activation="relu")(x)
    return layers.Conv2D(channels, 3, padding="same", activation="relu")(x)


def build_unet(in_channels=1, width=32, depth=2, residual=True, name="unet", image_channels=1):
    """A U-Net for images whose sides are multiples of 2**depth; the first `image_channels` input channels are the
    image (1: grey, 3: colour, as lesson 09 uses it), and the output has that many channels.

    residual=True: the output is the input image plus the network's correction; with a mask as the one channel after
    the image (True = missing) the known pixels are kept and only the holes are filled."""
    inputs = keras.Input((None, None, in_channels))
    x, skips = inputs, []
    for level in range(depth):
        x = conv_block(x, width * 2 ** level)
        skips.append(x)
        x = layers.MaxPooling2D(2)(x)
    x = conv_block(x, width * 2 ** depth)
    for level in reversed(range(depth)):
        x = layers.Conv2DTranspose(width * 2 ** level, 2, strides=2)(x)
        x = layers.Concatenate()([x, skips[level]])  # the skip connection
        x = conv_block(x, width * 2 ** level)
    out = layers.Conv2D(image_channels, 1)(x)
    if residual:
        image = inputs[..., :image_channels]
        out = image + out
        if in_channels == image_channels + 1:
            mask = inputs[..., image_channels:]
            out = (1.0 - mask) * image + mask * out
    return keras.Model(inputs, out, name=name)


def build_patch_discriminator(in_channels, width=32, name="patchgan", image_channels=1):
    """pix2pix's PatchGAN: (degraded input, image) -> a map of logits, one per overlapping patch. in_channels=0 makes
    it unconditional (the image alone, as CycleGAN's discriminators are)."""
    inputs = keras.Input((None, None, in_channels + image_channels))
    x = layers.LeakyReLU(0.2)(layers.Conv2D(width, 4, strides=2, padding="same")(inputs))
    x = layers.LeakyReLU(0.2)(layers.Conv2D(2 * width, 4, strides=2, padding="same")(x))
    return keras.Model(inputs, layers.Conv2D(1, 3, padding="same")(x), name=name)


# %%
unet = build_unet(in_channels=2)
shapes = [(layer.name, tuple(layer.output.shape[1:])) for layer in unet.layers
          if isinstance(layer, (layers.MaxPooling2D, layers.Conv2DTranspose, layers.Concatenate))]
print(f"U-Net: {unet.count_params():,} parameters")  # NBVAL_CHECK_OUTPUT
probe = unet(test_inputs["inpaint"][:2])
assert probe.shape == (2, 28, 28, 1)
known = test_inputs["inpaint"][:2, ..., 1] < 0.5
assert np.allclose(probe.numpy()[..., 0][known], test_inputs["inpaint"][:2, ..., 0][known]), "known pixels pass unchanged"
sizes = [tuple(keras.Model(unet.input, layer.output)(np.zeros((1, 28, 28, 2), np.float32)).shape[1:])
         for layer in unet.layers if isinstance(layer, (layers.MaxPooling2D, layers.Concatenate))]
print("on a 28x28 digit, after each pooling and each skip concatenation:", sizes)  # NBVAL_CHECK_OUTPUT

# %% [markdown]
# ## 5. Training to a time budget, with checkpoints
#
# The loss is the mean absolute error $L_1 = \frac1N\sum_i |x_i - \hat x_i|$ (L1 gives sharper results than the
# squared error, which averages plausible answers more). Training runs to a clock, as in lesson 04: each model gets
# `TRAIN_S` seconds here (`COURSE_TRAIN_MINUTES` changes it), and a `tf.train.CheckpointManager` keeps the network,
# the optimizer and the step counter in `outputs/`, so running the cell again, or after a kernel restart,
# continues where it stopped. Each batch is drawn and damaged afresh from a seed made of the step number, so a
# resumed run sees the batches it would have seen.

# %% tags=["export"]
@dataclasses.dataclass(frozen=True)
class Recipe:
    """The restoration recipe, one value passed to the functions below; a variant is dataclasses.replace(RECIPE, ...)."""
    width: int = 32                  # the U-Net's channels at full resolution (doubling at each level)
    depth: int = 2                   # downsampling levels
    batch_size: int = 32
    patch: int = 32                  # side of the photo patches trained on
    learning_rate: float = 1e-3      # Adam for the L1 models
    pool_patches: int = 4000         # random patches cut from the training photos
    gan_learning_rate: float = 2e-4  # the pix2pix generator's Adam (Isola et al., 2017)
    d_learning_rate: float = 2e-4    # the PatchGAN's
    beta_1: float = 0.5              # both adversarial optimizers' (Isola et al., 2017)
    l1_weight: float = 20.0          # lambda in adversarial + lambda * L1


RECIPE = Recipe()


# %% tags=["export"]
def l1_loss(clean, restored):
    """The mean absolute error."""
    return tf.reduce_mean(tf.abs(clean - restored))


def pix2pix_generator_loss(fake_logits, clean, restored, l1_weight=RECIPE.l1_weight):
    """Isola et al. (2017): fool the discriminator (non-saturating, from logits) + l1_weight * L1."""
    return tf.reduce_mean(tf.nn.softplus(-fake_logits)) + l1_weight * l1_loss(clean, restored)


def make_l1_step(model, optimizer):
    """One L1 training step as a tf.function."""
    @tf.function
    def step(inputs, clean):
        with tf.GradientTape() as tape:
            loss = l1_loss(clean, model(inputs, training=True))
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
        return {"l1": loss}
    return step


# %% tags=["export"]
def make_gan_step(model, disc, g_opt, d_opt, recipe=RECIPE):
    """One pix2pix step: the PatchGAN sees (input, clean) as real and (input, restored) as fake."""
    @tf.function
    def step(inputs, clean):
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            restored = model(inputs, training=True)
            real_logits = disc(tf.concat([inputs, clean], -1), training=True)
            fake_logits = disc(tf.concat([inputs, restored], -1), training=True)
            d_loss = tf.reduce_mean(tf.nn.softplus(-real_logits)) + tf.reduce_mean(tf.nn.softplus(fake_logits))
            g_loss = pix2pix_generator_loss(fake_logits, clean, restored, recipe.l1_weight)
        d_opt.apply_gradients(zip(d_tape.gradient(d_loss, disc.trainable_variables), disc.trainable_variables))
        g_opt.apply_gradients(zip(g_tape.gradient(g_loss, model.trainable_variables), model.trainable_variables))
        return {"l1": l1_loss(clean, restored), "g_loss": g_loss, "d_loss": d_loss}
    return step


# %% tags=["export"]
def training_pool(task, mnist, seed=0, recipe=RECIPE):
    """The clean images a task trains on: the 4,000 training digits, or random patches of the training photos."""
    if TASKS[task]["data"] == "digits":
        return (mnist.x_train[..., None] / 255.0).astype(np.float32)
    return random_patches(TRAIN_PHOTOS, recipe.pool_patches, recipe.patch, seed)


def build_model(task, recipe=RECIPE):
    """The recipe's U-Net for a task."""
    return build_unet(TASKS[task]["channels"], recipe.width, recipe.depth, name=f"{task}_unet")


# %% tags=["export"]
class Run:
    """A restoration model following `recipe`, its optimizer(s), a step counter and the seconds trained, checkpointed
    in `directory` (created, or resumed from). adversarial=True adds a PatchGAN; init_from copies weights first."""

    def __init__(self, directory, task, adversarial=False, init_from=None, recipe=RECIPE):
        self.task, self.adversarial, self.recipe, self.model = task, adversarial, recipe, build_model(task, recipe)
        if init_from is not None:
            self.model.set_weights(init_from.get_weights())
        lr = recipe.gan_learning_rate if adversarial else recipe.learning_rate
        self.opt = keras.optimizers.Adam(lr, beta_1=recipe.beta_1 if adversarial else 0.9)
        self.opt.build(self.model.trainable_variables)
        self.steps, self.seconds = tf.Variable(0, dtype=tf.int64), tf.Variable(0.0, dtype=tf.float64)
        parts = {"model": self.model, "opt": self.opt, "steps": self.steps, "seconds": self.seconds}
        if adversarial:
            self.disc = build_patch_discriminator(TASKS[task]["channels"])
            self.d_opt = keras.optimizers.Adam(recipe.d_learning_rate, beta_1=recipe.beta_1)
            self.d_opt.build(self.disc.trainable_variables)
            parts.update(disc=self.disc, d_opt=self.d_opt)
            self.train_step = make_gan_step(self.model, self.disc, self.opt, self.d_opt, recipe)
        else:
            self.train_step = make_l1_step(self.model, self.opt)
        self.manager = tf.train.CheckpointManager(tf.train.Checkpoint(**parts), str(directory), max_to_keep=1)
        self.manager.restore_or_initialize()

    def train(self, pool, budget_s, save_every=250):
        """Train for budget_s more seconds on batches drawn from `pool`; returns the mean losses of this call."""
        start, sums, n = time.perf_counter(), {}, 0
        while time.perf_counter() - start < budget_s:
            step = int(self.steps.numpy())
            rng = np.random.default_rng([step, int(self.adversarial)])
            clean = pool[rng.integers(0, len(pool), self.recipe.batch_size)]
            for key, value in self.train_step(degrade_task(self.task, clean, rng), clean).items():
                sums[key] = sums.get(key, 0.0) + float(value)
            n += 1
            self.steps.assign_add(1)
            if (step + 1) % save_every == 0:
                self.manager.save()
        self.seconds.assign_add(time.perf_counter() - start)
        self.manager.save()
        return {key: value / max(n, 1) for key, value in sums.items()}


# %% tags=["export"]
def restore(model, inputs, batch=250):
    """Run a restoration model in inference mode: float32 NumPy clipped to [0, 1]."""
    return np.concatenate([np.clip(model(inputs[i:i + batch], training=False).numpy(), 0, 1)
                           for i in range(0, len(inputs), batch)])


# %%
a, b = photos[:2], test_inputs["denoise"][:2]
assert np.isclose(float(l1_loss(a, b)), np.mean(np.abs(a - b)), rtol=1e-6)
print(f"L1 between the clean and the noisy patches: {float(l1_loss(a, b)):.4f} (σ·√(2/π) = {SIGMA * np.sqrt(2 / np.pi):.4f} "
      "for unclipped Gaussian noise)")

# %% [markdown]
# Now train one U-Net per task for `TRAIN_S` seconds each: denoising and 2× super-resolution on photo patches,
# inpainting and 4× super-resolution on digits. A few CPU seconds per model are not much: the point is to see it
# run, and to see that running the cell again continues (the step counts grow).

# %%
TRAIN_S = 60 * profiles.train_minutes(full=0.3, smoke=0.02)
RUN_DIR = OUTPUTS / f"run-{profiles.get_profile()}"
if profiles.is_smoke():  # the quick profile the tests run always starts from scratch
    shutil.rmtree(RUN_DIR, ignore_errors=True)
pools = {task: training_pool(task, mnist) for task in TASKS}
yours = {}
for task in TASKS:
    yours[task] = Run(RUN_DIR / task, task)
    losses = yours[task].train(pools[task], TRAIN_S)
    print(f"{task:8s} your run: {int(yours[task].steps.numpy()):5d} steps, {float(yours[task].seconds.numpy()):5.1f} s "
          f"of training in all, mean L1 of this session {losses['l1']:.4f}")

# %% [markdown]
# A kernel restart loses nothing that was saved: a new `Run` on the same folder finds the checkpoint.

# %%
again = Run(RUN_DIR / "denoise", "denoise")
assert int(again.steps.numpy()) == int(yours["denoise"].steps.numpy())
assert all(np.array_equal(u, v) for u, v in zip(again.model.get_weights(), yours["denoise"].model.get_weights()))
print(f"resumed at step {int(again.steps.numpy())} with identical weights and optimizer state "
      f"({len(again.opt.variables)} optimizer variables)")

# %% [markdown]
# ### Your run and the course's trained models
#
# Compare your short runs with the baselines above: the cell below prints, per task, whether your run beat the
# task's best classical baseline. The course also ships the same U-Nets trained for at most three
# minutes each on a 2-core CPU by `tools/train_restoration_models.py` (their records in `data/restore_*.json` say
# how long, how many steps, on which machine; each adversarial model continued from the course's L1 model).
# `pretrained.load_trained_model` checks each file's SHA-256 against its record before loading it. The table has both: **your run** and **the course's trained model**.

# %%
COURSE = {}
for name in ("restore_denoise", "restore_inpaint", "restore_inpaint_gan", "restore_sr2", "restore_sr4", "restore_sr4_gan"):
    model = build_model(name.split("_")[1])
    record = pretrained.load_trained_model(model, name)
    COURSE[name] = model
    print(f"{name:20s} {record['steps']:5d} steps, {record['train_time_s']:5.1f} s of training ({record['loss']}) "
          f"on {record['machine']['cpu_model']} ({record['machine']['usable_cpus']} CPUs)")
for task in TASKS:
    mine = score(task, "U-Net L1, your run", test_clean[task], restore(yours[task].model, test_inputs[task]), source="this run")
    score(task, "U-Net L1", test_clean[task], restore(COURSE[f"restore_{task}"], test_inputs[task]), source="course model")
    best = max((r for r in RESULTS if r["task"] == task and r["method"] not in ("noisy input", "holes filled with 0")
                and "U-Net" not in r["method"]), key=lambda r: r["psnr"])
    claims.say(bool(mine["psnr"] > best["psnr"]),
               f"{task:8s}: your {TRAIN_S:.0f}-second run already beats the best baseline ({best['method']}, "
               f"{best['source']}): {mine['psnr']:.2f} vs {best['psnr']:.2f} dB",
               f"{task:8s}: your {TRAIN_S:.0f}-second run does not beat the best baseline yet ({best['method']}, "
               f"{best['source']}): {mine['psnr']:.2f} vs {best['psnr']:.2f} dB")

# %% [markdown]
# ## 6. The GAN link: L1 + a PatchGAN discriminator (pix2pix)
#
# L1 training asks for the *average* of all the images that fit the input. When the input leaves much unknown (a
# big hole, a 7×7 digit), that average is blurred: a grey smear where a stroke should be. pix2pix
# [@isola2017image] adds a discriminator that judges the result *given the input*, patch by patch (PatchGAN:
# each logit sees an 18×18 window here). With $y$ the damaged input, $x$ the clean image and $G$ the U-Net,
# $$\min_G \max_D\ \mathbb E\big[\log D(y, x)\big] + \mathbb E\big[\log(1 - D(y, G(y)))\big] + \lambda\,\mathbb E\,\|x - G(y)\|_1 .$$
# The generator minimizes the non-saturating form (lesson 01) from logits $l = D(y, G(y))$:
# $L_G = \overline{\mathrm{softplus}(-l)} + \lambda L_1$, here with $\lambda = 20$ (pixels in [0, 1]). SRGAN
# [@ledig2017photo] used the same idea for super-resolution. We start each adversarial run from the L1 model, as
# SRGAN started its adversarial training from an SRResNet trained with the mean squared error.
#
# A fair comparison gives both losses the same total training time. Your runs do it: from your L1 run of `TRAIN_S`
# seconds, one copy trains `TRAIN_S` more seconds with L1 alone, another `TRAIN_S` more seconds with L1 + GAN
# (each with a fresh Adam, from the same weights). Both arms then have `2 × TRAIN_S` seconds in all. Each
# adversarial step also trains the discriminator, so it costs more: compare the step counts each arm reached.

# %%
logits = np.array([[-2.0, 0.5], [3.0, -0.1]], np.float32)
by_formula = np.mean(np.log1p(np.exp(-logits))) + 20.0 * np.mean(np.abs(photos[:2] - test_inputs["denoise"][:2]))
assert np.isclose(float(pix2pix_generator_loss(logits, photos[:2], test_inputs["denoise"][:2])), by_formula, rtol=1e-5)
disc = build_patch_discriminator(2)
print("PatchGAN on a 28x28 digit and its input:", disc(np.zeros((1, 28, 28, 3), np.float32)).shape,  # NBVAL_CHECK_OUTPUT
      "logits, one per patch")

# %%
for task in ("inpaint", "sr4"):
    more = Run(RUN_DIR / f"{task}_l1more", task, init_from=yours[task].model)
    losses = more.train(pools[task], TRAIN_S)
    yours[f"{task}_l1more"] = more
    print(f"{task:8s} L1 alone, {TRAIN_S:.0f} s more: {int(more.steps.numpy())} steps; L1 {losses['l1']:.4f}")
    score(task, "U-Net L1 (2 x time), your run", test_clean[task], restore(more.model, test_inputs[task]), source="this run")
    gan = Run(RUN_DIR / f"{task}_gan", task, adversarial=True, init_from=yours[task].model)
    losses = gan.train(pools[task], TRAIN_S)
    yours[f"{task}_gan"] = gan
    print(f"{task:8s} L1 + GAN, {TRAIN_S:.0f} s more: {int(gan.steps.numpy())} steps; D loss {losses['d_loss']:.3f}, "
          f"G loss {losses['g_loss']:.3f}, L1 {losses['l1']:.4f}")
    score(task, "U-Net L1 + GAN, your run", test_clean[task], restore(gan.model, test_inputs[task]), source="this run")
    score(task, "U-Net L1 + GAN", test_clean[task], restore(COURSE[f"restore_{task}_gan"], test_inputs[task]),
          source="course model")

# %% [markdown]
# ### Distortion and perception, measured
#
# PSNR and SSIM measure *distortion*: how far each result is from the one true image. They cannot see whether a
# result looks like a real digit. The course evaluator of lesson 03 can: its FID compares the distribution of
# the restored digits with that of real digits, and its class coverage counts the digit classes it recognizes.
# Blau and Michaeli [@blau2018perception] proved that the two goals conflict: below some distortion, better
# perceptual quality *must* cost distortion. The table has everything: every baseline and every CNN, PSNR and
# SSIM on held-out images, and FID (1,000 digits in the full profile) for the digit tasks. Read your equal-time
# rows ("U-Net L1 (2 x time)" against "U-Net L1 + GAN", both "this run") for the effect of the loss: the
# trade-off would show as a GAN row with the lower FID *and* the lower PSNR. The course's adversarial models
# continued from the course's L1 models for one more minute, so their difference mixes the loss with more
# training. The cell after the table prints what both comparisons show, with the spread of the per-image PSNR
# difference (one run each: the seeds of the networks are not varied here).

# %%
judge = evaluator.load_evaluator()
OUT = {("inpaint", "biharmonic", "scikit-image"): np.clip(biharmonic, 0, 1), ("inpaint", "holes filled with 0", "-"): holed,
       ("sr4", "bicubic", "tf.image"): test_inputs["sr4"]}
for task in ("inpaint", "sr4"):
    OUT[(task, "U-Net L1", "course model")] = restore(COURSE[f"restore_{task}"], test_inputs[task])
    OUT[(task, "U-Net L1 + GAN", "course model")] = restore(COURSE[f"restore_{task}_gan"], test_inputs[task])
    OUT[(task, "U-Net L1, your run", "this run")] = restore(yours[task].model, test_inputs[task])
    OUT[(task, "U-Net L1 + GAN, your run", "this run")] = restore(yours[f"{task}_gan"].model, test_inputs[task])
    OUT[(task, "U-Net L1 (2 x time), your run", "this run")] = restore(yours[f"{task}_l1more"].model, test_inputs[task])
for row in RESULTS:
    images = OUT.get((row["task"], row["method"], row["source"]))
    if images is not None:
        row["fid"], row["classes"] = judge.fid(images, value_range=(0, 1)), judge.class_coverage(images, value_range=(0, 1)).n_covered
floor = judge.fid(digits, value_range=(0, 1))
print(f"{'task':8s} {'method':30s} {'source':13s} {'PSNR dB':>8s} {'SSIM':>6s} {'FID':>7s} classes")
for row in RESULTS:
    fid = f"{row['fid']:7.2f} {row['classes']:4d}/10" if "fid" in row else ""
    print(f"{row['task']:8s} {row['method']:30s} {row['source']:13s} {row['psnr']:8.2f} {row['ssim']:6.3f} {fid}")
print(f"(FID of the clean held-out digits themselves, the floor at this number of images: {floor:.2f})")

# %%
def result_row(task, method, source="course model"):
    return next(r for r in RESULTS if r["task"] == task and r["method"] == method and r["source"] == source)


l1_denoise, l1_inpaint = result_row("denoise", "U-Net L1"), result_row("inpaint", "U-Net L1")
biharmonic_row = result_row("inpaint", "biharmonic", "scikit-image")
best_classical = max((r for r in RESULTS if r["task"] == "denoise" and r["source"] == "scikit-image"), key=lambda r: r["psnr"])
claims.claim(bool(l1_denoise["psnr"] > best_classical["psnr"]),
             "denoising: the course's L1 U-Net beats the best classical baseline",
             evidence=f"{l1_denoise['psnr']:.2f} dB vs {best_classical['method']} {best_classical['psnr']:.2f} dB")
claims.claim(bool(l1_inpaint["psnr"] > biharmonic_row["psnr"]), "inpainting: the course's L1 U-Net beats biharmonic",
             evidence=f"{l1_inpaint['psnr']:.2f} dB vs {biharmonic_row['psnr']:.2f} dB")
if not profiles.is_smoke():  # FID needs the 1,000 digits of the full profile
    adv_inpaint = result_row("inpaint", "U-Net L1 + GAN")
    claims.claim(bool(adv_inpaint["fid"] < l1_inpaint["fid"]),
                 "inpainting: the course's adversarial U-Net has the lower FID (more realistic digits)",
                 evidence=f"FID {l1_inpaint['fid']:.2f} -> {adv_inpaint['fid']:.2f}")


# %%
def per_image_psnr(clean, restored):
    """PSNR of each image of a batch (data range 1), as psnr_mean averages it."""
    return np.array([skmetrics.peak_signal_noise_ratio(c[..., 0], r[..., 0], data_range=1.0)
                     for c, r in zip(clean, restored)])


PAIRS = {"your runs, equal time": (("U-Net L1 (2 x time), your run", "this run"), ("U-Net L1 + GAN, your run", "this run")),
         "the course's models": (("U-Net L1", "course model"), ("U-Net L1 + GAN", "course model"))}
for task in ("inpaint", "sr4"):
    for label, (l1_key, gan_key) in PAIRS.items():
        l1, adv = result_row(task, *l1_key), result_row(task, *gan_key)
        diff = per_image_psnr(test_clean[task], OUT[(task, *gan_key)]) - per_image_psnr(test_clean[task], OUT[(task, *l1_key)])
        spread = 2 * diff.std(ddof=1) / np.sqrt(len(diff))  # about a 95% interval of the mean difference
        figures = (f"FID {l1['fid']:.2f} -> {adv['fid']:.2f}, PSNR {l1['psnr']:.2f} -> {adv['psnr']:.2f} dB "
                   f"(per-image difference {diff.mean():+.2f} ± {spread:.2f} dB over {len(diff)} digits)")
        psnr_change = "lower" if diff.mean() + spread < 0 else "higher" if diff.mean() - spread > 0 else "the same within the spread"
        claims.say(bool(adv["fid"] < l1["fid"] and psnr_change == "lower"),
                   f"{task:8s}, {label}: the GAN trades distortion for realism: {figures}",
                   f"{task:8s}, {label}: no trade-off shows; the GAN's FID is "
                   f"{'lower' if adv['fid'] < l1['fid'] else 'not lower'} and its PSNR {psnr_change}: {figures}")

# %% [markdown]
# Now the pictures, one digit of each class 0 to 7. Look at the strokes inside the holes and at the edges of the
# 4× digits. Where L1 is unsure, it predicts the average of the plausible answers, which shows as grey, blurred
# strokes; an adversarial loss pushes towards sharp strokes, sometimes the wrong one, which is how a GAN can lower
# PSNR while its digits look more real. Check whether these models, trained for a few CPU minutes, show it: the
# rows put the L1 and the adversarial U-Nets side by side, for the course's models and for your equal-time runs.

# %%
held_labels = mnist.y_test[:: profiles.pick(full=1, smoke=4)]  # the labels of `digits`, sorted by class
pick = np.array([np.flatnonzero(held_labels == c)[0] for c in range(8)])
for task, baseline in (("inpaint", "biharmonic"), ("sr4", "bicubic")):
    grid = [test_clean[task][pick], test_inputs[task][pick, ..., :1],
            OUT[(task, baseline, "tf.image" if task == "sr4" else "scikit-image")][pick],
            OUT[(task, "U-Net L1", "course model")][pick], OUT[(task, "U-Net L1 + GAN", "course model")][pick],
            OUT[(task, "U-Net L1 (2 x time), your run", "this run")][pick],
            OUT[(task, "U-Net L1 + GAN, your run", "this run")][pick]]
    viz.show_images(np.concatenate(grid), ncols=8, value_range=(0, 1), size=0.8,
                    title=f"{task}, rows: clean, input, {baseline}, course L1, course L1 + GAN, "
                    "your L1 (2 x time), your L1 + GAN")
    plt.show()

# %%
fig, ax = plt.subplots(figsize=(5.5, 3.2))
for r in RESULTS:
    if "fid" in r and r["task"] in ("inpaint", "sr4") and r["method"] != "holes filled with 0":
        ax.scatter(r["psnr"], r["fid"], marker="o" if r["task"] == "inpaint" else "s")
        ax.annotate(f"{r['task']}: {r['method']}", (r["psnr"], r["fid"]), fontsize=6)
ax.set(xlabel="PSNR (dB), higher = less distortion", ylabel="FID, lower = more realistic", yscale="log",
       title="the perception–distortion plane")
plt.show()

# %% [markdown]
# ## 7. Deep Image Prior: an untrained network as the prior
#
# Every method so far learned from other images or was designed by hand. Ulyanov, Vedaldi and Lempitsky
# [@ulyanov2018deep] found that the *structure* of a convolutional network is itself a prior: fit a randomly
# initialized network $f_\theta$, fed a fixed random input $z$, to the one noisy image $y$,
# $$\theta^\star = \arg\min_\theta \|f_\theta(z) - y\|_2^2 ,$$
# and it reproduces the image's structure long before it can reproduce the noise. Stopped early, $f_\theta(z)$ is a
# denoised image, with no training data at all. Let it run and it fits the noise too, so the PSNR against the clean
# image rises, then falls. *When* to stop is the catch: the PSNR against the clean image is an oracle a user never
# has. A rule that needs only the noisy image and the noise level σ is the **discrepancy principle** (Morozov): a
# perfect denoiser differs from $y$ by the noise alone, about σ² per pixel, so stop at the first iteration whose
# fit $\overline{(f_\theta(z) - y)^2}$ falls to σ². We record that stop, and the oracle's best only as an upper
# bound of what any stopping rule could reach. The network below follows the paper's hourglass (strided convolutions, batch norm,
# LeakyReLU, bilinear upsampling, thin 4-channel skips), sized for a CPU: one 48×48 patch of the held-out `camera`
# photo, noise σ = 0.1.

# %% tags=["export"]
def build_dip_net(in_channels=16, width=32, depth=3):
    """Deep Image Prior's encoder-decoder: strided convs down, bilinear upsampling up, 4-channel skips, sigmoid out."""
    def block(x, stride=1):
        x = layers.Conv2D(width, 3, strides=stride, padding="same")(x)
        return layers.LeakyReLU(0.2)(layers.BatchNormalization()(x))
    inputs = keras.Input((None, None, in_channels))
    x, skips = inputs, []
    for _ in range(depth):
        skips.append(layers.Conv2D(4, 1)(x))
        x = block(block(x, stride=2))
    for level in reversed(range(depth)):
        x = layers.UpSampling2D(2, interpolation="bilinear")(x)
        x = block(block(layers.Concatenate()([x, skips[level]])))
    return keras.Model(inputs, layers.Conv2D(1, 1, activation="sigmoid")(x), name="deep_image_prior")


def fit_dip(noisy, clean, iterations, sigma, seed=0, lr=0.01, every=25):
    """Fit build_dip_net() to one noisy image (1, h, w, 1). Every `every` steps it records (iteration, PSNR against
    `clean`, mean squared fit to `noisy`); returns that curve, the oracle's best output (highest PSNR: needs the
    clean image) and the discrepancy-principle output (the first whose fit to `noisy` is <= sigma**2; the last if
    none is). The input z is fixed; a little fresh noise is added to it at each step, as in the paper."""
    keras.utils.set_random_seed(seed)
    net, opt = build_dip_net(), keras.optimizers.Adam(lr)
    z = tf.constant(np.random.default_rng(seed + 1).uniform(0, 0.1, (1, *noisy.shape[1:3], 16)).astype(np.float32))

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean((net(z + tf.random.normal(tf.shape(z), stddev=1 / 30), training=True) - noisy) ** 2)
        opt.apply_gradients(zip(tape.gradient(loss, net.trainable_variables), net.trainable_variables))
    curve, best, stopped = [], (-np.inf, None), None
    for i in range(1, iterations + 1):
        step()
        if i % every == 0:
            out = net(z, training=False).numpy()
            curve.append((i, 10 * np.log10(1.0 / np.mean((out - clean) ** 2)), float(np.mean((out - noisy) ** 2))))
            best = max(best, (curve[-1][1], out), key=lambda b: b[0])
            if stopped is None and curve[-1][2] <= sigma ** 2:
                stopped = out
    return curve, best[1], out if stopped is None else stopped


# %%
dip_clean = load_photo("camera")[60:108, 200:248][None, ..., None]
dip_noisy = degrade.gaussian_noise(dip_clean, 0.1, seed=0)
start = time.perf_counter()
DIP_SIGMA = 0.1
curve, dip_best, dip_stop = fit_dip(dip_noisy, dip_clean, profiles.pick(full=900, smoke=10), DIP_SIGMA,
                                    every=profiles.pick(full=25, smoke=5))
dip_s = time.perf_counter() - start
noisy_psnr = skmetrics.peak_signal_noise_ratio(dip_clean[0, ..., 0], dip_noisy[0, ..., 0], data_range=1.0)
best_i, best_psnr, _ = max(curve, key=lambda c: c[1])
stop_i, stop_psnr, stop_fit = next((c for c in curve if c[2] <= DIP_SIGMA ** 2), curve[-1])
tv_dip = restoration.denoise_tv_chambolle(dip_noisy[0, ..., 0], **TUNED["total variation"][1])
tv_psnr = skmetrics.peak_signal_noise_ratio(dip_clean[0, ..., 0], tv_dip, data_range=1.0)
print(f"Deep Image Prior, {curve[-1][0]} iterations in {dip_s:.0f} s: noisy input {noisy_psnr:.2f} dB; stopped by "
      f"the discrepancy principle at iteration {stop_i} (fit {stop_fit:.4f} vs σ² = {DIP_SIGMA ** 2:.4f}): "
      f"{stop_psnr:.2f} dB; the oracle's best (an upper bound) {best_psnr:.2f} dB at iteration {best_i}; last "
      f"{curve[-1][1]:.2f} dB. Total variation (tuned on the training photos) on the same patch: {tv_psnr:.2f} dB")
claims.say(bool(tv_psnr > best_psnr), f"Tuned total variation beats Deep Image Prior here, even at the oracle's "
           f"best iteration: {tv_psnr:.2f} vs {best_psnr:.2f} dB.", "Deep Image Prior at the oracle's best iteration "
           f"beats tuned total variation here ({best_psnr:.2f} vs {tv_psnr:.2f} dB); stopped without the oracle it "
           f"reaches {stop_psnr:.2f} dB.")
if not profiles.is_smoke():  # the quick profile stops long before the peak
    assert best_psnr >= noisy_psnr + 3.0

# %%
fig, (ax, *axes) = plt.subplots(1, 4, figsize=(10, 2.4), gridspec_kw={"width_ratios": [2.2, 1, 1, 1]})
ax.plot([c[0] for c in curve], [c[1] for c in curve])
ax.axhline(noisy_psnr, ls="--", c="gray", label="noisy input")
ax.axhline(tv_psnr, ls=":", c="C2", label="total variation")
ax.axvline(stop_i, c="C3", lw=0.8, label="discrepancy stop")
ax.set(xlabel="iteration", ylabel="PSNR vs clean (dB)", title="early stopping matters")
ax.legend(fontsize=8)
for a, image, title in zip(axes, [dip_noisy, dip_stop, dip_best],
                           ["noisy", f"DIP, stopped ({stop_i})", f"DIP, oracle best ({best_i})"]):
    a.imshow(image[0, ..., 0], cmap="gray", vmin=0, vmax=1)
    a.set_title(title, fontsize=9)
    a.axis("off")
plt.show()

# %% [markdown]
# ## 8. Explore it yourself
#
# Choose a task, an image and the strength of the damage (the noise σ, or the size of the hole and the kind of
# mask). The widget shows the clean image, the input, the task's best classical baseline in the table, the
# course's L1 U-Net and, for inpainting and 4× super-resolution, the adversarial U-Net, each with its PSNR. The
# callback `restore_views` returns what it shows, so it can be checked without a browser (below).

# %%
BASELINE_OF = {"denoise": best_classical["method"], "inpaint": "biharmonic", "sr2": "bicubic", "sr4": "bicubic"}


def baseline(task, inputs):
    """The task's classical baseline on network inputs (the tuned denoiser, biharmonic, or the bicubic input)."""
    if task == "denoise":
        fn, kwargs = TUNED[BASELINE_OF[task]]
        return per_image(fn, inputs, **kwargs)
    if task == "inpaint":
        return np.stack([restoration.inpaint_biharmonic(x[..., 0], x[..., 1] > 0.5) for x in inputs])[..., None]
    return inputs


def restore_views(task, index, strength=None, kind="box"):
    """{caption: image (h, w, 1)} for one held-out image of `task`, damaged with `strength` and `kind`."""
    clean = test_clean[task][index:index + 1]
    spec = {**TASKS[task]["test"], **({"strength": strength} if strength is not None else {}),
            **({"kind": kind} if task == "inpaint" else {})}
    inputs = degrade_task(task, clean, seed=index, **spec)
    views = {"clean": clean[0], "input": inputs[0, ..., :1], f"{BASELINE_OF[task]}": np.clip(baseline(task, inputs)[0], 0, 1),
             "L1 U-Net": restore(COURSE[f"restore_{task}"], inputs)[0]}
    if f"restore_{task}_gan" in COURSE:
        views["L1 + GAN U-Net"] = restore(COURSE[f"restore_{task}_gan"], inputs)[0]
    return views


views = restore_views("inpaint", 3, 0.6, "lines")
assert list(views)[:2] == ["clean", "input"] and all(v.shape == (28, 28, 1) for v in views.values())
print("restore_views returns:", list(views))  # NBVAL_CHECK_OUTPUT


# %%
def _show(task, index, strength, kind):
    views = restore_views(task, index, strength if task in ("denoise", "inpaint") else None, kind)
    fig, axes = plt.subplots(1, len(views), figsize=(1.8 * len(views), 2.1))
    for ax, (title, image) in zip(axes, views.items()):
        ax.imshow(image[..., 0], cmap="gray", vmin=0, vmax=1)
        quality = "" if title == "clean" else f"\n{psnr_mean(views['clean'][None], image[None]):.1f} dB"
        ax.set_title(title + quality, fontsize=8)
        ax.axis("off")
    plt.show()


controls = {"task": widgets.Dropdown(options=[("denoise (photo)", "denoise"), ("inpaint (digit)", "inpaint"),
                                              ("2× super-resolution (photo)", "sr2"), ("4× super-resolution (digit)", "sr4")],
                                     value="inpaint", description="task"),
            "index": widgets.IntSlider(value=0, min=0, max=len(photos) - 1, description="image", continuous_update=False),
            "strength": widgets.FloatSlider(value=0.6, min=0.05, max=0.9, step=0.05, description="σ / hole",
                                            continuous_update=False),
            "kind": widgets.Dropdown(options=list(degrade.MASK_KINDS), value="box", description="mask")}
out = widgets.interactive_output(_show, controls)
display(widgets.VBox([widgets.HBox([controls["task"], controls["index"]]),
                      widgets.HBox([controls["strength"], controls["kind"]]), out]))

# %% [markdown]
# ## Summary
#
# - Restoration undoes a known damage: noise, impulses, blur, missing regions, lost resolution
#   (`course_utils.degrade`). The article's 图像修复 is inpainting; restoration in general is 图像复原.
# - The classical baselines (total variation, bilateral, wavelet shrinkage, biharmonic inpainting, bicubic
#   upsampling) are strong and need no training; tune their parameters on training images, never on the test set.
# - PSNR is the log of the mean squared error; SSIM compares local structure. scikit-image and `tf.image` agree
#   once the SSIM settings match (Gaussian window σ = 1.5, 11×11, population covariances).
# - A U-Net (encoder, decoder, skip connections by concatenation) trained with L1 for a couple of CPU minutes
#   beats every classical baseline on held-out images; training to a clock with checkpoints makes that portable.
# - Adding a PatchGAN discriminator (pix2pix, the SRGAN idea) aims at realism, measured by FID beside PSNR and
#   SSIM. Blau and Michaeli showed that, beyond some point, realism must cost distortion; whether a given model
#   pair shows that trade-off is a measurement, made at equal training time (section 6 prints what this run's
#   models show). This is where GANs join restoration.
# - Deep Image Prior restores one image with no training data: the network's structure is the prior, and when to
#   stop decides the result, since the network eventually fits the noise. A rule that needs no clean image (the
#   discrepancy principle) stops it; the PSNR-best iteration is only an oracle's upper bound, and section 7 prints
#   how both compare with tuned total variation.
#
# ## Exercises
#
# The checks run your function and a reference on several inputs and name the usual mistakes when they see them.
# Your functions receive arrays and numbers and return arrays and numbers (NumPy or TensorFlow maths inside, as you
# like).
#
# ### Exercise 1: what the PatchGAN sees
# In one pix2pix step (section 6's `make_gan_step`), the discriminator judges two pairs. Write
# `patchgan_inputs(condition, target, fake)`: `condition` is the damaged input $y$ `(n, h, w, c_in)` (for inpainting
# the damaged digit *and* its mask), `target` the clean image $x$ and `fake` the restored one $G(y)$, both
# `(n, h, w, c)`. Return `(real_pair, fake_pair)`, the two arrays `build_patch_discriminator` is fed: each image
# joined with its condition along the channel axis, in the order the lesson's step uses. Why must D see the
# condition at all? (A sharp digit that does not fit the input is a failure pix2pix has to catch.)

# %% tags=["export"]
def patchgan_inputs(condition, target, fake):
    """The discriminator's real and fake inputs in one pix2pix step."""
    ### BEGIN SOLUTION
    real_pair = np.concatenate([condition, target], axis=-1)
    fake_pair = np.concatenate([condition, fake], axis=-1)
    return real_pair, fake_pair
    ### END SOLUTION


# %%
_ = ex.check_patchgan_inputs(patchgan_inputs)

# %% [markdown]
# ### Exercise 2: the two losses of one pix2pix step
# Write `pix2pix_losses(real_logits, fake_logits, condition, target, fake, lam)`, returning `(g_loss, d_loss)` as
# two numbers: the losses one step of `make_gan_step` minimizes, from the PatchGAN's logits on the real and the fake
# pairs (one logit per patch, `(n, p, p, 1)`). The generator's loss is its non-saturating adversarial term plus
# `lam` times the L1 distance to the right image; the PatchGAN's loss calls real pairs real and fake pairs fake.
# Both are means, both work from logits (stable at logits of ±800), and neither calls `pix2pix_generator_loss`.
# The check names the slips that are easy to make here: L1 against the wrong image, `lam` missing or on the wrong
# term, the generator's target in D's fake term, a sigmoid applied to logits twice, sums for means.

# %% tags=["export"]
def pix2pix_losses(real_logits, fake_logits, condition, target, fake, lam):
    """pix2pix's generator loss and PatchGAN loss, from the discriminator's logits."""
    ### BEGIN SOLUTION
    g_loss = tf.reduce_mean(tf.nn.softplus(-fake_logits)) + lam * tf.reduce_mean(tf.abs(target - fake))
    d_loss = tf.reduce_mean(tf.nn.softplus(-real_logits)) + tf.reduce_mean(tf.nn.softplus(fake_logits))
    return float(g_loss), float(d_loss)
    ### END SOLUTION


# %%
_ = ex.check_pix2pix_losses(pix2pix_losses)

# %% [markdown]
# ### Exercise 3: the U-Net's shapes, on paper
# Write `unet_shapes(size, in_channels, width, depth)`: for a square input of side `size`, predict the shapes
# `(height, width, channels)` that `build_unet(in_channels, width, depth)` produces: a dict with `"skips"` (the
# output of each encoder block, shallowest first), `"bottleneck"`, `"concats"` (each skip concatenation, deepest
# first) and `"output"`. Work it out from the code of section 4, without building the network; the check compares
# with the real network for several sizes and depths.

# %% tags=["export"]
def unet_shapes(size, in_channels, width, depth):
    """The shapes of build_unet's skips, bottleneck, concatenations and output for a size x size input."""
    ### BEGIN SOLUTION
    skips = [(size // 2 ** level, size // 2 ** level, width * 2 ** level) for level in range(depth)]
    bottom = size // 2 ** depth
    concats = [(size // 2 ** level, size // 2 ** level, 2 * width * 2 ** level) for level in reversed(range(depth))]
    return {"skips": skips, "bottleneck": (bottom, bottom, width * 2 ** depth), "concats": concats,
            "output": (size, size, 1)}
    ### END SOLUTION


# %%
_ = ex.check_unet_shapes(unet_shapes)

# %% [markdown]
# ## Next
# The restoration models here are conditional generators: they draw an image *given* another one.
# [07_trends_and_challenges](07_trends_and_challenges.ipynb) (the article's section 5) returns to where that
# leads: conditional and higher-resolution generation, and evaluation beyond PSNR.
