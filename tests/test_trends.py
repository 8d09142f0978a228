"""Lesson 07's exported code: cutout and DiffAugment, the conditional networks, the FLOP count, the DDPM parts."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from course_utils.exercises import trends as ex
from course_utils.lessons import load_lesson_code


@pytest.fixture(scope="module")
def lesson():
    return load_lesson_code("07_trends_and_challenges")


def test_tensorflow_cutout_matches_the_numpy_reference(lesson):
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (5, 28, 28, 1)).astype(np.float32)
    centers = np.array([[0, 0], [14, 14], [27, 27], [28, 3], [5, 20]])
    for size in (3, 14):
        got = np.asarray(lesson.cutout(images, centers, size))
        assert np.allclose(got, ex.reference_cutout(images, centers, size))


def test_random_cutout_and_diff_augment(lesson):
    tf = lesson.tf
    images = tf.ones([64, 28, 28, 1])
    holed = lesson.random_cutout(images, tf.constant([3, 4])).numpy()
    zeros = (holed == 0).sum(axis=(1, 2, 3))
    assert zeros.max() == 14 * 14 and zeros.min() >= 7 * 7  # every square is at least a quarter inside
    same = lesson.random_cutout(images, tf.constant([3, 4])).numpy()
    assert np.array_equal(holed, same)  # stateless: the same seed, the same holes
    assert np.array_equal(lesson.diff_augment(images, tf.constant([1, 2]), ()).numpy(), images.numpy())
    both = lesson.diff_augment(-images, tf.constant([1, 2]), ("translation", "cutout")).numpy()
    assert (both == 0).any() and (both == -1).all(axis=(1, 2, 3)).sum() == 0
    with pytest.raises(ValueError, match=r"policy may hold 'translation' and 'cutout', got \['color'\]"):
        lesson.diff_augment(images, tf.constant([1, 2]), ("color",))


def test_the_lessons_recipe_is_lesson_04s_with_four_settings_changed(lesson):
    assert isinstance(lesson.RECIPE, lesson.LESSON_04.Recipe)
    mine, base = dataclasses.asdict(lesson.RECIPE), dataclasses.asdict(lesson.LESSON_04.RECIPE)
    changed = {key: mine[key] for key in mine if mine[key] != base[key]}
    assert changed == {"r1_gamma": 0.0, "update": "simultaneous", "translate": 2, "lr_final": base["learning_rate"]}
    for name in ("build_generator", "build_discriminator", "gan_update", "make_ema", "update_ema", "train_gan",
                 "discriminator_loss", "generator_loss", "mlp", "Recipe"):
        assert not hasattr(lesson, name), f"lesson 07 defines {name} again; it loads lesson 04's or 01's"


def test_the_train_step_applies_diffaugment_and_the_conditional_one_reads_labels(lesson):
    tf, L4 = lesson.tf, lesson.LESSON_04
    lesson.keras.utils.set_random_seed(0)
    real = tf.random.uniform([8, 28, 28, 1], -1, 1, seed=1)
    for n_classes in (0, 10):
        g, d = L4.build_generator(lesson.RECIPE, n_classes), L4.build_discriminator(lesson.RECIPE, n_classes)
        ema = L4.make_ema(g)
        start = ema.get_weights()[0].copy()
        step = lesson.make_train_step(g, d, *L4.make_optimizers(lesson.RECIPE), ema=ema,
                                      policy=("translation", "cutout"), conditional=bool(n_classes))
        out = step((real, tf.one_hot(np.arange(8), 10)) if n_classes else real)
        assert float(out["r1"]) == 0.0 and all(np.isfinite(float(v)) for v in out.values())
        assert not np.array_equal(ema.get_weights()[0], start)  # the weight average moved with G
    images = lesson.sample(g, tf.zeros([3, lesson.NOISE_DIM]), tf.one_hot([1, 2, 3], 10), batch=2)
    assert images.shape == (3, 28, 28, 1)


def test_flop_count_by_layer_kind(lesson):
    keras, layers = lesson.keras, lesson.layers
    model = keras.Sequential([keras.Input((7, 7, 8)), layers.Conv2DTranspose(4, 3, strides=2, padding="same"),
                              layers.Conv2D(6, 5, strides=1, padding="valid"), layers.Flatten(), layers.Dense(3)])
    transposed = 2 * 3 * 3 * 8 * 4 * 7 * 7       # scatters each of the 7x7 inputs
    conv = 2 * 5 * 5 * 4 * 6 * 10 * 10            # 14x14 -> 10x10 outputs
    dense = 2 * (10 * 10 * 6) * 3
    assert [lesson.layer_flops(layer) for layer in model.layers] == [transposed, conv, 0, dense]
    assert lesson.model_flops(model) == transposed + conv + dense


def test_q_sample_matches_the_reference_and_the_schedule_ends_in_noise(lesson):
    rng = np.random.default_rng(1)
    x0, noise = rng.normal(size=(6, 2)).astype(np.float32), rng.normal(size=(6, 2)).astype(np.float32)
    t = np.array([0, 1, 10, 100, 150, 199])
    got = np.asarray(lesson.q_sample(x0, t, noise))
    assert np.allclose(got, ex.reference_q_sample(x0, t, noise, lesson.BETAS), atol=1e-5)
    assert np.sqrt(lesson.ALPHA_BARS[-1]) < 0.1


def test_a_short_diffusion_run_learns_and_samples(lesson):
    keras, tf = lesson.keras, lesson.tf
    keras.utils.set_random_seed(0)
    model = lesson.build_denoiser(width=32)
    step = lesson.make_diffusion_step(model, keras.optimizers.Adam(2e-3))
    rng = np.random.default_rng(0)
    batch = lambda: tf.constant(lesson.mixtures.sample_ring(256, std=0.05, seed=rng) / 2.0)  # noqa: E731
    first = np.mean([float(step(batch())) for _ in range(5)])
    for _ in range(150):
        step(batch())
    last = np.mean([float(step(batch())) for _ in range(5)])
    assert last < first  # the noise-prediction loss falls
    points = lesson.diffusion_sample(model, 64, seed=3)
    assert points.shape == (64, 2) and np.all(np.isfinite(points))


def test_the_ring_gan_trains_to_a_step_count_or_a_clock(lesson):
    with pytest.raises(ValueError, match="steps or seconds"):
        lesson.train_ring_gan()
    points, g, d, done = lesson.train_ring_gan(steps=3, batch=16)
    assert done == 3 and points.shape == (2000, 2) and np.all(np.isfinite(points))
    start = lesson.time.perf_counter()
    *_, done = lesson.train_ring_gan(seconds=1.0, batch=16)
    elapsed = lesson.time.perf_counter() - start
    assert done >= 1 and 1.0 <= elapsed < 30.0  # it stops once the budget has passed, not before
