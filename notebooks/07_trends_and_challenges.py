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
# # Trends and challenges as experiments: too little data, limited compute, control, and where the field went
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/image-synthesis-course/gans-and-cnns/blob/main/notebooks/07_trends_and_challenges.ipynb)
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/image-synthesis-course/gans-and-cnns/main?labpath=notebooks%2F07_trends_and_challenges.ipynb)
#
# ## Overview
#
# The source article ends with a list of trends (stronger generators, smarter and controllable synthesis, better
# image quality) and three challenges: too little data, limited compute, and models that are hard to interpret.
# It states them in one sentence each. This last lesson turns each challenge into a small experiment you run and
# measure on your own machine, tells where the field actually went since (with references you can check), trains a
# tiny diffusion model next to a GAN, and closes the course.
#
# **Learning objectives.** After this lesson you can
# - show a discriminator overfitting a small training set (its opinion of training digits against digits it never
#   saw) and reduce it with differentiable augmentation (DiffAugment) applied to real *and* fake images;
# - evaluate a generator honestly: FID against held-out digits, and a nearest-neighbour check for memorized
#   training digits;
# - measure what a model costs: parameters, floating-point operations (FLOPs) per image counted by hand and
#   checked, milliseconds per training step, memory, and the effect of the batch size;
# - train a class-conditional GAN, pick the digit it draws, and edit unconditional samples along latent directions
#   found from class means;
# - say in one paragraph each what StyleGAN, BigGAN, DALL·E and diffusion models changed, and train a tiny
#   denoising diffusion model and compare its mode coverage with a GAN's at equal seconds, over seeds.
#
# **Prerequisites.** Lesson 01 (the GAN objective, the ring of 8 Gaussians and its mode count), lesson 03 (the
# evaluator: `fid`, `class_coverage`, and its filter and feature-map views), lesson 04 (the DCGAN recipe, its
# training loop, monitoring and the memorization checks) and lesson 05 (checkpoints, mixed precision, the latent
# space).
#
# **Where this stands in the source article.** Section 5 "未来发展趋势与挑战" (future trends and challenges) and
# section 6 "结论" (conclusion). The reference list that follows them is corrected in section 6 below.

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
import resource
import time
from pathlib import Path

import ipywidgets as widgets
import keras
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display

from course_utils import checkpoints, claims, data, device, evaluator, memorization, pretrained, profiles, viz
from course_utils.exercises import trends as ex

config = device.setup(seed=7, training=True)  # a training lesson: GPU -> mixed precision + XLA; CPU -> float32
print(f"profile: {profiles.get_profile()}, device: {config.device_name}, mixed precision: {config.mixed_precision}, "
      f"XLA: {config.jit_compile}, Keras {keras.__version__}")
OUTPUTS = Path("outputs") / "07_trends_and_challenges"  # generated files (ignored by git)
OUTPUTS.mkdir(parents=True, exist_ok=True)
judge = evaluator.load_evaluator()
LESSON_START = time.perf_counter()

# %% [markdown]
# ## 1. Too little data
#
# The article: "image synthesis needs a lot of training data, but in practice there may not be enough". What
# *goes wrong* with too little? A GAN's discriminator is a classifier trained on the real images; with few of them
# it starts to **memorize** them. Its opinion of the training images then drifts away from its opinion of other
# real images of the same kind, its gradients stop telling the generator what digits look like in general, and
# quality falls. Karras et al. (2020) and Zhao et al. (2020) showed this on faces and other images with a few
# thousand training images or fewer [@karras2020training] [@zhao2020differentiable]. We show it with 500 digits.
#
# ### The data: 500 digits to train on, digits never seen to test with
#
# We take 50 digits of each class from the bundled training split (the same on every machine, online or not) and
# keep the 1,000 bundled held-out digits for testing. Before anything is trained, the two honest evaluation tools of
# `course_utils.memorization` (first used in lesson 04) give their baselines on *real* digits.

# %%
bundled = data.load_bundled_mnist()
rng = np.random.default_rng(0)
small_idx = np.sort(np.concatenate([rng.choice(np.flatnonzero(bundled.y_train == d), 50, replace=False)
                                    for d in range(10)]))
x_small, y_small = bundled.x_train[small_idx], bundled.y_train[small_idx]
x_held = bundled.x_test  # 1,000 digits, 100 per class, never used for training in this lesson
print(f"training digits: {len(x_small)} ({np.bincount(y_small).tolist()} per class); held out: {len(x_held)}")
N_REF = 500  # every FID below uses 500 images on every side (samples, training digits, held-out digits)
others = np.delete(bundled.x_train, small_idx, axis=0)[:N_REF]  # real digits outside the 500
real_fid = memorization.held_out_fid(others, train_images=x_small, held_out_images=x_held, n_reference=N_REF)
real_nn = memorization.nearest_neighbours(others, x_small, x_held)
copy_nn = memorization.nearest_neighbours(x_small, x_small, x_held)
print("real digits outside the training set:", real_fid, sep="\n  ")
print("  nearest neighbours:", real_nn)
print("the 500 training digits themselves:  ", copy_nn)
assert copy_nn.frac_below_p1 == 1.0 and real_nn.frac_below_p5 < 0.2

# %% [markdown]
# Real digits a generator never copied are about as far from their nearest training digit as the held-out
# digits are: few of them fall below the held-out digits' 1st or 5th percentile. Copies sit at distance 0. A
# generator's samples will be judged on that scale.
#
# ### Differentiable augmentation
#
# Augmenting only the real images would teach the generator to draw augmented digits (shifted, with holes). Zhao
# et al. (2020) apply the *same kind* of random transformation $T$ to real and fake images before D, and
# differentiate through it for the generator:
# $$L_D = \mathbb{E}_x\big[f(-D(T(x)))\big] + \mathbb{E}_z\big[f(D(T(G(z))))\big], \qquad
# L_G = \mathbb{E}_z\big[f(-D(T(G(z))))\big], \qquad f = \mathrm{softplus}.$$
# D never sees an un-augmented image, so it cannot memorize the 500 digits as they are, while $T$ is simple enough
# that the generator still learns to draw plain digits. Their policy for small grey-scale data is **translation**
# (lesson 04's `translate`, by up to 2 pixels) and **cutout**: a square of half the image's side set to 0 (mid-grey
# in the [-1, 1] range), at a random place, clipped at the border. Both are a gather and a multiplication: the
# gradient with respect to the image is the mask itself.

# %% tags=["export"]
import time

import keras
import numpy as np
import tensorflow as tf  # noqa: F811 (the cells tagged export also run on their own, in the tests)
from keras import layers

CUTOUT = 14  # half of 28 (Zhao et al., 2020: cutout ratio 0.5)


def cutout(images, centers, size=CUTOUT):
    """Set a size x size square of each image to 0: rows and columns [c - size//2, c - size//2 + size), clipped.

    `images` (n, h, w, c); `centers` (n, 2) int row and column of each square's centre. A multiplication by a
    0/1 mask, so gradients flow to the pixels that were kept."""
    h, w = images.shape[1], images.shape[2]
    centers = tf.cast(centers, tf.int32)
    top, left = centers[:, :1] - size // 2, centers[:, 1:] - size // 2
    rows, cols = tf.range(h)[None, :], tf.range(w)[None, :]
    in_rows = (rows >= top) & (rows < top + size)          # (n, h)
    in_cols = (cols >= left) & (cols < left + size)        # (n, w)
    hole = tf.logical_and(in_rows[:, :, None], in_cols[:, None, :])
    return images * tf.cast(tf.logical_not(hole), images.dtype)[..., None]


def random_cutout(images, seed, size=CUTOUT):
    """Cutout at random centres in [0, h + 1 - size % 2) (Zhao et al.'s range); `seed`: two int32s."""
    n, h = tf.shape(images)[0], images.shape[1]
    centers = tf.random.stateless_uniform([n, 2], seed, 0, h + 1 - size % 2, dtype=tf.int32)
    return cutout(images, centers, size)


# %% [markdown]
# Check it: the hole has the right size (a centre inside sets exactly size² pixels to 0, a centre at the corner
# a quarter of that, a centre on the last row 8 rows: 20 to 27), and the gradient is the mask.

# %%
ones = tf.ones([3, 28, 28, 1])
centers = tf.constant([[14, 14], [0, 0], [27, 10]])
with tf.GradientTape() as tape:
    tape.watch(ones)
    holed = cutout(ones, centers)
zeros = (28 * 28 - tf.reduce_sum(holed, axis=[1, 2, 3])).numpy().astype(int)
print("pixels set to 0 per image:", zeros.tolist())  # NBVAL_CHECK_OUTPUT
assert zeros.tolist() == [14 * 14, 7 * 7, 8 * 14]  # inside; corner (rows and columns 0..6); rows 20..27 x columns 3..16
assert np.allclose(tape.gradient(holed, ones), holed)  # d(x * mask)/dx = mask
viz.show_images(random_cutout(data.to_float_images(x_small[:8]), tf.constant([1, 2])).numpy(), ncols=8,
                title="training digits after cutout, as D sees them")
plt.show()

# %% [markdown]
# ### The course's DCGAN, with an augmentation switch
#
# The networks, the losses, the update, the weight average and the training loop are lesson 04's, loaded from its
# cells tagged `export` as lesson 05 loads them: the same layers and widths, the same Adam β₁, label smoothing and
# weight average. This lesson's recipe is lesson 04's `Recipe` value with four settings replaced
# (`dataclasses.replace`), and it is passed explicitly to every function that follows it: a constant learning rate
# of 1e-3 (`lr_final` equal to the starting rate: these short runs keep it throughout), no R1 penalty (so that
# augmentation is the only regularizer being compared), the simultaneous update (`update="simultaneous"`, the
# cheaper step of lesson 04's ablation), and 2-pixel shifts as DiffAugment's translation (lesson 04 dropped its
# shifts once it had R1). What is new here is `augment`: `()` for no augmentation at all, or
# `("translation", "cutout")` for DiffAugment, applied by lesson 04's `gan_update` to real *and* fake images. The
# training loop is lesson 04's `train_gan`: epochs of a fixed number of steps, a wall-clock budget, a checkpoint that
# survives a kernel restart (run the cell again and it resumes, adding another budget), and a per-epoch callback
# that records extra figures. The cells tagged `export` are what the tests run.

# %% tags=["export"]
import dataclasses
import functools

from course_utils import lessons

LESSON_04 = lessons.load_lesson_code("04_dcgan")  # the DCGAN: networks, losses, update, weight average, loop
NOISE_DIM = LESSON_04.NOISE_DIM
RECIPE = dataclasses.replace(LESSON_04.RECIPE, lr_final=LESSON_04.RECIPE.learning_rate,  # a constant rate
                             r1_gamma=0.0, update="simultaneous", translate=2)
translate = LESSON_04.translate  # lesson 04's random shift, filling with the background (lesson 08 uses it too)


def diff_augment(images, seed, policy):
    """DiffAugment: the transformations named in `policy` ("translation", "cutout"), in that order."""
    unknown = set(policy) - {"translation", "cutout"}
    if unknown:
        raise ValueError(f"policy may hold 'translation' and 'cutout', got {sorted(unknown)}")
    if "translation" in policy:
        images = translate(images, seed, shift=RECIPE.translate)
    if "cutout" in policy:
        images = random_cutout(images, seed + tf.constant([0, 7]))
    return images


def make_train_step(generator, discriminator, g_opt, d_opt, *, ema, policy=(), conditional=False, jit_compile=False):
    """Lesson 04's train step with this lesson's recipe and DiffAugment `policy` on real AND fake images; it updates
    the weight average `ema` too. A conditional GAN's step takes an (images, one-hot labels) batch."""
    step = LESSON_04.make_train_step(generator, discriminator, g_opt, d_opt, RECIPE, ema=ema, jit_compile=jit_compile,
                                     augment=functools.partial(diff_augment, policy=policy))
    return (lambda batch: step(batch[0], labels=batch[1])) if conditional else step


def sample(generator, noise, labels=None, batch=500):
    """Lesson 04's `sample`, with a conditional generator's one-hot labels as the third argument."""
    return LESSON_04.sample(generator, noise, batch=batch, labels=labels)


# %% [markdown]
# ### Two runs on 500 digits: without and with DiffAugment
#
# Both arms start from the same weights and see the same batches for the same training time. After every epoch
# we record FID of 500 samples against the 500 training digits and against 500 held-out digits, class coverage,
# and **D's mean opinion** $\overline{D(x)} = \mathrm{mean}\,\sigma(D(x))$ of the 500 training digits and of 500
# held-out digits, un-augmented. A discriminator that generalizes rates both alike; one that memorizes rates its
# training digits higher: the **D gap** $\overline{D(x_{\text{train}})} - \overline{D(x_{\text{held}})}$.

# %%
ARM_MINUTES = profiles.train_minutes(full=1.0, smoke=0.05)  # per arm; COURSE_TRAIN_MINUTES overrides
STEPS_PER_EPOCH = profiles.pick(full=100, smoke=10)
keras.config.set_dtype_policy(config.dtype_policy)  # the precision device.setup chose (mixed_float16 on a GPU)
x_small_f = data.to_float_images(x_small)
x_held_f = data.to_float_images(x_held[::2])  # 500 held-out digits, 50 per class
small_ds = (tf.data.Dataset.from_tensor_slices(x_small_f).repeat().shuffle(len(x_small_f), seed=7)
            .batch(RECIPE.batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE))
score_noise = tf.random.normal([N_REF, NOISE_DIM], seed=43)
print(f"{ARM_MINUTES:g} minutes of training per arm, epochs of {STEPS_PER_EPOCH} steps x {RECIPE.batch_size}")


# %%
def run_checkpoint(name, generator, discriminator, g_opt, d_opt, ema):
    """A GANCheckpoint for one of this lesson's runs, restored if it exists (the smoke profile starts afresh)."""
    run_dir = OUTPUTS / f"run-{profiles.get_profile()}" / name
    if profiles.is_smoke():
        shutil.rmtree(run_dir, ignore_errors=True)
    ckpt = checkpoints.GANCheckpoint(run_dir / "checkpoints", generator=generator, discriminator=discriminator,
                                     g_optimizer=g_opt, d_optimizer=d_opt, every_n_steps=250, extra={},
                                     ema_generator=ema)
    ckpt.restore()
    return ckpt


def d_opinion(discriminator, images):
    """Mean sigmoid(D(x)) over a batch, un-augmented, in inference mode."""
    return float(tf.reduce_mean(tf.sigmoid(tf.cast(discriminator(images, training=False), tf.float32))))


# %%
def run_arm(name, policy):
    keras.utils.set_random_seed(7)  # the same start for both arms
    generator, discriminator = LESSON_04.build_generator(RECIPE), LESSON_04.build_discriminator(RECIPE)
    ema, (g_opt, d_opt) = LESSON_04.make_ema(generator), LESSON_04.make_optimizers(RECIPE)
    step = make_train_step(generator, discriminator, g_opt, d_opt, ema=ema, policy=policy,
                           jit_compile=config.jit_compile)
    ckpt = run_checkpoint(name, generator, discriminator, g_opt, d_opt, ema)

    def score(epoch, means):
        fids = memorization.held_out_fid(sample(ema, score_noise), train_images=x_small, held_out_images=x_held,
                                         n_reference=N_REF)
        return {"fid_train": fids.train_fid, "fid_held_out": fids.held_out_fid,
                "coverage": judge.class_coverage(sample(ema, score_noise)).n_covered,
                "d_train": d_opinion(discriminator, x_small_f), "d_held": d_opinion(discriminator, x_held_f)}

    history = LESSON_04.train_gan(step, small_ds, steps_per_epoch=STEPS_PER_EPOCH, checkpoint=ckpt,
                                  budget_s=60 * ARM_MINUTES, on_epoch_end=score, progress=False)
    print(f"{name:14s} {ckpt.steps_done} steps in {sum(history['train_s']):.0f} s: FID train {history['fid_train'][-1]:.2f}"
          f", held-out {history['fid_held_out'][-1]:.2f}; D gap {history['d_train'][-1] - history['d_held'][-1]:+.3f}")
    return {"history": history, "ema": ema, "discriminator": discriminator, "steps": ckpt.steps_done}


arms = {"no augment": run_arm("no-augment", ()),
        "DiffAugment": run_arm("diffaugment", ("translation", "cutout"))}

# %% [markdown]
# ### What the two runs reached

# %%
fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
for (name, arm), color in zip(arms.items(), ("C3", "C0")):
    h = arm["history"]
    steps = np.cumsum(h["steps"])
    axes[0].plot(steps, h["d_train"], color=color, label=f"{name}: training digits")
    axes[0].plot(steps, h["d_held"], color=color, ls="--", label=f"{name}: held-out digits")
    axes[1].plot(steps, np.subtract(h["d_train"], h["d_held"]), color=color, label=name)
    axes[2].plot(steps, h["fid_held_out"], color=color, label=f"{name} (vs held-out)")
axes[0].set(title="D's mean opinion of real digits", xlabel="step", ylabel="mean sigmoid(D(x))")
axes[1].set(title="D gap: training minus held-out", xlabel="step")
axes[2].set(title="FID of 500 samples vs 500 held-out digits", xlabel="step", yscale="log")
for ax in axes:
    ax.legend(fontsize=7)
fig.tight_layout()
viz.save_figure(fig, OUTPUTS / "small_data_curves.png")
plt.show()

# %%
final = {}
for name, arm in arms.items():
    images = sample(arm["ema"], score_noise)
    final[name] = {"fid": memorization.held_out_fid(images, train_images=x_small, held_out_images=x_held,
                                                    n_reference=N_REF),
                   "coverage": judge.class_coverage(images),
                   "pixels": memorization.nearest_neighbours(images, x_small, x_held),
                   "features": memorization.nearest_neighbours(images, x_small, x_held, space="features"),
                   "d_gap": arm["history"]["d_train"][-1] - arm["history"]["d_held"][-1], "images": images}
print(f"{'arm':12s} {'steps':>5s} {'FID train':>9s} {'FID held':>8s} {'coverage':>8s} {'eff.cl.':>7s} "
      f"{'D gap':>6s} {'<p5 pix':>7s} {'<p5 feat':>8s}")
for name, f in final.items():
    print(f"{name:12s} {arms[name]['steps']:5d} {f['fid'].train_fid:9.2f} {f['fid'].held_out_fid:8.2f} "
          f"{f['coverage'].n_covered:6d}/10 {f['coverage'].effective_classes:7.2f} {f['d_gap']:+6.3f} "
          f"{f['pixels'].frac_below_p5:7.1%} {f['features'].frac_below_p5:8.1%}")
print(f"floor (real held-out digits vs the 500 training digits): FID {final['no augment']['fid'].real_baseline:.2f}")

# %%
fid_plain, fid_aug = final["no augment"]["fid"].held_out_fid, final["DiffAugment"]["fid"].held_out_fid
gap_plain, gap_aug = final["no augment"]["d_gap"], final["DiffAugment"]["d_gap"]
steps_plain, steps_aug = arms["no augment"]["steps"], arms["DiffAugment"]["steps"]
gaps_plain = np.subtract(arms["no augment"]["history"]["d_train"], arms["no augment"]["history"]["d_held"])
_ = claims.say(bool(fid_aug < fid_plain),
               f"DiffAugment lowered the held-out FID by {fid_plain - fid_aug:.2f} ({fid_plain:.2f} without it, "
               f"{fid_aug:.2f} with it).",
               f"DiffAugment did not lower the held-out FID here: it raised it by {fid_aug - fid_plain:.2f} "
               f"({fid_plain:.2f} without it, {fid_aug:.2f} with it), in {steps_aug} steps against {steps_plain} in "
               "the same time.")
_ = claims.say(bool(gaps_plain[-1] > gaps_plain[0]),
               f"Without augmentation the D gap grew from {gaps_plain[0]:+.3f} after the first epoch to "
               f"{gaps_plain[-1]:+.3f} after the last.",
               f"Without augmentation the D gap did not grow in this run ({gaps_plain[0]:+.3f} after the first epoch, "
               f"{gaps_plain[-1]:+.3f} after the last).")
_ = claims.claim(bool(gap_aug < gap_plain), f"DiffAugment kept the D gap smaller: {gap_aug:+.3f} against "
                 f"{gap_plain:+.3f} without augmentation.")
near_copies = max(final["no augment"]["pixels"].frac_below_p5, final["no augment"]["features"].frac_below_p5)
_ = claims.say(bool(near_copies <= 0.10),
               f"{near_copies:.1%} of the un-augmented arm's samples (in pixels or in features, whichever share is "
               "larger) are closer to a training digit than 95 % of held-out digits are; about 5 % is expected of "
               "samples that are not copies, so this run did not get as far as copying training digits.",
               f"{near_copies:.1%} of the un-augmented arm's samples (in pixels or in features, whichever share is "
               "larger) are closer to a training digit than 95 % of held-out digits are; about 5 % is expected of "
               "samples that are not copies: look for copies in the pairs below.")

# %% [markdown]
# Read the table with the curves, and the sentences printed under it, which say what this run measured. A D gap
# that grows means D's opinion of its 500 training digits is climbing away from its opinion of held-out digits:
# it is learning *these* digits rather than digits. With DiffAugment D never sees the same image twice, which is
# what should keep the gap small. The FID columns are the generator's side of the story: compare them with each
# other and with the floor (real digits score that against the same training digits), not with lesson 04's FID on
# 2,000 images, which uses other counts; each augmented step also augments both batches, so compare the steps
# column too (the same seconds need not give the same number of steps). The last two columns are the nearest-neighbour check: the share of samples closer
# to a training digit than 95 % of held-out real digits are (about 5 % for samples that are not copies). The
# discriminator's overfitting comes before any copying, and it is what the augmentation is meant to prevent. In
# the smoke profile (a few seconds of training) the numbers mean nothing.
#
# Here are the likeliest copies: the samples of the un-augmented arm nearest to a training digit, above the
# training digit they are nearest to.

# %%
nn = final["no augment"]["pixels"]
pick = nn.closest(8)
pairs = np.concatenate([final["no augment"]["images"][pick], x_small_f[nn.nearest_train[pick]]])
viz.show_images(pairs, ncols=8, title="top: closest samples (no augment); bottom: their nearest training digit")
print("their pixel distances:", np.round(nn.sample_distances[pick], 2).tolist(),
      f"(held-out digits: 1st percentile {np.quantile(nn.held_out_distances, 0.01):.2f})")

# %% [markdown]
# ## 2. Limited compute
#
# The article: "image synthesis needs a lot of computing resources for training and deployment". How much? We
# measure the course's models on the machine running this notebook: parameters, the floating-point operations
# (FLOPs) of one forward pass per image, milliseconds per training step, memory, and what the batch size changes.
#
# ### FLOPs, counted by hand
#
# A dense layer with $n_{in}$ inputs and $n_{out}$ outputs does $n_{in} n_{out}$ multiply-adds per image, i.e.
# $2 n_{in} n_{out}$ FLOPs. A convolution with a $k\times k$ kernel, $c_{in}$ input and $c_{out}$ output channels,
# producing an $H_{out}\times W_{out}$ map does $2k^2 c_{in} c_{out} H_{out} W_{out}$: each output value is a dot
# product of a $k\times k\times c_{in}$ patch with a filter. A transposed convolution scatters each of its
# $H_{in} W_{in}$ input pixels through the kernel: $2k^2 c_{in} c_{out} H_{in} W_{in}$. (Biases, batch norm and
# activations add one or a few operations per output value, a few percent here; we leave them out.)

# %% tags=["export"]
def layer_flops(layer):
    """Forward FLOPs per image of one Keras layer (2 per multiply-add); 0 for layers without a weight matrix."""
    if isinstance(layer, layers.Dense):
        return 2 * int(layer.kernel.shape[0]) * int(layer.kernel.shape[1])
    if isinstance(layer, (layers.Conv2D, layers.Conv2DTranspose)):
        kh, kw, a, b = (int(s) for s in layer.kernel.shape)  # Conv2D: (k, k, in, out); transposed: (k, k, out, in)
        spatial = layer.output.shape if isinstance(layer, layers.Conv2D) else layer.input.shape
        return 2 * kh * kw * a * b * int(spatial[1]) * int(spatial[2])
    return 0


def model_flops(model):
    """Forward FLOPs per image of a model: the sum over its layers (nested models included)."""
    return sum(model_flops(layer) if isinstance(layer, keras.Model) else layer_flops(layer) for layer in model.layers)


# %% [markdown]
# Check the convolution count on D's first layer: a convolution *is* a matrix product of the image's patches
# (one row per output position, $k^2 c_{in}$ values each) with the filters ($k^2 c_{in} \times c_{out}$), whose cost
# is $2 \cdot \text{rows} \cdot k^2 c_{in} \cdot c_{out}$. If the patches times the kernel give the layer's output, the
# layer does that many operations.

# %%
keras.config.set_dtype_policy("float32")  # measurements of section 2 in float32 (mixed precision has its own rows)
probe = LESSON_04.build_discriminator(RECIPE)
conv1 = next(layer for layer in probe.layers if isinstance(layer, layers.Conv2D))
x = tf.random.normal([1, 28, 28, 1], seed=3)
patches = tf.image.extract_patches(x, sizes=[1, 4, 4, 1], strides=[1, 2, 2, 1], rates=[1, 1, 1, 1], padding="SAME")
rows = tf.reshape(patches, [-1, 4 * 4 * 1])                        # (14*14, 16)
as_matmul = rows @ tf.reshape(conv1.kernel, [16, -1]) + conv1.bias  # (196, 32)
assert np.allclose(tf.reshape(as_matmul, [1, 14, 14, -1]), conv1(x), atol=1e-5)
matmul_flops = 2 * rows.shape[0] * rows.shape[1] * int(conv1.kernel.shape[-1])
assert layer_flops(conv1) == matmul_flops == 2 * 4 * 4 * 1 * 32 * 14 * 14
print(f"D's first convolution: {layer_flops(conv1):,} FLOPs per image (patch matrix {rows.shape[0]} x {rows.shape[1]}"  # NBVAL_CHECK_OUTPUT
      f" times {rows.shape[1]} x {conv1.kernel.shape[-1]})")

# %% [markdown]
# ### The cost table
#
# One training step of each model at batch 32, timed on this machine (after a warm-up, the median of several
# steps). A GAN's row is one step of the *pair* (D on a real and a fake batch, G through D). Memory: on a GPU the
# peak TensorFlow reports; on a CPU an estimate, 4 bytes × (4 × parameters for weights, gradients and Adam's two
# moments + batch × every layer's output, kept for the backward pass).

# %% tags=["export"]
def time_step(step, *args, repeats=10):
    """Median milliseconds of `step(*args)` over `repeats` calls, after 3 warm-up calls (tracing excluded)."""
    for _ in range(3):
        tf.nest.map_structure(lambda t: t.numpy() if hasattr(t, "numpy") else t, step(*args))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        tf.nest.map_structure(lambda t: t.numpy() if hasattr(t, "numpy") else t, step(*args))
        times.append(time.perf_counter() - start)
    return 1000.0 * float(np.median(times))


def memory_estimate_mb(models, batch):
    """4 bytes x (4 x parameters + batch x the outputs of every layer), in MB: weights, gradients, Adam, activations."""
    params = sum(m.count_params() for m in models)
    acts = sum(int(np.prod(layer.output.shape[1:])) for m in models for layer in m.layers
               if not isinstance(layer, keras.layers.InputLayer))
    return 4 * (4 * params + batch * acts) / 1e6


# %%
def classifier_step(model, opt):
    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, model(x, training=True)))
        opt.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
        return loss
    return step


def gan_pair(n_classes=0, batch=32, policy=("translation",)):
    g, d = LESSON_04.build_generator(RECIPE, n_classes), LESSON_04.build_discriminator(RECIPE, n_classes)
    step = make_train_step(g, d, *LESSON_04.make_optimizers(RECIPE), ema=LESSON_04.make_ema(g),
                           policy=policy, conditional=bool(n_classes), jit_compile=config.jit_compile)
    real = tf.constant(data.to_float_images(bundled.x_train[:batch]))
    args = ((real, tf.one_hot(bundled.y_train[:batch], 10)),) if n_classes else (real,)
    return g, d, step, args


def on_gpu_peak_mb(fn):
    """Run fn() and return TensorFlow's peak GPU memory in MB (None on a CPU)."""
    if not config.on_gpu:
        fn()
        return None
    tf.config.experimental.reset_memory_stats("GPU:0")
    fn()
    return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 1e6


# %%
REPEATS = profiles.pick(full=10, smoke=2)
cost_rows = []


def add_row(name, lesson, models, flops_per_image, step, args, batch=32, precision="float32"):
    ms = []
    peak = on_gpu_peak_mb(lambda: ms.append(time_step(step, *args, repeats=REPEATS)))
    memory = f"{peak:.0f} (peak)" if peak is not None else f"{memory_estimate_mb(models, batch):.0f} (est.)"
    gflops = 3 * flops_per_image * batch / (ms[0] / 1000) / 1e9  # a training step ~ 3 forward passes
    cost_rows.append((name, lesson, precision, sum(m.count_params() for m in models), flops_per_image, batch,
                      ms[0], gflops, memory))


cnn = keras.models.clone_model(judge.model)  # the evaluator's architecture with fresh weights (the judge stays as is)
add_row("evaluator CNN", "03", [cnn], model_flops(cnn), classifier_step(cnn, keras.optimizers.Adam()),
        (tf.constant(data.to_float_images(bundled.x_train[:32], low=0.0)), tf.constant(bundled.y_train[:32])))
g, d, step, args = gan_pair()
add_row("DCGAN G + D", "04", [g, d], model_flops(g) + 2 * model_flops(d), step, args)
g, d, step, args = gan_pair(n_classes=10)
add_row("conditional G + D", "07", [g, d], model_flops(g) + 2 * model_flops(d), step, args)

# %% [markdown]
# The same DCGAN step at other batch sizes. On an idle machine a bigger batch is expected to cost more per step but
# less per image, until the machine's cores are busy, where the time per image stops falling. Timings on a busy or
# shared machine are noisy, so the sentences printed under the table say what this run measured. (Lesson 04 chose
# batch 32 because, at an equal time budget, more and smaller steps got further than fewer big ones.)

# %%
for batch in profiles.pick(full=(16, 64, 128), smoke=()):
    g, d, step, args = gan_pair(batch=batch)
    add_row("DCGAN G + D", "04", [g, d], model_flops(g) + 2 * model_flops(d), step, args, batch=batch)
if config.on_gpu:  # mixed precision: float16 maths with float32 master weights and loss scaling (lesson 05)
    keras.config.set_dtype_policy("mixed_float16")
    for batch in (32, 128):
        g, d, step, args = gan_pair(batch=batch)
        add_row("DCGAN G + D", "04", [g, d], model_flops(g) + 2 * model_flops(d), step, args, batch=batch,
                precision="mixed_float16")
    keras.config.set_dtype_policy("float32")
else:
    print("no GPU here: the mixed-precision rows are measured only where a GPU is present")

# %% [markdown]
# The two small 2-D models of section 4 (lesson 01's ring GAN and the diffusion model's denoiser) join the table
# when they are built. Until then, the image models:

# %%
def show_cost_table():
    print(f"{'model':18s} {'lesson':6s} {'precision':13s} {'params':>9s} {'MFLOPs/img':>10s} {'batch':>5s} "
          f"{'ms/step':>8s} {'us/img':>7s} {'GFLOP/s':>8s} {'memory MB':>12s}")
    for name, lesson, prec, params, flops, batch, ms, gflops, memory in cost_rows:
        print(f"{name:18s} {lesson:6s} {prec:13s} {params:9,d} {flops / 1e6:10.2f} {batch:5d} {ms:8.1f} "
              f"{1000 * ms / batch:7.0f} {gflops:8.2f} {memory:>12s}")


show_cost_table()
by_batch = sorted((row[5], row[6]) for row in cost_rows if row[0] == "DCGAN G + D" and row[2] == "float32")
if len(by_batch) > 1:
    batches, ms_step = [b for b, _ in by_batch], np.array([ms for _, ms in by_batch])
    us_image = 1000 * ms_step / np.array(batches)
    listed = ", ".join(f"{us:.0f} at {b}" for b, us in zip(batches, us_image))
    _ = claims.say(bool(np.all(np.diff(us_image) < 0)),
                   f"Here the time per image fell at every larger batch (µs per image: {listed}).",
                   f"Here the time per image did not fall steadily with the batch (µs per image: {listed}); it was "
                   f"lowest at batch {batches[int(np.argmin(us_image))]}.")
    steps_listed = ", ".join(f"{ms:.0f} at {b}" for b, ms in zip(batches, ms_step))
    _ = claims.say(bool(np.all(np.diff(ms_step) > 0)),
                   f"The time per step rose with the batch (ms per step: {steps_listed}).",
                   f"The time per step did not rise steadily with the batch (ms per step: {steps_listed}): timings on "
                   "a busy machine are noisy; run the cell again to see how much they vary.")
else:
    print("(smoke profile: the DCGAN step is timed at batch 32 only)")

# %% [markdown]
# What the table says: these are *small* models (the GAN pair has under a million parameters and costs tens of
# MFLOPs per image; StyleGAN2's generator alone has about 30 million parameters and its paper reports training
# times in GPU-*weeks* [@karras2020analyzing]). The GFLOP/s column (a training step counted as three forward
# passes) is the useful work done per second; on a CPU it stays far below the processor's peak, because layers
# this small cannot keep its cores busy. How the time per image and per step moved with the batch on this machine
# is in the two sentences printed under the table; a larger batch stops paying per image once the cores are busy.
# Lesson 04's recipe was tuned for exactly this trade-off: see the time-to-quality benchmark in [benchmarks/README.md](../benchmarks/README.md), which
# measures how long the course's recipe and the TensorFlow tutorial's need to reach the same FID on one machine.
#
# ## 3. Control and interpretability
#
# The article's trend "smarter image synthesis" means choosing what is generated; its challenge "interpretability"
# means knowing what a network does. Two simple tools for each.
#
# ### A class-conditional GAN
#
# Mirza and Osindero (2014) fed the label $y$ to both players [@mirza2014conditional]: $G(z, y)$ draws a digit of
# class $y$, $D(x, y)$ judges whether $x$ is a real digit *of class y*. The game is lesson 01's with every term
# conditioned on $y$:
# $$\min_G \max_D \; \mathbb{E}_{(x,y)}\big[\log D(x, y)\big] + \mathbb{E}_{z, y}\big[\log(1 - D(G(z, y), y))\big].$$
# A generator that ignores $y$ now loses: D rejects a well-drawn 3 offered as a 7. Lesson 04's
# `build_generator(n_classes=10)` concatenates the one-hot label with the noise; `build_discriminator(n_classes=10)`
# stacks ten constant planes
# (one per class, the label's plane all ones) onto the image. Check the conditioning reaches D: the same image
# with two different labels must get two different logits, and the generator's output must depend on the label.

# %%
keras.config.set_dtype_policy(config.dtype_policy)
keras.utils.set_random_seed(8)
cond_g = LESSON_04.build_generator(RECIPE, n_classes=10)
cond_d = LESSON_04.build_discriminator(RECIPE, n_classes=10)
z = tf.random.normal([2, NOISE_DIM])
as_3, as_7 = tf.one_hot([3, 3], 10), tf.one_hot([7, 7], 10)
img = cond_g([z, as_3])
assert img.shape == (2, 28, 28, 1)
assert not np.allclose(cond_d([img, as_3]), cond_d([img, as_7]))          # D reads the label
assert not np.allclose(cond_g([z, as_3]), cond_g([z, as_7]), atol=1e-4)    # so does G
print(f"conditional generator {cond_g.count_params():,} parameters, discriminator {cond_d.count_params():,}")  # NBVAL_CHECK_OUTPUT

# %% [markdown]
# Train it on the course's digits with 2-pixel shifts (lesson 04's `translate`), to a time budget, and measure control: draw 100
# digits of each class and ask the evaluator of lesson 03 what they are. **Label accuracy** is the share it
# classifies as the class asked for (10 % would mean the label is ignored).

# %%
COND_MINUTES = profiles.train_minutes(full=0.75, smoke=0.05)
mnist = data.load_mnist()
cond_ds = (tf.data.Dataset.from_tensor_slices((data.to_float_images(mnist.x_train), tf.one_hot(mnist.y_train, 10)))
           .repeat().shuffle(10_000, seed=8).batch(RECIPE.batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE))
cond_ema, (cg_opt, cd_opt) = LESSON_04.make_ema(cond_g), LESSON_04.make_optimizers(RECIPE)
cond_step = make_train_step(cond_g, cond_d, cg_opt, cd_opt, ema=cond_ema, policy=("translation",), conditional=True,
                            jit_compile=config.jit_compile)
cond_ckpt = run_checkpoint("conditional", cond_g, cond_d, cg_opt, cd_opt, cond_ema)
ask = np.repeat(np.arange(10), 100)
ask_noise, ask_onehot = tf.random.normal([1000, NOISE_DIM], seed=44), tf.one_hot(ask, 10)


def label_accuracy(epoch, means):
    images = sample(cond_ema, ask_noise, ask_onehot)
    return {"label_accuracy": judge.accuracy(images, ask), "fid": judge.fid(images)}


cond_history = LESSON_04.train_gan(cond_step, cond_ds, steps_per_epoch=STEPS_PER_EPOCH * 2, checkpoint=cond_ckpt,
                                   budget_s=60 * COND_MINUTES, on_epoch_end=label_accuracy, progress=False)
print(f"conditional GAN: {cond_ckpt.steps_done} steps in {sum(cond_history['train_s']):.0f} s; label accuracy "
      f"{cond_history['label_accuracy'][-1]:.1%} (chance: 10%), FID {cond_history['fid'][-1]:.2f} on 1,000 images "
      f"vs the shipped training statistics")

# %% [markdown]
# Pick the digit (and the noise) yourself. The grid draws 16 samples of the class you choose from the weight
# average of the generator just trained.

# %%
def _show_class(digit, seed):
    noise = tf.random.normal([16, NOISE_DIM], seed=seed)
    images = sample(cond_ema, noise, tf.one_hot([digit] * 16, 10))
    predicted = judge.predict(images).argmax(axis=1)
    viz.show_images(images, ncols=16, labels=[str(p) for p in predicted], size=0.7,
                    title=f"asked for {digit}; the evaluator reads (labels) {np.mean(predicted == digit):.0%} as {digit}")
    plt.show()


digit_picker = widgets.IntSlider(value=3, min=0, max=9, description="digit")
noise_picker = widgets.IntSlider(value=0, min=0, max=99, description="noise seed")
display(widgets.VBox([widgets.HBox([digit_picker, noise_picker]),
                      widgets.interactive_output(_show_class, {"digit": digit_picker, "seed": noise_picker})]))

# %% [markdown]
# ### Latent directions from class means
#
# An unconditional generator has no label input, yet its latent space is organized: the noise vectors whose
# samples the evaluator reads as a 4 cluster somewhere. The simplest way to find a direction that turns one class
# into another is the difference of the class means in latent space,
# $$d_{a\to b} = \bar z_b - \bar z_a, \qquad \bar z_c = \frac{1}{|\{i: c_i = c\}|}\sum_{i:\,c_i = c} z_i ,$$
# where $c_i$ is the evaluator's class for $G(z_i)$. An edit moves a latent vector along it,
# $z' = z + t\, d_{a\to b}$. (GANSpace [@harkonen2020ganspace] finds directions by principal components, InterFaceGAN
# [@shen2020interpreting] by linear classifiers in latent space; class means are their simplest relative.) We use
# the course's fully trained DCGAN generator (lesson 04), so the edits show a well-trained latent space.

# %%
keras.config.set_dtype_policy("float32")
course_g = LESSON_04.build_generator()
record = pretrained.load_trained_generator(course_g)
N_LATENT = profiles.pick(full=10_000, smoke=2_000)
z_all = tf.random.normal([N_LATENT, NOISE_DIM], seed=45).numpy()
probs = judge.predict(sample(course_g, z_all))
classes, sure = probs.argmax(axis=1), probs.max(axis=1) > 0.9
class_means = np.stack([z_all[sure & (classes == c)].mean(axis=0) for c in range(10)])
print(f"the course's generator ({record['steps']:,} steps): {sure.mean():.0%} of {N_LATENT:,} samples classified "
      f"with confidence > 0.9; per class {np.bincount(classes[sure], minlength=10).tolist()}")
c = 4  # the formula, checked on one class
assert np.allclose(class_means[c], z_all[sure & (classes == c)].sum(axis=0) / np.sum(sure & (classes == c)))

# %%
EDITS = ((1, 7), (4, 9), (3, 8))
N_EDIT = 100  # starting vectors per edit (the panels show the first 6)
steps_t = np.array([0.0, 0.5, 1.0, 1.5, 2.0])
fig, axes = plt.subplots(1, len(EDITS), figsize=(12, 4.4))
for ax, (a, b) in zip(axes, EDITS):
    direction = class_means[b] - class_means[a]
    starts = z_all[sure & (classes == a)][:N_EDIT]
    images = sample(course_g, np.concatenate([starts + t * direction for t in steps_t]))
    reads_b = [np.mean(judge.predict(images[i * N_EDIT:(i + 1) * N_EDIT]).argmax(1) == b) for i in range(len(steps_t))]
    shown = np.concatenate([images[i * N_EDIT:i * N_EDIT + 6] for i in range(len(steps_t))])
    ax.imshow(viz.image_grid(shown, ncols=6), cmap="gray")  # one row per t, one column per starting vector
    ax.set_title(f"{a} -> {b}, rows t = {', '.join(f'{t:g}' for t in steps_t)}\nread as {b}: "
                 + ", ".join(f"{r:.0%}" for r in reads_b), fontsize=9)
    ax.axis("off")
    print(f"edit {a} -> {b}: share of the {len(starts)} edited samples the evaluator reads as {b}, per t: "
          + ", ".join(f"t={t:g}: {r:.0%}" for t, r in zip(steps_t, reads_b)))
    claims.say(bool(np.all(np.diff(reads_b) >= 0) and reads_b[-1] > reads_b[0]),
               f"  the share read as {b} grows with t, from {reads_b[0]:.0%} to {reads_b[-1]:.0%}",
               f"  the share read as {b} does not grow steadily with t ({reads_b[0]:.0%} at t = 0, peak "
               f"{max(reads_b):.0%}, {reads_b[-1]:.0%} at t = {steps_t[-1]:g})")
fig.tight_layout()
plt.show()

# %% [markdown]
# Each panel shows six latent vectors of class $a$ (one per column), moved by $t\, d_{a\to b}$ (one row per $t$);
# the printed shares, over 100 starting vectors per edit, say how many the evaluator reads as $b$ at each step,
# and the line under each says whether that share grows with $t$. Where it does, a single straight direction,
# found by averaging, steers the class of an unconditional generator; where a share stays low or falls back, not
# every starting point follows it. Look also at what else changes (stroke width, slant): things that differ
# between the two groups on average: the direction is correlated, not disentangled, the problem StyleGAN's mapping
# network was built to reduce.
#
# ### What does the evaluator look at?
#
# Lesson 03 opened the evaluator itself: its first-layer filters (small stroke detectors) and the feature maps of a
# real digit, in "What did it learn?" of [03_cnn_classifier](03_cnn_classifier.ipynb). One more view completes it:
# a **saliency map** [@simonyan2014deep], the gradient of the predicted class's probability with respect to each
# pixel, $\partial p_c / \partial x$: where a small change of ink would change the evaluator's mind most.

# %%
digits_in = tf.constant(sample(cond_ema, tf.random.normal([8, NOISE_DIM], seed=46), tf.one_hot(np.arange(8), 10)))
x01 = (digits_in + 1.0) / 2.0  # the evaluator reads images in [0, 1]
with tf.GradientTape() as tape:
    tape.watch(x01)
    p = tf.cast(judge.model(x01, training=False), tf.float32)  # float16 under mixed precision
    chosen = tf.reduce_sum(p * tf.one_hot(tf.argmax(p, axis=1), 10), axis=1)
saliency = tf.abs(tape.gradient(chosen, x01)).numpy()
saliency /= saliency.max(axis=(1, 2, 3), keepdims=True) + 1e-12
viz.show_images(np.concatenate([x01.numpy(), saliency]), ncols=8, value_range=(0, 1),
                title="conditional samples 0-7 (top) and the evaluator's saliency (bottom: bright = sensitive)")
plt.show()

# %% [markdown]
# ## 4. Where the field went
#
# The article expected "more powerful generative models" and "better image quality". Here is what came, with the
# papers to read (section 6 lists them correctly).
#
# **StyleGAN and StyleGAN2.** Karras, Laine and Aila (2019) rebuilt the generator [@karras2019style]: the noise
# $z$ first passes through an 8-layer mapping network to an intermediate latent $w$, and $w$ sets the scale and bias
# of the feature maps at every resolution (adaptive instance normalization, "styles"), with per-pixel noise for
# stochastic detail. Coarse layers then control pose and shape, fine layers texture and colour, and mixing styles
# from two latents edits one without the other: a far more disentangled latent space than the class-mean
# directions of section 3. StyleGAN2 [@karras2020analyzing] removed its characteristic "droplet" artefacts by
# replacing the normalization with weight demodulation, dropped progressive growing, and added a path-length
# regularizer that makes the mapping from $w$ to images smoother. With adaptive discriminator augmentation
# [@karras2020training], the same family trains on a few thousand images: section 1's problem, solved at scale.
#
# **BigGAN.** Brock, Donahue and Simonyan (2019) asked what class-conditional GANs gain from scale
# [@brock2019large]: batches of 2,048, about 160 million parameters in generator and discriminator together,
# ImageNet at up to 512×512 pixels. The
# labels enter through class-conditional batch normalization in G and a projection in D; spectral normalization
# [@miyato2018spectral] and self-attention [@zhang2019self] keep training stable, orthogonal regularization makes
# the "truncation trick" work (sampling $z$ from a truncated normal trades variety for fidelity). It raised the
# Inception Score on ImageNet 128×128 from 52.5 to 166.5: section 3's conditional GAN, grown by four orders of
# magnitude of compute (section 2).
#
# **Text-to-image: DALL·E.** Ramesh et al. (2021) replaced the class label with a sentence [@ramesh2021zero]: a
# discrete variational autoencoder compresses each 256×256 image into 32×32 tokens, and a 12-billion-parameter
# transformer learns to continue a caption's text tokens with image tokens; samples are reranked by CLIP. It is not
# a GAN at all. Its first author is Aditya Ramesh, of OpenAI; of the three DCGAN authors the article names as its
# authors, only Alec Radford is among its eight co-authors (the article's reference 2, checked in
# `data/article_references.json`). Its successor DALL·E 2 [@ramesh2022hierarchical] and latent diffusion (Stable Diffusion)
# [@rombach2022high] generate with diffusion instead.
#
# **Diffusion models.** Sohl-Dickstein et al. (2015) proposed learning to *reverse* a slow process that destroys
# data by adding noise [@sohldickstein2015deep]; Ho, Jain and Abbeel (2020) made it work for images
# [@ho2020denoising] (denoising diffusion probabilistic models, DDPM): a network $\epsilon_\theta(x_t, t)$ learns to
# predict the noise in a noised image, a plain regression with no adversary, and sampling runs the noising
# backwards step by step. Score-based models [@song2021score] are the same idea in continuous time; improved
# schedules and guidance [@nichol2021improved] [@dhariwal2021diffusion] made diffusion beat BigGAN on ImageNet.
# Their advantage is exactly lesson 01's weakness: trained by regression on every region of the data, they do not
# collapse onto a few modes. Their cost is sampling: hundreds of network evaluations per image instead of one.
#
# ### A tiny diffusion model on lesson 01's ring
#
# The forward process adds Gaussian noise in $T$ small steps with variances $\beta_1, \dots, \beta_T$:
# $q(x_t \mid x_{t-1}) = \mathcal N(\sqrt{1-\beta_t}\, x_{t-1}, \beta_t I)$. Composing Gaussians gives any step in one go,
# with $\alpha_t = 1 - \beta_t$ and $\bar\alpha_t = \prod_{s \le t} \alpha_s$:
# $$q(x_t \mid x_0) = \mathcal N\big(\sqrt{\bar\alpha_t}\, x_0,\; (1 - \bar\alpha_t) I\big), \qquad
# x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\, \epsilon, \quad \epsilon \sim \mathcal N(0, I).$$
# Check it: run the one-step process $t$ times and compare with the closed form.

# %% tags=["export"]
T_STEPS = 200
BETAS = np.linspace(1e-4, 0.05, T_STEPS).astype(np.float32)  # linear schedule (Ho et al., 2020), shortened
ALPHA_BARS = np.cumprod(1.0 - BETAS).astype(np.float32)


def q_sample(x0, t, noise):
    """x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise, for integer steps t in [0, T) (t = 0 is one step of noise)."""
    abar = tf.gather(ALPHA_BARS, t)[:, None]
    return tf.sqrt(abar) * x0 + tf.sqrt(1.0 - abar) * noise


# %%
sim_rng = np.random.default_rng(0)
x0 = np.tile([[1.0, -0.5]], (20_000, 1))
x = x0.copy()
t_check = 60
for s in range(t_check + 1):  # steps 0..t_check of q(x_t | x_{t-1})
    x = np.sqrt(1 - BETAS[s]) * x + np.sqrt(BETAS[s]) * sim_rng.standard_normal(x.shape)
closed = q_sample(x0.astype(np.float32), np.full(len(x0), t_check), sim_rng.standard_normal(x0.shape).astype(np.float32))
assert np.allclose(x.mean(0), np.sqrt(ALPHA_BARS[t_check]) * x0[0], atol=0.02)
assert np.allclose(x.var(0), 1 - ALPHA_BARS[t_check], atol=0.02)
assert np.allclose(x.mean(0), np.asarray(closed).mean(0), atol=0.02) and np.allclose(x.var(0), np.asarray(closed).var(0), atol=0.02)
print(f"after {t_check + 1} steps: mean {x.mean(0).round(3).tolist()}, variance {x.var(0).round(3).tolist()}; "
      f"closed form: mean {(np.sqrt(ALPHA_BARS[t_check]) * x0[0]).round(3).tolist()}, variance "
      f"{1 - ALPHA_BARS[t_check]:.3f}; at t = T, sqrt(abar) = {np.sqrt(ALPHA_BARS[-1]):.3f} (almost pure noise)")

# %% [markdown]
# The network $\epsilon_\theta(x_t, t)$ is a small MLP fed $x_t$ and a sinusoidal embedding of $t$; it is trained on
# $\lVert \epsilon - \epsilon_\theta(\sqrt{\bar\alpha_t} x_0 + \sqrt{1-\bar\alpha_t}\,\epsilon, t)\rVert^2$ with a random $t$
# per example (Ho et al.'s simplified loss). Sampling starts from $x_T \sim \mathcal N(0, I)$ and steps back:
# $$x_{t-1} = \frac{1}{\sqrt{\alpha_t}}\Big(x_t - \frac{\beta_t}{\sqrt{1-\bar\alpha_t}}\, \epsilon_\theta(x_t, t)\Big) + \sqrt{\beta_t}\, z,
# \qquad z \sim \mathcal N(0, I) \text{ (none at the last step)}.$$
# The ring is scaled by 1/2 (radius 1) so the data and the noise have similar sizes.

# %% tags=["export"]
def time_embedding(t, dim=16):
    """Sinusoidal embedding of integer steps t: (n,) -> (n, dim)."""
    freqs = tf.exp(-np.log(1000.0) * tf.range(dim // 2, dtype=tf.float32) / (dim // 2))
    angles = tf.cast(t, tf.float32)[:, None] * freqs[None, :]
    return tf.concat([tf.sin(angles), tf.cos(angles)], axis=1)


def build_denoiser(width=128):
    """epsilon_theta: [x_t (2), embedding of t (16)] -> predicted noise (2)."""
    inputs = keras.Input((2 + 16,))
    h = inputs
    for _ in range(3):
        h = layers.Dense(width, activation="silu")(h)
    return keras.Model(inputs, layers.Dense(2)(h), name="denoiser")


def make_diffusion_step(model, opt):
    @tf.function
    def step(x0):
        t = tf.random.uniform([tf.shape(x0)[0]], 0, T_STEPS, dtype=tf.int32)
        noise = tf.random.normal(tf.shape(x0))
        with tf.GradientTape() as tape:
            pred = model(tf.concat([q_sample(x0, t, noise), time_embedding(t)], axis=1), training=True)
            loss = tf.reduce_mean(tf.square(noise - pred))
        opt.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
        return loss
    return step


# %% tags=["export"]
def diffusion_sample(model, n, seed=0):
    """Ancestral DDPM sampling from x_T ~ N(0, I) down to x_0, with sigma_t^2 = beta_t (no noise at the last step)."""
    @tf.function
    def step_back(x, t, z):
        beta, abar = tf.gather(BETAS, t), tf.gather(ALPHA_BARS, t)
        eps = model(tf.concat([x, time_embedding(tf.fill([n], t))], axis=1), training=False)
        return (x - beta / tf.sqrt(1.0 - abar) * eps) / tf.sqrt(1.0 - beta) + tf.sqrt(beta) * z

    x = tf.random.stateless_normal([n, 2], [seed, 0])
    for t in range(T_STEPS - 1, -1, -1):
        z = tf.random.stateless_normal([n, 2], [seed, t + 1]) if t > 0 else tf.zeros([n, 2])
        x = step_back(x, tf.constant(t), z)
    return x.numpy()


# %% [markdown]
# The GAN side is lesson 01's experiment: a generator and a discriminator of the same size (two hidden layers of
# 64), Algorithm 1 with one D step per G step. The comparison is at equal compute: for each seed, the GAN trains
# for as many seconds as the diffusion model of that seed took to train and to draw its samples.

# %% tags=["export"]
from course_utils import mixtures


LESSON_01 = lessons.load_lesson_code("01_gan_objective")  # the ring GAN's networks and Algorithm 1's loop


def train_ring_gan(steps=None, g_steps=1, seed=0, std=0.05, batch=256, seconds=None):
    """Lesson 01's balanced ring GAN (two ReLU layers of 64 on each side, the non-saturating loss, Adam 1e-3 with
    beta_1 0.5, k = 1) for `steps` steps or until `seconds` have passed (drawing the samples included): returns
    2,000 samples, its networks and the steps taken."""
    start = time.perf_counter()
    keras.utils.set_random_seed(seed)
    g, d = LESSON_01.mlp(64, 2, 2, "relu"), LESSON_01.mlp(64, 2, 1, "relu")
    rng = np.random.default_rng(seed)
    history = LESSON_01.train_gan(g, d, lambda n: mixtures.sample_ring(n, std=std, seed=rng), noise_dim=2,
                                  steps=steps, g_steps=g_steps, batch=batch,
                                  seconds=None if seconds is None else seconds - (time.perf_counter() - start))
    return g(tf.random.normal([2000, 2])).numpy(), g, d, len(history["d_loss"])


# %%
keras.config.set_dtype_policy("float32")
RING_STD = 0.05
centers = mixtures.ring_centers(8, radius=2.0)
DIFFUSION_STEPS = profiles.pick(full=2500, smoke=100)
RING_SEEDS = profiles.pick(full=(0, 1, 2), smoke=(0,))
runs = {}  # (model, seed) -> (2,000 samples, seconds of training and sampling, training steps)
for seed in RING_SEEDS:
    keras.utils.set_random_seed(seed)
    denoiser = build_denoiser()
    diff_step = make_diffusion_step(denoiser, keras.optimizers.Adam(2e-3))
    ring_rng = np.random.default_rng(seed + 1)
    start = time.perf_counter()
    for _ in range(DIFFUSION_STEPS):
        loss = diff_step(tf.constant(mixtures.sample_ring(512, std=RING_STD, seed=ring_rng) / 2.0))
    points = 2.0 * diffusion_sample(denoiser, 2000, seed=seed)
    runs["diffusion (DDPM)", seed] = (points, time.perf_counter() - start, DIFFUSION_STEPS)
    start = time.perf_counter()  # the GAN gets the same seconds
    points, ring_g, ring_d, gan_steps = train_ring_gan(seconds=runs["diffusion (DDPM)", seed][1], seed=seed)
    runs["GAN, k = 1", seed] = (points, time.perf_counter() - start, gan_steps)
cov = {key: mixtures.mode_coverage(points, centers, RING_STD) for key, (points, _, _) in runs.items()}
for (name, seed), (_, seconds, n_steps) in runs.items():
    print(f"{name:17s} seed {seed}: {cov[name, seed].summary()}; {n_steps:5d} steps, {seconds:.1f} s "
          "(training and sampling)")
modes = {name: [cov[name, seed].modes_covered for seed in RING_SEEDS] for name in ("diffusion (DDPM)", "GAN, k = 1")}
for name, m in modes.items():
    print(f"{name:17s} modes covered over seeds {list(RING_SEEDS)}: {m} (mean {np.mean(m):.1f}, range {min(m)} to {max(m)})")
_ = claims.say(min(modes["diffusion (DDPM)"]) > max(modes["GAN, k = 1"]),
               "At equal seconds, every diffusion run covers more modes than every GAN run.",
               "At equal seconds, the seeds overlap: some GAN run covers as many modes as some diffusion run.")

# %%
ring = mixtures.sample_ring(2000, std=RING_STD, seed=0)
lim = float(np.clip(max(np.abs(p).max() for p, _, _ in runs.values()) * 1.05, 3, 8))
fig, axes = plt.subplots(2, len(RING_SEEDS), figsize=(3.4 * len(RING_SEEDS), 7), sharex=True, sharey=True,
                         squeeze=False)
for ax, ((name, seed), (points, _, _)) in zip(axes.T.flat, runs.items()):
    ax.scatter(ring[:, 0], ring[:, 1], s=2, color="C0", alpha=0.3, label="data")
    ax.scatter(points[:, 0], points[:, 1], s=2, color="C1", alpha=0.5, label="generated")
    ax.set(aspect="equal", xlim=(-lim, lim), ylim=(-lim, lim))
    ax.set_title(f"{name}, seed {seed}\n{cov[name, seed].summary()}", fontsize=8)
axes[0, 0].legend(loc="lower left", fontsize=8)
fig.tight_layout()
viz.save_figure(fig, OUTPUTS / "diffusion_vs_gan.png")
plt.show()
if not profiles.is_smoke():  # in the smoke profile (100 steps) the model has not learned yet
    assert cov["diffusion (DDPM)", 0].modes_covered >= 7, cov["diffusion (DDPM)", 0].summary()

# %% [markdown]
# Read the modes covered per seed, and the spread over seeds, and look at where the GAN's points that miss a mode
# go. Lesson 01 showed the difference between collapse (the points crowd onto a few modes) and points strewn off
# the ring between modes (low quality, not collapse): the coverage counts only points near a mode, so both lower
# it, for different reasons. The sentence printed above says which model covered more at equal seconds. Where
# diffusion wins, the reason is in its loss: the denoiser is trained by plain regression on noised points from
# *every* mode, at every noise level, so no region of the data can be ignored, while a GAN's generator only
# learns where the current D points it. The price is in the sampling: each diffusion sample took 200 evaluations
# of the network, a GAN's one. The two 2-D models join the cost table:

# %%
ring_opts = LESSON_04.make_optimizers(RECIPE)
RING_RECIPE = dataclasses.replace(RECIPE, translate=0)  # 2-D points: no image shifts
ring_pair_step = tf.function(lambda: LESSON_04.gan_update(ring_g, ring_d, *ring_opts, tf.constant(ring[:256]),
                                                          tf.random.normal([256, 2]), RING_RECIPE))
add_row("ring GAN G + D", "01", [ring_g, ring_d], model_flops(ring_g) + 2 * model_flops(ring_d), ring_pair_step, (),
        batch=256)
add_row("DDPM denoiser", "07", [denoiser], model_flops(denoiser), diff_step,
        (tf.constant(ring[:512] / 2.0),), batch=512)
show_cost_table()
print(f"one diffusion sample: {T_STEPS} x {model_flops(denoiser):,} = {T_STEPS * model_flops(denoiser):,} FLOPs; "
      f"one ring-GAN sample: {model_flops(ring_g):,}")

# %% [markdown]
# ## 5. Conclusion
#
# The article's section 6 says that it introduced deep learning for image synthesis (its core concepts, the
# principles of its core algorithms, concrete steps, mathematical formulas and code examples) and hopes that
# readers understand its importance and potential and find inspiration for research and practice. The course has
# taken each of those promises and made it something you can run and check:
#
# | the article's part | where the course made it work |
# |---|---|
# | core concepts (section 2) | [00_start_here](00_start_here.ipynb): the course, the data, the article's concepts with a glossary |
# | GAN principles and formulas (section 3.1) | [01_gan_objective](01_gan_objective.ipynb): the value function, D\*, the JSD, the non-saturating loss, mode collapse counted |
# | convolution and pooling (section 3.2) | [02_convolution_and_pooling](02_convolution_and_pooling.ipynb): every formula from scratch and checked against Keras |
# | the CNN code example (section 4.2) | [03_cnn_classifier](03_cnn_classifier.ipynb): the article's CNN run and fixed, then the evaluator that measures generators |
# | the GAN code example (section 4.1) | [04_dcgan](04_dcgan.ipynb): seven defects of the listing fixed, a DCGAN trained to a clock |
# | training in practice | [05_gan_engineering](05_gan_engineering.ipynb): checkpoints and exact resume, verified models, `fit()`, mixed precision and the latent space |
# | restoration, and its link with GANs (sections 2 and 5) | [06_image_restoration](06_image_restoration.ipynb): classical baselines, a U-Net, pix2pix's adversarial loss, Deep Image Prior |
# | trends and challenges (section 5) | this lesson: small data, compute, control, and the models that came after |
# | the GAN listing at its own size, 64×64×3 (section 4.1), and stronger generative models (section 5) | [08_colour_gans](08_colour_gans.ipynb): colour emoji, the Wasserstein family, a colour evaluator |
# | image translation (section 2) | [09_image_translation](09_image_translation.ipynb): pix2pix against CycleGAN, measured against the paired truth |
#
# The article's challenges are real, and none of them needs faith: too little data shows as a discriminator gap you
# can plot and narrow with augmentation; compute is a table of milliseconds and FLOPs; control is a label input or a
# direction in latent space; and "better quality" is a number measured against digits the model never saw. The one
# lesson beyond the article is that every claim about a generator needs a measurement, with a baseline.
#
# ## 6. References
#
# The article's reference list has 50 entries; most of them name the wrong authors, years, titles or venues, and
# some name papers that do not exist. The table below checks each entry against the publication itself and gives
# the correct citation (or the closest real work); the bibliography of the whole course is `data/references.bib`,
# and every citation key the lessons use is an entry there. The verdicts live in `data/article_references.json`,
# checked by `tests/test_references.py` against the bibliography.

# %%
from collections import Counter

from IPython.display import Markdown

from course_utils import references

verdicts = references.load_article_references()
print(f"{len(verdicts)} entries checked: " + ", ".join(f"{n} {status}" for status, n in sorted(
    Counter(v["status"] for v in verdicts).items())))
display(Markdown(references.article_table_markdown()))

# %% [markdown]
# ## Summary
#
# - With 500 digits a discriminator can memorize: the D gap (its opinion of training digits minus its opinion of
#   held-out digits) measures it. DiffAugment (the same differentiable translation and cutout on real *and* fake
#   images, in D's loss and in G's) kept the gap smaller in the lesson's run (the printed sentences say by how much).
# - Measure generators honestly: FID against held-out digits at equal image counts, with the real-digit floor, and
#   a nearest-neighbour check against the distances held-out digits have (`course_utils.memorization`).
# - A model's cost is countable: $2k^2 c_{in} c_{out} H W$ FLOPs per convolution, checked as a matrix product of
#   patches; on a CPU small layers run far below peak. A bigger batch is expected to cost more per step and less
#   per image until the cores are busy; the lesson prints what this machine measured.
# - A conditional GAN feeds the label to both players; a difference of class means in latent space is a direction
#   that can edit an unconditional generator's class (the printed shares say how often it does).
# - StyleGAN (styles and a mapping network), BigGAN (scale and conditioning), DALL·E (text tokens to image tokens)
#   and diffusion (learned denoising, $x_t = \sqrt{\bar\alpha_t}x_0 + \sqrt{1-\bar\alpha_t}\epsilon$) are where the
#   field went; on lesson 01's ring a tiny DDPM is compared with a GAN at equal seconds over three seeds (the
#   printed sentence says which covered more modes), and it pays with many network evaluations per sample.
#
# ## Exercises
#
# Each check runs your function and a reference on several inputs (float32 and float64, several shapes) and names
# the usual mistakes when it sees them. Your functions receive arrays and numbers and return arrays and numbers.
#
# ### Exercise 1: DiffAugment in one GAN step
#
# In `gan_update`, D sees three batches: the augmented real images and the augmented fakes (in D's loss), and the
# augmented fakes again (in G's loss). Write `diffaugment_views(real, fake, draws, size)` returning the dict
# `{"d_real": ..., "d_fake": ..., "g_fake": ...}` of those three batches, with the policy of section 1:
# **translation, then cutout**, given the random draws (so the answer is deterministic). `real` and `fake` are
# `(n, h, w, c)` in [-1, 1]; `draws` holds `"real_shifts"`, `"real_centers"`, `"fake_shifts"`, `"fake_centers"`,
# each `(n, 2)` ints, one draw per batch. A shift `(dr, dc)` gives `out[i, r, c] = images[i, r + dr, c + dc]` and -1
# (the background) where that falls outside the image (`translate` with the lesson's 2-pixel shift, whose offsets
# are `dr + 2`); cutout then zeroes the `size` × `size` square at each centre, as the lesson's `cutout` does (you
# may call it). Return new arrays, leave the inputs unchanged, and do not call `diff_augment` (it draws its own
# randomness).

# %% tags=["export"]
def diffaugment_views(real, fake, draws, size):
    """The batches D sees in one DiffAugment step: T(real), T(fake) for D's loss, and T(fake) for G's."""
    ### BEGIN SOLUTION
    def translate_np(images, shifts):
        images = np.asarray(images, np.float64)
        h, w = images.shape[1], images.shape[2]
        out = np.full_like(images, -1.0)
        for i, (dr, dc) in enumerate(np.asarray(shifts, dtype=int)):
            out[i, max(-dr, 0):min(h - dr, h), max(-dc, 0):min(w - dc, w)] = \
                images[i, max(dr, 0):min(h + dr, h), max(dc, 0):min(w + dc, w)]
        return out

    def augment(images, which):
        moved = translate_np(images, draws[f"{which}_shifts"])
        return np.asarray(cutout(moved, draws[f"{which}_centers"], size))

    fake_view = augment(fake, "fake")
    return {"d_real": augment(real, "real"), "d_fake": fake_view, "g_fake": fake_view}
    ### END SOLUTION


# %%
_ = ex.check_diffaugment_views(diffaugment_views)

# %% [markdown]
# ### Exercise 2: a DDPM's training loss
#
# (a) Write `q_sample_np(x0, t, noise, betas)`: `x0` `(n, d)`, integer steps `t` `(n,)` (0-based: step 0 is after
# one step of noise), `noise` `(n, d)`, `betas` `(T,)`; return $\sqrt{\bar\alpha_t}\,x_0 + \sqrt{1 -
# \bar\alpha_t}\,\epsilon$ with $\bar\alpha_t = \prod_{s \le t}(1 - \beta_s)$, computed from `betas` (not the
# lesson's `ALPHA_BARS`).
#
# (b) Write `ddpm_loss(x0, t, noise, betas, w, b)`: the loss of one training step of section 4's denoiser, for a
# *linear* denoiser given by its weights (so that the check needs no Keras model): $\hat\epsilon = x_t w + b_t$,
# with `w` `(d, d)` and one row of `b` `(T, d)` per step. Noise each `x0` to its step `t` with the `noise` given,
# predict, and return the loss `make_diffusion_step` minimizes, as one number. The check names the slips: the wrong
# target, the wrong input to the denoiser, a wrong $x_t$, sums for means.

# %% tags=["export"]
def q_sample_np(x0, t, noise, betas):
    """q(x_t | x_0) sampled with the given noise, from the betas."""
    ### BEGIN SOLUTION
    alpha_bar = np.cumprod(1.0 - np.asarray(betas, dtype=np.float64))[np.asarray(t)][:, None]
    return np.sqrt(alpha_bar) * np.asarray(x0, np.float64) + np.sqrt(1.0 - alpha_bar) * np.asarray(noise, np.float64)
    ### END SOLUTION


def ddpm_loss(x0, t, noise, betas, w, b):
    """The simplified DDPM loss of the linear denoiser eps_hat = x_t @ w + b[t]."""
    ### BEGIN SOLUTION
    x_t = q_sample_np(x0, t, noise, betas)
    eps_hat = x_t @ np.asarray(w, np.float64) + np.asarray(b, np.float64)[np.asarray(t)]
    return float(np.mean((np.asarray(noise, np.float64) - eps_hat) ** 2))
    ### END SOLUTION


# %%
_ = ex.check_ddpm_training(q_sample_np, ddpm_loss)

# %% [markdown]
# ### Exercise 3: one step of the sampler
#
# Write `ddpm_step_back(x_t, t, eps_pred, z, betas)`: one step of `diffusion_sample`, from $x_t$ `(n, d)` at the
# integer step `t` (0-based), the denoiser's prediction `eps_pred` `(n, d)` and the Gaussian draw `z` `(n, d)`, to
# $x_{t-1}$, with the variance $\sigma_t^2 = \beta_t$ of section 4 and no noise at the last step (`t = 0`), for any
# schedule `betas`.

# %% tags=["export"]
def ddpm_step_back(x_t, t, eps_pred, z, betas):
    """x_{t-1} from x_t: one ancestral DDPM step with sigma_t^2 = beta_t."""
    ### BEGIN SOLUTION
    betas = np.asarray(betas, np.float64)
    beta, alpha_bar = betas[t], np.prod(1.0 - betas[:t + 1])
    mean = (np.asarray(x_t, np.float64) - beta / np.sqrt(1.0 - alpha_bar) * np.asarray(eps_pred, np.float64))
    mean = mean / np.sqrt(1.0 - beta)
    return mean + np.sqrt(beta) * np.asarray(z, np.float64) if t > 0 else mean
    ### END SOLUTION


# %%
_ = ex.check_ddpm_step_back(ddpm_step_back)

# %% [markdown]
# ### Exercise 4: a class-mean latent direction
#
# Write `class_mean_direction(z, labels, source, target)`: `z` `(n, d)` latent vectors, `labels` `(n,)` the class of
# each sample; return the **unit** vector along $\bar z_{target} - \bar z_{source}$, and raise `ValueError` when
# either class (the source or the target) has no sample. Then try it on the course's generator:
# `class_mean_direction(z_all[sure], classes[sure], 1, 7)`.

# %% tags=["export"]
def class_mean_direction(z, labels, source, target):
    ### BEGIN SOLUTION
    z, labels = np.asarray(z, dtype=np.float64), np.asarray(labels)
    for c in (source, target):
        if not np.any(labels == c):
            raise ValueError(f"no sample of class {c}")
    d = z[labels == target].mean(axis=0) - z[labels == source].mean(axis=0)
    return d / np.linalg.norm(d)
    ### END SOLUTION


# %%
_ = ex.check_class_mean_direction(class_mean_direction)

# %%
peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # kilobytes on Linux
print(f"this lesson: {time.perf_counter() - LESSON_START:.0f} s from the imports to here, peak memory of the "
      f"kernel {peak_gb:.2f} GB")

# %% [markdown]
# ## Next
#
# This is the last lesson. Go back to [00_start_here](00_start_here.ipynb) for the map of the course, read the
# papers of section 4 (the table of section 6 gives their correct citations), and try the experiments at a larger
# budget: `COURSE_TRAIN_MINUTES=10` gives every training cell of this lesson ten minutes. Does the un-augmented
# arm start to copy its 500 digits when it trains longer? The nearest-neighbour check will tell you.
