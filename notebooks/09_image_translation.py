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
# # Image-to-image translation: pix2pix against CycleGAN, measured against the paired truth
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/image-synthesis-course/gans-and-cnns/blob/main/notebooks/09_image_translation.ipynb)
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/image-synthesis-course/gans-and-cnns/main?labpath=notebooks%2F09_image_translation.ipynb)
#
# ## Overview
#
# The article names three uses of GANs in image synthesis: generation, enhancement and **image translation**
# (图像翻译): turning an image of one kind into the matching image of another, a map into a photo, a sketch into a
# painting. Two papers it cites define the field. **pix2pix** [@isola2017image] learns from *pairs* (each input
# with its right answer) with a conditional GAN; **CycleGAN** [@zhu2017unpaired] learns from two unpaired
# collections, tied together by asking that a translation can be translated back. The famous CycleGAN results
# (horses into zebras) cannot be scored: no true zebra exists for a given horse. The emoji of lesson 08 can be:
# every emoji exists in Google's drawing *and* in Twitter's, so a Google emoji translated into Twitter's style can
# be compared with Twitter's own drawing. This lesson trains both methods on the same data and measures what the
# pairing buys.
#
# **Learning objectives.** After this lesson you can
# - build pix2pix from a U-Net and a conditional PatchGAN (reusing lesson 06's), and state the PatchGAN's receptive
#   field;
# - build CycleGAN (two generators, two discriminators, least-squares GAN loss, cycle-consistency and identity
#   terms) and train it on shuffled, unpaired data;
# - score translations against the truth (PSNR, SSIM), against the target style (colour FID, category coverage),
#   and against baselines that need no GAN (the identity, histogram matching, a fitted colour map);
# - read equal-time comparisons over two seeds and ablations (no identity term, λ_cycle too small or too large, L1
#   alone, the adversarial loss alone), and conclude only what the spread allows;
# - measure one of CycleGAN's known failure modes, the information it hides in its outputs (steganography).
#
# **Prerequisites.** Lesson 06 (the U-Net, the PatchGAN, pix2pix's loss for restoration; training to a clock with a
# checkpoint) and lesson 08 (the emoji data, its held-out split, and the colour evaluator with its real-vs-real
# floor).
#
# **Where this stands in the source article.** Section 2 "核心概念与联系" lists 图像翻译 among the uses of GANs in
# image synthesis, and the reference list cites pix2pix twice ([6] and [15], with a made-up title, a wrong
# co-author, "Deng, L." for Zhou, T., and pages that are not the paper's) and CycleGAN as [16] (published at ICCV
# 2017, not at CVPR as the list says); `data/article_references.json` records the corrections.

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
from pathlib import Path

import ipywidgets as widgets
import keras
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display

from course_utils import claims, colour_evaluator, data, device, profiles, receptive_field, viz
from course_utils.exercises import translation as ex

config = device.setup(seed=9, training=True)  # a training lesson: GPU -> mixed precision + XLA; CPU -> float32
print(f"profile: {profiles.get_profile()}, device: {config.device_name}, mixed precision: {config.mixed_precision}, "
      f"XLA: {config.jit_compile}, Keras {keras.__version__}")
OUTPUTS = Path("outputs") / "09_image_translation"  # generated files (ignored by git)
OUTPUTS.mkdir(parents=True, exist_ok=True)
ROOT = Path(data.data_dir()).parent

# %% [markdown]
# ## 1. The task: one emoji, two drawings
#
# Lesson 08's data, as aligned pairs: `data.load_emoji("both", split)` returns Google's drawings in `.google` and
# Twitter's in `.twitter`, row *i* of both being the same emoji. The 282 held-out emoji (the same split as lesson
# 08's) are never trained on: they are the test set of every method below. The task: given a Google drawing, draw
# the same emoji as Twitter would.

# %%
train = data.load_emoji("both", "train")
held = data.load_emoji("both", "held_out")
print(f"{len(train)} training pairs and {len(held)} held-out pairs, {train.google.shape[1:]} uint8")  # NBVAL_CHECK_OUTPUT
show = [int(np.flatnonzero(held.categories == c)[0]) for c in range(len(held.category_names))]
viz.show_images(np.concatenate([held.google[show], held.twitter[show]]), ncols=len(show), size=1.0,
                title="held-out emoji: Google's drawing (top), Twitter's (bottom)")
plt.show()

# %% [markdown]
# What changes between the two styles? Look first, then measure. Twitter's Twemoji are **flat**: few colours, no
# gradients; Google's Noto Emoji are **shaded** with gradients and highlights. The **palette** differs (the yellow of
# a face, the greys). The **outline** differs (Noto draws darker edges on many emoji). And the **proportions**
# differ: the same face is not drawn at the same size or position. The cell measures each of these on all 1,871
# pairs.

# %%
both = data.load_emoji("both", "all")


def style_stats(images):
    """Per image: distinct colours, the share of drawn (non-white) pixels, and the mean colour of the drawn pixels."""
    flat = images.reshape(len(images), -1, 3)
    drawn = (flat < 250).any(-1)
    colours = [len(np.unique(im[d], axis=0)) for im, d in zip(flat, drawn)]
    mean_colour = np.array([im[d].mean(0) if d.any() else np.full(3, 255.0) for im, d in zip(flat, drawn)])
    return np.array(colours), drawn.mean(1), mean_colour


stats = {style: style_stats(getattr(both, style)) for style in ("google", "twitter")}
for style, (colours, share, mean_colour) in stats.items():
    print(f"{style:8s}: median {np.median(colours):5.0f} distinct colours per emoji, drawn area {100 * share.mean():4.1f} % "
          f"of the image, mean drawn colour (RGB) {np.round(mean_colour.mean(0)).astype(int)}")
area_change = np.abs(stats["twitter"][1] - stats["google"][1]) / stats["google"][1]
print(f"the drawn area differs by more than 20 % between the two drawings for {100 * np.mean(area_change > 0.2):.0f} % "
      "of the emoji")
del both  # 46 MB: the lesson keeps only the statistics
_ = claims.say(bool(np.median(stats["twitter"][0]) < np.median(stats["google"][0])),
               "Twitter's drawings use fewer distinct colours than Google's: flat fills against gradients.",
               "Twitter's drawings do not use fewer distinct colours than Google's here.")

# %% [markdown]
# Those numbers set the difficulty. A translator has to change colours (easy: a colour map can do part of it),
# remove shading (harder: it depends on the shape), and move outlines (hardest: the content must be redrawn, and a
# network that only changes pixels where they are cannot do it). A pixel-wise score against the true Twitter drawing
# punishes every misplaced outline, which is why the PSNR between the two styles of one emoji is low (section 4
# prints it): the two drawings of the same emoji are far apart pixel by pixel.
#
# ## 2. pix2pix: a conditional GAN trained on pairs
#
# pix2pix [@isola2017image] has two parts, both of which lesson 06 built for restoration:
#
# - the generator is a **U-Net** (encoder, decoder, skip connections). Here it reads and writes 3 channels, goes
#   three levels down (64 → 32 → 16 → 8), and is **residual**: it predicts a correction added to its input, so it
#   starts as the identity and learns the *difference* between the styles;
# - the discriminator is a **PatchGAN** that sees the input *and* an output, concatenated on the channel axis
#   (6 channels), and answers with a map of logits, one per overlapping patch: "is this patch of output right *for
#   this input*?" A discriminator that saw the output alone could be fooled by any Twitter-looking emoji, the right
#   one or not.
#
# The loss is the conditional GAN's plus λ times the L1 distance to the true drawing,
# $\mathcal L_G = \mathbb E[\text{softplus}(-D(x, G(x)))] + \lambda\,\mathbb E\,|y - G(x)|_1$, with λ = 100 as in the
# paper. The L1 term pulls towards the right answer (and alone it gives the blurred average of plausible answers);
# the adversarial term pushes towards outputs that look real patch by patch. The cells tagged `export` are the code;
# `benchmarks/translation.py` and `tools/train_translation_models.py` run exactly these cells. They load lesson
# 06's `build_unet` and `build_patch_discriminator`, rather than copy them.

# %% tags=["export"]
import dataclasses
import time

import keras
import numpy as np
import tensorflow as tf  # noqa: F811 (the cells tagged export also run on their own, in the tests and tools)

from course_utils import lessons

LESSON_06 = lessons.load_lesson_code("06_image_restoration")  # the U-Net and the PatchGAN
@dataclasses.dataclass(frozen=True)
class Recipe:
    """The translation recipe, one value passed to the functions below; a variant is dataclasses.replace(RECIPE, ...)."""
    width: int = 16               # channels of the U-Net's first level; they double at each of its 3 levels
    depth: int = 3                # 64 -> 32 -> 16 -> 8 at the bottom
    d_width: int = 32             # the PatchGAN's first layer (lesson 06's PatchGAN: two stride-2 4x4 convolutions)
    batch_size: int = 16
    learning_rate: float = 5e-4   # the papers' 2e-4 is for hours of training; a CPU lesson has minutes
    beta_1: float = 0.5           # both papers' Adam
    l1_weight: float = 100.0      # pix2pix's lambda (Isola et al., 2017)
    cycle_weight: float = 10.0    # CycleGAN's lambda (Zhu et al., 2017)
    identity_weight: float = 5.0  # 0.5 * lambda, as in CycleGAN's paper
    cyclegan_residual: bool = False  # CycleGAN's generators draw the image (residual ones stay the identity: section 3)


RECIPE = Recipe()


# %% tags=["export"]
def to_unit(images):
    """uint8 images -> float32 in [-1, 1]."""
    return np.asarray(images, np.float32) / 127.5 - 1.0


def to_uint8(images):
    """[-1, 1] floats (NumPy or tensors) -> uint8 images, clipped."""
    x = images.numpy() if hasattr(images, "numpy") else np.asarray(images)
    return np.clip(np.round((x + 1.0) * 127.5), 0, 255).astype(np.uint8)


def build_translator(name, recipe=RECIPE, residual=True):
    """A U-Net from 64x64x3 to 64x64x3 (lesson 06's build_unet). residual=True: it adds a correction to its input,
    so it starts close to the identity; False: it draws the whole image."""
    return LESSON_06.build_unet(3, recipe.width, recipe.depth, residual=residual, name=name, image_channels=3)


def build_critic(conditional, name, recipe=RECIPE):
    """Lesson 06's PatchGAN on colour: conditional (input and output, 6 channels) for pix2pix, the image alone (3
    channels) for CycleGAN."""
    return LESSON_06.build_patch_discriminator(3 if conditional else 0, recipe.d_width, name=name,
                                               image_channels=3)


def make_optimizer(recipe=RECIPE):
    """Adam with the recipe's rate and beta_1 (both papers' beta_1 = 0.5); a LossScaleOptimizer under mixed
    precision (a GPU)."""
    opt = keras.optimizers.Adam(recipe.learning_rate, beta_1=recipe.beta_1)
    if keras.config.dtype_policy().name == "mixed_float16":
        opt = keras.optimizers.LossScaleOptimizer(opt)
    return opt

# %%
g_demo, d_demo = build_translator("g"), build_critic(True, "d")
print(f"generator (U-Net): {g_demo.count_params():,} parameters; PatchGAN: {d_demo.count_params():,}")  # NBVAL_CHECK_OUTPUT
probe = to_unit(held.google[:2])
assert g_demo(probe).shape == (2, 64, 64, 3)
patches = d_demo(np.concatenate([probe, to_unit(held.twitter[:2])], axis=-1))
rf = receptive_field.receptive_field(receptive_field.from_keras(d_demo))
print(f"PatchGAN: (2, 64, 64, 6) -> {tuple(patches.shape)}: {patches.shape[1] * patches.shape[2]} patch logits per "  # NBVAL_CHECK_OUTPUT
      f"image, each seeing {rf.size}x{rf.size} pixels ({100 * rf.size / 64:.0f} % of the side)")
print(f"the paper's 70x70 PatchGAN on 256x256 images sees {100 * 70 / 256:.0f} % of the side")  # NBVAL_CHECK_OUTPUT
before = g_demo(probe).numpy()
print(f"untrained residual U-Net: largest change to its input {np.abs(before - probe).max():.3f} (images in [-1, 1])")

# %% [markdown]
# The 18×18 receptive field (lesson 02's recurrence, applied to the two 4×4 stride-2 convolutions and the 3×3 one)
# covers about the same share of an emoji as the paper's 70×70 PatchGAN covers of its 256×256 images: big enough
# to judge an eye or an outline, too small to judge the whole face, which the L1 term takes care of. One training
# step:

# %% tags=["export"]
l1 = LESSON_06.l1_loss  # the mean absolute difference, as in lesson 06


def run32(model, x):
    """A network's output in float32 (under mixed precision its layers compute in float16)."""
    return tf.cast(model(x, training=True), tf.float32)


def make_pix2pix_step(g, d, g_opt, d_opt, l1_weight=RECIPE.l1_weight, adversarial=True, jit_compile=False):
    """One pix2pix step on aligned (source, target) batches. adversarial=False trains with L1 alone (no D)."""
    @tf.function(jit_compile=jit_compile)
    def step(source, target):
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            fake = run32(g, source)
            g_loss = l1_weight * l1(target, fake)
            if adversarial:
                real_logits = run32(d, tf.concat([source, target], -1))
                fake_logits = run32(d, tf.concat([source, fake], -1))
                g_loss += tf.reduce_mean(tf.nn.softplus(-fake_logits))
                d_loss = tf.reduce_mean(tf.nn.softplus(-real_logits)) + tf.reduce_mean(tf.nn.softplus(fake_logits))
            g_scaled = g_opt.scale_loss(g_loss)
            d_scaled = d_opt.scale_loss(d_loss) if adversarial else None
        g_opt.apply_gradients(zip(g_tape.gradient(g_scaled, g.trainable_variables), g.trainable_variables))
        if adversarial:
            d_opt.apply_gradients(zip(d_tape.gradient(d_scaled, d.trainable_variables), d.trainable_variables))
            return {"g_loss": g_loss, "d_loss": d_loss, "l1": l1(target, fake)}
        return {"g_loss": g_loss, "l1": l1(target, fake)}
    return step

# %% [markdown]
# ### Training to a clock, with a checkpoint
#
# `TranslationRun` holds the networks, their optimizers, the step counter and the seconds trained in a
# `tf.train.CheckpointManager` under `outputs/`. Each batch is drawn from a seed made of the step number, so a run
# that resumes draws the batches it would have drawn. For pix2pix the rows of the source and target batches are
# the same (aligned pairs); for CycleGAN (section 3) they are two independent draws.

# %% tags=["export"]
def batch_indices(n, batch_size, seed, step, paired):
    """The training rows of one step, drawn afresh from (seed, step), so a resumed run sees the batches it would
    have seen. paired=True: the same rows for source and target (aligned pairs); False: two independent draws, so
    the model never sees which target drawing belongs to a source drawing."""
    rng = np.random.default_rng([seed, step])
    rows = rng.integers(0, n, batch_size)
    return rows, (rows if paired else rng.integers(0, n, batch_size))


def build_networks(kind, recipe=RECIPE, jit_compile=False, **options):
    """The networks of a pix2pix ("g", "d") or a CycleGAN ("g", "f", "d_x", "d_y") run, the generators' and the
    discriminators' optimizers (built), and its training step with the recipe's loss weights (options: other
    weights, or adversarial=False for pix2pix)."""
    if kind not in ("pix2pix", "cyclegan"):
        raise ValueError(f"kind must be 'pix2pix' or 'cyclegan', got {kind!r}")
    residual = kind == "pix2pix" or recipe.cyclegan_residual
    g = build_translator("g", recipe, residual)
    g_opt, d_opt = make_optimizer(recipe), make_optimizer(recipe)
    if kind == "pix2pix":
        models = {"g": g, "d": build_critic(True, "d", recipe)}
        step = make_pix2pix_step(g, models["d"], g_opt, d_opt, jit_compile=jit_compile,
                                 **{"l1_weight": recipe.l1_weight, **options})
    else:
        models = {"g": g, "f": build_translator("f", recipe, residual), "d_x": build_critic(False, "d_x", recipe),
                  "d_y": build_critic(False, "d_y", recipe)}
        weights = {"cycle_weight": recipe.cycle_weight, "identity_weight": recipe.identity_weight, **options}
        step = make_cyclegan_step(*models.values(), g_opt, d_opt, jit_compile=jit_compile, **weights)
    g_opt.build([v for k, m in models.items() if k in ("g", "f") for v in m.trainable_variables])
    d_opt.build([v for k, m in models.items() if k.startswith("d") for v in m.trainable_variables])
    return models, g_opt, d_opt, step


def translate(model, images, batch=64):
    """Translate uint8 images (n, 64, 64, 3) with a generator; uint8 out."""
    x = to_unit(images)
    return np.concatenate([to_uint8(model(x[i:i + batch], training=False)) for i in range(0, len(x), batch)])


# %% tags=["export"]
class TranslationRun:
    """A pix2pix or CycleGAN model, its optimizers, a step counter and the seconds trained, checkpointed in
    `directory` (created, or resumed from). kind: "pix2pix" (source -> target, paired) or "cyclegan" (both ways,
    unpaired). options change the recipe's loss weights: l1_weight, adversarial, cycle_weight, identity_weight;
    jit_compile: XLA for the step (device.setup's choice)."""

    def __init__(self, directory, kind, seed=0, recipe=RECIPE, jit_compile=False, **options):
        keras.utils.set_random_seed(seed)
        self.kind, self.seed, self.recipe = kind, seed, recipe
        self.models, self.g_opt, self.d_opt, self.train_step = build_networks(kind, recipe, jit_compile, **options)
        self.g, self.f = self.models["g"], self.models.get("f")
        self.steps, self.seconds = tf.Variable(0, dtype=tf.int64), tf.Variable(0.0, dtype=tf.float64)
        state = tf.train.Checkpoint(g_opt=self.g_opt, d_opt=self.d_opt, steps=self.steps, seconds=self.seconds,
                                    **self.models)
        self.manager = tf.train.CheckpointManager(state, str(directory), max_to_keep=1)
        self.manager.restore_or_initialize()

    def train(self, source, target, budget_s, save_every=200, clock=time.perf_counter, max_steps=None):
        """Train for budget_s more seconds (or max_steps steps, if sooner) on images, uint8 or floats in [-1, 1]
        (row i of source and target: the same emoji); returns the mean losses of this call. clock: wall-clock time;
        a benchmark on a shared machine passes time.process_time (the CPU time this process got)."""
        start, sums, n = clock(), {}, 0
        while clock() - start < budget_s and (max_steps is None or n < max_steps):
            step = int(self.steps.numpy())
            rows_x, rows_y = batch_indices(len(source), self.recipe.batch_size, self.seed, step,
                                           paired=self.kind == "pix2pix")
            x, y = source[rows_x], target[rows_y]
            if x.dtype == np.uint8:  # converted batch by batch: a float32 copy of the data set is 78 MB per style
                x, y = to_unit(x), to_unit(y)
            for key, value in self.train_step(x, y).items():
                sums[key] = sums.get(key, 0.0) + float(value)
            n += 1
            self.steps.assign_add(1)
            if (step + 1) % save_every == 0:
                self.manager.save()
        self.seconds.assign_add(clock() - start)
        self.manager.save()
        return {key: value / max(n, 1) for key, value in sums.items()}


# %%
PIX2PIX_S = profiles.pick(full=45, smoke=1)
pix_dir = OUTPUTS / f"run-{profiles.get_profile()}" / "pix2pix"
if profiles.is_smoke():  # the quick profile the tests run always starts from scratch
    import shutil
    shutil.rmtree(pix_dir, ignore_errors=True)
pix = TranslationRun(pix_dir, "pix2pix", seed=9, jit_compile=config.jit_compile)
losses = pix.train(train.google, train.twitter, PIX2PIX_S)
print(f"pix2pix: {int(pix.steps.numpy())} steps in {float(pix.seconds.numpy()):.0f} s of training; mean losses of this "
      f"call: " + ", ".join(f"{k} {v:.3f}" for k, v in losses.items()))
mine = translate(pix.g, held.google[show])
viz.show_images(np.concatenate([held.google[show], mine, held.twitter[show]]), ncols=len(show), size=1.0,
                title="your pix2pix: input (top), output (middle), Twitter's drawing (bottom)")
plt.show()

# %% [markdown]
# Run the cell again and it resumes: another `PIX2PIX_S` seconds on top of what the checkpoint holds. The resume is
# exact: a second run object on the same folder, restored into fresh networks, translates bit for bit alike.

# %%
again = TranslationRun(pix_dir, "pix2pix", seed=9, jit_compile=config.jit_compile)
assert int(again.steps.numpy()) == int(pix.steps.numpy())
assert np.array_equal(translate(again.g, held.google[:8]), translate(pix.g, held.google[:8]))
print(f"restored step {int(again.steps.numpy())}: the same translations, bit for bit")
del again

# %% [markdown]
# ## 3. CycleGAN: no pairs, two translators that undo each other
#
# Without pairs there is no L1 target. CycleGAN [@zhu2017unpaired] trains two generators, $G$: Google → Twitter and
# $F$: Twitter → Google, and two unconditional PatchGANs, $D_Y$ (is this a Twitter drawing?) and $D_X$ (a Google
# one?). A generator that only had to fool $D_Y$ could output *any* Twitter emoji, whatever the input; the
# **cycle-consistency** term forbids that by asking that $F(G(x)) \approx x$ and $G(F(y)) \approx y$ in L1, with
# weight λ_cycle = 10. An **identity** term, $G(y) \approx y$ and $F(x) \approx x$ with weight λ_cycle/2, asks each
# generator to leave alone what is already in its target style; the paper added it to keep colours from drifting.
# The adversarial loss is the **least-squares** GAN loss [@mao2017least], as in the paper: $D$ minimizes
# $\frac12[(D(y) - 1)^2 + D(G(x))^2]$ and $G$ minimizes $(D(G(x)) - 1)^2$, a loss whose gradient does not vanish
# for fakes that $D$ rejects with confidence.
#
# One choice differs from pix2pix: CycleGAN's generators **draw the whole image** (`residual=False` in lesson 06's
# U-Net), as the paper's do. A residual generator starts as the identity, and the identity satisfies the cycle term
# and the identity term *exactly*; L1's pull towards "no correction" is constant however small the correction, and
# it beats the adversarial push: the benchmark's arm "CycleGAN, residual generators" (section 5) measures that such
# a CycleGAN never leaves the identity.
#
# The data are the same 1,589 emoji, but **the pairs are shuffled apart**: each step draws its Google batch and its
# Twitter batch independently (`batch_indices(..., paired=False)`), so the model never sees which Twitter drawing
# belongs to a Google one. (It still sees the same 1,589 emoji in both styles; a stricter test would split them into
# two halves, one per style.)

# %% tags=["export"]
def lsgan_d(real_scores, fake_scores):
    """The least-squares discriminator loss, halved as in CycleGAN: real patches towards 1, fakes towards 0."""
    return 0.5 * (tf.reduce_mean(tf.square(real_scores - 1.0)) + tf.reduce_mean(tf.square(fake_scores)))


def lsgan_g(fake_scores):
    """The least-squares generator loss: its fakes' patches towards 1."""
    return tf.reduce_mean(tf.square(fake_scores - 1.0))


def make_cyclegan_step(g, f, d_x, d_y, g_opt, d_opt, cycle_weight=RECIPE.cycle_weight,
                       identity_weight=RECIPE.identity_weight, jit_compile=False):
    """One CycleGAN step on unaligned batches x (Google) and y (Twitter): G: x -> y, F: y -> x; D_Y judges
    Twitter-style images, D_X Google-style ones. Least-squares GAN losses, cycle and identity L1 terms."""
    gens = g.trainable_variables + f.trainable_variables
    discs = d_x.trainable_variables + d_y.trainable_variables

    @tf.function(jit_compile=jit_compile)
    def step(x, y):
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            fake_y, fake_x = run32(g, x), run32(f, y)
            cycle = l1(run32(f, fake_y), x) + l1(run32(g, fake_x), y)
            score_fy, score_fx = run32(d_y, fake_y), run32(d_x, fake_x)
            adv = lsgan_g(score_fy) + lsgan_g(score_fx)
            g_loss = adv + cycle_weight * cycle
            if identity_weight:
                g_loss += identity_weight * (l1(run32(g, y), y) + l1(run32(f, x), x))
            d_loss = lsgan_d(run32(d_y, y), score_fy) + lsgan_d(run32(d_x, x), score_fx)
            g_scaled, d_scaled = g_opt.scale_loss(g_loss), d_opt.scale_loss(d_loss)
        g_opt.apply_gradients(zip(g_tape.gradient(g_scaled, gens), gens))
        d_opt.apply_gradients(zip(d_tape.gradient(d_scaled, discs), discs))
        return {"g_loss": g_loss, "d_loss": d_loss, "cycle": cycle, "adv": adv}
    return step

# %%
CYCLE_S = profiles.pick(full=60, smoke=1)
cyc_dir = OUTPUTS / f"run-{profiles.get_profile()}" / "cyclegan"
if profiles.is_smoke():
    shutil.rmtree(cyc_dir, ignore_errors=True)
cyc = TranslationRun(cyc_dir, "cyclegan", seed=9, jit_compile=config.jit_compile)
losses = cyc.train(train.google, train.twitter, CYCLE_S)
steps_c, seconds_c = int(cyc.steps.numpy()), float(cyc.seconds.numpy())
print(f"CycleGAN: {steps_c} steps in {seconds_c:.0f} s ({1000 * seconds_c / steps_c:.0f} ms per step; pix2pix took "
      f"{1000 * float(pix.seconds.numpy()) / int(pix.steps.numpy()):.0f}); mean losses: "
      + ", ".join(f"{k} {v:.3f}" for k, v in losses.items()))
cycled = translate(cyc.f, translate(cyc.g, held.google[show]))
viz.show_images(np.concatenate([held.google[show], translate(cyc.g, held.google[show]), cycled]), ncols=len(show),
                size=1.0, title="your CycleGAN: input (top), G(x) (middle), F(G(x)) (bottom)")
plt.show()

# %% [markdown]
# A CycleGAN step runs the generators six times (two translations, two reconstructions, two identity passes) and
# the discriminators four times, so it costs several pix2pix steps: at equal time it sees far fewer images. And its
# generators start from nothing: in the first minute they learn to redraw their input at all (blurred), before the
# discriminators can push them towards the other style. The rest of the lesson uses the models the course trained
# longer, with this very code.
#
# ## 4. Measured against the truth
#
# `tools/train_translation_models.py` trained pix2pix in each direction and one CycleGAN (whose $G$ and $F$ are the
# two directions) with this lesson's recipe; the weights ship in `data/` with their records and SHA-256 digests,
# checked before loading. On the 282 held-out emoji, Google → Twitter, every method is scored four ways:
#
# - **PSNR** and **SSIM** against Twitter's true drawing of the same emoji (lesson 06's measures, from
#   scikit-image, on the colour images): is it the *right* image?
# - **colour FID** against the statistics of Twitter's training drawings, with lesson 08's evaluator, at n = 282,
#   where the real-vs-real floor is known: does it *look like* Twitter's style?
# - **category coverage**: do the outputs still read as the 9 categories?
#
# Three baselines need no GAN. The **identity** (output = input) says how far apart the styles are. **Histogram
# matching**, the simplest colour transfer (Reinhard et al. [@reinhard2001color] matched means and deviations in a
# perceptual colour space; scikit-image's `match_histograms` matches whole histograms, channel by channel), gives
# each emoji's drawn pixels the colour histogram of Twitter's drawn pixels: it needs no pairs. A fitted **affine colour map** (one 4×3 matrix fitted by least squares to every pixel of the
# training pairs) is the simplest thing that *uses* the pairs.

# %% tags=["export"]
def histogram_transfer(images, reference, background=250, pool_size=100_000, seed=0):
    """The classical baseline: colour transfer by histogram matching (scikit-image). The drawn pixels of each image
    (any channel below `background`; the white background is left alone) get, channel by channel, the histogram of
    the drawn pixels of `reference` (uint8 images of the target style; `pool_size` of them, drawn at random)."""
    from skimage.exposure import match_histograms

    reference = np.asarray(reference)
    pool = reference[(reference < background).any(-1)]  # the target style's drawn pixels
    pool = pool[np.random.default_rng(seed).permutation(len(pool))[:pool_size]].reshape(-1, 1, 3)
    out = np.array(images, copy=True)
    for image in out:
        drawn = (image < background).any(-1)
        image[drawn] = np.clip(np.round(match_histograms(image[drawn].reshape(-1, 1, 3), pool, channel_axis=-1)),
                               0, 255).reshape(-1, 3)
    return out


def fit_colour_map(source, target, chunk=128):
    """A classical baseline that uses the pairs: one affine colour map, target pixel = [r, g, b, 1] @ M, fitted to
    every pixel of the aligned training pairs by least squares (the normal equations, summed `chunk` images at a
    time to keep memory small). Returns M, (4, 3)."""
    xtx, xty = np.zeros((4, 4)), np.zeros((4, 3))
    for i in range(0, len(source), chunk):
        x = np.asarray(source[i:i + chunk], np.float64).reshape(-1, 3)
        x = np.concatenate([x, np.ones((len(x), 1))], axis=1)
        xtx += x.T @ x
        xty += x.T @ np.asarray(target[i:i + chunk], np.float64).reshape(-1, 3)
    return np.linalg.solve(xtx, xty)


def apply_colour_map(images, colour_map):
    """Apply fit_colour_map's M to uint8 images; uint8 out, clipped."""
    x = np.asarray(images, np.float64)
    out = x @ colour_map[:3] + colour_map[3]
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


# %% tags=["export"]
from course_utils import pretrained  # noqa: E402 (the shipped models)


def pair_scores(truth, output):
    """Mean PSNR (dB) and SSIM of uint8 colour images against the true drawings (scikit-image, data range 255)."""
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    psnr = [peak_signal_noise_ratio(t, o, data_range=255) for t, o in zip(truth, output)]
    ssim = [structural_similarity(t, o, data_range=255, channel_axis=-1) for t, o in zip(truth, output)]
    return {"psnr": float(np.mean(psnr)), "ssim": float(np.mean(ssim))}


def load_shipped(kind, way):
    """The course's trained generator of `kind` ("pix2pix" or "cyclegan") for `way` ("g2t": Google -> Twitter,
    "t2g"), built with the architecture it was trained with and loaded after its SHA-256 is checked; returns
    (model, record)."""
    name = f"translate_{kind}_{way}"
    model = build_translator(name, residual=kind == "pix2pix" or RECIPE.cyclegan_residual)
    return model, pretrained.load_trained_model(model, name)


def translation_scores(judge, truth, output, reference="twitter"):
    """PSNR and SSIM against the true drawings, and the colour evaluator's FID (against the target style's training
    statistics) and category coverage."""
    return {**pair_scores(truth, output), "fid": float(judge.fid(output, reference=reference)),
            "coverage": int(judge.class_coverage(output).n_covered)}

# %%
judge = colour_evaluator.load_colour_evaluator()
models, records = {}, {}
for kind in ("pix2pix", "cyclegan"):
    for way in ("g2t", "t2g"):
        models[kind, way], records[kind, way] = load_shipped(kind, way)
rec = records["cyclegan", "g2t"]
print(f"shipped: pix2pix {records['pix2pix', 'g2t']['train_time_s'] / 60:.0f} min per direction, CycleGAN "
      f"{rec['train_time_s'] / 60:.0f} min ({rec['steps']:,} steps), on {rec['machine']['cpu_model']} "
      f"({rec['machine']['usable_cpus']} CPU, TensorFlow {rec['versions']['tensorflow']})")
outputs = {"identity": held.google,
           "histogram matching": histogram_transfer(held.google, train.twitter),
           "affine colour map": apply_colour_map(held.google, fit_colour_map(train.google, train.twitter)),
           "pix2pix": translate(models["pix2pix", "g2t"], held.google),
           "CycleGAN": translate(models["cyclegan", "g2t"], held.google)}
results = {name: translation_scores(judge, held.twitter, out) for name, out in outputs.items()}
floor = judge.fid(held.twitter, reference="twitter")
print(f"{'Google -> Twitter':20s} {'PSNR (dB)':>9s} {'SSIM':>6s} {'FID':>7s} {'coverage':>8s}")
for name, r in results.items():
    print(f"{name:20s} {r['psnr']:9.2f} {r['ssim']:6.3f} {r['fid']:7.2f} {r['coverage']:6d}/9")
print(f"{'real Twitter (floor)':20s} {'':>9s} {'':>6s} {floor:7.2f}")
for name, run in (("pix2pix", pix), ("CycleGAN", cyc)):
    mine = translation_scores(judge, held.twitter, translate(run.g, held.google))
    print(f"{'your ' + name:20s} {mine['psnr']:9.2f} {mine['ssim']:6.3f} {mine['fid']:7.2f} {mine['coverage']:6d}/9"
          f"   ({int(run.steps.numpy())} steps in this lesson)")

# %%
viz.show_images(np.concatenate([outputs[k][show] for k in outputs] + [held.twitter[show]]), ncols=len(show),
                size=0.9, title="rows: " + ", ".join(outputs) + ", Twitter's drawing")
plt.show()
best_classical = max(("histogram matching", "affine colour map"), key=lambda k: results[k]["psnr"])
p2p, cg, ident = results["pix2pix"], results["CycleGAN"], results["identity"]
_ = claims.say(bool(p2p["psnr"] > max(ident["psnr"], results[best_classical]["psnr"])
                    and p2p["ssim"] > max(ident["ssim"], results[best_classical]["ssim"])),
               "pix2pix beats the identity and every classical baseline on both PSNR and SSIM: the pairs teach it "
               "where Twitter draws what.",
               "pix2pix does not beat the identity and the classical baselines on both PSNR and SSIM here.")
_ = claims.say(bool(cg["fid"] < ident["fid"]),
               f"CycleGAN's outputs are closer to Twitter's style than the input is (FID {cg['fid']:.2f} against "
               f"{ident['fid']:.2f} for the identity).",
               f"CycleGAN's outputs are not closer to Twitter's style than the input itself (FID {cg['fid']:.2f} "
               f"against {ident['fid']:.2f} for the identity): the evaluator sees its artefacts more than its style.")
_ = claims.say(bool(p2p["psnr"] > cg["psnr"] and p2p["ssim"] > cg["ssim"]),
               "Against the truth, pairing wins: pix2pix is closer to Twitter's drawings than CycleGAN on PSNR and "
               "SSIM.",
               "Against the truth, the paired model is not ahead of the unpaired one on both PSNR and SSIM here.")

# %% [markdown]
# Read the table with the floor in mind: the colour evaluator was trained on *both* styles to tell categories apart,
# so it is nearly blind to style, and the identity's FID is already close to the floor. An FID below the identity's
# means the outputs moved towards Twitter's statistics; an FID above it means they picked up something (blur,
# artefacts) that real emoji of either style do not have. PSNR and SSIM see what FID cannot: whether the output is
# the right drawing. An L1-trained model is rewarded for the average of plausible answers, which is blurred; the
# adversarial term is there to buy back sharpness (lesson 06 met the same trade-off), and section 5 measures what it
# bought at equal time.
#
# ### Equal budgets, two seeds
#
# The shipped models trained for different times. To compare the methods fairly, `benchmarks/translation.py`
# trained each arm for the same wall-clock time, twice (two seeds), and scored it the same way; the table reads its
# record. The spread is half the distance between the two seeds.

# %%
bench = json.loads((ROOT / "benchmarks" / "figures" / "translation.json").read_text())
m = bench["machine"]
print(f"benchmark: {bench['seconds']:.0f} s of training per run, seeds {bench['seeds']}, {m['cpu_model']} "
      f"({m['usable_cpus']} CPU, oneDNN {'on' if m['onednn'] else 'off'}), TensorFlow {bench['versions']['tensorflow']}")
arm_stats = {}
print(f"{'arm':30s} {'PSNR':>13s} {'SSIM':>15s} {'FID':>13s} {'cover':>5s} {'steps':>5s}")
for name, arm in bench["arms"].items():
    s = {k: np.array([r[k] for r in arm["runs"]]) for k in ("psnr", "ssim", "fid", "coverage", "steps")}
    arm_stats[name] = {k: (v.mean(), (v.max() - v.min()) / 2, v) for k, v in s.items()}
    print(f"{name:30s} " + " ".join(f"{v.mean():{w}.{d}f}±{(v.max() - v.min()) / 2:<{w - 2}.{d}f}" for v, w, d in
                                    ((s["psnr"], 7, 2), (s["ssim"], 8, 3), (s["fid"], 7, 2)))
          + f" {s['coverage'].min():3d}/9 {int(s['steps'].mean()):5d}")
for name, b in bench["baselines"].items():
    print(f"{name:30s} {b['psnr']:7.2f} {'':5s} {b['ssim']:8.3f} {'':6s} {b['fid']:7.2f} {'':5s} {b['coverage']:3d}/9")


def separated(a, b, key, lower=False):
    """Whether arm a beats arm b on `key` for both seeds: a's worse seed beats b's better one."""
    va, vb = arm_stats[a][key][2], arm_stats[b][key][2]
    return bool(va.max() < vb.min()) if lower else bool(va.min() > vb.max())


_ = claims.say(separated("pix2pix", "CycleGAN", "psnr") and separated("pix2pix", "CycleGAN", "ssim"),
               "At equal time, pairing buys accuracy: pix2pix's worse seed beats CycleGAN's better seed on PSNR and on "
               "SSIM.",
               "At equal time, the two seeds of pix2pix and CycleGAN overlap on PSNR or SSIM: this budget does not "
               "separate them on accuracy.")

# %% [markdown]
# ## 5. Ablations that teach
#
# The same record holds the ablations, each trained for the same time from the same seeds: pix2pix with the L1 term
# alone (no discriminator, so more steps in the same time) and with the adversarial term alone (λ = 0); CycleGAN
# with residual generators (section 3), without the identity term, and with λ_cycle = 1 (too small) and 100 (too
# large), the identity weight kept at λ_cycle/2. The sentences below are what the record supports.

# %%
def mean_of(arm, key):
    return arm_stats[arm][key][0]


_ = claims.say(separated("pix2pix, L1 only", "pix2pix, adversarial only", "psnr"),
               "Without L1, pix2pix loses the right answer: the adversarial term alone is far behind on PSNR "
               f"({mean_of('pix2pix, adversarial only', 'psnr'):.2f} dB against {mean_of('pix2pix, L1 only', 'psnr'):.2f} "
               "for L1 alone).",
               "The adversarial term alone is not separated from L1 alone on PSNR at this budget.")
adv_only, l1_only = "pix2pix, adversarial only", "pix2pix, L1 only"
_ = claims.say(bool(mean_of(adv_only, "fid") < min(mean_of("pix2pix", "fid"), mean_of(l1_only, "fid"))
                    and mean_of(adv_only, "psnr") < min(mean_of("pix2pix", "psnr"), mean_of(l1_only, "psnr"))),
               f"The adversarial term alone gives the most Twitter-like outputs of the three (FID "
               f"{mean_of(adv_only, 'fid'):.2f}) and the least right ones (PSNR {mean_of(adv_only, 'psnr'):.2f} dB): "
               "realism without correctness, which is why FID alone cannot judge a translation.",
               "The adversarial term alone is not both the most Twitter-like and the least right of the three here.")
_ = claims.say(mean_of("pix2pix", "fid") < mean_of("pix2pix, L1 only", "fid"),
               f"Adding the adversarial term to L1 lowers the FID ({mean_of('pix2pix', 'fid'):.2f} against "
               f"{mean_of('pix2pix, L1 only', 'fid'):.2f} for L1 alone, means of two seeds): sharper, more Twitter-like "
               "outputs.",
               f"Adding the adversarial term to L1 does not lower the FID at this budget "
               f"({mean_of('pix2pix', 'fid'):.2f} against {mean_of('pix2pix, L1 only', 'fid'):.2f} for L1 alone).")

# %%
stuck = np.abs(arm_stats["CycleGAN, residual generators"]["psnr"][2] - bench["baselines"]["identity"]["psnr"])
_ = claims.say(bool(stuck.max() < 0.01),
               f"With residual generators CycleGAN never leaves the identity: both seeds end within {stuck.max():.3f} dB "
               "of the identity's PSNR. The cycle and identity terms are satisfied exactly by changing nothing.",
               f"With residual generators CycleGAN moved away from the identity (up to {stuck.max():.2f} dB of PSNR).")
small, large = "CycleGAN, lambda_cycle = 1", "CycleGAN, lambda_cycle = 100"
_ = claims.say(separated("CycleGAN", small, "ssim") and separated("CycleGAN", small, "fid", lower=True),
               f"Too small a λ_cycle lets the output drift from its input: with λ_cycle = 1 SSIM falls to "
               f"{mean_of(small, 'ssim'):.3f} and FID rises to {mean_of(small, 'fid'):.2f} (λ_cycle = 10: "
               f"{mean_of('CycleGAN', 'ssim'):.3f}, {mean_of('CycleGAN', 'fid'):.2f}), both seeds.",
               "λ_cycle = 1 is not separated from the recipe's λ_cycle = 10 on both SSIM and FID at this budget.")
_ = claims.say(separated("CycleGAN", large, "fid", lower=True),
               f"Too large a λ_cycle costs realism: with λ_cycle = 100 the FID is {mean_of(large, 'fid'):.2f} against "
               f"{mean_of('CycleGAN', 'fid'):.2f}, both seeds worse: the round trip outweighs the discriminator.",
               f"λ_cycle = 100 (FID {mean_of(large, 'fid'):.2f}) and the recipe's 10 ({mean_of('CycleGAN', 'fid'):.2f}) "
               "overlap over the two seeds: at this budget the record does not separate them.")
_ = claims.say(mean_of("CycleGAN, no identity loss", "fid") > mean_of("CycleGAN", "fid"),
               "Without the identity term, CycleGAN's FID is worse (mean of two seeds): the identity term keeps colours "
               "from drifting.",
               "Dropping the identity term does not worsen CycleGAN's FID at this budget.")

# %% [markdown]
# ## 6. CycleGAN's failure modes, measured
#
# CycleGAN is known for three kinds of failure. Its outputs can **shift colours** (a face's yellow drifts towards
# another), it can **invent content** that the target domain has and the source image does not, and it can **hide
# information** in its outputs: Chu, Zhmoginov and Sandler [@chu2017cyclegan] showed that a CycleGAN generator
# encodes the details it needs for the cycle as a near-invisible, high-frequency signal, which the other generator
# decodes. The cycle loss is then low *not* because the translation is faithful, but because the details ride
# along hidden. With paired data, each can be measured instead of seen.

# %%
g_ship, f_ship = models["cyclegan", "g2t"], models["cyclegan", "t2g"]
fake = translate(g_ship, held.google)
drawn_truth = (held.twitter < 250).any(-1)
blank_both = ~drawn_truth & ~(held.google < 250).any(-1)  # white in both true drawings
drawn_fake = (fake < 224).any(-1)  # clearly drawn
invented = (drawn_fake & blank_both).sum((1, 2)) / np.maximum(blank_both.sum((1, 2)), 1)
shift = np.linalg.norm(style_stats(fake)[2] - style_stats(held.twitter)[2], axis=1)
shift_id = np.linalg.norm(style_stats(held.google)[2] - style_stats(held.twitter)[2], axis=1)
print(f"colour shift (mean drawn colour, RGB distance to the truth's): CycleGAN median {np.median(shift):.1f}, "
      f"the input itself {np.median(shift_id):.1f}")
print(f"invented content: CycleGAN draws on {100 * invented.mean():.2f} % of the pixels that are white in both true "
      f"drawings (worst emoji {100 * invented.max():.1f} %)")
_ = claims.say(bool(np.median(shift) < np.median(shift_id)),
               "On the median emoji CycleGAN moves the colours towards Twitter's: its mean drawn colour is nearer the "
               "truth's than the input's is. The largest shifts, below, go the other way.",
               "On the median emoji CycleGAN moves the colours away from Twitter's: its mean drawn colour is further "
               "from the truth's than the input's is.")
worst = np.argsort(-shift)[:6]
viz.show_images(np.concatenate([held.google[worst], fake[worst], held.twitter[worst]]), ncols=6, size=1.0,
                title="largest colour shifts: input, CycleGAN, Twitter's drawing")
plt.show()

# %% [markdown]
# Now the hidden information. If $G$ drew a plain Twitter emoji, $F$ could not recover the Google details that the
# Twitter style does not have: $F$ applied to Twitter's *true* drawing is the best an honest round trip can do. So
# compare two reconstructions of the Google input: $F(G(x))$, from CycleGAN's own output, and $F(y)$, from Twitter's
# true drawing. Then perturb $G(x)$ with noise of a few grey levels, invisible to the eye, and see what the
# reconstruction loses. A reconstruction that is much better from $G(x)$ than from the truth, and that a whisper of
# noise destroys, is information hidden in $G(x)$.

# %%
def psnr_to_input(images):
    return pair_scores(held.google, images)["psnr"]


rng = np.random.default_rng(9)
noise = rng.normal(0, 2.0, fake.shape)  # sigma = 2 grey levels out of 255
fake_noisy = np.clip(np.round(fake + noise), 0, 255).astype(np.uint8)
truth_noisy = np.clip(np.round(held.twitter + noise), 0, 255).astype(np.uint8)
cycle_psnr = {"F(G(x))": psnr_to_input(translate(f_ship, fake)), "F(y), the true drawing": psnr_to_input(translate(f_ship, held.twitter)),
              "F(G(x) + noise)": psnr_to_input(translate(f_ship, fake_noisy)),
              "F(y + noise)": psnr_to_input(translate(f_ship, truth_noisy))}
for name, value in cycle_psnr.items():
    print(f"PSNR of the reconstruction {name:24s} against the Google input: {value:6.2f} dB")
print(f"the noise itself: PSNR {pair_scores(fake, fake_noisy)['psnr']:.1f} dB between G(x) and G(x) + noise")
in_sight = psnr_to_input(fake)
print(f"G(x) itself against the Google input: PSNR {in_sight:.2f} dB")
hidden_gain = cycle_psnr["F(G(x))"] - cycle_psnr["F(y), the true drawing"]
noise_cost = cycle_psnr["F(G(x))"] - cycle_psnr["F(G(x) + noise)"]
noise_cost_truth = cycle_psnr["F(y), the true drawing"] - cycle_psnr["F(y + noise)"]
_ = claims.say(bool(hidden_gain > 1.0),
               f"F reconstructs the Google input {hidden_gain:.1f} dB better from CycleGAN's output than from Twitter's "
               "true drawing: G(x) carries information about x that a Twitter drawing does not.",
               f"F reconstructs the input about as well from Twitter's true drawing as from CycleGAN's output "
               f"({hidden_gain:+.1f} dB): no sign of information hidden beyond what a Twitter drawing shows.")
_ = claims.say(bool(in_sight > 20),
               f"Most of that information is in plain sight: G(x) is still {in_sight:.1f} dB from its input. This "
               "CycleGAN recolours and reshades more than it redraws, so F can read the Google drawing off its output.",
               f"G(x) is far from its input ({in_sight:.1f} dB), so what F recovers is not simply visible in G(x).")
_ = claims.say(bool(noise_cost > 2 * max(noise_cost_truth, 0.05)),
               f"Invisible noise costs the round trip {noise_cost:.2f} dB from G(x) but {noise_cost_truth:.2f} dB from "
               "the true drawing: part of what F reads in G(x) is a low-amplitude signal, steganography.",
               f"Invisible noise costs the round trip about as much from G(x) ({noise_cost:.2f} dB) as from the true "
               f"drawing ({noise_cost_truth:.2f} dB): no sign of a fragile hidden signal at this amplitude.")

# %% [markdown]
# ## 7. Pick an emoji
#
# The widget shows a held-out emoji in Google's style, the shipped pix2pix's and CycleGAN's translations, and
# Twitter's true drawing; the other direction (Twitter → Google) uses the other generator of each pair.

# %%
choice = widgets.Dropdown(options=[(f"{e} {n}", i) for i, (e, n) in enumerate(zip(held.emoji, held.names))],
                          value=show[0], description="emoji")
direction = widgets.Dropdown(options=[("Google -> Twitter", "g2t"), ("Twitter -> Google", "t2g")], value="g2t",
                             description="direction")
out = widgets.Output()


def draw(*_):
    i, way = choice.value, direction.value
    source, truth = (held.google, held.twitter) if way == "g2t" else (held.twitter, held.google)
    row = np.concatenate([source[i:i + 1], translate(models["pix2pix", way], source[i:i + 1]),
                          translate(models["cyclegan", way], source[i:i + 1]), truth[i:i + 1]])
    with out:
        out.clear_output(wait=True)
        viz.show_images(row, ncols=4, size=1.6, title="input | pix2pix | CycleGAN | truth: " + held.names[i])
        plt.show()
    return row


choice.observe(draw, names="value")
direction.observe(draw, names="value")
display(widgets.VBox([widgets.HBox([choice, direction]), out]))
first = draw()
direction.value = "t2g"  # the widget redraws in the other direction
assert not np.array_equal(draw(), first)

# %% [markdown]
# ## Summary
#
# - Image translation maps an image to the matching image of another kind. With **pairs**, pix2pix trains a U-Net
#   with L1 to the right answer plus a conditional PatchGAN that judges (input, output) patches; the PatchGAN's
#   receptive field (18×18 here, lesson 02's recurrence) sets the scale it judges.
# - Without pairs, CycleGAN ties two translators together: each must fool its discriminator (least-squares loss),
#   and a round trip must return the input (cycle consistency); an identity term keeps what is already right.
# - Paired data make translation measurable: PSNR and SSIM against the true drawing, colour FID against the target
#   style at a known floor, coverage, and baselines without a GAN (the identity, histogram matching, a fitted
#   colour map). Section 4 prints what pairing bought here, at equal time and over two seeds.
# - Ablations show what each term does: L1 finds the right image; the adversarial term alone makes outputs look like
#   the style without being right (and at this budget, added to L1, it did not lower the FID); λ_cycle trades
#   change against faithfulness, and the cycle term is satisfied most cheaply by changing nothing: a residual
#   generator, which starts there, never leaves.
# - The cycle can be cheated: a generator can hide what the round trip needs in a low-amplitude signal. With the
#   truth at hand, that is a measurement (section 6), not a suspicion.
#
# ## Exercises
#
# Each exercise's check names the usual mistakes when your answer makes one of them.
#
# ### Exercise 1: the cycle-consistency loss
#
# Write `cycle_loss(x, y, g, f)`: `x` is a batch of Google drawings, `y` a batch of Twitter drawings (the two
# batches may differ in size), `g` translates Google → Twitter and `f` Twitter → Google (functions on arrays).
# Return $\text{mean}|f(g(x)) - x| + \text{mean}|g(f(y)) - y|$, each mean over its own batch (no λ).

# %% tags=["export"]
def cycle_loss(x, y, g, f):
    ### BEGIN SOLUTION
    forward = np.mean(np.abs(f(g(x)) - x))   # Google -> Twitter -> Google
    backward = np.mean(np.abs(g(f(y)) - y))  # Twitter -> Google -> Twitter
    return float(forward + backward)
    ### END SOLUTION


# %%
_ = ex.check_cycle_loss(cycle_loss)
### BEGIN HIDDEN TESTS
_ = ex.check_cycle_loss(cycle_loss, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# ### Exercise 2: what the conditional PatchGAN sees
#
# Write `conditional_d_loss(disc, source, target, fake)`: pix2pix's discriminator loss for one batch. `disc` takes
# a 6-channel array, the input drawing's 3 channels first and then an image's 3, and returns a map of logits. The
# real pair is (source, target), the fake pair (source, fake); the loss is
# $\text{mean}(\text{softplus}(-D(\text{real pair}))) + \text{mean}(\text{softplus}(D(\text{fake pair})))$, a number.
# (The check's `disc` is a plain Python function, so call it eagerly, not inside a `tf.function`.) Why must the
# PatchGAN see the source at all?

# %% tags=["export"]
def conditional_d_loss(disc, source, target, fake):
    ### BEGIN SOLUTION
    real_logits = disc(tf.concat([source, target], axis=-1))
    fake_logits = disc(tf.concat([source, fake], axis=-1))
    return float(tf.reduce_mean(tf.nn.softplus(-real_logits)) + tf.reduce_mean(tf.nn.softplus(fake_logits)))
    ### END SOLUTION


# %%
_ = ex.check_conditional_d_loss(conditional_d_loss)
### BEGIN HIDDEN TESTS
_ = ex.check_conditional_d_loss(conditional_d_loss, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# ### Exercise 3: the least-squares GAN losses
#
# Write `lsgan_losses(real_scores, fake_scores)` returning `(d_loss, g_loss)` as CycleGAN uses them (section 3):
# $L_D = \frac12[\text{mean}((s_\text{real} - 1)^2) + \text{mean}(s_\text{fake}^2)]$ and
# $L_G = \text{mean}((s_\text{fake} - 1)^2)$, for patch maps of scores.

# %% tags=["export"]
def lsgan_losses(real_scores, fake_scores):
    ### BEGIN SOLUTION
    d_loss = 0.5 * (np.mean((np.asarray(real_scores) - 1.0) ** 2) + np.mean(np.asarray(fake_scores) ** 2))
    g_loss = np.mean((np.asarray(fake_scores) - 1.0) ** 2)
    return float(d_loss), float(g_loss)
    ### END SOLUTION


# %%
_ = ex.check_lsgan_losses(lsgan_losses)
### BEGIN HIDDEN TESTS
_ = ex.check_lsgan_losses(lsgan_losses, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# ## Next
#
# This is the last lesson. To go further with this data: give CycleGAN the paper's image pool (the discriminator
# also sees older fakes), or split the training emoji into two disjoint halves so that no emoji is ever seen in both
# styles; train pix2pix with a larger U-Net or for longer (`python tools/train_translation_models.py
# --pix2pix-minutes 30`) and watch PSNR and FID move in opposite directions; or go back to
# [00_start_here](00_start_here.ipynb) and its map of the course.
