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
# # A CNN classifier that runs, and the course's image evaluator
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/image-synthesis-course/gans-and-cnns/blob/main/notebooks/03_cnn_classifier.ipynb)
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/image-synthesis-course/gans-and-cnns/main?labpath=notebooks%2F03_cnn_classifier.ipynb)
#
# ## Overview
#
# The source article's CNN code builds a classifier and then trains it on `X_train` and `y_train`, two names it never
# defines. This lesson runs that model as written, counts its parameters by hand, adapts the same design to real
# handwritten digits, and looks inside the trained network. Then it turns a small CNN into a measuring instrument,
# the **evaluator**, that every later lesson uses to score generated digits: a Fréchet distance in its feature space
# and a class-coverage meter that detects mode collapse.
#
# **Learning objectives.** After this lesson you can
# - run a Keras model on a dummy batch and predict every layer's output shape and parameter count by hand;
# - say what the article's code lacks (data, input shape, number of classes) and adapt it to MNIST;
# - build a `tf.data` input pipeline, train with a validation set, and read loss and accuracy curves;
# - judge a classifier by more than accuracy: a confusion matrix and its most confidently wrong examples;
# - show what a CNN learned: its first-layer filters and the feature maps of a real digit;
# - explain the Fréchet distance between feature distributions, why it is *not* the FID of papers here, and check
#   that it behaves (small for real data, large for noise, growing with blur and noise);
# - use `course_utils.evaluator` to score a batch of generated digits.
#
# **Prerequisites.** Lessons 00 (set-up, data, profiles) and 02 (convolution and pooling: output sizes, channels,
# filters); lesson 01's primer (`tf.GradientTape`, `tf.function`, the `training=` flag, optimizers). Keras'
# `compile` and `fit` are explained here (section 2), as the loop lesson 01 wrote by hand.
#
# **Where this stands in the source article.** Section 4.2 "卷积神经网络（CNNs）代码实例" (CNN code example):
# a `Sequential` model of two convolution/pooling blocks and two dense layers for 64×64 colour images with a single
# sigmoid output, compiled with binary cross-entropy and fitted on data that the article never provides.
# The "evaluator" part is this course's addition: section 5 of the article asks for better image quality but never
# says how to measure it.

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
import time
from pathlib import Path

import keras
import matplotlib.pyplot as plt
import numpy as np
from keras import layers
from scipy.ndimage import gaussian_filter

from course_utils import data, device, evaluator, profiles, viz
from course_utils.errors import shows_error
from course_utils.exercises import cnn as ex

config = device.setup(seed=3)
print(f"profile: {profiles.get_profile()}, device: {config.device_name}, Keras {keras.__version__}")
OUTPUTS = Path("outputs") / "03_cnn_classifier"  # generated files (ignored by git)

# %% [markdown]
# ## 1. Run the article's model as written
#
# Here is the article's model. The only change: Keras 3 wants the input shape in a `keras.Input` first rather
# than as `input_shape=` on the first layer (that spelling still works but warns).

# %%
article_cnn = keras.Sequential([
    keras.Input(shape=(64, 64, 3)),
    layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
    layers.MaxPooling2D(pool_size=(2, 2)),
    layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
    layers.MaxPooling2D(pool_size=(2, 2)),
    layers.Flatten(),
    layers.Dense(128, activation="relu"),
    layers.Dense(1, activation="sigmoid"),
], name="article_cnn")
article_cnn.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])

# %% [markdown]
# Run it at once on a dummy batch of four random 64×64 colour images. An untrained network with a sigmoid output
# gives one number in (0, 1) per image: a "probability of class 1" that means nothing yet.

# %%
dummy = np.random.default_rng(0).uniform(size=(4, 64, 64, 3)).astype("float32")
dummy_out = article_cnn(dummy)
assert dummy_out.shape == (4, 1) and np.all((dummy_out > 0) & (dummy_out < 1))
print("input", dummy.shape, "-> output", tuple(dummy_out.shape))  # NBVAL_CHECK_OUTPUT

# %% [markdown]
# ### Count the parameters by hand
#
# With `padding="valid"` (the default) a 3×3 convolution trims one pixel on each side: $n \mapsto n - 2$. A 2×2
# max-pooling halves the size, rounding down: $n \mapsto \lfloor n/2 \rfloor$. So the image goes
# 64 → 62 → 31 → 29 → 14, and `Flatten` sees $14 \cdot 14 \cdot 64 = 12{,}544$ numbers.
#
# A `Conv2D` with a $k_h \times k_w$ kernel, $C_\text{in}$ input channels and $F$ filters has
# $$P_\text{conv} = (k_h k_w C_\text{in} + 1)\,F$$
# parameters: each filter spans **all** input channels and has **one** bias. A `Dense` layer from $n$ inputs to
# $m$ units has $P_\text{dense} = (n + 1)\,m$. Pooling and flattening have none.

# %%
p_conv1 = (3 * 3 * 3 + 1) * 32          # 896
p_conv2 = (3 * 3 * 32 + 1) * 64         # 18,496
flat = 14 * 14 * 64                     # 12,544
p_dense1 = (flat + 1) * 128             # 1,605,760
p_dense2 = (128 + 1) * 1                # 129
by_hand = p_conv1 + p_conv2 + p_dense1 + p_dense2
sizes = [64]
for step in (lambda n: n - 2, lambda n: n // 2, lambda n: n - 2, lambda n: n // 2):  # conv, pool, conv, pool
    sizes.append(step(sizes[-1]))
assert sizes == [64, 62, 31, 29, 14]
assert tuple(article_cnn.layers[3].output.shape[1:]) == (14, 14, 64) and 14 * 14 * 64 == flat
assert by_hand == article_cnn.count_params()
assert [layer.count_params() for layer in article_cnn.layers] == [p_conv1, 0, p_conv2, 0, 0, p_dense1, p_dense2]
print(f"parameters by hand: {by_hand:,}; Keras: {article_cnn.count_params():,}")  # NBVAL_CHECK_OUTPUT

# %% [markdown]
# Layer by layer, with the output shapes Keras computed (the batch axis is `None`):

# %%
for layer in article_cnn.layers:  # NBVAL_CHECK_OUTPUT
    print(f"{type(layer).__name__:<13} {str(tuple(layer.output.shape)):<20} {layer.count_params():>10,}")

# %% [markdown]
# 99 % of the parameters sit in the first dense layer, because it connects every one of the 12,544 flattened
# values to each of its 128 units. The convolutions, which do the looking, are tiny: weights shared across positions
# are what make CNNs economical.
#
# ### What the article's code would need
#
# The article ends with `cnn.fit(X_train, y_train, epochs=10, batch_size=32)`, and the comment
# "假设X_train和y_train是训练数据和标签" (assume `X_train` and `y_train` are the training data and labels).
# Run as written, it fails there (the cell shows the error and goes on):

# %%
with shows_error(NameError, match="X_train"):  # prints the error and the failing line, then the notebook goes on
    article_cnn.fit(X_train, y_train, epochs=10, batch_size=32)  # noqa: F821  (names the article never defines)

# %% [markdown]
# To train anything it needs:
# - **data**: `X_train` as a float array of shape `(n, 64, 64, 3)` (scaled to [0, 1]) and `y_train` of 0/1 labels;
#   the article says neither what the images are nor where they come from;
# - **a task that matches the head**: one sigmoid unit and binary cross-entropy fit a yes/no question (cat or not).
#   Handwritten digits have 10 classes: that needs 10 softmax units and (sparse) categorical cross-entropy;
# - **an input shape that matches the data**: MNIST digits are 28×28 with one grey channel, not 64×64×3;
# - **held-out data**: without a validation and a test set, nothing tells us whether it learned or memorised.
#
# ## 2. Adapt the design to real digits
#
# ### Load the data
# `load_mnist` gives the full 70,000 digits online, or (offline, as in the tests) the 5,000 real digits bundled
# with the course. We keep the held-out set for the very end and carve a validation set out of the training set.

# %%
mnist = data.load_mnist()
(x_train_all, y_train_all), (x_test, y_test) = mnist
print(mnist.summary())
n_val = len(x_train_all) // 10
x_fit, y_fit = x_train_all[:-n_val], y_train_all[:-n_val]
x_val, y_val = x_train_all[-n_val:], y_train_all[-n_val:]
N_FIT = profiles.pick(full=len(x_fit), smoke=512)  # the smoke profile trains on a slice, only to run the code
x_fit, y_fit = x_fit[:N_FIT], y_fit[:N_FIT]
print(f"fit {len(x_fit):,}, validation {len(x_val):,}, test {len(x_test):,}")

# %% [markdown]
# ### A `tf.data` pipeline
# The pipeline turns uint8 images into float32 in [0, 1] with a channel axis, shuffles the training set with a
# fixed seed (every epoch in a new order), batches, and prefetches the next batch while the model works on this one.

# %% tags=["export"]
def make_dataset(x, y, *, batch_size=128, shuffle=False, seed=0):
    """uint8 images (n, 28, 28) and labels -> a batched tf.data.Dataset of (float32 (b, 28, 28, 1) in [0, 1], label)."""
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((x, y.astype("int32")))
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    ds = ds.map(lambda img, label: (tf.cast(img, tf.float32)[..., None] / 255.0, label),
                num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


# %%
train_ds = make_dataset(x_fit, y_fit, shuffle=True)
val_ds = make_dataset(x_val, y_val)
test_ds = make_dataset(x_test, y_test)
xb, yb = next(iter(train_ds))
assert xb.dtype == tf.float32 and 0.0 <= float(tf.reduce_min(xb)) and float(tf.reduce_max(xb)) <= 1.0
print("one batch:", tuple(xb.shape), xb.dtype.name, tuple(yb.shape), yb.dtype.name)  # NBVAL_CHECK_OUTPUT

# %% [markdown]
# ### The same design, sized for digits
# Same two conv/pool blocks and the same 128-unit dense layer; the input becomes 28×28×1 and the head 10 softmax
# units. Sizes: 28 → 26 → 13 → 11 → 5, so `Flatten` gives $5 \cdot 5 \cdot 64 = 1{,}600$ values and the model is
# about 7 times smaller than the article's, although it does a harder task.

# %% tags=["export"]
def build_mnist_cnn(num_classes=10):
    """The article's CNN adapted to 28x28 grey digits and `num_classes` softmax outputs."""
    import keras
    from keras import layers

    return keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(32, 3, activation="relu", name="conv1"),
        layers.MaxPooling2D(2, name="pool1"),
        layers.Conv2D(64, 3, activation="relu", name="conv2"),
        layers.MaxPooling2D(2, name="pool2"),
        layers.Flatten(name="flatten"),
        layers.Dense(128, activation="relu", name="dense"),
        layers.Dense(num_classes, activation="softmax", name="probs"),
    ], name="mnist_cnn")


# %%
cnn = build_mnist_cnn()
mnist_by_hand = (9 * 1 + 1) * 32 + (9 * 32 + 1) * 64 + (5 * 5 * 64 + 1) * 128 + (128 + 1) * 10
assert mnist_by_hand == cnn.count_params() == ex.article_param_count((28, 28, 1), 10)
print(f"parameters: {cnn.count_params():,}")  # NBVAL_CHECK_OUTPUT

# %% [markdown]
# ### Why a softmax output, when lesson 01 insisted on losses from logits
# Lesson 01 computed every loss from logits, because log(σ(l)) computed from a float32 probability breaks down
# where the probability rounds to 0. Here the model ends in a softmax and the loss receives probabilities, which
# looks like the mistake lesson 01 warned against. On Keras' TensorFlow backend it is not: a softmax layer attaches
# its input, the logits, to its output tensor, and the cross-entropy uses those logits when it finds them
# (`keras/src/backend/tensorflow/nn.py`, `_get_logits`). The check: for logits (100, 0, …, 0) and true class 1,
# the cross-entropy is exactly 100. Straight from the softmax layer Keras gets 100; from the same probabilities
# once they have left Keras (a NumPy copy, say), the probability e^−100 rounds to 0, is clipped to 1e-7, and the
# loss reads −log(1e-7) ≈ 16.1.

# %%
logits = np.zeros((1, 10), "float32")
logits[0, 0] = 100.0
label = np.array([1])
probs = layers.Activation("softmax")(logits)
loss_fn = keras.losses.SparseCategoricalCrossentropy()
from_softmax_layer = float(loss_fn(label, probs))
from_numpy_probs = float(loss_fn(label, np.asarray(probs)))
from_logits = float(keras.losses.SparseCategoricalCrossentropy(from_logits=True)(label, logits))
print(f"from logits {from_logits:.2f} | from the softmax layer {from_softmax_layer:.2f} | "
      f"from a NumPy copy of the probabilities {from_numpy_probs:.2f}")  # NBVAL_CHECK_OUTPUT
assert np.isclose(from_logits, 100.0) and np.isclose(from_softmax_layer, from_logits)
assert np.isclose(from_numpy_probs, -np.log(1e-7), rtol=1e-3)

# %% [markdown]
# So training is stable either way, and we keep the softmax: `predict` then returns probabilities, which the
# confusion matrix and the confidence ranking below use directly, and the evaluator of section 3 (shipped
# trained, in `data/`) has the same head. Code meant for other backends, or which computes a loss from stored
# probabilities, should output logits and pass `from_logits=True`, as lesson 01 does.
#
# ### What `compile` and `fit` do
# `compile` only records three choices: the optimizer, the loss and the metrics to report. `fit` then runs the
# loop that lesson 01 wrote by hand, for every batch of every epoch: compute the predictions with `training=True`
# under a `tf.GradientTape`, the loss, its gradient with respect to the trainable weights, and one optimizer step,
# compiled with `tf.function`. Check it on a tiny model: one epoch of `fit` over two batches and the hand-written
# loop, from the same starting weights, end with the same weights.

# %%
def tiny_model():
    keras.utils.set_random_seed(0)  # the same initial weights every time
    return keras.Sequential([keras.Input((28, 28, 1)), layers.Flatten(), layers.Dense(10, activation="softmax")])


x_tiny, y_tiny = xb[:64], yb[:64]  # one batch of real digits from the pipeline above
by_fit = tiny_model()
by_fit.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
by_fit.fit(x_tiny, y_tiny, batch_size=32, epochs=1, shuffle=False, verbose=0)

by_hand, opt, loss_fn = tiny_model(), keras.optimizers.SGD(0.1), keras.losses.SparseCategoricalCrossentropy()
for start in (0, 32):  # the same two batches, in the same order
    with tf.GradientTape() as tape:
        loss = loss_fn(y_tiny[start:start + 32], by_hand(x_tiny[start:start + 32], training=True))
    grads = tape.gradient(loss, by_hand.trainable_variables)
    opt.apply_gradients(zip(grads, by_hand.trainable_variables))
gap = max(float(np.max(np.abs(a - b))) for a, b in zip(by_fit.get_weights(), by_hand.get_weights()))
print(f"largest difference between the weights after fit and after the hand-written loop: {gap:.1e}")
assert gap < 1e-5 and int(opt.iterations) == 2

# %% [markdown]
# ### Train with a validation set
# `verbose=0` keeps the notebook free of progress bars; the history holds one value per epoch. On the bundled
# 3,600 training digits each epoch takes a few seconds on two CPU cores; on the full 54,000 fewer epochs suffice.

# %%
EPOCHS = profiles.pick(full=12 if mnist.is_subset else 3, smoke=1)
cnn.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
start = time.perf_counter()
history = cnn.fit(train_ds, validation_data=val_ds, epochs=EPOCHS, verbose=0,
                  shuffle=False)  # the pipeline shuffles; fit cannot shuffle a tf.data.Dataset itself
print(f"{EPOCHS} epochs in {time.perf_counter() - start:.0f} s; "
      f"last validation accuracy {history.history['val_accuracy'][-1]:.3f}")

# %%
fig = viz.plot_history(history.history, groups=[["loss", "val_loss"], ["accuracy", "val_accuracy"]],
                       xlabel="epoch", title="MNIST CNN: training and validation")

# %% [markdown]
# The training loss keeps falling while the validation loss flattens out after a few epochs: the growing gap
# between the two curves is how over-fitting shows (the model has no dropout or augmentation, and 3,600 digits are
# few). Now, once, the held-out test set:

# %%
test_loss, test_acc = cnn.evaluate(test_ds, verbose=0)
probs = cnn.predict(test_ds, verbose=0)
pred = probs.argmax(axis=1)
assert np.isclose(test_acc, np.mean(pred == y_test), atol=1e-6)
print(f"test accuracy {test_acc:.4f} on {len(x_test):,} held-out digits ({mnist.source})")

# %% [markdown]
# ### Where does it go wrong?
# The confusion matrix $C$ counts test images of true class $i$ predicted as $j$ in $C_{ij}$. Each row sums to the
# number of test images of that class, and the diagonal sum over the total is the accuracy.

# %%
confusion = np.zeros((10, 10), dtype=int)
np.add.at(confusion, (y_test, pred), 1)
assert np.array_equal(confusion.sum(axis=1), np.bincount(y_test, minlength=10))
assert np.isclose(np.trace(confusion) / confusion.sum(), test_acc, atol=1e-6)

fig, ax = plt.subplots(figsize=(4.6, 4))
im = ax.imshow(np.log1p(confusion), cmap="Blues")
for i in range(10):
    for j in range(10):
        if confusion[i, j]:
            ax.text(j, i, confusion[i, j], ha="center", va="center", fontsize=7,
                    color="white" if i == j else "black")
ax.set(xticks=range(10), yticks=range(10), xlabel="predicted", ylabel="true", title="confusion matrix (test)")
plt.show()

# %% [markdown]
# Accuracy hides *how* a model fails. The most instructive errors are the confident ones: wrong, yet with a high
# top probability. Some are genuinely ambiguous or mislabelled digits; others show what the network has not learned.

# %%
wrong = np.flatnonzero(pred != y_test)
worst = wrong[np.argsort(-probs[wrong].max(axis=1))][:12]
if len(worst):
    viz.show_images(x_test[worst], ncols=6, title="most confidently wrong: true→predicted (confidence)",
                    labels=[f"{y_test[i]}→{pred[i]} ({probs[i].max():.2f})" for i in worst], size=1.4)
    plt.show()
print(f"{len(wrong)} of {len(x_test)} test digits misclassified")

# %% [markdown]
# ### What did it learn?
# The 32 first-layer filters are 3×3 weight patterns, each compared with every 3×3 patch of the digit (lesson 02).
# Many are small edge and stroke detectors in different orientations.

# %%
kernels = cnn.get_layer("conv1").kernel.numpy()  # (3, 3, 1, 32)
assert kernels.shape == (3, 3, 1, 32)
filters = np.moveaxis(kernels[:, :, 0, :], -1, 0)  # (32, 3, 3)
filters = filters / np.abs(filters).max(axis=(1, 2), keepdims=True)  # each in [-1, 1]: blue < 0 < red
fig, axes = plt.subplots(2, 16, figsize=(10, 1.5))
for k, ax in zip(filters, axes.flat):
    ax.imshow(k, cmap="bwr", vmin=-1, vmax=1)
    ax.axis("off")
fig.suptitle("conv1 filters (red: positive weight, blue: negative)")
plt.show()

# %% [markdown]
# Feature maps show what these filters respond to in one real test digit: the first layer's maps still look like
# the digit (strokes of one orientation light up); after pooling, the second layer's smaller maps respond to
# larger parts.

# %%
probe = keras.Model(cnn.inputs[0], [cnn.get_layer("conv1").output, cnn.get_layer("conv2").output])
digit = x_test[:1].astype("float32")[..., None] / 255.0
maps1, maps2 = (np.asarray(m)[0] for m in probe(digit))
assert maps1.shape == (26, 26, 32) and maps2.shape == (11, 11, 64)
viz.show_images(x_test[:1], title=f"input (true {y_test[0]}, predicted {pred[0]})", size=1.5)
viz.show_images(np.moveaxis(maps1[..., :16], -1, 0), ncols=8, value_range=(0, max(maps1.max(), 1e-6)),
                title="conv1 feature maps (first 16 of 32)", size=1.2)
viz.show_images(np.moveaxis(maps2[..., :16], -1, 0), ncols=8, value_range=(0, max(maps2.max(), 1e-6)),
                title="conv2 feature maps (first 16 of 64)", size=1.2)
plt.show()

# %% [markdown]
# ### The same network on Fashion-MNIST
# Fashion-MNIST has the same format (28×28 grey, 10 classes) with clothes instead of digits, and is harder.
# There is no bundled copy: offline (as in the tests) this part is skipped.

# %%
try:
    fashion = data.load_fashion_mnist()
except data.DataUnavailableError as err:
    fashion = None
    print(f"Fashion-MNIST skipped (offline): {str(err)[:100]}...")
if fashion is not None:
    n = profiles.pick(full=20_000, smoke=512)
    f_fit = make_dataset(fashion.x_train[:n], fashion.y_train[:n], shuffle=True)
    f_test = make_dataset(fashion.x_test, fashion.y_test)
    f_cnn = build_mnist_cnn()
    f_cnn.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    f_cnn.fit(f_fit, epochs=profiles.pick(full=4, smoke=1), verbose=0, shuffle=False)
    print(f"Fashion-MNIST test accuracy {f_cnn.evaluate(f_test, verbose=0)[1]:.3f} ({n:,} training images)")

# %% [markdown]
# ## 3. Build the evaluator: a CNN as a measuring instrument
#
# The GAN lessons need a number that says how good a batch of generated digits is. Eyeballing grids does not
# scale, and a GAN's own losses do not measure image quality. The standard tool in papers is the Fréchet Inception
# Distance (FID) [@heusel2017gans]: pass real and generated images through a trained network, take the activations of a late layer
# as *features*, fit a Gaussian to each set and measure the distance between the two Gaussians. For two Gaussians
# with means $\mu_1, \mu_2$ and covariances $\Sigma_1, \Sigma_2$, the Fréchet distance is
# $$d^2 = \lVert \mu_1 - \mu_2 \rVert^2 + \operatorname{Tr}\!\left(\Sigma_1 + \Sigma_2 - 2\,(\Sigma_1 \Sigma_2)^{1/2}\right).$$
# In one dimension it becomes $(m_1 - m_2)^2 + (s_1 - s_2)^2$ with standard deviations $s_1, s_2$. Check both, the
# second against an independent way of computing the trace of the matrix square root
# ($\operatorname{Tr}(\Sigma_1\Sigma_2)^{1/2}$ is the sum of the square roots of the eigenvalues of
# $\Sigma_1^{1/2}\Sigma_2\Sigma_1^{1/2}$):

# %%
assert np.isclose(evaluator.frechet_distance([1.0], [[4.0]], [3.0], [[9.0]]), (1 - 3) ** 2 + (2 - 3) ** 2)

rng = np.random.default_rng(0)
a, b = rng.standard_normal((500, 5)), rng.standard_normal((500, 5)) @ rng.standard_normal((5, 5)) + 1.0
mu1, s1, mu2, s2 = a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False)
w, v = np.linalg.eigh(s1)
root1 = v @ np.diag(np.sqrt(w)) @ v.T
trace_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh(root1 @ s2 @ root1), 0, None)).sum()
assert np.isclose(evaluator.frechet_distance(mu1, s1, mu2, s2),
                  ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * trace_sqrt)

# %% [markdown]
# Papers use Inception-v3 [@szegedy2016rethinking], trained on ImageNet photos, for the features. For 28×28 digits we use our own small
# MNIST CNN instead, so **our numbers are not comparable to any FID in a paper**; they only compare the course's
# runs with each other. The evaluator (in `course_utils/evaluator.py`) is:
# - Conv 16 → pool → Conv 32 → pool → Dense 64 (ReLU, the **feature layer**) → Dropout → Dense 10 (softmax);
# - trained with a fixed recipe (`evaluator.RECIPE`: seed, Adam, 15 epochs) on the 4,000 bundled training digits,
#   always the same ones, online or not, so its numbers mean the same everywhere;
# - shipped in `data/` with SHA-256 checks, together with the mean and covariance of its features on those 4,000
#   real digits, so later lessons load it in a fraction of a second and never retrain it.
#
# Here we train it with that recipe. The full profile runs the whole recipe and compares the result with the
# shipped file; the smoke profile (the tests) trains one epoch only to run the code. Both then load the shipped
# evaluator for the rest of the lesson.

# %%
print(evaluator.RECIPE)
start = time.perf_counter()
trained, ev_history = evaluator.train_evaluator(epochs=profiles.pick(full=evaluator.RECIPE.epochs, smoke=1),
                                                save_to=OUTPUTS / "evaluator")
print(f"trained in {time.perf_counter() - start:.0f} s, held-out accuracy "
      f"{trained.reference.metadata['held_out_accuracy']}")
same = data.sha256_of(OUTPUTS / "evaluator" / evaluator.WEIGHTS_NAME) == evaluator.WEIGHTS_SHA256
print("bit-identical to the shipped weights:", same,
      "" if same else "(expected in the smoke profile, or on another machine: round-off differs)")

# %%
fig = viz.plot_history(ev_history, groups=[["loss", "val_loss"], ["accuracy", "val_accuracy"]], xlabel="epoch",
                       title="evaluator training (fixed recipe)")

# %%
start = time.perf_counter()
ev = evaluator.load_evaluator()
print(f"loaded in {time.perf_counter() - start:.2f} s:", ev.model.name, f"{ev.model.count_params():,} parameters")

# %% [markdown]
# ### Check the instrument before trusting it
# Held-out accuracy of the shipped evaluator on the 1,000 bundled digits it never saw:

# %%
bundled = data.load_bundled_mnist()
print(f"shipped evaluator, held-out accuracy: {ev.accuracy(bundled.x_test, bundled.y_test):.3f}")  # NBVAL_CHECK_OUTPUT

# %% [markdown]
# A good distance is near zero between two samples of real digits, large for noise, and grows steadily as real
# digits are damaged. The estimate depends on the number of images (small samples give a larger value), so every
# comparison uses the same number, `N_EVAL`.

# %%
N_EVAL = profiles.pick(full=2000, smoke=1000)
real = bundled.x_train[:N_EVAL]
start = time.perf_counter()
fid_real = evaluator.fid(real, bundled.x_train[2000:2000 + N_EVAL])
print(f"FID(real, other real)         = {fid_real:7.2f}   ({time.perf_counter() - start:.2f} s for 2 x {N_EVAL:,} images)")
fid_held_out = evaluator.fid(bundled.x_test)
print(f"FID(held-out, shipped stats)  = {fid_held_out:7.2f}")
noise = np.random.default_rng(1).uniform(-1, 1, size=(N_EVAL, 28, 28)).astype("float32")
fid_noise = evaluator.fid(noise)
print(f"FID(uniform noise)            = {fid_noise:7.2f}")
assert fid_real < 5 and fid_noise > 50 * fid_real

# %% [markdown]
# Images can be given as uint8 in [0, 255] (like the data) or as floats in [-1, 1] (like a generator's `tanh`
# output): `value_range="auto"` decides by dtype. Below we damage real digits in the generator's convention, with
# Gaussian blur of growing width and with Gaussian noise of growing standard deviation.

# %%
real_f = real.astype("float32") / 127.5 - 1.0
assert np.isclose(evaluator.fid(real_f), evaluator.fid(real), atol=1e-3)  # same images, two conventions
blur_sigmas = [0.0, 0.5, 1.0, 1.5, 2.0]
noise_sds = [0.0, 0.1, 0.2, 0.4, 0.8]
eps = np.random.default_rng(2).standard_normal(real_f.shape).astype("float32")
fid_blur = [evaluator.fid(gaussian_filter(real_f, (0, s, s)) if s else real_f) for s in blur_sigmas]
fid_noised = [evaluator.fid(np.clip(real_f + sd * eps, -1, 1)) for sd in noise_sds]
assert all(x < y for x, y in zip(fid_blur, fid_blur[1:])) and all(x < y for x, y in zip(fid_noised, fid_noised[1:]))

fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
for ax, xs, ys, name in ((axes[0], blur_sigmas, fid_blur, "blur σ (pixels)"), (axes[1], noise_sds, fid_noised, "noise sd")):
    ax.plot(xs, ys, "o-")
    ax.axhline(fid_real, color="grey", ls="--", label="real vs real")
    ax.axhline(fid_noise, color="red", ls=":", label="uniform noise")
    ax.set(xlabel=name, ylabel="evaluator FID", yscale="symlog")
    ax.legend()
fig.suptitle(f"evaluator FID vs damage ({N_EVAL:,} images each)")
plt.show()
viz.show_images(np.concatenate([gaussian_filter(real_f[:6], (0, s, s)) for s in blur_sigmas[1:]]
                               + [np.clip(real_f[:6] + sd * eps[:6], -1, 1) for sd in noise_sds[1:]]),
                ncols=6, size=0.7, title="one row per level: blur σ 0.5, 1, 1.5, 2; then noise sd 0.1, 0.2, 0.4, 0.8")
plt.show()

# %% [markdown]
# The undamaged point (0 blur, 0 noise) lies below the "real vs real" line because those 2,000 digits are part of
# the 4,000 the reference statistics were computed on; the dashed line compares two *disjoint* real samples and is
# the honest floor a generator can hope for at this number of images.
#
# ### Class coverage: a mode-collapse meter
# A GAN that "mode-collapses" produces only a few kinds of digit, each of which may look fine: the FID rises, but
# the class histogram says *why*. `class_coverage` classifies a batch and reports the histogram, the classes that
# get at least 2.5 % of the images, the *effective number of classes* $e^{H}$ with $H = -\sum_c p_c \ln p_c$
# (1 for a single class, 10 for a perfectly balanced batch), and the mean top-class confidence.

# %%
cov_real = evaluator.class_coverage(real)
cov_ones = evaluator.class_coverage(bundled.x_train[bundled.y_train == 1])
cov_two = evaluator.class_coverage(bundled.x_train[np.isin(bundled.y_train, [3, 8])])
print("real digits  :", cov_real)
print("only 1s      :", cov_ones)
print("only 3s, 8s  :", cov_two)
assert (cov_real.n_covered, cov_ones.n_covered, cov_two.n_covered) == (10, 1, 2)
p = cov_real.fractions[cov_real.fractions > 0]
assert np.isclose(cov_real.effective_classes, np.exp(-(p * np.log(p)).sum()))

# %% [markdown]
# ### How later lessons use it
# ```python
# from course_utils import evaluator
# fake = generator(noise, training=False).numpy()   # float in [-1, 1], shape (n, 28, 28, 1)
# evaluator.fid(fake)                # vs the shipped statistics of 4,000 real digits; compare at equal n
# evaluator.class_coverage(fake)     # 10 classes covered? or collapsed onto a few?
# ```
# A wrong shape, NaN (a diverged GAN) or values outside the declared range raise a `ValueError` that says what was
# expected:

# %%
with shows_error(ValueError, match="expected pixel values in"):
    evaluator.fid(np.full((8, 28, 28), 255.0, dtype="float32"))  # floats in [0, 255]: say value_range=(0, 255)

# %% [markdown]
# ## Summary
# - The article's CNN runs once it is given an input shape and data; on 64×64×3 images it has 1,625,281
#   parameters, 99 % of them in the first dense layer. Each conv layer has $(k_h k_w C_\text{in} + 1)F$.
# - Its code cannot train: `X_train`/`y_train` never exist, and its binary sigmoid head does not fit 10-class digits.
# - Adapted to MNIST (28×28×1, 10 softmax units, sparse categorical cross-entropy) and fed by a `tf.data` pipeline,
#   the same design reaches about 97 % on the 1,000 held-out bundled digits in under a minute on two CPU cores.
# - A confusion matrix and the most confidently wrong examples say how a classifier fails; first-layer filters are
#   small stroke detectors, and feature maps show them at work on a real digit.
# - The course's evaluator is a small MNIST CNN trained with a fixed recipe and shipped with SHA-256 checks.
#   `evaluator.fid` is a Fréchet distance in its 64-d feature space (**not** comparable to Inception FID): ≈1-2 for
#   real vs real, hundreds for noise, growing steadily with blur and noise. `evaluator.class_coverage` detects
#   mode collapse.
#
# ## Exercises
#
# ### Exercise 1: softmax cross-entropy and its gradient, from scratch
# Section 2 let Keras compute the loss from the softmax layer's logits. Write it yourself, in NumPy:
# `softmax_cross_entropy(logits, labels)` takes logits of shape `(n, classes)` and `n` integer labels and returns
# `(loss, grad)`: the batch mean of −log softmax(l)[y], and its gradient with respect to the logits (an array of
# their shape), which you derive by hand. No TensorFlow loss and no `GradientTape`: the check compares your two
# answers with TensorFlow's loss and a tape. It also feeds logits of size 1000 and a batch whose examples' logits
# sit 1000 apart, where the textbook formula returns inf or NaN; your answer must stay finite and exact there.

# %%
def softmax_cross_entropy(logits, labels):
    """The mean softmax cross-entropy of a batch of logits and its gradient with respect to the logits."""
    ### BEGIN SOLUTION
    z = np.asarray(logits, np.float64)
    n = z.shape[0]
    shifted = z - z.max(axis=1, keepdims=True)  # each example's own maximum: exp() <= 1, the sum >= 1
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(n)
    loss = -log_probs[rows, labels].mean()
    grad = np.exp(log_probs)
    grad[rows, labels] -= 1.0  # d(-log softmax_y)/dl = softmax - one_hot(y)
    return loss, grad / n  # the mean over n examples
    ### END SOLUTION


# %%
_ = ex.check_softmax_cross_entropy(softmax_cross_entropy)  # prints the verdict
### BEGIN HIDDEN TESTS
_ = ex.check_softmax_cross_entropy(softmax_cross_entropy, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# ### Exercise 2: any small CNN's table, by hand
# Section 1 predicted the shapes and counts of the article's model. Now do it for any stack: write
# `layer_table(input_shape, layers)` returning, for each layer, `(output_shape, params)` (the shape without the batch
# axis, the parameters as an int), with arithmetic only. `layers` holds `("conv", filters, kernel, stride, padding)`
# (square kernels, `padding` `"valid"` or `"same"`, with biases), `("pool", size)` (max pooling, stride = size,
# `"valid"`), `("flatten",)` and `("dense", units)`. The check builds each stack in Keras and compares; it tries
# strides and `"same"` padding on odd sizes, where the rounding matters.

# %% tags=["export"]
def layer_table(input_shape, layers):
    """(output shape, parameters) of each layer of a small CNN, by arithmetic."""
    ### BEGIN SOLUTION
    h, w, c = input_shape
    table = []
    for layer in layers:
        if layer[0] == "conv":
            _, filters, k, stride, padding = layer
            if padding == "same":
                h, w = -(-h // stride), -(-w // stride)         # ceil(n / stride)
            else:
                h, w = (h - k) // stride + 1, (w - k) // stride + 1
            table.append(((h, w, filters), (k * k * c + 1) * filters))
            c = filters
        elif layer[0] == "pool":
            h, w = h // layer[1], w // layer[1]
            table.append(((h, w, c), 0))
        elif layer[0] == "flatten":
            c = h * w * c
            table.append(((c,), 0))
        else:
            table.append(((layer[1],), (c + 1) * layer[1]))
            c = layer[1]
    return table
    ### END SOLUTION


# %%
_ = ex.check_layer_table(layer_table)  # prints the verdict
### BEGIN HIDDEN TESTS
_ = ex.check_layer_table(layer_table, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# ### Exercise 3: the Fréchet distance, by hand
# Section 3 let `evaluator.frechet_distance` compute the distance between two Gaussians. Write
# `frechet_distance_np(mu1, sigma1, mu2, sigma2)` yourself, in NumPy (and SciPy if you like, but not the
# course's own `frechet_distance` or `fid`), returning one real number. The hard part is
# Tr((Σ₁Σ₂)^(1/2)): the product of two covariance matrices is in general **not** symmetric, so routines made for
# symmetric matrices read it wrongly, and a general matrix square root may come back complex from rounding. The
# check compares with `course_utils.frechet` in one dimension, on covariances that do not commute, on the same
# Gaussian twice, on singular covariances (rank below d, as dead ReLU features give) and on float32 inputs.

# %%
def frechet_distance_np(mu1, sigma1, mu2, sigma2):
    """|mu1 - mu2|^2 + Tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^(1/2)), as a float."""
    ### BEGIN SOLUTION
    mu1, mu2, s1, s2 = (np.asarray(a, np.float64) for a in (mu1, mu2, sigma1, sigma2))
    w, v = np.linalg.eigh(s1)
    root1 = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T  # the symmetric root of sigma1
    # sigma1 sigma2 has the eigenvalues of the symmetric root1 sigma2 root1, which eigvalsh reads correctly
    trace_root = np.sqrt(np.clip(np.linalg.eigvalsh(root1 @ s2 @ root1), 0.0, None)).sum()
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * trace_root)
    ### END SOLUTION


# %%
_ = ex.check_frechet_distance(frechet_distance_np)  # prints the verdict
### BEGIN HIDDEN TESTS
_ = ex.check_frechet_distance(frechet_distance_np, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# ## Next
# [04_dcgan](04_dcgan.ipynb): a deep convolutional GAN whose generator learns to draw digits, and whose progress we
# measure with this lesson's evaluator (`evaluator.fid` and `evaluator.class_coverage`) instead of by eye.
