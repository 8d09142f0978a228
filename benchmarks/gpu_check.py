#!/usr/bin/env python
"""`make gpu-check`: the course's GPU path, run once on a GPU, in at most 8 minutes, with every result as JSON.

No session has had a GPU so far, so mixed precision, XLA and loss scaling have only run on a CPU that simulates the
policy. On a machine with a GPU this script:

1. prints the device (TensorFlow's view and ``nvidia-smi``);
2. runs lessons 04, 05 and 07 in the smoke profile under the real GPU policy (nbval, as ``make test`` does);
3. runs the time-to-quality benchmark with ``--device gpu --gpu-variants`` and a short budget;
4. trains the TensorFlow tutorial's recipe for its own 50 epochs on the bundled data and scores its final FID;
5. writes ``benchmarks/figures/<gpu-name>/gpu_check.json`` (and the benchmark's own record beside it).

``--dry-run`` does the same plumbing on a CPU in seconds (``make test`` runs it): it prints the device, checks the
lesson files and the benchmark's command line, trains the tutorial recipe for a few steps instead of 50 epochs,
and writes the record where ``--out`` says, marked ``"dry_run": true``.

Usage::

    make gpu-check                                   # on a GPU machine
    make gpu-check GPU_CHECK_ARGS="--dry-run --out /tmp/gpu-check"
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parent.parent
for _p in (REPO, REPO / "benchmarks"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

SCHEMA = "gpu_check/1"
LESSONS = ("04_dcgan", "05_gan_engineering", "07_trends_and_challenges")
TOTAL_LIMIT_S = 480          # the whole check: 8 minutes on one GPU
LESSON_LIMIT_S = 150         # the three lessons together (smoke profile)
BENCH_BUDGET_S = 30          # seconds of training per recipe in the benchmark
TUTORIAL_EPOCHS = 50         # the tutorial's own EPOCHS
TEST_ENV = {"COURSE_PROFILE": "smoke", "COURSE_OFFLINE": "1", "TF_CPP_MIN_LOG_LEVEL": "3", "MPLBACKEND": "Agg",
            "PYTHONHASHSEED": "0"}


def slug(name: str) -> str:
    """A folder name for a device: 'NVIDIA H100 80GB HBM3' -> 'nvidia-h100-80gb-hbm3'."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "unknown-device"


def describe_device() -> dict[str, Any]:
    """TensorFlow's GPUs (with details) and nvidia-smi's one-line summary, if there is one."""
    import tensorflow as tf

    gpus = []
    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            details = tf.config.experimental.get_device_details(gpu)
        except Exception:  # noqa: BLE001 - details are best effort
            details = {}
        gpus.append({"name": details.get("device_name", gpu.name),
                     "compute_capability": list(details.get("compute_capability", ()) or ())})
    smi = None
    if shutil.which("nvidia-smi"):
        proc = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
                              capture_output=True, text=True, timeout=30)
        smi = proc.stdout.strip() or proc.stderr.strip()
    return {"gpus": gpus, "nvidia_smi": smi, "tensorflow": tf.__version__,
            "built_with_cuda": tf.test.is_built_with_cuda()}


def _run(cmd: list[str], env: dict[str, str], timeout: float) -> dict[str, Any]:
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=REPO, env={**os.environ, **env}, capture_output=True, text=True,
                              timeout=max(timeout, 1))
        rc, tail = proc.returncode, (proc.stdout + proc.stderr)[-3000:]
    except subprocess.TimeoutExpired as err:
        rc, tail = None, f"timed out after {timeout:.0f} s\n" + str((err.stdout or b"")[-2000:])
    return {"command": " ".join(cmd), "returncode": rc, "passed": rc == 0,
            "wall_s": round(time.monotonic() - start, 1), "output_tail": tail}


def run_lessons(dry_run: bool, timeout: float) -> dict[str, Any]:
    """Lessons 04, 05, 07 under nbval in the smoke profile; the GPU policy is the device's own (not forced)."""
    notebooks = [f"notebooks/{name}.ipynb" for name in LESSONS]
    missing = [nb for nb in notebooks if not (REPO / nb).is_file()]
    if missing:
        raise SystemExit(f"gpu-check: lesson notebooks missing: {missing}")
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *notebooks]
    if dry_run:
        return {"command": " ".join(cmd), "skipped": "dry run: the lessons run in make test already"}
    return _run(cmd, TEST_ENV, timeout)


def run_benchmark(dry_run: bool, out: Path, timeout: float) -> dict[str, Any]:
    """The time-to-quality benchmark with the GPU variants and a short budget, its record under ``out``."""
    import time_to_quality as ttq

    argv = ["--device", "gpu", "--gpu-variants", "--budget", str(BENCH_BUDGET_S), "--out", str(out)]
    ttq.parse_args(argv)  # the command line is valid (a dry run checks no more)
    cmd = [sys.executable, str(REPO / "benchmarks" / "time_to_quality.py"), *argv]
    if dry_run:
        return {"command": " ".join(cmd), "skipped": "dry run: command line checked only"}
    result = _run(cmd, {"TF_CPP_MIN_LOG_LEVEL": "2"}, timeout)
    record = out / "time_to_quality.json"
    if record.is_file():
        rec = json.loads(record.read_text())
        result["summary"] = {key: {k: r.get(k) for k in ("ms_per_step", "best_fid", "time_to_fid", "precision",
                                                          "jit_compile")} for key, r in rec["recipes"].items()}
    return result


def train_tutorial(epochs: int, max_steps: int | None, fid_samples: int) -> dict[str, Any]:
    """The TensorFlow tutorial's recipe for ``epochs`` epochs of the bundled data (batch 256), then its FID."""
    import numpy as np
    import tensorflow as tf
    from tutorial_dcgan import (
        TUTORIAL,
        build_tutorial_discriminator,
        build_tutorial_generator,
        make_tutorial_optimizers,
        make_tutorial_train_step,
    )

    from course_utils import data, device, evaluator

    device.setup(0, mixed_precision=False, xla=False)
    x = data.to_float_images(data.load_mnist(verbose=False).x_train)
    bs = TUTORIAL["batch_size"]
    g, d = build_tutorial_generator(), build_tutorial_discriminator()
    g_opt, d_opt = make_tutorial_optimizers()
    step = make_tutorial_train_step(g, d, g_opt, d_opt)
    rng = np.random.default_rng(0)
    steps_per_epoch = len(x) // bs
    steps, start = 0, time.perf_counter()
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for i in range(steps_per_epoch):
            if max_steps is not None and steps >= max_steps:
                break
            out = step(tf.constant(x[order[i * bs:(i + 1) * bs]]))
            steps += 1
    float(out["d_loss"])
    train_s = time.perf_counter() - start
    z = np.random.default_rng(1).standard_normal((fid_samples, TUTORIAL["noise_dim"])).astype(np.float32)
    images = np.concatenate([g(z[i:i + 500], training=False).numpy() for i in range(0, fid_samples, 500)])
    judge = evaluator.load_evaluator()
    return {"epochs": epochs if max_steps is None else round(steps / steps_per_epoch, 3), "steps": steps,
            "images": len(x), "batch_size": bs, "train_s": round(train_s, 2),
            "ms_per_step": round(1000 * train_s / max(steps, 1), 2), "fid_samples": fid_samples,
            "final_fid": round(float(judge.fid(images)), 3),
            "coverage": int(judge.class_coverage(images).n_covered)}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="CPU plumbing check in seconds (make test)")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for the records (default benchmarks/figures/<gpu-name>/)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    from course_utils import device

    device.quiet_tensorflow_startup()
    dev = describe_device()
    print(f"Device: {dev['nvidia_smi'] or ', '.join(g['name'] for g in dev['gpus']) or 'no GPU'} "
          f"(TensorFlow {dev['tensorflow']}, built with CUDA: {dev['built_with_cuda']})", flush=True)
    if not dev["gpus"] and not args.dry_run:
        raise SystemExit("gpu-check: TensorFlow sees no GPU here; use --dry-run on a CPU")
    name = dev["gpus"][0]["name"] if dev["gpus"] else "cpu-dry-run"
    out = args.out or REPO / "benchmarks" / "figures" / slug(name)
    out.mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = {"schema": SCHEMA, "dry_run": args.dry_run,
                              "created_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                              "device": dev, "limits_s": {"total": TOTAL_LIMIT_S, "lessons": LESSON_LIMIT_S}}

    def left() -> float:
        return TOTAL_LIMIT_S - (time.monotonic() - started)

    record["lessons"] = run_lessons(args.dry_run, min(LESSON_LIMIT_S, left()))
    print(f"Lessons {', '.join(LESSONS)}: {record['lessons'].get('skipped') or record['lessons']['passed']}",
          flush=True)
    # The benchmark's three recipes and two GPU variants at BENCH_BUDGET_S each, evaluations included.
    record["benchmark"] = run_benchmark(args.dry_run, out, min(8 * BENCH_BUDGET_S, left() - 60))
    print(f"Benchmark: {record['benchmark'].get('skipped') or record['benchmark']['passed']}", flush=True)
    record["tutorial_50_epochs"] = train_tutorial(TUTORIAL_EPOCHS, 3 if args.dry_run else None,
                                                  500 if args.dry_run else 2000)
    t = record["tutorial_50_epochs"]
    print(f"Tutorial recipe, {t['epochs']} epochs ({t['steps']} steps of {t['batch_size']}): {t['train_s']:.1f} s, "
          f"final FID {t['final_fid']:.2f}, {t['coverage']}/10 classes", flush=True)
    record["wall_s"] = round(time.monotonic() - started, 1)
    record["within_limit"] = record["wall_s"] <= TOTAL_LIMIT_S
    from course_utils import atomic

    atomic.write_text(out / "gpu_check.json", json.dumps(record, indent=1) + "\n")
    print(f"Wrote {out / 'gpu_check.json'} ({record['wall_s']:.0f} s)")
    failed = [k for k in ("lessons", "benchmark") if record[k].get("passed") is False]
    if failed:
        raise SystemExit(f"gpu-check: {', '.join(failed)} failed (see {out / 'gpu_check.json'})")
    return record


if __name__ == "__main__":
    main()
