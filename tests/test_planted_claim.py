"""A planted false claim fails: lesson 04's verdicts on its ablation record raise ClaimError in the full profile.

The test runs the lesson's own cells (the table read from benchmarks/figures/ablations.json, the per-seed figures
and the cell that prints and asserts the sentences the lesson relies on), first on the committed record, then on
copies with two arms swapped, as a re-run of the benchmark that came out the other way would be. Only those cells
run: seconds.
"""

import copy
import json
from pathlib import Path

import jupytext
import numpy as np
import pytest

from course_utils import claims, data

ROOT = Path(__file__).resolve().parent.parent
LESSON = ROOT / "notebooks" / "04_dcgan.py"


def _cells():
    nb = jupytext.read(LESSON)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    table = [src for src in code if "ablations = json.loads(" in src]
    per_seed = [src for src in code if "def per_seed_final(" in src]
    verdicts = [src for src in code if "claim(" in src and "final[" in src]
    assert len(table) == len(per_seed) == 1 and verdicts, (
        "lesson 04 must keep one ablation table cell, one per-seed cell and its verdict cells")
    return table[0], "\n".join([per_seed[0], *verdicts])


def _run(record, monkeypatch, profile, failed=None):
    """Run the lesson's cells on ``record``; with a list ``failed``, every claim is tried and each ClaimError's
    message is collected there instead of stopping at the first."""
    monkeypatch.setenv("COURSE_PROFILE", profile)
    table, verdicts = _cells()

    def collecting_claim(*args, **kwargs):
        try:
            return claims.claim(*args, **kwargs)
        except claims.ClaimError as err:
            failed.append(str(err))
            return False

    namespace = {"json": json, "np": np, "Path": Path, "data": data, "say": claims.say,
                 "claim": claims.claim if failed is None else collecting_claim}
    exec(compile(table, f"{LESSON.name}:table", "exec"), namespace)  # noqa: S102  (the lesson's own code)
    namespace["ablations"] = record
    exec(compile(verdicts, f"{LESSON.name}:verdicts", "exec"), namespace)  # noqa: S102


def _record():
    return json.loads((ROOT / "benchmarks" / "figures" / "ablations.json").read_text())


def _swap(record, arm_a, arm_b):
    """The record with the two arms' FIDs exchanged, seed by seed and step by step (and in the table's rows)."""
    swapped = copy.deepcopy(record)
    runs = {(run["arm"], run["seed"]): run for run in swapped["runs"]}
    for (arm, seed), run_a in runs.items():
        if arm == arm_a:
            for point_a, point_b in zip(run_a["curve"], runs[(arm_b, seed)]["curve"], strict=True):
                point_a["fid_ema"], point_b["fid_ema"] = point_b["fid_ema"], point_a["fid_ema"]
    rows = {row["arm"]: row for row in swapped["rows"]}
    rows[arm_a]["fid_at_step"], rows[arm_b]["fid_at_step"] = rows[arm_b]["fid_at_step"], rows[arm_a]["fid_at_step"]
    return swapped


def test_the_committed_record_supports_every_claim(monkeypatch, capsys):
    _run(_record(), monkeypatch, "full")
    out = capsys.readouterr().out
    assert "is worse than the recipe on every seed" in out and "smoke profile" not in out


@pytest.mark.parametrize(("arm_a", "arm_b", "sentence"), [
    ("recipe", "simultaneous", "alternating order beats"),
    ("recipe", "no R1", "R1 penalty helps"),
])
def test_a_swapped_comparison_fails_the_full_profile(monkeypatch, arm_a, arm_b, sentence):
    with pytest.raises(claims.ClaimError):
        _run(_swap(_record(), arm_a, arm_b), monkeypatch, "full")
    failed = []  # the planted comparison is among the sentences that fail (swapping the recipe moves others too)
    _run(_swap(_record(), arm_a, arm_b), monkeypatch, "full", failed)
    assert any(sentence in message for message in failed), failed


def test_the_smoke_profile_only_notes_it(monkeypatch, capsys):
    _run(_swap(_record(), "recipe", "simultaneous"), monkeypatch, "smoke")
    assert "smoke profile: a short run does not support" in capsys.readouterr().out
