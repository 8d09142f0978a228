"""Tests for ``course_utils.evaluator``: shipped files, sanity figures, bad input, damaged files."""

from __future__ import annotations

import os
import shutil
import time

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from course_utils import data
from course_utils import evaluator as ev


@pytest.fixture(scope="module")
def digits():
    return data.load_bundled_mnist()


@pytest.fixture(scope="module")
def shipped():
    start = time.perf_counter()
    evaluator = ev.load_evaluator()
    print(f"\nload_evaluator(): {time.perf_counter() - start:.2f} s (TensorFlow already imported or not)")
    return evaluator


def _as_float(x: np.ndarray) -> np.ndarray:
    """uint8 digits -> float32 in [-1, 1], a generator's output convention."""
    return x.astype(np.float32) / 127.5 - 1.0


# --- the shipped files ------------------------------------------------------------------------------

def test_shipped_files_match_recorded_sha256():
    assert data.sha256_of(data.data_dir() / ev.WEIGHTS_NAME) == ev.WEIGHTS_SHA256
    assert data.sha256_of(data.data_dir() / ev.STATS_NAME) == ev.STATS_SHA256
    assert (data.data_dir() / ev.WEIGHTS_NAME).stat().st_size < 1_000_000


def test_load_is_cached(shipped):
    assert ev.load_evaluator() is shipped


def test_reference_stats_shapes_and_metadata(shipped):
    ref = ev.reference_stats()
    assert ref.mu.shape == (ev.FEATURE_DIM,)
    assert ref.sigma.shape == (ev.FEATURE_DIM, ev.FEATURE_DIM)
    assert np.allclose(ref.sigma, ref.sigma.T)
    assert ref.n == 4000
    assert {"source", "recipe", "held_out_accuracy", "versions"} <= set(ref.metadata)


def test_reference_stats_are_the_training_digits_features(shipped, digits):
    stats = shipped.stats(digits.x_train)
    assert np.allclose(stats.mu, ev.reference_stats().mu, atol=1e-5)
    assert np.allclose(stats.sigma, ev.reference_stats().sigma, atol=1e-5)


def test_held_out_accuracy(shipped, digits):
    acc = shipped.accuracy(digits.x_test, digits.y_test)
    print(f"\nheld-out accuracy: {acc:.4f}")
    assert acc >= 0.96
    assert abs(acc - float(ev.reference_stats().metadata["held_out_accuracy"])) < 1e-4


def test_saving_the_shipped_evaluator_reproduces_its_bytes(shipped, tmp_path):
    ev.save_evaluator(shipped, tmp_path)
    assert data.sha256_of(tmp_path / ev.WEIGHTS_NAME) == ev.WEIGHTS_SHA256
    assert data.sha256_of(tmp_path / ev.STATS_NAME) == ev.STATS_SHA256
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([ev.WEIGHTS_NAME, ev.STATS_NAME])  # no leftovers


# --- outputs --------------------------------------------------------------------------------------

def test_features_and_predict_shapes(digits):
    x = digits.x_test[:7]
    assert ev.features(x).shape == (7, ev.FEATURE_DIM)
    probs = ev.predict(x[..., None])
    assert probs.shape == (7, 10)
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_uint8_and_float_conventions_agree(digits):
    x = digits.x_test[:50]
    assert np.allclose(ev.features(x), ev.features(_as_float(x)), atol=1e-4)
    assert np.allclose(ev.features(x), ev.features(x.astype(np.float32) / 255.0, value_range=(0, 1)), atol=1e-4)


def test_2000_real_images_score_the_real_floor_and_cover_every_class(shipped, digits):
    """2,000 real digits: a small FID (the real-vs-real floor), all 10 classes; the time is printed, not asserted."""
    x = np.concatenate([digits.x_train, digits.x_test])[:2000]
    start = time.perf_counter()
    value = ev.fid(x)
    cov = ev.class_coverage(x)
    print(f"\nfid + class_coverage of 2,000 images: {time.perf_counter() - start:.2f} s (fid {value:.3f}; {cov})")
    assert 0 < value < 5, "real digits against the real reference statistics score near the floor"
    assert cov.n_covered == 10
    noise = np.random.default_rng(0).integers(0, 256, x.shape, dtype=np.uint8)
    assert ev.fid(noise) > 20 * value, "noise scores far above real digits"


# --- sanity figures -------------------------------------------------------------------------------

def test_fid_real_vs_real_is_small(digits):
    x = digits.x_train
    half = ev.fid(x[:2000], x[2000:])
    held_out = ev.fid(digits.x_test)
    print(f"\nFID real half vs other half: {half:.3f}; held-out vs shipped stats: {held_out:.3f}")
    assert 0.0 <= half < 5.0
    assert 0.0 <= held_out < 5.0
    assert ev.fid(x, x) == pytest.approx(0.0, abs=1e-3)


def test_fid_of_noise_is_large(digits):
    noise = np.random.default_rng(0).uniform(-1, 1, size=(2000, 28, 28)).astype(np.float32)
    value = ev.fid(noise)
    print(f"\nFID uniform noise: {value:.1f}")
    assert value > 100.0
    assert value > 50 * ev.fid(digits.x_train[:2000], digits.x_train[2000:])


def test_fid_grows_monotonically_with_noise(digits):
    x = _as_float(digits.x_train[:2000])
    rng = np.random.default_rng(1)
    eps = rng.standard_normal(x.shape).astype(np.float32)
    values = [ev.fid(np.clip(x + s * eps, -1, 1)) for s in (0.0, 0.1, 0.2, 0.4, 0.8)]
    print("\nFID vs noise:", np.round(values, 2))
    assert all(a < b for a, b in zip(values, values[1:])), values


def test_fid_grows_monotonically_with_blur(digits):
    x = _as_float(digits.x_train[:2000])
    values = [ev.fid(gaussian_filter(x, (0, s, s)) if s else x) for s in (0.0, 0.5, 1.0, 1.5, 2.0)]
    print("\nFID vs blur:", np.round(values, 2))
    assert all(a < b for a, b in zip(values, values[1:])), values


def test_class_coverage_of_real_digits_is_ten(digits):
    cov = ev.class_coverage(digits.x_train)
    assert cov.n_covered == 10
    assert cov.effective_classes > 9.9
    assert cov.counts.sum() == cov.n_images == 4000
    assert np.isclose(cov.fractions.sum(), 1.0)
    assert 0.9 < cov.mean_confidence <= 1.0
    assert "10/10 classes covered" in str(cov)


@pytest.mark.parametrize("digit", [1, 8])
def test_class_coverage_of_one_class_is_one(digits, digit):
    for x in (digits.x_train[digits.y_train == digit], digits.x_test[digits.y_test == digit]):
        cov = ev.class_coverage(x)
        assert cov.n_covered == 1
        assert int(np.argmax(cov.counts)) == digit
        assert cov.effective_classes < 1.5


# --- the maths ------------------------------------------------------------------------------------

def _frechet_by_eigh(mu1, s1, mu2, s2):
    """Independent formula: Tr((S1 S2)^1/2) = sum of sqrt(eigenvalues of S1^1/2 S2 S1^1/2)."""
    w, v = np.linalg.eigh(s1)
    root1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    inner = np.linalg.eigvalsh(root1 @ s2 @ root1)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(np.clip(inner, 0, None)).sum())


def test_frechet_distance_matches_independent_formula():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((200, 6)), rng.standard_normal((200, 6)) * 1.5 + 0.3
    args = (a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
    assert ev.frechet_distance(*args) == pytest.approx(_frechet_by_eigh(*args), rel=1e-6)
    # One-dimensional case by hand: (m1 - m2)^2 + (s1 - s2)^2 for standard deviations s1, s2.
    assert ev.frechet_distance([1.0], [[4.0]], [3.0], [[9.0]]) == pytest.approx((1 - 3) ** 2 + (2 - 3) ** 2)


def test_frechet_distance_handles_singular_covariances():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((50, 5))
    a[:, 2] = 0.0  # a dead ReLU unit: zero variance
    s = np.cov(a, rowvar=False)
    assert ev.frechet_distance(a.mean(0), s, a.mean(0), s) == pytest.approx(0.0, abs=1e-4)


def test_frechet_distance_bad_input():
    with pytest.raises(ValueError, match=r"expected means \(d,\) and covariances \(d, d\)"):
        ev.frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))
    with pytest.raises(ValueError, match="NaN or infinity"):
        ev.frechet_distance(np.array([np.nan, 0.0]), np.eye(2), np.zeros(2), np.eye(2))


# --- bad input ------------------------------------------------------------------------------------

@pytest.mark.parametrize("images, message", [
    (np.zeros((4, 32, 32), np.uint8), r"expected images of shape \(n, 28, 28\) or \(n, 28, 28, 1\).*got shape \(4, 32, 32\)"),
    (np.zeros((4, 28, 28, 3), np.uint8), r"got shape \(4, 28, 28, 3\)"),
    (np.zeros((28, 28), np.uint8), r"got shape \(28, 28\)"),
    (np.zeros((0, 28, 28), np.uint8), r"with n >= 1, got shape \(0, 28, 28\)"),
    (np.array([["a"] * 28] * 28), r"expected uint8 images in \[0, 255\] or float images in \[-1, 1\], got dtype <U1"),
    (np.zeros((2, 28, 28), bool), "got dtype bool"),
    (np.full((2, 28, 28), np.nan, np.float32), "NaN or infinity"),
    (np.full((2, 28, 28), 255.0, np.float32), r"expected pixel values in \[-1, 1\], got values in \[255, 255\]"),
    (np.zeros((2, 28, 28), np.int64), "value_range='auto' needs uint8"),
])
def test_bad_images_raise_clear_errors(images, message):
    with pytest.raises(ValueError, match=message):
        ev.features(images)


def test_bad_arguments_raise_clear_errors(digits):
    with pytest.raises(ValueError, match="value_range must be 'auto' or \\(low, high\\)"):
        ev.features(digits.x_test[:2], value_range=(1, 0))
    with pytest.raises(ValueError, match="expected at least 2 images"):
        ev.fid(digits.x_test[:1])
    with pytest.raises(ValueError, match=r"min_share must be in \(0, 1\]"):
        ev.class_coverage(digits.x_test[:5], min_share=0)
    with pytest.raises(ValueError, match="expected 5 labels"):
        ev.load_evaluator().accuracy(digits.x_test[:5], digits.y_test[:4])
    with pytest.raises(ValueError, match="epochs must be a positive int"):
        ev.train_evaluator(epochs=0)
    with pytest.raises(ValueError, match="verbose must be 0 or 2"):
        ev.train_evaluator(verbose=1)


# --- damaged files --------------------------------------------------------------------------------

def _copy_shipped(tmp_path):
    for name in (ev.WEIGHTS_NAME, ev.STATS_NAME):
        shutil.copyfile(data.data_dir() / name, tmp_path / name)
    return tmp_path


@pytest.mark.parametrize("name", [ev.WEIGHTS_NAME, ev.STATS_NAME])
@pytest.mark.parametrize("check_sha256", [True, False])
def test_truncated_file_is_a_clear_error(tmp_path, name, check_sha256):
    folder = _copy_shipped(tmp_path)
    path = folder / name
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        fh.truncate(size // 2)
    message = "corrupt or incomplete: .* not the shipped evaluator file" if check_sha256 else "could not be read|not a readable"
    with pytest.raises(ValueError, match=message):
        ev.load_evaluator(folder, check_sha256=check_sha256)


def test_flipped_byte_is_caught_by_the_checksum(tmp_path):
    folder = _copy_shipped(tmp_path)
    path = folder / ev.WEIGHTS_NAME
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=f"SHA-256 is [0-9a-f]{{64}}, expected {ev.WEIGHTS_SHA256}"):
        ev.load_evaluator(folder)


def test_missing_file_is_a_clear_error(tmp_path):
    folder = _copy_shipped(tmp_path)
    os.remove(folder / ev.STATS_NAME)
    for check_sha256 in (True, False):
        with pytest.raises(ValueError, match=r"expected the evaluator file at .*mnist_evaluator_stats.npz, found none\. "
                                             r"Restore it .*git checkout -- mnist_evaluator_stats.npz.*--train"):
            ev.load_evaluator(folder, check_sha256=check_sha256)


def test_copy_in_another_folder_loads(tmp_path, digits):
    folder = _copy_shipped(tmp_path)
    other = ev.load_evaluator(folder)
    assert other is not ev.load_evaluator()
    assert np.allclose(other.features(digits.x_test[:10]), ev.features(digits.x_test[:10]), atol=1e-6)


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("COURSE_RETRAIN_TEST") != "1",
                    reason="retrains the evaluator (~20-40 s on 2 cores); set COURSE_RETRAIN_TEST=1")
def test_recipe_reproduces_the_shipped_evaluator(tmp_path):
    evaluator, history = ev.train_evaluator(save_to=tmp_path)
    assert len(history["loss"]) == ev.RECIPE.epochs
    acc = float(evaluator.reference.metadata["held_out_accuracy"])
    assert abs(acc - float(ev.reference_stats().metadata["held_out_accuracy"])) <= 0.005
    same = data.sha256_of(tmp_path / ev.WEIGHTS_NAME) == ev.WEIGHTS_SHA256
    print(f"\nretrained: held-out accuracy {acc:.4f}; bit-identical weights: {same}")


# --- issue 16: no silently wrong numbers -------------------------------------------------------------

def test_float_images_in_0_1_are_refused_under_auto_not_misread(digits):
    real01 = digits.x_test[:200].astype(np.float32) / 255.0
    for call in (ev.fid, ev.class_coverage, ev.features):
        with pytest.raises(ValueError, match=r"value_range='auto' reads float images as \[-1, 1\].*no negative value "
                                             r"\(they lie in \[0, 1\]\).*Pass value_range=\(0, 1\)"):
            call(real01)
    # Told the range, the same digits score as the uint8 originals.
    assert ev.fid(real01, value_range=(0, 1)) == pytest.approx(ev.fid(digits.x_test[:200]), abs=1e-3)
    assert ev.class_coverage(real01, value_range=(0, 1)).n_covered == ev.class_coverage(digits.x_test[:200]).n_covered


@pytest.mark.parametrize("value_range, message", [
    ((0.0, np.inf), r"value_range must be .auto. or two finite numbers"),
    ((-np.inf, 1.0), r"value_range must be .auto. or two finite numbers"),
    ((np.nan, 1.0), r"value_range must be .auto. or two finite numbers"),
    ((1e8, 1e8 + 1), r"low < high \(a range of non-zero width\)"),
    ((0.5, 0.5), r"low < high \(a range of non-zero width\)"),
    (("a", 1), r"with two numbers"),
    ("0-1", r"value_range must be 'auto' or \(low, high\)"),
])
def test_value_range_must_be_finite_and_wide(digits, value_range, message):
    with pytest.raises(ValueError, match=message):
        ev.preprocess(digits.x_test[:2].astype(np.float32), value_range)


def test_accuracy_refuses_string_labels_instead_of_scoring_zero(shipped, digits):
    x, y = digits.x_test[:50], digits.y_test[:50]
    with pytest.raises(ValueError, match=r"expected integer class labels 0..9 \(e.g. y_test\), got dtype <U\d+ such as "
                                         r"'\d'; convert them first"):
        shipped.accuracy(x, y.astype(str))
    with pytest.raises(ValueError, match=r"expected class labels in 0..9, got values in \[0, 10\]"):
        shipped.accuracy(x, np.where(np.arange(50) == 0, 10, y))
    assert shipped.accuracy(x, y.astype(np.float32)) == shipped.accuracy(x, y) > 0.9


@pytest.mark.parametrize("min_share", ["0.1", True, None, 1.5])
def test_min_share_must_be_a_number_in_0_1(digits, min_share):
    with pytest.raises(ValueError, match=rf"min_share must be in \(0, 1\], a number such as 0.025, got {min_share!r}"):
        ev.class_coverage(digits.x_test[:20], min_share=min_share)


def test_frechet_distance_refuses_asymmetric_covariance_and_bad_eps():
    s = np.array([[1.0, 0.5], [0.0, 1.0]])
    with pytest.raises(ValueError, match=r"sigma1 must be a covariance matrix \(symmetric\).*up to 0.5"):
        ev.frechet_distance(np.zeros(2), s, np.zeros(2), np.eye(2))
    with pytest.raises(ValueError, match=r"sigma2 must be a covariance matrix"):
        ev.frechet_distance(np.zeros(2), np.eye(2), np.zeros(2), s)
    for eps in (-1e-6, np.nan, np.inf, "1e-6", True):
        with pytest.raises(ValueError, match=r"eps must be a finite number >= 0"):
            ev.frechet_distance(np.zeros(2), np.eye(2), np.zeros(2), np.eye(2), eps=eps)
    assert ev.frechet_distance(np.zeros(2), np.eye(2), np.ones(2), np.eye(2), eps=0) == pytest.approx(2.0)


def test_fid_maths_has_its_own_module_and_the_old_names_still_work():
    from course_utils import frechet

    assert ev.frechet_distance is frechet.frechet_distance and ev.ReferenceStats is frechet.ReferenceStats
    feats = np.random.default_rng(0).normal(size=(50, 3))
    stats = frechet.gaussian_stats(feats)
    np.testing.assert_allclose(stats.sigma, np.cov(feats, rowvar=False))
    assert ev.gaussian_stats(feats).n == 50
    with pytest.raises(ValueError, match=r"expected features of shape \(n, d\), got shape \(50,\)"):
        frechet.gaussian_stats(feats[:, 0])


def test_saved_evaluator_files_are_readable_by_others(shipped, tmp_path):
    old_mask = os.umask(0o022)
    try:
        paths = ev.save_evaluator(shipped, tmp_path / "ev")
    finally:
        os.umask(old_mask)
    assert [p.stat().st_mode & 0o777 for p in paths] == [0o644, 0o644]
    assert sorted(p.name for p in (tmp_path / "ev").iterdir()) == sorted([ev.WEIGHTS_NAME, ev.STATS_NAME])


def test_frechet_distance_refuses_a_covariance_that_is_not_positive_semi_definite():
    s = np.diag([1.0, 1.0, -0.5])
    with pytest.raises(ValueError, match=r"sigma1 must be a covariance matrix \(positive semi-definite\).*-0.5"):
        ev.frechet_distance(np.zeros(3), s, np.zeros(3), s)
    with pytest.raises(ValueError, match=r"sigma2 must be .*positive semi-definite"):
        ev.frechet_distance(np.zeros(3), np.eye(3), np.zeros(3), s)
    singular = np.diag([1.0, 0.0, 0.0])  # zero variance (dead units) is allowed
    assert ev.frechet_distance(np.zeros(3), singular, np.zeros(3), singular) == pytest.approx(0.0, abs=1e-3)


def test_evaluator_re_exports_its_parts_under_the_names_lessons_use():
    from course_utils import evaluator_files, evaluator_network, evaluator_scoring, frechet

    for module in (evaluator_files, evaluator_network, evaluator_scoring, frechet):
        for name in set(ev.__all__) & set(vars(module)):
            assert getattr(ev, name) is getattr(module, name), name
    assert ev.load_evaluator is evaluator_files.load_evaluator and ev.Evaluator is evaluator_scoring.Evaluator
    assert ev.RECIPE is evaluator_network.RECIPE and ev.build_model is evaluator_network.build_model
