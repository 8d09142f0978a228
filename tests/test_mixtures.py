"""Unit tests for course_utils.mixtures (ring of Gaussians and the mode-coverage metric)."""

from __future__ import annotations

import numpy as np
import pytest

from course_utils import mixtures


def test_ring_centers_are_evenly_spaced_on_the_circle():
    c = mixtures.ring_centers(8, radius=2.0)
    assert c.shape == (8, 2) and c.dtype == np.float32
    assert np.allclose(np.linalg.norm(c, axis=1), 2.0, atol=1e-6)
    assert np.allclose(c[0], [2.0, 0.0], atol=1e-6)
    gaps = np.linalg.norm(np.diff(np.vstack([c, c[:1]]), axis=0), axis=1)
    assert np.allclose(gaps, gaps[0], atol=1e-5)


def test_sample_ring_is_seeded_and_lands_on_the_modes():
    a = mixtures.sample_ring(1000, std=0.05, seed=3)
    b = mixtures.sample_ring(1000, std=0.05, seed=3)
    assert a.shape == (1000, 2) and a.dtype == np.float32
    assert np.array_equal(a, b)
    assert not np.array_equal(a, mixtures.sample_ring(1000, std=0.05, seed=4))
    assert np.allclose(np.linalg.norm(a, axis=1).mean(), 2.0, atol=0.02)
    rng = np.random.default_rng(0)
    assert mixtures.sample_ring(5, seed=rng).shape == (5, 2)


def test_coverage_of_the_data_itself_is_full():
    cov = mixtures.mode_coverage(mixtures.sample_ring(4000, std=0.05, seed=0), mixtures.ring_centers(), 0.05)
    assert cov.modes_covered == 8 and cov.n_modes == 8 and cov.n_samples == 4000
    assert cov.high_quality_share > 0.98
    assert sum(cov.counts) == round(cov.high_quality_share * 4000)
    assert cov.summary().startswith("modes covered 8/8, high-quality samples 9")


def test_coverage_counts_a_collapsed_generator_as_one_mode():
    centers = mixtures.ring_centers()
    collapsed = centers[3] + 0.01 * np.random.default_rng(0).standard_normal((500, 2))
    cov = mixtures.mode_coverage(collapsed, centers, 0.05)
    assert cov.modes_covered == 1 and cov.counts[3] == 500 and cov.high_quality_share == 1.0


def test_coverage_of_points_off_the_modes_is_zero():
    cov = mixtures.mode_coverage(np.zeros((100, 2)), mixtures.ring_centers(), 0.05)
    assert cov.modes_covered == 0 and cov.high_quality_share == 0.0


def test_min_share_decides_what_counts_as_covered():
    centers = mixtures.ring_centers()
    pts = np.vstack([np.repeat(centers[:1], 95, axis=0), np.repeat(centers[1:2], 5, axis=0)])
    assert mixtures.mode_coverage(pts, centers, 0.05).modes_covered == 2  # default 1/32 of samples: 5% is enough
    assert mixtures.mode_coverage(pts, centers, 0.05, min_share=0.1).modes_covered == 1
    assert mixtures.mode_coverage(pts, centers, 0.05, n_std=1e-9).high_quality_share == 1.0  # exactly on centres


@pytest.mark.parametrize("kwargs, message", [
    ({"n_modes": 0}, "n_modes must be a positive int, got 0"),
    ({"n_modes": 2.5}, "n_modes must be a positive int, got 2.5"),
    ({"radius": -1.0}, "radius must be a positive finite number, got -1.0"),
    ({"radius": float("inf")}, "radius must be a positive finite number"),
])
def test_ring_centers_rejects_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        mixtures.ring_centers(**kwargs)


@pytest.mark.parametrize("args, kwargs, message", [
    ((0,), {}, "n must be a positive int, got 0"),
    ((10,), {"std": 0.0}, "std must be a positive finite number, got 0.0"),
    ((10,), {"std": "wide"}, "std must be a positive finite number, got 'wide'"),
    ((10,), {"seed": "zero"}, "seed must be None, an int or a numpy Generator, got str"),
    ((True,), {}, "n must be a positive int, got True"),
])
def test_sample_ring_rejects_bad_input(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        mixtures.sample_ring(*args, **kwargs)


@pytest.mark.parametrize("samples, centers, kwargs, message", [
    (np.zeros(10), mixtures.ring_centers(), {}, r"samples must have shape \(n, d\) with n >= 1, got shape \(10,\)"),
    (np.zeros((0, 2)), mixtures.ring_centers(), {}, r"got shape \(0, 2\)"),
    (np.zeros((5, 3)), mixtures.ring_centers(), {}, r"centers must have shape \(k, 3\)"),
    (np.full((5, 2), np.nan), mixtures.ring_centers(), {}, "samples contain NaN or infinite values"),
    (np.zeros((5, 2)), mixtures.ring_centers(), {"std": -0.1}, "std must be a positive finite number, got -0.1"),
    (np.zeros((5, 2)), mixtures.ring_centers(), {"std": 0.1, "n_std": 0}, "n_std must be a positive finite number"),
    (np.zeros((5, 2)), mixtures.ring_centers(), {"std": 0.1, "min_share": 1.5}, r"min_share must be in \(0, 1\]"),
])
def test_mode_coverage_rejects_bad_input(samples, centers, kwargs, message):
    kwargs = {"std": 0.05, **kwargs}
    with pytest.raises(ValueError, match=message):
        mixtures.mode_coverage(samples, centers, **kwargs)


def test_dominant_mode_finds_a_collapsed_generator_and_an_even_one():
    centers = mixtures.ring_centers(8)
    # Every point near mode 3, though far off its centre (the distance does not matter here).
    collapsed = centers[3] * 0.6 + np.random.default_rng(0).normal(0, 0.01, (200, 2))
    assert mixtures.dominant_mode(collapsed, centers) == (3, 1.0)
    spread = mixtures.sample_ring(8000, std=0.05, seed=1)
    index, share = mixtures.dominant_mode(spread, centers)
    assert 0 <= index < 8 and abs(share - 1 / 8) < 0.02
    two = np.concatenate([np.tile(centers[5], (30, 1)), np.tile(centers[2], (70, 1))])
    assert mixtures.dominant_mode(two, centers) == (2, 0.7)


@pytest.mark.parametrize("samples, centers, message", [
    (np.zeros((0, 2)), np.zeros((8, 2)), r"samples must have shape \(n, d\) with n >= 1"),
    (np.zeros((5, 2)), np.zeros((8, 3)), r"centers must have shape \(k, 2\)"),
    (np.full((5, 2), np.nan), np.zeros((8, 2)), "NaN or infinite"),
])
def test_dominant_mode_rejects_bad_input(samples, centers, message):
    with pytest.raises(ValueError, match=message):
        mixtures.dominant_mode(samples, centers)
