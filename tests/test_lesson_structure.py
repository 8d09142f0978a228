"""Every lesson follows the skeleton in CONTRIBUTING.md / STYLE.md, was executed in order, and its .py twin is in sync."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SETUP_CELL = (ROOT / "tools" / "setup_cell.py").read_text(encoding="utf-8").strip()
CJK = re.compile(r"[\u4e00-\u9fff]")


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _src(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def test_there_are_lessons_and_each_has_a_twin():
    assert NOTEBOOKS, "no lessons found in notebooks/"
    stems = {p.stem for p in NOTEBOOKS}
    twins = {p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.py")}
    assert stems == twins, f"lessons without a .py twin: {stems - twins}; .py without a notebook: {twins - stems}"
    assert "00_start_here" in stems


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_lesson_skeleton(path):
    nb = _load(path)
    cells = nb["cells"]
    first = cells[0]
    assert first["cell_type"] == "markdown", "the first cell must be the title cell (markdown)"
    head = _src(first)
    titles = [line for c in cells if c["cell_type"] == "markdown" for line in _src(c).splitlines()
              if line.startswith("# ")]
    assert len(titles) == 1 and head.startswith("# "), f"expected exactly one H1 title, first in the notebook; got {titles}"
    assert f"colab.research.google.com/github/image-synthesis-course/gans-and-cnns/blob/main/notebooks/{path.name}" in head
    assert f"mybinder.org/v2/gh/image-synthesis-course/gans-and-cnns/main?labpath=notebooks%2F{path.name}" in head
    for needed in ("Learning objectives", "Prerequisites"):
        assert needed in head, f"the overview must state {needed!r}"
    assert CJK.search(head), "the overview must name the source article's section with its original Chinese title"
    code = [c for c in cells if c["cell_type"] == "code"]
    assert _src(code[0]).strip() == SETUP_CELL, "the first code cell must be the shared set-up cell (tools/setup_cell.py)"
    headings = [line.strip() for c in cells if c["cell_type"] == "markdown" for line in _src(c).splitlines()
                if line.startswith("## ")]
    for section in ("## Summary", "## Exercises", "## Next"):
        assert any(h.startswith(section) for h in headings), f"missing section {section!r}; headings: {headings}"
    order = [next(i for i, h in enumerate(headings) if h.startswith(s)) for s in ("## Summary", "## Exercises", "## Next")]
    assert order == sorted(order), "Summary, Exercises and Next must come in that order"
    exercise_start = next(i for i, c in enumerate(cells) if "## Exercises" in _src(c))
    solutions = [c for c in cells[exercise_start:] if c["cell_type"] == "code" and "### BEGIN SOLUTION" in _src(c)]
    assert solutions, "the Exercises section needs at least one solution cell (### BEGIN SOLUTION / ### END SOLUTION)"
    assert all("### END SOLUTION" in _src(c) for c in solutions)
    assert nb["metadata"].get("kernelspec", {}).get("name") == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_lesson_was_executed_in_order_without_stray_errors(path):
    code = [c for c in _load(path)["cells"] if c["cell_type"] == "code"]
    counts = [c.get("execution_count") for c in code]
    assert None not in counts, f"{path.name}: cells {[i for i, n in enumerate(counts) if n is None]} were never run"
    assert counts == list(range(1, len(counts) + 1)), f"{path.name}: not run top to bottom in one go: {counts}"
    assert any(c.get("outputs") for c in code), f"{path.name}: no outputs saved"
    for i, cell in enumerate(code):
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors, f"{path.name} code cell {i}: an error output (show intended errors with errors.shows_error)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_run_all_runs_to_the_end(path):
    """No cell may rely on the `raises-exception` tag: VS Code and Colab ignore it, and "Run all" stops there.

    With no tag and no NBVAL_RAISES_EXCEPTION marker left, nbval (which runs every lesson in `make test`) fails on
    any cell that raises, so a lesson that passes there also runs to the end in a front end that ignores tags."""
    for i, cell in enumerate(_load(path)["cells"]):
        tags = cell.get("metadata", {}).get("tags", [])
        assert "raises-exception" not in tags, f"{path.name} cell {i} is tagged raises-exception"
        assert "NBVAL_RAISES_EXCEPTION" not in _src(cell), f"{path.name} cell {i} is marked NBVAL_RAISES_EXCEPTION"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_py_twin_is_in_sync(path):
    out = subprocess.run([sys.executable, "-m", "jupytext", "--to", "py:percent", "--output", "-", str(path)],
                         capture_output=True, text=True, check=True, cwd=ROOT).stdout
    twin = path.with_suffix(".py").read_text(encoding="utf-8")
    assert out.strip() == twin.strip(), f"{path.name} and its .py differ: run `jupytext --sync {path}` and commit both"
