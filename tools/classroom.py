"""The classroom edition: student notebooks (``make student``) and grading of submissions (``make grade``).

Everything nbgrader already does is left to nbgrader (a teacher's extra: ``pip install .[teacher]``):

* ``student``: each lesson becomes an nbgrader *source* notebook (``build/nbgrader/source/NN_topic/``), its exercise
  cells marked the way nbgrader expects: a cell holding ``### BEGIN SOLUTION`` is a solution cell, the cell that
  calls a check is an autograded test cell (1 point, locked), the other exercise cells are read-only. Their saved
  outputs are cleared (they show the solutions' results). Then ``nbgrader generate_assignment`` does the rest
  (ClearSolutions writes the stubs, ClearHiddenTests removes ``### BEGIN HIDDEN TESTS``, LockCells, checksums)
  and the released notebooks are copied to ``build/student/NN_topic.ipynb``. The lessons' other outputs (figures,
  tables) are kept: nbgrader's ClearOutput is switched off for the release.
* ``grade SUBMISSIONS``: a fresh nbgrader course under ``build/grading/`` with the same source and gradebook; each
  submission ``SUBMISSIONS/<student>/NN_topic.ipynb`` is run by ``nbgrader autograde`` in its own process (a
  fresh kernel, ``COURSE_OFFLINE=1``, a time limit per cell and one per student). The scores are read back from
  nbgrader's gradebook and written as a table, one row per student and one column per exercise
  (``build/grades/scores.csv`` and ``scores.md``), with one line per check that got no points saying why.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
BUILD = ROOT / "build"
COURSE_ID = "image-synthesis-course"
SOLUTION_BEGIN = "### BEGIN SOLUTION"
CHECK_CALL = re.compile(r"\bex\.check_\w+\(")
EXERCISES_HEADING = re.compile(r"^## Exercises\s*$", re.M)
NEXT_HEADING = re.compile(r"^## ", re.M)
CONFIG = """\
c = get_config()  # noqa: F821 - nbgrader's config loader provides it
c.CourseDirectory.course_id = {course_id!r}
c.CourseDirectory.root = {root!r}
c.CourseDirectory.db_url = {db_url!r}
"""


def lessons(selected: list[str] | None = None) -> list[Path]:
    """The lesson notebooks (``notebooks/NN_topic.ipynb``), all or the stems selected.

    Raises:
        ValueError: if a selected stem is not a lesson.
    """
    found = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if not selected:
        return found
    by_stem = {p.stem: p for p in found}
    unknown = [s for s in selected if s not in by_stem]
    if unknown:
        raise ValueError(f"expected lesson names among {sorted(by_stem)}, got {unknown}")
    return [by_stem[s] for s in selected]


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _meta(grade: bool, solution: bool, locked: bool, grade_id: str, points: int | None = None) -> dict:
    meta = {"grade": grade, "solution": solution, "locked": locked, "grade_id": grade_id, "schema_version": 3}
    if points is not None:
        meta["points"] = points
    return meta


def mark_exercises(nb: dict, name: str) -> list[str]:
    """Give the exercise cells of a lesson nbgrader's metadata, clear their outputs; return the grade ids.

    The exercises are the cells between the ``## Exercises`` heading and the next ``## `` heading. A code cell with
    ``### BEGIN SOLUTION`` is a solution cell of the exercise whose check follows it; a code cell calling
    ``ex.check_...`` is that exercise's autograded test (1 point, locked); other code cells there are read-only.

    Raises:
        ValueError: if a solution marker lies outside the Exercises section, an exercise has a solution but no
            check, or the lesson has no Exercises section.
    """
    from nbconvert.preprocessors import ClearOutputPreprocessor

    clear = ClearOutputPreprocessor()
    cells = nb["cells"]
    start = next((i for i, c in enumerate(cells) if c["cell_type"] == "markdown"
                  and EXERCISES_HEADING.search(_source(c))), None)
    if start is None:
        raise ValueError(f"{name}: expected a '## Exercises' section, found none")
    end = next((i for i in range(start + 1, len(cells)) if cells[i]["cell_type"] == "markdown"
                and NEXT_HEADING.search(_source(cells[i]))), len(cells))
    for i, cell in enumerate(cells):
        if not start < i < end and SOLUTION_BEGIN in _source(cell):
            raise ValueError(f"{name}: cell {i} holds '{SOLUTION_BEGIN}' outside the Exercises section")
    grade_ids: list[str] = []
    number, solutions, other = 1, 0, 0
    for i in range(start + 1, end):
        cell = cells[i]
        if cell["cell_type"] != "code":
            continue
        src = _source(cell)
        if SOLUTION_BEGIN in src:
            solutions += 1
            meta = _meta(False, True, False, f"ex{number}-solution" + (f"-{solutions}" if solutions > 1 else ""))
        elif CHECK_CALL.search(src):
            meta = _meta(True, False, True, f"ex{number}-check", points=1)
            grade_ids.append(meta["grade_id"])
            number, solutions = number + 1, 0
        else:
            other += 1
            meta = _meta(False, False, True, f"exercises-cell-{other}")
        cell.setdefault("metadata", {})["nbgrader"] = meta
        clear.preprocess_cell(cell, {}, i)
    if solutions:
        raise ValueError(f"{name}: the last solution cell of the Exercises section has no check cell after it")
    return grade_ids


def _run(cmd: list[str], *, cwd: Path, timeout: float | None = None, log: Path | None = None,
         extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, COURSE_OFFLINE="1", TF_CPP_MIN_LOG_LEVEL="2", MPLBACKEND="Agg", PYTHONHASHSEED="0")
    env.setdefault("COURSE_PROFILE", "smoke")
    # nbgrader runs `alembic` and the kernel from PATH: put this environment's scripts first.
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.update(extra_env or {})
    # Its own process group, so that a time-out also stops the kernels nbgrader started.
    child = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             start_new_session=True)
    try:
        stdout, stderr = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        stdout, stderr = child.communicate()
        if log is not None:
            log.parent.mkdir(parents=True, exist_ok=True)
            log.write_text(f"$ {' '.join(cmd)}\n{stdout}{stderr}\n(stopped after {timeout:.0f} s)\n", encoding="utf-8")
        raise
    proc = subprocess.CompletedProcess(cmd, child.returncode, stdout, stderr)
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(f"$ {' '.join(cmd)}\n{proc.stdout}{proc.stderr}", encoding="utf-8")
    return proc


def _nbgrader(*args: str) -> list[str]:
    return [sys.executable, "-m", "nbgrader", *args]


def write_course(course: Path, paths: list[Path]) -> dict[str, list[str]]:
    """Create an nbgrader course at ``course`` with one assignment per lesson (its marked source notebook)."""
    import nbformat

    if course.exists():
        shutil.rmtree(course)
    (course / "source").mkdir(parents=True)
    db = course / "gradebook.db"
    (course / "nbgrader_config.py").write_text(
        CONFIG.format(course_id=COURSE_ID, root=str(course), db_url=f"sqlite:///{db}"), encoding="utf-8")
    grades = {}
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        grades[path.stem] = mark_exercises(nb, path.name)
        target = course / "source" / path.stem / path.name
        target.parent.mkdir(parents=True)
        nbformat.write(nb, target)
    return grades


def build_student(out: Path, selected: list[str] | None = None, *, course: Path | None = None) -> list[Path]:
    """``make student``: nbgrader's ``generate_assignment`` on every lesson; copy the releases to ``out``.

    Args:
        out: where the student notebooks go.
        selected: lesson stems (default: all).
        course: the nbgrader course folder to (re)create (default ``build/nbgrader``).

    Returns:
        The student notebooks written.

    Raises:
        RuntimeError: if nbgrader refuses a lesson (its log is quoted).
    """
    course = course or BUILD / "nbgrader"
    paths = lessons(selected)
    write_course(course, paths)
    written = []
    out.mkdir(parents=True, exist_ok=True)
    for path in paths:
        proc = _run(_nbgrader("generate_assignment", path.stem, "--force", "--ClearOutput.enabled=False"), cwd=course,
                    log=course / "logs" / f"generate_{path.stem}.log")
        release = course / "release" / path.stem / path.name
        if proc.returncode != 0 or not release.is_file():
            raise RuntimeError(f"nbgrader generate_assignment failed on {path.name}:\n{proc.stdout}{proc.stderr}")
        target = out / path.name
        shutil.copyfile(release, target)
        written.append(target)
    return written


# ---------------------------------------------------------------------------------------------
# Grading
# ---------------------------------------------------------------------------------------------

@dataclass
class Result:
    """One student's scores: ``scores[(lesson, grade_id)] = (points, max points)``, notes, and time per lesson."""

    student: str
    scores: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    reasons: dict[tuple[str, str], str] = field(default_factory=dict)
    wall_s: dict[str, float] = field(default_factory=dict)
    left_running: int = 0


def marked_sources(stems: list[str] | None = None) -> dict[str, dict]:
    """Each lesson as a plain dict, its exercise cells marked with nbgrader's metadata (the grader's source)."""
    import nbformat

    out = {}
    for path in lessons(stems):
        nb = nbformat.read(path, as_version=4)
        mark_exercises(nb, path.name)
        out[path.stem] = json.loads(nbformat.writes(nb))
    return out


def grade(submissions: Path, out: Path, *, cell_timeout: int = 300, notebook_timeout: int = 600,
          workers: int | None = None, memory_mb: int = 3000, unsafe: bool = False) -> list[Result]:
    """``make grade``: run each submission in a sandboxed kernel, judge it from this process, write the reports.

    See ``tools/grading.py`` for how; ``docs/teaching.md`` for what the sandbox guarantees.

    Args:
        submissions: a folder with one sub-folder per student holding their ``NN_topic.ipynb`` files.
        out: where ``scores.csv``, ``scores.md``, ``feedback/`` and ``logs/`` go (cleared of them first).
        cell_timeout: seconds one cell may run; past it the student's kernel is killed (what is left scores 0).
        notebook_timeout: seconds one notebook may take in all, checks included.
        workers: notebooks graded at once (default: the CPU count).
        memory_mb: memory one notebook's processes may hold together.
        unsafe: refused for now when bubblewrap is missing (the flag is how a teacher would say they accept it).

    Returns:
        One :class:`Result` per student, in name order.

    Raises:
        ValueError: if ``submissions`` is not a folder or holds no lesson notebook.
        RuntimeError: if the sandbox's tool is missing.
    """
    import grading
    import sandbox

    if not submissions.is_dir():
        raise ValueError(f"expected SUBMISSIONS to be a folder of <student>/NN_topic.ipynb, got {submissions}")
    stems = {p.stem for p in lessons()}
    found, _ = grading.collect(submissions, stems)
    if not found:
        raise ValueError(f"expected <student>/NN_topic.ipynb files in {submissions} (lessons: {sorted(stems)}), "
                         "found none")
    sources = marked_sources(sorted({stem for nbs in found.values() for stem in nbs}))
    jobs, notes, wall = grading.grade_all(submissions, out, sources, workers=workers,
                                          limits=sandbox.Limits(memory_mb=memory_mb), cell_timeout=cell_timeout,
                                          notebook_timeout=notebook_timeout, unsafe=unsafe)
    grading.write_reports(jobs, notes, sources, out, wall)
    by_student: dict[str, Result] = {}
    for student in sorted({j.student for j in jobs} | {s for s in notes if s != "(submissions)"}):
        by_student[student] = Result(student, notes=list(notes.get(student, [])))
    for job in jobs:
        r = by_student[job.student]
        r.notes += [n for n in job.notes if n not in r.notes]
        r.wall_s[job.lesson] = job.wall_s
        r.left_running += job.left_running
        for ex in job.exercises:
            r.scores[(job.lesson, ex.grade_id)] = (ex.points, 1.0)
            r.reasons[(job.lesson, ex.grade_id)] = ex.reason
            if ex.points < 1:
                r.notes.append(f"{job.lesson} {ex.grade_id}: {ex.points:g}/1: {ex.reason}")
    return [by_student[s] for s in sorted(by_student)]


# ---------------------------------------------------------------------------------------------
# The teacher's guide: the tables that come from the lessons themselves
# ---------------------------------------------------------------------------------------------

DOC = ROOT / "docs" / "teaching.md"
DOC_BLOCK = re.compile(r"(<!-- generated: (\w+) -->\n)(.*?)(<!-- end generated -->)", re.S)


def _recorded_seconds(nb: dict) -> tuple[float, int, int]:
    """Seconds the saved outputs took to compute (nbclient's timing records), cells timed, code cells."""
    from datetime import datetime

    total, timed, code = 0.0, 0, 0
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        code += 1
        rec = cell.get("metadata", {}).get("execution", {})
        if "iopub.execute_input" in rec and "shell.execute_reply" in rec:
            start = datetime.fromisoformat(rec["iopub.execute_input"].replace("Z", "+00:00"))
            end = datetime.fromisoformat(rec["shell.execute_reply"].replace("Z", "+00:00"))
            total += (end - start).total_seconds()
            timed += 1
    return total, timed, code


def _objectives(nb: dict) -> list[str]:
    text = _source(nb["cells"][0])
    part = text.split("**Learning objectives.**", 1)[1].split("**Prerequisites.**", 1)[0]
    items, current = [], None
    for line in part.splitlines():
        if line.startswith("- "):
            current = line[2:].strip()
            items.append(current)
        elif current is not None and line.startswith("  ") and line.strip():
            items[-1] += " " + line.strip()
    return items


def _title(nb: dict) -> str:
    return next(ln[2:].strip() for ln in _source(nb["cells"][0]).splitlines() if ln.startswith("# "))


def doc_blocks() -> dict[str, str]:
    """The generated parts of ``docs/teaching.md``: lesson times and learning objectives, read from the lessons."""
    import nbformat

    times = ["| lesson | full profile, as recorded in its saved outputs | cells timed | exercises (points) |",
             "|---|---|---|---|"]
    goals = []
    for path in lessons():
        nb = json.loads(path.read_text(encoding="utf-8"))
        seconds, timed, code = _recorded_seconds(nb)
        minutes = f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"
        points = len(mark_exercises(nbformat.reads(path.read_text(encoding="utf-8"), as_version=4), path.name))
        times.append(f"| {path.stem} | {minutes} | {timed} of {code} | {points} |")
        goals += [f"**{path.stem}: {_title(nb)}**", ""] + [f"- {item}" for item in _objectives(nb)] + [""]
    return {"times": "\n".join(times) + "\n", "objectives": "\n".join(goals)}


def render_doc(text: str) -> str:
    """``text`` with each ``<!-- generated: name -->`` block replaced by :func:`doc_blocks`' version."""
    blocks = doc_blocks()
    return DOC_BLOCK.sub(lambda m: m.group(1) + blocks[m.group(2)] + m.group(4), text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("student", help="write build/student/NN_topic.ipynb for every lesson")
    s.add_argument("--out", type=Path, default=BUILD / "student")
    s.add_argument("lessons", nargs="*", help="lesson stems (default: all)")
    g = sub.add_parser("grade", help="grade a folder of submissions: SUBMISSIONS/<student>/NN_topic.ipynb")
    g.add_argument("submissions", type=Path)
    g.add_argument("--out", type=Path, default=BUILD / "grades")
    g.add_argument("--cell-timeout", type=int, default=300, help="seconds per cell (default 300)")
    g.add_argument("--notebook-timeout", type=int, default=600, help="seconds per notebook, checks included")
    g.add_argument("--workers", type=int, default=None, help="notebooks at once (default: the CPU count)")
    g.add_argument("--memory-mb", type=int, default=3000, help="memory per notebook (default 3000 MB)")
    g.add_argument("--unsafe", action="store_true", help="accept grading without the sandbox (not supported yet)")
    sub.add_parser("docs", help="refresh the generated tables of docs/teaching.md from the lessons")
    args = parser.parse_args(argv)
    started = time.monotonic()
    if args.command == "docs":
        from course_utils import atomic

        atomic.write_text(DOC, render_doc(DOC.read_text(encoding="utf-8")))
        print(f"refreshed {DOC.relative_to(ROOT)}")
        return 0
    if args.command == "student":
        for path in build_student(args.out, args.lessons):
            print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    else:
        try:
            results = grade(args.submissions, args.out, cell_timeout=args.cell_timeout,
                            notebook_timeout=args.notebook_timeout, workers=args.workers, memory_mb=args.memory_mb,
                            unsafe=args.unsafe)
        except RuntimeError as err:
            print(f"make grade: {err}", file=sys.stderr)
            return 2
        print(f"graded {len(results)} student(s); tables in {args.out}/scores.csv and scores.md")
        print((args.out / "scores.md").read_text(encoding="utf-8"))
    print(f"done in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
