"""Tests for ``course_utils.memorization``: held-out FID and the nearest-neighbour memorization check."""

from __future__ import annotations

import numpy as np
import pytest

from course_utils import data
from course_utils import evaluator as ev
from course_utils import memorization as mem


@pytest.fixture(scope="module")
def digits():
    return data.load_bundled_mnist()


def _reference_picks(n_train: int, n_held: int, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The training and held-out indices held_out_fid draws (as its docstring says)."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_train, n, replace=False)), np.sort(rng.choice(n_held, n, replace=False))


# --- held-out FID ------------------------------------------------------------------------------------

def test_training_digits_themselves_are_closer_to_the_training_reference(digits):
    """Samples that ARE the reference training digits: train FID ~0, held-out FID near the real baseline."""
    pick, _ = _reference_picks(len(digits.x_train), len(digits.x_test), 500, seed=0)
    copies = digits.x_train[pick]  # exactly the training reference held_out_fid draws with seed=0
    result = mem.held_out_fid(copies, n_reference=500, seed=0)
    assert result.train_fid < 1e-3
    assert result.held_out_fid > 0.5
    assert result.gap > 0.5
    assert result.held_out_fid == pytest.approx(result.real_baseline, rel=1e-6)  # the same two sets, swapped
    assert "gap" in str(result) and result.n_reference == 500


def test_real_digits_never_seen_score_alike_on_both_sides(digits):
    """Real training digits outside the reference generalize: train and held-out FID close, near the baseline."""
    pick, _ = _reference_picks(len(digits.x_train), 500, 500, seed=0)
    others = np.delete(digits.x_train, pick, axis=0)[:500]
    result = mem.held_out_fid(others, held_out_images=digits.x_test[1::2], n_reference=500, seed=0)
    assert result.train_fid > 0.3  # not a copy of the reference
    assert abs(result.gap) < 0.5 * result.train_fid
    assert 0.5 * result.real_baseline < result.train_fid < 2.0 * result.real_baseline


def test_held_out_fid_counts_are_equal_and_computed_as_documented(digits):
    images = data.to_float_images(digits.x_test[:300])  # float in [-1, 1], another value range
    result = mem.held_out_fid(images, train_images=digits.x_train[:400], held_out_images=digits.x_test[300:700],
                              n_reference=300, seed=3)
    judge = ev.load_evaluator()
    train_pick, held_pick = _reference_picks(400, 400, 300, seed=3)
    train_ref, held_ref = digits.x_train[:400][train_pick], digits.x_test[300:700][held_pick]
    assert result.train_fid == pytest.approx(judge.fid(digits.x_test[:300], reference=train_ref), rel=1e-6)
    assert result.held_out_fid == pytest.approx(judge.fid(digits.x_test[:300], reference=held_ref), rel=1e-6)
    assert result.real_baseline == pytest.approx(judge.fid(held_ref, reference=train_ref), rel=1e-6)


@pytest.mark.parametrize("kwargs, match", [
    ({"n_reference": 1}, r"n_reference must be an int >= 65 .*got 1"),
    ({"n_reference": 2.5}, r"n_reference must be an int >= 65 .*got 2.5"),
    ({"n_reference": True}, r"n_reference must be an int >= 65"),
    ({"n_reference": 200}, r"expected at least n_reference=200 samples, got 100"),
    ({"n_reference": 80, "held_out_images": np.zeros((10, 28, 28), np.uint8)},
     r"expected at least n_reference=80 held out images, got 10"),
])
def test_held_out_fid_rejects_bad_input(digits, kwargs, match):
    with pytest.raises(ValueError, match=match):
        mem.held_out_fid(digits.x_test[:100], **kwargs)


def test_held_out_fid_rejects_images_in_the_wrong_range(digits):
    with pytest.raises(ValueError, match=r"look like images in \[0, 1\]"):
        mem.held_out_fid(digits.x_test[:100].astype(np.float32) / 255.0, n_reference=100)


# --- nearest neighbours ------------------------------------------------------------------------------

@pytest.mark.parametrize("space", ["pixels", "features"])
def test_training_digits_are_flagged_as_memorized(digits, space):
    copies = digits.x_train[:200]
    result = mem.nearest_neighbours(copies, space=space)
    assert np.allclose(result.sample_distances, 0.0, atol=1e-3)
    assert result.frac_below_p1 == 1.0 and result.frac_below_p5 == 1.0
    matched = digits.x_train[result.nearest_train]
    assert np.array_equal(matched, copies) or np.allclose(result.sample_distances, 0, atol=1e-3)


def test_nearest_train_indices_point_at_the_copied_digit(digits):
    """Slightly noisy copies of shuffled training digits: the index found is the digit copied."""
    order = np.random.default_rng(1).permutation(len(digits.x_train))[:100]
    noisy = np.clip(digits.x_train[order].astype(np.int16)
                    + np.random.default_rng(2).integers(-8, 9, (100, 28, 28)), 0, 255).astype(np.uint8)
    result = mem.nearest_neighbours(noisy)
    assert np.array_equal(result.nearest_train, order)
    assert result.frac_below_p1 > 0.9
    assert np.array_equal(result.closest(3), np.argsort(result.sample_distances)[:3])


@pytest.mark.parametrize("space", ["pixels", "features"])
def test_held_out_digits_are_not_flagged(digits, space):
    # The bundled digits are sorted by class: alternate images give two halves with the same classes.
    result = mem.nearest_neighbours(digits.x_test[::2], held_out_images=digits.x_test[1::2], space=space)
    assert result.frac_below_p1 < 0.05
    assert result.frac_below_p5 < 0.15
    assert 0.7 < result.sample_quantiles[2] / result.held_out_quantiles[2] < 1.4  # similar medians
    assert len(result.held_out_distances) == 500 and len(result.nearest_train) == 500
    assert "percentile" in str(result)


def test_distances_are_the_euclidean_ones(digits):
    images = digits.x_test[:20]
    result = mem.nearest_neighbours(images, train_images=digits.x_train[:300], held_out_images=digits.x_test[20:60])
    q = images.reshape(20, -1) / 255.0
    bank = digits.x_train[:300].reshape(300, -1) / 255.0
    brute = np.linalg.norm(q[:, None, :] - bank[None, :, :], axis=-1)
    assert np.allclose(result.sample_distances, brute.min(axis=1), atol=1e-6)
    assert np.array_equal(result.nearest_train, brute.argmin(axis=1))
    assert np.allclose(result.sample_quantiles, np.quantile(brute.min(axis=1), mem.QUANTILE_LEVELS), atol=1e-6)


def test_float_samples_in_tanh_range_match_uint8(digits):
    a = mem.nearest_neighbours(digits.x_test[:50], held_out_images=digits.x_test[50:100])
    b = mem.nearest_neighbours(data.to_float_images(digits.x_test[:50]), held_out_images=digits.x_test[50:100])
    assert np.allclose(a.sample_distances, b.sample_distances, atol=1e-4)


@pytest.mark.parametrize("kwargs, match", [
    ({"space": "latent"}, r"space must be one of \('pixels', 'features'\), got 'latent'"),
    ({"held_out_images": np.zeros((1, 28, 28), np.uint8)}, r"expected at least 2 held-out digits, got 1"),
])
def test_nearest_neighbours_rejects_bad_input(digits, kwargs, match):
    with pytest.raises(ValueError, match=match):
        mem.nearest_neighbours(digits.x_test[:10], **kwargs)


def test_nearest_neighbours_rejects_bad_images():
    with pytest.raises(ValueError, match=r"expected images of shape \(n, 28, 28\)"):
        mem.nearest_neighbours(np.zeros((4, 32, 32), np.uint8))
    with pytest.raises(ValueError, match=r"k must be an int >= 1, got 0"):
        mem.nearest_neighbours(np.zeros((4, 28, 28), np.uint8)).closest(0)


def test_held_out_fid_refuses_too_few_reference_images(digits):
    with pytest.raises(ValueError, match=r"n_reference must be an int >= 65 .*64 features.*got 3"):
        mem.held_out_fid(digits.x_test[:100], n_reference=3)
