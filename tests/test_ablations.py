"""benchmarks/ablations.py: the record lesson 04 prints its ablation table from (merging and summarizing, no training)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from tests.scripts import load_script

ROOT = Path(__file__).resolve().parent.parent
ablations = load_script(ROOT / "benchmarks" / "ablations.py")


def _run(arm, seed, fids, ms=30.0):
    curve = [{"step": 500 * (i + 1), "fid_ema": f, "fid_raw": f + 1, "coverage_ema": 10, "coverage_raw": 9}
             for i, f in enumerate(fids)]
    return {"arm": arm, "seed": seed, "steps": 500 * len(fids), "ms_per_step": ms, "curve": curve}


def _record(runs):
    return {"what": "test", "commands": ["python benchmarks/ablations.py --seeds x"], "machine": {"cpu": "test"},
            "training_digits": 4000, "rows": ablations.summarize(runs), "runs": runs}


def test_summarize_averages_seeds_per_step_and_takes_each_seeds_best():
    rows = ablations.summarize([_run("recipe", 0, [20.0, 10.0, 12.0]), _run("recipe", 1, [30.0, 14.0, 8.0], 40.0)])
    ema, raw = rows[0], rows[1]
    assert ema["arm"] == "recipe" and raw["arm"] == "recipe, no EMA"
    assert ema["fid_at_step"] == {500: 25.0, 1000: 12.0, 1500: 10.0}
    assert ema["best_fid"] == pytest.approx((10.0 + 8.0) / 2) and ema["best_fid_per_seed"] == [10.0, 8.0]
    assert raw["best_fid"] == pytest.approx((11.0 + 9.0) / 2)
    assert ema["ms_per_step"] == 35.0


def test_merge_combines_seeds_run_side_by_side(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(_record([_run("recipe", 0, [20.0, 10.0]), _run("no R1", 0, [22.0, 15.0])])))
    b.write_text(json.dumps(_record([_run("recipe", 1, [18.0, 12.0]), _run("no R1", 1, [24.0, 17.0])])))
    out = tmp_path / "m.json"
    ablations.main(["--merge", str(a), str(b), "--out", str(out)])
    merged = json.loads(out.read_text())
    assert len(merged["runs"]) == 4
    by_arm = {r["arm"]: r for r in merged["rows"]}
    assert by_arm["recipe"]["seeds"] == [0, 1] and by_arm["recipe"]["fid_at_step"]["1000"] == 11.0
    assert by_arm["no R1"]["fid_at_step"]["1000"] == 16.0
    assert merged["commands"][-1].startswith("python benchmarks/ablations.py --merge")


def test_merge_refuses_a_seed_twice_and_other_data(tmp_path):
    a = tmp_path / "a.json"
    a.write_text(json.dumps(_record([_run("recipe", 0, [20.0])])))
    with pytest.raises(ValueError, match="repeat"):
        ablations.main(["--merge", str(a), str(a), "--out", str(tmp_path / "m.json")])
    other = _record([_run("recipe", 1, [20.0])])
    other["training_digits"] = 60000
    b = tmp_path / "b.json"
    b.write_text(json.dumps(other))
    with pytest.raises(ValueError, match="different data"):
        ablations.main(["--merge", str(a), str(b), "--out", str(tmp_path / "m.json")])
    assert not (tmp_path / "m.json").exists()


@pytest.fixture(scope="module")
def lesson04():
    from course_utils import lessons

    return lessons.load_lesson_code("04_dcgan")


def test_the_arm_table_and_the_recipe_changes_name_the_same_arms():
    """Every arm of the table (ARMS, EXTRA_ARMS) has its recipe change, and no change exists for an arm not run."""
    table = ablations.ARMS + ablations.EXTRA_ARMS
    assert len(set(table)) == len(table) and "recipe" in ablations.ARMS
    assert set(ablations.RECIPE_CHANGES) == set(table)
    with pytest.raises(ValueError, match="expected an arm of"):
        ablations.arm_recipe(None, "no batch norm")


def test_each_arm_is_a_new_recipe_value_differing_in_its_own_settings_only(lesson04):
    """An arm is dataclasses.replace(RECIPE, ...): the lesson's RECIPE is untouched, the arm differs from it in
    exactly the settings the arm names (and 'recipe' and 'two D convolutions', whose change is the network, in none)."""
    before = dataclasses.asdict(lesson04.RECIPE)
    for arm, changes in ablations.RECIPE_CHANGES.items():
        recipe = ablations.arm_recipe(lesson04, arm)
        assert isinstance(recipe, lesson04.Recipe)
        after = dataclasses.asdict(recipe)
        differs = {k for k in after if after[k] != before[k]}
        assert differs == set(changes), f"{arm}: changes {sorted(differs)}, names {sorted(changes)}"
        assert (arm in ("recipe", "two D convolutions")) == (not changes)
    assert dataclasses.asdict(lesson04.RECIPE) == before


def test_an_arms_recipe_reaches_the_step_it_changes(lesson04):
    """The settings the arms change are read by the functions run_arm calls with the arm's recipe: a label-smoothing
    or R1 change moves the discriminator's loss or penalty (checked on one batch, no training)."""
    import numpy as np
    import tensorflow as tf

    real = tf.constant(np.random.default_rng(0).uniform(-1, 1, (4, 28, 28, 1)).astype("float32"))
    d = lesson04.build_discriminator()
    fake = tf.zeros_like(real)
    seed = tf.constant([0, 0])
    base = lesson04.discriminator_terms(d, real, fake, seed, lesson04.RECIPE)
    for arm in ("no label smoothing", "no R1", "2-pixel shifts"):
        terms = lesson04.discriminator_terms(d, real, fake, seed, ablations.arm_recipe(lesson04, arm))
        moved = [float(a - b) != 0.0 for a, b in ((terms[2], base[2]), (terms[3], base[3]))]
        assert any(moved), f"{arm}: the discriminator's loss and penalty did not change"
    two = ablations.two_conv_discriminator(lesson04.RECIPE)
    assert len([layer for layer in two.layers if "conv" in layer.name]) == 2


def test_the_committed_record_measured_every_arm_of_the_table():
    """Lesson 04 prints its ablation table from this record: one row per arm of ARMS, then the recipe without EMA."""
    record = json.loads((ROOT / "benchmarks" / "figures" / "ablations.json").read_text(encoding="utf-8"))
    assert [row["arm"] for row in record["rows"]] == [*ablations.ARMS, "recipe, no EMA"]
    assert record["rows"] == json.loads(json.dumps(ablations.summarize(record["runs"])))  # rows are the runs' summary
