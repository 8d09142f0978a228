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
# # Start here: image synthesis with GANs and CNNs
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/image-synthesis-course/gans-and-cnns/blob/main/notebooks/00_start_here.ipynb)
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/image-synthesis-course/gans-and-cnns/main?labpath=notebooks%2F00_start_here.ipynb)
#
# ## Overview
#
# This course turns one source article, a Chinese-language overview of deep learning for image synthesis, into
# runnable, tested lessons. The article has no title of its own; the course calls it 《深度学习在图像合成中的应用》
# ("deep learning's applications in image synthesis"), the words its introduction and conclusion use for what it
# covers (在本文中，我们将介绍深度学习在图像合成中的应用). The article is a starting point, not an authority:
# its GAN code does not run, some formulas are loose and its reference list is wrong in many places. Each lesson
# shows the article's version, explains what is wrong, and teaches what is right, with every formula checked by code.
#
# **Learning objectives.** After this lesson you can:
# - run the course on a laptop, on Binder, on Colab or in a classroom without internet;
# - read the environment report and know where the data comes from;
# - load real MNIST digits and look at them;
# - say how images were synthesized before deep learning (rendering, example-based texture synthesis and
#   inpainting) and why learned models took over;
# - explain the article's core concepts: generation vs restoration, GANs vs CNNs, and how they connect;
# - find the lesson that teaches each section of the article.
#
# **Prerequisites.** Python and NumPy; no deep-learning background is assumed.
#
# **Source article.** Sections 1 "背景介绍" (background) and 2 "核心概念与联系" (core concepts and their links),
# plus a map of all sections, the trends of section 5 "未来发展趋势与挑战" and the reference list.

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
import json
import time
from collections import Counter
from pathlib import Path

import keras
import matplotlib.pyplot as plt
import numpy as np
from keras import layers
from scipy import ndimage

from course_utils import data, device, profiles, viz

config = device.setup(seed=0)
report = device.environment_report(config)

# %% [markdown]
# ## 1. Run the course
#
# | where | how | what to expect |
# |---|---|---|
# | your laptop (Linux/macOS, Python 3.11+, `make`) | `make lab` in the repository | creates `.venv` once, registers the kernel *Python (image synthesis course)*, opens this notebook |
# | Binder | the Binder badge above | a ready environment from `environment.yml`; 1 CPU, 2 GB RAM: every lesson fits |
# | Colab | the Colab badge above | the set-up cell clones the course and installs its helpers, keeping Colab's TensorFlow; a GPU makes training faster. Lessons 00–03 and 06 stay float32: the same numbers up to rounding. The training lessons 04, 05, 07, 08 and 09 use mixed precision and XLA there: other samples and curves, equal only statistically |
# | classroom without internet | set `COURSE_DATA_MIRROR` to a shared folder or a local web server holding `mnist.npz` (and the four Fashion-MNIST `.gz` files) | every file is checked against its SHA-256 before use |
# | fully offline | nothing to do | lessons use the 5,000 real MNIST digits bundled in `data/` and print a notice saying so |
#
# **Profiles.** `COURSE_PROFILE=full` (the default) runs the real thing: every lesson in minutes on a 2-core laptop.
# `COURSE_PROFILE=smoke` runs each lesson in seconds with tiny sizes; it is what the automatic tests use.
# A lesson reads its sizes through `profiles.pick(full=..., smoke=...)`:

# %%
EPOCHS = profiles.pick(full=3, smoke=1)
print(f"profile: {profiles.get_profile()}, denoiser epochs in this lesson: {EPOCHS}")

# %% [markdown]
# ## 2. Look at the data
#
# The lessons train on MNIST: 70,000 handwritten digits, 28×28 pixels, grey levels 0–255
# (LeCun, Cortes and Burges; licence CC BY-SA 3.0). `load_mnist()` downloads it once through
# a bounded download (a time limit in all and a size cap) checked against its SHA-256, and caches it; offline it
# falls back to the bundled subset.

# %%
mnist = data.load_mnist()
(x_train, y_train), (x_test, y_test) = mnist
print(mnist.summary())
print("pixel range:", x_train.min(), "to", x_train.max(), "| labels:", np.unique(y_train))

# %% [markdown]
# Every digit class is present in both splits (the bundled subset is exactly balanced: 400 training and 100
# held-out images per class).

# %%
counts = np.bincount(y_train, minlength=10)
assert counts.sum() == len(x_train) and (counts > 0).all()
plt.figure(figsize=(6, 2.2))
plt.bar(range(10), counts)
plt.xticks(range(10))
plt.xlabel("digit")
plt.ylabel("training images")
plt.title(mnist.name)
plt.show()

# %%
first_of_each = np.array([np.flatnonzero(y_train == d)[:4] for d in range(10)]).T.ravel()
fig = viz.show_images(x_train[first_of_each], ncols=10, labels=[str(d) for d in y_train[first_of_each]],
                      title="Four real training digits of each class")
plt.show()  # show_images returns the figure: assigned, so the notebook shows it once

# %% [markdown]
# Fashion-MNIST (Zalando, MIT licence) has the same format with clothing instead of digits. Lesson 03 uses it
# when it can be had; there is no bundled copy, so offline it is skipped with a message.

# %%
try:
    fashion = data.load_fashion_mnist()
    idx = np.array([np.flatnonzero(fashion.y_train == c)[0] for c in range(10)])
    viz.show_images(fashion.x_train[idx], ncols=10, labels=[data.FASHION_MNIST_CLASSES[c][:7] for c in range(10)])
except data.DataUnavailableError as err:
    print(f"Fashion-MNIST skipped: {err}")

# %% [markdown]
# ## 3. Background and core concepts (the article's sections 1 and 2)
#
# ### Image synthesis before deep learning (section 1)
#
# The article's background says that image synthesis moved from "traditional mathematical models and rule
# engines" (传统的数学模型和规则引擎) to deep learning, without saying what those were. Three families, briefly:
#
# - **Graphics pipelines.** Computer graphics makes an image by *rendering* a scene built by hand (geometry,
#   materials, lights, a camera): it simulates how light travels to the camera. The image is as realistic as the
#   scene and its material models, and every object in it must be modelled by someone.
# - **Texture synthesis from an example.** Efros and Leung [@efros1999texture] grew a texture one pixel at a time,
#   copying each new pixel from a place in a sample image whose neighbourhood matches the pixels already made;
#   image quilting [@efros2001image] copied whole patches and cut the seams between them along the path of least
#   difference. No model of the texture is written down: the example *is* the model.
# - **Example-based editing and restoration.** The same idea fills holes: exemplar-based inpainting
#   [@criminisi2004region] fills the region of a removed object with patches from the rest of the image, continuing
#   its edges first, and PatchMatch [@barnes2009patchmatch] made the search for matching patches fast enough for
#   interactive editing. Denoising and deblurring used hand-designed filters and priors (Gaussian blur, total
#   variation; lesson 06 compares CNNs with them).
#
# What these methods cannot do is what this course is about. Copying methods rearrange pixels that already exist in
# their example, so they cannot make an object that is not in it (a new digit, a new face), and a rendering
# pipeline needs a hand-made model of everything it draws. A network trained on many images learns what those
# images have in common, so it can generate new ones (lessons 01 and 04) or restore a damaged image from what
# images of its kind look like (later in this section, a small CNN is checked to beat the best Gaussian blur on
# the same noisy digits). The price is data and compute, which is the article's section 5 (lesson 07).
#
# ### Generation and restoration (section 2)
#
# The article splits image synthesis into two tasks and gives each a family of networks:
#
# > 在深度学习中，图像合成可以分为两个主要方面：一是生成图像，二是修复图像。生成图像通常使用生成对抗网络（GANs）等方法，而修复图像通常使用卷积神经网络（CNNs）等方法。
# >
# > *In deep learning, image synthesis has two main sides: generating images and restoring images. Generation usually
# > uses generative adversarial networks (GANs), restoration usually uses convolutional neural networks (CNNs).*
#
# - **Generation** makes new images from random noise: nothing is given but a sample from a simple distribution.
#   A **GAN** (Goodfellow et al., 2014) trains a *generator* G that turns noise z into an image and a
#   *discriminator* D that tells real images from generated ones; each improves against the other (lessons 01 and 04).
# - **Restoration** starts from a damaged image (noisy, blurred, low-resolution, with holes) and recovers a clean
#   one: a function from image to image. **CNNs** suit it because convolutions are local and share weights
#   (lessons 02 and 03 teach the convolution; lesson 06 restores images with CNNs). The article calls this side
#   图像修复, a word that usually means *inpainting* (filling holes); restoration in general is 图像复原 or 图像恢复.
# - **The link.** The article says GANs "use CNNs as the base model of the generator and the discriminator"
#   (GANs中使用了CNNs作为生成器和判别器的基础模型). That is true of DCGAN (Radford et al., 2016), which lesson 04 builds.
#
# What the article states loosely, and what is more accurate:
#
# | the article says | more precisely |
# |---|---|
# | restoration "usually uses CNNs" — then lists CNN applications as classification, detection, segmentation | those are *analysis* tasks, not restoration. CNN restoration means denoising (DnCNN, Zhang et al. 2017), super-resolution (SRCNN, Dong et al. 2014), inpainting |
# | generation uses GANs, restoration uses CNNs | the split is not clean: GANs restore too (SRGAN, Ledig et al. 2017; pix2pix, Isola et al. 2017), and the adversarial loss is added to a CNN restorer to make its output sharp |
# | "first repair with CNNs, then generate with GANs" | the usual combination is one network: a CNN generator trained with a reconstruction loss *plus* an adversarial loss |
#
# The cells below make restoration concrete: a small CNN learns to remove noise from real digits in seconds. To
# count as a result it must beat a classical filter, not just the noisy input: we try Gaussian blurs of several
# widths (a Gaussian blur averages each pixel with its neighbours, which removes noise and also blurs the strokes)
# and keep the best on the test digits, which favours the filter. Generation from pure noise is harder; it is
# lesson 04's subject, and lesson 06 compares CNNs with the field's classical restorers.

# %%
def add_noise(images01, sigma, rng):
    """Gaussian noise on images in [0, 1], clipped back to [0, 1]."""
    return np.clip(images01 + sigma * rng.standard_normal(images01.shape), 0, 1).astype(np.float32)


rng = np.random.default_rng(0)
clean_train = data.to_float_images(x_train, low=0.0, high=1.0)
clean_test = data.to_float_images(x_test, low=0.0, high=1.0)
noisy_train, noisy_test = add_noise(clean_train, 0.4, rng), add_noise(clean_test, 0.4, rng)

denoiser = keras.Sequential([
    keras.Input((28, 28, 1)),
    layers.Conv2D(32, 3, padding="same", activation="relu"),
    layers.Conv2D(32, 3, padding="same", activation="relu"),
    layers.Conv2D(1, 3, padding="same"),
], name="denoiser")
denoiser.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
start = time.perf_counter()
denoiser.fit(noisy_train, clean_train, epochs=EPOCHS, batch_size=32, verbose=0)
print(f"trained {denoiser.count_params():,} parameters for {EPOCHS} epoch(s) in {time.perf_counter() - start:.1f} s")

# %%
restored_test = np.clip(denoiser.predict(noisy_test, verbose=0), 0, 1)
restored = restored_test[:8]
mse_noisy = float(np.mean((noisy_test - clean_test) ** 2))
mse_restored = float(np.mean((restored_test - clean_test) ** 2))
blurred = {sigma: ndimage.gaussian_filter(noisy_test, sigma=(0, sigma, sigma, 0)) for sigma in (0.5, 0.75, 1.0, 1.5)}
mse_blur = {sigma: float(np.mean((b - clean_test) ** 2)) for sigma, b in blurred.items()}
best_sigma = min(mse_blur, key=mse_blur.get)
print(f"mean squared error vs the clean digits: noisy {mse_noisy:.4f}, best Gaussian blur (sigma {best_sigma}) "
      f"{mse_blur[best_sigma]:.4f}, CNN {mse_restored:.4f}")
assert mse_restored < mse_blur[best_sigma] < mse_noisy, "the CNN must beat the best classical blur, not just the input"
fig = viz.show_images(np.concatenate([noisy_test[:8], blurred[best_sigma][:8], restored, clean_test[:8]]), ncols=8,
                      title="Restoration — rows: noisy input, best Gaussian blur, CNN output, clean original")
plt.show()

# %% [markdown]
# ## 4. Where each article section is taught
#
# | article section (original title) | English | lesson |
# |---|---|---|
# | 1 背景介绍 | background | 00 (this lesson, §3: image synthesis before deep learning) |
# | 2 核心概念与联系 | core concepts and links | 00 (this lesson, §3) |
# | 3.1 生成对抗网络（GANs）: 3.1.1 基本概念, 3.1.2 算法原理 | GANs: concept, principle | 01_gan_objective |
# | 3.1.3 数学模型公式 | the GAN objective | 01_gan_objective (derived and checked; the article's "maximize L(G), minimize L(D)" corrected) |
# | 3.1.4 具体操作步骤 | the alternating training steps | 01_gan_objective (pseudocode + live 1-D GAN); 04_dcgan (the article's alternating update, measured against a simultaneous one and adopted; exercise 4 writes it with k D steps) |
# | 3.2 卷积神经网络（CNNs）: 3.2.1–3.2.3 | convolution and pooling, their math | 02_convolution_and_pooling |
# | 3.2.4 具体操作步骤 | a CNN's forward pass step by step | 02_convolution_and_pooling, 03_cnn_classifier |
# | 4.1 生成对抗网络（GANs）代码实例 | the GAN code listing | 04_dcgan (the broken listing diagnosed, then a working DCGAN), 05_gan_engineering (checkpoints, saved models, `fit()`, GPUs, the latent space), 08_colour_gans (the listing at its own size, 64×64×3: colour emoji) |
# | 4.2 卷积神经网络（CNNs）代码实例 | the CNN code listing | 03_cnn_classifier (made to run on real data; becomes the course's evaluator) |
# | 2 and 5: restoration, and its link with GANs | restoration with CNNs, pix2pix, SRGAN, Deep Image Prior | 06_image_restoration |
# | 2 核心概念与联系: 图像翻译 | image translation, a use of GANs the section names | 09_image_translation (pix2pix against CycleGAN on paired emoji, measured against the true drawings) |
# | 5 未来发展趋势与挑战 | trends and challenges | 07_trends_and_challenges (each challenge as an experiment); 08_colour_gans (更强大的生成模型: the Wasserstein family, spectral normalization, a colour evaluator) |
# | 6 结论 | conclusion | 07_trends_and_challenges |
# | 参考文献 | references | 07_trends_and_challenges (all 50 entries checked), `data/references.bib` |
#
# ## 5. Trends and challenges (the article's section 5)
#
# The article predicts "more powerful generative models", "smarter synthesis", "better image quality" and "stronger
# image processing", and names three challenges: too little data (数据不足), limited compute (计算资源限制) and opaque models
# (模型解释性问题). Lesson 07 turns each challenge into a measured experiment (a GAN on 500 digits with and without
# augmentation, a cost table of the course's models, a class-conditional GAN and latent directions) and shows where
# the field went since: StyleGAN, BigGAN, text-to-image models and diffusion models, with a diffusion model trained
# where lesson 01's GAN collapses. Lesson 08 takes the first trend, 更强大的生成模型 (stronger generative models), to colour
# images at the article's own 64×64×3: the Wasserstein distance, the gradient penalty and spectral normalization
# that made GANs train at larger sizes. Lesson 09 takes up a use of GANs that section 2 names, image translation
# (图像翻译), and measures pix2pix (paired) against CycleGAN (unpaired) on emoji drawn by Google and by Twitter. One challenge the article omits runs through the whole course:
# **evaluation**. A GAN's loss does not say how good its images are, so lesson 03 builds a Fréchet distance and a
# class-coverage check, and lesson 04 adds checks for memorization.
#
# ## 6. The reference list
#
# The article ends with 50 references. Each was checked against the publication itself; the verdicts are in
# `data/article_references.json` and the correct entries in `data/references.bib`. Lesson 07 shows the whole
# table: for each entry, what is wrong (authors, year, title, venue, pages, a duplicate, a work that does not exist
# as stated) and the correct citation. Counted from the record:

# %%
verdicts = json.loads((data.data_dir() / "article_references.json").read_text(encoding="utf-8"))
status = Counter(entry["status"] for entry in verdicts)
print(f"{len(verdicts)} entries: {status['correct']} correct, {status['errors']} with errors, "
      f"{status['duplicate']} duplicates of another entry, {status['not_found']} that do not exist as stated")
assert sum(status.values()) == len(verdicts) == 50

# %% [markdown]
# ## 7. Glossary (English – 中文)
#
# | English | 中文 | where |
# |---|---|---|
# | image synthesis | 图像合成 | 00 |
# | image restoration | 图像复原 / 图像恢复 (the article: 图像修复, which usually means inpainting) | 00, 06 |
# | inpainting | 图像修复 | 06 |
# | generative adversarial network (GAN) | 生成对抗网络 | 01, 04 |
# | generator / discriminator | 生成器 / 判别器 | 01, 04 |
# | noise, latent space | 噪声, 潜在空间 | 01, 04 |
# | data distribution | 数据分布 | 01 |
# | loss function, cross-entropy | 损失函数, 交叉熵 | 01 |
# | Jensen–Shannon divergence | JS 散度 | 01 |
# | mode collapse | 模式崩溃 | 01, 04 |
# | convolutional neural network (CNN) | 卷积神经网络 | 02, 03 |
# | convolution, filter (kernel) | 卷积, 滤波器（卷积核）; the article writes 过滤器 | 02 |
# | stride, padding, dilation | 步幅, 填充, 空洞（膨胀） | 02 |
# | pooling (max / average) | 池化（最大 / 平均） | 02 |
# | feature map, receptive field | 特征图, 感受野 | 02, 03 |
# | transposed convolution | 转置卷积 | 02, 04 |
# | backpropagation, gradient | 反向传播, 梯度 | 02 |
# | fully connected (dense) layer | 全连接层 | 03 |
# | batch normalization | 批归一化 | 04 |
# | optimizer (Adam) | 优化器 | 03, 04 |
# | Fréchet distance (FID) | Fréchet 距离 | 03, 04 |

# %% [markdown]
# ## Summary
#
# - The course runs the same way on a laptop (`make lab`), on Binder, on Colab and offline; the environment report
#   says what you are running on and where the data comes from.
# - MNIST loads through a checksummed, cached download; offline, the 5,000 real digits in `data/` are used, with a notice.
# - Before deep learning, images were rendered from hand-built scenes or copied patch by patch from examples
#   (texture synthesis, image quilting, exemplar-based inpainting, PatchMatch); learned models make what no example
#   holds, at the price of data and compute.
# - The article's section 2 splits synthesis into generation (GANs) and restoration (CNNs); in practice the two
#   overlap, and a GAN is built from CNNs.
# - Every section of the article has a lesson; the reference list needs the corrections above.
#
# ## Exercises
#
# **Exercise 1.** Write `class_counts(labels)` that returns how many images of each digit 0–9 there are,
# as an array of length 10 (zeros for digits that do not appear).

# %%
from course_utils.exercises import start as ex


def class_counts(labels):
    ### BEGIN SOLUTION
    return np.bincount(labels, minlength=10)
    ### END SOLUTION


# %%
_ = ex.check_class_counts(class_counts)

# %% [markdown]
# **Exercise 2.** A GAN's generator ends in `tanh`, whose outputs lie in [-1, 1]. Write `to_tanh_range(images)` that
# maps uint8 pixels 0..255 to float32 in [-1, 1] (0 → -1, 255 → 1).

# %%
def to_tanh_range(images):
    ### BEGIN SOLUTION
    return (images.astype(np.float32) / 127.5 - 1.0).astype(np.float32)
    ### END SOLUTION


# %%
_ = ex.check_scale_to_tanh_range(to_tanh_range)

# %% [markdown]
# ## Next
#
# [01_gan_objective](01_gan_objective.ipynb): the GAN objective of the article's section 3.1, derived, corrected and
# checked numerically, with a GAN you can train with sliders.
