"""Lesson 08's exported code (the cells tagged ``export`` of notebooks/08_colour_gans.py), its benchmark record and
the shipped colour generator."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
import keras  # noqa: E402

from course_utils import lessons, pretrained  # noqa: E402
from tests.scripts import load_script  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RECORD = ROOT / "benchmarks" / "figures" / "colour_losses.json"
TOOL = ROOT / "tools" / "train_colour_generator.py"


@pytest.fixture(scope="module")
def L():
    return lessons.load_lesson_code("08_colour_gans")


@pytest.mark.parametrize("size", [32, 64])
def test_generator_and_discriminator_shapes(L, size):
    g, d = L.build_generator(size), L.build_discriminator(size)
    z = tf.zeros((3, L.NOISE_DIM))
    labels = tf.constant([0, 4, 8], tf.int32)
    images = g([z, labels])
    assert images.shape == (3, size, size, 3)
    assert d([images, labels]).shape == (3, 1)
    hinge = dataclasses.replace(L.RECIPE, loss="hinge")  # spectral normalization in D
    g0, d0 = L.build_generator(size, n_classes=0, recipe=hinge), L.build_discriminator(size, n_classes=0, recipe=hinge)
    assert any("spectral" in type(layer).__name__.lower() for layer in d0.layers)
    assert g0(z).shape == (3, size, size, 3) and d0(g0(z)).shape == (3, 1)


def test_generator_doubles_from_4_to_64(L):
    g = L.build_generator(64)
    sides = [layer.output.shape[1] for layer in g.layers
             if isinstance(layer, (keras.layers.Reshape, keras.layers.Conv2DTranspose))]
    assert sides == [4, 8, 16, 32, 64]


@pytest.mark.parametrize("size", [28, 16, 128, True, "64"])
def test_other_sizes_are_refused(L, size):
    with pytest.raises(ValueError, match="size must be one of"):
        L.build_generator(size)
    with pytest.raises(ValueError, match="size must be one of"):
        L.build_discriminator(size)


def test_projection_discriminator_depends_on_the_category(L):
    keras.utils.set_random_seed(0)
    d = L.build_discriminator(32)
    x = tf.random.uniform([2, 32, 32, 3], -1, 1)
    a = d([x, tf.constant([0, 0])]).numpy()
    b = d([x, tf.constant([5, 5])]).numpy()
    assert not np.allclose(a, b)


def _np_losses(loss, r, f):
    softplus = lambda v: np.log1p(np.exp(v))  # noqa: E731
    if loss == "dcgan":
        return softplus(-r).mean() + softplus(f).mean(), softplus(-f).mean()
    if loss == "wgan-gp":
        return f.mean() - r.mean(), -f.mean()
    return np.maximum(0, 1 - r).mean() + np.maximum(0, 1 + f).mean(), -f.mean()


@pytest.mark.parametrize("loss", ["dcgan", "wgan-gp", "hinge"])
def test_losses_match_numpy(L, loss):
    rng = np.random.default_rng(1)
    r, f = rng.normal(0, 2, (16, 1)).astype("float32"), rng.normal(0, 2, (16, 1)).astype("float32")
    d_expected, g_expected = _np_losses(loss, r, f)
    assert np.isclose(float(L.discriminator_loss(loss, tf.constant(r), tf.constant(f))), d_expected, rtol=1e-5)
    assert np.isclose(float(L.generator_loss(loss, tf.constant(f))), g_expected, rtol=1e-5)


def test_unknown_loss_is_refused(L):
    with pytest.raises(ValueError, match="loss must be one of"):
        L.discriminator_loss("lsgan", tf.zeros([2, 1]), tf.zeros([2, 1]))
    with pytest.raises(ValueError, match="loss must be one of"):
        L.generator_loss("wgan", tf.zeros([2, 1]))


def test_the_recipe_is_frozen_to_its_tables(L):
    """Frozen fields are not enough: the per-loss tables inside the recipe must refuse changes too."""
    recipe = L.RECIPE
    with pytest.raises(dataclasses.FrozenInstanceError):
        recipe.loss = "hinge"
    for table, key, value in ((recipe.betas, "hinge", (0.5, 0.5)), (recipe.spectral_norm, "dcgan", True)):
        with pytest.raises(TypeError, match="read-only"):
            table[key] = value
        with pytest.raises(TypeError, match="read-only"):
            table.update({key: value})
    assert recipe.betas["hinge"] == (0.0, 0.9) and recipe.spectral_norm["dcgan"] is False
    variant = dataclasses.replace(recipe, loss="hinge")
    assert hash(variant) != hash(recipe) and variant.betas == recipe.betas
    written = json.loads(json.dumps(dataclasses.asdict(recipe)))  # the records still write plain dicts
    assert written["betas"] == {"dcgan": [0.5, 0.999], "wgan-gp": [0.0, 0.9], "hinge": [0.0, 0.9]}


def test_penalty_of_a_linear_critic_is_known_in_closed_form(L):
    rng = np.random.default_rng(2)
    critic = keras.Sequential([keras.Input((4, 4, 3)), keras.layers.Flatten(), keras.layers.Dense(1, use_bias=False)])
    w = rng.normal(size=(48, 1)).astype("float32") * 0.1
    critic.set_weights([w])
    real, fake = (tf.constant(rng.uniform(-1, 1, (6, 4, 4, 3)), tf.float32) for _ in range(2))
    alpha = tf.constant(rng.uniform(size=(6, 1, 1, 1)), tf.float32)
    got = float(L.interpolates_penalty(lambda x: critic(x), real, fake, alpha))
    assert np.isclose(got, (np.linalg.norm(w) - 1) ** 2, rtol=1e-5)


def test_penalty_is_per_image_at_the_interpolates(L):
    """A critic x -> sum(x^2) has gradient 2x: the penalty must use each interpolate's own norm."""
    rng = np.random.default_rng(3)
    real, fake = (tf.constant(rng.uniform(-1, 1, (5, 2, 2, 1)), tf.float32) for _ in range(2))
    alpha = tf.constant(rng.uniform(size=(5, 1, 1, 1)), tf.float32)
    got = float(L.interpolates_penalty(lambda x: tf.reduce_sum(tf.square(x), axis=[1, 2, 3])[:, None],
                                       real, fake, alpha))
    mixed = (alpha * real + (1 - alpha) * fake).numpy()
    norms = np.linalg.norm((2 * mixed).reshape(5, -1), axis=1)
    assert np.isclose(got, np.mean((norms - 1) ** 2), rtol=1e-5)


def test_diff_augment(L):
    x = tf.random.uniform([4, 32, 32, 3], -1, 1, seed=1)
    assert L.diff_augment(x, tf.constant([1, 2]), ()) is x
    a = L.diff_augment(x, tf.constant([1, 2]))
    assert a.shape == x.shape and not np.allclose(a, x)
    assert np.array_equal(a.numpy(), L.diff_augment(x, tf.constant([1, 2])).numpy())  # seeded
    assert not np.array_equal(a.numpy(), L.diff_augment(x, tf.constant([1, 3])).numpy())
    with tf.GradientTape() as tape:
        tape.watch(x)
        total = tf.reduce_sum(L.diff_augment(x, tf.constant([4, 5])))
    assert tape.gradient(total, x) is not None
    with pytest.raises(ValueError, match="policy may hold"):
        L.diff_augment(x, tf.constant([1, 2]), ("rotation",))


def test_colour_jitter_keeps_a_grey_image_grey(L):
    """Saturation and contrast leave a uniform grey image uniform; only the brightness moves it."""
    x = tf.fill([3, 8, 8, 3], 0.2)
    y = L.colour_jitter(x, tf.constant([0, 1])).numpy()
    assert np.allclose(y, y[:, :1, :1, :1], atol=1e-6)
    assert np.all(np.abs(y[:, 0, 0, 0] - 0.2) <= 0.5 + 1e-6)


@pytest.mark.parametrize("loss", ["dcgan", "wgan-gp", "hinge"])
def test_one_update_moves_both_players_and_is_repeatable(L, loss):
    def run():
        keras.utils.set_random_seed(4)
        recipe = dataclasses.replace(L.RECIPE, loss=loss)
        g = L.build_generator(32, recipe=recipe)
        d = L.build_discriminator(32, recipe=recipe)
        g_opt, d_opt = L.make_optimizers(recipe)
        before = [w.numpy().copy() for w in g.trainable_weights + d.trainable_weights]
        real = tf.random.uniform([4, 32, 32, 3], -1, 1, seed=5)
        labels = tf.constant([0, 1, 2, 3])
        out = L.gan_update(g, d, g_opt, d_opt, real, labels, recipe)
        after = [w.numpy() for w in g.trainable_weights + d.trainable_weights]
        return before, after, {k: float(v) for k, v in out.items()}

    before, after, out = run()
    n_g = len(L.build_generator(32).trainable_weights)
    assert any(not np.array_equal(b, a) for b, a in zip(before[:n_g], after[:n_g]))
    assert any(not np.array_equal(b, a) for b, a in zip(before[n_g:], after[n_g:]))
    assert (out["penalty"] > 0) == (loss == "wgan-gp")
    _, after2, out2 = run()
    assert out == out2 and all(np.array_equal(a, b) for a, b in zip(after, after2))


def test_emoji_batches(L):
    images = np.random.default_rng(0).integers(0, 256, (10, 32, 32, 3), dtype=np.uint8)
    x, y = next(iter(L.emoji_batches(images, np.arange(10) % 9, batch_size=4)))
    assert x.shape == (4, 32, 32, 3) and y.dtype == tf.int32
    assert float(tf.reduce_min(x)) >= -1 and float(tf.reduce_max(x)) <= 1


def test_shipped_colour_generator_loads_with_its_record(L):
    g = L.build_generator(64)
    record = pretrained.load_trained_model(g, "colour_generator")
    assert record["size"] == 64 and record["fid_samples"] == 282 and record["coverage"] <= 9
    assert record["sha256"] == pretrained.SHIPPED_SHA256["colour_generator"]
    with pytest.raises(ValueError):
        pretrained.load_trained_model(L.build_generator(32), "colour_generator")


def test_the_shipped_colour_record_states_the_schedule_its_command_ran():
    """Lesson 08 reads decay_from_s to compare the constant-rate and decaying phases of the curve; it must be what
    the record's own command asked for (tools/train_colour_generator.py: --decay-from is a fraction of --minutes)."""
    tool = load_script(TOOL)
    record = json.loads((ROOT / "data" / "colour_generator.json").read_text())
    args = tool.build_parser().parse_args(record["command"].split()[2:])  # after "python tools/..."
    minutes, fraction = args.minutes, args.decay_from
    assert record.get("decay_from_s") == (None if fraction is None else round(fraction * minutes * 60, 1))
    assert record["trained_s"] == pytest.approx(minutes * 60, abs=1)
    times = [c["time_s"] for c in record["curve"]]
    assert times == sorted(times) and times[-1] <= record["trained_s"]
    if fraction is not None:  # evaluations on both sides of the switch, so the lesson's comparison is defined
        assert times[0] <= record["decay_from_s"] < times[-1]
    chosen = [c for c in record["curve"] if c["step"] == record["steps"]]
    assert len(chosen) == 1 and chosen[0]["time_s"] == record["train_time_s"]
    assert chosen[0]["fid"] == min(c["fid"] for c in record["curve"])  # the best EMA weights, as "selection" says


def test_the_committed_loss_record_has_what_the_lesson_reads():
    record = json.loads(RECORD.read_text())
    assert set(record["arms"]) == {"dcgan", "wgan-gp", "hinge + SN", "hinge + SN, DiffAugment"}
    for arm in record["arms"].values():
        assert len(arm["runs"]) == len(record["seeds"]) >= 2
        for run in arm["runs"]:
            fids = [c["fid"] for c in run["curve"]]
            assert run["final_fid"] == fids[-1] and run["best_fid"] == min(fids)
            assert run["rise_after_best"] == pytest.approx(fids[-1] - min(fids), abs=1e-3)


def test_the_benchmark_runs_and_writes_its_record(tmp_path):
    import sys
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import colour_losses
    finally:
        sys.path.pop(0)
    out = tmp_path / "losses.json"
    record = colour_losses.main(["--seconds", "1", "--eval-every", "0.5", "--seeds", "3", "--arms", "hinge + SN",
                                 "--out", str(out)])
    assert json.loads(out.read_text()) == json.loads(json.dumps(record))
    run = record["arms"]["hinge + SN"]["runs"][0]
    assert run["seed"] == 3 and run["steps"] >= 1 and run["curve"][-1]["step"] == run["steps"]  # scored at its end
