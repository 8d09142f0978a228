"""The classroom edition: `make student` writes student notebooks with nbgrader, and `make grade` grades them.

These tests run nbgrader's own `generate_assignment` and `autograde` (installed by `make test` from
requirements-teacher-lock.txt), execute every student notebook in the smoke profile, and grade a small class of
hand-made submissions of lesson 01: the solutions, the untouched student edition, one with a named mistake, a
deleted check and a hang, and one whose kernel dies.
"""

from __future__ import annotations

import ast
import csv
import faulthandler
import json
import re
import sys
import time
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import classroom  # noqa: E402

LESSONS = classroom.lessons()
GRADED = "01_gan_objective"
REGION = re.compile(r"### BEGIN (SOLUTION|HIDDEN TESTS)\n(.*?)### END \1", re.S)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The student edition of every lesson, and the nbgrader course it was generated in."""
    root = tmp_path_factory.mktemp("classroom")
    student = root / "student"
    written = classroom.build_student(student, course=root / "nbgrader")
    return {"student": student, "course": root / "nbgrader", "written": written}


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _src(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def test_every_lesson_gets_a_student_notebook(built):
    assert sorted(p.name for p in built["written"]) == sorted(p.name for p in LESSONS)


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_student_cells_carry_nbgrader_metadata_and_stubs(built, lesson):
    cells = _cells(built["student"] / lesson.name)
    solutions = [c for c in cells if c["metadata"].get("nbgrader", {}).get("solution")]
    checks = [c for c in cells if c["metadata"].get("nbgrader", {}).get("grade")]
    assert solutions and checks, f"{lesson.name}: no exercise cells marked for nbgrader"
    assert len(checks) == len(_exercise_checks(lesson))
    for cell in solutions:
        assert "# YOUR CODE HERE" in _src(cell) and "raise NotImplementedError()" in _src(cell)
        assert not cell.get("outputs"), "exercise cells must have no saved output"
        assert cell["metadata"]["nbgrader"]["locked"] is False
    for cell in checks:
        meta = cell["metadata"]["nbgrader"]
        assert meta["points"] == 1 and meta["locked"] is True and meta["grade_id"].endswith("-check")
        assert not cell.get("outputs") and "HIDDEN TESTS" not in _src(cell)
    ids = [c["metadata"]["nbgrader"]["grade_id"] for c in cells if "nbgrader" in c["metadata"]]
    assert len(ids) == len(set(ids))


def _exercise_checks(lesson: Path) -> list[dict]:
    """The code cells of the lesson's Exercises section that call a check."""
    cells = _cells(lesson)
    start = next(i for i, c in enumerate(cells) if c["cell_type"] == "markdown" and "## Exercises" in _src(c))
    return [c for c in cells[start:] if c["cell_type"] == "code" and "ex.check_" in _src(c)]


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_no_solution_line_remains_in_the_student_edition(built, lesson):
    """Every line of every solution and hidden test is gone, unless the lesson also shows it outside them."""
    text = lesson.with_suffix(".py").read_text(encoding="utf-8")
    hidden = [ln.strip() for _, body in REGION.findall(text) for ln in body.splitlines() if ln.strip()]
    assert hidden, f"{lesson.name} has no solution"
    elsewhere = {ln.strip() for ln in REGION.sub("", text).splitlines()}
    student = (built["student"] / lesson.name).read_text(encoding="utf-8")
    body = "\n".join(_src(c) + json.dumps(c.get("outputs", [])) for c in json.loads(student)["cells"])
    student_lines = {ln.strip() for ln in body.splitlines()}
    leaked = [ln for ln in hidden if ln in student_lines and ln not in elsewhere]
    assert not leaked, f"solution lines left in build/student/{lesson.name}: {leaked}"
    assert "BEGIN SOLUTION" not in body and "BEGIN HIDDEN TESTS" not in body


def test_lesson_outputs_outside_the_exercises_are_kept(built):
    cells = _cells(built["student"] / "02_convolution_and_pooling.ipynb")
    assert any(o.get("output_type") == "display_data" for c in cells for o in c.get("outputs", []))


@pytest.mark.slow
@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_a_student_notebook_runs_to_the_end_reporting_each_exercise_not_attempted(built, lesson, monkeypatch):
    from nbclient import NotebookClient

    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    nb = nbformat.read(built["student"] / lesson.name, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=False,
                   resources={"metadata": {"path": str(built["student"])}}).execute()
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code), "some cells did not run"
    reports = []
    for cell in code:
        meta = cell.metadata.get("nbgrader", {})
        stderr = "".join(o.get("text", "") for o in cell.outputs if o.get("name") == "stderr")
        if "raises-exception" not in cell.metadata.get("tags", []):  # the lesson's own demonstrations of errors
            assert not any(o.output_type == "error" for o in cell.outputs)
        if meta.get("grade"):
            reports += re.findall(r"Exercise (\d+): not attempted yet", stderr)
            assert "Traceback" not in stderr
    checks = [c for c in code if c.metadata.get("nbgrader", {}).get("grade")]
    assert [int(n) for n in reports] == list(range(1, len(checks) + 1))


def test_marking_refuses_a_lesson_without_checks_after_a_solution():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("## Exercises"),
                nbformat.v4.new_code_cell("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION"),
                nbformat.v4.new_markdown_cell("## Next")]
    with pytest.raises(ValueError, match="x.ipynb: the last solution cell of the Exercises section has no check"):
        classroom.mark_exercises(nb, "x.ipynb")
    nb.cells.insert(0, nbformat.v4.new_code_cell("### BEGIN SOLUTION\nx = 1\n### END SOLUTION"))
    with pytest.raises(ValueError, match="x.ipynb: cell 0 holds '### BEGIN SOLUTION' outside the Exercises section"):
        classroom.mark_exercises(nb, "x.ipynb")
    with pytest.raises(ValueError, match="expected a '## Exercises' section"):
        classroom.mark_exercises(nbformat.v4.new_notebook(), "y.ipynb")
    with pytest.raises(ValueError, match="expected lesson names among"):
        classroom.lessons(["99_nothing"])


# ---------------------------------------------------------------------------------------------
# Grading the trial class (tests/classroom/trial_class.py), sandboxed
# ---------------------------------------------------------------------------------------------

sys.path.insert(0, str(ROOT))
import sandbox  # noqa: E402

from tests.classroom import trial_class  # noqa: E402

NO_SANDBOX = sandbox.missing_tools()
TRIAL = trial_class.LESSON
UIDS = range(sandbox.FIRST_UID, sandbox.LAST_UID + 1)


def _processes_with(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def _sandbox_processes() -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                uid = next(int(ln.split()[1]) for ln in (entry / "status").read_text().splitlines() if ln.startswith("Uid:"))
            except (OSError, StopIteration):
                continue
            if uid in UIDS:
                found.append(int(entry.name))
    return found


@pytest.fixture(scope="module")
def trial(built, tmp_path_factory):
    """Grade the trial class once: its submissions, the sentinels of the attacks, a listener, the results."""
    import socket
    import threading

    root = tmp_path_factory.mktemp("trial")
    subs, out = root / "submissions", root / "grades"
    out.mkdir()
    (out / "scores.csv").write_text("stale\n")               # the last run's tables are replaced
    (out / "INJECTED_EARLIER.txt").write_text("a file of the teacher's")
    sentinels = [ROOT / "data" / ".trial_sentinel", ROOT / "course_utils" / ".trial_sentinel"]
    for path in sentinels:
        path.write_text("original\n")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    listener.settimeout(0.2)
    heard: list[bytes] = []
    stop = threading.Event()

    def listen():
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
                heard.append(conn.recv(100) or b"(connected)")
                conn.close()
            except OSError:
                continue

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    targets = {
        "read": [str(ROOT / "notebooks" / "*.ipynb"), str(ROOT / "notebooks" / "*.py"), str(ROOT / "build" / "**"),
                 str(built["course"] / "source" / "**" / "*.ipynb"), str(built["course"] / "gradebook.db"),
                 "/tmp/course-grading-*/**", "/root/.ssh/*", str(subs / "**" / "*.ipynb"), str(out / "*"),
                 str(ROOT / "course_utils" / "exercises" / "convolution.py")],
        "list": [str(subs), str(out), "/root", str(ROOT / "notebooks"), str(ROOT / "build"), "/tmp"],
        "write": [str(out / "INJECTED_BY_MALICIOUS.txt"), *map(str, sentinels),
                  str(ROOT / "course_utils" / "exercises" / "convolution.py")],
        "port": str(listener.getsockname()[1]),
    }
    source = json.loads((built["course"] / "source" / TRIAL / f"{TRIAL}.ipynb").read_text(encoding="utf-8"))
    student = json.loads((built["student"] / f"{TRIAL}.ipynb").read_text(encoding="utf-8"))
    expected = trial_class.write_class(subs, source, student, targets)
    answers_before = (ROOT / "course_utils" / "exercises" / "convolution.py").read_bytes()
    started = time.monotonic()
    # A grader that hangs must fail make test, not stall CI: dump every thread's stack and exit after 20 minutes.
    faulthandler.dump_traceback_later(1200, exit=True)
    try:
        results = classroom.grade(subs, out, cell_timeout=30, notebook_timeout=240, memory_mb=2500)
    finally:
        faulthandler.cancel_dump_traceback_later()
        wall = time.monotonic() - started
        stop.set()
        thread.join()
        listener.close()
        changed = [p for p in sentinels if p.read_text() != "original\n"]
        for path in sentinels:
            path.unlink()
    return {"results": {r.student: r for r in results}, "expected": expected, "out": out, "heard": heard,
            "changed": changed, "wall": wall, "subs": subs,
            "answers_changed": (ROOT / "course_utils" / "exercises" / "convolution.py").read_bytes() != answers_before}


def _total(result) -> float:
    return sum(points for (lesson, _), (points, _) in result.scores.items() if lesson == TRIAL)


@pytest.mark.slow
@pytest.mark.skipif(bool(NO_SANDBOX), reason=f"no grading sandbox: {NO_SANDBOX}")
def test_each_student_scores_what_the_work_is_worth(trial):
    got = {name: _total(trial["results"][name]) for name in trial["expected"]}
    assert got == trial["expected"]


@pytest.mark.slow
@pytest.mark.skipif(bool(NO_SANDBOX), reason=f"no grading sandbox: {NO_SANDBOX}")
def test_the_reasons_name_what_went_wrong(trial):
    r = trial["results"]
    reasons = {name: res.reasons for name, res in r.items()}
    assert "not attempted yet" in reasons["blank"][(TRIAL, "ex1-check")]
    assert "every pixel that ties for the maximum got the gradient" in reasons["partial"][(TRIAL, "ex2-check")]
    assert "raised AttributeError" in reasons["hardcoder"][(TRIAL, "ex1-check")]
    assert "write it yourself rather than calling" in reasons["hardcoder"][(TRIAL, "ex3-check")]
    tamper = "\n".join(r["tamperer"].notes)
    assert "the solution cell ex2-solution is missing" in tamper
    assert "cell ex3-check was marked as a solution" in tamper and "two cells carry the id ex1-solution" in tamper
    assert "ran past the time limit" in reasons["runaway_loop"][(TRIAL, "ex1-check")]
    assert "more than 2500 MB" in reasons["runaway_memory"][(TRIAL, "ex1-check")]
    notes = "\n".join(n for res in r.values() for n in res.notes)
    for text in ("invalid JSON", "the file is empty", "a .py file is not graded", "not a lesson of this course",
                 "only 02_convolution_and_pooling.ipynb at the top", "at most 20 MB are graded",
                 "characters other than letters"):
        assert text in notes, text
    md = (trial["out"] / "scores.md").read_text(encoding="utf-8")
    assert "every pixel that ties for the maximum got the gradient; only one of them was the output" in md
    feedback = trial["out"] / "feedback" / "partial" / f"{TRIAL}.md"
    assert "Score: 1 / 3" in feedback.read_text(encoding="utf-8")


@pytest.mark.slow
@pytest.mark.skipif(bool(NO_SANDBOX), reason=f"no grading sandbox: {NO_SANDBOX}")
def test_every_attack_failed(trial):
    nb = json.loads((trial["out"] / "logs" / f"malicious_{TRIAL}.ipynb").read_text(encoding="utf-8"))
    printed = "".join(_src({"source": o.get("text", "")}) for c in nb["cells"] for o in c.get("outputs", []))
    assert "WROTE" not in printed and "CONNECTED" not in printed, printed
    # What the sandbox may show: the stand-in of the checks module (no answers in it), and the empty folders that
    # lead to what it mounts read-only (the course, the Python install): under /root or /tmp when the course or
    # Python lives there, plus the job's own scratch folder under /tmp. Anything else that leaked fails here.
    stand_in = re.compile(r"LEAK: \S*course_utils/exercises/convolution\.py b'\"\"\"Stand-in while grading")
    mounted = [Path(p).resolve() for p in (ROOT, sys.prefix, sys.base_prefix)]
    skeleton = {top: {m.relative_to(top).parts[0] for m in mounted if m.is_relative_to(top) and m != Path(top)}
                for top in ("/root", "/tmp")}
    leaks = []
    for line in printed.splitlines():
        listed = re.fullmatch(r"LEAK: listed (/root|/tmp) (\[.*\])", line)
        names = set(ast.literal_eval(listed.group(2))) if listed else None
        if listed and all(n in skeleton[listed.group(1)] or (listed.group(1) == "/tmp"
                          and re.fullmatch(r"course-grading-[a-z0-9_]+", n)) for n in names):
            continue
        if "LEAK" in line and not stand_in.match(line):
            leaks.append(line)
    assert leaks == [], leaks
    assert trial["heard"] == [], "the sandbox reached the teacher's network"
    assert trial["changed"] == [] and not trial["answers_changed"]
    assert not (trial["out"] / "INJECTED_BY_MALICIOUS.txt").exists()
    assert not _processes_with(trial_class.DAEMON_TAG), "a process of a submission outlived its grading"
    assert not _sandbox_processes(), "a sandbox user still runs processes"
    assert not list(Path("/tmp").glob("course-grading-*")), "the grading folders (50,000 files) were left behind"
    assert (trial["subs"] / "ace" / f"{TRIAL}.ipynb").is_file()


@pytest.mark.slow
@pytest.mark.skipif(bool(NO_SANDBOX), reason=f"no grading sandbox: {NO_SANDBOX}")
def test_a_runaway_costs_at_most_its_limit_and_the_tables_are_fresh(trial):
    r = trial["results"]
    assert r["runaway_loop"].wall_s[TRIAL] < r["ace"].wall_s[TRIAL] + 30 + 60
    rows = list(csv.DictReader((trial["out"] / "scores.csv").open(encoding="utf-8")))
    assert "ace" in [row["student"] for row in rows] and (trial["out"] / "INJECTED_EARLIER.txt").exists()
    print(f"trial class: {len(trial['expected'])} graded students in {trial['wall']:.0f} s")


def test_grading_refuses_to_run_without_the_sandbox(tmp_path, monkeypatch):
    (tmp_path / "alice").mkdir()
    (tmp_path / "alice" / f"{GRADED}.ipynb").write_text("{}")
    monkeypatch.setattr(sandbox, "missing_tools", lambda: "bubblewrap is not installed")
    with pytest.raises(RuntimeError, match="refusing to grade without the sandbox: bubblewrap is not installed"):
        classroom.grade(tmp_path, tmp_path / "out")


def test_grade_refuses_an_empty_or_missing_folder(tmp_path):
    with pytest.raises(ValueError, match="expected SUBMISSIONS to be a folder"):
        classroom.grade(tmp_path / "nowhere", tmp_path / "out")
    (tmp_path / "alice").mkdir()
    (tmp_path / "alice" / "notes.txt").write_text("hi")
    with pytest.raises(ValueError, match="expected <student>/NN_topic.ipynb files in"):
        classroom.grade(tmp_path, tmp_path / "out")


def test_the_teachers_guide_tables_match_the_lessons():
    text = classroom.DOC.read_text(encoding="utf-8")
    assert classroom.render_doc(text) == text, "docs/teaching.md is stale: run python tools/classroom.py docs"
    assert "| 04_dcgan |" in text and "read a GAN training loop and find what is wrong with it" in text


def test_the_readme_promises_only_what_exists():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "make student" in readme and "make grade SUBMISSIONS=dir" in readme and "docs/teaching.md" in readme
    assert re.search(r"^student: ", makefile, re.M) and re.search(r"^grade: ", makefile, re.M)
    assert re.search(r"^lab: \$\(STAMP\)$", makefile, re.M), "make lab must not need the teacher's extra"
    pins = (ROOT / "requirements-teacher-lock.txt").read_text(encoding="utf-8")
    assert re.search(r"^nbgrader==0\.9\.\d+$", pins, re.M)
    import nbgrader

    assert f"nbgrader=={nbgrader.__version__}" in pins


def test_a_time_out_stops_the_whole_process_group(tmp_path):
    """What `make grade` relies on for a student's time limit: nbgrader *and* the kernels it started are stopped."""
    import os
    import subprocess
    import time

    marker = tmp_path / "child.pid"
    script = (f"import subprocess, time; p = subprocess.Popen(['sleep', '300']); "
              f"open({str(marker)!r}, 'w').write(str(p.pid)); time.sleep(300)")
    started = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired):
        classroom._run([sys.executable, "-c", script], cwd=tmp_path, timeout=5, log=tmp_path / "log.txt")
    assert time.monotonic() - started < 60
    grandchild = int(marker.read_text())
    for _ in range(50):
        try:
            os.kill(grandchild, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the grandchild process outlived the time-out")
    assert "(stopped after 5 s)" in (tmp_path / "log.txt").read_text()
