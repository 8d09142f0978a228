#!/usr/bin/env python
"""Train lesson 09's translation models for longer than a lesson can, and ship them in data/.

The recipe is lesson 09's, loaded from its cells tagged ``export`` (the code learners read): pix2pix trained on the
1,589 aligned training pairs in each direction (Google -> Twitter and Twitter -> Google), and one CycleGAN trained
on the same emoji with the pairs shuffled apart (its two generators are the two directions). Each trains for a
fixed wall-clock budget; what ships is the final weights (no selection on the held-out emoji, which are the test
set), with a record of the held-out scores, the machine and the versions:

    python tools/train_translation_models.py --pix2pix-minutes 6 --cyclegan-minutes 20

writes ``data/translate_{pix2pix,cyclegan}_{g2t,t2g}.{weights.h5,json}``. Checkpoints go to ``--work`` (default
``outputs/train_translation``), so an interrupted run resumes where it stopped.
``course_utils.pretrained.load_trained_model(model, name)`` checks the weights against the record.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import platform
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from course_utils import device  # noqa: E402
from course_utils.validate import int_option, positive_option  # noqa: E402

LESSON = "09_image_translation"
DIRECTIONS = {"g2t": ("google", "twitter"), "t2g": ("twitter", "google")}


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pix2pix-minutes", type=positive_option, default=6.0, help="training time per direction")
    parser.add_argument("--cyclegan-minutes", type=positive_option, default=20.0)
    parser.add_argument("--seed", type=int_option(0), default=2026)
    parser.add_argument("--only", choices=("pix2pix", "cyclegan"), default=None, help="train one kind only")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="what the budget counts: wall-clock seconds, or the CPU seconds this process got "
                             "(time.process_time; fair on a shared machine when pinned to one core with taskset)")
    parser.add_argument("--work", type=Path, default=ROOT / "outputs" / "train_translation")
    parser.add_argument("--out", type=Path, default=None, help="folder to write to (default: data/)")
    args = parser.parse_args(argv)

    tf = device.quiet_tensorflow_startup()
    import time

    import keras

    from course_utils import colour_evaluator, data, lessons, pretrained

    cfg = device.setup(args.seed, training=True)
    lesson = lessons.load_lesson_code(LESSON)
    train, held = data.load_emoji("both", "train"), data.load_emoji("both", "held_out")
    judge = colour_evaluator.load_colour_evaluator()
    cpu = device.cpu_config()
    common = {
        "recipe": dataclasses.asdict(lesson.RECIPE), "seed": args.seed, "size": 64,
        "data": {"name": "emoji (both styles, training split)", "train_pairs": int(len(train))},
        "machine": {"cpu_model": cpu.model, "usable_cpus": cpu.usable_cpus, "onednn": device.onednn_active(),
                    "gpus": list(cfg.gpus), "platform": platform.platform(terse=True)},
        "versions": {"python": platform.python_version(), "tensorflow": tf.__version__, "keras": keras.__version__},
        "command": "python tools/train_translation_models.py " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    jobs = [("pix2pix", d, args.pix2pix_minutes) for d in DIRECTIONS] + [("cyclegan", None, args.cyclegan_minutes)]
    records = []
    for kind, direction, minutes in jobs:
        if args.only not in (None, kind):
            continue
        source, target = DIRECTIONS[direction or "g2t"]
        run = lesson.TranslationRun(args.work / f"{kind}-{direction or 'both'}-{args.seed}", kind, seed=args.seed,
                                    jit_compile=cfg.jit_compile)
        remaining = 60 * minutes - float(run.seconds.numpy())
        if remaining > 0:
            losses = run.train(lesson.to_unit(getattr(train, source)), lesson.to_unit(getattr(train, target)),
                               remaining, clock=time.process_time if args.clock == "cpu" else time.perf_counter)
            print(f"{kind} {direction or ''}: {int(run.steps.numpy())} steps, losses {losses}", flush=True)
        outputs = {direction: run.g} if kind == "pix2pix" else {"g2t": run.g, "t2g": run.f}
        for way, model in outputs.items():
            src, tgt = DIRECTIONS[way]
            scores = lesson.translation_scores(judge, getattr(held, tgt), lesson.translate(model, getattr(held, src)),
                                               reference=tgt)
            record = {
                "description": f"Lesson 09's {kind} generator, {src} -> {tgt} emoji, trained with the lesson's "
                               "recipe for longer than a lesson can (final weights); loaded by "
                               f"course_utils.pretrained.load_trained_model(model, 'translate_{kind}_{way}').",
                "kind": kind, "direction": way, "source_style": src, "target_style": tgt, **common,
                "steps": int(run.steps.numpy()), "train_time_s": round(float(run.seconds.numpy()), 1),
                "clock": "CPU seconds of the process (time.process_time)" if args.clock == "cpu" else "wall-clock seconds",
                "metrics": {k: round(v, 4) for k, v in scores.items()},
                "metrics_how": f"the {len(held)} held-out emoji: PSNR/SSIM against their true {tgt} drawings, FID "
                               f"and coverage with the colour evaluator against the {tgt} training statistics",
                "created_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            }
            weights, path = pretrained.save_trained_generator(model, record, name=f"translate_{kind}_{way}",
                                                              directory=args.out)
            print(f"wrote {weights} and {path}: {record['metrics']}", flush=True)
            records.append(record)
        keras.utils.clear_session()
    return records


if __name__ == "__main__":
    main()
