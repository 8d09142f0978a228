#!/usr/bin/env python
"""Time to quality: the course's DCGAN recipe against the canonical DCGAN recipe and the TensorFlow tutorial's.

The three recipes train in one run, on the same data, on the same machine, for the same budget of *training* time
each. Every few seconds of training the clock stops and the course evaluator scores 2,000 samples drawn from a
fixed noise batch (FID in a small MNIST classifier's feature space, and class coverage); only training time counts.
The run writes a JSON record, a plot of FID against training time and the samples side by side.

The headline is the **time to equal quality**: the training time each recipe needs to reach FID <= 10 and FID <= 5,
and the speed-up, the ratio of the canonical recipe's time to the course's, where both reach the threshold. A
recipe that does not reach it is reported as "not within the budget", with its best FID; nothing is expressed as a
ratio against noise (see ``benchmarks/README.md`` for the exact definitions).

Usage::

    make benchmark BENCH_ARGS="--budget 300"          # the measurement reported in the README
    python benchmarks/time_to_quality.py --quick       # CI: a few seconds per recipe, still writes JSON and PNGs
    python benchmarks/time_to_quality.py --device gpu  # adds the course recipe with mixed precision + XLA

The course recipe is loaded with ``course_utils.lessons.load_lesson_code("04_dcgan")``, so the benchmark trains
exactly the code the lesson shows. The tutorial recipe is re-implemented in ``benchmarks/tutorial_dcgan.py`` from
https://www.tensorflow.org/tutorials/generative/dcgan.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import math
import os
import platform
import resource
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO_ROOT = Path(__file__).resolve().parent.parent
for _path in (REPO_ROOT, REPO_ROOT / "benchmarks"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import numpy as np

from course_utils.clock_training import ClockRun, ShuffledBatches, write_record  # noqa: E402
from course_utils.validate import int_option, positive_option  # noqa: E402

SCHEMA = "time_to_quality/2"
LESSON = "04_dcgan"
DEFAULT_BUDGET_S = 300.0
QUICK_BUDGET_S = 8.0
LONG_BUDGET_S = 1800.0  # --long: the course against the canonical recipe until the canonical one gets there
RECIPES = ("tutorial", "canonical", "course")
# Run only when named in --recipes: the course recipe with the simultaneous update (both players from one forward
# pass) instead of its alternating one, everything else the same (benchmarks/figures/update_order/).
OPTIONAL_RECIPES = ("simultaneous",)
DEFAULT_FID_SAMPLES = 2000
QUICK_FID_SAMPLES = 500
GENERATE_BATCH = 500
GRID_SAMPLES = 64
TARGET_FID = 10.0
TARGETS = (10.0, 5.0)  # the thresholds of the headline: time to FID <= 10 and to FID <= 5
PEERS = ("canonical", "tutorial", "simultaneous")

from canonical_dcgan import (  # noqa: E402  (the canonical DCGAN recipe, sized for 28x28, in its own file)
    CANONICAL,
    CANONICAL_D_PARAMS,
    CANONICAL_G_PARAMS,
    build_canonical_discriminator,
    build_canonical_generator,
    make_canonical_optimizers,
    make_canonical_train_step,
)
from tutorial_dcgan import (  # noqa: E402  (the tutorial's recipe, re-implemented in its own file)
    TUTORIAL,
    TUTORIAL_D_PARAMS,
    TUTORIAL_G_PARAMS,
    build_tutorial_discriminator,
    build_tutorial_generator,
    make_tutorial_optimizers,
    make_tutorial_train_step,
)

# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------

def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse and check the command line."""
    parser = argparse.ArgumentParser(
        description="Time to quality: the course's DCGAN recipe vs the canonical DCGAN recipe and the TensorFlow "
                    "tutorial's.")
    parser.add_argument("--budget", type=positive_option, default=None, metavar="SECONDS",
                        help=f"training time per recipe, clock paused during evaluation "
                             f"(default {DEFAULT_BUDGET_S:g}; {QUICK_BUDGET_S:g} with --quick)")
    parser.add_argument("--device", choices=("auto", "cpu", "gpu"), default="auto",
                        help="cpu hides every GPU from TensorFlow; gpu requires one; auto = gpu when present")
    parser.add_argument("--quick", action="store_true",
                        help=f"CI mode: {QUICK_BUDGET_S:g} s per recipe, {QUICK_FID_SAMPLES} FID samples, "
                             "4 evaluations")
    parser.add_argument("--long", action="store_true",
                        help=f"{LONG_BUDGET_S:g} s per recipe, the course and the canonical recipe only (the tutorial "
                             "recipe does not leave noise in minutes on a CPU); its own record")
    parser.add_argument("--recipes", default=None, metavar="LIST",
                        help=f"comma-separated subset of {','.join(RECIPES)} (default: all; with --long: "
                             "canonical,course); the course recipe is always trained")
    parser.add_argument("--gpu-variants", action="store_true",
                        help="also train the course recipe with mixed precision + XLA (automatic with a GPU)")
    parser.add_argument("--fid-samples", type=int_option(GRID_SAMPLES), default=None,
                        help=f"samples per FID evaluation (default {DEFAULT_FID_SAMPLES}; "
                             f"{QUICK_FID_SAMPLES} with --quick)")
    parser.add_argument("--seed", type=int_option(0), default=42, help="seed for weights, noise and batch order")
    parser.add_argument("--threads", type=int_option(1), default=None, metavar="N",
                        help="use only the first N CPUs of this process (like `taskset`; 1 = the Binder case); "
                             "TensorFlow's thread pools follow (course_utils.device.configure_cpu)")
    parser.add_argument("--markdown", nargs="*", type=Path, default=None, metavar="JSON",
                        help="print the README table from committed records (default: benchmarks/figures/*/"
                             "time_to_quality.json) and exit")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default benchmarks/results/full, or benchmarks/results/quick)")
    args = parser.parse_args(argv)
    if args.quick and args.long:
        parser.error("--quick and --long exclude each other")
    if args.budget is None:
        args.budget = QUICK_BUDGET_S if args.quick else LONG_BUDGET_S if args.long else DEFAULT_BUDGET_S
    chosen = args.recipes if args.recipes is not None else ("canonical,course" if args.long else ",".join(RECIPES))
    known = RECIPES + OPTIONAL_RECIPES
    args.recipes = tuple(r for r in known if r in {x.strip() for x in chosen.split(",")})
    unknown = {x.strip() for x in chosen.split(",")} - set(known)
    if unknown or "course" not in args.recipes or len(args.recipes) < 2:
        parser.error(f"--recipes must name the course and at least one of {', '.join(r for r in known if r != 'course')}"
                     f" (from {known}), got {chosen!r}")
    if args.fid_samples is None:
        args.fid_samples = QUICK_FID_SAMPLES if args.quick else DEFAULT_FID_SAMPLES
    if args.threads is not None:
        available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        if args.threads > available:
            parser.error(f"--threads must be between 1 and the {available} CPUs available, got {args.threads}")
    if args.out is None:
        args.out = REPO_ROOT / "benchmarks" / "results" / ("quick" if args.quick else "long" if args.long else "full")
    return args


def eval_schedule(budget: float, quick: bool) -> list[float]:
    """Training times (s) at which to evaluate: 0, dense early, every 15 s up to 10 min, then every 30 s, the end."""
    if quick:
        points = [budget / 4, budget / 2]
    else:
        points = ([1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60] + list(range(75, min(int(budget), 600), 15))
                  + list(range(600, int(budget), 30)))
    return [0.0] + sorted({float(p) for p in points if 0 < p < budget}) + [float(budget)]


# ---------------------------------------------------------------------------------------------
# The course's recipe, from the lesson
# ---------------------------------------------------------------------------------------------

COURSE_CONTRACT = ("NOISE_DIM", "RECIPE", "build_generator", "build_discriminator", "make_optimizers", "make_ema",
                   "make_train_step")


def load_course_recipe() -> Any:
    """Execute the lesson's ``export`` cells (a module) and check that they define the recipe contract."""
    from course_utils import lessons

    ns = lessons.load_lesson_code(LESSON)  # also makes the cells' source readable to AutoGraph
    missing = [name for name in COURSE_CONTRACT if not hasattr(ns, name)]
    if missing:
        raise ValueError(f"notebooks/{LESSON}.py export cells must define {list(COURSE_CONTRACT)}; missing {missing}")
    if not dataclasses.is_dataclass(ns.RECIPE) or not hasattr(ns.RECIPE, "batch_size"):
        raise ValueError(f"RECIPE in notebooks/{LESSON}.py must be a dataclass with a batch_size, got {ns.RECIPE!r}")
    return ns


# ---------------------------------------------------------------------------------------------
# Training under a clock, evaluation with the clock paused
# ---------------------------------------------------------------------------------------------

@dataclass
class Runner:
    """One recipe: its networks, its train step, and its run (``course_utils.clock_training.ClockRun``): its own
    training clock and its curve. The batches (``clock_training.ShuffledBatches``) are the same float images for
    every recipe, in the same order for the same seed."""

    key: str
    label: str
    generator: Any
    discriminator: Any
    optimizers: tuple[Any, Any]
    train_step: Callable
    batches: ShuffledBatches
    fixed_noise: np.ndarray
    info: dict[str, Any]
    compile_s: float | None = None
    eval_time_s: float = 0.0  # generating and scoring samples
    grids: dict[int, np.ndarray] = field(default_factory=dict)
    sampler: Any = None  # the network samples are drawn from (the course's weight-averaged generator), if not G

    def __post_init__(self):
        import tensorflow as tf

        gen = self.sampler if self.sampler is not None else self.generator
        self._sample = tf.function(lambda z: tf.cast(gen(z, training=False), tf.float32))
        self.run = ClockRun(self.train_step, self.batches, stop_on_nonfinite=True, label=self.label)

    @property
    def curve(self) -> list[dict[str, Any]]:
        return self.run.curve

    def warm_up(self) -> float:
        """Trace (and with XLA compile) the train step outside the clock, then undo that step exactly.

        One step is run on a real batch and timed as ``compile_s``; the weights of both networks (batch-norm
        statistics included) and both optimizers' state are then restored to their values before it, so the
        step that paid for tracing teaches the networks nothing and the training clock starts from step 0.
        """
        g_opt, d_opt = self.optimizers
        g_opt.build(self.generator.trainable_variables)
        d_opt.build(self.discriminator.trainable_variables)
        state, seen = [], set()
        for opt in (g_opt, d_opt):  # a LossScaleOptimizer (mixed precision) wraps an inner optimizer
            for var in list(getattr(opt, "variables", [])) + list(getattr(getattr(opt, "inner_optimizer", None),
                                                                        "variables", [])):
                if id(var) not in seen:
                    seen.add(id(var))
                    state.append(var)
        sampler = list(self.sampler.weights) if self.sampler is not None else []
        state = list(self.generator.weights) + list(self.discriminator.weights) + sampler + state
        self.compile_s = self.run.warm_up(self.batches.peek(), restore=state)
        return self.compile_s

    def train_until(self, target_s: float, budget_s: float) -> None:
        """Take steps until this recipe's training clock reaches ``min(target_s, budget_s)``.

        The clock is read after every step (the last step may overrun by at most one step); data loading counts
        as training time; tracing/compilation was paid in :meth:`warm_up`; a non-finite loss stops the recipe.
        """
        self.run.train_until(min(target_s, budget_s))

    def samples(self) -> np.ndarray:
        """Generate from the fixed noise batch (inference mode), as float32 (n, 28, 28, 1)."""
        parts = [self._sample(self.fixed_noise[i:i + GENERATE_BATCH]).numpy()
                 for i in range(0, len(self.fixed_noise), GENERATE_BATCH)]
        return np.concatenate(parts).astype(np.float32)

    def evaluate(self, quality: Quality) -> dict[str, Any] | None:
        """Score the generator with the clock stopped; record and return the curve point (None if no new step)."""
        if self.curve and self.curve[-1]["step"] == self.run.steps:
            return None

        def score(run: ClockRun) -> dict[str, Any]:
            start = time.perf_counter()
            images = self.samples()
            scores = quality(images)
            elapsed = time.perf_counter() - start
            self.eval_time_s += elapsed
            epoch = run.steps * self.batches.batch_size / len(self.batches.x)
            self.grids[run.steps] = images[:GRID_SAMPLES]
            return {**run.stamp(4), "epoch": round(epoch, 3), **scores, "eval_s": round(elapsed, 3),
                    **{k: round(v, 5) for k, v in run.last.items()}}

        return self.run.evaluate(score)

    def summary(self) -> dict[str, Any]:
        """Speed and quality figures for the JSON record."""
        run = self.run
        steady = run.seconds / run.steps if run.steps else None
        bs = self.batches.batch_size
        finite = [p for p in self.curve if math.isfinite(p["fid"])]
        best = min(finite, key=lambda p: p["fid"]) if finite else None
        final = self.curve[-1] if self.curve else None
        return {
            "label": self.label,
            **self.info,
            "params": {"generator": int(self.generator.count_params()),
                       "discriminator": int(self.discriminator.count_params())},
            "steps": run.steps,
            "epochs": round(run.steps * bs / len(self.batches.x), 3),
            "train_time_s": round(run.seconds, 3),
            "compile_s": round(self.compile_s, 3) if self.compile_s is not None else None,
            "first_step_s": round(run.first_step_s, 3) if run.first_step_s is not None else None,
            "ms_per_step": round(1000 * steady, 3) if steady else None,
            "images_per_s": round(bs / steady, 1) if steady else None,
            "eval_time_s": round(self.eval_time_s, 3),
            "diverged": run.diverged,
            "best_fid": best["fid"] if best else None,
            "best_fid_time_s": best["time_s"] if best else None,
            "best_fid_step": best["step"] if best else None,
            "coverage_at_best_fid": best["coverage"] if best else None,
            "final_fid": final["fid"] if final else None,
            "final_coverage": final["coverage"] if final else None,
            "time_to_fid_10": time_to_reach(self.curve, TARGET_FID),
            "time_to_fid": {f"{t:g}": time_to_reach(self.curve, t) for t in TARGETS},
            "curve": self.curve,
        }


class Quality:
    """FID and class coverage from the course evaluator (``course_utils.evaluator``, shipped weights)."""

    def __init__(self):
        from course_utils import evaluator

        self.module = evaluator
        self.evaluator = evaluator.load_evaluator()

    def __call__(self, images: np.ndarray) -> dict[str, float]:
        """Score a batch of generated images in [-1, 1]; a batch with NaN/inf scores FID NaN, coverage 0."""
        if not np.all(np.isfinite(images)):
            return {"fid": float("nan"), "coverage": 0, "effective_classes": 0.0, "mean_confidence": 0.0}
        fid = float(self.evaluator.fid(images))
        cov = self.evaluator.class_coverage(images)
        return {"fid": fid, "coverage": int(cov.n_covered), "effective_classes": round(float(cov.effective_classes), 3),
                "mean_confidence": round(float(cov.mean_confidence), 4)}


def time_to_reach(curve: Sequence[dict[str, Any]], target: float) -> dict[str, float | None]:
    """Training time at which a curve first reaches FID <= ``target``.

    Returns ``first_point_s``, the time of the first evaluation at or below the target, and ``interpolated_s``,
    the crossing found by linear interpolation (in time and FID) between that evaluation and the one before it.
    Both are None when the curve never gets there.
    """
    for i, point in enumerate(curve):
        if math.isfinite(point["fid"]) and point["fid"] <= target:
            t1, f1 = point["time_s"], point["fid"]
            interp = t1
            if i > 0 and math.isfinite(curve[i - 1]["fid"]) and curve[i - 1]["fid"] > f1:
                t0, f0 = curve[i - 1]["time_s"], curve[i - 1]["fid"]
                interp = t0 + (f0 - target) / (f0 - f1) * (t1 - t0)
            return {"first_point_s": t1, "interpolated_s": round(interp, 4), "step": point["step"]}
    return {"first_point_s": None, "interpolated_s": None, "step": None}


def equal_quality(course: dict[str, Any], peer: dict[str, Any], target: float, budget_s: float) -> dict[str, Any]:
    """The course recipe against a peer at one FID threshold: each one's time to reach it, and the ratio.

    ``speedup`` = the peer's time / the course's time, both read at their first evaluation at or below the target
    (the headline); ``speedup_interpolated`` uses the interpolated crossings. Where either recipe does not reach
    the target, the ratio is None and ``note`` says which, with its best FID within the budget.
    """
    c, p = time_to_reach(course["curve"], target), time_to_reach(peer["curve"], target)
    result: dict[str, Any] = {
        "target_fid": target, "budget_s": budget_s,
        "course_s": c["first_point_s"], "course_interpolated_s": c["interpolated_s"],
        "peer_s": p["first_point_s"], "peer_interpolated_s": p["interpolated_s"],
        "course_best_fid": course["best_fid"], "peer_best_fid": peer["best_fid"],
        "speedup": None, "speedup_interpolated": None, "note": None,
    }
    notes = []
    for who, rec, reach in (("course", course, c), ("peer", peer, p)):
        if reach["first_point_s"] is None:
            notes.append(f"{who} recipe not within {budget_s:g} s (best FID {_fmt(rec['best_fid'], '.2f')})")
        elif reach["first_point_s"] == 0:
            notes.append(f"{who} recipe already at or below it untrained")
    if notes:
        result["note"] = "; ".join(notes)
        return result
    result["speedup"] = round(p["first_point_s"] / c["first_point_s"], 2)
    result["speedup_interpolated"] = round(p["interpolated_s"] / c["interpolated_s"], 2)
    return result


# ---------------------------------------------------------------------------------------------
# Machine, plots, record
# ---------------------------------------------------------------------------------------------

def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (or ``platform.processor()`` elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info(device_kind: str) -> dict[str, Any]:
    """CPU (model, the features that matter, whether oneDNN is on and why), threads, RAM, GPUs, load average."""
    import tensorflow as tf

    from course_utils import device

    gpus = []
    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            gpus.append(tf.config.experimental.get_device_details(gpu).get("device_name", gpu.name))
        except Exception:  # details are best effort
            gpus.append(gpu.name)
    try:
        ram_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3, 1)
    except (ValueError, OSError, AttributeError):
        ram_gb = None
    cpu = device.cpu_config()
    flags = set(cpu.flags)
    return {
        "cpu_model": cpu_model(),
        "cpu_cores": os.cpu_count(),
        "cpu_cores_usable": cpu.usable_cpus,
        "cpu_flags": list(cpu.flags),
        "avx2": "avx2" in flags,
        "avx512": "avx512f" in flags,
        "amx": "amx_tile" in flags,
        "onednn": device.onednn_active(),
        "onednn_reason": cpu.reasons.get("oneDNN"),
        "tf_default_onednn": cpu.tf_default_onednn,
        "threads": {"intra_op": tf.config.threading.get_intra_op_parallelism_threads() or cpu.intra_threads,
                    "inter_op": tf.config.threading.get_inter_op_parallelism_threads() or cpu.inter_threads,
                    "reason": cpu.reasons.get("Threads")},
        "ram_gb": ram_gb,
        "gpus": gpus,
        "gpus_used": [d.name for d in tf.config.get_visible_devices("GPU")],
        "device": device_kind,
        "platform": platform.platform(terse=True),
        "load_avg_start": [round(v, 2) for v in os.getloadavg()],
    }


def plot_curves(record: dict[str, Any], path: Path) -> Path:
    """FID (log scale) and class coverage against training time, one line per recipe."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from course_utils import viz

    fig, (ax, ax_cov) = plt.subplots(1, 2, figsize=(12, 4.2), gridspec_kw={"width_ratios": [2, 1]})
    for rec in record["recipes"].values():
        pts = [p for p in rec["curve"] if math.isfinite(p["fid"])]
        t = [p["time_s"] for p in pts]
        ax.plot(t, [max(p["fid"], 1e-3) for p in pts], marker="o", ms=3, label=rec["label"])
        ax_cov.plot([p["time_s"] for p in rec["curve"]], [p["coverage"] for p in rec["curve"]], marker="o", ms=3,
                    label=rec["label"])
    for t, style in zip(TARGETS, (":", "--")):
        ax.axhline(t, color="grey", ls=style, lw=1, label=f"FID = {t:g}")
    peer = next(p for p in PEERS if p in record["equal_quality"]["course"])
    eq = record["equal_quality"]["course"][peer][f"{TARGETS[0]:g}"]
    if eq["speedup"]:
        ax.annotate(f"FID <= {eq['target_fid']:g}: course at {eq['course_s']:.0f} s, {peer} at "
                    f"{eq['peer_s']:.0f} s ({eq['speedup']:.1f}x)", xy=(eq["course_s"], eq["target_fid"]),
                    xytext=(0.35, 0.75), textcoords="axes fraction", arrowprops={"arrowstyle": "->", "color": "grey"},
                    fontsize=9)
    ax.set_yscale("log")
    ax.set_xlabel("training time (s), evaluation excluded")
    ax.set_ylabel(f"FID (course evaluator, {record['fid_samples']} samples)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    ax_cov.set_xlabel("training time (s)")
    ax_cov.set_ylabel("classes covered (of 10)")
    ax_cov.set_ylim(0, 10.5)
    ax_cov.grid(alpha=0.3)
    m = record["machine"]
    fig.suptitle(f"Time to quality, {record['budget_s']:g} s per recipe on {m['device'].upper()}: "
                 f"{m['cpu_model']}, {m['cpu_cores']} cores" + (f", {', '.join(m['gpus_used'])}" if m["gpus_used"]
                                                                 else ""), fontsize=10)
    fig.tight_layout()
    viz.save_figure(fig, path)
    plt.close(fig)
    return path


def plot_samples(panels: Sequence[tuple[str, np.ndarray]], path: Path) -> Path:
    """Sample grids side by side, one panel per (title, images)."""
    import matplotlib.pyplot as plt

    from course_utils import viz

    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 4.0), squeeze=False)
    for ax, (title, images) in zip(axes.flat, panels):
        ax.imshow(viz.image_grid(images, ncols=8), cmap="gray", vmin=0, vmax=1)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    viz.save_figure(fig, path)
    plt.close(fig)
    return path


def sample_panels(runners: dict[str, Runner]) -> list[tuple[str, np.ndarray]]:
    """Final samples of every recipe, plus each recipe's samples when it first reached FID <= 10 (if earlier)."""
    panels = []
    for runner in runners.values():
        last = runner.curve[-1]
        reach = time_to_reach(runner.curve, TARGET_FID)
        if reach["step"] and reach["step"] != last["step"]:
            first = next(p for p in runner.curve if p["step"] == reach["step"])
            panels.append((f"{runner.label}\nat FID <= {TARGET_FID:g}: {first['time_s']:.0f} s ({first['step']} "
                           f"steps), FID {first['fid']:.1f}", runner.grids[first["step"]]))
        panels.append((f"{runner.label}\nafter {last['time_s']:.0f} s ({last['step']} steps), FID {last['fid']:.1f}",
                       runner.grids[last["step"]]))
    return panels


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------

def choose_device(requested: str) -> str:
    """Make the requested device the only one TensorFlow uses; return ``"cpu"`` or ``"gpu"``."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if requested == "gpu" and not gpus:
        raise SystemExit("--device gpu: TensorFlow sees no GPU on this machine (use --device cpu)")
    if requested == "cpu" or (requested == "auto" and not gpus):
        if gpus:
            tf.config.set_visible_devices([], "GPU")
        return "cpu"
    return "gpu"


def build_runners(args: argparse.Namespace, x: np.ndarray, device_kind: str) -> dict[str, Runner]:
    """The tutorial's, the canonical and the course's recipe, and (on GPU) the course's with mixed precision + XLA."""
    course = load_course_recipe()
    runners: dict[str, Runner] = {}

    def noise(dim: int, salt: int) -> np.ndarray:
        return np.random.default_rng([args.seed, salt]).standard_normal((args.fid_samples, dim)).astype(np.float32)

    for key in PEER_BUILDERS:  # the tutorial first, then the canonical recipe, as before
        if key in args.recipes:
            _add_peer(runners, key, args, x, noise)
    _add_course(runners, args, x, noise, course, device_kind)
    return runners


PEER_BUILDERS = {  # key -> label, recipe, (G, D parameters), builders, optimizers, train step, noise seed
    "tutorial": ("TF tutorial recipe", TUTORIAL, (TUTORIAL_G_PARAMS, TUTORIAL_D_PARAMS), build_tutorial_generator,
                 build_tutorial_discriminator, make_tutorial_optimizers, make_tutorial_train_step, 1),
    "canonical": ("canonical DCGAN recipe", CANONICAL, (CANONICAL_G_PARAMS, CANONICAL_D_PARAMS),
                  build_canonical_generator, build_canonical_discriminator, make_canonical_optimizers,
                  make_canonical_train_step, 3),
}


def _add_peer(runners: dict[str, Runner], key: str, args: argparse.Namespace, x: np.ndarray, noise: Callable) -> None:
    """A peer recipe (written out in its own file), its parameter counts checked against the source's."""
    from course_utils import device

    label, recipe, params, build_g, build_d, make_opts, make_step, noise_seed = PEER_BUILDERS[key]
    device.setup(args.seed, mixed_precision=False, xla=False)
    g, d = build_g(), build_d()
    if (g.count_params(), d.count_params()) != params:
        raise RuntimeError(f"{key} networks have {g.count_params():,} + {d.count_params():,} parameters, "
                           f"expected {params[0]:,} + {params[1]:,}")
    g_opt, d_opt = make_opts()
    runners[key] = Runner(
        key, label, g, d, (g_opt, d_opt), make_step(g, d, g_opt, d_opt),
        ShuffledBatches(x, recipe["batch_size"], args.seed), noise(recipe["noise_dim"], noise_seed),
        {"recipe": dict(recipe), "batch_size": recipe["batch_size"], "noise_dim": recipe["noise_dim"],
         "precision": "float32", "jit_compile": False})


def _add_course(runners: dict[str, Runner], args: argparse.Namespace, x: np.ndarray, noise: Callable,
                course: Any, device_kind: str) -> None:
    import keras

    from course_utils import device

    update = course.RECIPE.update
    variants = [("course", "course recipe", False, update)]
    if "simultaneous" in args.recipes:  # the recipe with the other update order, same seed and noise
        variants.append(("simultaneous", "course recipe, simultaneous update", False, "simultaneous"))
    if device_kind == "gpu" or args.gpu_variants:
        variants.append(("course_mp_xla", "course recipe, mixed precision + XLA", True, update))
    for key, label, fast, order in variants:
        device.setup(args.seed, mixed_precision=fast, xla=fast)
        try:
            recipe = dataclasses.replace(course.RECIPE, update=order)
            g, d = course.build_generator(recipe), course.build_discriminator(recipe)
            g_opt, d_opt = course.make_optimizers(recipe)
            ema = course.make_ema(g)  # sample as the lesson does
            step = course.make_train_step(g, d, g_opt, d_opt, recipe, ema=ema, jit_compile=fast)
        finally:
            keras.config.set_dtype_policy("float32")
        bs, nd = int(recipe.batch_size), int(recipe.noise_dim)
        runners[key] = Runner(key, label, g, d, (g_opt, d_opt), step, ShuffledBatches(x, bs, args.seed), noise(nd, 2),
                              {"recipe": dataclasses.asdict(recipe), "batch_size": bs, "noise_dim": nd,
                               "precision": "mixed_float16" if fast else "float32", "jit_compile": fast,
                               "source": f"notebooks/{LESSON}.py (cells tagged export)",
                               "samples_from": "weight-averaged generator (make_ema)"}, sampler=ema)
    return runners


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the benchmark and return the record it wrote."""
    wall_start = time.perf_counter()
    args = parse_args(argv)
    if args.markdown is not None:
        print(markdown_table(args.markdown or None))
        return {}
    if args.threads is not None:  # before TensorFlow starts its thread pools
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:args.threads])
    from course_utils import device

    device.quiet_tensorflow_startup()  # oneDNN and thread counts chosen for this CPU, as in the lessons
    device_kind = choose_device(args.device)
    from course_utils import data

    machine = machine_info(device_kind)
    environment = device.environment_report(show=False)
    ds = data.load_mnist(verbose=False)
    x = data.to_float_images(ds.x_train)
    print(f"Data: {ds.summary()}")
    quality = Quality()
    runners = build_runners(args, x, device_kind)
    schedule = eval_schedule(args.budget, args.quick)
    print(f"Device: {device_kind.upper()} ({machine['cpu_model']}, {machine['cpu_cores']} cores"
          + (f", {', '.join(machine['gpus'])}" if device_kind == "gpu" else "") + f"); load average "
          f"{machine['load_avg_start']}; budget {args.budget:g} s of training per recipe; "
          f"{len(schedule)} evaluations of {args.fid_samples} samples each")
    for r in runners.values():
        r.warm_up()
        print(f"  {r.label}: batch {r.batches.batch_size}, noise {r.fixed_noise.shape[1]}, "
              f"{r.generator.count_params():,} + {r.discriminator.count_params():,} parameters; "
              f"warm-up (tracing{', XLA' if r.info['jit_compile'] else ''}) {r.compile_s:.1f} s, not timed")

    # Round robin: every recipe trains up to the same point of its own clock before any moves on, so slow
    # changes in machine load (a shared CPU) fall on all recipes alike.
    for target in schedule:
        for r in runners.values():
            r.train_until(target, args.budget)
            point = r.evaluate(quality)
            if point is not None:
                print(f"  [{r.key:>13}] t={point['time_s']:7.2f} s  step {point['step']:5d}  "
                      f"FID {point['fid']:8.2f}  coverage {point['coverage']:g}  (eval {point['eval_s']:.1f} s)",
                      flush=True)

    summaries = {key: r.summary() for key, r in runners.items()}
    equal = {variant: {peer: {f"{t:g}": equal_quality(summaries[variant], summaries[peer], t, args.budget)
                              for t in TARGETS} for peer in PEERS if peer in summaries}
             for variant in summaries if variant not in PEERS}
    machine["load_avg_end"] = [round(v, 2) for v in os.getloadavg()]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = {
        "schema": SCHEMA,
        "created_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else "long" if args.long else "full",
        "recipes_run": list(args.recipes),
        "command": " ".join([Path(sys.argv[0]).name] + list(argv if argv is not None else sys.argv[1:])),
        "env": {k: os.environ.get(k) for k in ("TF_ENABLE_ONEDNN_OPTS", "TF_NUM_INTRAOP_THREADS",
                                               "TF_NUM_INTEROP_THREADS")},
        "seed": args.seed,
        "budget_s": args.budget,
        "fid_samples": args.fid_samples,
        "eval_schedule_s": schedule,
        "clock": "training time only: the clock stops while samples are generated and scored",
        "machine": machine,
        "environment": environment,
        "data": {"name": ds.name, "source": ds.source, "train_images": len(x), "preprocessing": "[-1, 1] float32"},
        "evaluator": {"module": quality.module.__name__, "fid_samples": args.fid_samples,
                      "noise": "one fixed batch per recipe (seeded), generator in inference mode"},
        "recipes": summaries,
        "equal_quality_definition": "for each FID threshold: each recipe's training time to its first evaluation "
                                    "at or below it (and the interpolated crossing); speedup = peer time / course "
                                    "time, only where both reach the threshold within the budget",
        "equal_quality": equal,
        "course_time_to_fid_10": summaries["course"]["time_to_fid_10"],
    }
    files = {"json": out / "time_to_quality.json", "plot": out / "fid_vs_time.png", "samples": out / "samples.png"}
    record["files"] = {k: str(v) for k, v in files.items()}
    plot_curves(record, files["plot"])
    plot_samples(sample_panels(runners), files["samples"])
    record["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    record["wall_time_s"] = round(time.perf_counter() - wall_start, 2)
    write_record(files["json"], record)
    print_summary(record)
    return record


FIGURES = REPO_ROOT / "benchmarks" / "figures"


def configuration_label(record: dict[str, Any]) -> str:
    """One line naming the machine configuration a record was measured on."""
    m = record["machine"]
    onednn = m.get("onednn")
    forced = (record.get("env") or {}).get("TF_ENABLE_ONEDNN_OPTS")
    why = " (forced off)" if onednn is False and forced == "0" else ""
    parts = [m["cpu_model"], f"{m.get('cpu_cores_usable') or m['cpu_cores']} of {m['cpu_cores']} CPUs"]
    if "avx512" in m:
        parts.append("AVX-512" if m["avx512"] else "AVX2, no AVX-512")
        if m.get("amx"):
            parts.append("AMX")
    parts.append("oneDNN " + ("not recorded" if onednn is None else "on" if onednn else "off") + why)
    if m.get("gpus_used"):
        parts.append(", ".join(m["gpus_used"]))
    return ", ".join(parts)


def _link(path: Path) -> str:
    """A link from the repository root for a committed record; the plain path for any other file."""
    try:
        return "/" + path.resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return path.as_posix()


def _reach_cell(rec: dict[str, Any], target: float, budget: float) -> str:
    """The first evaluation at FID <= target, or "not within N s" with the best FID the recipe reached."""
    reach = rec["time_to_fid"][f"{target:g}"]
    if reach["first_point_s"] is None:
        return f"not within {budget:g} s (best {_fmt(rec['best_fid'], '.1f')})"
    return f"{reach['first_point_s']:.0f} s"


def _speedup_cell(eq: dict[str, Any]) -> str:
    return f"**{eq['speedup']:.1f}×**" if eq["speedup"] else "n/a"


def efficiency_cell(record_path: Path) -> str:
    """The course step's share of the CPU's peak fp32 FLOP/s, from ``step_flops.json`` beside the record."""
    flops = Path(record_path).parent / "step_flops.json"
    if not flops.is_file():
        return "not measured"
    rec = json.loads(flops.read_text())
    return f"{100 * rec['efficiency']:.1f} % ({rec['achieved_gflops']:.0f} of {rec['peak_gflops']:.0f} GFLOP/s)"


def markdown_table(paths: Sequence[Path] | None = None) -> str:
    """The README table, one row per committed record (configuration), generated from the JSON files.

    Records of the older two-recipe schema (no canonical arm) are not listed; they live in ``figures/archive/``.
    """
    paths = sorted(FIGURES.glob("*/time_to_quality.json")) if not paths else list(paths)
    records = [(Path(p), json.loads(Path(p).read_text())) for p in paths]
    records = [(p, r) for p, r in records if r.get("schema") == SCHEMA and "canonical" in r["recipes"]]
    if not records:
        raise SystemExit(f"no {SCHEMA} records found under {FIGURES}/*/time_to_quality.json")
    lines = ["| configuration (measured) | course ms/step | course: FID ≤ 10 / ≤ 5 | canonical ms/step "
             "| canonical: FID ≤ 10 / ≤ 5 | speed-up over canonical at FID ≤ 10 / ≤ 5 | tutorial: best FID "
             "| course step: share of peak FLOP/s | peak RSS |",
             "|---|---|---|---|---|---|---|---|---|"]
    for path, rec in records:
        r, budget = rec["recipes"], rec["budget_s"]
        course, canon, tut = r["course"], r["canonical"], r.get("tutorial")
        eq = rec["equal_quality"]["course"]["canonical"]
        lines.append(
            f"| {configuration_label(rec)}; {rec['created_utc'][:10]}, {budget:g} s per recipe"
            f"{'' if course['recipe'].get('update') == 'alternating' else ', simultaneous update (before 2026-12-06)'} "
            f"([JSON]({_link(path)})) "
            f"| {_fmt(course['ms_per_step'])} "
            f"| {_reach_cell(course, 10, budget)} / {_reach_cell(course, 5, budget)} "
            f"| {_fmt(canon['ms_per_step'])} "
            f"| {_reach_cell(canon, 10, budget)} / {_reach_cell(canon, 5, budget)} "
            f"| {_speedup_cell(eq['10'])} / {_speedup_cell(eq['5'])} "
            f"| {_fmt(tut['best_fid'], '.1f') if tut else 'not run (--long)'} "
            f"| {efficiency_cell(path)} "
            f"| {rec['peak_rss_mb'] / 1024:.2f} GB |")
    return "\n".join(lines)


def _fmt(value: Any, spec: str = ".1f", unit: str = "") -> str:
    return "n/a" if value is None else f"{value:{spec}}{unit}"


def print_summary(record: dict[str, Any]) -> None:
    """A short table on stdout."""
    print(f"\n{'recipe':<40} {'steps':>6} {'ms/step':>9} {'img/s':>8} {'best FID':>9} {'at (s)':>7} {'cov':>5}")
    for rec in record["recipes"].values():
        print(f"{rec['label']:<40} {rec['steps']:>6} {_fmt(rec['ms_per_step']):>9} "
              f"{_fmt(rec['images_per_s'], '.0f'):>8} {_fmt(rec['best_fid'], '.2f'):>9} "
              f"{_fmt(rec['best_fid_time_s']):>7} {_fmt(rec['coverage_at_best_fid'], 'g'):>5}")
    for variant, peers in record["equal_quality"].items():
        for peer, by_target in peers.items():
            for target, eq in by_target.items():
                head = f"{record['recipes'][variant]['label']} vs {record['recipes'][peer]['label']}, FID <= {target}:"
                if eq["speedup"]:
                    print(f"{head} {eq['course_s']:.1f} s vs {eq['peer_s']:.1f} s -> {eq['speedup']:.1f}x "
                          f"(interpolated {_fmt(eq['speedup_interpolated'], '.1f', 'x')})")
                else:
                    print(f"{head} no ratio: {eq['note']}")
    print(f"Peak RSS {record['peak_rss_mb']:.0f} MB; wall time {record['wall_time_s']:.0f} s; load average "
          f"{record['machine']['load_avg_start']} -> {record['machine']['load_avg_end']}")
    print(f"Wrote {record['files']['json']}, {record['files']['plot']}, {record['files']['samples']}")


if __name__ == "__main__":
    main()
