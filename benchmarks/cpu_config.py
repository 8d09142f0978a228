#!/usr/bin/env python
"""Which CPU configuration is fastest for the course's models: oneDNN on or off, and how many threads.

``course_utils.device.configure_cpu`` turns oneDNN on for every x86-64 CPU and sizes TensorFlow's thread pools
to the CPUs the process may use. This script is the measurement behind that choice, for the machine it runs on:
each configuration runs in a fresh process (the settings are read when TensorFlow is imported), trains lesson
04's recipe for a fixed number of steps after a warm-up, and times the steps; it also times lesson 03's evaluator
on 2,000 images and one forward pass of lesson 02's dilated convolution. It writes a JSON record:

    python benchmarks/cpu_config.py                      # -> benchmarks/figures/cpu_config.json
    python benchmarks/cpu_config.py --markdown           # the table, from the committed record
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "benchmarks" / "figures" / "cpu_config.json"

# (label, environment for the child process, CPUs it may use; None = all of this process's)
CONFIGS = [
    ("oneDNN on, threads = CPUs, 2 inter-op (the course's choice)",
     {"TF_ENABLE_ONEDNN_OPTS": "1"}, None),
    ("oneDNN off, threads = CPUs, 2 inter-op (TensorFlow's default on AVX2-only CPUs)",
     {"TF_ENABLE_ONEDNN_OPTS": "0"}, None),
    ("oneDNN on, 1 inter-op thread", {"TF_ENABLE_ONEDNN_OPTS": "1", "TF_NUM_INTEROP_THREADS": "1"}, None),
    ("oneDNN on, threads = all visible cores (TensorFlow's own sizing)",
     {"TF_ENABLE_ONEDNN_OPTS": "1", "TF_NUM_INTRAOP_THREADS": str(os.cpu_count()),
      "TF_NUM_INTEROP_THREADS": str(os.cpu_count())}, None),
    ("1 CPU (Binder), oneDNN on", {"TF_ENABLE_ONEDNN_OPTS": "1"}, 1),
    ("1 CPU (Binder), oneDNN off", {"TF_ENABLE_ONEDNN_OPTS": "0"}, 1),
]

CHILD = r"""
import json, os, sys, time
sys.path.insert(0, sys.argv[1])
cpus = int(sys.argv[2])
if cpus:
    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:cpus])
from course_utils import device
tf = device.quiet_tensorflow_startup()
import numpy as np
from course_utils import data, evaluator, lessons
device.setup(0, training=True)
L = lessons.load_lesson_code("04_dcgan")
x = data.to_float_images(data.load_bundled_mnist().x_train)
g, d = L.build_generator(L.RECIPE), L.build_discriminator(L.RECIPE)
go, do = L.make_optimizers(L.RECIPE)
step = L.make_train_step(g, d, go, do, L.RECIPE, ema=L.make_ema(g))
bs = L.RECIPE.batch_size
batch = tf.constant(x[:bs])
for _ in range(int(sys.argv[4])):
    float(step(batch)["d_loss"])
rounds = []
for _ in range(3):
    t = time.perf_counter()
    for _ in range(int(sys.argv[3])):
        out = step(batch)
    float(out["d_loss"])
    rounds.append(1000 * (time.perf_counter() - t) / int(sys.argv[3]))
ev = evaluator.load_evaluator()
images = x[:2000]
ev.fid(images)
t = time.perf_counter(); ev.fid(images); fid_s = time.perf_counter() - t
xd = tf.constant(np.random.default_rng(0).standard_normal((8, 64, 64, 16)).astype("float32"))
wd = tf.constant(np.random.default_rng(1).standard_normal((3, 3, 16, 16)).astype("float32"))
tf.nn.conv2d(xd, wd, 1, "SAME", dilations=2)
t = time.perf_counter()
for _ in range(20):
    tf.nn.conv2d(xd, wd, 1, "SAME", dilations=2).numpy()
conv_ms = 1000 * (time.perf_counter() - t) / 20
cfg = device.cpu_config()
print("RESULT " + json.dumps({"step_ms_rounds": rounds, "evaluator_fid_2000_s": fid_s, "dilated_conv_ms": conv_ms,
      "onednn": device.onednn_active(), "usable_cpus": cfg.usable_cpus,
      "intra": tf.config.threading.get_intra_op_parallelism_threads(),
      "inter": tf.config.threading.get_inter_op_parallelism_threads()}))
"""


def run_config(label: str, env: dict, cpus: int | None, steps: int, warmup: int) -> dict:
    child_env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_ENABLE_ONEDNN", "TF_NUM_"))}
    child_env.update(env, TF_CPP_MIN_LOG_LEVEL="2", COURSE_OFFLINE="1")
    proc = subprocess.run([sys.executable, "-c", CHILD, str(ROOT), str(cpus or 0), str(steps), str(warmup)],
                          env=child_env, capture_output=True, text=True, timeout=900)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"{label}: child failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    result = json.loads(line[len("RESULT "):])
    result["step_ms"] = round(statistics.median(result["step_ms_rounds"]), 2)
    return {"label": label, "env": env, "cpus": cpus, **result}


def markdown(record: dict) -> str:
    """The table of a record, fastest configuration per CPU count in bold."""
    m = record["machine"]
    lines = [f"{m['cpu_model']} ({', '.join(m['cpu_flags'])}), {m['usable_cpus']} CPUs, TensorFlow "
             f"{m['tensorflow']}; lesson 04's train step (batch {record['batch_size']}), median of 3 rounds of "
             f"{record['steps']} steps; {record['created_utc'][:10]}:", "",
             "| configuration | oneDNN in use | threads (intra, inter) | ms per train step | evaluator FID, 2,000 images | "
             "dilated conv2d forward |", "|---|---|---|---|---|---|"]
    for r in record["configs"]:
        lines.append(f"| {r['label']} | {'yes' if r['onednn'] else 'no'} | {r['intra']}, {r['inter']} | "
                     f"{r['step_ms']:.1f} | {r['evaluator_fid_2000_s']:.2f} s | {r['dilated_conv_ms']:.1f} ms |")
    return "\n".join(lines)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100, help="timed steps per round (3 rounds)")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--markdown", action="store_true", help="print the table of the committed record and exit")
    args = parser.parse_args(argv)
    if args.markdown:
        print(markdown(json.loads(args.out.read_text())))
        return {}
    sys.path.insert(0, str(ROOT))
    from course_utils import device

    cpu = device.cpu_config()
    results = []
    for label, env, cpus in CONFIGS:
        results.append(run_config(label, env, cpus, args.steps, args.warmup))
        print(f"{results[-1]['step_ms']:8.1f} ms/step  {label}", flush=True)
    import tensorflow as tf

    from course_utils import atomic, lessons

    record = {
        "schema": "cpu_config/1",
        "created_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"cpu_model": cpu.model, "cpu_flags": list(cpu.flags), "usable_cpus": cpu.usable_cpus,
                    "visible_cpus": os.cpu_count(), "tf_default_onednn": cpu.tf_default_onednn,
                    "tensorflow": tf.__version__, "load_avg": [round(v, 2) for v in os.getloadavg()]},
        "batch_size": lessons.load_lesson_code("04_dcgan").RECIPE.batch_size,
        "steps": args.steps, "configs": results,
    }
    atomic.write_text(args.out, json.dumps(record, indent=1) + "\n")
    print(markdown(record))
    return record


if __name__ == "__main__":
    main()
