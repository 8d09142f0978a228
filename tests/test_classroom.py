"""The classroom edition: `make student` writes student notebooks with nbgrader, and `make grade` grades them.

These tests run nbgrader's own `generate_assignment` and `autograde` (installed by `make test` from
requirements-teacher-lock.txt), execute every student notebook in the smoke profile, and grade a small class of
hand-made submissions of lesson 01: the solutions, the untouched student edition, one with a named mistake, a
deleted check and a hang, and one whose kernel dies.
"""

from __future__ import annotations

import copy
import csv
import json
import re
import sys
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
# Grading a small class
# ---------------------------------------------------------------------------------------------

def _solution_cell(nb, grade_id: str):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


@pytest.fixture(scope="module")
def graded(built, tmp_path_factory):
    root = tmp_path_factory.mktemp("grading")
    subs = root / "submissions"
    source = nbformat.read(built["course"] / "source" / GRADED / f"{GRADED}.ipynb", as_version=4)
    student = nbformat.read(built["student"] / f"{GRADED}.ipynb", as_version=4)
    # the solutions, and the student edition untouched
    for name, nb in (("solutions", source), ("blank", student)):
        (subs / name).mkdir(parents=True)
        nbformat.write(nb, subs / name / f"{GRADED}.ipynb")
    # a named mistake in exercise 1 (a sum for a mean), exercise 2's check deleted, exercise 3 hangs
    mixed = copy.deepcopy(source)
    _solution_cell(mixed, "ex1-solution").source = (
        "from course_utils.exercises import gan_objective as ex\n\n"
        "def discriminator_loss_np(real_logits, fake_logits):\n"
        "    return np.sum(np.logaddexp(0, -real_logits)) + np.sum(np.logaddexp(0, fake_logits))\n")
    mixed.cells.remove(_solution_cell(mixed, "ex2-check"))
    _solution_cell(mixed, "ex3-solution").source = (
        "def optimal_discriminator_from_log_densities(log_p_data, log_p_g):\n"
        "    import time\n    time.sleep(10**6)\n")
    # a kernel that dies in the middle of the exercises
    crash = copy.deepcopy(source)
    _solution_cell(crash, "ex2-solution").source = "import os\nos._exit(3)\n"
    for name, nb in (("mixed", mixed), ("crash", crash)):
        (subs / name).mkdir(parents=True)
        nbformat.write(nb, subs / name / f"{GRADED}.ipynb")
    out = root / "grades"
    results = classroom.grade(subs, out, cell_timeout=120, student_timeout=900, course=root / "course")
    return {r.student: r for r in results}, out


GRADE_IDS = [f"ex{n}-check" for n in (1, 2, 3)]


def _score(result, gid):
    return result.scores[(GRADED, gid)][0]


@pytest.mark.slow
def test_the_solutions_get_full_marks_and_the_student_edition_zero(graded):
    results, _ = graded
    assert [_score(results["solutions"], g) for g in GRADE_IDS] == [1.0, 1.0, 1.0]
    assert results["solutions"].notes == []
    assert [_score(results["blank"], g) for g in GRADE_IDS] == [0.0, 0.0, 0.0]
    assert all("not attempted yet" in note for note in results["blank"].notes)


@pytest.mark.slow
def test_a_mistake_a_deleted_check_and_a_hang_cost_only_their_exercise(graded):
    results, _ = graded
    mixed = results["mixed"]
    assert [_score(mixed, g) for g in GRADE_IDS] == [0.0, 0.0, 0.0]
    notes = "\n".join(mixed.notes)
    assert re.search(r"ex1-check: 0/1: ExerciseError: discriminator_loss\(.*\): expected", notes)
    assert "ex2-check: 0/1: the check cell was deleted from the submission" in notes
    assert re.search(r"ex3-check: 0/1: CellTimeoutError", notes)
    # hidden tests are back at grading time: nbgrader restored the full check cells
    autograded = graded[1].parent / "course" / "autograded" / "solutions" / GRADED / f"{GRADED}.ipynb"
    assert "hidden=True" in _src(_solution_cell(nbformat.read(autograded, as_version=4), "ex1-check"))
    # the hang was stopped, and the next student was graded as if nothing happened
    assert [_score(results["solutions"], g) for g in GRADE_IDS] == [1.0, 1.0, 1.0]


@pytest.mark.slow
def test_a_dead_kernel_scores_zero_with_a_clear_line_and_the_run_goes_on(graded):
    results, _ = graded
    crash = results["crash"]
    assert [_score(crash, g) for g in GRADE_IDS] == [0.0, 0.0, 0.0]
    assert any("nbgrader could not grade the notebook" in note for note in crash.notes)
    assert set(results) == {"solutions", "blank", "mixed", "crash"}


@pytest.mark.slow
def test_the_score_tables(graded):
    results, out = graded
    rows = list(csv.DictReader((out / "scores.csv").open(encoding="utf-8")))
    assert [r["student"] for r in rows] == ["blank", "crash", "mixed", "solutions"]
    by_name = {r["student"]: r for r in rows}
    assert by_name["solutions"]["total"] == "3" and by_name["solutions"]["max"] == "3"
    assert by_name["blank"]["total"] == "0" and by_name["solutions"][f"{GRADED}:ex2-check"] == "1"
    md = (out / "scores.md").read_text(encoding="utf-8")
    assert "| solutions | 1 | 1 | 1 | 3 | 3 |" in md
    assert "- **mixed**: 01_gan_objective ex2-check: 0/1: the check cell was deleted" in md


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
