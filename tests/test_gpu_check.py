"""`make gpu-check` (benchmarks/gpu_check.py): its CPU dry run, so the script is ready when a GPU is lent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))
import gpu_check  # noqa: E402


def test_device_names_become_folder_names():
    assert gpu_check.slug("NVIDIA H100 80GB HBM3") == "nvidia-h100-80gb-hbm3"
    assert gpu_check.slug("  ") == "unknown-device"


def test_the_check_fits_its_eight_minutes_by_construction():
    assert gpu_check.TOTAL_LIMIT_S <= 480
    assert gpu_check.LESSON_LIMIT_S + 8 * gpu_check.BENCH_BUDGET_S < gpu_check.TOTAL_LIMIT_S
    assert gpu_check.LESSONS == ("04_dcgan", "05_gan_engineering", "07_trends_and_challenges")


def test_the_makefile_runs_it():
    make = (REPO / "Makefile").read_text()
    assert "gpu-check:" in make and "benchmarks/gpu_check.py $(GPU_CHECK_ARGS)" in make


@pytest.mark.slow
def test_dry_run_writes_a_complete_record(tmp_path):
    env = dict(os.environ, COURSE_OFFLINE="1", TF_CPP_MIN_LOG_LEVEL="3", MPLBACKEND="Agg", CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu_check.py"), "--dry-run", "--out",
                           str(tmp_path)], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "Device: no GPU" in proc.stdout
    rec = json.loads((tmp_path / "gpu_check.json").read_text())
    assert rec["schema"] == gpu_check.SCHEMA and rec["dry_run"] is True and rec["within_limit"]
    assert all(f"notebooks/{n}.ipynb" in rec["lessons"]["command"] for n in gpu_check.LESSONS)
    assert "--device gpu --gpu-variants" in rec["benchmark"]["command"]
    t = rec["tutorial_50_epochs"]
    assert t["steps"] == 3 and t["batch_size"] == 256 and t["final_fid"] > 0 and 0 <= t["coverage"] <= 10


def test_without_a_gpu_the_real_run_refuses(tmp_path):
    env = dict(os.environ, COURSE_OFFLINE="1", TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu_check.py"), "--out", str(tmp_path)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0 and "sees no GPU" in proc.stderr
    assert not (tmp_path / "gpu_check.json").exists()


@pytest.mark.slow
def test_step_flops_quick_mode_counts_and_checks_by_hand(tmp_path):
    env = dict(os.environ, COURSE_OFFLINE="1", TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "step_flops.py"), "--quick", "--out",
                           str(tmp_path)], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    rec = json.loads((tmp_path / "step_flops.json").read_text())
    assert rec["hand_check"]["by_hand"] == rec["hand_check"]["counted"] > 0
    assert rec["flops_per_step"]["nested_calls"] == [], "ops inside nested calls would go uncounted"
    assert rec["flops_per_step"]["conv"] > 0.9 * rec["flops_per_step"]["total"]
    assert 0 < rec["efficiency"] < 1 and rec["peak_gflops"] > 0
