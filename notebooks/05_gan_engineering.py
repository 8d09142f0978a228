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
# # Engineering a GAN: checkpoints, saved models, `fit()`, mixed precision and the latent space
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/image-synthesis-course/gans-and-cnns/blob/main/notebooks/05_gan_engineering.ipynb)
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/image-synthesis-course/gans-and-cnns/main?labpath=notebooks%2F05_gan_engineering.ipynb)
#
# ## Overview
#
# Lesson 04 trained a DCGAN and watched it learn. This lesson is about everything around the training step that
# a real project needs and the source article leaves out: training that survives a kernel restart, a saved
# generator that cannot be silently half-written or swapped, Keras's `fit()` as a second front end (proved to
# do the same thing as the explicit loop), what a GPU changes (mixed precision with loss scaling, XLA), and a walk
# through the generator's latent space with widgets.
#
# **Learning objectives.** After this lesson you can
# - checkpoint GAN training with both optimizers' state, restore it into fresh objects, prove that the restore is
#   exact, and resume training where it stopped;
# - save a trained generator atomically and verify a shipped one (checksum and architecture) before trusting it;
# - wrap the training step in a `keras.Model` so that `fit()` and its callbacks work, and show that it takes
#   exactly the steps of the explicit loop;
# - explain what mixed precision (with loss scaling) and XLA change on a GPU, and why the course leaves them off on
#   a CPU;
# - interpolate in the latent space (linear and spherical) and explain what it shows and what it does not.
#
# **Prerequisites.** Lesson 04 (the DCGAN recipe, `gan_update`, `train_gan`; this lesson loads them from lesson
# 04's cells tagged `export`, so it runs the very code you read there).
#
# **Where this stands in the source article.** Section 4.1 "生成对抗网络（GANs）代码实例" (GAN code example) gives a
# training function and nothing else: no checkpoint, no saved model, no monitoring. This lesson adds what it takes
# to run that code for real.

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
import dataclasses
import shutil
import time
from pathlib import Path

import keras
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display

from course_utils import checkpoints, data, device, lessons, pretrained, profiles, viz, widgets
from course_utils.exercises import engineering as ex

config = device.setup(seed=5, training=True)  # a training lesson: GPU -> mixed precision + XLA; CPU -> float32
print(f"profile: {profiles.get_profile()}, device: {config.device_name}, mixed precision: {config.mixed_precision}, "
      f"XLA: {config.jit_compile}, Keras {keras.__version__}")
OUTPUTS = Path("outputs") / "05_gan_engineering"  # generated files (ignored by git)
OUTPUTS.mkdir(parents=True, exist_ok=True)

# %% [markdown]
# Lesson 04's recipe, loaded from its cells tagged `export`: the same functions, not a copy.

# %%
dcgan = lessons.load_lesson_code("04_dcgan")
RECIPE, NOISE_DIM = dcgan.RECIPE, dcgan.NOISE_DIM
build_generator, build_discriminator, make_optimizers = (dcgan.build_generator, dcgan.build_discriminator,
                                                         dcgan.make_optimizers)
gan_update, make_ema, update_ema, sample, train_gan = (dcgan.gan_update, dcgan.make_ema, dcgan.update_ema,
                                                       dcgan.sample, dcgan.train_gan)
mnist = data.load_mnist()
x_train = data.to_float_images(mnist.x_train)
dataset = (tf.data.Dataset.from_tensor_slices(x_train).repeat().shuffle(len(x_train), seed=5)
           .batch(RECIPE.batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE))
grid_noise = tf.random.normal([64, NOISE_DIM], seed=42)
print(mnist.summary())
print(f"recipe: batch {RECIPE.batch_size}, learning rate {RECIPE.learning_rate:g}, noise {NOISE_DIM}-D")

# %% [markdown]
# ## 1. Checkpoints that survive a restart
#
# A GAN's training state is more than two sets of weights. `course_utils.checkpoints.GANCheckpoint` keeps a
# `tf.train.CheckpointManager` over both networks, **both optimizers** (their Adam moments and step counters:
# without them a resumed run starts with a "cold" optimizer, whose first steps are far too large, and with the
# wrong learning rate from the schedule), the weight-averaged generator, the step and epoch counters, and the
# history of the curves. It saves every 250 steps and at the end of each epoch, each save written to a temporary
# name and renamed when complete. `restore()` builds both optimizers first (Keras 3 creates their variables lazily:
# restored into unbuilt optimizers, the Adam moments would only arrive at the first step, could not be checked, and a
# save before that step would drop them), then loads the latest checkpoint if there is one, checking that every
# saved value found its variable and that no file is damaged.
#
# Train for a short budget (lesson 04's `train_gan`, which stops when the clock runs out).

# %%
TRAIN_MINUTES = profiles.train_minutes(full=0.5, smoke=0.05)  # COURSE_TRAIN_MINUTES overrides
STEPS_PER_EPOCH = profiles.pick(full=250, smoke=10)
run_dir = OUTPUTS / f"run-{profiles.get_profile()}"
shutil.rmtree(run_dir, ignore_errors=True)  # this lesson starts from scratch every time; section 1 resumes by itself


def new_run():
    """Fresh networks, optimizers, a train step and a checkpoint over all of them (restored if one exists)."""
    g, d = build_generator(), build_discriminator()
    e = make_ema(g)
    g_opt, d_opt = make_optimizers()
    step = dcgan.make_train_step(g, d, g_opt, d_opt, ema=e, jit_compile=config.jit_compile)
    ckpt = checkpoints.GANCheckpoint(run_dir / "checkpoints", generator=g, discriminator=d, g_optimizer=g_opt,
                                     d_optimizer=d_opt, every_n_steps=250, extra={}, ema_generator=e)
    ckpt.restore()
    return {"generator": g, "discriminator": d, "ema": e, "g_opt": g_opt, "d_opt": d_opt, "step": step,
            "ckpt": ckpt}


run = new_run()
history = train_gan(run["step"], dataset, budget_s=60 * TRAIN_MINUTES, steps_per_epoch=STEPS_PER_EPOCH,
                    checkpoint=run["ckpt"])
print(f"trained {run['ckpt'].steps_done} steps in {sum(history['train_s']):.0f} s; "
      f"checkpoints in {run_dir / 'checkpoints'}")

# %% [markdown]
# Now simulate a kernel restart: build *fresh* networks and optimizers, restore the latest checkpoint into them,
# and compare everything: weights, batch-norm statistics, the weight average, the optimizers' step counters and
# Adam moments, the history.

# %%
fresh = new_run()  # restore() ran inside
assert fresh["ckpt"].history == history
old = [run[k] for k in ("generator", "discriminator", "ema")] + [run["g_opt"], run["d_opt"]]
new = [fresh[k] for k in ("generator", "discriminator", "ema")] + [fresh["g_opt"], fresh["d_opt"]]
pairs = [(a, b) for m_old, m_new in zip(old, new)
         for a, b in zip(getattr(m_old, "weights", None) or m_old.variables,
                         getattr(m_new, "weights", None) or m_new.variables)]
assert all(np.array_equal(a.numpy(), b.numpy()) for a, b in pairs)
print(f"restored {len(pairs)} variables exactly; resumed at step {fresh['ckpt'].steps_done}, "
      f"epoch {fresh['ckpt'].epochs_done}")

# %% [markdown]
# Resuming means calling `train_gan` again on the restored objects: it continues from the restored step, with the
# restored Adam moments and learning-rate schedule, and appends to the restored history. (In lesson 04, running the
# training cell again does exactly this.)

# %%
before = fresh["ckpt"].steps_done
history = train_gan(fresh["step"], dataset, budget_s=profiles.pick(full=10, smoke=2), steps_per_epoch=STEPS_PER_EPOCH,
                    checkpoint=fresh["ckpt"], progress=False)
assert fresh["ckpt"].steps_done > before and int(fresh["g_opt"].iterations) == fresh["ckpt"].steps_done
print(f"resumed at step {before}, now at step {fresh['ckpt'].steps_done}; the history has {len(history['steps'])} "
      f"epochs, the optimizers' step counters say {int(fresh['g_opt'].iterations)}")
run = fresh

# %% [markdown]
# ## 2. Saving the generator, and trusting a shipped one
#
# The trained (weight-averaged) generator is what you keep. `save_model_atomic` writes the `.keras` file under a
# temporary name and renames it only when complete, so an interrupted save never leaves a half-written model where
# the good one was; `load_model_checked` refuses a truncated file with a clear message instead of failing somewhere
# deep in Keras.

# %%
model_path = checkpoints.save_model_atomic(run["ema"], run_dir / "generator.keras")  # the averaged generator
reloaded = checkpoints.load_model_checked(model_path)
assert np.allclose(sample(reloaded, grid_noise), sample(run["ema"], grid_noise), atol=1e-6)
print(f"saved {model_path} ({model_path.stat().st_size / 1e6:.1f} MB); the reloaded generator draws the same digits")
broken = run_dir / "truncated.keras"
broken.write_bytes(model_path.read_bytes()[: model_path.stat().st_size // 2])  # what a crash mid-write would leave
try:
    checkpoints.load_model_checked(broken)
except ValueError as err:
    print("a truncated file is refused:", str(err).split(":")[0])

# %% [markdown]
# The course ships its own trained generator (`data/dcgan_generator.weights.h5`, with its training record
# `data/dcgan_generator.json`). `pretrained.load_trained_generator` checks the file's SHA-256 against the record and
# the architecture against `build_generator()` before loading it: a file that was damaged in a download, or
# replaced by another, raises a `ValueError` instead of drawing something wrong.

# %%
course_g = build_generator()
course_record = pretrained.load_trained_generator(course_g)
print(f"the course's trained generator: {course_record['steps']:,} steps, {course_record['train_time_s'] / 60:.1f} "
      f"minutes of training, recorded FID {course_record['fid']:.2f} ({course_record['fid_samples']} samples); "
      f"SHA-256 {course_record['sha256'][:12]}... verified")
too_small = build_generator(dataclasses.replace(RECIPE, generator_width=32))  # a narrower variant of the recipe
try:
    pretrained.load_trained_generator(too_small)
except ValueError as err:
    print("a generator of another architecture is refused:", str(err)[:110], "...")

# %% [markdown]
# ## 3. The same model with `fit()`
#
# Keras's `fit()` brings callbacks, logs and distribution strategies for free, but it calls a model's
# `train_step(data)`. `DCGAN` puts lesson 04's `gan_update` there. Its `train_step` takes either a batch of real
# images (it then draws its own noise) or a pair `(real, noise)`, so that a test can hand both front ends the
# *same* noise.

# %% tags=["export"]
import keras
import tensorflow as tf

from course_utils.lessons import load_lesson_code

_L04 = load_lesson_code("04_dcgan")


class DCGAN(keras.Model):
    """Lesson 04's update as a keras.Model, so that fit(), callbacks and distribution strategies work."""

    def __init__(self, generator, discriminator, ema=None, recipe=_L04.RECIPE, **kwargs):
        super().__init__(**kwargs)
        self.generator, self.discriminator, self.ema, self.recipe = generator, discriminator, ema, recipe

    def compile(self, g_optimizer, d_optimizer, **kwargs):
        super().compile(**kwargs)
        self.g_optimizer, self.d_optimizer = g_optimizer, d_optimizer

    def call(self, noise, training=False):
        return self.generator(noise, training=training)

    def train_step(self, data):
        """One gan_update (and the weight average's update) on `real` or on `(real, noise)`."""
        if isinstance(data, (tuple, list)):
            real, noise = data
        else:
            real, noise = data, tf.random.normal([tf.shape(data)[0], self.recipe.noise_dim])
        metrics = _L04.gan_update(self.generator, self.discriminator, self.g_optimizer, self.d_optimizer, real,
                                  noise, self.recipe)
        if self.ema is not None:
            _L04.update_ema(self.ema, self.generator, self.g_optimizer.iterations, decay=self.recipe.ema_decay)
        return metrics


# %% [markdown]
# ### Two front ends, one update: prove it
#
# Start two copies from identical weights, give both the same real batch and the same noise, take one step with
# lesson 04's explicit `train_step` (a `tf.function`, weight average included) and one with `fit()` calling
# `DCGAN.train_step`, and compare every weight, the averages included. Nothing is replaced or mocked: both are the
# code that trains.

# %%
def twin(model):
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


real_batch = tf.constant(x_train[:RECIPE.batch_size])
fixed = tf.random.normal([RECIPE.batch_size, NOISE_DIM], seed=1)
g1, d1 = build_generator(), build_discriminator()
g2, d2, e1 = twin(g1), twin(d1), make_ema(g1)
e2 = twin(e1)
start_weights = g1.get_weights()
loop_step = dcgan.make_train_step(g1, d1, *make_optimizers(), ema=e1)
loop_step(real_batch, fixed)                                               # the explicit loop's path
gan = DCGAN(g2, d2, e2)
gan.compile(*make_optimizers())
gan.fit(tf.data.Dataset.from_tensors((real_batch, fixed)), epochs=1, shuffle=False, verbose=0)  # fit()'s path
gap = max(float(np.max(np.abs(a - b))) for a, b in zip(g1.get_weights() + d1.get_weights() + e1.get_weights(),
                                                         g2.get_weights() + d2.get_weights() + e2.get_weights()))
moved = max(float(np.max(np.abs(a - b))) for a, b in zip(g1.get_weights(), start_weights))
print(f"largest difference between the two paths after one step: {gap:.1e} (weights moved by up to {moved:.1e})")
assert gap < 1e-5

# %% [markdown]
# A small callback keeps the fixed-noise grid at the end of each epoch. We continue training section 1's networks
# for one short epoch with `fit()`, just to see it run.

# %%
class ShowSamples(keras.callbacks.Callback):
    """Keras callback: keep a fixed-noise grid at the end of every epoch."""

    def __init__(self, noise):
        super().__init__()
        self.noise, self.grids = noise, []

    def on_epoch_end(self, epoch, logs=None):
        self.grids.append(viz.image_grid(sample(self.model.ema, self.noise), ncols=8))


gan = DCGAN(run["generator"], run["discriminator"], run["ema"])
gan.compile(run["g_opt"], run["d_opt"], jit_compile=config.jit_compile)
show = ShowSamples(grid_noise)
fit_history = gan.fit(dataset, epochs=1, steps_per_epoch=profiles.pick(full=50, smoke=5), callbacks=[show],
                      shuffle=False, verbose=2)  # the dataset is shuffled already
print({k: round(float(v[-1]), 3) for k, v in fit_history.history.items()})
assert len(show.grids) == 1

# %% [markdown]
# ## 4. On a GPU: mixed precision and XLA
#
# `device.setup()` at the top chose the precision and compilation for this machine:
# - **mixed precision** (`keras.config.set_dtype_policy("mixed_float16")`): layers compute in float16 and keep
#   float32 weights. Tensor cores make that several times faster on a GPU. float16 gradients can underflow to zero
#   (float16's smallest positive number is about 6·10⁻⁸), so each optimizer is wrapped in a `LossScaleOptimizer`
#   (lesson 04's `make_optimizers` does it): the loss is multiplied by a large scale before differentiation and the
#   gradients are divided by it before the update; the scale halves when gradients overflow and grows again after a
#   run of good steps. Exercise 2 writes that scaling by hand. The generator's tanh and the discriminator's logit
#   stay float32 (`dtype="float32"` on those layers) so the losses are computed in full precision.
# - **XLA** (`jit_compile=True`): TensorFlow compiles the whole train step into fused kernels, fewer and larger.
#
# On a CPU, float16 does not help: CPUs have no float16 tensor cores. What XLA does on a CPU for networks this
# small is not measured in this repository, so the course leaves it off there, which is also how every CPU timing
# in the course was measured. So the course turns both on only when a GPU is present, and only in training
# lessons (`device.setup(..., training=True)`): lessons 01–03 compare against exact references and stay float32
# (with TensorFlow's TF32 matrix maths off) on every device. `COURSE_MIXED_PRECISION` and `COURSE_XLA` (`auto`, `on`,
# `off`) override the default; the test suite runs every lesson with both `on`, on a CPU, so the GPU's code path is
# checked on every commit. The cell below builds the recipe under mixed precision to show what changes (and changes
# the policy back).

# %%
keras.config.set_dtype_policy("mixed_float16")
try:
    mp_g, mp_d = build_generator(), build_discriminator()
    mp_g_opt, mp_d_opt = make_optimizers()
    mp_out = dcgan.make_train_step(mp_g, mp_d, mp_g_opt, mp_d_opt, jit_compile=False)(real_batch)
    z = tf.random.normal([8, NOISE_DIM])
    print(f"compute dtype {mp_g.layers[0].compute_dtype}, weights {mp_g.layers[0].variable_dtype}, "
          f"output {mp_g(z).dtype}, optimizer {type(mp_g_opt).__name__} (loss scale {float(mp_g_opt.dynamic_scale):g})")
    assert isinstance(mp_g_opt, keras.optimizers.LossScaleOptimizer) and mp_g(z).dtype == tf.float32
    assert all(np.isfinite(float(v)) for v in mp_out.values())
finally:
    keras.config.set_dtype_policy(config.dtype_policy)

# %% [markdown]
# ## 5. The latent space
#
# The generator maps every point of a 64-dimensional noise space to an image. Walking in a straight line between
# two noise vectors shows what it learned: a good generator morphs one digit smoothly into another. (A smooth walk
# does *not* prove the generator did not memorize: a network can interpolate smoothly between copies of training
# digits. Lesson 04's nearest-neighbour check is the test for that.) Noise vectors drawn from a standard normal in 64
# dimensions have length about √64 = 8, while the midpoint of a straight line between two of them is shorter
# (about 8/√2); spherical interpolation (slerp) keeps the length, so every point on the path looks like a typical
# input [@white2016sampling].

# %% tags=["export"]
import numpy as np


def slerp(z0, z1, t):
    """Spherical interpolation between two noise vectors (falls back to linear when they are parallel)."""
    z0, z1 = np.asarray(z0, np.float64), np.asarray(z1, np.float64)
    cos = np.dot(z0, z1) / (np.linalg.norm(z0) * np.linalg.norm(z1))
    omega = np.arccos(np.clip(cos, -1.0, 1.0))
    if omega < 1e-6:
        return ((1 - t) * z0 + t * z1).astype(np.float32)
    return ((np.sin((1 - t) * omega) * z0 + np.sin(t * omega) * z1) / np.sin(omega)).astype(np.float32)


def interpolation_path(seed_a, seed_b, steps=10, mode="slerp", noise_dim=_L04.NOISE_DIM):
    """Noise vectors from seed_a's to seed_b's (both ends included), shape (steps, noise_dim)."""
    if mode not in ("slerp", "linear"):
        raise ValueError(f"mode must be 'slerp' or 'linear', got {mode!r}")
    if not isinstance(steps, int) or steps < 2:
        raise ValueError(f"steps must be an int >= 2, got {steps!r}")
    z0 = np.random.default_rng(seed_a).standard_normal(noise_dim)
    z1 = np.random.default_rng(seed_b).standard_normal(noise_dim)
    ts = np.linspace(0.0, 1.0, steps)
    if mode == "linear":
        return np.stack([(1 - t) * z0 + t * z1 for t in ts]).astype(np.float32)
    return np.stack([slerp(z0, z1, t) for t in ts])


# %%
path_linear, path_slerp = interpolation_path(1, 2, 10, "linear"), interpolation_path(1, 2, 10, "slerp")
print("length along the straight line:", np.round(np.linalg.norm(path_linear, axis=1), 1))
print("length along the slerp path:   ", np.round(np.linalg.norm(path_slerp, axis=1), 1))
viz.show_images(np.concatenate([sample(course_g, path_linear), sample(course_g, path_slerp)]), ncols=10,
                title="the course's trained generator: linear (top) and spherical (bottom) interpolation")
plt.show()

# %% [markdown]
# ### Explore it yourself
#
# Two widgets: **draw** shows 32 new digits for any seed; **walk** moves along the path between two seeds. Each
# has a **generator** menu: the course's trained generator (the default) or the short run of section 1. The
# callbacks are ordinary functions (`draw_samples`, `walk_latent`) that return what they drew, so the tests drive
# them without a browser; `widgets.latent_explorer` (course_utils) lays the widgets out. Only widgets common to ipywidgets 7.7 (Colab)
# and 8 are used.

# %% tags=["export"]
def draw_samples(generator, seed, n=32, noise_dim=_L04.NOISE_DIM):
    """n samples from the noise of `seed`: (n, 28, 28, 1) floats in [-1, 1]."""
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    noise = np.random.default_rng(int(seed)).standard_normal((n, noise_dim)).astype(np.float32)
    return _L04.sample(generator, noise)


def walk_latent(generator, seed_a, seed_b, t, mode="slerp"):
    """The image at position t in [0, 1] on the path from seed_a's noise to seed_b's: (28, 28, 1)."""
    if not 0.0 <= float(t) <= 1.0:
        raise ValueError(f"t must be in [0, 1], got {t!r}")
    path = interpolation_path(seed_a, seed_b, 2, mode)  # its two ends
    z = slerp(path[0], path[1], float(t)) if mode == "slerp" else ((1 - t) * path[0] + t * path[1]).astype(np.float32)
    return _L04.sample(generator, z[None])[0]


# %%
GENERATORS = {"the course's trained generator": course_g, "your run (section 1)": run["ema"]}
display(widgets.latent_explorer(GENERATORS, draw_samples, walk_latent))

# %% [markdown]
# ## Summary
#
# - A GAN checkpoint holds both networks, **both optimizers** (Adam moments and step counters), the weight average
#   and the history; build the optimizers before restoring, then check that every value found its variable.
#   Resuming is calling the same training function again on the restored objects.
# - Save final models atomically (temporary name, then rename) and refuse truncated files; verify a shipped model's
#   checksum and architecture before using it.
# - `keras.Model.train_step` can wrap the very update of an explicit loop; a test with injected noise proves both
#   front ends take the same step, weight average included.
# - Mixed precision (float16 compute, float32 weights, loss scaling) and XLA speed up GPUs; on a CPU the course keeps
#   float32 and no XLA. Lessons whose point is exactness (00–03, 06) stay float32 everywhere: a GPU gives the same
#   numbers up to float32 rounding. The training lessons (04, 05, 07) use mixed precision and XLA on a GPU, so there
#   a run differs from a CPU run and agrees with it only statistically.
# - The latent space is continuous: interpolations morph one digit into another; slerp keeps every point at a
#   typical length. Smoothness is not a proof against memorization.
#
# ## Exercises
#
# ### Exercise 1: what a checkpoint must hold
# Write `same_state(a, b)`: `a` and `b` are lists of the same kinds of objects in the same order (Keras models and
# optimizers, e.g. `[generator, discriminator, g_opt, d_opt]`); return `True` exactly when every variable of every
# pair holds the same values. A model's variables are `model.weights` (the trainable ones *and* the batch-norm
# moving statistics); an optimizer's are `optimizer.variables` (its step counter and Adam moments). Lists of
# different lengths are not the same state. The check hands in states that differ in one kind of variable only, and
# says what a checkpoint that missed it would lose.

# %% tags=["export"]
def same_state(a, b):
    """True if every variable of every model/optimizer pair of the lists a and b holds the same values."""
    ### BEGIN SOLUTION
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        xs = x.weights if isinstance(x, keras.Model) else x.variables
        ys = y.weights if isinstance(y, keras.Model) else y.variables
        if len(xs) != len(ys) or not all(np.array_equal(u.numpy(), v.numpy()) for u, v in zip(xs, ys)):
            return False
    return True
    ### END SOLUTION


# %%
_ = ex.check_same_state(same_state)

# %% [markdown]
# ### Exercise 2: loss scaling by hand
# Write `scaled_gradients(loss_fn, variables, scale)`: what a `LossScaleOptimizer` does before it applies gradients.
# Inside a `tf.GradientTape`, call `loss_fn()` and multiply the loss by `scale`; differentiate with respect to
# `variables`; divide every gradient by `scale`; return the list. The check uses a float32 loss (your gradients must
# equal the plain ones) and a float16 computation whose true gradient, 10⁻⁸, underflows to 0 without scaling.

# %% tags=["export"]
def scaled_gradients(loss_fn, variables, scale):
    """Gradients of loss_fn() with respect to variables, computed on scale * loss and divided back by scale."""
    ### BEGIN SOLUTION
    with tf.GradientTape() as tape:
        scaled = loss_fn() * scale
    return [g / scale for g in tape.gradient(scaled, variables)]
    ### END SOLUTION


# %%
_ = ex.check_scaled_gradients(scaled_gradients)

# %% [markdown]
# ## Next
# [06_image_restoration](06_image_restoration.ipynb) turns to the other half of the article: restoring images with
# CNNs, and where a GAN's loss helps.
