#!/usr/bin/env python
"""Train the course's DCGAN generator for longer than a lesson can, and ship it in data/ with its record.

The recipe is lesson 04's, loaded from its cells tagged ``export`` (so it is exactly the code learners read).
Every ``--eval-every`` seconds of training the weight-averaged (EMA) generator is scored on one noise batch; the
best-scoring weights are kept (with a high learning rate the recipe's FID levels off and wobbles after a few
minutes). What ships is that generator, with the FID and class coverage the course evaluator gives it on a
*different* noise batch of 2,000 samples (so the choice does not flatter the figure), the training curve, the
machine and the versions:

    python tools/train_course_generator.py --minutes 10        # writes data/dcgan_generator.{weights.h5,json}

``course_utils.pretrained.load_trained_generator`` verifies the weights against the record before loading them.
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
from course_utils.validate import positive_option  # noqa: E402

LESSON = "04_dcgan"


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=positive_option, default=10.0, help="training time (evaluation excluded)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--eval-every", type=float, default=30.0, help="seconds of training between evaluations")
    parser.add_argument("--fid-samples", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=None, help="folder to write to (default: data/)")
    args = parser.parse_args(argv)

    tf = device.quiet_tensorflow_startup()  # oneDNN and threads chosen first, as in the lessons
    import numpy as np

    from course_utils import clock_training, data, evaluator, lessons, pretrained

    cfg = device.setup(args.seed, training=True)
    lesson = lessons.load_lesson_code(LESSON)
    ds = data.load_mnist(verbose=False)
    x = data.to_float_images(ds.x_train)
    recipe = lesson.RECIPE
    g, d = lesson.build_generator(recipe), lesson.build_discriminator(recipe)
    ema = lesson.make_ema(g)
    g_opt, d_opt = lesson.make_optimizers(recipe)
    step = lesson.make_train_step(g, d, g_opt, d_opt, recipe, ema=ema, jit_compile=cfg.jit_compile)
    batches = iter(tf.data.Dataset.from_tensor_slices(x).repeat().shuffle(len(x), seed=args.seed)
                   .batch(recipe.batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE))
    judge = evaluator.load_evaluator()
    noise = np.random.default_rng(args.seed).standard_normal((args.fid_samples, recipe.noise_dim)).astype("float32")
    report_noise = np.random.default_rng(args.seed + 1).standard_normal(noise.shape).astype("float32")

    def score(model, z):
        images = lesson.sample(model, z)
        cov = judge.class_coverage(images)
        return float(judge.fid(images)), int(cov.n_covered)

    def evaluate(run):
        fid, cov = score(ema, noise)
        print(f"t={run.seconds:6.0f} s  step {run.steps:6d}  FID {fid:7.2f}  coverage {cov}/10", flush=True)
        return {**run.stamp(), "fid": round(fid, 3), "coverage": cov}

    run = clock_training.ClockRun(step, batches)
    run.warm_up(count=True)  # trace once (counted as a step, like in the lesson; not timed)
    best = clock_training.BestWeights(ema, accept=lambda point: point["coverage"] == 10)
    curve = clock_training.train(run, clock_training.EverySeconds(args.eval_every, 60.0 * args.minutes), evaluate,
                                 best=best)
    chosen = best.restore() or run.stamp()
    steps, spent = run.steps, run.seconds
    fid, cov = score(ema, report_noise)
    fid = round(fid, 3)
    record = {
        "description": "The course's DCGAN generator (weight-averaged), trained with lesson 04's recipe for longer "
                       "than a lesson can; loaded by course_utils.pretrained.load_trained_generator.",
        "recipe": dataclasses.asdict(recipe), "steps": chosen["step"], "train_time_s": chosen["time_s"],
        "trained_steps": steps, "trained_s": round(spent, 1), "seed": args.seed,
        "selection": "the EMA weights at the evaluation with the lowest FID on the selection noise (seed) with all "
                     "10 classes; fid/coverage are measured afterwards on another noise batch (seed + 1)",
        "fid": fid, "coverage": cov, "fid_samples": args.fid_samples,
        "fid_evaluator": "course_utils.evaluator (FID in the course classifier's feature space, against its "
                         "reference statistics)",
        "data": {"name": ds.name, "source": ds.source, "train_images": int(len(x))},
        "curve": curve,
        **clock_training.provenance("tools/train_course_generator.py", argv, gpus=cfg.gpus, flags=True),
    }
    weights, path = pretrained.save_trained_generator(ema, record, directory=args.out)
    print(f"wrote {weights} and {path}: FID {fid:.2f}, {cov}/10 classes after {steps} steps ({spent:.0f} s)")
    return record


if __name__ == "__main__":
    main()
