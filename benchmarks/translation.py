#!/usr/bin/env python
"""pix2pix against CycleGAN on the paired emoji (lesson 09), with the ablations that teach, at equal training time.

Every arm trains lesson 09's code (its cells tagged ``export``) for the same CPU time (``time.process_time``: on a
shared machine, the time the process actually got; run it pinned to one core with ``taskset -c 0``) from the same seeds,
Google style -> Twitter style on the 1,589 training pairs, and is scored on the 282 held-out emoji against their
true Twitter drawings (PSNR, SSIM) and against Twitter's training statistics (the colour evaluator's FID and
category coverage). The identity (output = input) and the classical baseline (histogram matching) are scored the
same way. The record is what lesson 09's tables read:

    python benchmarks/translation.py --seconds 150 --seeds 0 1     # writes benchmarks/figures/translation.json
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from course_utils import atomic, device  # noqa: E402
from course_utils.validate import int_option, positive_option  # noqa: E402

LESSON = "09_image_translation"
OUT = ROOT / "benchmarks" / "figures" / "translation.json"
ARMS = {
    "pix2pix": ("pix2pix", {}),
    "pix2pix, L1 only": ("pix2pix", {"adversarial": False}),
    "pix2pix, adversarial only": ("pix2pix", {"l1_weight": 0.0}),
    "CycleGAN": ("cyclegan", {}),
    "CycleGAN, residual generators": ("cyclegan", {"recipe": {"cyclegan_residual": True}}),
    "CycleGAN, no identity loss": ("cyclegan", {"identity_weight": 0.0}),
    "CycleGAN, lambda_cycle = 1": ("cyclegan", {"cycle_weight": 1.0, "identity_weight": 0.5}),
    "CycleGAN, lambda_cycle = 100": ("cyclegan", {"cycle_weight": 100.0, "identity_weight": 50.0}),
}
"""Each arm: the kind of model and how it differs from lesson 09's recipe: loss weights (identity = lambda / 2), or
``{"recipe": {...}}`` for recipe entries."""


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=positive_option, default=150.0, help="training time per run")
    parser.add_argument("--seeds", type=int_option(0), nargs="+", default=[0, 1])
    parser.add_argument("--arms", nargs="+", choices=sorted(ARMS), default=list(ARMS))
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--merge", type=Path, nargs="+", default=None,
                        help="instead of training: join records of the same settings written by runs with other "
                             "--arms (e.g. one per core, side by side) into --out")
    args = parser.parse_args(argv)
    if args.merge:
        return merge(args.merge, args.out)

    tf = device.quiet_tensorflow_startup()
    import keras

    from course_utils import colour_evaluator, data, lessons

    cfg = device.setup(0, training=True)
    lesson = lessons.load_lesson_code(LESSON)
    train, held = data.load_emoji("both", "train"), data.load_emoji("both", "held_out")
    x, y = lesson.to_unit(train.google), lesson.to_unit(train.twitter)
    judge = colour_evaluator.load_colour_evaluator()
    baselines = {"identity": lesson.translation_scores(judge, held.twitter, held.google),
                 "histogram matching": lesson.translation_scores(
                     judge, held.twitter, lesson.histogram_transfer(held.google, train.twitter)),
                 "affine colour map": lesson.translation_scores(
                     judge, held.twitter, lesson.apply_colour_map(
                         held.google, lesson.fit_colour_map(train.google, train.twitter)))}
    print({k: {m: round(v, 3) for m, v in s.items()} for k, s in baselines.items()}, flush=True)
    arms = {}
    for name in args.arms:
        kind, options = ARMS[name]
        run_options = {k: v for k, v in options.items() if k != "recipe"}
        recipe = dataclasses.replace(lesson.RECIPE, **options.get("recipe", {}))
        runs = []
        for seed in args.seeds:
            with tempfile.TemporaryDirectory() as folder:
                run = lesson.TranslationRun(folder, kind, seed=seed, recipe=recipe, jit_compile=cfg.jit_compile,
                                            **run_options)
                losses = run.train(x, y, args.seconds, clock=time.process_time)
                steps, seconds = int(run.steps.numpy()), float(run.seconds.numpy())
                scores = lesson.translation_scores(judge, held.twitter, lesson.translate(run.g, held.google))
            runs.append({"seed": seed, **{k: round(v, 4) for k, v in scores.items()}, "steps": steps,
                         "train_s": round(seconds, 1), "ms_per_step": round(1000 * seconds / steps, 1),
                         "final_losses": {k: round(v, 4) for k, v in losses.items()}})
            print(name, runs[-1], flush=True)
            del run
            keras.utils.clear_session()
        arms[name] = {"kind": kind, "options": options, "runs": runs}
    cpu = device.cpu_config()
    record = {
        "description": "Lesson 09's translation arms (Google -> Twitter emoji) at equal training time (CPU "
                       "seconds of the process, time.process_time, pinned to one core): scored on "
                       "the held-out emoji against their true Twitter drawings (PSNR, SSIM) and against Twitter's "
                       "training statistics (colour FID, category coverage).",
        "seconds": args.seconds, "seeds": list(args.seeds), "recipe": dataclasses.asdict(lesson.RECIPE),
        "held_out": int(len(held)), "baselines": {k: {m: round(v, 4) for m, v in s.items()} for k, s in
                                                  baselines.items()},
        "arms": arms,
        "machine": {"cpu_model": cpu.model, "usable_cpus": cpu.usable_cpus, "onednn": device.onednn_active(),
                    "gpus": list(cfg.gpus), "platform": platform.platform(terse=True)},
        "versions": {"python": platform.python_version(), "tensorflow": tf.__version__, "keras": keras.__version__},
        "created_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": "python benchmarks/translation.py " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    atomic.write_text(args.out, json.dumps(record, indent=1) + "\n")
    print(f"wrote {args.out}")
    return record


def merge(paths: list[Path], out: Path) -> dict:
    """One record from several, each holding other arms of the same settings (seconds, seeds, recipe, machine)."""
    records = [json.loads(Path(p).read_text()) for p in paths]
    first = records[0]
    for path, record in zip(paths, records):
        for key in ("seconds", "seeds", "recipe", "baselines"):
            if record[key] != first[key]:
                raise ValueError(f"{path}: its {key} differs from {paths[0]}'s: {record[key]!r} against {first[key]!r}")
        if record["machine"]["cpu_model"] != first["machine"]["cpu_model"]:
            raise ValueError(f"{path} was measured on {record['machine']['cpu_model']}, {paths[0]} on "
                             f"{first['machine']['cpu_model']}")
    arms = {name: arm for record in records for name, arm in record["arms"].items()}
    merged = {**first, "arms": {name: arms[name] for name in ARMS if name in arms},
              "merged_from": [{"command": r["command"], "created_utc": r["created_utc"]} for r in records]}
    atomic.write_text(out, json.dumps(merged, indent=1) + "\n")
    print(f"wrote {out}: {len(merged['arms'])} arms from {len(records)} records")
    return merged


if __name__ == "__main__":
    main()
