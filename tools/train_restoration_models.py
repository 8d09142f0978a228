#!/usr/bin/env python
"""Train lesson 06's restoration U-Nets for longer than the lesson can, and ship them in data/ with their records.

The recipe is lesson 06's, loaded from its cells tagged ``export`` (``build_model``, ``Run``, ``degrade_task``...),
so it is exactly the code learners read. For each task the L1 U-Net trains ``--seconds`` seconds. For the tasks
with an adversarial variant (inpainting and 4x super-resolution), the L1 weights after ``--gan-from`` of those
seconds start the pix2pix run, which trains the remaining seconds: both models of a task cost the same training
time (or, with ``--gan-seconds``, the adversarial run continues from the final L1 weights for that long, as SRGAN
started from its L1-trained network; at most 180 s in all). Each model is then scored on the lesson's held-out
images (PSNR and SSIM; for digits also the course evaluator's FID and class coverage), and written as
``data/restore_<task>[_gan].weights.h5`` + ``.json``:

    python tools/train_restoration_models.py --task denoise --seconds 120
    python tools/train_restoration_models.py --task inpaint --seconds 120 --gan-from 60

``course_utils.pretrained.load_trained_model`` verifies the weights against the record before loading them.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import platform
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from course_utils import device  # noqa: E402

LESSON = "06_image_restoration"
ADVERSARIAL = ("inpaint", "sr4")
TEST_SEED, TEST_PATCHES, TEST_SIZE = 2026, 48, 48  # the lesson's held-out photo patches


def held_out(lesson, task, mnist):
    """The lesson's held-out clean images and damaged inputs for a task."""
    import numpy as np

    if lesson.TASKS[task]["data"] == "digits":
        clean = (mnist.x_test[..., None] / 255.0).astype(np.float32)
    else:
        clean = lesson.random_patches(lesson.TEST_PHOTOS, TEST_PATCHES, TEST_SIZE, TEST_SEED)
    return clean, lesson.degrade_task(task, clean, seed=7, **lesson.TASKS[task]["test"])


def metrics(lesson, task, model, clean, inputs):
    """PSNR and SSIM (scikit-image, Wang et al.'s settings) on held-out images; FID and coverage for digits."""
    import numpy as np
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    from course_utils import evaluator

    out = lesson.restore(model, inputs)
    settings = {"data_range": 1.0, "gaussian_weights": True, "sigma": 1.5, "use_sample_covariance": False,
                "win_size": 11}
    result = {"psnr": round(float(np.mean([peak_signal_noise_ratio(c[..., 0], r[..., 0], data_range=1.0)
                                           for c, r in zip(clean, out)])), 3),
              "ssim": round(float(np.mean([structural_similarity(c[..., 0], r[..., 0], **settings)
                                           for c, r in zip(clean, out)])), 4),
              "images": int(len(clean)), "damage": lesson.TASKS[task]["test"]}
    if lesson.TASKS[task]["data"] == "digits":
        result["fid"] = round(float(evaluator.fid(out, value_range=(0, 1))), 3)
        result["coverage"] = int(evaluator.class_coverage(out, value_range=(0, 1)).n_covered)
    return result


def _adversarial(args, lesson, pool, clean, inputs, common, snapshot, gan_seconds, tmp) -> dict:
    """Train the pix2pix model from the L1 weights in ``snapshot`` (model, steps, seconds) and ship it."""
    from course_utils import pretrained

    init, init_steps, init_s = snapshot
    gan = lesson.Run(Path(tmp) / "gan", args.task, adversarial=True, init_from=init)
    losses = gan.train(pool, gan_seconds)
    gan_s = float(gan.seconds.numpy())
    record = {**common, "description": f"lesson 06's U-Net for {args.task}: L1, then L1 + PatchGAN (pix2pix)",
              "loss": f"L1 for {init_steps} steps ({init_s:.1f} s), then pix2pix (adversarial + "
                      f"{lesson.RECIPE.l1_weight:g} x L1)",
              "init_steps": init_steps, "init_time_s": round(init_s, 1), "adversarial_steps": int(gan.steps.numpy()),
              "adversarial_time_s": round(gan_s, 1), "steps": init_steps + int(gan.steps.numpy()),
              "train_time_s": round(init_s + gan_s, 1),
              "final_losses": {k: round(v, 5) for k, v in losses.items()},
              "metrics": metrics(lesson, args.task, gan.model, clean, inputs)}
    pretrained.save_trained_generator(gan.model, record, name=f"restore_{args.task}_gan", directory=args.out)
    print(f"restore_{args.task}_gan: {record['steps']} steps in {record['train_time_s']} s, {record['metrics']}")
    return record


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", required=True, choices=("denoise", "inpaint", "sr2", "sr4"))
    parser.add_argument("--seconds", type=float, default=120.0, help="training seconds per model (at most 180)")
    parser.add_argument("--gan-from", type=float, default=None,
                        help="seconds of L1 training that start the adversarial run (default: half of --seconds)")
    parser.add_argument("--gan-seconds", type=float, default=None,
                        help="seconds of adversarial training (default: --seconds minus --gan-from)")
    parser.add_argument("--init-shipped", action="store_true",
                        help="train only the adversarial model, starting from the shipped L1 model data/restore_<task> "
                             "(its recorded training time counts towards the 180 s)")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--out", type=Path, default=None, help="folder to write to (default: data/)")
    args = parser.parse_args(argv)
    if not 0 < args.seconds <= 180:
        parser.error(f"--seconds must be in (0, 180] (the course's limit per model), got {args.seconds}")
    gan_from = args.seconds / 2 if args.gan_from is None else args.gan_from
    gan_seconds = args.seconds - gan_from if args.gan_seconds is None else args.gan_seconds
    if args.task in ADVERSARIAL and not (0 < gan_from <= args.seconds and 0 < gan_seconds and gan_from + gan_seconds <= 180):
        parser.error(f"--gan-from must be in (0, --seconds] and --gan-from + --gan-seconds at most 180, got {gan_from} "
                     f"and {gan_seconds}")

    tf = device.quiet_tensorflow_startup()
    import keras

    from course_utils import data, lessons, pretrained

    cfg = device.setup(args.seed)
    lesson = lessons.load_lesson_code(LESSON)
    mnist = data.load_mnist(verbose=False)
    pool = lesson.training_pool(args.task, mnist)
    clean, inputs = held_out(lesson, args.task, mnist)
    cpu = device.cpu_config()
    common = {
        "task": args.task, "recipe": dataclasses.asdict(lesson.RECIPE), "seed": args.seed,
        "data": {"digits": f"{mnist.name} ({mnist.source}), {len(mnist.x_train)} training digits",
                 "photos": f"scikit-image {lesson.TRAIN_PHOTOS}, random {lesson.RECIPE.patch}-pixel patches"}[
            lesson.TASKS[args.task]["data"]],
        "held_out": {"digits": f"the {len(clean)} held-out digits",
                     "photos": f"{TEST_PATCHES} patches {TEST_SIZE}x{TEST_SIZE} of {lesson.TEST_PHOTOS} (seed {TEST_SEED})"}[
            lesson.TASKS[args.task]["data"]],
        "machine": {"cpu_model": cpu.model, "cpu_flags": list(cpu.flags), "usable_cpus": cpu.usable_cpus,
                    "onednn": device.onednn_active(), "gpus": list(cfg.gpus), "platform": platform.platform(terse=True)},
        "versions": {"python": platform.python_version(), "tensorflow": tf.__version__, "keras": keras.__version__},
        "created_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": "python tools/train_restoration_models.py " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    records = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.init_shipped:
            init = lesson.build_model(args.task)
            shipped = pretrained.load_trained_model(init, f"restore_{args.task}")
            if shipped["train_time_s"] + gan_seconds > 180:
                raise SystemExit(f"the shipped L1 model trained {shipped['train_time_s']} s: with {gan_seconds} s more "
                                 "the adversarial model would exceed 180 s")
            snapshot = (init, shipped["steps"], shipped["train_time_s"])
            return records + [_adversarial(args, lesson, pool, clean, inputs, common, snapshot, gan_seconds, tmp)]
        run = lesson.Run(Path(tmp) / "l1", args.task)
        snapshot, losses = None, {}
        if args.task in ADVERSARIAL:
            losses = run.train(pool, min(gan_from, args.seconds))
            snapshot = (lesson.build_model(args.task), int(run.steps.numpy()), float(run.seconds.numpy()))
            snapshot[0].set_weights(run.model.get_weights())
        remaining = args.seconds - float(run.seconds.numpy())
        if remaining > 0.5:
            losses = run.train(pool, remaining)
        record = {**common, "description": f"lesson 06's U-Net trained with L1 for {args.task}",
                  "loss": "L1", "steps": int(run.steps.numpy()), "train_time_s": round(float(run.seconds.numpy()), 1),
                  "final_losses": {k: round(v, 5) for k, v in losses.items()},
                  "metrics": metrics(lesson, args.task, run.model, clean, inputs)}
        pretrained.save_trained_generator(run.model, record, name=f"restore_{args.task}", directory=args.out)
        records.append(record)
        print(f"restore_{args.task}: {record['steps']} steps in {record['train_time_s']} s, {record['metrics']}", flush=True)
        if snapshot is not None:
            records.append(_adversarial(args, lesson, pool, clean, inputs, common, snapshot, gan_seconds, tmp))
    return records


if __name__ == "__main__":
    main()
