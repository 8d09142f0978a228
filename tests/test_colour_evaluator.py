"""Tests for ``course_utils.colour_evaluator``: shipped files and record, sanity figures, bad input, damaged files."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from course_utils import colour_evaluator as ce
from course_utils import data
from course_utils import evaluator as ev


@pytest.fixture(scope="module")
def shipped():
    return ce.load_colour_evaluator()


@pytest.fixture(scope="module")
def held():
    return data.load_emoji("both", "held_out")


@pytest.fixture(scope="module")
def train():
    return data.load_emoji("both", "train")


@pytest.fixture(scope="module")
def record():
    return json.loads((data.data_dir() / ce.RECORD_NAME).read_text(encoding="utf-8"))


def _as_float(x: np.ndarray) -> np.ndarray:
    """uint8 images -> float32 in [-1, 1], a generator's output convention."""
    return x.astype(np.float32) / 127.5 - 1.0


# --- the shipped files and their record --------------------------------------------------------------

def test_shipped_files_match_recorded_sha256(record):
    for name, sha in ((ce.WEIGHTS_NAME, ce.WEIGHTS_SHA256), (ce.STATS_NAME, ce.STATS_SHA256)):
        path = data.data_dir() / name
        assert data.sha256_of(path) == sha, name
        assert record["files"][name] == {"bytes": path.stat().st_size, "sha256": sha}
    assert (data.data_dir() / ce.WEIGHTS_NAME).stat().st_size < 1_200_000


def test_load_is_cached_and_is_an_evaluator(shipped):
    assert ce.load_colour_evaluator() is shipped
    assert isinstance(shipped, ev.Evaluator)
    assert shipped.num_classes == 9 and ev.load_evaluator().num_classes == 10


def test_parameter_count_matches_the_record(shipped, record):
    assert shipped.model.count_params() == record["parameters"] == ce.build_model().count_params()


def test_reference_stats_shapes_and_metadata(shipped):
    for style, n in (("both", 3178), ("google", 1589), ("twitter", 1589)):
        ref = ce.reference_stats(style)
        assert ref.mu.shape == (ce.FEATURE_DIM,) and ref.sigma.shape == (ce.FEATURE_DIM, ce.FEATURE_DIM)
        assert np.allclose(ref.sigma, ref.sigma.T)
        assert ref.n == n
        assert ref.metadata["style"] == style
        assert {"source", "recipe", "versions", "reference"} <= set(ref.metadata)
    assert ce.reference_stats() is shipped.reference_stats("both")


def test_reference_stats_are_the_training_emoji_features_of_each_style(shipped, train):
    """A swapped or stale statistics file fails here: each style's statistics are recomputed from its images."""
    feats = {s: shipped.features(getattr(train, s)) for s in ("google", "twitter")}
    for style in ("google", "twitter"):
        ref = ce.reference_stats(style)
        np.testing.assert_allclose(feats[style].mean(0), ref.mu, atol=1e-4)
        np.testing.assert_allclose(np.cov(feats[style], rowvar=False), ref.sigma, atol=1e-4)
    both = np.concatenate([feats["google"], feats["twitter"]])
    np.testing.assert_allclose(both.mean(0), ce.reference_stats().mu, atol=1e-4)


def test_record_numbers_are_what_the_loader_gives(shipped, held, record):
    for style in ("google", "twitter"):
        acc = shipped.accuracy(getattr(held, style), held.categories)
        assert acc == pytest.approx(record["accuracy"]["held_out"][style], abs=1e-4), style
        assert ce.fid(getattr(held, style), style) == pytest.approx(
            record["floors"]["held_out_vs_train"][style], abs=2e-3), style
    cov = ce.class_coverage(held.google)
    assert cov.counts.tolist() == record["coverage"]["google"]["held_out"]["counts"]


def test_held_out_accuracy_is_far_above_chance(shipped, held):
    for style in ("google", "twitter"):
        acc = shipped.accuracy(getattr(held, style), held.categories)
        print(f"\nheld-out accuracy {style}: {acc:.3f} (chance {1 / 9:.3f})")
        assert acc >= 0.65, style


# --- outputs --------------------------------------------------------------------------------------

def test_features_and_predict_shapes(held):
    x = held.google[:7]
    assert ce.features(x).shape == (7, ce.FEATURE_DIM)
    probs = ce.predict(x)
    assert probs.shape == (7, 9)
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_uint8_and_float_conventions_agree(held):
    x = held.twitter[:40]
    assert np.allclose(ce.features(x), ce.features(_as_float(x)), atol=1e-4)
    assert np.allclose(ce.features(x), ce.features(x.astype(np.float32) / 255.0, value_range=(0, 1)), atol=1e-4)


# --- sanity figures -------------------------------------------------------------------------------

@pytest.mark.parametrize("style", ["google", "twitter"])
def test_fid_orders_real_blurred_and_noise(held, style):
    x = _as_float(getattr(held, style))
    floor = ce.fid(x, style)
    blurred = ce.fid(gaussian_filter(x, (0, 2, 2, 0)), style)
    noise = ce.fid(np.random.default_rng(0).uniform(-1, 1, x.shape).astype(np.float32), style)
    print(f"\n{style}, n = {len(x)}: floor {floor:.3f} < blurred {blurred:.3f} < noise {noise:.3f}")
    assert 0 <= floor < blurred < noise
    assert noise > 20 * floor
    assert ce.fid(x, x) == pytest.approx(0.0, abs=1e-3)


def test_fid_sees_the_other_style_and_a_colour_swap(held):
    x = held.google
    floor = ce.fid(x, "google")
    assert ce.fid(x, "twitter") > floor
    assert ce.fid(x[..., ::-1].copy(), "google") > 3 * floor


def test_fid_floor_falls_with_the_number_of_images(record):
    for style in ("google", "twitter"):
        table = record["fid_vs_n"][style]["train_half_vs_other_half"]
        means = [table[str(n)]["mean"] for n in (50, 100, 200, 500)]
        assert all(a > b for a, b in zip(means, means[1:])), (style, means)


def test_class_coverage_of_real_emoji_is_nine(train, held):
    for x in (train.google, train.twitter, np.concatenate([held.google, held.twitter])):
        cov = ce.class_coverage(x)
        assert cov.n_covered == 9, cov
        assert cov.counts.sum() == cov.n_images == len(x)
        assert "9/9 classes covered" in str(cov)


def test_class_coverage_of_one_category_is_one(train, record):
    """Flags (the category recognized best): a collapsed generator's coverage is 1/9."""
    for style in ("google", "twitter"):
        cov = ce.class_coverage(getattr(train, style)[train.categories == 8])
        assert cov.n_covered == 1, cov
        assert int(np.argmax(cov.counts)) == 8
        assert cov.counts.tolist() == record["coverage"][style]["one_category_train"]["Flags"]["counts"]
    smileys = ce.class_coverage(train.twitter[train.categories == 0])
    assert int(np.argmax(smileys.counts)) == 0 and smileys.n_covered <= 2


# --- bad input ------------------------------------------------------------------------------------

@pytest.mark.parametrize("images, message", [
    (np.zeros((4, 64, 64), np.uint8), r"expected colour images of shape \(n, 64, 64, 3\) with n >= 1, got shape \(4, 64, 64\)"),
    (np.zeros((4, 64, 64, 4), np.uint8), r"got shape \(4, 64, 64, 4\) \(RGB without alpha"),
    (np.zeros((4, 32, 32, 3), np.uint8), r"got shape \(4, 32, 32, 3\) \(32x32 images"),
    (np.zeros((4, 3, 64, 64), np.uint8), r"got shape \(4, 3, 64, 64\) \(channels last"),
    (np.zeros((4, 28, 28), np.uint8), r"got shape \(4, 28, 28\)"),
    (np.zeros((0, 64, 64, 3), np.uint8), r"with n >= 1, got shape \(0, 64, 64, 3\)"),
    (np.full((2, 64, 64, 3), "a"), r"expected uint8 images in \[0, 255\] or float images in \[-1, 1\], got dtype <U1"),
    (np.zeros((2, 64, 64, 3), bool), "got dtype bool"),
    (np.full((2, 64, 64, 3), np.nan, np.float32), "NaN or infinity"),
    (np.full((2, 64, 64, 3), 255.0, np.float32), r"expected pixel values in \[-1, 1\], got values in \[255, 255\]"),
    (np.zeros((2, 64, 64, 3), np.int64), "value_range='auto' needs uint8"),
    (np.full((2, 64, 64, 3), 0.5, np.float32), r"value_range='auto' reads float images as \[-1, 1\]"),
])
def test_bad_images_raise_clear_errors(images, message):
    with pytest.raises(ValueError, match=message):
        ce.features(images)


def test_bad_arguments_raise_clear_errors(held):
    with pytest.raises(ValueError, match=r"style must be one of 'both', 'google', 'twitter', got 'noto'"):
        ce.fid(held.google[:10], "noto")
    with pytest.raises(ValueError, match="expected at least 2 images"):
        ce.fid(held.google[:1])
    with pytest.raises(ValueError, match=r"min_share must be in \(0, 1\]"):
        ce.class_coverage(held.google[:5], min_share=0)
    with pytest.raises(ValueError, match=r"expected class labels in 0..8, got values in \[0, 9\]"):
        ce.load_colour_evaluator().accuracy(held.google[:3], [0, 9, 1])
    with pytest.raises(ValueError, match=r"value_range must be 'auto' or \(low, high\)"):
        ce.features(held.google[:2], value_range=(1, 0))
    with pytest.raises(ValueError, match=r"expected images of shape \(n, 28, 28\)"):  # the digit evaluator
        ev.features(held.google[:2])


# --- damaged files --------------------------------------------------------------------------------

def _copy_shipped(tmp_path):
    for name in (ce.WEIGHTS_NAME, ce.STATS_NAME):
        shutil.copyfile(data.data_dir() / name, tmp_path / name)
    return tmp_path


def test_corrupt_weights_are_refused(tmp_path, monkeypatch):
    folder = _copy_shipped(tmp_path)
    path = folder / ce.WEIGHTS_NAME
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    monkeypatch.setenv("COURSE_DATA_DIR", str(folder))
    with pytest.raises(ValueError, match=f"corrupt or incomplete: SHA-256 is [0-9a-f]{{64}}, expected "
                                         f"{ce.WEIGHTS_SHA256}.*train_colour_evaluator.py"):
        ce.load_colour_evaluator()


def test_a_swapped_statistics_file_is_refused(tmp_path, monkeypatch):
    """The digit evaluator's statistics under the colour name: the checksum refuses them, and without it the shape."""
    folder = _copy_shipped(tmp_path)
    shutil.copyfile(data.data_dir() / ev.STATS_NAME, folder / ce.STATS_NAME)
    monkeypatch.setenv("COURSE_DATA_DIR", str(folder))
    with pytest.raises(ValueError, match=f"emoji_evaluator_stats.npz is corrupt or incomplete.*expected {ce.STATS_SHA256}"):
        ce.load_colour_evaluator()
    with pytest.raises(ValueError, match="expected arrays google_mu, google_sigma, google_n"):
        ce.load_colour_evaluator(check_sha256=False)


@pytest.mark.parametrize("name", [ce.WEIGHTS_NAME, ce.STATS_NAME])
def test_truncated_file_is_a_clear_error_without_the_checksum(tmp_path, name):
    folder = _copy_shipped(tmp_path)
    path = folder / name
    with open(path, "r+b") as fh:
        fh.truncate(path.stat().st_size // 2)
    with pytest.raises(ValueError, match="could not be read|not a readable"):
        ce.load_colour_evaluator(folder, check_sha256=False)


def test_missing_file_is_a_clear_error(tmp_path):
    folder = _copy_shipped(tmp_path)
    (folder / ce.STATS_NAME).unlink()
    for check_sha256 in (True, False):  # the same message either way: what is missing, and how to get it back
        with pytest.raises(ValueError, match=r"expected the colour evaluator file at .*emoji_evaluator_stats.npz, "
                                             r"found none\. Restore it .*train_colour_evaluator.py"):
            ce.load_colour_evaluator(folder, check_sha256=check_sha256)


def test_saving_the_shipped_evaluator_reproduces_its_bytes(shipped, tmp_path, held):
    ce.save_colour_evaluator(shipped, tmp_path)
    assert data.sha256_of(tmp_path / ce.WEIGHTS_NAME) == ce.WEIGHTS_SHA256
    assert data.sha256_of(tmp_path / ce.STATS_NAME) == ce.STATS_SHA256
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([ce.WEIGHTS_NAME, ce.STATS_NAME])
    other = ce.load_colour_evaluator(tmp_path)
    assert other is not shipped
    np.testing.assert_allclose(other.features(held.google[:5]), shipped.features(held.google[:5]), atol=1e-6)


def test_augment_is_seeded_and_keeps_white_white():
    x = np.ones((3, 64, 64, 3), np.float32)
    x[:, 20:40, 20:40] = [0.9, 0.2, 0.1]
    a = ce.augment(x, np.random.default_rng(5))
    b = ce.augment(x, np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    assert a.shape == x.shape and a.dtype == np.float32 and 0 <= a.min() and a.max() <= 1
    assert (a == 1.0).mean() > 0.85  # the background (and the filled border) stays white
