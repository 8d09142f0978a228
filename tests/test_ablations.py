"""benchmarks/ablations.py: the record lesson 04 prints its ablation table from (merging and summarizing, no training)."""

from __future__ import annotations

import ast
import importlib.util
import json
from pathlib import Path

import jupytext
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


def _run_arm_tree() -> ast.FunctionDef:
    tree = ast.parse((ROOT / "benchmarks" / "ablations.py").read_text(encoding="utf-8"))
    return next(node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "run_arm")


def _arms_run_arm_handles() -> set[str]:
    """The arm names run_arm tests for (``arm == "..."``): each is a change it makes to the recipe."""
    return {node.comparators[0].value for node in ast.walk(_run_arm_tree())
            if isinstance(node, ast.Compare) and isinstance(node.left, ast.Name) and node.left.id == "arm"
            and isinstance(node.ops[0], ast.Eq) and isinstance(node.comparators[0], ast.Constant)}


def _lesson_parameters() -> dict[str, set[str]]:
    """Parameters of every function in lesson 04's ``export`` cells (what load_lesson_code gives the script)."""
    cells = [c.source for c in jupytext.read(ROOT / "notebooks" / "04_dcgan.py").cells
             if c.cell_type == "code" and "export" in c.metadata.get("tags", [])]
    functions = [n for n in ast.walk(ast.parse("\n\n".join(cells))) if isinstance(n, ast.FunctionDef)]
    return {f.name: {a.arg for a in f.args.args + f.args.kwonlyargs} for f in functions}


def test_every_arm_of_the_table_changes_the_recipe_and_no_other_arm_exists():
    """The arm table (ARMS, EXTRA_ARMS) and run_arm's changes name the same arms; 'recipe' is the one unchanged."""
    table = set(ablations.ARMS + ablations.EXTRA_ARMS)
    assert len(table) == len(ablations.ARMS + ablations.EXTRA_ARMS) and "recipe" in ablations.ARMS
    assert _arms_run_arm_handles() - {"recipe"} == table - {"recipe"}  # ("recipe" is also scored without EMA)


def test_each_arm_changes_an_option_the_lesson_really_has():
    """``L["f"] = functools.partial(L.f, option=...)``: lesson 04 exports f, and f takes that option."""
    lesson = _lesson_parameters()
    patches = [node.value for node in ast.walk(_run_arm_tree())
               if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)
               and ast.unparse(node.value.func) == "functools.partial"]
    assert patches, "run_arm changes the recipe with functools.partial"
    for call in patches:
        name = ast.unparse(call.args[0]).removeprefix("L.")
        assert name in lesson, f"lesson 04 exports no {name}()"
        assert {k.arg for k in call.keywords} <= lesson[name], f"{name}() has no option {[k.arg for k in call.keywords]}"


def test_the_step_options_an_arm_sets_are_options_of_the_lessons_make_train_step():
    """``options["r1_gamma"] = 0.0``: run_arm builds its step with lesson 04's make_train_step(**options), which
    passes them on to gan_update; an option it does not take would fail only when that arm runs."""
    set_options = {node.targets[0].slice.value for node in ast.walk(_run_arm_tree())
                   if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Subscript)
                   and ast.unparse(node.targets[0].value) == "options"}
    assert {"r1_gamma", "update"} <= set_options
    assert set_options <= _lesson_parameters()["make_train_step"], "lesson 04's make_train_step lacks an option"


def test_the_committed_record_measured_every_arm_of_the_table():
    """Lesson 04 prints its ablation table from this record: one row per arm of ARMS, then the recipe without EMA."""
    record = json.loads((ROOT / "benchmarks" / "figures" / "ablations.json").read_text(encoding="utf-8"))
    assert [row["arm"] for row in record["rows"]] == [*ablations.ARMS, "recipe, no EMA"]
    assert record["rows"] == json.loads(json.dumps(ablations.summarize(record["runs"])))  # rows are the runs' summary
