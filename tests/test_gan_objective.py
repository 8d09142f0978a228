"""Lesson 01 (the GAN objective): the functions behind its checks and widgets, driven without a browser.

The functions come from the lesson's cells tagged ``export`` (``course_utils.lessons.load_lesson_code``), so these
tests run the very code learners read. They also show that the lesson's numeric checks fail when a formula is
changed.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from course_utils.lessons import load_lesson_code

LESSON = Path(__file__).resolve().parent.parent / "notebooks" / "01_gan_objective.py"


@pytest.fixture(scope="module")
def lesson():
    return load_lesson_code("01_gan_objective")


# ---- The formulas pass their checks, and perturbed formulas fail the same checks -------------------------------

def test_formulas_pass_the_lessons_checks(lesson):
    assert lesson.check_bce_identities(lesson.discriminator_loss, lesson.generator_loss)
    assert lesson.check_optimal_discriminator(lesson.optimal_discriminator)
    assert lesson.check_value_identity(lesson.optimal_discriminator) < 1e-6


@pytest.mark.parametrize("name, wrong", [
    ("swapped", lambda p, q: q / (p + q)),
    ("density ratio", lambda p, q: p / (p + q + p * q)),
    ("slightly off", lambda p, q: p / (p + 1.01 * q)),
])
def test_a_changed_optimal_discriminator_fails_the_checks(lesson, name, wrong):
    with pytest.raises(AssertionError):
        lesson.check_optimal_discriminator(wrong)
    with pytest.raises(AssertionError):
        lesson.check_value_identity(wrong)


def test_a_changed_loss_fails_the_bce_check(lesson):
    import tensorflow as tf

    d_loss, g_loss = lesson.discriminator_loss, lesson.generator_loss
    sign_error = lambda r, f: -d_loss(r, f)
    swapped = lambda r, f: tf.reduce_mean(tf.nn.softplus(r)) + tf.reduce_mean(tf.nn.softplus(-f))
    summed = lambda r, f: tf.reduce_sum(tf.nn.softplus(-r)) + tf.reduce_sum(tf.nn.softplus(f))
    for wrong in (sign_error, swapped, summed):
        with pytest.raises(AssertionError):
            lesson.check_bce_identities(wrong, g_loss)
    forms_swapped = lambda f, form: g_loss(f, "minimax" if form == "non-saturating" else "non-saturating")
    with pytest.raises(AssertionError):
        lesson.check_bce_identities(d_loss, forms_swapped)


def test_generator_loss_rejects_an_unknown_form(lesson):
    with pytest.raises(ValueError, match="form must be 'minimax' or 'non-saturating', got 'wgan'"):
        lesson.generator_loss(np.zeros(3, np.float32), "wgan")


def test_saturating_gradient_vanishes_when_d_rejects_fakes(lesson):
    g = lesson.loss_gradients(np.array([-10.0, 0.0, 10.0]))
    assert abs(g["minimax"][0]) < 1e-4 and abs(g["non-saturating"][0] + 1) < 1e-4
    assert np.allclose(g["minimax"][1], -0.5) and np.allclose(g["non-saturating"][1], -0.5)


# ---- Widget (a): the density sliders' callback ----------------------------------------------------------------

def test_redraw_density_returns_numbers_and_a_figure(lesson):
    out = lesson.redraw_density(0.5, 1.2)
    assert set(out) == {"value", "jsd", "gap", "figure"}
    assert out["gap"] < 1e-6 and 0 < out["jsd"] < np.log(2)
    assert np.isclose(out["value"], -np.log(4) + 2 * out["jsd"], atol=1e-6)
    assert len(out["figure"].axes) == 2


def test_redraw_density_at_the_data_gives_minus_log_4(lesson):
    out = lesson.redraw_density(lesson.DATA_MU, lesson.DATA_SIGMA)
    assert np.isclose(out["value"], -np.log(4), atol=1e-9) and out["jsd"] < 1e-12


def test_redraw_density_value_grows_as_the_generator_moves_away(lesson):
    values = [lesson.redraw_density(mu, 0.5)["value"] for mu in (2.0, 2.5, 3.5, 5.0)]
    assert values == sorted(values) and values[-1] <= 0  # V(D*, G) = -log 4 + 2 JSD <= -log 4 + 2 log 2 = 0


@pytest.mark.parametrize("mu, sigma", [(0.0, 0.0), (0.0, -1.0), (float("nan"), 1.0)])
def test_redraw_density_rejects_bad_input(lesson, mu, sigma):
    with pytest.raises(ValueError, match="expected a finite mu and sigma > 0"):
        lesson.redraw_density(mu, sigma)


# ---- Widget (b): the training button's callback ---------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("form", ["non-saturating", "minimax"])
def test_train_and_plot_trains_and_reports(lesson, form):
    seen = []
    recipe = dataclasses.replace(lesson.TOY_RECIPE, steps=40, k=2, form=form, lr_d=1e-3, lr_g=2e-3)
    out = lesson.train_and_plot(recipe, on_snapshot=lambda step, g, d: seen.append(step), snapshot_every=20)
    assert seen == [20, 40]
    assert {"mean", "std", "w1", "history", "seconds", "figure"} <= set(out)
    assert len(out["history"]["d_loss"]) == 40 and np.all(np.isfinite(out["history"]["g_loss"]))
    assert np.isfinite(out["mean"]) and out["std"] > 0 and out["w1"] >= 0
    assert len(out["figure"].axes) == 2


@pytest.mark.parametrize("settings, message", [
    ({"form": "wgan"}, "form must be 'minimax' or 'non-saturating'"),
    ({"k": 0}, "k must be a positive int, got 0"),
    ({"steps": 2.5}, "steps must be a positive int, got 2.5"),
    ({"steps": True}, "steps must be a positive int, got True"),
    ({"seed": -1}, "seed must be a non-negative int, got -1"),
    ({"lr_d": 0.0}, r"lr_d must be a learning rate in \(0, 1\], got 0.0"),
    ({"lr_g": 5}, r"lr_g must be a learning rate in \(0, 1\], got 5"),
])
def test_toy_recipe_rejects_bad_settings(lesson, settings, message):
    """A variant of the recipe is checked when it is made, so train_and_plot never sees a bad one."""
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(lesson.TOY_RECIPE, **settings)


def test_toy_recipe_is_a_frozen_value_and_train_and_plot_wants_one(lesson):
    with pytest.raises(dataclasses.FrozenInstanceError):
        lesson.TOY_RECIPE.k = 3
    with pytest.raises(TypeError):
        dataclasses.replace(lesson.TOY_RECIPE, learning_rate=1e-3)  # no such setting
    with pytest.raises(ValueError, match="expected a ToyRecipe"):
        lesson.train_and_plot({"steps": 40})  # the old dict of settings


@pytest.mark.parametrize("name", ["balanced", "one blob", "hopping"])
def test_ring_gan_runs_and_returns_finite_samples_and_snapshots(lesson, name):
    out = lesson.train_ring_gan(6, snapshots=3, **lesson.RING_RUNS[name])
    assert out["samples"].shape == (2000, 2) and np.all(np.isfinite(out["samples"])) and out["seconds"] >= 0
    assert [step for step, _ in out["snapshots"]] == [2, 4, 6]
    assert all(samples.shape == (500, 2) for _, samples in out["snapshots"])


def test_ring_gan_rejects_an_unknown_generator(lesson):
    with pytest.raises(ValueError, match="generator must be 'mlp' or 'affine', got 'cnn'"):
        lesson.train_ring_gan(5, generator="cnn")


def test_affine_generator_draws_one_gaussian_blob(lesson):
    # The "one blob" generator has no activation: its samples are an affine image of Gaussian noise, so they
    # are exactly Gaussian (checked: the generator is affine, G(a) + G(b) = G(a + b) + G(0)).
    import tensorflow as tf

    out = lesson.train_ring_gan(2, snapshots=1, **lesson.RING_RUNS["one blob"])
    assert out["samples"].shape == (2000, 2)
    g = lesson.mlp(16, 2, 2, None)
    a, b = tf.random.normal((4, 2)), tf.random.normal((4, 2))
    assert np.allclose(g(a) + g(b), g(a + b) + g(tf.zeros((4, 2))), atol=1e-5)


@pytest.mark.slow
def test_minimax_saturates_against_a_strong_discriminator(lesson):
    runs = {form: lesson.saturation_run(form, steps=10, d_warmup=300, every=5)
            for form in ("minimax", "non-saturating")}
    mm, ns = runs["minimax"], runs["non-saturating"]
    assert mm["step"] == [5, 10] and len(mm["g_grad_norm"]) == 10
    # Same D, same start: the minimax gradient is orders of magnitude smaller and G does not move.
    assert mm["g_grad_norm"][0] < 1e-2 * ns["g_grad_norm"][0]
    assert abs(mm["mean"][-1] - (-2.0)) < 0.05 < abs(ns["mean"][-1] - (-2.0))
    assert mm["d_fake"][0] < 1e-2


