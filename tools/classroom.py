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
import csv
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
    """One student's scores: ``scores[(lesson, grade_id)] = (points, max points)`` and notes on what failed."""

    student: str
    scores: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _first_line(text: str) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", text).strip()
    return text.splitlines()[0][:240] if text else ""


def _cell_failures(path: Path) -> dict[str, str]:
    """For each grade cell of an autograded notebook that failed, one line saying why."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    out = {}
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if not meta.get("grade") or cell["cell_type"] != "code":
            continue
        outputs = cell.get("outputs", [])
        if any(o["output_type"] == "error" and o.get("ename") in ("CellTimeoutError", "KeyboardInterrupt")
               for o in outputs):
            # nbgrader interrupts a cell that runs past --Execute.timeout; the kernel reports KeyboardInterrupt
            out[meta["grade_id"]] = "CellTimeoutError: the cell ran past the time limit and was interrupted"
            continue
        for output in outputs:
            if output["output_type"] == "error":
                out[meta["grade_id"]] = _first_line(f"{output['ename']}: {output['evalue']}")
                break
            if output["output_type"] == "stream" and output.get("name") == "stderr":
                out[meta["grade_id"]] = _first_line("".join(output["text"]))
                break
    return out


def _submissions(folder: Path, stems: set[str]) -> dict[str, dict[str, Path]]:
    """``{student: {lesson: notebook}}`` from ``folder/<student>/<lesson>.ipynb`` (or ``<lesson>/<lesson>.ipynb``)."""
    found: dict[str, dict[str, Path]] = {}
    for student_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        if not re.fullmatch(r"[A-Za-z0-9_.@-]+", student_dir.name) or student_dir.name.startswith("."):
            continue
        for nb in sorted(student_dir.rglob("*.ipynb")):
            if nb.stem in stems and ".ipynb_checkpoints" not in nb.parts:
                found.setdefault(student_dir.name, {})[nb.stem] = nb
    return found


def grade(submissions: Path, out: Path, *, cell_timeout: int = 600, student_timeout: int = 1800,
          course: Path | None = None) -> list[Result]:
    """``make grade``: autograde every submission with nbgrader and write the score tables to ``out``.

    Args:
        submissions: a folder with one sub-folder per student holding their ``NN_topic.ipynb`` files.
        out: where ``scores.csv``, ``scores.md`` and the per-student logs go.
        cell_timeout: seconds one cell may run before nbgrader interrupts it (that cell then fails).
        student_timeout: seconds one student's grading may take in all; past it, what is left scores zero.
        course: the nbgrader course folder to (re)create for this run (default ``build/grading``).

    Returns:
        One :class:`Result` per student, in name order.

    Raises:
        ValueError: if ``submissions`` is not a folder or holds no lesson notebook.
    """
    if not submissions.is_dir():
        raise ValueError(f"expected SUBMISSIONS to be a folder of <student>/NN_topic.ipynb, got {submissions}")
    paths = lessons()
    by_student = _submissions(submissions, {p.stem for p in paths})
    if not by_student:
        raise ValueError(f"expected <student>/NN_topic.ipynb files in {submissions} (lessons: "
                         f"{[p.stem for p in paths]}), found none")
    wanted = sorted({stem for nbs in by_student.values() for stem in nbs})
    course = course or BUILD / "grading"
    grade_ids = write_course(course, [p for p in paths if p.stem in wanted])
    for stem in wanted:
        proc = _run(_nbgrader("generate_assignment", stem, "--force"), cwd=course,
                    log=course / "logs" / f"generate_{stem}.log")
        if proc.returncode != 0:
            raise RuntimeError(f"nbgrader generate_assignment failed on {stem}:\n{proc.stdout}{proc.stderr}")
    results = []
    for student, notebooks in sorted(by_student.items()):
        result = Result(student)
        results.append(result)
        for stem, nb in notebooks.items():
            target = course / "submitted" / student / stem / f"{stem}.ipynb"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(nb, target)
        deadline = time.monotonic() + student_timeout
        for stem in sorted(notebooks):
            left = deadline - time.monotonic()
            log = out / "logs" / f"{student}_{stem}.log"
            if left <= 0:
                result.notes.append(f"{stem}: not graded, the student's time limit ({student_timeout} s) was used up")
                continue
            # A loaded machine delays a kernel's output: wait for it rather than fail the whole notebook.
            cmd = _nbgrader("autograde", stem, "--student", student, "--force", f"--Execute.timeout={cell_timeout}",
                            "--Execute.iopub_timeout=60", "--Execute.raise_on_iopub_timeout=False")
            try:
                proc = _run(cmd, cwd=course, timeout=left, log=log)
                if proc.returncode != 0:
                    result.notes.append(f"{stem}: nbgrader could not grade the notebook (see {log.relative_to(out)}): "
                                        f"{_first_line(_nbgrader_error(proc.stdout + proc.stderr))}")
            except subprocess.TimeoutExpired:
                result.notes.append(f"{stem}: stopped after the student's time limit ({student_timeout} s)")
        _read_scores(course, result, notebooks, grade_ids)
    write_tables(results, grade_ids, out)
    return results


def _nbgrader_error(log: str) -> str:
    lines = [ln for ln in log.splitlines() if "[ERROR]" in ln or "Error" in ln]
    return lines[0] if lines else (log.strip().splitlines() or ["no output"])[-1]


def _read_scores(course: Path, result: Result, notebooks: dict[str, Path], grade_ids: dict[str, list[str]]) -> None:
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for stem in sorted(notebooks):
            autograded = course / "autograded" / result.student / stem / f"{stem}.ipynb"
            failures = _cell_failures(autograded) if autograded.is_file() else {}
            present = set()
            if autograded.is_file():
                cells = json.loads(autograded.read_text(encoding="utf-8"))["cells"]
                present = {c.get("metadata", {}).get("nbgrader", {}).get("grade_id") for c in cells}
            for gid in grade_ids[stem]:
                try:
                    g = gb.find_grade(gid, stem, stem, result.student)
                    score, max_score = float(g.score or 0.0), float(g.max_score)
                except MissingEntry:
                    score, max_score = 0.0, 1.0
                if not autograded.is_file():
                    score = 0.0
                result.scores[(stem, gid)] = (score, max_score)
                if score < max_score:
                    if autograded.is_file() and gid not in present:
                        why = "the check cell was deleted from the submission"
                    elif not autograded.is_file():
                        why = "the notebook was not graded (see the note above)"
                    else:
                        why = failures.get(gid, "no points")
                    result.notes.append(f"{stem} {gid}: {score:g}/{max_score:g}: {why}")


def write_tables(results: list[Result], grade_ids: dict[str, list[str]], out: Path) -> tuple[Path, Path]:
    """Write ``scores.csv`` (one row per student, one column per exercise, a total) and ``scores.md``."""
    out.mkdir(parents=True, exist_ok=True)
    columns = [(stem, gid) for stem in sorted(grade_ids) for gid in grade_ids[stem]]
    header = ["student", *[f"{stem}:{gid}" for stem, gid in columns], "total", "max"]
    rows = []
    for r in results:
        cells = [r.scores.get(col) for col in columns]
        total = sum(c[0] for c in cells if c)
        most = sum(c[1] if c else 1.0 for c in cells)
        rows.append([r.student, *[("" if c is None else f"{c[0]:g}") for c in cells], f"{total:g}", f"{most:g}"])
    csv_path, md_path = out / "scores.csv", out / "scores.md"
    with csv_path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    lines = ["# Scores", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    lines += ["", "An empty cell: that lesson was not submitted.", "", "## What got no points", ""]
    for r in results:
        lines += [f"- **{r.student}**: {note}" for note in r.notes] or []
    if not any(r.notes for r in results):
        lines.append("Nothing: every submitted check passed.")
    md_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return csv_path, md_path


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
    g.add_argument("--cell-timeout", type=int, default=600)
    g.add_argument("--student-timeout", type=int, default=1800)
    sub.add_parser("docs", help="refresh the generated tables of docs/teaching.md from the lessons")
    args = parser.parse_args(argv)
    started = time.monotonic()
    if args.command == "docs":
        DOC.write_text(render_doc(DOC.read_text(encoding="utf-8")), encoding="utf-8")
        print(f"refreshed {DOC.relative_to(ROOT)}")
        return 0
    if args.command == "student":
        for path in build_student(args.out, args.lessons):
            print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    else:
        results = grade(args.submissions, args.out, cell_timeout=args.cell_timeout,
                        student_timeout=args.student_timeout)
        print(f"graded {len(results)} student(s); tables in {args.out}/scores.csv and scores.md")
        print((args.out / "scores.md").read_text(encoding="utf-8"))
    print(f"done in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
