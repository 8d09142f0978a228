"""``make grade``: each submission runs in a sandboxed kernel; the checks judge it from the grader's own process.

For each student and lesson (one job, jobs in parallel up to the CPU count):

1. **Assemble.** The notebook that runs is the course's lesson with only the student's *solution cells* put in
   (matched by nbgrader's cell ids). Every other cell comes from the course, so an edited instruction, an added
   cell, deleted or tampered metadata change nothing; the check cells and their hidden tests never enter it.
2. **Run, sandboxed.** A kernel starts inside bubblewrap (``tools/sandbox.py``): no network, an unprivileged uid
   of its own, read-only public files, a private scratch folder, a memory watch, process and file-size limits, a
   time limit per cell and one per notebook, SIGKILL for the whole process tree at the end.
3. **Judge, outside.** For each exercise the grader calls the check of ``course_utils.exercises`` *in its own
   process*, handing it proxies of the student's functions: a call sends the arguments (arrays and numbers, no
   pickle) into the kernel, runs the student's function there, and brings the result back (``course_utils.rpc``).
   Patching a check, redefining ``ex`` or printing "Correct" in the notebook changes nothing. Forbidden calls
   (``tf`` in a from-scratch exercise, ...) are looked for in the submitted cells' source.
   Exercises whose arguments are live objects (Keras models, optimizers, callbacks: lesson 04's exercises 1, 2,
   4 and 5 and lesson 05's two) cannot cross that boundary; their checks run in the kernel instead, re-imported
   from the read-only package just before they run (``docs/teaching.md`` says what that does not protect).
4. **Report.** ``scores.csv``, ``scores.md`` (with every reason in full), ``feedback/<student>/<lesson>.md``, the
   executed notebooks under ``logs/``, and the wall time of each job.
"""

from __future__ import annotations

import ast
import concurrent.futures
import contextlib
import csv
import io
import json
import multiprocessing
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sandbox  # noqa: E402

from course_utils import atomic  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
MAX_NOTEBOOK_BYTES = 20 * 2**20
SOLUTION_BEGIN, SOLUTION_END = "### BEGIN SOLUTION", "### END SOLUTION"
EX_IMPORT = re.compile(r"from course_utils\.exercises import (\w+) as ex\b")
# Lessons whose checks would run in the kernel, with the real exercises package mounted. None: every check that
# hands the learner's function live objects goes through a harness (course_utils/harness.py) and is judged here.
IN_KERNEL_LESSONS: frozenset[str] = frozenset()
# Lesson files a lesson's kernel reads (lesson 05 loads lesson 04's export cells). The sandbox gets them with every
# solution and hidden test cut out (student_lesson_source), as the student edition has them.
LESSON_FILES = {"04_dcgan": ["04_dcgan"], "05_gan_engineering": ["04_dcgan"]}
HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"


@dataclass
class Exercise:
    grade_id: str
    source: str
    points: float = 0.0
    reason: str = ""
    where: str = "grader"


@dataclass
class JobResult:
    student: str
    lesson: str
    exercises: list[Exercise] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    peak_mb: float = 0.0
    left_running: int = 0


# ---------------------------------------------------------------------------------------------
# Collecting the submissions
# ---------------------------------------------------------------------------------------------

def _safe_id(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.@-]+", "_", name).strip("._") or "student"


def collect(folder: Path, stems: set[str]) -> tuple[dict[str, dict[str, Path]], dict[str, list[str]]]:
    """``({student: {lesson: notebook}}, {student or '(submissions)': [notes]})``, never failing on odd content.

    Graded: ``<student>/NN_topic.ipynb`` or ``<student>/NN_topic/NN_topic.ipynb``. Everything else gets a note.
    """
    found: dict[str, dict[str, Path]] = {}
    notes: dict[str, list[str]] = {}
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if not entry.is_dir():
            notes.setdefault("(submissions)", []).append(f"{entry.name}: not in a student's folder, not graded")
            continue
        student = entry.name
        mine = notes.setdefault(student, [])
        if _safe_id(student) != student:
            mine.append(f"the folder name {student!r} has characters other than letters, digits and _.@-; its files "
                        f"are named {_safe_id(student)!r}")
        for path in sorted(p for p in entry.rglob("*") if p.is_file()):
            rel = path.relative_to(entry)
            if any(part.startswith(".") for part in rel.parts):
                continue
            stem = path.stem
            top = rel.parts == (path.name,) or rel.parts == (stem, path.name)
            if path.suffix == ".ipynb" and stem in stems and top:
                if stem in found.get(student, {}):
                    mine.append(f"{rel}: a second copy of {stem}; the first ({found[student][stem].relative_to(entry)})"
                                " is graded")
                    continue
                found.setdefault(student, {})[stem] = path
            elif path.suffix == ".ipynb" and stem in stems:
                mine.append(f"{rel}: only {stem}.ipynb at the top of the student's folder is graded; this copy is not")
            elif path.suffix == ".py":
                mine.append(f"{rel}: a .py file is not graded; submit the notebook (.ipynb)")
            elif path.suffix == ".ipynb":
                mine.append(f"{rel}: not a lesson of this course (lessons: {', '.join(sorted(stems))}); not graded")
            else:
                mine.append(f"{rel}: not a notebook; not graded")
    return found, {k: v for k, v in notes.items() if v}


def read_submission(path: Path) -> tuple[dict | None, str]:
    """The notebook as JSON, or None and why it cannot be graded."""
    size = path.stat().st_size
    if size == 0:
        return None, "the file is empty"
    if size > MAX_NOTEBOOK_BYTES:
        return None, f"the file is {size / 2**20:.0f} MB; at most {MAX_NOTEBOOK_BYTES // 2**20} MB are graded"
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        return None, f"the file is not a notebook (invalid JSON: {err})"
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        return None, "the file is JSON but not a notebook (no list of cells)"
    return nb, ""


# ---------------------------------------------------------------------------------------------
# Assembling the notebook that runs
# ---------------------------------------------------------------------------------------------

def _src(cell: dict) -> str:
    s = cell.get("source", "")
    return "".join(s) if isinstance(s, list) else str(s)


def stub_solution(source: str) -> str:
    """What nbgrader's ClearSolutions leaves: each solution block becomes ``raise NotImplementedError()``."""
    out, skipping = [], False
    for line in source.splitlines():
        if line.strip() == SOLUTION_BEGIN:
            skipping = True
            out.append(line[:len(line) - len(line.lstrip())] + "raise NotImplementedError()")
        elif line.strip() == SOLUTION_END:
            skipping = False
        elif not skipping:
            out.append(line)
    return "\n".join(out)


def assemble(source_nb: dict, submission: dict) -> tuple[dict, list[Exercise], list[str]]:
    """The notebook to run (course cells + the student's solution cells), the exercises, and notes.

    ``source_nb`` is the lesson marked by ``classroom.mark_exercises`` (nbgrader metadata on exercise cells).
    """
    notes: list[str] = []
    theirs: dict[str, str] = {}
    for cell in submission.get("cells", []):
        meta = cell.get("metadata", {}) if isinstance(cell, dict) else {}
        nbg = meta.get("nbgrader", {}) if isinstance(meta, dict) else {}
        gid = nbg.get("grade_id") if isinstance(nbg, dict) else None
        if not isinstance(gid, str) or not gid.startswith("ex") or not gid.split("-")[1:2] == ["solution"]:
            if isinstance(gid, str) and gid.endswith("-check") and isinstance(nbg, dict) and nbg.get("solution"):
                notes.append(f"cell {gid} was marked as a solution in the submission; the course's check is used")
            continue
        if cell.get("cell_type") != "code":
            notes.append(f"cell {gid} is not a code cell in the submission; ignored")
            continue
        if gid in theirs:
            notes.append(f"two cells carry the id {gid}; the first is used")
            continue
        theirs[gid] = _src(cell)
    cells, exercises = [], []
    for cell in source_nb["cells"]:
        nbg = cell.get("metadata", {}).get("nbgrader", {})
        gid = nbg.get("grade_id", "")
        if nbg.get("solution"):
            if gid not in theirs:
                notes.append(f"the solution cell {gid} is missing from the submission (deleted?): run as not attempted")
            new = dict(cell, source=theirs.get(gid, stub_solution(_src(cell))), outputs=[], execution_count=None)
            cells.append(new)
        elif nbg.get("grade"):
            exercises.append(Exercise(gid, _src(cell)))
        else:
            if cell["cell_type"] == "code":
                cells.append(dict(cell, source=_src(cell), outputs=[], execution_count=None))
            else:
                cells.append(dict(cell, source=_src(cell)))
    extra = set(theirs) - {c.get("metadata", {}).get("nbgrader", {}).get("grade_id") for c in source_nb["cells"]}
    if extra:
        notes.append(f"cells with unknown ids {sorted(extra)} are ignored")
    nb = dict(source_nb, cells=cells)
    return nb, exercises, notes


def _names_in(node: ast.AST) -> set[str]:
    names: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            names.add(sub.id)
        elif isinstance(sub, ast.Attribute):
            names.add(sub.attr)
        elif isinstance(sub, ast.alias):
            names.update(sub.name.split("."))
    return names


def solution_names(nb: dict) -> dict[str, set[str]]:
    """For each function the solution cells of ``nb`` define, every identifier it uses, directly or through the
    other functions and the top-level code of those cells (for the checks' forbidden calls)."""
    defs: dict[str, set[str]] = {}
    top: set[str] = set()
    for cell in nb["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            try:
                tree = ast.parse(_src(cell))
            except SyntaxError:
                continue
            for stmt in tree.body:
                if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    defs[stmt.name] = _names_in(stmt)
                elif not isinstance(stmt, ast.Import | ast.ImportFrom):
                    top |= _names_in(stmt)
    closed: dict[str, set[str]] = {}
    for name in defs:
        seen, todo = set(), [name]
        while todo:
            n = todo.pop()
            if n in seen:
                continue
            seen.add(n)
            todo += [m for m in defs[n] if m in defs]
        closed[name] = set().union(*(defs[n] for n in seen)) | top
    return closed


def check_calls(source: str) -> list[tuple[str, list[Any], dict[str, Any]]]:
    """The ``ex.check_...(...)`` calls of a check cell (hidden tests included): name, args, keyword args.

    A bare name is the student's function (``("fn", name)``); constants are passed as they are.

    Raises:
        ValueError: for an argument that is neither (the check cell is the course's, so this is a course bug).
    """
    calls = []
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "ex" and node.func.attr.startswith("check_")):
            def arg(a: ast.AST) -> Any:
                if isinstance(a, ast.Name):
                    return ("fn", a.id)
                return ("const", ast.literal_eval(a))
            calls.append((node.func.attr, [arg(a) for a in node.args], {k.arg: arg(k.value) for k in node.keywords}))
    calls.sort(key=lambda c: source.find(c[0]))
    return calls


# ---------------------------------------------------------------------------------------------
# Running one job
# ---------------------------------------------------------------------------------------------

class NeedsKernel(Exception):
    """A check handed the student's function something that cannot leave the grader (a model, a callback)."""


class KernelGone(Exception):
    """The sandboxed kernel was stopped (time or memory limit) or died."""


class _Kernel:
    """The sandboxed kernel of one job, driven with nbclient over Unix sockets."""

    def __init__(self, job_dir: Path, uid: int, limits: sandbox.Limits, extra_ro: list[tuple[Path, Path]],
                 cell_timeout: int, deadline: float) -> None:
        from jupyter_client import AsyncKernelManager
        from jupyter_client.kernelspec import KernelSpecManager
        from nbclient import NotebookClient

        self.scratch, self.runtime, specs = job_dir / "scratch", job_dir / "runtime", job_dir / "specs"
        sandbox.prepare_scratch(self.scratch, uid)
        self.runtime.mkdir(parents=True)
        self.runtime.chmod(0o777)
        sandbox.write_kernel_spec(specs, uid, self.scratch, self.runtime, limits, extra_ro)
        ksm = KernelSpecManager(kernel_dirs=[str(specs / "kernels")])
        # The async manager: with a blocking client, nbclient's output poll blocks its event loop for good
        # once the kernel is killed, so neither its time-out nor its dead-kernel check would ever run.
        self.km = AsyncKernelManager(kernel_name=sandbox.KERNEL_NAME, kernel_spec_manager=ksm, transport="ipc",
                                ip=str(self.runtime / "k"), connection_file=str(self.runtime / "kernel.json"))
        self.uid, self.deadline, self.cell_timeout = uid, deadline, cell_timeout
        self.nb: dict = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
        self.client = NotebookClient(self.nb, km=self.km, timeout=cell_timeout, allow_errors=True,
                                     kernel_name=sandbox.KERNEL_NAME, iopub_timeout=30,
                                     raise_on_iopub_timeout=False, shutdown_kernel="immediate")
        self.alive, self.why_gone, self.calls, self.killed = True, "", 0, ""

    def start(self) -> None:
        self._ctx = self.client.setup_kernel()
        self._ctx.__enter__()
        self.kc = self.client.kc

    def run(self, cell: dict) -> dict:
        """Execute one code cell (a notebook cell dict, updated in place); raise KernelGone when the kernel is."""
        import nbformat
        from nbclient.exceptions import CellTimeoutError, DeadKernelError

        if not self.alive:
            raise KernelGone(self.why_gone)
        left = self.deadline - time.monotonic()
        if left <= 1:
            self.stop("the notebook's time limit was reached")
            raise KernelGone(self.why_gone)
        node = nbformat.from_dict(cell)
        limit = int(min(self.cell_timeout, left))
        self.client.timeout = limit
        self.nb["cells"].append(node)
        # nbclient's own time-out waits for the kernel; this one kills it, whatever the cell does with signals.
        timer = threading.Timer(limit + 5, self._kill, args=(f"a cell ran past the time limit ({limit} s) and the "
                                                             "kernel was stopped",))
        timer.daemon = True
        timer.start()
        try:
            self.client.execute_cell(node, len(self.nb["cells"]) - 1)
        except CellTimeoutError:
            self.stop(f"a cell ran past the time limit ({self.client.timeout} s) and the kernel was stopped")
            raise KernelGone(self.why_gone) from None
        except (DeadKernelError, RuntimeError) as err:
            self.stop(self.killed or f"the kernel died ({type(err).__name__})")
            raise KernelGone(self.why_gone) from None
        finally:
            timer.cancel()
        if self.killed:
            self.stop(self.killed)
            raise KernelGone(self.why_gone)
        return node

    def _kill(self, why: str) -> None:
        """SIGKILL the sandbox (the kernel, everything it started, and bwrap), from a timer thread."""
        self.killed = why
        sandbox.kill_uid(self.uid)
        with contextlib.suppress(Exception):
            self.km.provisioner.process.kill()

    def stop(self, why: str = "") -> None:
        if self.alive:
            self.alive, self.why_gone = False, why or "stopped"
        with contextlib.suppress(Exception):
            from jupyter_core.utils import run_sync
            run_sync(self.km.shutdown_kernel)(now=True)
        sandbox.kill_uid(self.uid)

    def close(self) -> int:
        self.stop(self.why_gone)
        with contextlib.suppress(Exception):
            self.client.kc.stop_channels()
        return sandbox.kill_uid(self.uid)


class _Remote:
    """The student's function as the grader's checks see it: each call runs in the sandboxed kernel."""

    def __init__(self, kernel: _Kernel, name: str, used_names: dict[str, set[str]]) -> None:
        self.kernel, self.name, self.__course_names__ = kernel, name, used_names.get(name, set())
        self.__name__ = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._invoke(None, list(args), dict(kwargs))

    def __course_harness__(self, harness: str, spec: dict[str, Any]) -> Any:
        """Run ``course_utils.harness`` ``harness`` on the student's function in the kernel; return its data."""
        return self._invoke(harness, [], dict(spec))

    def _invoke(self, harness: str | None, args: list[Any], kwargs: dict[str, Any]) -> Any:
        from course_utils import rpc

        arrays: dict[str, Any] = {}
        try:
            doc = {"args": rpc.encode(args, arrays), "kwargs": rpc.encode(kwargs, arrays)}
        except rpc.NotData as err:
            raise NeedsKernel(str(err)) from None
        k = self.kernel
        k.calls += 1
        req, res = k.runtime / f"req{k.calls}.npz", k.runtime / f"res{k.calls}.npz"
        rpc.save(req, doc, arrays)
        os.chmod(req, 0o644)
        if harness is None:
            code = (f"import course_utils.rpc as __course_rpc\n"
                    f"__course_rpc.serve_call(globals(), {self.name!r}, {str(req)!r}, {str(res)!r})")
        else:  # the harness (public code, no answers) calls the student's function on live objects it builds
            code = (f"import course_utils.rpc as __course_rpc, course_utils.harness as __course_harness\n"
                    f"__course_rpc.serve_call({{'__h': lambda **spec: __course_harness.HARNESSES[{harness!r}]("
                    f"globals()[{self.name!r}], **spec)}}, '__h', {str(req)!r}, {str(res)!r})")
        k.run({"cell_type": "code", "source": code, "metadata": {}, "outputs": [], "execution_count": None})
        try:
            reply, out = rpc.load(res)
        except ValueError as err:
            raise RuntimeError(f"no answer came back from {self.name} ({err})") from None
        finally:
            for p in (req, res):
                p.unlink(missing_ok=True)
        if "error" in reply:
            raise reply_error(reply)
        return rpc.decode(reply.get("result"), out)


# Errors a student's function may raise on purpose (a check can expect one, e.g. a ValueError for bad input): they
# come back as these builtins, so the check's ``except ValueError`` sees what the kernel raised. Any other name comes
# back as a plain Exception subclass of that name: never a class the grader would treat specially (SystemExit...).
RAISED_AS_BUILTIN = {cls.__name__: cls for cls in (
    ValueError, TypeError, KeyError, IndexError, LookupError, ArithmeticError, ZeroDivisionError, OverflowError,
    FloatingPointError, AssertionError, RuntimeError, NotImplementedError, AttributeError, NameError, RecursionError,
    MemoryError)}


def reply_error(reply: dict) -> Exception:
    """The exception to raise in the grader for an ``rpc.serve_call`` reply that reports one."""
    kind, message = str(reply.get("error")), str(reply.get("message", ""))
    if kind in RAISED_AS_BUILTIN:
        return RAISED_AS_BUILTIN[kind](message)
    return type(kind if kind.isidentifier() else "Error", (Exception,), {})(message)


def _judge_outside(kernel: _Kernel, module: Any, ex: Exercise, used: dict[str, set[str]]) -> None:
    from course_utils.checks import ExerciseError

    calls = check_calls(ex.source)
    if not calls:
        raise RuntimeError(f"{ex.grade_id}: the check cell calls no ex.check_... function")
    messages = []
    for name, args, kwargs in calls:
        check = getattr(module, name)
        real_args = [_Remote(kernel, v, used) if kind == "fn" else v for kind, v in args]
        real_kwargs = {k: (_Remote(kernel, v, used) if kind == "fn" else v) for k, (kind, v) in kwargs.items()}
        out, err = io.StringIO(), io.StringIO()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                verdict = check(*real_args, **real_kwargs)
        except ExerciseError as e:
            ex.points, ex.reason = 0.0, f"ExerciseError: {e}"
            return
        except KernelGone as e:
            ex.points, ex.reason = 0.0, f"not graded: {e}"
            return
        if verdict is not True:
            ex.points = 0.0
            ex.reason = err.getvalue().strip() or out.getvalue().strip() or "the check did not pass"
            return
        messages.append(out.getvalue().strip())
    ex.points, ex.reason = 1.0, messages[-1] if messages else "passed"


def _judge_in_kernel(kernel: _Kernel, module_name: str, ex: Exercise) -> None:
    """Run the check cell in the kernel, re-imported from the read-only package, its verdict asserted."""
    tree = ast.parse(ex.source)
    lines = [f"import importlib as __il, course_utils.exercises.{module_name} as __ex_module",
             "ex = __il.reload(__ex_module)"]
    for stmt in tree.body:
        text = ast.get_source_segment(ex.source, stmt)
        call = stmt.value if isinstance(stmt, ast.Assign | ast.Expr) else None
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr.startswith("check_"):
            lines.append(f"assert ({ast.get_source_segment(ex.source, call)}) is True, 'the check did not pass'")
        else:
            lines.append(text)
    cell = {"cell_type": "code", "source": "\n".join(lines), "metadata": {}, "outputs": [], "execution_count": None}
    ex.where = "kernel"
    try:
        node = kernel.run(cell)
    except KernelGone as e:
        ex.points, ex.reason = 0.0, f"not graded: {e}"
        return
    errors = [o for o in node.outputs if o.get("output_type") == "error"]
    stderr = "".join(o.get("text", "") for o in node.outputs if o.get("output_type") == "stream"
                     and o.get("name") == "stderr").strip()
    if errors:
        e = errors[0]
        ex.points = 0.0
        ex.reason = stderr if e["ename"] == "AssertionError" and stderr else f"{e['ename']}: {e['evalue']}"
    else:
        ex.points = 1.0
        ex.reason = "".join(o.get("text", "") for o in node.outputs if o.get("output_type") == "stream").strip()


def student_lesson_source(source: Path, dest: Path) -> Path:
    """``source`` (a lesson's ``.py``) with each solution replaced by ``raise NotImplementedError()`` and each hidden
    test removed, written to ``dest``: what a sandboxed kernel may read of another lesson's code.

    Raises:
        ValueError: if a solution or hidden-test region is not closed.
    """
    out: list[str] = []
    skipping = ""
    for line in source.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if skipping:
            if stripped == skipping:
                skipping = ""
            continue
        if stripped == SOLUTION_BEGIN:
            indent = line[:len(line) - len(line.lstrip())]
            out.append(f"{indent}raise NotImplementedError()")
            skipping = SOLUTION_END
        elif stripped == HIDDEN_BEGIN:
            skipping = HIDDEN_END
        else:
            out.append(line)
    if skipping:
        raise ValueError(f"{source}: a region is not closed, expected {skipping!r} before the end of the file")
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text("\n".join(out) + "\n", encoding="utf-8")
    dest.chmod(0o644)
    dest.parent.chmod(0o755)
    return dest


def stub_exercises(folder: Path) -> Path:
    """A stand-in for ``course_utils/exercises`` inside the sandbox: no answers, no hidden cases.

    Each module answers ``ex.check_...(...)`` with a line saying the grader checks it, so a lesson runs to the end.
    """
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "__init__.py").write_text('"""Stand-in while grading: the checks run in the grader."""\n')
    body = ('"""Stand-in while grading: the checks run in the grader\'s process, not in this kernel."""\n\n\n'
            "def __getattr__(name):\n"
            "    if name.startswith('check_'):\n"
            "        return lambda *args, **kwargs: print('(this exercise is checked by the grader)')\n"
            "    raise AttributeError(f'{name} is not available while a submission is graded')\n")
    import importlib

    for path in (ROOT / "course_utils" / "exercises").glob("*.py"):
        if path.name != "__init__.py":
            # public material the lesson shows (e.g. lesson 04's listing) comes from course_utils.harness
            public = getattr(importlib.import_module(f"course_utils.exercises.{path.stem}"), "SANDBOX_PUBLIC", ())
            head = f"from course_utils.harness import {', '.join(public)}\n\n\n" if public else ""
            (folder / path.name).write_text(body.replace("\n\n\n", "\n\n" + head, 1) if head else body)
    for p in folder.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    folder.chmod(0o755)
    return folder


def run_job(student: str, lesson: str, submission: Path, source_nb: dict, work: Path, uid: int,
            limits: sandbox.Limits, cell_timeout: int, notebook_timeout: int, out: Path) -> JobResult:
    """Grade one student's notebook for one lesson (see the module's docstring)."""
    import importlib

    started = time.monotonic()
    result = JobResult(student, lesson)
    nb, why = read_submission(submission)
    exercise_ids = [c["metadata"]["nbgrader"]["grade_id"] for c in source_nb["cells"]
                    if c.get("metadata", {}).get("nbgrader", {}).get("grade")]
    if nb is None:
        result.exercises = [Exercise(g, "", 0.0, f"not graded: {why}") for g in exercise_ids]
        result.notes.append(f"{lesson}: {why}")
        return result
    assembled, exercises, notes = assemble(source_nb, nb)
    result.exercises = exercises
    result.notes += [f"{lesson}: {n}" for n in notes]
    used = solution_names(assembled)
    match = EX_IMPORT.search("\n".join(_src(c) for c in source_nb["cells"] if c["cell_type"] == "code"))
    module_name = match.group(1) if match else None
    module = importlib.import_module(f"course_utils.exercises.{module_name}") if module_name else None
    job_dir = work / f"{_safe_id(student)}__{lesson}"
    if job_dir.exists():
        shutil.rmtree(job_dir)
    job_dir.mkdir(parents=True)
    extra = [(student_lesson_source(NOTEBOOKS / f"{stem}.py", job_dir / "lessons" / f"{stem}.py"),
              NOTEBOOKS / f"{stem}.py") for stem in LESSON_FILES.get(lesson, [])]
    if lesson not in IN_KERNEL_LESSONS:
        extra.append((stub_exercises(job_dir / "stub_exercises"), ROOT / "course_utils" / "exercises"))
    kernel = _Kernel(job_dir, uid, limits, extra, cell_timeout, started + notebook_timeout)
    with sandbox.MemoryWatch(uid, limits.memory_mb) as watch:
        try:
            kernel.start()
            for cell in assembled["cells"]:
                if cell["cell_type"] == "code":
                    kernel.run(cell)
        except KernelGone:
            pass
        except Exception as err:  # noqa: BLE001 - the kernel did not start: report, go on
            kernel.stop(f"the kernel could not be started or run ({type(err).__name__}: {err})")
        memory = f"the notebook used more than {limits.memory_mb} MB of memory and was stopped"
        if watch.tripped:
            kernel.alive, kernel.why_gone = False, memory
            kernel.stop(memory)
        for ex in exercises:
            if module is None:
                ex.reason = "not graded: the lesson has no exercises module"
                continue
            if not kernel.alive:
                ex.reason = f"not graded: {kernel.why_gone}"
                continue
            try:
                _judge_outside(kernel, module, ex, used)
            except NeedsKernel as err:
                if lesson in IN_KERNEL_LESSONS:
                    _judge_in_kernel(kernel, module_name, ex)
                else:  # a check that hands live objects to the student's function without a harness: our bug
                    ex.points, ex.reason = 0.0, (f"not graded: the check would hand the student's function {err}, "
                                                 "which cannot leave the grader (a course bug: give it a harness)")
            except Exception as err:  # noqa: BLE001 - a check's own failure scores zero, with its reason
                ex.points, ex.reason = 0.0, f"{type(err).__name__}: {err}"
            if watch.tripped:
                kernel.alive, kernel.why_gone = False, memory
                kernel.stop(memory)
                if ex.points:
                    ex.points, ex.reason = 0.0, f"not graded: {kernel.why_gone}"
        gone = None if kernel.alive else kernel.why_gone
        result.left_running = kernel.close()
        result.peak_mb = watch.peak_mb
    if gone:
        result.notes.append(f"{lesson}: {gone}")
    log = out / "logs" / f"{_safe_id(student)}_{lesson}.ipynb"
    log.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(Exception):
        atomic.write_text(log, json.dumps(dict(assembled, cells=kernel.nb["cells"]), default=str))
    shutil.rmtree(job_dir, ignore_errors=True)
    result.wall_s = time.monotonic() - started
    return result


# ---------------------------------------------------------------------------------------------
# The batch
# ---------------------------------------------------------------------------------------------

_SLOTS: Any = None


def _init_worker(slots: Any, env: dict[str, str]) -> None:
    global _SLOTS
    _SLOTS = slots.get()
    os.environ.update(env)


def _job(args: tuple) -> JobResult:
    student, lesson, path, source_nb, work, limits, cell_timeout, notebook_timeout, out = args
    uid = sandbox.FIRST_UID + (_SLOTS or 0)  # _SLOTS: this grader's uid base plus the worker's number
    try:
        return run_job(student, lesson, path, source_nb, work, uid, limits, cell_timeout, notebook_timeout, out)
    except Exception as err:  # noqa: BLE001 - one job's failure never stops the batch
        res = JobResult(student, lesson)
        res.notes.append(f"{lesson}: not graded, the grader failed on it ({type(err).__name__}: {err})")
        sandbox.kill_uid(uid)
        return res


def grade_all(submissions: Path, out: Path, sources: dict[str, dict], *, workers: int | None = None,
              limits: sandbox.Limits | None = None, cell_timeout: int = 300, notebook_timeout: int = 600,
              unsafe: bool = False) -> tuple[list[JobResult], dict[str, list[str]], float]:
    """Grade every submission; return the job results, the collection notes and the wall time of the batch.

    Raises:
        ValueError: if ``submissions`` is not a folder.
        RuntimeError: if the sandbox's tools are missing and ``unsafe`` is not set.
    """
    if not submissions.is_dir():
        raise ValueError(f"expected SUBMISSIONS to be a folder of <student>/NN_topic.ipynb, got {submissions}")
    missing = sandbox.missing_tools()
    if missing and not unsafe:
        raise RuntimeError(f"refusing to grade without the sandbox: {missing}. Install it, or pass --unsafe to run "
                           "students' code with your own rights (never for code from strangers).")
    if missing:
        raise RuntimeError(f"--unsafe grading without bubblewrap is not supported by this version: {missing}")
    limits = limits or sandbox.Limits()
    started = time.monotonic()
    by_student, notes = collect(submissions, set(sources))
    for f in ("scores.csv", "scores.md"):
        (out / f).unlink(missing_ok=True)
    for d in ("logs", "feedback"):
        shutil.rmtree(out / d, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="course-grading-"))
    work.chmod(0o711)
    jobs = [(student, lesson, path, sources[lesson], work, limits, cell_timeout, notebook_timeout, out)
            for student, lessons_ in sorted(by_student.items()) for lesson, path in sorted(lessons_.items())]
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs) or 1))
    ctx = multiprocessing.get_context("spawn")
    slots = ctx.Manager().Queue()
    base = (os.getpid() % 999) * 10  # two graders at once never share a uid
    for i in range(workers):
        slots.put(base + i + 1)
    env = {"PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).strip(os.pathsep)}
    results: list[JobResult] = []
    try:
        with concurrent.futures.ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker,
                                                    initargs=(slots, env)) as pool:
            results = list(pool.map(_job, jobs))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return results, notes, time.monotonic() - started


def write_reports(results: list[JobResult], notes: dict[str, list[str]], sources: dict[str, dict], out: Path,
                  wall_s: float) -> tuple[Path, Path]:
    """``scores.csv``, ``scores.md`` and ``feedback/<student>/<lesson>.md``."""
    lessons_ = sorted({r.lesson for r in results})
    columns = [(lesson, c["metadata"]["nbgrader"]["grade_id"]) for lesson in lessons_
               for c in sources[lesson]["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("grade")]
    students = sorted({r.student for r in results} | {s for s in notes if s != "(submissions)"})
    table: dict[str, dict[tuple[str, str], float]] = {s: {} for s in students}
    for r in results:
        for ex in r.exercises:
            table[r.student][(r.lesson, ex.grade_id)] = ex.points
    header = ["student", *[f"{lesson}:{gid}" for lesson, gid in columns], "total", "max"]
    rows = []
    for s in students:
        got = table[s]
        submitted = {lesson for (lesson, _) in got}
        cells = [("" if lesson not in submitted else f"{got.get((lesson, gid), 0.0):g}") for lesson, gid in columns]
        rows.append([s, *cells, f"{sum(got.values()):g}",
                     f"{sum(1 for lesson, _ in columns if lesson in submitted):g}"])
    out.mkdir(parents=True, exist_ok=True)
    csv_path, md_path = out / "scores.csv", out / "scores.md"
    table_csv = io.StringIO(newline="")
    csv.writer(table_csv).writerows([header, *rows])
    atomic.write_text(csv_path, table_csv.getvalue())
    lines = ["# Scores", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    lines += ["", "An empty cell: that lesson was not submitted (or could not be read).", "",
              f"Graded {len(results)} notebook(s) in {wall_s:.0f} s.", "", "## What got no points, and notes", ""]
    for s in students:
        for note in notes.get(s, []):
            lines.append(f"- **{s}**: {note}")
        for r in (r for r in results if r.student == s):
            lines += [f"- **{s}**: {n}" for n in r.notes if n not in notes.get(s, [])]
            for ex in r.exercises:
                if ex.points < 1:
                    lines.append(f"- **{s}** {r.lesson} {ex.grade_id}: 0/1: {ex.reason}")
    lines += [f"- {n}" for n in notes.get("(submissions)", [])]
    lines += ["", "## Time per notebook", "", "| student | lesson | wall s | peak MB | judged in kernel |",
              "|---|---|---|---|---|"]
    lines += [f"| {r.student} | {r.lesson} | {r.wall_s:.1f} | {r.peak_mb:.0f} | "
              f"{', '.join(e.grade_id for e in r.exercises if e.where == 'kernel') or '-'} |" for r in results]
    atomic.write_text(md_path, "\n".join(lines) + "\n")
    for r in results:
        fb = out / "feedback" / _safe_id(r.student) / f"{r.lesson}.md"
        fb.parent.mkdir(parents=True, exist_ok=True)
        text = [f"# {r.lesson}: feedback for {r.student}", "",
                f"Score: {sum(e.points for e in r.exercises):g} / {len(r.exercises)}", ""]
        for ex in r.exercises:
            text += [f"## {ex.grade_id}: {ex.points:g}/1", "", ex.reason or "(no message)", ""]
        if r.notes:
            text += ["## Notes", "", *[f"- {n}" for n in r.notes], ""]
        atomic.write_text(fb, "\n".join(text))
    return csv_path, md_path
