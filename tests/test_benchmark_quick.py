"""The time-to-quality benchmark (benchmarks/time_to_quality.py): its arithmetic, and its quick mode end to end.

The end-to-end test runs ``--quick`` in a subprocess (a few seconds of training per recipe) and checks the JSON
record and the figures it writes, so the script cannot rot. It asserts nothing about speed: CI machines differ.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.scripts import load_script

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "benchmarks" / "time_to_quality.py"
sys.path.insert(0, str(REPO / "benchmarks"))


ttq = load_script(SCRIPT)


def _curve(*points):
    return [{"time_s": t, "step": i, "fid": f} for i, (t, f) in enumerate(points)]


def test_time_to_reach_first_point_and_interpolation():
    curve = _curve((0.0, 300.0), (5.0, 100.0), (10.0, 20.0), (15.0, 8.0))
    reach = ttq.time_to_reach(curve, 10.0)
    assert reach["first_point_s"] == 15.0
    assert math.isclose(reach["interpolated_s"], 10.0 + (20.0 - 10.0) / (20.0 - 8.0) * 5.0, abs_tol=1e-3)
    assert ttq.time_to_reach(curve, 20.0)["interpolated_s"] == 10.0  # exactly on an evaluation
    assert ttq.time_to_reach(curve, 1.0) == {"first_point_s": None, "interpolated_s": None, "step": None}
    # A NaN evaluation (diverged samples) never counts as reaching the target.
    assert ttq.time_to_reach(_curve((0.0, 50.0), (1.0, float("nan")), (2.0, 5.0)), 10.0)["first_point_s"] == 2.0


def test_equal_quality_is_the_ratio_of_times_to_the_same_threshold():
    course = {"curve": _curve((0.0, 400.0), (4.0, 80.0), (6.0, 30.0), (10.0, 8.0)), "best_fid": 8.0}
    peer = {"curve": _curve((0.0, 400.0), (20.0, 50.0), (40.0, 12.0), (60.0, 9.0)), "best_fid": 9.0}
    eq = ttq.equal_quality(course, peer, 10.0, 60.0)
    assert eq["course_s"] == 10.0 and eq["peer_s"] == 60.0 and eq["speedup"] == 6.0 and eq["note"] is None
    course_x = 6.0 + (30.0 - 10.0) / (30.0 - 8.0) * 4.0
    peer_x = 40.0 + (12.0 - 10.0) / (12.0 - 9.0) * 20.0
    assert math.isclose(eq["speedup_interpolated"], round(peer_x, 4) / round(course_x, 4), abs_tol=0.01)
    # The peer never gets to FID <= 5: no ratio, and the note says so with its best FID.
    eq5 = ttq.equal_quality(course, peer, 5.0, 60.0)
    assert eq5["speedup"] is None and eq5["speedup_interpolated"] is None
    assert "course recipe not within 60 s (best FID 8.00)" in eq5["note"]
    assert "peer recipe not within 60 s (best FID 9.00)" in eq5["note"]
    # The ratio is the peer's time over the course's, not the other way round.
    assert ttq.equal_quality(peer, course, 10.0, 60.0)["speedup"] == round(10.0 / 60.0, 2)
    untrained = {"curve": _curve((0.0, 4.0), (5.0, 3.0)), "best_fid": 3.0}
    assert "already at or below it untrained" in ttq.equal_quality(untrained, peer, 10.0, 60.0)["note"]


def test_a_table_cell_that_misses_the_threshold_gives_the_best_fid():
    rec = {"time_to_fid": {"10": {"first_point_s": None}, "5": {"first_point_s": 42.4}}, "best_fid": 12.284}
    assert ttq._reach_cell(rec, 10, 1800.0) == "not within 1800 s (best 12.3)"
    assert ttq._reach_cell(rec, 5, 1800.0) == "42 s"


def test_the_canonical_recipe_is_the_papers():
    import canonical_dcgan as c

    assert (c.CANONICAL["batch_size"], c.CANONICAL["noise_dim"], c.CANONICAL["learning_rate"], c.CANONICAL["beta_1"],
            c.CANONICAL["leaky_relu_negative_slope"]) == (128, 100, 2e-4, 0.5, 0.2)
    g, d = c.build_canonical_generator(), c.build_canonical_discriminator()
    # Counted by hand: G = 100*256*7*7 + 4*256 + 256*128*4*4 + 4*128 + 128*1*4*4; D = 1*64*16 + 64*128*16 + 4*128
    # + 128*7*7 (no biases anywhere; batch norm's 4 numbers per channel).
    assert g.count_params() == 100 * 256 * 49 + 4 * 256 + 256 * 128 * 16 + 4 * 128 + 128 * 16 == c.CANONICAL_G_PARAMS
    assert d.count_params() == 64 * 16 + 64 * 128 * 16 + 4 * 128 + 128 * 49 == c.CANONICAL_D_PARAMS
    kinds = [type(layer).__name__ for layer in d.layers]
    assert kinds[:2] == ["Conv2D", "LeakyReLU"], "no batch norm on D's input layer"
    assert "BatchNormalization" in kinds[2:]
    assert all(getattr(layer, "kernel_size", (4, 4)) in ((4, 4), (7, 7)) for layer in g.layers + d.layers)
    opt, _ = c.make_canonical_optimizers()
    assert math.isclose(float(opt.learning_rate), 2e-4, rel_tol=1e-6) and math.isclose(float(opt.beta_1), 0.5)


def test_eval_schedule_starts_at_zero_is_dense_early_and_ends_at_the_budget():
    full = ttq.eval_schedule(300.0, quick=False)
    assert full[0] == 0.0 and full[-1] == 300.0 and full == sorted(set(full))
    assert [t for t in full if t <= 10] == [0, 1, 2, 3, 4, 5, 6, 8, 10]
    assert max(b - a for a, b in zip(full, full[1:])) <= 15
    assert ttq.eval_schedule(8.0, quick=True) == [0.0, 2.0, 4.0, 8.0]


def test_long_mode_pits_the_course_against_the_canonical_recipe_for_longer():
    args = ttq.parse_args(["--long"])
    assert args.budget == ttq.LONG_BUDGET_S >= 900 and args.recipes == ("canonical", "course")
    assert args.out.name == "long"
    assert ttq.parse_args([]).recipes == ("tutorial", "canonical", "course")
    assert ttq.parse_args(["--recipes", "course,tutorial"]).recipes == ("tutorial", "course")
    # The simultaneous-update arm runs only when named, against the course (it is a peer, not the headline).
    assert ttq.parse_args(["--recipes", "course,simultaneous"]).recipes == ("course", "simultaneous")
    long = ttq.eval_schedule(1800.0, quick=False)
    assert long[-1] == 1800.0 and max(b - a for a, b in zip(long, long[1:])) <= 30 and len(long) < 100


@pytest.mark.parametrize("argv", [["--recipes", "canonical,tutorial"], ["--recipes", "course"],
                                  ["--recipes", "course,gan"], ["--quick", "--long"],
                                  ["--recipes", "simultaneous"], ["--recipes", "simultaneous,canonical"]])
def test_a_run_without_the_course_and_a_peer_is_refused(argv, capsys):
    with pytest.raises(SystemExit) as err:
        ttq.parse_args(argv)
    assert err.value.code == 2


@pytest.mark.parametrize("argv", [["--budget", "0"], ["--budget", "nan"], ["--fid-samples", "10"],
                                  ["--device", "tpu"], ["--seed", "-1"], ["--threads", "0"], ["--threads", "999"]])
def test_bad_command_line_is_refused(argv, capsys):
    with pytest.raises(SystemExit) as err:
        ttq.parse_args(argv)
    assert err.value.code == 2
    assert "error" in capsys.readouterr().err


@pytest.mark.slow
def test_quick_mode_writes_a_complete_record(tmp_path):
    out = tmp_path / "bench"
    env = dict(os.environ, COURSE_OFFLINE="1", TF_CPP_MIN_LOG_LEVEL="2", MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--device", "cpu", "--threads", "1", "--out", str(out)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"exit {proc.returncode}\n--- stdout\n{proc.stdout[-3000:]}\n--- stderr\n" \
                                 f"{proc.stderr[-3000:]}"

    def no_nan(token):
        raise AssertionError(f"JSON must be strict, found {token}")

    record = json.loads((out / "time_to_quality.json").read_text(), parse_constant=no_nan)
    assert record["schema"] == ttq.SCHEMA and record["mode"] == "quick"
    assert record["budget_s"] == ttq.QUICK_BUDGET_S and record["fid_samples"] == ttq.QUICK_FID_SAMPLES
    for key in ("cpu_model", "cpu_cores", "ram_gb", "gpus", "load_avg_start", "load_avg_end"):
        assert key in record["machine"], key
    assert record["machine"]["device"] == "cpu" and record["machine"]["gpus_used"] == []
    m = record["machine"]
    for key in ("cpu_flags", "avx2", "avx512", "amx", "onednn", "onednn_reason", "tf_default_onednn", "threads"):
        assert key in m, key
    assert m["cpu_cores_usable"] == 1 and m["threads"]["intra_op"] == 1, "--threads 1 is the Binder case"
    assert isinstance(m["onednn"], bool) and m["avx512"] == ("avx512f" in m["cpu_flags"])
    assert "Configuration" not in record and "1 of" in ttq.configuration_label(record)
    table = ttq.markdown_table([out / "time_to_quality.json"])
    assert table.count("\n") == 2 and ttq.configuration_label(record) in table
    assert "TensorFlow" in record["environment"] and "Keras" in record["environment"]
    assert record["peak_rss_mb"] > 0

    recipes = record["recipes"]
    assert {"tutorial", "canonical", "course"} <= set(recipes)
    assert recipes["canonical"]["params"] == {"generator": 1_782_272, "discriminator": 138_880}
    assert recipes["canonical"]["batch_size"] == 128 and recipes["canonical"]["noise_dim"] == 100
    assert recipes["tutorial"]["params"] == {"generator": 2_330_944, "discriminator": 212_865}
    assert recipes["tutorial"]["batch_size"] == 256 and recipes["tutorial"]["noise_dim"] == 100
    for key, rec in recipes.items():
        assert rec["params"]["generator"] > 0 and rec["params"]["discriminator"] > 0, key
        assert rec["steps"] > 0 and rec["ms_per_step"] > 0 and rec["images_per_s"] > 0, key
        assert rec["compile_s"] >= 0, key
        assert rec["train_time_s"] >= record["budget_s"] or rec["diverged"], key
        curve = rec["curve"]
        assert len(curve) >= 2 and curve[0]["time_s"] == 0 and curve[0]["step"] == 0, key
        times, steps = [p["time_s"] for p in curve], [p["step"] for p in curve]
        assert all(a < b for a, b in zip(times, times[1:])), f"{key}: times not increasing: {times}"
        assert all(a < b for a, b in zip(steps, steps[1:])), f"{key}: steps not increasing: {steps}"
        assert steps[-1] == rec["steps"]
        for p in curve:
            assert isinstance(p["fid"], float) and math.isfinite(p["fid"]) and p["fid"] >= -1e-6, (key, p)
            assert 0 <= p["coverage"] <= 10, (key, p)
        assert rec["best_fid"] == min(p["fid"] for p in curve)

    assert "speedup_to_quality" not in record, "no ratio against the tutorial's noise"
    for peer in ("canonical", "tutorial"):
        for target in ("10", "5"):
            eq = record["equal_quality"]["course"][peer][target]
            assert (eq["speedup"] is None) == (eq["note"] is not None), eq
            for key in ("course_s", "peer_s", "course_interpolated_s", "peer_interpolated_s", "peer_best_fid"):
                assert key in eq, key
    for rec in recipes.values():
        assert set(rec["time_to_fid"]) == {"10", "5"}
    assert set(record["course_time_to_fid_10"]) == {"first_point_s", "interpolated_s", "step"}

    for name in ("plot", "samples"):
        path = Path(record["files"][name])
        assert path.parent == out and path.suffix == ".png", path
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5_000, path
