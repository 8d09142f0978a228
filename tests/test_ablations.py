"""benchmarks/ablations.py: the record lesson 04 prints its ablation table from (merging and summarizing, no training)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("ablations", ROOT / "benchmarks" / "ablations.py")
ablations = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ablations)


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


def test_every_departure_of_the_recipe_has_an_arm():
    text = (ROOT / "notebooks" / "04_dcgan.py").read_text()
    assert '"r1_gamma"' in text and "no R1" in ablations.ARMS
    assert {"two D convolutions", "no label smoothing", "2-pixel shifts", "simultaneous"} <= set(ablations.ARMS)
