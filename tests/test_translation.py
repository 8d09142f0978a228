"""Lesson 09's exported code (the cells tagged ``export`` of notebooks/09_image_translation.py), its benchmark
record, its tool and the shipped translation models."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
import keras  # noqa: E402

from course_utils import data, lessons, pretrained  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RECORD = ROOT / "benchmarks" / "figures" / "translation.json"
SHIPPED = [f"translate_{kind}_{way}" for kind in ("pix2pix", "cyclegan") for way in ("g2t", "t2g")]


@pytest.fixture(scope="module")
def L():
    return lessons.load_lesson_code("09_image_translation")


def _script(folder, name):
    sys.path.insert(0, str(ROOT / folder))
    try:
        return __import__(name)
    finally:
        sys.path.pop(0)


def test_the_translator_is_lesson_06s_residual_unet_on_colour(L):
    keras.utils.set_random_seed(0)
    g = L.build_translator("g")
    x = tf.random.uniform([2, 64, 64, 3], -1, 1)
    assert g(x).shape == (2, 64, 64, 3)
    # residual: zero the last 1x1 convolution and the network is the identity
    last = [layer for layer in g.layers if isinstance(layer, keras.layers.Conv2D)][-1]
    last.set_weights([np.zeros_like(w) for w in last.get_weights()])
    np.testing.assert_array_equal(g(x).numpy(), x.numpy())
    pools = [layer for layer in g.layers if isinstance(layer, keras.layers.MaxPooling2D)]
    assert len(pools) == 3  # three levels down: 64 -> 32 -> 16 -> 8
    assert keras.Model(g.input, pools[-1].output)(x).shape == (2, 8, 8, 64)


def test_lesson_06s_grey_unet_is_unchanged(L):
    unet = L.LESSON_06.build_unet(in_channels=2)
    assert unet.output.shape[-1] == 1 and unet.count_params() == L.LESSON_06.build_unet(2, image_channels=1).count_params()
    x = np.random.default_rng(0).random((1, 28, 28, 2)).astype("float32")
    x[..., 1] = x[..., 1] > 0.5
    known = x[0, ..., 1] < 0.5
    np.testing.assert_allclose(unet(x).numpy()[0, ..., 0][known], x[0, ..., 0][known], rtol=0, atol=1e-6)


def test_critics_see_six_or_three_channels(L):
    cond, plain = L.build_critic(True, "d"), L.build_critic(False, "dy")
    assert cond.input.shape[-1] == 6 and plain.input.shape[-1] == 3
    assert cond(tf.zeros([1, 64, 64, 6])).shape == (1, 16, 16, 1)
    with pytest.raises(ValueError):
        cond(tf.zeros([1, 64, 64, 3]))


def test_unit_range_round_trip(L):
    images = np.arange(256, dtype=np.uint8).reshape(1, 16, 16, 1).repeat(3, -1)
    x = L.to_unit(images)
    assert x.dtype == np.float32 and x.min() == -1 and x.max() == 1
    np.testing.assert_array_equal(L.to_uint8(x), images)
    np.testing.assert_array_equal(L.to_uint8(np.array([-3.0, 3.0])), [0, 255])


def test_batches_are_paired_or_independent_and_repeatable(L):
    a, b = L.batch_indices(100, 16, seed=1, step=5, paired=True)
    np.testing.assert_array_equal(a, b)
    c, d = L.batch_indices(100, 16, seed=1, step=5, paired=False)
    np.testing.assert_array_equal(a, c)
    assert not np.array_equal(c, d)
    np.testing.assert_array_equal(d, L.batch_indices(100, 16, seed=1, step=5, paired=False)[1])
    assert not np.array_equal(a, L.batch_indices(100, 16, seed=1, step=6, paired=True)[0])


def _tiny_pairs(n=24, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (n, 64, 64, 3)).astype("float32"), rng.uniform(-1, 1, (n, 64, 64, 3)).astype("float32")


@pytest.mark.parametrize("kind", ["pix2pix", "cyclegan"])
def test_a_run_resumes_exactly(L, kind, tmp_path):
    x, y = _tiny_pairs()
    recipe = dataclasses.replace(L.RECIPE, batch_size=4)
    run = L.TranslationRun(tmp_path, kind, seed=3, recipe=recipe)
    run.train(x, y, budget_s=0.0)  # no step yet: the budget is spent before the first one
    assert int(run.steps.numpy()) == 0
    before = {name: model.get_weights()[0].copy() for name, model in run.models.items()}
    run.train(x, y, budget_s=60, max_steps=2)
    steps = int(run.steps.numpy())
    assert steps == 2
    for name, model in run.models.items():  # every network trained (both generators and both critics for CycleGAN)
        assert not np.array_equal(model.get_weights()[0], before[name]), name
    again = L.TranslationRun(tmp_path, kind, seed=3, recipe=recipe)
    assert int(again.steps.numpy()) == steps
    for name, model in run.models.items():
        for a, b in zip(model.get_weights(), again.models[name].get_weights()):
            np.testing.assert_array_equal(a, b)
    # both continue alike: the batches come from (seed, step)
    run.train(x, y, budget_s=60, max_steps=1)
    again.train(x, y, budget_s=60, max_steps=1)
    np.testing.assert_array_equal(run.g.get_weights()[0], again.g.get_weights()[0])


def test_a_run_checks_its_kind(L, tmp_path):
    with pytest.raises(ValueError, match="kind must be"):
        L.TranslationRun(tmp_path, "unit")


def test_pix2pix_step_options(L):
    keras.utils.set_random_seed(0)
    g, d = L.build_translator("g"), L.build_critic(True, "d")
    x, y = _tiny_pairs(4)
    full = L.make_pix2pix_step(g, d, L.make_optimizer(), L.make_optimizer())(x, y)
    assert set(full) == {"g_loss", "d_loss", "l1"}
    # the generator's loss is lambda * L1 plus the non-saturating term (positive), so it exceeds lambda * L1
    assert float(full["g_loss"]) > L.RECIPE.l1_weight * float(full["l1"]) * 0.99
    alone = L.make_pix2pix_step(g, d, L.make_optimizer(), L.make_optimizer(), adversarial=False)(x, y)
    assert set(alone) == {"g_loss", "l1"}
    assert float(alone["g_loss"]) == pytest.approx(L.RECIPE.l1_weight * float(alone["l1"]), rel=1e-5)


def test_lsgan_losses_match_numpy(L):
    r, f = np.array([0.2, 1.5, -0.3]), np.array([0.9, -1.0])
    assert float(L.lsgan_d(r, f)) == pytest.approx(0.5 * (np.mean((r - 1) ** 2) + np.mean(f ** 2)))
    assert float(L.lsgan_g(f)) == pytest.approx(np.mean((f - 1) ** 2))


def test_cyclegan_step_reports_its_losses(L):
    out = L.build_networks("cyclegan")[3](*_tiny_pairs(2))
    assert set(out) == {"g_loss", "d_loss", "cycle", "adv"}
    # the generators' loss is the adversarial part plus lambda times the cycle and identity terms (both >= 0)
    assert float(out["g_loss"]) >= float(out["adv"]) + L.RECIPE.cycle_weight * float(out["cycle"]) - 1e-4


def test_histogram_transfer_keeps_the_background_and_takes_the_palette(L):
    rng = np.random.default_rng(0)
    images = np.full((3, 8, 8, 3), 255, np.uint8)
    images[:, 2:6, 2:6] = rng.integers(0, 100, (3, 4, 4, 3))
    reference = np.full((5, 8, 8, 3), 255, np.uint8)
    reference[:, :4] = rng.integers(150, 200, (5, 4, 8, 3))
    out = L.histogram_transfer(images, reference)
    assert out.dtype == np.uint8 and out.shape == images.shape
    np.testing.assert_array_equal(out[:, :2], 255)  # the white background is left alone
    drawn = out[:, 2:6, 2:6]
    assert drawn.min() >= 150 and drawn.max() < 200  # the drawn pixels took the reference's range


def test_the_colour_map_recovers_a_known_affine_map(L):
    rng = np.random.default_rng(1)
    source = rng.integers(0, 256, (6, 8, 8, 3)).astype(np.uint8)
    m = np.array([[0.5, 0.1, 0.0], [0.0, 0.6, 0.1], [0.1, 0.0, 0.4], [40.0, 30.0, 20.0]])
    target = source.astype(float) @ m[:3] + m[3]
    np.testing.assert_allclose(L.fit_colour_map(source, target), m, atol=1e-8)
    np.testing.assert_array_equal(L.apply_colour_map(source, m), np.clip(np.round(target), 0, 255).astype(np.uint8))


def test_pair_scores(L):
    rng = np.random.default_rng(2)
    a = rng.integers(0, 256, (3, 32, 32, 3)).astype(np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-10, 11, a.shape), 0, 255).astype(np.uint8)
    scores = L.pair_scores(a, b)
    mse = np.mean([(x.astype(float) - y) ** 2 for x, y in zip(a, b)], axis=(1, 2, 3))
    assert scores["psnr"] == pytest.approx(np.mean(10 * np.log10(255.0 ** 2 / mse)))
    assert 0 < scores["ssim"] < 1
    with np.errstate(divide="ignore"):  # PSNR of identical images is infinite
        same = L.pair_scores(a, a)
    assert same["ssim"] == pytest.approx(1.0) and same["psnr"] == np.inf


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_models_load_with_their_records(L, name):
    record = pretrained.load_trained_model(L.build_translator(name), name)
    assert record["sha256"] == pretrained.SHIPPED_SHA256[name]
    assert record["kind"] in name and record["direction"] in name
    assert set(record["metrics"]) == {"psnr", "ssim", "fid", "coverage"}
    recipe = json.loads(json.dumps(dataclasses.asdict(L.RECIPE)))
    # the pix2pix models were trained before the recipe gained its CycleGAN-only entry "cyclegan_residual"
    assert {k: recipe[k] for k in record["recipe"]} == record["recipe"]
    assert set(recipe) - set(record["recipe"]) <= ({"cyclegan_residual"} if record["kind"] == "pix2pix" else set())


@pytest.mark.parametrize("kind", ["pix2pix", "cyclegan"])
def test_a_shipped_model_reproduces_its_recorded_accuracy(L, kind):
    g, record = L.load_shipped(kind, "g2t")  # built as it was trained: pix2pix residual, CycleGAN not
    held = data.load_emoji("both", "held_out")
    scores = L.pair_scores(held.twitter, L.translate(g, held.google))
    assert scores["psnr"] == pytest.approx(record["metrics"]["psnr"], abs=0.02)
    assert scores["ssim"] == pytest.approx(record["metrics"]["ssim"], abs=0.002)


def test_the_committed_record_has_what_the_lesson_reads():
    record = json.loads(RECORD.read_text())
    bench = _script("benchmarks", "translation")
    assert list(record["arms"]) == list(bench.ARMS)
    assert set(record["baselines"]) == {"identity", "histogram matching", "affine colour map"}
    for name, arm in record["arms"].items():
        assert arm["kind"] == bench.ARMS[name][0] and arm["options"] == bench.ARMS[name][1]
        assert [r["seed"] for r in arm["runs"]] == record["seeds"] and len(record["seeds"]) >= 2
        for run in arm["runs"]:
            assert run["train_s"] >= record["seconds"] and run["steps"] >= 1
            assert {"psnr", "ssim", "fid", "coverage"} <= set(run)


def test_the_benchmark_runs_and_writes_its_record(tmp_path):
    bench = _script("benchmarks", "translation")
    out = tmp_path / "translation.json"
    record = bench.main(["--seconds", "0.5", "--seeds", "4", "--arms", "pix2pix, L1 only", "--out", str(out)])
    assert json.loads(out.read_text()) == json.loads(json.dumps(record))
    run = record["arms"]["pix2pix, L1 only"]["runs"][0]
    assert run["seed"] == 4 and run["steps"] >= 1 and run["train_s"] >= 0.5


def test_the_tool_writes_checked_models(tmp_path, monkeypatch):
    tool = _script("tools", "train_translation_models")
    records = tool.main(["--only", "pix2pix", "--pix2pix-minutes", "0.005", "--work", str(tmp_path / "work"),
                         "--out", str(tmp_path / "out")])
    assert [r["direction"] for r in records] == ["g2t", "t2g"]
    for r in records:
        written = json.loads((tmp_path / "out" / f"translate_pix2pix_{r['direction']}.json").read_text())
        assert data.sha256_of(tmp_path / "out" / written["file"]) == written["sha256"] and written["steps"] >= 1
        assert written["metrics"] == r["metrics"] and written["kind"] == "pix2pix"
    with pytest.raises(SystemExit):
        tool.main(["--pix2pix-minutes", "-1"])


def _zero_last_conv(model):
    last = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)][-1]
    last.set_weights([np.zeros_like(w) for w in last.get_weights()])


@pytest.mark.parametrize("residual", [False, True])
def test_cyclegans_generators_draw_the_image_unless_told_otherwise(L, residual):
    recipe = dataclasses.replace(L.RECIPE, cyclegan_residual=residual)
    models, *_ = L.build_networks("cyclegan", recipe)
    x = tf.random.uniform([1, 64, 64, 3], -1, 1)
    for name in ("g", "f"):
        _zero_last_conv(models[name])
        out = models[name](x).numpy()
        np.testing.assert_array_equal(out, x.numpy() if residual else np.zeros_like(out))
    pix, *_ = L.build_networks("pix2pix")  # pix2pix's generator is always residual
    _zero_last_conv(pix["g"])
    np.testing.assert_array_equal(pix["g"](x).numpy(), x.numpy())


def test_benchmark_records_merge_only_when_their_settings_agree(tmp_path):
    bench = _script("benchmarks", "translation")
    base = {"seconds": 1.0, "seeds": [0, 1], "recipe": {"a": 1}, "baselines": {}, "machine": {"cpu_model": "cpu"},
            "command": "c", "created_utc": "t"}
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps({**base, "arms": {"CycleGAN": {"runs": []}}}))
    b.write_text(json.dumps({**base, "arms": {"pix2pix": {"runs": []}}}))
    merged = bench.merge([a, b], tmp_path / "m.json")
    assert list(merged["arms"]) == ["pix2pix", "CycleGAN"]  # in ARMS order
    b.write_text(json.dumps({**base, "seeds": [0], "arms": {"pix2pix": {"runs": []}}}))
    with pytest.raises(ValueError, match="seeds"):
        bench.merge([a, b], tmp_path / "m.json")
