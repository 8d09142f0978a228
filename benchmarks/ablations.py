#!/usr/bin/env python
"""Ablations of lesson 04's DCGAN recipe: what each departure from Radford et al. (2016) is worth, measured.

Each arm trains the recipe of ``notebooks/04_dcgan.py`` (its ``export`` cells, loaded fresh for every arm) with one
thing changed, for the same number of steps and from the same seed, and scores the weight-averaged generator (and,
for the full recipe, the raw one) with the course evaluator every ``--eval-every`` steps: FID against the 4,000
training digits on 2,000 samples, and class coverage. Arms are compared at equal *steps*, so the figures do not
depend on how busy the machine was; ms/step is recorded too (it does depend on it).

Arms:
- ``recipe``: the lesson's recipe as it is (also scored without the weight average: ``recipe, no EMA``);
- ``two D convolutions``: the discriminator without its third convolution;
- ``no label smoothing``: real label 1.0 instead of 0.9;
- ``2-pixel shifts``: random translations of D's inputs by up to 2 pixels (the recipe's ``translate`` is 0);
- ``no R1``: no R1 penalty on D's gradient at the real digits (``r1_gamma`` 0);
- ``simultaneous``: both players step from one forward pass (the TensorFlow tutorial's order) instead of the
  recipe's alternating one (a D step on fakes, then a G step on fresh noise through the updated D); its steps
  cost less, so the record also has ms/step.

Usage: ``python benchmarks/ablations.py [--steps 3000] [--seeds 0 1] [--add] [--out benchmarks/figures/ablations.json]``
(about 2 minutes per arm and seed on 2 CPU cores; ``--add`` keeps the seeds already recorded), or one seed per core
side by side, each with its own ``--out``, then ``python benchmarks/ablations.py --merge A.json B.json [--out ...]``.
The lesson quotes only what the JSON record holds.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from course_utils import clock_training, device  # noqa: E402
from course_utils.validate import int_option  # noqa: E402

ARMS = ("recipe", "two D convolutions", "no label smoothing", "2-pixel shifts", "no R1", "simultaneous")
EXTRA_ARMS = ("longer average",)  # explorations, run only when asked for by name
RECIPE_CHANGES: dict[str, dict[str, Any]] = {  # each arm is dataclasses.replace(lesson 04's RECIPE, **changes)
    "recipe": {},
    "two D convolutions": {},  # the recipe, with another discriminator (two_conv_discriminator)
    "no label smoothing": {"real_label": 1.0},
    "2-pixel shifts": {"translate": 2},
    "no R1": {"r1_gamma": 0.0},
    "simultaneous": {"update": "simultaneous"},
    "longer average": {"ema_decay": 0.999},  # a weight average over ~1,000 steps instead of ~200
}


def arm_recipe(lesson, arm: str):
    """Lesson 04's recipe as ``arm`` changes it: a new frozen value; the lesson itself is left as it is."""
    if arm not in RECIPE_CHANGES:
        raise ValueError(f"expected an arm of {sorted(RECIPE_CHANGES)}, got {arm!r}")
    return dataclasses.replace(lesson.RECIPE, **RECIPE_CHANGES[arm])


def two_conv_discriminator(recipe):
    """The lesson's discriminator without its third convolution."""
    import keras
    from keras import layers

    k, slope, width = recipe.kernel_size, recipe.leaky_slope, recipe.discriminator_width
    return keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(width, k, strides=2, padding="same"), layers.LeakyReLU(negative_slope=slope),
        layers.Conv2D(2 * width, k, strides=2, padding="same"), layers.LeakyReLU(negative_slope=slope),
        layers.Flatten(), layers.Dense(1, dtype="float32"),
    ], name="discriminator")


def run_arm(arm: str, seed: int, steps: int, eval_every: int, x_train, judge, fid_samples: int) -> dict[str, Any]:
    """Train one arm from `seed` for `steps` steps; return its curve and timings."""
    import keras
    import tensorflow as tf

    from course_utils import lessons

    L = lessons.load_lesson_code("04_dcgan")
    recipe = arm_recipe(L, arm)
    keras.utils.set_random_seed(seed)
    generator = L.build_generator(recipe)
    discriminator = two_conv_discriminator(recipe) if arm == "two D convolutions" else L.build_discriminator(recipe)
    ema = L.make_ema(generator)
    g_opt, d_opt = L.make_optimizers(recipe)
    step = L.make_train_step(generator, discriminator, g_opt, d_opt, recipe, ema=ema)
    bs = recipe.batch_size
    score_noise = tf.random.normal([fid_samples, recipe.noise_dim], seed=1000 + seed)

    def evaluate(run):
        point = {"step": run.steps, "train_s": round(run.seconds, 2), **{k: round(v, 4) for k, v in run.last.items()}}
        for name, net in (("ema", ema), ("raw", generator)) if arm == "recipe" else (("ema", ema),):
            images = L.sample(net, score_noise)
            point[f"fid_{name}"] = round(float(judge.fid(images)), 3)
            point[f"coverage_{name}"] = int(judge.class_coverage(images).n_covered)
        print(f"  {arm} seed {seed} step {run.steps}: FID {point['fid_ema']:.2f}"
              + (f" (raw {point['fid_raw']:.2f})" if "fid_raw" in point else "") + f"  {run.seconds:.0f} s", flush=True)
        return point

    run = clock_training.ClockRun(step, clock_training.ShuffledBatches(x_train, bs, seed))
    run.warm_up(tf.constant(x_train[:bs]))  # trace outside the clock (one extra step, same for all arms)
    curve = clock_training.train(run, clock_training.EverySteps(eval_every, steps), evaluate)
    train_s = run.seconds
    return {"arm": arm, "seed": seed, "steps": steps, "ms_per_step": round(1000 * train_s / steps, 2), "curve": curve}


def summarize(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per arm (and 'recipe, no EMA'): mean over seeds of FID at each evaluated step and the best FID."""
    rows = []
    names = [(a, "ema") for a in ARMS + EXTRA_ARMS] + [("recipe", "raw")]
    for arm, which in names:
        mine = [r for r in runs if r["arm"] == arm]
        if not mine:
            continue
        steps = [p["step"] for p in mine[0]["curve"]]
        fid_at = {s: round(sum(next(p[f"fid_{which}"] for p in r["curve"] if p["step"] == s) for r in mine) / len(mine), 2)
                  for s in steps}
        best = [min(p[f"fid_{which}"] for p in r["curve"]) for r in mine]
        rows.append({"arm": arm if which == "ema" else "recipe, no EMA", "seeds": [r["seed"] for r in mine],
                     "fid_at_step": fid_at, "best_fid": round(sum(best) / len(best), 2),
                     "best_fid_per_seed": best,
                     "final_coverage": [r["curve"][-1][f"coverage_{which}"] for r in mine],
                     "ms_per_step": round(sum(r["ms_per_step"] for r in mine) / len(mine), 1)})
    return rows


def merge(paths: list[Path], out: Path) -> dict[str, Any]:
    """One record from several (same machine and code, other seeds): runs concatenated, rows recomputed."""
    records = [json.loads(p.read_text()) for p in paths]
    runs = [r for rec in records for r in rec["runs"]]
    keys = [(r["arm"], r["seed"]) for r in runs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"the records repeat an (arm, seed) pair; expected each once, got {sorted(keys)}")
    if len({rec["training_digits"] for rec in records}) != 1:
        raise ValueError("the records were trained on different data; expected one training set")
    record = {**records[0], "commands": [c for rec in records for c in rec["commands"]]
              + ["python benchmarks/ablations.py --merge " + " ".join(p.name for p in paths)],
              "rows": summarize(runs), "runs": runs}
    clock_training.write_record(out, record)
    print(f"wrote {out} from {len(runs)} runs")
    return record


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int_option(1), default=3000)
    parser.add_argument("--eval-every", type=int_option(1), default=500)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=ARMS + EXTRA_ARMS)
    parser.add_argument("--fid-samples", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "figures" / "ablations.json")
    parser.add_argument("--add", action="store_true",
                        help="keep the runs already in --out (other seeds) and add these; the rows average all")
    parser.add_argument("--merge", type=Path, nargs="+", metavar="RECORD",
                        help="write --out from the runs of these records (e.g. one seed per core, run side by side)")
    args = parser.parse_args(argv)
    if args.merge:
        return merge(args.merge, args.out)
    if args.steps < args.eval_every or args.steps % args.eval_every:
        parser.error(f"--steps must be a positive multiple of --eval-every ({args.eval_every}), got {args.steps}")
    device.configure_cpu()
    import keras
    import tensorflow as tf

    from course_utils import data, evaluator

    judge = evaluator.load_evaluator()
    x_train = data.to_float_images(data.load_mnist(verbose=False).x_train)
    runs = json.loads(args.out.read_text())["runs"] if args.add and args.out.is_file() else []
    runs = [r for r in runs if r["seed"] not in args.seeds or r["arm"] not in args.arms]
    for seed in args.seeds:
        for arm in args.arms:
            runs.append(run_arm(arm, seed, args.steps, args.eval_every, x_train, judge, args.fid_samples))
    cfg = device.cpu_config()
    record = {
        "what": "lesson 04's recipe with one change per arm, equal steps, course evaluator FID (2,000 samples, "
                "against the 4,000 training digits) of the weight-averaged generator",
        "commands": (json.loads(args.out.read_text()).get("commands", []) if args.add and args.out.is_file() else [])
        + ["python benchmarks/ablations.py " + " ".join(argv if argv is not None else sys.argv[1:])],
        "machine": {"cpu": cfg.model, "flags": list(cfg.flags), "usable_cpus": cfg.usable_cpus,
                    "onednn": cfg.onednn, "threads": [cfg.intra_threads, cfg.inter_threads],
                    "python": platform.python_version(), "tensorflow": tf.__version__, "keras": keras.__version__},
        "training_digits": int(len(x_train)),
        "rows": summarize(runs),
        "runs": runs,
    }
    clock_training.write_record(args.out, record)
    print(f"wrote {args.out}")
    for row in record["rows"]:
        print(f"{row['arm']:22s} FID at steps {row['fid_at_step']}  best {row['best_fid']}  {row['ms_per_step']} ms/step")
    return record


if __name__ == "__main__":
    main()
