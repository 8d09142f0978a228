"""Repository hygiene: records written through one atomic writer, no path of one machine in the scripts, and every
benchmark script described, linted and run from somewhere."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = sorted([*(ROOT / "benchmarks").glob("*.py"), *(ROOT / "tools").glob("*.py")])

# Files written in place on purpose: scratch that the same run creates and throws away, build output, or a log.
# A record (JSON results, a README or docs table, grades, feedback) goes through course_utils.atomic instead.
SCRATCH = {
    ("benchmarks/lesson_budget.py", "kernel_spec_dir"): "a kernel spec in a temporary folder",
    ("tools/sandbox.py", "write_kernel_spec"): "a kernel spec in the job's scratch folder",
    ("tools/build_site.py", "stage_notebook"): "build/site-src, rebuilt from scratch by make site",
    ("tools/build_site.py", "copy_mathjax"): "build/site-src",
    ("tools/build_site.py", "write_badges"): "build/site-src",
    ("tools/build_site.py", "stage"): "build/site-src",
    ("tools/classroom.py", "_run"): "nbgrader's log of one command",
    ("tools/classroom.py", "write_course"): "the nbgrader course folder, rebuilt from scratch by make student",
    ("tools/grading.py", "student_lesson_source"): "a lesson's source for the sandbox, in the job's scratch folder",
    ("tools/grading.py", "stub_exercises"): "the exercises stand-in for the sandbox, in the job's scratch folder",
    ("tools/grading.py", "_invoke"): "one call's arguments for the sandboxed kernel (course_utils.rpc)",
    ("tools/sync_lessons.py", "main"): "a lesson's .py source (make sync; git holds the last version)",
}
WRITERS = {"write_text", "write_bytes", "dump", "savefig", "write", "save"}


def _writes(path: Path) -> list[tuple[str, int]]:
    """(enclosing function, line) of every call that writes a file other than through ``atomic``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []

    def visit(node: ast.AST, function: str) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            function = node.name
        if isinstance(node, ast.Call):
            func = node.func
            mode = next((a.value for a in [*node.args, *(k.value for k in node.keywords if k.arg == "mode")]
                         if isinstance(a, ast.Constant) and isinstance(a.value, str) and a.value[:1] in "wax"), None)
            if isinstance(func, ast.Attribute) and func.attr in WRITERS and ast.unparse(func.value) != "atomic":
                found.append((function, node.lineno))
            elif mode and (isinstance(func, ast.Name) and func.id == "open"
                           or isinstance(func, ast.Attribute) and func.attr == "open"):
                found.append((function, node.lineno))
        for child in ast.iter_child_nodes(node):
            visit(child, function)

    visit(tree, "<module>")
    return found


def test_the_scan_sees_every_kind_of_write(tmp_path):
    script = tmp_path / "s.py"
    script.write_text("import json\nfrom course_utils import atomic\n"
                      "def a(p):\n    p.write_text('x')\n"
                      "def b(p):\n    with open(p, 'w') as f:\n        json.dump({}, f)\n"
                      "def c(p):\n    with p.open(mode='a') as f:\n        f.write('x')\n"
                      "def d(p):\n    atomic.write_text(p, 'x')\n    open(p).read()\n")
    assert [f for f, _ in _writes(script)] == ["a", "b", "b", "c", "c"]


def test_records_are_written_atomically():
    """A crash, kill -9 or full disk while a benchmark or tool writes its record leaves the old record or the new."""
    unlisted = [f"{path.relative_to(ROOT)}:{line} in {function}()" for path in SCRIPTS
                for function, line in _writes(path)
                if (str(path.relative_to(ROOT)), function) not in SCRATCH]
    assert unlisted == [], ("write records with course_utils.atomic (write_text, write_bytes, atomic_path), or name the "
                            f"scratch file in SCRATCH with why it may be written in place: {unlisted}")


def test_every_scratch_exception_is_still_there():
    present = {(str(path.relative_to(ROOT)), function) for path in SCRIPTS for function, _ in _writes(path)}
    assert set(SCRATCH) <= present, f"remove from SCRATCH what no longer writes in place: {set(SCRATCH) - present}"


# A path that exists on one machine only: a home folder, a workspace, a mount. The exploration code in
# benchmarks/archive is kept as it ran (its README says so); every other script must find files from its own place.
MACHINE_PATH = re.compile(r"""["'](?:/home/|/Users/|/work/|/mnt/|/scratch/|[A-Za-z]:\\\\Users)""")


def test_the_machine_path_pattern():
    assert MACHINE_PATH.search('sys.path.insert(0, "/work/main")') and MACHINE_PATH.search("Path('/home/ana/x')")
    assert not MACHINE_PATH.search('ROOT = Path(__file__).resolve().parent.parent; out = "/tmp/budget.json"')


def test_no_script_outside_the_archive_hard_codes_a_machine_path():
    def skipped(folders: tuple[str, ...]) -> bool:  # virtual environments (.venv, .venv-colab), git, build output
        return bool({".git", "build", "archive"} & set(folders)) or any(f.startswith(".venv") for f in folders)

    scripts = [path for path in ROOT.rglob("*.py") if not skipped(path.relative_to(ROOT).parts[:-1])
               and path != Path(__file__).resolve()] + [ROOT / "Makefile"]  # (its examples)
    found = [f"{path.relative_to(ROOT)}:{n}" for path in scripts
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if MACHINE_PATH.search(line)]
    assert found == [], f"find files relative to the repository (Path(__file__)), not at a path of one machine: {found}"


# Every script left in benchmarks/ (the exploration code lives in benchmarks/archive) is described in
# benchmarks/README.md, linted, and run from somewhere a reader starts: the Makefile, a lesson, the README, or a
# script that is (a recipe file the benchmark imports).
BENCHMARKS = sorted((ROOT / "benchmarks").glob("*.py"))
ENTRY_POINTS = [ROOT / "Makefile", ROOT / "README.md", *sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))]


def _imports(path: Path) -> set[str]:
    """Stems of the benchmarks/ scripts ``path`` imports (``import x`` / ``from x import ...``, any scope)."""
    stems = {p.stem for p in BENCHMARKS}
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found & stems


def test_every_benchmark_is_described_in_benchmarks_readme():
    readme = (ROOT / "benchmarks" / "README.md").read_text(encoding="utf-8")
    missing = [p.name for p in BENCHMARKS if f"benchmarks/{p.name}" not in readme]
    assert BENCHMARKS and missing == [], f"say what these do in benchmarks/README.md: {missing}"


def test_every_benchmark_is_reachable_from_the_makefile_a_lesson_or_the_readme():
    text = "\n".join(path.read_text(encoding="utf-8") for path in ENTRY_POINTS)
    reached = {p.stem for p in BENCHMARKS if f"benchmarks/{p.name}" in text}
    while True:  # and what those scripts import
        more = set().union(*(_imports(ROOT / "benchmarks" / f"{stem}.py") for stem in reached)) - reached
        if not more:
            break
        reached |= more
    unreached = sorted(p.name for p in BENCHMARKS if p.stem not in reached)
    assert {"time_to_quality", "canonical_dcgan"} <= reached and unreached == [], (
        f"no Makefile target, lesson or README line runs {unreached}: name it there, or move it to benchmarks/archive")


def test_everything_left_in_benchmarks_is_linted():
    """ruff's excludes leave out the archive only (and notebooks' outputs, the venv)."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["ruff"]
    excluded = set(config.get("exclude", [])) | set(config.get("extend-exclude", []))
    assert "benchmarks/archive" in excluded
    assert not [e for e in excluded if e.startswith("benchmarks") and e != "benchmarks/archive"], excluded
    assert not [k for k in config.get("lint", {}).get("per-file-ignores", {}) if k.startswith("benchmarks")]
