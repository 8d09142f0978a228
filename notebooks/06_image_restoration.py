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
# - add a PatchGAN adversarial loss to an L1 loss, and explain with numbers the perception–distortion trade-off:
#   sharper, more plausible results (lower FID) at a slightly worse PSNR;
# - use an untrained CNN as a prior (Deep Image Prior) and stop it early before it fits the noise.
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

from course_utils import data, degrade, device, evaluator, pretrained, profiles, viz
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
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from course_utils import degrade

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
digits = (mnist.x_test[: profiles.pick(full=1000, smoke=300)][..., None] / 255.0).astype(np.float32)
photos = random_patches(TEST_PHOTOS, profiles.pick(full=48, smoke=12), 48, seed=2026)  # held-out photo patches
print(f"held-out digits {digits.shape}, held-out photo patches {photos.shape}, values in "
      f"[{photos.min():.2f}, {photos.max():.2f}]")

# %% [markdown]
# The five degradations live in `course_utils.degrade` (tested in `tests/test_degrade.py`; each checks its
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
x, y = photos[:4], degrade.gaussian_noise(photos[:4], 0.1, seed=5)
by_hand = 10 * np.log10(1.0 / np.mean((x[0] - y[0]) ** 2))
sk_psnr = [skmetrics.peak_signal_noise_ratio(a[..., 0], b[..., 0], data_range=1.0) for a, b in zip(x, y)]
tf_psnr = tf.image.psnr(x, y, max_val=1.0).numpy()
SSIM_SETTINGS = {"data_range": 1.0, "gaussian_weights": True, "sigma": 1.5, "use_sample_covariance": False,
                 "win_size": 11}
sk_ssim = [skmetrics.structural_similarity(a[..., 0], b[..., 0], **SSIM_SETTINGS) for a, b in zip(x, y)]
tf_ssim = tf.image.ssim(x, y, max_val=1.0, filter_size=11, filter_sigma=1.5, k1=0.01, k2=0.03).numpy()
sk_default = skmetrics.structural_similarity(x[0, ..., 0], y[0, ..., 0], data_range=1.0)
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
# denoising; SRCNN [@dong2014learning] refined a bicubic upsampling the same way); for inpainting it receives the
# mask as a second channel and keeps the known pixels as they are.

# %% tags=["export"]
def conv_block(x, channels):
    """Two 3x3 convolutions with ReLU; the size is kept."""
    x = layers.Conv2D(channels, 3, padding="same", activation="relu")(x)
    return layers.Conv2D(channels, 3, padding="same", activation="relu")(x)


def build_unet(in_channels=1, width=32, depth=2, residual=True, name="unet"):
    """A U-Net for images whose sides are multiples of 2**depth; channel 0 of the input is the image.

    residual=True: the output is the input image plus the network's correction; with a mask as channel 1 (True =
    missing) the known pixels are kept and only the holes are filled."""
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
    out = layers.Conv2D(1, 1)(x)
    if residual:
        image = inputs[..., :1]
        out = image + out
        if in_channels == 2:
            mask = inputs[..., 1:2]
            out = (1.0 - mask) * image + mask * out
    return keras.Model(inputs, out, name=name)


def build_patch_discriminator(in_channels, width=32, name="patchgan"):
    """pix2pix's PatchGAN: (degraded input, image) -> a map of logits, one per overlapping patch."""
    inputs = keras.Input((None, None, in_channels + 1))
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
assert np.allclose(probe.numpy()[known], test_inputs["inpaint"][:2][known][:, 0]), "known pixels must pass unchanged"
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
RECIPE = {"width": 32, "depth": 2, "batch_size": 32, "patch": 32, "learning_rate": 1e-3, "pool_patches": 4000,
          "gan_learning_rate": 2e-4, "d_learning_rate": 2e-4, "beta_1": 0.5, "l1_weight": 20.0}


def l1_loss(clean, restored):
    """The mean absolute error."""
    return tf.reduce_mean(tf.abs(clean - restored))


def pix2pix_generator_loss(fake_logits, clean, restored, l1_weight=RECIPE["l1_weight"]):
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


def make_gan_step(model, disc, g_opt, d_opt):
    """One pix2pix step: the PatchGAN sees (input, clean) as real and (input, restored) as fake."""
    @tf.function
    def step(inputs, clean):
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            restored = model(inputs, training=True)
            real_logits = disc(tf.concat([inputs, clean], -1), training=True)
            fake_logits = disc(tf.concat([inputs, restored], -1), training=True)
            d_loss = tf.reduce_mean(tf.nn.softplus(-real_logits)) + tf.reduce_mean(tf.nn.softplus(fake_logits))
            g_loss = pix2pix_generator_loss(fake_logits, clean, restored)
        d_opt.apply_gradients(zip(d_tape.gradient(d_loss, disc.trainable_variables), disc.trainable_variables))
        g_opt.apply_gradients(zip(g_tape.gradient(g_loss, model.trainable_variables), model.trainable_variables))
        return {"l1": l1_loss(clean, restored), "g_loss": g_loss, "d_loss": d_loss}
    return step


# %% tags=["export"]
def training_pool(task, mnist, seed=0):
    """The clean images a task trains on: the 4,000 training digits, or random patches of the training photos."""
    if TASKS[task]["data"] == "digits":
        return (mnist.x_train[..., None] / 255.0).astype(np.float32)
    return random_patches(TRAIN_PHOTOS, RECIPE["pool_patches"], RECIPE["patch"], seed)


def build_model(task):
    """The U-Net of RECIPE for a task."""
    return build_unet(TASKS[task]["channels"], RECIPE["width"], RECIPE["depth"], name=f"{task}_unet")


class Run:
    """A restoration model and its optimizer(s), a step counter and the seconds trained, checkpointed in
    `directory` (created, or resumed from). adversarial=True adds a PatchGAN; init_from copies weights first."""

    def __init__(self, directory, task, adversarial=False, init_from=None):
        self.task, self.adversarial, self.model = task, adversarial, build_model(task)
        if init_from is not None:
            self.model.set_weights(init_from.get_weights())
        lr = RECIPE["gan_learning_rate"] if adversarial else RECIPE["learning_rate"]
        self.opt = keras.optimizers.Adam(lr, beta_1=RECIPE["beta_1"] if adversarial else 0.9)
        self.opt.build(self.model.trainable_variables)
        self.steps, self.seconds = tf.Variable(0, dtype=tf.int64), tf.Variable(0.0, dtype=tf.float64)
        parts = {"model": self.model, "opt": self.opt, "steps": self.steps, "seconds": self.seconds}
        if adversarial:
            self.disc = build_patch_discriminator(TASKS[task]["channels"])
            self.d_opt = keras.optimizers.Adam(RECIPE["d_learning_rate"], beta_1=RECIPE["beta_1"])
            self.d_opt.build(self.disc.trainable_variables)
            parts.update(disc=self.disc, d_opt=self.d_opt)
            self.train_step = make_gan_step(self.model, self.disc, self.opt, self.d_opt)
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
            clean = pool[rng.integers(0, len(pool), RECIPE["batch_size"])]
            for key, value in self.train_step(degrade_task(self.task, clean, rng), clean).items():
                sums[key] = sums.get(key, 0.0) + float(value)
            n += 1
            self.steps.assign_add(1)
            if (step + 1) % save_every == 0:
                self.manager.save()
        self.seconds.assign_add(time.perf_counter() - start)
        self.manager.save()
        return {key: value / max(n, 1) for key, value in sums.items()}


def restore(model, inputs, batch=250):
    """Run a restoration model in inference mode: float32 NumPy clipped to [0, 1]."""
    return np.concatenate([np.clip(model(inputs[i:i + batch], training=False).numpy(), 0, 1)
                           for i in range(0, len(inputs), batch)])
