#!/usr/bin/env python
"""Lesson 08's loss comparison at equal wall-clock: DCGAN loss, WGAN-GP and hinge + spectral norm, two seeds each,
plus the recipe with DiffAugment (the small-data question of section 5).

Every arm is lesson 08's code (its cells tagged ``export``): the unconditional 32x32 DCGAN on the training emoji of
one style, trained for ``--seconds`` of training time (evaluation excluded) and scored every ``--eval-every``
seconds: FID of the weight-averaged generator's samples (enlarged 2x2 to the evaluator's 64x64) against the style's
training statistics, at n = the held-out count (so the floor printed in the lesson compares), and category
coverage. The record, ``benchmarks/figures/colour_losses.json``, is what lesson 08 prints its table and its
conclusion from:

    python benchmarks/colour_losses.py                  # 4 arms x 2 seeds x 120 s, about 17 minutes on one core
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from course_utils import clock_training, device  # noqa: E402
from course_utils.validate import int_option, positive_option  # noqa: E402

OUT = ROOT / "benchmarks" / "figures" / "colour_losses.json"
ARMS = {  # name -> (loss, augmentation)
    "dcgan": ("dcgan", "recipe"),
    "wgan-gp": ("wgan-gp", "recipe"),
    "hinge + SN": ("hinge", "recipe"),
    "hinge + SN, DiffAugment": ("hinge", "diffaugment"),
}
"""'recipe': the recipe's policy (RECIPE.augment); 'diffaugment': DiffAugment's full policy (DIFFAUGMENT)."""


def arm_recipe(lesson, name):
    """Arm `name` as a variant of the lesson's recipe: dataclasses.replace(RECIPE, loss=..., augment=...)."""
    loss, augment = ARMS[name]
    return dataclasses.replace(lesson.RECIPE, loss=loss,
                               augment=lesson.RECIPE.augment if augment == "recipe" else lesson.DIFFAUGMENT)


def run_arm(lesson, name, seed, seconds, eval_every, images, judge, style, n, cfg):
    """Train one arm from scratch for `seconds`; return its curve and summary."""
    import keras
    import numpy as np

    recipe = arm_recipe(lesson, name)
    keras.utils.clear_session()
    keras.utils.set_random_seed(seed)
    g = lesson.build_generator(32, n_classes=0, recipe=recipe)
    d = lesson.build_discriminator(32, n_classes=0, recipe=recipe)
    ema = lesson.LESSON_04.make_ema(g)
    g_opt, d_opt = lesson.make_optimizers(recipe)
    step = lesson.make_train_step(g, d, g_opt, d_opt, recipe, ema=ema, jit_compile=cfg.jit_compile)
    batches = iter(lesson.emoji_batches(images, seed=seed))
    z = np.random.default_rng(seed + 100).standard_normal((n, lesson.NOISE_DIM)).astype("float32")

    def evaluate(run):
        fake = lesson.sample(ema, z)
        fake = np.repeat(np.repeat(fake, 2, axis=1), 2, axis=2)
        fid, cov = float(judge.fid(fake, reference=style)), int(judge.class_coverage(fake).n_covered)
        print(f"{name:28s} seed {seed}  t={run.seconds:5.0f} s  step {run.steps:5d}  FID {fid:7.2f}  coverage {cov}/9",
              flush=True)
        return {**run.stamp(), "fid": round(fid, 3), "coverage": cov, "d_loss": round(run.last["d_loss"], 4)}

    run = clock_training.ClockRun(step, batches)
    run.warm_up(count=True, timed=True)  # the first step traces the step function; it counts, and so does its time
    # the budget may end between two evaluations (or before the first): train() then scores the last step too
    curve = clock_training.train(run, clock_training.EverySeconds(eval_every, seconds), evaluate)
    steps, spent = run.steps, run.seconds
    fids = [c["fid"] for c in curve]
    return {"seed": seed, "steps": steps, "train_s": round(spent, 1), "ms_per_step": round(1000 * spent / steps, 1),
            "final_fid": fids[-1], "best_fid": min(fids), "final_coverage": curve[-1]["coverage"],
            "rise_after_best": round(fids[-1] - min(fids), 3), "curve": curve}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=positive_option, default=120.0, help="training seconds per run")
    parser.add_argument("--eval-every", type=positive_option, default=20.0)
    parser.add_argument("--seeds", type=int_option(0), nargs="+", default=[1, 2])
    parser.add_argument("--arms", nargs="+", choices=sorted(ARMS), default=list(ARMS))
    parser.add_argument("--style", choices=("google", "twitter"), default="google")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)

    device.quiet_tensorflow_startup()

    from course_utils import colour_evaluator, data, lessons

    cfg = device.setup(0, training=True)
    lesson = lessons.load_lesson_code("08_colour_gans")
    images = getattr(data.load_emoji(args.style, "train", size=32), args.style)
    n = len(data.load_emoji(args.style, "held_out").categories)
    judge = colour_evaluator.load_colour_evaluator()
    arms = {name: {"loss": ARMS[name][0], "augment": list(arm_recipe(lesson, name).augment),
                   "runs": [run_arm(lesson, name, seed, args.seconds, args.eval_every, images, judge, args.style, n,
                                    cfg) for seed in args.seeds]}
            for name in args.arms}
    record = {
        "description": "Lesson 08's losses at equal training time: unconditional 32x32 DCGAN on one emoji style, "
                       "FID (samples enlarged 2x2) against the style's training statistics at n = fid_samples",
        "seconds": args.seconds, "eval_every": args.eval_every, "seeds": args.seeds, "style": args.style,
        "fid_samples": n, "recipe": dataclasses.asdict(lesson.RECIPE), "arms": arms,
        **clock_training.provenance("benchmarks/colour_losses.py", argv),
    }
    clock_training.write_record(args.out, record)
    print(f"wrote {args.out}")
    return record


if __name__ == "__main__":
    main()
