#!/usr/bin/env python
"""Train the course's colour evaluator (emoji, 9 categories), validate it, and ship it in data/ with its record.

Trains ``course_utils.colour_evaluator.build_model`` with the fixed ``RECIPE`` on the 1,589 training emoji of
both styles (3,178 images; flips, shifts and colour jitter drawn from the recipe's seed), then measures it the way
lesson 03 measured the digit evaluator -- held-out accuracy per style, the real-vs-real FID floor, noise, blur and
colour changes, the dependence of FID on the number of images, category coverage -- and writes:

* ``data/emoji_evaluator.weights.h5`` and ``data/emoji_evaluator_stats.npz`` (atomically);
* ``data/emoji_evaluator.json``, the record: date, machine, seconds, recipe, accuracies, floors, SHA-256s.

    python tools/train_colour_evaluator.py             # about 6-11 minutes on one CPU core (653 s on a busy Xeon core)
    python tools/train_colour_evaluator.py --epochs 2 --out /tmp/ev   # a quick look; not the shipped recipe

Then paste the printed digests into ``course_utils/colour_evaluator.py`` and ``data/README.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from course_utils.validate import int_option  # noqa: E402

SAMPLE_SIZES = (50, 100, 200, 282, 500, 794)
"""Numbers of images for the FID-versus-n table (794 is half of one style's training split)."""
DRAWS = 10
"""Random subsets drawn per n (fewer where the pool allows fewer distinct subsets: one at the pool's size)."""


def _round(x: float, digits: int = 3) -> float:
    return float(round(float(x), digits))


def train(recipe, epochs: int, log=print):
    """Train the network on both styles' training emoji; returns the model and the per-epoch log."""
    import keras
    import numpy as np

    from course_utils import colour_evaluator as ce
    from course_utils import data

    ds = data.load_emoji("both", "train")
    held = data.load_emoji("both", "held_out")
    x = ce.preprocess(np.concatenate([ds.google, ds.twitter]))
    y = np.concatenate([ds.categories, ds.categories]).astype(np.int64)
    x_held = ce.preprocess(np.concatenate([held.google, held.twitter]))
    y_held = np.concatenate([held.categories, held.categories]).astype(np.int64)
    keras.utils.set_random_seed(recipe.seed)
    rng = np.random.default_rng(recipe.seed)
    model = ce.build_model(recipe.dropout)
    steps_per_epoch = -(-len(x) // recipe.batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(recipe.learning_rate, decay_steps=epochs * steps_per_epoch)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    counts = np.bincount(y, minlength=ce.NUM_CLASSES)
    class_weight = ({i: float(len(y) / (ce.NUM_CLASSES * c)) for i, c in enumerate(counts)}
                    if recipe.balanced else None)
    curve = []
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        order = rng.permutation(len(x))
        xa = ce.augment(x[order], rng, recipe)
        hist = model.fit(xa, y[order], batch_size=recipe.batch_size, epochs=1, shuffle=False, verbose=0,
                         class_weight=class_weight)
        row = {"epoch": epoch, "loss": _round(hist.history["loss"][0], 4),
               "train_accuracy_augmented": _round(hist.history["accuracy"][0], 4)}
        if epoch % 5 == 0 or epoch == epochs:
            probs = model.predict(x_held, batch_size=500, verbose=0)
            row["held_out_accuracy"] = _round((probs.argmax(1) == y_held).mean(), 4)
        curve.append(row)
        log(f"epoch {epoch:3d}/{epochs}  {time.perf_counter() - start:5.1f} s  " +
            "  ".join(f"{k} {v}" for k, v in row.items() if k != "epoch"), flush=True)
    return model, curve


def reference_statistics(evaluator, train) -> dict:
    """Feature statistics of the real training emoji: both styles, and each style."""
    import numpy as np

    from course_utils.frechet import gaussian_stats

    feats = {s: evaluator.features(getattr(train, s)) for s in ("google", "twitter")}
    refs = {"both": gaussian_stats(np.concatenate([feats["google"], feats["twitter"]]))}
    refs.update({s: gaussian_stats(f) for s, f in feats.items()})
    return refs


def validate(evaluator, train, held) -> dict:
    """The record's numbers: accuracies, FID floors and sanity figures, FID versus n, category coverage."""
    import numpy as np
    from scipy.ndimage import gaussian_filter

    from course_utils import colour_evaluator as ce
    from course_utils.frechet import frechet_distance, gaussian_stats

    out: dict = {}
    styles = ("google", "twitter")
    out["accuracy"] = {
        "held_out": {s: _round(evaluator.accuracy(getattr(held, s), held.categories), 4) for s in styles},
        "train": {s: _round(evaluator.accuracy(getattr(train, s), train.categories), 4) for s in styles},
        "chance": _round(1 / ce.NUM_CLASSES, 4),
        "held_out_per_category": {},
    }
    for s in styles:
        pred = evaluator.predict(getattr(held, s)).argmax(1)
        out["accuracy"]["held_out_per_category"][s] = {
            name: _round((pred[held.categories == i] == i).mean(), 3) for i, name in enumerate(ce.CATEGORIES)}

    def fd(a, b):
        return _round(frechet_distance(a.mu, a.sigma, b.mu, b.sigma))

    refs = evaluator.references
    feats_held = {s: evaluator.features(getattr(held, s)) for s in styles}
    feats_train = {s: evaluator.features(getattr(train, s)) for s in styles}
    n_held = len(held)
    floors = {
        "how": f"FID of the {n_held} held-out emoji of a style (all of them, n = {n_held}) against the shipped "
               "statistics of that style's 1,589 training emoji (or both styles' 3,178 for 'both'). A generator's "
               f"FID is comparable with these floors when it is computed on {n_held} images against the same reference",
        "n": n_held,
        "held_out_vs_train": {s: fd(gaussian_stats(feats_held[s]), refs[s]) for s in styles},
        "held_out_both_vs_train_both": {
            "n": 2 * n_held,
            "fid": fd(gaussian_stats(np.concatenate([feats_held["google"], feats_held["twitter"]])), refs["both"])},
        "style_gap": {
            "how": "one style's emoji against the other style's statistics: same emoji, other artist",
            "google_held_out_vs_twitter_train": fd(gaussian_stats(feats_held["google"]), refs["twitter"]),
            "twitter_held_out_vs_google_train": fd(gaussian_stats(feats_held["twitter"]), refs["google"]),
            "google_train_vs_twitter_train_n1589": fd(refs["google"], refs["twitter"]),
        },
    }
    out["floors"] = floors

    # Sanity: damaged real images and noise, n = n_held, against the style's training statistics.
    rng = np.random.default_rng(0)
    sanity = {"how": f"n = {n_held} images (a style's held-out emoji, changed as named) against that style's "
                     "training statistics; 'real' repeats the floor"}
    for s in styles:
        x = getattr(held, s).astype(np.float32) / 127.5 - 1.0
        grey = np.repeat(x.mean(axis=3, keepdims=True), 3, axis=3)
        variants = {
            "real": x,
            "blur_sigma_1": gaussian_filter(x, (0, 1, 1, 0)),
            "blur_sigma_2": gaussian_filter(x, (0, 2, 2, 0)),
            "channels_bgr": x[..., ::-1],
            "greyscale": grey,
            "washed_out_50pct": 1.0 - 0.5 * (1.0 - x),
            "gaussian_noise_0.2": np.clip(x + 0.2 * rng.standard_normal(x.shape), -1, 1).astype(np.float32),
            "uniform_noise": rng.uniform(-1, 1, x.shape).astype(np.float32),
            "noise_on_white": np.clip(1.0 - np.abs(rng.standard_normal(x.shape)), -1, 1).astype(np.float32),
        }
        sanity[s] = {name: _round(evaluator.fid(v, s, value_range=(-1, 1))) for name, v in variants.items()}
    out["sanity"] = sanity

    # FID versus n. (a) held-out subsets against the shipped training statistics (n <= 282);
    # (b) subsets of one half of the training split against the statistics of the other half (up to n = 794),
    # so the two sets never share an image.
    vs_n: dict = {"how": f"mean and standard deviation over {DRAWS} random subsets of n images (one where n is the "
                         "whole pool). held_out_vs_train: held-out emoji against the style's shipped training "
                         "statistics; train_half_vs_other_half: images of one half of the style's training split "
                         "against the statistics of the other half (794 or 795 images), disjoint sets",
                  "sample_sizes": list(SAMPLE_SIZES)}
    split_rng = np.random.default_rng(25)
    for s in styles:
        table: dict = {"held_out_vs_train": {}, "train_half_vs_other_half": {}}
        order = split_rng.permutation(len(feats_train[s]))
        half_a, half_b = feats_train[s][order[:794]], feats_train[s][order[794:]]
        ref_b = gaussian_stats(half_b)
        for pool, ref, key in ((feats_held[s], refs[s], "held_out_vs_train"), (half_a, ref_b, "train_half_vs_other_half")):
            draw_rng = np.random.default_rng(1)
            for n in SAMPLE_SIZES:
                if n > len(pool):
                    continue
                draws = 1 if n == len(pool) else DRAWS
                vals = [fd(gaussian_stats(pool[draw_rng.choice(len(pool), n, replace=False)]), ref)
                        for _ in range(draws)]
                table[key][str(n)] = {"mean": _round(np.mean(vals)), "sd": _round(np.std(vals))}
        vs_n[s] = table
    out["fid_vs_n"] = vs_n

    # Category coverage (default min_share 2.5 %).
    cov: dict = {}
    for s in styles:
        c_held = evaluator.class_coverage(getattr(held, s))
        c_train = evaluator.class_coverage(getattr(train, s))
        one = {}
        for i in (0, 8):  # Smileys & Emotion, Flags
            c = evaluator.class_coverage(getattr(train, s)[train.categories == i])
            one[ce.CATEGORIES[i]] = {"n": c.n_images, "n_covered": c.n_covered, "counts": c.counts.tolist(),
                                      "effective_classes": _round(c.effective_classes)}
        cov[s] = {"held_out": {"n_covered": c_held.n_covered, "counts": c_held.counts.tolist(),
                               "effective_classes": _round(c_held.effective_classes),
                               "mean_confidence": _round(c_held.mean_confidence)},
                  "train": {"n_covered": c_train.n_covered, "counts": c_train.counts.tolist(),
                            "effective_classes": _round(c_train.effective_classes)},
                  "one_category_train": one}
    cov["how"] = ("class_coverage with the default min_share 0.025; one_category_train: the training emoji of one "
                  "category only (a collapsed generator)")
    out["coverage"] = cov
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int_option(1), default=None, help="override the recipe's epochs (not the shipped file)")
    parser.add_argument("--out", type=Path, default=None, help="folder to write to (default: data/)")
    args = parser.parse_args(argv)

    import keras
    import numpy as np
    import tensorflow as tf

    from course_utils import atomic, data, device
    from course_utils import colour_evaluator as ce

    recipe = ce.RECIPE
    epochs = recipe.epochs if args.epochs is None else args.epochs
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model, curve = train(recipe, epochs)
    train_s = time.perf_counter() - start
    train_ds, held = data.load_emoji("both", "train"), data.load_emoji("both", "held_out")
    evaluator = ce.ColourEvaluator(model)
    refs = reference_statistics(evaluator, train_ds)
    meta = {
        "source": "data/emoji_64.npz, training split (1,589 emoji) of course_utils.data.load_emoji",
        "recipe": repr(recipe) + ("" if epochs == recipe.epochs else f" with epochs={epochs}"),
        "feature_layer": f"{ce.FEATURE_LAYER} (Dense {ce.FEATURE_DIM}, after ReLU)",
        "reference": "features of the training emoji: mu/sigma/n both styles (3,178), google_*/twitter_* one style",
        "versions": f"tensorflow {tf.__version__}, keras {keras.__version__}, numpy {np.__version__}",
    }
    refs = {k: ce.ReferenceStats(v.mu, v.sigma, v.n, dict(meta)) for k, v in refs.items()}
    evaluator = ce.ColourEvaluator(model, refs)
    start_v = time.perf_counter()
    report = validate(evaluator, train_ds, held)
    validate_s = time.perf_counter() - start_v
    out = args.out if args.out is not None else data.data_dir()
    weights_path, stats_path = ce.save_colour_evaluator(evaluator, out)
    cpu = device.cpu_config()
    record = {
        "schema": "colour_evaluator/1",
        "description": "The course's colour evaluator (emoji, 9 Unicode categories): a small CNN whose 64 "
                       "penultimate features give FID and whose predictions give category coverage; loaded by "
                       "course_utils.colour_evaluator.load_colour_evaluator.",
        "created_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": "python tools/train_colour_evaluator.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "recipe": {k: getattr(recipe, k) for k in recipe.__dataclass_fields__} | {"epochs": epochs},
        "architecture": "Conv16-pool-Conv32-pool-Conv64-pool-Conv128-Conv128 (3x3, each + batch norm + ReLU) - "
                        "global average pooling - "
                        "Dense 64 'features' (ReLU) - Dropout - Dense 9 softmax; input (64, 64, 3) in [0, 1]",
        "parameters": int(model.count_params()),
        "data": {"train": f"{len(train_ds)} emoji x 2 styles = {2 * len(train_ds)} images (augmented)",
                 "held_out": f"{len(held)} emoji per style, never trained on"},
        "reference_statistics": "training emoji (not held out): the held-out split has only 282 per style, too few "
                                "for a stable 64x64 covariance; the training split has 1,589 per style",
        "train_time_s": _round(train_s, 1), "validate_time_s": _round(validate_s, 1),
        "curve": curve,
        **report,
        "files": {p.name: {"bytes": p.stat().st_size, "sha256": data.sha256_of(p)} for p in (weights_path, stats_path)},
        "machine": {"cpu_model": cpu.model, "cpu_flags": list(cpu.flags), "usable_cpus": len(os.sched_getaffinity(0)),
                    "intra_op_threads": os.environ.get("TF_NUM_INTRAOP_THREADS"), "onednn": device.onednn_active(),
                    "platform": platform.platform(terse=True)},
        "versions": {"python": platform.python_version(), "tensorflow": tf.__version__, "keras": keras.__version__,
                     "numpy": np.__version__},
    }
    record_path = out / ce.RECORD_NAME
    atomic.write_text(record_path, json.dumps(record, indent=1, ensure_ascii=False) + "\n")
    acc = report["accuracy"]["held_out"]
    print(f"trained in {train_s:.0f} s; held-out accuracy google {acc['google']:.3f}, twitter {acc['twitter']:.3f}; "
          f"floors {report['floors']['held_out_vs_train']}")
    for p in (weights_path, stats_path, record_path):
        print(f"{p}  sha256 {data.sha256_of(p)}  ({p.stat().st_size:,} bytes)")
    return record


if __name__ == "__main__":
    main()
