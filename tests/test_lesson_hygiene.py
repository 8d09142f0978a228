"""Every lesson reads cleanly: short code cells, and saved outputs free of noise a learner would stumble over.

A learner believes what a notebook shows. Saved outputs must not carry TensorFlow's C++ log lines (``E0000 …``),
failed-download messages, a bare ``True`` left by a check that printed its return value, or Keras warnings about
the old ``input_shape=`` spelling; and no code cell may run over 40 lines (build a thing, then run it on a tiny
input, in short cells; plumbing lives in ``course_utils``).
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
LESSONS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
MAX_CELL_LINES = 40
NOISE = {
    "a TensorFlow C++ log line": re.compile(r"^[EWIF]\d{4} \d\d:\d\d:\d\d", re.M),
    "an absl logging notice": re.compile(r"All log messages before absl::InitializeLog"),
    "a failed or attempted download": re.compile(r"Downloading data from|URL fetch failure|URLError|"
                                                 r"Name or service not known|failed to download", re.I),
    "a Keras input_shape warning": re.compile(r"Do not pass an `input_shape`"),
    "a Keras progress bar": re.compile(r"\d+/\d+ [━=]+"),
}


def _text(output: dict) -> str:
    if output.get("output_type") == "stream":
        return output.get("text", "")
    if output.get("output_type") == "error":
        return "\n".join(output.get("traceback", []))
    return str(output.get("data", {}).get("text/plain", ""))


def long_cells(nb) -> list[tuple[int, int]]:
    """(cell index, line count) of every code cell longer than MAX_CELL_LINES."""
    out = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            n = len(cell.source.rstrip("\n").split("\n"))
            if n > MAX_CELL_LINES:
                out.append((i, n))
    return out


def noisy_outputs(nb) -> list[str]:
    """One line per saved output that carries noise (what, which cell)."""
    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            text = _text(output)
            for what, pattern in NOISE.items():
                if pattern.search(text):
                    found.append(f"cell {i}: {what}: {pattern.search(text).group(0)!r}")
            if output.get("output_type") == "execute_result" and text.strip() in ("True", "False", "None"):
                found.append(f"cell {i}: a stray {text.strip()} (end the cell with a statement, not a check's value)")
    return found


def test_there_are_lessons():
    assert len(LESSONS) >= 6, [p.name for p in LESSONS]


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_no_code_cell_is_longer_than_40_lines(path):
    nb = nbformat.read(path, as_version=4)
    assert not long_cells(nb), f"{path.name}: code cells (index, lines) over {MAX_CELL_LINES} lines: {long_cells(nb)}"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_no_code_cell_is_empty(path):
    """An empty cell (two cell markers in a row in the .py twin) is never run, and reads as a gap in the lesson."""
    nb = nbformat.read(path, as_version=4)
    empty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and not c.source.strip()]
    assert not empty, f"{path.name}: empty code cells at {empty}"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_saved_outputs_are_clean(path):
    nb = nbformat.read(path, as_version=4)
    assert not noisy_outputs(nb), f"{path.name}:\n" + "\n".join(noisy_outputs(nb))


def test_the_checks_catch_what_they_should():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1\n" * 41),
                nbformat.v4.new_code_cell("check()", outputs=[
                    nbformat.v4.new_output("execute_result", data={"text/plain": "True"}, execution_count=1)]),
                nbformat.v4.new_code_cell("train()", outputs=[
                    nbformat.v4.new_output("stream", name="stderr", text="E0000 00:00:1796125419.899778   29078 "
                                           "meta_optimizer.cc:967] remapper failed\n"),
                    nbformat.v4.new_output("stream", name="stdout", text="Downloading data from https://x/y.gz\n"),
                    nbformat.v4.new_output("stream", name="stdout", text="10/10 ━━━━━━━━━━ 1s\n")]),
                nbformat.v4.new_code_cell("y = 2\n" * 40, outputs=[
                    nbformat.v4.new_output("stream", name="stdout", text="FID 10.1, True positives 3\n")])]
    assert long_cells(nb) == [(0, 41)]
    found = noisy_outputs(nb)
    assert len(found) == 4 and all(f.startswith(("cell 1", "cell 2")) for f in found), found
