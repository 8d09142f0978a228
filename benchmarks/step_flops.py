#!/usr/bin/env python
"""How close is one course training step to what this CPU can do? FLOPs counted, time measured, peak computed.

1. **FLOPs of one step.** The course's ``train_step`` (lesson 04's export cells: G forward, D forward and backward
   on real and fake, the R1 penalty's double backward, G backward, the optimizers, the weight average) is traced
   once; every op of its graph is counted from its shapes: convolutions, their two backward ops and matrix
   products at 2 FLOPs per multiply-add, every other op at one FLOP per output element. One layer is checked by
   hand (D's first convolution, forward).
2. **Time of one step**, measured as in the time-to-quality benchmark (median of timed steps after a warm-up).
3. **Peak fp32 FLOP/s** = cores x SIMD lanes (16 with AVX-512, 8 with AVX2) x FMA units per core x 2 x clock,
   each read from the machine where it can be and printed with its assumption where it cannot.

The record (``step_flops.json``) goes beside the time-to-quality record of the same configuration, and the
README's table reads its efficiency. Where the share is low, the script also times the same step at larger batches
and without the data copy, which shows where the time goes.

Usage::

    python benchmarks/step_flops.py --out benchmarks/figures/<configuration>
    python benchmarks/step_flops.py --quick --out /tmp/x    # a few steps: the plumbing only (make test)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import numpy as np  # noqa: E402

from course_utils.validate import int_option  # noqa: E402

SCHEMA = "step_flops/1"
MATMUL_LIKE = {"MatMul", "BatchMatMulV2", "BatchMatMulV3"}
CONV_LIKE = {"Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter"}
FREE = {"Const", "Identity", "NoOp", "Placeholder", "ReadVariableOp", "AssignVariableOp", "Shape", "Reshape",
        "StridedSlice", "Pack", "Fill", "ZerosLike", "OnesLike", "VarHandleOp", "Cast", "StopGradient",
        "BroadcastGradientArgs", "ConcatV2", "Transpose", "ExpandDims", "Squeeze", "Slice", "Prod", "GatherV2",
        "DynamicStitch", "Size", "Range", "AssignAddVariableOp", "AssignSubVariableOp", "ShapeN", "Rank", "Tile",
        "BroadcastTo", "PreventGradient", "StatelessIf", "If", "StatefulPartitionedCall", "PartitionedCall"}


def _shape(t) -> list[int] | None:
    dims = t.shape.as_list() if t.shape.rank is not None else None
    return dims if dims is not None and all(d is not None for d in dims) else None


def op_flops(op) -> tuple[str, int]:
    """(kind, FLOPs) of one graph op: 'conv'/'matmul' at 2 per multiply-add, 'other' at 1 per output element."""
    if op.type in CONV_LIKE:
        # Every one of the three is (output-gradient-shaped positions) x (kernel window x input channels) MACs.
        if op.type == "Conv2D":
            out, filt = _shape(op.outputs[0]), _shape(op.inputs[1])
        elif op.type == "Conv2DBackpropInput":
            out, filt = _shape(op.inputs[2]), _shape(op.inputs[1])
        else:  # Conv2DBackpropFilter: its output has the filter's shape
            out, filt = _shape(op.inputs[2]), _shape(op.outputs[0])
        if out is None or filt is None:
            raise ValueError(f"{op.name}: shapes not fully known ({out}, {filt}); trace with a fixed batch")
        kh, kw, cin, _ = filt
        return "conv", 2 * math.prod(out) * kh * kw * cin
    if op.type in MATMUL_LIKE:
        a, b = _shape(op.inputs[0]), _shape(op.inputs[1])
        if a is None or b is None:
            raise ValueError(f"{op.name}: shapes not fully known; trace with a fixed batch")
        k = a[-1] if not op.get_attr("transpose_a" if op.type == "MatMul" else "adj_x") else a[-2]
        return "matmul", 2 * math.prod(_shape(op.outputs[0])) * k
    if op.type in FREE or not op.outputs:
        return "free", 0
    shape = _shape(op.outputs[0])
    return "other", math.prod(shape) if shape is not None else 0


def count_graph(graph) -> dict[str, Any]:
    """FLOPs of every op of a traced graph, by kind, and the op count; refuses nested function calls it cannot see."""
    totals = {"conv": 0, "matmul": 0, "other": 0}
    by_type: dict[str, int] = {}
    calls = []
    n_ops = 0
    for op in graph.get_operations():
        if op.type in ("StatefulPartitionedCall", "PartitionedCall"):
            calls.append(op.name)
        kind, flops = op_flops(op)
        if kind == "free":
            continue
        n_ops += 1
        totals[kind] += flops
        by_type[op.type] = by_type.get(op.type, 0) + flops
    return {"total": sum(totals.values()), **totals, "ops_counted": n_ops, "nested_calls": calls,
            "by_op_type": dict(sorted(by_type.items(), key=lambda kv: -kv[1]))}


def peak_gflops(cores: int, flags: set[str]) -> dict[str, Any]:
    """Peak fp32 GFLOP/s of ``cores`` cores, with each factor and where it came from."""
    lanes = 16 if "avx512f" in flags else 8 if "avx2" in flags else 4
    # Two 512-bit (or 256-bit) FMA units per core on Intel Xeon Scalable parts with AVX-512 and on AMD Zen 2-4;
    # some Xeon Silver/Bronze parts have one. The model name does not say, so this is an assumption.
    fma_units = 2
    mhz, source = None, None
    for path in ("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq",):
        try:
            mhz, source = int(Path(path).read_text()) / 1000, path
        except (OSError, ValueError):
            pass
    if mhz is None:
        try:
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.lower().startswith("cpu mhz"):
                    mhz, source = float(line.split(":")[1]), "/proc/cpuinfo 'cpu MHz' (the current clock)"
                    break
        except OSError:
            pass
    if mhz is None:
        mhz, source = 2000.0, "not readable: 2.0 GHz assumed"
    gflops = cores * lanes * fma_units * 2 * mhz / 1000
    return {"gflops": round(gflops, 1), "cores": cores, "simd_fp32_lanes": lanes, "fma_units_per_core": fma_units,
            "flops_per_fma": 2, "clock_mhz": mhz, "clock_source": source,
            "assumptions": f"{fma_units} FMA units per core (not readable from the OS); clock from {source}; "
                           "no turbo or AVX-512 frequency offset modelled"}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for step_flops.json")
    parser.add_argument("--quick", action="store_true", help="a few timed steps (plumbing only)")
    parser.add_argument("--steps", type=int_option(1), default=None, help="timed steps (default 200, quick 5)")
    parser.add_argument("--threads", type=int, default=None, help="use only the first N CPUs")
    args = parser.parse_args(argv)
    steps = args.steps or (5 if args.quick else 200)
    if args.threads is not None:
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:args.threads])
    from course_utils import device

    device.quiet_tensorflow_startup()
    import tensorflow as tf

    from course_utils import data, lessons

    device.setup(42, mixed_precision=False, xla=False)
    ns = lessons.load_lesson_code("04_dcgan")
    batch = int(ns.RECIPE.batch_size)
    x = data.to_float_images(data.load_mnist(verbose=False).x_train)

    def build(bs: int):
        g, d = ns.build_generator(ns.RECIPE), ns.build_discriminator(ns.RECIPE)
        g_opt, d_opt = ns.make_optimizers(ns.RECIPE)
        step = ns.make_train_step(g, d, g_opt, d_opt, ns.RECIPE, ema=ns.make_ema(g))
        spec = tf.TensorSpec([bs, *x.shape[1:]], tf.float32)
        return step, step.get_concrete_function(spec), d

    def time_steps(step, bs: int, n: int, *, copy: bool) -> float:
        rng = np.random.default_rng(0)
        fixed = tf.constant(x[:bs])
        float(step(fixed)["d_loss"])  # warm-up (tracing)
        times = []
        for _ in range(n):
            batch_np = x[rng.integers(0, len(x), bs)] if copy else None
            start = time.perf_counter()
            out = step(tf.convert_to_tensor(batch_np) if copy else fixed)
            float(out["d_loss"])
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    step, concrete, d = build(batch)
    counted = count_graph(concrete.graph)
    # The hand check: D's first convolution, forward, on the real batch.
    first = next(layer for layer in d.layers if hasattr(layer, "kernel_size"))
    kh, kw = first.kernel_size
    cin, cout = first.input.shape[-1], first.filters
    ho, wo = first.output.shape[1:3]
    by_hand = 2 * batch * ho * wo * cout * kh * kw * cin
    convs = [op for op in concrete.graph.get_operations() if op.type == "Conv2D"
             and _shape(op.inputs[1]) == [kh, kw, cin, cout] and _shape(op.outputs[0]) == [batch, ho, wo, cout]]
    counted_first = op_flops(convs[0])[1] if convs else None
    if counted_first != by_hand:
        raise SystemExit(f"hand check failed: D's first convolution counted {counted_first}, by hand {by_hand}")
    step_s = time_steps(step, batch, steps, copy=True)
    step_s_no_copy = time_steps(step, batch, steps, copy=False)
    cpu = device.cpu_config()
    peak = peak_gflops(cpu.usable_cpus, set(cpu.flags))
    achieved = counted["total"] / step_s / 1e9
    record: dict[str, Any] = {
        "schema": SCHEMA,
        "created_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else "full",
        "batch_size": batch,
        "flops_per_step": counted,
        "hand_check": {"layer": f"D's first convolution ({kh}x{kw}, {cin}->{cout}, output {ho}x{wo}, batch {batch})",
                       "formula": "2 * batch * H_out * W_out * C_out * k_h * k_w * C_in",
                       "by_hand": by_hand, "counted": counted_first},
        "step_s_median": round(step_s, 5), "timed_steps": steps,
        "step_s_median_without_data_copy": round(step_s_no_copy, 5),
        "achieved_gflops": round(achieved, 2),
        "peak_gflops": peak["gflops"], "peak": peak,
        "efficiency": round(achieved / peak["gflops"], 4),
        "cpu_model": next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                           if ln.lower().startswith("model name")), None) if Path("/proc/cpuinfo").exists() else None,
        "cpus_used": cpu.usable_cpus,
        "onednn": device.onednn_active(),
        "env": {"TF_ENABLE_ONEDNN_OPTS": os.environ.get("TF_ENABLE_ONEDNN_OPTS")},
        "load_avg": [round(v, 2) for v in os.getloadavg()],
    }
    if not args.quick:
        # Where the time goes: the same step at larger batches. If FLOP/s grow with the batch, the small step is
        # bound by per-op overhead (hundreds of small kernels and their dispatch), not by arithmetic.
        scaling = []
        for bs in (batch, 4 * batch, 16 * batch):
            s_step, s_conc, _ = build(bs)
            t = time_steps(s_step, bs, max(20, steps // (bs // batch)), copy=False)
            f = count_graph(s_conc.graph)["total"]
            scaling.append({"batch": bs, "step_s": round(t, 5), "gflops": round(f / t / 1e9, 2),
                            "efficiency": round(f / t / 1e9 / peak["gflops"], 4),
                            "us_per_op": round(1e6 * t / counted["ops_counted"], 1)})
        record["batch_scaling"] = scaling
    from course_utils import atomic

    args.out.mkdir(parents=True, exist_ok=True)
    atomic.write_text(args.out / "step_flops.json", json.dumps(record, indent=1) + "\n")
    print(f"One course step (batch {batch}): {counted['total'] / 1e9:.3f} GFLOP ({counted['ops_counted']} ops; "
          f"convolutions {counted['conv'] / 1e9:.3f}, matmuls {counted['matmul'] / 1e9:.3f}, other "
          f"{counted['other'] / 1e9:.3f}); hand check of D's first convolution: {by_hand:,} = {counted_first:,}")
    print(f"Median step {1000 * step_s:.1f} ms ({1000 * step_s_no_copy:.1f} ms without the data copy) -> "
          f"{achieved:.1f} GFLOP/s of a {peak['gflops']:.0f} GFLOP/s peak ({peak['cores']} cores x "
          f"{peak['simd_fp32_lanes']} lanes x {peak['fma_units_per_core']} FMA x 2 x {peak['clock_mhz']:.0f} MHz): "
          f"{100 * record['efficiency']:.1f} %")
    for row in record.get("batch_scaling", []):
        print(f"  batch {row['batch']:>4}: {1000 * row['step_s']:.1f} ms/step, {row['gflops']:.1f} GFLOP/s "
              f"({100 * row['efficiency']:.1f} % of peak)")
    print(f"Wrote {args.out / 'step_flops.json'}")
    return record


if __name__ == "__main__":
    main()
