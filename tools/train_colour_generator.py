#!/usr/bin/env python
"""Train the course's 64x64 colour generator (lesson 08) for longer than a lesson can, and ship it in data/.

The recipe is lesson 08's, loaded from its cells tagged ``export`` (the code learners read): the class-conditional
DCGAN at 64x64 with the recipe's loss, its augmentation (none; lesson 08, section
5) and the weight average, on the 1,589 training emoji of one style. Every ``--eval-every`` seconds of training the
weight-averaged generator is scored on one batch of noise and categories (as many images as the held-out split has,
so that its FID compares with the evaluator's real-vs-real floor at equal n); the best-scoring weights are kept.
What ships is that generator, with the FID and coverage measured afterwards on *another* noise batch, the curve, the
machine and the versions:

    python tools/train_colour_generator.py --minutes 25     # writes data/colour_generator.{weights.h5,json}

``course_utils.pretrained.load_trained_model(generator, "colour_generator")`` checks the weights against the record.
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

from course_utils import device  # noqa: E402
from course_utils.validate import int_option, positive_option  # noqa: E402

LESSON = "08_colour_gans"
NAME = "colour_generator"


def build_parser() -> argparse.ArgumentParser:
    """The command line (tests read a record's `command` with it)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=positive_option, default=25.0, help="training time (evaluation excluded)")
    parser.add_argument("--seed", type=int_option(0), default=2026)
    parser.add_argument("--style", choices=("google", "twitter"), default="google")
    parser.add_argument("--eval-every", type=positive_option, default=60.0, help="seconds of training between evaluations")
    parser.add_argument("--loss", choices=("dcgan", "wgan-gp", "hinge"), default=None,
                        help="the loss (default: the recipe's)")
    parser.add_argument("--augment", nargs="*", choices=("colour", "translation", "cutout"), default=None,
                        help="DiffAugment policy (default: the recipe's; give no name for none)")
    parser.add_argument("--decay-from", type=float, default=None,
                        help="fraction of the budget after which both learning rates fall linearly to 0 at its end "
                             "(CycleGAN's schedule uses 0.5; default: the recipe's constant rate)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="what the budget counts: wall-clock seconds, or the CPU seconds this process got "
                             "(time.process_time; fair on a shared machine when pinned to one core with taskset)")
    parser.add_argument("--out", type=Path, default=None, help="folder to write to (default: data/)")
    return parser


def main(argv=None) -> dict:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.decay_from is not None and not 0 <= args.decay_from < 1:
        parser.error(f"--decay-from must be in [0, 1), got {args.decay_from}")

    device.quiet_tensorflow_startup()
    import numpy as np

    from course_utils import clock_training, colour_evaluator, data, lessons, pretrained

    cfg = device.setup(args.seed, training=True)
    lesson = lessons.load_lesson_code(LESSON)
    changes = {"augment": None if args.augment is None else tuple(args.augment), "loss": args.loss}
    recipe = dataclasses.replace(lesson.RECIPE, **{k: v for k, v in changes.items() if v is not None})
    train = data.load_emoji(args.style, "train")
    held = data.load_emoji(args.style, "held_out")
    images = getattr(train, args.style)
    g, d = lesson.build_generator(64, recipe=recipe), lesson.build_discriminator(64, recipe=recipe)
    ema = lesson.LESSON_04.make_ema(g)
    g_opt, d_opt = lesson.make_optimizers(recipe)
    step = lesson.make_train_step(g, d, g_opt, d_opt, recipe, ema=ema, jit_compile=cfg.jit_compile)
    batches = iter(lesson.emoji_batches(images, train.categories, seed=args.seed))
    judge = colour_evaluator.load_colour_evaluator()
    n = len(held.categories)  # FID at the floor's sample count

    def draw(seed):
        rng = np.random.default_rng(seed)  # categories as often as in the training set
        return (rng.standard_normal((n, lesson.NOISE_DIM)).astype("float32"),
                rng.choice(train.categories, n).astype("int32"))

    def score(z_and_labels):
        fake = lesson.sample(ema, *z_and_labels)
        return float(judge.fid(fake, reference=args.style)), int(judge.class_coverage(fake).n_covered)

    def evaluate(run):
        fid, cov = score(select)
        print(f"t={run.seconds:6.0f} s  step {run.steps:6d}  FID {fid:7.2f}  coverage {cov}/9", flush=True)
        return {**run.stamp(), "fid": round(fid, 3), "coverage": cov, "learning_rate": float(g_opt.learning_rate)}

    budget = 60.0 * args.minutes
    base_lr = float(recipe.learning_rate)

    decay_start = None if args.decay_from is None else args.decay_from * budget

    def decay(run):  # --decay-from: both learning rates fall linearly to 0 at the end of the budget
        if decay_start is not None and run.seconds > decay_start:
            for opt in (g_opt, d_opt):
                opt.learning_rate = base_lr * (budget - run.seconds) / ((1 - args.decay_from) * budget)

    select, report = draw(args.seed), draw(args.seed + 1)
    run = clock_training.ClockRun(step, batches, clock=args.clock, before_step=decay)
    run.warm_up(count=True)  # trace once (counted as a step; not timed)
    best = clock_training.BestWeights(ema)
    curve = clock_training.train(run, clock_training.EverySeconds(args.eval_every, budget), evaluate, best=best)
    chosen = best.restore()
    steps, spent = run.steps, run.seconds
    fid, cov = score(report)
    floor = float(judge.fid(getattr(held, args.style), reference=args.style))
    record = {
        "description": "The course's 64x64 class-conditional colour generator (weight-averaged), trained with lesson "
                       "08's recipe for longer than a lesson can; loaded by "
                       "course_utils.pretrained.load_trained_model(generator, 'colour_generator').",
        "recipe": dataclasses.asdict(recipe), "size": 64,
        "schedule": ("constant learning rate" if args.decay_from is None else
                     f"learning rate constant for the first {args.decay_from:.0%} of the budget, then linear to 0"),
        "decay_from_s": None if decay_start is None else round(decay_start, 1),
        "style": args.style, "n_classes": int(lesson.N_CLASSES),
        "clock": "CPU seconds of the process (time.process_time)" if args.clock == "cpu" else "wall-clock seconds",
        "steps": chosen["step"], "train_time_s": chosen["time_s"], "trained_steps": steps, "trained_s": round(spent, 1),
        "seed": args.seed,
        "selection": "the EMA weights at the evaluation with the lowest FID on the selection noise and categories "
                     "(seed); fid/coverage are measured afterwards on another draw (seed + 1)",
        "fid": round(fid, 3), "coverage": cov, "fid_samples": n, "floor": round(floor, 3),
        "metrics": {"fid": round(fid, 3), "coverage": cov, "floor": round(floor, 3), "fid_over_floor": round(fid / floor, 2)},
        "floor_how": f"the {n} held-out emoji of the style against the evaluator's statistics of its training emoji",
        "fid_evaluator": "course_utils.colour_evaluator (the course's emoji CNN), against the style's training "
                         "statistics, at n = the held-out count",
        "data": {"name": f"emoji ({args.style} style, training split)", "train_images": int(len(images))},
        "curve": curve,
        **clock_training.provenance("tools/train_colour_generator.py", argv, gpus=cfg.gpus, flags=True),
    }
    weights, path = pretrained.save_trained_generator(ema, record, name=NAME, directory=args.out)
    print(f"wrote {weights} and {path}: FID {fid:.2f} (floor {floor:.2f}), {cov}/9 categories after {steps} steps "
          f"({spent:.0f} s)")
    return record


if __name__ == "__main__":
    main()
