#!/usr/bin/env python
"""Turn the recipe-search logs (benchmarks/figures/recipe_search/*.log) into one JSON record, and print a table.

Each log is the output of one run of ``benchmarks/recipe_search.py train VARIANT BATCH LR STEPS`` (one CPU each,
``TF_ENABLE_ONEDNN_OPTS=0``, seed 42, offline 4,000-digit subset): every 500 steps, the FID (course evaluator,
2,000 samples) of the lesson's weight-averaged generator, then of extra averages. The run settings that were
passed through the environment are named in ``SETTINGS`` below, per log.

    python benchmarks/recipe_search_record.py            # writes benchmarks/figures/recipe_search.json
    python benchmarks/recipe_search_record.py --markdown  # the table
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOGS = ROOT / "benchmarks" / "figures" / "recipe_search"
OUT = ROOT / "benchmarks" / "figures" / "recipe_search.json"
# What each run changed (environment of the run); the lesson's recipe at the time is said in "recipe".
SETTINGS = {
    "r_lr5e-4": ("batch 64, lr 5e-4, no shifts", "old"), "r_lr1e-3": ("batch 64, lr 1e-3, no shifts", "old"),
    "r_w32_lr1e-3": ("generator width 32, batch 64, lr 1e-3, no shifts", "old"),
    "r_b32_lr5e-4": ("batch 32, lr 5e-4, no shifts", "old"), "r_b32_lr1e-3": ("batch 32, lr 1e-3, no shifts", "old"),
    "r_b16_lr5e-4": ("batch 16, lr 5e-4, no shifts", "old"),
    "s_b32_lr1e-3_ema": ("batch 32, lr 1e-3, no shifts (extra EMAs)", "old"),
    "s_b32_lr1e-3_b2": ("batch 32, lr 1e-3, beta_2 0.99, no shifts", "old"),
    "t_aug": ("batch 32, lr 1e-3, 2-pixel shifts (layer in D)", "old"),
    "t_decay": ("batch 32, lr 1e-3, no shifts, lr decaying to 0.1x over 5,000 steps", "old"),
    "u_lr5e-4": ("batch 32, lr 5e-4, 2-pixel shifts", "new"), "u_shift3": ("batch 32, lr 1e-3, 3-pixel shifts", "new"),
    "v_aug_repl": ("batch 32, lr 1e-3, 2-pixel shifts (layer in D; repeat of t_aug)", "new"),
    "v_base_repl": ("the course recipe: batch 32, lr 1e-3, 2-pixel shifts (gan_update)", "new"),
    "w_beta2": ("the course recipe with beta_2 0.99", "new"),
    "w_decay": ("the course recipe, lr decaying to 0.1x over 4,000 steps", "new"),
}


def parse(path: Path) -> list[dict]:
    points = []
    for line in path.read_text().splitlines():
        if line.split(" ", 1)[0] not in ("base", "aug", "w32"):
            continue
        tup = ast.literal_eval(line[line.index("("):])
        fid = tup[2][0] if isinstance(tup[2], list) else tup[2]
        points.append({"time_s_one_cpu": tup[0], "step": tup[1], "fid": fid})
    return points


def main() -> None:
    runs = []
    for path in sorted(LOGS.glob("*.log")):
        label, base = SETTINGS.get(path.stem, (path.stem, "?"))
        runs.append({"run": path.stem, "settings": label,
                     "recipe": {"old": "before the search (batch 64, lr 2e-4, no shifts) with the change named",
                                "new": "the tuned recipe with the change named"}.get(base, "?"),
                     "curve": parse(path)})
    record = {"schema": "recipe_search/1", "machine": "AMD EPYC (Zen 4), 1 CPU per run (two runs side by side), "
              "TF_ENABLE_ONEDNN_OPTS=0", "date": "2026-12-01", "fid": "course evaluator, 2,000 samples", "runs": runs}
    if "--markdown" in sys.argv:
        print("| run | settings | FID at 1,000 / 2,000 / 3,000 / 4,000 steps |\n|---|---|---|")
        for r in runs:
            at = {p["step"]: p["fid"] for p in r["curve"]}
            print(f"| {r['run']} | {r['settings']} | "
                  + " / ".join(f"{at[s]:.1f}" if s in at else "–" for s in (1000, 2000, 3000, 4000)) + " |")
        return
    OUT.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {OUT} ({len(runs)} runs)")


if __name__ == "__main__":
    main()
