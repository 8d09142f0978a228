"""Lessons 04 (the DCGAN) and 05 (its engineering): the recipe the lessons, the tests and the benchmarks share, driven
without the notebook.

Everything comes from the lesson's cells tagged ``export`` (``course_utils.lessons.load_lesson_code``), so a change
to the lesson that breaks shapes, losses, the shared update, checkpoint/resume or the latent-space callbacks fails
here even if nobody runs the notebook.
"""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from course_utils.lessons import load_lesson_code

ROOT = Path(__file__).resolve().parent.parent
LESSON = ROOT / "notebooks" / "04_dcgan.py"
ENGINEERING = ROOT / "notebooks" / "05_gan_engineering.py"


@pytest.fixture(scope="module")
def L():
    return load_lesson_code("04_dcgan")


@pytest.fixture(scope="module")
def E():
    return load_lesson_code("05_gan_engineering")


@pytest.fixture(scope="module")
def tiny_real():
    from course_utils import data

    x = data.to_float_images(data.load_bundled_mnist().x_train[:64])
    return x


def _weights(*models):
    return [w.copy() for m in models for w in m.get_weights()]


# ---- shapes, sizes, recipe ----------------------------------------------------------------------------------

def test_translate_shifts_each_image_by_at_most_the_shift_and_passes_gradients(L):
    import tensorflow as tf

    x = np.full((6, 28, 28, 1), -1.0, np.float32)
    x[:, 10:18, 12:16, 0] = 1.0  # a bright block on the background
    seed = tf.constant([3, 0])
    moved = L.translate(tf.constant(x), seed, 2).numpy()
    assert moved.shape == x.shape and set(np.unique(moved)) <= {-1.0, 1.0}
    offsets = []
    for image in moved[..., 0]:
        rows, cols = np.nonzero(image > 0)
        assert rows.size == 8 * 4, "a shift of 2 keeps the block whole"
        offsets.append((rows.min() - 10, cols.min() - 12))
    assert all(abs(dr) <= 2 and abs(dc) <= 2 for dr, dc in offsets)
    assert len(set(offsets)) > 1, "each image gets its own offset"
    np.testing.assert_array_equal(moved, L.translate(tf.constant(x), seed, 2).numpy())  # seeded: repeatable
    assert not np.array_equal(moved, L.translate(tf.constant(x), seed + 1, 2).numpy())
    np.testing.assert_array_equal(L.translate(tf.constant(x), seed, 0).numpy(), x)
    xt = tf.Variable(x)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(L.translate(xt, seed, 2) * tf.range(28.0)[None, :, None, None])
    grad = tape.gradient(loss, xt).numpy()
    assert np.count_nonzero(grad) > 0, "gradients reach the generator's images"


def test_recipe_follows_dcgan_and_shapes_meet(L):
    import keras

    r = L.RECIPE
    assert (r.beta_1, r.leaky_slope) == (0.5, 0.2)  # Radford et al. (2016)
    # The course's measured departures (lesson 04, section 2): batch 32, lr 1e-3, R1, no shifts.
    assert (r.batch_size, r.learning_rate, r.translate, r.r1_gamma) == (32, 1e-3, 0, 1.0)
    assert r.noise_dim == L.NOISE_DIM
    g, d = L.build_generator(), L.build_discriminator()
    z = np.random.default_rng(0).standard_normal((5, L.NOISE_DIM)).astype("float32")
    images = g(z, training=False)
    assert images.shape == (5, 28, 28, 1)
    assert float(np.max(np.abs(images))) <= 1.0
    assert d(images).shape == (5, 1)
    kinds = [type(layer).__name__ for layer in g.layers]
    assert kinds.count("Conv2DTranspose") == 2 and kinds.count("BatchNormalization") == 2 and "ReLU" in kinds
    assert g.layers[-1].get_config()["activation"] == "tanh"
    dkinds = [type(layer).__name__ for layer in d.layers]
    assert "LeakyReLU" in dkinds and "MaxPooling2D" not in dkinds and "Dense" == dkinds[-1]
    assert all(layer.strides == (2, 2) for layer in d.layers if isinstance(layer, keras.layers.Conv2D))
    g_opt, d_opt = L.make_optimizers()
    assert g_opt is not d_opt
    assert float(g_opt.learning_rate) == pytest.approx(L.RECIPE.learning_rate) and float(g_opt.beta_1) == 0.5


def test_losses_match_the_formulas_and_stay_finite_for_huge_logits(L):
    import tensorflow as tf

    real = tf.constant([[-3.0], [0.0], [2.0], [800.0]])
    fake = tf.constant([[1.0], [-800.0], [0.5], [-2.0]])
    sp = lambda v: np.logaddexp(0.0, v)  # noqa: E731
    a = L.RECIPE.real_label
    assert 0.8 <= a <= 1.0
    d_expected = np.mean(a * sp(-real.numpy()) + (1 - a) * sp(real.numpy())) + np.mean(sp(fake.numpy()))
    assert float(L.discriminator_loss(real, fake, real_label=1.0)) == pytest.approx(
        np.mean(sp(-real.numpy())) + np.mean(sp(fake.numpy())), rel=1e-6)  # lesson 01's loss without smoothing
    g_expected = np.mean(sp(-fake.numpy()))
    assert float(L.discriminator_loss(real, fake)) == pytest.approx(d_expected, rel=1e-6)
    assert float(L.generator_loss(fake)) == pytest.approx(g_expected, rel=1e-6)
    assert np.isfinite(float(L.generator_loss(tf.constant([[-1e4]]))))


def test_r1_penalty_is_the_mean_squared_input_gradient_of_each_image(L, tiny_real):
    import tensorflow as tf

    d = L.build_discriminator()
    x = tf.constant(tiny_real[:5])
    logits, r1 = L.real_logits_and_r1(d, x)
    per_image = []
    for i in range(5):  # one tape per image: no shortcut through the batch
        xi = x[i:i + 1]
        with tf.GradientTape() as tape:
            tape.watch(xi)
            out = d(xi, training=True)[0, 0]
        per_image.append(float(tf.reduce_sum(tape.gradient(out, xi) ** 2)))
    assert float(r1) == pytest.approx(np.mean(per_image), rel=1e-4)
    assert np.allclose(logits.numpy(), d(x, training=True).numpy(), atol=1e-6)


@pytest.mark.parametrize("update", ["alternating", "simultaneous"])
def test_d_step_minimizes_its_loss_plus_half_gamma_r1(L, tiny_real, update):
    """gan_update's D step equals Adam applied to grad(L_D + gamma/2 * R1), computed here independently."""
    import keras
    import tensorflow as tf

    real, noise = tf.constant(tiny_real[:16]), tf.random.normal([16, L.NOISE_DIM], seed=5)
    after = {}
    for gamma in (L.RECIPE.r1_gamma, 0.0):
        keras.utils.set_random_seed(3)
        g, d = L.build_generator(), L.build_discriminator()
        g_opt, d_opt = L.make_optimizers()
        d_ref = keras.models.clone_model(d)
        d_ref.set_weights(d.get_weights())
        seed = tf.constant([0, 0])  # gan_update seeds its shifts with D's step counter, 0 here
        fake = g(noise, training=True)
        with tf.GradientTape() as tape:
            real_in = L.translate(real, seed)
            with tf.GradientTape() as inner:
                inner.watch(real_in)
                rl = d_ref(real_in, training=True)
                total = tf.reduce_sum(rl)
            r1 = tf.reduce_sum(inner.gradient(total, real_in) ** 2) / 16
            fl = d_ref(L.translate(fake, seed + [0, 1]), training=True)
            objective = L.discriminator_loss(rl, fl) + 0.5 * gamma * r1
        ref_opt = L.make_optimizers()[1]
        ref_opt.apply_gradients(zip(tape.gradient(objective, d_ref.trainable_variables), d_ref.trainable_variables))
        L.gan_update(g, d, g_opt, d_opt, real, noise, dataclasses.replace(L.RECIPE, r1_gamma=gamma, update=update))
        for a, b in zip(d.get_weights(), d_ref.get_weights()):
            assert np.allclose(a, b, atol=1e-6)
        after[gamma] = d.get_weights()
    assert any(not np.allclose(a, b) for a, b in zip(*after.values()))  # the penalty changes the step


def test_the_recipes_g_step_goes_through_the_updated_d_on_fresh_noise(L, tiny_real):
    """Alternating (the recipe): G's step equals Adam on grad of -log D'(G(z')), with D' the discriminator after its
    step and z' the fresh noise seeded by D's step counter; the simultaneous order gives another step."""
    import keras
    import tensorflow as tf

    assert L.RECIPE.update == "alternating"
    real, noise = tf.constant(tiny_real[:16]), tf.random.normal([16, L.NOISE_DIM], seed=5)
    after = {}
    for update in ("alternating", "simultaneous"):
        keras.utils.set_random_seed(3)
        g, d = L.build_generator(), L.build_discriminator()
        g_opt, d_opt = L.make_optimizers()
        g_ref = keras.models.clone_model(g)
        g_ref.set_weights(g.get_weights())
        L.gan_update(g, d, g_opt, d_opt, real, noise, dataclasses.replace(L.RECIPE, update=update))  # d is updated
        after[update] = g.get_weights()
        if update == "alternating":
            fresh = tf.random.stateless_normal([16, L.NOISE_DIM], [0, 2])  # seed [D's step 0, 0] + [0, 2]
            with tf.GradientTape() as tape:
                loss = L.generator_loss(d(L.translate(g_ref(fresh, training=True), tf.constant([0, 3])),
                                          training=True))
            ref_opt = L.make_optimizers()[0]
            ref_opt.apply_gradients(zip(tape.gradient(loss, g_ref.trainable_variables), g_ref.trainable_variables))
            for a, b in zip(g.trainable_variables, g_ref.trainable_variables):  # not BN's moving statistics
                assert np.allclose(a.numpy(), b.numpy(), atol=1e-6)
    assert any(not np.allclose(a, b) for a, b in zip(*after.values()))
    with pytest.raises(ValueError, match="alternating' or 'simultaneous"):
        dataclasses.replace(L.RECIPE, update="interleaved")  # a bad recipe cannot even be made
    with pytest.raises(ValueError, match="expected recipe to be a Recipe"):
        L.gan_update(g, d, g_opt, d_opt, real, noise, {"update": "alternating"})  # nor a dict passed for one


# ---- one update, two front ends -------------------------------------------------------------------------------

def test_one_step_updates_both_players_and_reports_finite_metrics(L, tiny_real):
    import tensorflow as tf

    g, d = L.build_generator(), L.build_discriminator()
    g_opt, d_opt = L.make_optimizers()
    step = L.make_train_step(g, d, g_opt, d_opt)
    before_g, before_d = _weights(g), _weights(d)
    out = step(tf.constant(tiny_real))
    assert set(out) == {"d_loss", "g_loss", "r1", "d_real", "d_fake"}
    assert all(np.isfinite(float(v)) for v in out.values())
    assert float(out["r1"]) > 0
    assert 0 < float(out["d_real"]) < 1 and 0 < float(out["d_fake"]) < 1
    assert any(not np.array_equal(a, b) for a, b in zip(before_g, _weights(g)))
    assert any(not np.array_equal(a, b) for a, b in zip(before_d, _weights(d)))
    assert int(g_opt.iterations) == 1 and int(d_opt.iterations) == 1



# ---- the options lesson 07 uses: class-conditional networks, a constant rate, no R1, its own augmentation --------

def test_conditional_networks_read_the_label_and_keep_the_unconditional_sizes(L):
    import tensorflow as tf

    g, d = L.build_generator(n_classes=10), L.build_discriminator(n_classes=10)
    z = tf.random.normal([4, L.NOISE_DIM], seed=0)
    a, b = tf.one_hot([1, 1, 1, 1], 10), tf.one_hot([8, 8, 8, 8], 10)
    images = g([z, a])
    assert images.shape == (4, 28, 28, 1)
    assert not np.allclose(d([images, a]), d([images, b]))
    assert not np.allclose(g([z, a]), g([z, b]), atol=1e-4)
    plain_g, plain_d = L.build_generator(), L.build_discriminator()
    assert plain_g.count_params() + plain_d.count_params() == 668_130
    # the label adds 10 x 6,272 weights to G's first dense layer and 10 x 16 x 32 to D's first convolution
    assert g.count_params() - plain_g.count_params() == 10 * 7 * 7 * 2 * L.RECIPE.generator_width
    assert d.count_params() - plain_d.count_params() == 10 * 4 * 4 * L.RECIPE.discriminator_width
    sampled = L.sample(g, z.numpy(), batch=3, labels=a.numpy())
    np.testing.assert_allclose(sampled, g([z, a], training=False).numpy(), atol=1e-6)


def test_make_optimizers_follows_the_recipe_it_is_given(L):
    """lr_final = learning_rate is a constant rate (lesson 07's); the recipe's own schedule decays to lr_final."""
    constant = dataclasses.replace(L.RECIPE, learning_rate=5e-4, lr_final=5e-4)
    g_opt, _ = L.make_optimizers(constant)
    assert float(g_opt.learning_rate) == pytest.approx(5e-4)
    g_opt.iterations.assign(3000)  # past lr_hold: the schedule would have started to decay
    assert float(g_opt.learning_rate) == pytest.approx(5e-4)
    scheduled, _ = L.make_optimizers()
    scheduled.iterations.assign(L.RECIPE.lr_hold + L.RECIPE.lr_decay // 2)
    assert float(scheduled.learning_rate) == pytest.approx((L.RECIPE.learning_rate + L.RECIPE.lr_final) / 2)
    scheduled.iterations.assign(L.RECIPE.lr_hold + L.RECIPE.lr_decay)
    assert float(scheduled.learning_rate) == pytest.approx(L.RECIPE.lr_final)


def test_the_recipe_is_a_frozen_value_and_a_variant_leaves_it_alone(L):
    with pytest.raises(dataclasses.FrozenInstanceError):
        L.RECIPE.r1_gamma = 0.0
    variant = dataclasses.replace(L.RECIPE, r1_gamma=0.0, translate=2)
    assert (variant.r1_gamma, variant.translate, L.RECIPE.r1_gamma, L.RECIPE.translate) == (0.0, 2, 1.0, 0)
    for bad in ({"real_label": 0.0}, {"ema_decay": 1.0}, {"r1_gamma": -1.0}):
        with pytest.raises(ValueError, match="expected"):
            dataclasses.replace(L.RECIPE, **bad)


def test_a_conditional_step_with_its_own_augmentation_and_no_r1(L, tiny_real):
    import tensorflow as tf

    seen = []

    def augment(images, seed):
        seen.append(seed)
        return -images

    g, d = L.build_generator(n_classes=10), L.build_discriminator(n_classes=10)
    recipe = dataclasses.replace(L.RECIPE, lr_final=L.RECIPE.learning_rate, update="simultaneous", r1_gamma=0.0)
    step = L.make_train_step(g, d, *L.make_optimizers(recipe), recipe, ema=L.make_ema(g), augment=augment)
    out = step(tf.constant(tiny_real[:16]), labels=tf.one_hot(np.arange(16) % 10, 10))
    assert float(out["r1"]) == 0.0 and all(np.isfinite(float(v)) for v in out.values())
    assert seen and len(seen) % 2 == 0  # each trace: the real batch and the fakes, each through augment


def test_ema_generator_is_the_running_average_of_the_trained_one(L, E, tiny_real):
    import tensorflow as tf

    g, d = L.build_generator(), L.build_discriminator()
    ema = L.make_ema(g)
    for a, b in zip(_weights(g), _weights(ema)):
        np.testing.assert_array_equal(a, b)
    step = L.make_train_step(g, d, *L.make_optimizers(), ema=ema)
    before = _weights(ema)
    step(tf.constant(tiny_real[:16]))
    assert 0.9 <= L.RECIPE.ema_decay < 1
    beta = min(L.RECIPE.ema_decay, 2 / 11)  # after step 1: (1 + t) / (10 + t) with t = 1
    changed = 0
    for old, new_g, new_ema in zip(before, _weights(g), _weights(ema)):
        np.testing.assert_allclose(new_ema, beta * old + (1 - beta) * new_g, rtol=1e-5, atol=1e-7)
        changed += not np.array_equal(old, new_ema)
    assert changed > 0
    gan = E.DCGAN(g, d, ema)
    gan.compile(*L.make_optimizers())
    before = _weights(ema)
    gan.fit(tf.data.Dataset.from_tensors(tf.constant(tiny_real[:16])), epochs=1, shuffle=False, verbose=0)
    assert any(not np.array_equal(a, b) for a, b in zip(before, _weights(ema))), "fit() must update the average too"


def test_explicit_loop_and_keras_fit_give_the_same_weights(L, E, tiny_real):
    """The real DCGAN.train_step (noise injected, weight average included) against lesson 04's explicit step."""
    import keras
    import tensorflow as tf

    real = tf.constant(tiny_real[:32])
    noise = tf.random.normal([32, L.NOISE_DIM], seed=3)
    g1, d1 = L.build_generator(), L.build_discriminator()
    g2, d2 = keras.models.clone_model(g1), keras.models.clone_model(d1)
    g2.set_weights(g1.get_weights())
    d2.set_weights(d1.get_weights())
    e1, e2 = L.make_ema(g1), L.make_ema(g2)
    start = _weights(g1, d1, e1)
    step = L.make_train_step(g1, d1, *L.make_optimizers(), ema=e1)
    step(real, noise)  # two steps: the second uses the optimizer state and the average the first one built
    step(real, noise)
    gan = E.DCGAN(g2, d2, e2)
    gan.compile(*L.make_optimizers())
    gan.fit(tf.data.Dataset.from_tensors((real, noise)).repeat(2), epochs=1, shuffle=False, verbose=0)
    moved = max(float(np.max(np.abs(a - b))) for a, b in zip(start, _weights(g1, d1, e1)))
    assert moved > 1e-3, "the steps must change the weights, or the comparison proves nothing"
    for a, b in zip(_weights(g1, d1, e1), _weights(g2, d2, e2)):
        np.testing.assert_allclose(a, b, atol=1e-5)
    # and a different noise batch gives different weights: the injected noise is really used
    g3, d3 = keras.models.clone_model(g1), keras.models.clone_model(d1)
    g3.set_weights(start[:len(g1.weights)])
    d3.set_weights(start[len(g1.weights):len(g1.weights) + len(d1.weights)])
    gan3 = E.DCGAN(g3, d3)
    gan3.compile(*L.make_optimizers())
    gan3.fit(tf.data.Dataset.from_tensors((real, noise + 1.0)).repeat(2), epochs=1, shuffle=False, verbose=0)
    assert max(float(np.max(np.abs(a - b))) for a, b in zip(_weights(g1), _weights(g3))) > 1e-4


def test_dcgan_model_trains_with_fit_and_its_own_noise(L, E, tiny_real):
    import tensorflow as tf

    gan = E.DCGAN(L.build_generator(), L.build_discriminator())
    gan.compile(*L.make_optimizers())
    hist = gan.fit(tf.data.Dataset.from_tensor_slices(tiny_real).batch(16), epochs=1, shuffle=False, verbose=0)
    assert set(hist.history) >= {"d_loss", "g_loss", "d_real", "d_fake"}
    assert gan(tf.zeros([2, L.NOISE_DIM])).shape == (2, 28, 28, 1)


def test_mixed_precision_uses_loss_scaling_and_float32_outputs(L, tiny_real):
    import keras
    import tensorflow as tf

    keras.config.set_dtype_policy("mixed_float16")
    try:
        g, d = L.build_generator(), L.build_discriminator()
        g_opt, d_opt = L.make_optimizers()
        assert isinstance(g_opt, keras.optimizers.LossScaleOptimizer)
        assert isinstance(d_opt, keras.optimizers.LossScaleOptimizer)
        assert g.layers[0].compute_dtype == "float16"
        z = tf.random.normal([4, L.NOISE_DIM])
        assert g(z).dtype == tf.float32 and d(g(z)).dtype == tf.float32
        out = L.make_train_step(g, d, g_opt, d_opt)(tf.constant(tiny_real[:16]))
        assert all(np.isfinite(float(v)) for v in out.values())
    finally:
        keras.config.set_dtype_policy("float32")
    assert not isinstance(L.make_optimizers()[0], keras.optimizers.LossScaleOptimizer)


# ---- training loop with checkpoints -----------------------------------------------------------------------------

def _setup_run(L, directory, every=4):
    from course_utils import checkpoints

    g, d = L.build_generator(), L.build_discriminator()
    ema = L.make_ema(g)
    g_opt, d_opt = L.make_optimizers()
    step = L.make_train_step(g, d, g_opt, d_opt, ema=ema)
    ckpt = checkpoints.GANCheckpoint(directory, generator=g, discriminator=d, g_optimizer=g_opt, d_optimizer=d_opt,
                                     every_n_steps=every, extra={}, ema_generator=ema)
    ckpt.restore()
    return g, ema, step, ckpt


def test_train_gan_resumes_where_it_stopped_and_keeps_the_history(L, tiny_real, tmp_path):
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices(tiny_real).repeat().batch(16)
    g, ema, step, ckpt = _setup_run(L, tmp_path / "ckpt")
    calls = []
    hist = L.train_gan(step, dataset, epochs=2, steps_per_epoch=3, checkpoint=ckpt, progress=False,
                          on_epoch_end=lambda e, m: calls.append(e) or {"fid": 100.0 - e})
    assert calls == [0, 1] and hist["fid"] == [100.0, 99.0] and len(hist["d_loss"]) == 2
    saved = _weights(g, ema)

    g2, ema2, step2, ckpt2 = _setup_run(L, tmp_path / "ckpt")  # "after a kernel restart"
    assert (ckpt2.steps_done, ckpt2.epochs_done) == (6, 2)
    assert ckpt2.history["fid"] == [100.0, 99.0]
    for a, b in zip(saved, _weights(g2, ema2)):
        np.testing.assert_array_equal(a, b)
    calls.clear()
    hist2 = L.train_gan(step2, dataset, epochs=3, steps_per_epoch=3, checkpoint=ckpt2, progress=False,
                           on_epoch_end=lambda e, m: calls.append(e) or {"fid": 50.0})
    assert calls == [2], "only the missing epoch runs"
    assert hist2["fid"] == [100.0, 99.0, 50.0] and ckpt2.steps_done == 9


def test_a_budget_that_runs_out_between_epochs_adds_no_empty_epoch(L, tiny_real, tmp_path):
    """The outer loop saw time left, the inner one none (under load): no epoch of 0 steps, whose means have no
    losses, reaches on_epoch_end (it raised KeyError: 'd_loss' in the lesson's monitor)."""
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices(tiny_real).repeat().batch(16)
    _, _, step, ckpt = _setup_run(L, tmp_path / "ckpt")
    seen = []
    hist = L.train_gan(step, dataset, budget_s=1e-9, steps_per_epoch=3, checkpoint=ckpt, progress=False,
                       on_epoch_end=lambda e, m: seen.append(m["d_loss"]))
    assert seen == [] and ckpt.epochs_done == 0 and not hist.get("steps")


KILL_SCRIPT = textwrap.dedent("""
    import os, sys
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    import numpy as np, tensorflow as tf
    from course_utils import checkpoints, data
    from course_utils.lessons import load_lesson_code
    L = load_lesson_code("04_dcgan")
    g, d = L.build_generator(), L.build_discriminator()
    ema = L.make_ema(g)
    g_opt, d_opt = L.make_optimizers()
    step = L.make_train_step(g, d, g_opt, d_opt, ema=ema)
    ckpt = checkpoints.GANCheckpoint(sys.argv[1], generator=g, discriminator=d, g_optimizer=g_opt,
                                     d_optimizer=d_opt, every_n_steps=3, extra={}, ema_generator=ema)
    start = ckpt.restore()
    print("START", start, flush=True)
    x = data.to_float_images(data.load_bundled_mnist().x_train[:256])
    ds = tf.data.Dataset.from_tensor_slices(x).repeat().batch(16)
    class Loud:
        def __init__(self, inner): self.inner = inner
        def __getattr__(self, name): return getattr(self.inner, name)
        def maybe_save(self):
            path = self.inner.maybe_save()
            if path: print("SAVED", self.inner.steps_done, flush=True)
            return path
    L.train_gan(step, ds, epochs=int(sys.argv[2]), steps_per_epoch=4, checkpoint=Loud(ckpt), progress=False)
    print("DONE", ckpt.steps_done, flush=True)
""")


def test_training_killed_mid_run_resumes_from_the_last_checkpoint(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(KILL_SCRIPT)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT)}
    ckpt_dir = tmp_path / "ckpt"
    proc = subprocess.Popen([sys.executable, str(script), str(ckpt_dir), "1000"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=env)
    saved = []
    deadline = time.monotonic() + 240
    try:
        for line in proc.stdout:
            if line.startswith("SAVED"):
                saved.append(int(line.split()[1]))
                if len(saved) >= 3:
                    break
            if time.monotonic() > deadline:
                break
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert len(saved) >= 3, f"the training process saved {saved} before the deadline"
    assert proc.returncode == -signal.SIGKILL

    done = subprocess.run([sys.executable, str(script), str(ckpt_dir), "0"], capture_output=True, text=True,
                          env=env, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    start = int(re.search(r"START (\d+)", done.stdout).group(1))
    assert start >= saved[-1] and start % 3 == 0, f"resumed at {start}, last checkpoint reported at {saved[-1]}"


# ---- latent space -----------------------------------------------------------------------------------------------

def test_slerp_keeps_the_length_and_hits_both_ends(L, E):
    path = E.interpolation_path(1, 2, 9, "slerp")
    lin = E.interpolation_path(1, 2, 9, "linear")
    assert path.shape == (9, L.NOISE_DIM) and path.dtype == np.float32
    np.testing.assert_allclose(path[0], lin[0], atol=1e-6)
    np.testing.assert_allclose(path[-1], lin[-1], atol=1e-6)
    norms, lin_norms = np.linalg.norm(path, axis=1), np.linalg.norm(lin, axis=1)
    assert norms.min() > 0.9 * min(norms[0], norms[-1])
    assert lin_norms[4] < 0.85 * min(lin_norms[0], lin_norms[-1])  # the straight line cuts through the middle
    z = np.ones(4, np.float32)
    np.testing.assert_allclose(E.slerp(z, 2 * z, 0.5), 1.5 * z, rtol=1e-6)  # parallel: linear fallback
    with pytest.raises(ValueError, match="mode"):
        E.interpolation_path(1, 2, 5, "cubic")
    with pytest.raises(ValueError, match="steps"):
        E.interpolation_path(1, 2, 1)


def test_widget_callbacks_draw_and_walk(L, E):
    g = L.build_generator()
    images = E.draw_samples(g, 7, n=6)
    assert images.shape == (6, 28, 28, 1)
    np.testing.assert_allclose(images, E.draw_samples(g, 7, n=6), atol=1e-6)  # same seed, same digits
    a = E.walk_latent(g, 3, 4, 0.0)
    b = E.walk_latent(g, 3, 4, 1.0)
    assert a.shape == (28, 28, 1)
    np.testing.assert_allclose(a, E.draw_samples(g, 3, n=1)[0], atol=1e-5)  # t=0 is seed A's first sample
    z3 = E.interpolation_path(3, 4, 2)
    np.testing.assert_allclose(a, L.sample(g, z3[:1])[0], atol=1e-5)
    np.testing.assert_allclose(b, L.sample(g, z3[1:])[0], atol=1e-5)
    with pytest.raises(ValueError, match="t must be"):
        E.walk_latent(g, 3, 4, 1.5)
    with pytest.raises(ValueError, match="seed"):
        E.draw_samples(g, -1)


def test_latent_explorer_builds_the_two_widgets_and_validates(E):
    import ipywidgets

    from course_utils import widgets

    g = E._L04.build_generator()
    box = widgets.latent_explorer({"mine": g, "other": g}, E.draw_samples, E.walk_latent)
    assert isinstance(box, ipywidgets.VBox)
    labels = {w.description for w in box.children[1].children} | {box.children[4].description}
    assert {"seed", "generator"} <= labels
    with pytest.raises(ValueError, match="non-empty mapping"):
        widgets.latent_explorer({}, E.draw_samples, E.walk_latent)
    with pytest.raises(ValueError, match="callables"):
        widgets.latent_explorer({"g": g}, None, E.walk_latent)
    with pytest.raises(ValueError, match="max_seed"):
        widgets.latent_explorer({"g": g}, E.draw_samples, E.walk_latent, max_seed=1)


def test_training_history_validates_the_stopping_rule(L, tmp_path):
    from course_utils import checkpoints

    g, ema, step, ckpt = _setup_run(L, tmp_path / "c")
    assert checkpoints.training_history(ckpt, epochs=2) is ckpt.history
    assert checkpoints.training_history(ckpt, budget_s=1.5) is ckpt.history
    for kwargs, match in [({}, "exactly one"), ({"epochs": 1, "budget_s": 2}, "exactly one"),
                          ({"budget_s": 0}, "positive"), ({"budget_s": float("inf")}, "positive"),
                          ({"budget_s": True}, "positive"), ({"epochs": -1}, "non-negative"),
                          ({"epochs": 2.0}, "non-negative")]:
        with pytest.raises(ValueError, match=match):
            checkpoints.training_history(ckpt, **kwargs)

    class NoHistory:
        history = None

    with pytest.raises(ValueError, match="extra="):
        checkpoints.training_history(NoHistory(), epochs=1)
