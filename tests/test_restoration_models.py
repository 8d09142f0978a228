"""The shipped restoration U-Nets of lesson 06: checksummed, loadable into the lesson's architecture, trained within
the course's limit, and as good as their records say on held-out images."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from course_utils import data, pretrained
from course_utils.lessons import load_lesson_code

NAMES = ("restore_denoise", "restore_inpaint", "restore_inpaint_gan", "restore_sr2", "restore_sr4", "restore_sr4_gan")


@pytest.fixture(scope="module")
def lesson():
    return load_lesson_code("06_image_restoration")


@pytest.fixture(scope="module")
def digits():
    ds = data.load_mnist(verbose=False)
    return (ds.x_test[:300, ..., None] / 255.0).astype(np.float32)


@pytest.mark.parametrize("name", NAMES)
def test_record_is_complete_and_within_the_time_limit(name):
    record = pretrained.read_record(name, pretrained.MODEL_FIELDS)
    for key in pretrained.MODEL_FIELDS:
        assert key in record, key
    assert record["train_time_s"] <= 180, "every model trains in at most 3 minutes"
    assert record["steps"] > 0 and record["machine"]["usable_cpus"] >= 1
    assert record["file"] == f"{name}.weights.h5" and data.sha256_of(data.data_dir() / record["file"]) == record["sha256"]
    assert {"psnr", "ssim", "images"} <= set(record["metrics"])


@pytest.mark.parametrize("name", NAMES)
def test_loads_into_the_lessons_model(lesson, name):
    model = lesson.build_model(name.split("_")[1])
    record = pretrained.load_trained_model(model, name)
    assert record["name"] == name and model.count_params() == record["params"]


def test_recorded_metrics_meet_the_lessons_claims():
    m = {name: pretrained.read_record(name, pretrained.MODEL_FIELDS)["metrics"] for name in NAMES}
    assert m["restore_inpaint_gan"]["fid"] < m["restore_inpaint"]["fid"]
    assert m["restore_denoise"]["psnr"] > 28 and m["restore_sr2"]["psnr"] > 30


def test_inpainting_model_beats_biharmonic_on_held_out_digits(lesson, digits):
    from skimage.restoration import inpaint_biharmonic

    model = lesson.build_model("inpaint")
    pretrained.load_trained_model(model, "restore_inpaint")
    inputs = lesson.degrade_task("inpaint", digits, seed=11, **lesson.TASKS["inpaint"]["test"])
    out = lesson.restore(model, inputs)
    assert np.allclose(out[inputs[..., 1] < 0.5], digits[inputs[..., 1] < 0.5], atol=1e-6)  # known pixels kept
    base = np.stack([inpaint_biharmonic(x[..., 0], x[..., 1] > 0.5) for x in inputs])[..., None]
    mse = lambda a: np.mean((a - digits) ** 2)  # noqa: E731
    assert mse(out) < 0.8 * mse(np.clip(base, 0, 1))


def test_denoiser_beats_total_variation_on_held_out_photos(lesson):
    from skimage.restoration import denoise_tv_chambolle

    clean = lesson.random_patches(lesson.TEST_PHOTOS, 12, 48, seed=99)
    noisy = lesson.degrade_task("denoise", clean, seed=3, strength=0.1)
    model = lesson.build_model("denoise")
    pretrained.load_trained_model(model, "restore_denoise")
    psnr = lambda a: np.mean([10 * np.log10(1 / np.mean((x - c) ** 2)) for x, c in zip(a, clean)])  # noqa: E731
    best_tv = max(psnr(np.stack([denoise_tv_chambolle(x[..., 0], weight=w) for x in noisy])[..., None])
                  for w in (0.06, 0.08, 0.1))
    assert psnr(lesson.restore(model, noisy)) > best_tv


def test_a_damaged_or_foreign_file_is_refused(lesson, tmp_path, monkeypatch):
    for suffix in (".json", ".weights.h5"):
        shutil.copy(data.data_dir() / f"restore_sr2{suffix}", tmp_path / f"restore_sr2{suffix}")
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    weights = tmp_path / "restore_sr2.weights.h5"
    original = weights.read_bytes()
    weights.write_bytes(original[:-10] + b"0123456789")
    with pytest.raises(ValueError, match="corrupt or incomplete.*not the course's file"):
        pretrained.load_trained_model(lesson.build_model("sr2"), "restore_sr2")
    record = json.loads((tmp_path / "restore_sr2.json").read_text())
    record["sha256"] = pretrained.data.sha256_of(weights)  # the record edited to bless the damaged file
    (tmp_path / "restore_sr2.json").write_text(json.dumps(record))
    with pytest.raises(ValueError, match="the course pins"):
        pretrained.load_trained_model(lesson.build_model("sr2"), "restore_sr2")
    weights.write_bytes(original)
    record["sha256"] = pretrained.SHIPPED_SHA256["restore_sr2"]
    (tmp_path / "restore_sr2.json").write_text(json.dumps(record))
    with pytest.raises(ValueError, match="parameters"):
        pretrained.load_trained_model(lesson.build_model("inpaint"), "restore_sr2")  # 2 input channels: not this model
    del record["metrics"]
    (tmp_path / "restore_sr2.json").write_text(json.dumps(record))
    with pytest.raises(ValueError, match="missing \\['metrics'\\]"):
        pretrained.load_trained_model(lesson.build_model("sr2"), "restore_sr2")
    with pytest.raises(ValueError, match="missing"):
        pretrained.load_trained_model(lesson.build_model("sr2"), "restore_nothing")


def test_deep_image_prior_stops_by_the_discrepancy_principle(lesson):
    rng = np.random.default_rng(0)
    clean = rng.uniform(0.2, 0.8, (1, 16, 16, 1)).astype(np.float32)
    noisy = np.clip(clean + 0.1 * rng.standard_normal(clean.shape), 0, 1).astype(np.float32)
    curve, best, stopped = lesson.fit_dip(noisy, clean, 6, sigma=10.0, every=2)
    assert [c[0] for c in curve] == [2, 4, 6] and all(len(c) == 3 for c in curve)
    # σ² = 100: the first record already fits within it, so that is the output returned
    assert np.isclose(float(np.mean((stopped - noisy) ** 2)), curve[0][2], rtol=1e-5)
    curve, _, never = lesson.fit_dip(noisy, clean, 6, sigma=0.0, every=2)
    assert np.isclose(float(np.mean((never - noisy) ** 2)), curve[-1][2], rtol=1e-5)  # never reached: the last one
    assert best.shape == clean.shape
