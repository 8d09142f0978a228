"""The Binder budget: run each lesson in the full profile on 1 CPU; record wall time and peak kernel memory.

Binder gives a learner about one CPU. This script runs every lesson (``notebooks/NN_*.ipynb``, or the ones named on
the command line) the way a learner's Run All would, in the full profile (``COURSE_PROFILE=full``) and offline
(``COURSE_OFFLINE=1``), with its kernel pinned to one CPU, and records per lesson:

* **wall time**: from asking for the kernel to the end of the last cell (the kernel's start-up is also given apart);
* **peak kernel RSS**: the kernel process's ``VmHWM`` (its resident-memory high-water mark) from
  ``/proc/<pid>/status``, read just before the kernel is shut down (and polled meanwhile, in case it dies);
* what the kernel saw: its CPU affinity (``Cpus_allowed_list``, and ``os.sched_getaffinity`` from inside), and the
  slowest cells.

The kernel is pinned from its first instruction: its command line is a tiny launcher that calls
``os.sched_setaffinity(0, CPUS)`` and then ``exec``\\s ipykernel, so every thread of the kernel, TensorFlow's thread
pools included, is bound to those CPUs. TensorFlow sizes its pools from the affinity mask (``sched_getaffinity``),
so it sees 1 CPU (what Python's ``os.cpu_count()`` reports is the machine's count, not the mask's). Only the kernel
is pinned; this script's own process (nbclient) is not.

Each lesson runs on a copy in a temporary folder (its ``outputs/`` land there too), with nbclient; the committed
notebooks are never written. It is a benchmark, not a timed test: targets are reported (``within``/``over``), not
asserted. Measure on a quiet machine; the record keeps the load average at the start and the end.

Usage::

    .venv/bin/python benchmarks/lesson_budget.py                       # every lesson; writes the JSON
    .venv/bin/python benchmarks/lesson_budget.py 00 04_dcgan           # a subset (number or name)
    .venv/bin/python benchmarks/lesson_budget.py --profile smoke 00 --out /tmp/b.json   # a quick self-check
    .venv/bin/python benchmarks/lesson_budget.py --markdown            # the README table, from the committed JSON
    .venv/bin/python benchmarks/lesson_budget.py --update-readme       # write that table into benchmarks/README.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from course_utils.validate import int_at_least, int_option

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
DEFAULT_JSON = REPO / "benchmarks" / "figures" / "lesson_budget.json"
README = REPO / "benchmarks" / "README.md"
BEGIN, END = "<!-- lesson-budget:begin -->", "<!-- lesson-budget:end -->"
TARGET_WALL_S = 6 * 60
TARGET_RSS_MIB = 1536  # 1.5 GiB
CPU_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8")
NOT_MEASURED = ("_Not measured yet: run `make lesson-budget` on a quiet machine, then "
                "`.venv/bin/python benchmarks/lesson_budget.py --update-readme`._")
SCHEMA = 1


# --- pure parts (unit-tested in tests/test_lesson_budget.py) ---------------------------------------------------------

def parse_proc_status(text: str) -> dict[str, Any]:
    """Read the fields this benchmark needs from the text of ``/proc/<pid>/status``.

    Args:
        text: the file's content.

    Returns:
        ``{"vm_hwm_kib": int | None, "vm_rss_kib": int | None, "threads": int | None, "cpus_allowed": str | None}``
        (``None`` for a field that is missing).

    Raises:
        ValueError: if a memory field is present but is not "<integer> kB".
    """
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()

    def kib(name: str) -> int | None:
        if name not in fields:
            return None
        match = re.fullmatch(r"(\d+)\s*kB", fields[name])
        if not match:
            raise ValueError(f"expected '{name}: <integer> kB' in /proc/<pid>/status, got {fields[name]!r}")
        return int(match.group(1))

    threads = fields.get("Threads")
    return {"vm_hwm_kib": kib("VmHWM"), "vm_rss_kib": kib("VmRSS"),
            "threads": int(threads) if threads and threads.isdigit() else None,
            "cpus_allowed": fields.get("Cpus_allowed_list")}


def parse_cpu_list(text: str) -> list[int]:
    """Parse a CPU list as ``taskset -c`` takes it (``"0"``, ``"0,2"``, ``"0-3,6"``) into sorted CPU numbers.

    Raises:
        ValueError: on an empty list, a malformed item or a reversed range.
    """
    cpus: set[int] = set()
    for item in text.split(","):
        match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", item)
        if not match:
            raise ValueError(f"expected a CPU list such as '0' or '0-1,3', got {text!r}")
        first, last = int(match.group(1)), int(match.group(2) or match.group(1))
        if last < first:
            raise ValueError(f"expected a CPU range low-high, got {item.strip()!r} in {text!r}")
        cpus.update(range(first, last + 1))
    return sorted(cpus)


def cpu_flags(cpuinfo: str) -> dict[str, bool]:
    """Which of the instruction-set flags that matter to TensorFlow (``CPU_FLAGS``) the first CPU in ``cpuinfo`` has."""
    for line in cpuinfo.splitlines():
        if line.lower().startswith("flags"):
            have = set(line.partition(":")[2].split())
            return {flag: flag in have for flag in CPU_FLAGS}
    return {flag: False for flag in CPU_FLAGS}


def cpu_model(cpuinfo: str) -> str:
    """The first ``model name`` in ``cpuinfo`` (or ``platform.processor()`` when there is none)."""
    for line in cpuinfo.splitlines():
        if line.lower().startswith("model name"):
            return line.partition(":")[2].strip()
    return platform.processor() or "unknown"


def resolve_lessons(names: Sequence[str], notebooks: Path = NOTEBOOKS) -> list[Path]:
    """Map lesson names (``"00"``, ``"04_dcgan"``, ``"notebooks/04_dcgan.ipynb"``) to notebooks; none means all.

    Raises:
        ValueError: when a name matches no lesson, or more than one.
    """
    available = sorted(notebooks.glob("[0-9][0-9]_*.ipynb"))
    if not names:
        return available
    chosen: list[Path] = []
    for name in names:
        stem = Path(name).name.removesuffix(".ipynb").removesuffix(".py")
        matches = [p for p in available if p.stem == stem or p.stem.split("_", 1)[0] == stem]
        if len(matches) != 1:
            raise ValueError(f"expected one lesson for {name!r} among {[p.stem for p in available]}, "
                             f"found {len(matches)}")
        if matches[0] not in chosen:
            chosen.append(matches[0])
    return chosen


def within_target(lesson: dict[str, Any], targets: dict[str, float]) -> dict[str, bool | None]:
    """Whether a lesson's record is within the wall-time and memory targets (``None`` when not measured)."""
    wall, rss = lesson.get("wall_s"), lesson.get("peak_rss_mib")
    return {"wall": None if wall is None else wall <= targets["wall_s"],
            "rss": None if rss is None else rss <= targets["rss_mib"]}


def format_duration(seconds: float | None) -> str:
    """``754.2`` -> ``"12:34"`` (minutes:seconds, rounded to the second); ``None`` -> ``"–"``.

    Raises:
        ValueError: for a negative or non-finite duration.
    """
    if seconds is None:
        return "–"
    if not (seconds >= 0 and seconds != float("inf")):
        raise ValueError(f"expected a finite duration >= 0 s, got {seconds!r}")
    total = round(seconds)
    return f"{total // 60}:{total % 60:02d}"


def kept_note(record: dict[str, Any]) -> str:
    """The sentence naming the lessons an --add run kept, with when and on which CPU each was measured (if known)."""
    names = record.get("earlier", {}).get("lessons") or []
    if not names:
        return ""
    groups: dict[tuple[str, str], list[str]] = {}
    for lesson in record["lessons"]:
        if lesson.get("lesson") in names:
            measured = lesson.get("measured") or {}
            key = (str(measured.get("date") or record["earlier"].get("date"))[:10], measured.get("cpu_model") or "")
            groups.setdefault(key, []).append(f"`{lesson['lesson']}`")
    parts = [", ".join(group) + f" ({date}" + (f", {cpu}" if cpu else "") + ")" for (date, cpu), group in groups.items()]
    return " Kept from earlier runs of the same script: " + "; ".join(parts) + "."


def render_markdown(record: dict[str, Any] | None) -> str:
    """The README's table (and the sentence that says how it was measured) from a JSON record.

    Args:
        record: what :func:`main` wrote, or ``None`` when nothing was measured yet.

    Returns:
        Markdown text, without a trailing newline.
    """
    if record is None:
        return NOT_MEASURED
    targets = record["targets"]
    machine = record["machine"]
    flags = ", ".join(f for f, on in machine["cpu_flags"].items() if on) or "none of " + ", ".join(CPU_FLAGS)
    missing = ", ".join(f for f in ("avx512f", "amx_tile") if not machine["cpu_flags"].get(f))
    cpus = ",".join(str(c) for c in record["cpus"])
    lines = [
        f"Measured {record['date'][:10]} with `benchmarks/lesson_budget.py` (profile `{record['profile']}`, offline), "
        f"kernel pinned to CPU {cpus} ({len(record['cpus'])} of {machine['cores']} cores) of "
        f"{machine['cpu_model']} (flags: {flags}{'; no ' + missing if missing else ''}); "
        f"TensorFlow {record['versions'].get('tensorflow', '?')}, Python {record['versions']['python']}; "
        f"load average {machine['load_avg_start']:.2f} at the start, {machine['load_avg_end']:.2f} at the end. "
        f"Targets: ≤ {format_duration(targets['wall_s'])} wall, ≤ {targets['rss_mib']:,.0f} MiB peak kernel RSS."
        + kept_note(record),
        "",
        "| lesson | wall time (min:s) | of which kernel start | peak kernel RSS | slowest cell | target |",
        "|---|---|---|---|---|---|",
    ]
    for lesson in record["lessons"]:
        ok = within_target(lesson, targets)
        if lesson["status"] != "ok":
            verdict = f"**{lesson['status']}**: {lesson.get('error', '')}".replace("|", "\\|")
        elif ok["wall"] and ok["rss"]:
            verdict = "within"
        else:
            verdict = "**over** (" + ", ".join(k for k, v in ok.items() if v is False) + ")"
        slowest = lesson.get("slowest_cells") or []
        slow = f"cell {slowest[0]['index']}: {slowest[0]['seconds']:.0f} s" if slowest else "–"
        rss = lesson.get("peak_rss_mib")
        lines.append(f"| `{lesson['lesson']}` | {format_duration(lesson.get('wall_s'))} | "
                     f"{lesson.get('kernel_start_s', 0):.0f} s | {'–' if rss is None else f'{rss:,.0f} MiB'} | "
                     f"{slow} | {verdict} |")
    measured = [lesson for lesson in record["lessons"] if lesson["status"] == "ok" and lesson.get("wall_s")]
    if measured:
        total = sum(lesson["wall_s"] for lesson in measured)
        peak = max((lesson.get("peak_rss_mib") or 0) for lesson in measured)
        missing = len(record["lessons"]) - len(measured)
        lines.append(f"| **all {len(measured)} lessons, one after another** | **{format_duration(total)}** | | "
                     f"{peak:,.0f} MiB (the largest) | | "
                     + (f"{missing} lesson(s) not measured |" if missing else "the whole course on one CPU |"))
    return "\n".join(lines)


def replace_between_markers(text: str, block: str) -> str:
    """Put ``block`` between the ``BEGIN``/``END`` marker comments of ``text``.

    Raises:
        ValueError: unless each marker occurs exactly once, BEGIN before END.
    """
    if text.count(BEGIN) != 1 or text.count(END) != 1 or text.index(BEGIN) > text.index(END):
        raise ValueError(f"expected one {BEGIN!r} followed by one {END!r}, found {text.count(BEGIN)} and "
                         f"{text.count(END)}")
    head, rest = text.split(BEGIN)
    _, tail = rest.split(END)
    return f"{head}{BEGIN}\n{block}\n{END}{tail}"


def block_between_markers(text: str) -> str:
    """The text between the marker comments (stripped of the newlines next to them)."""
    if text.count(BEGIN) != 1 or text.count(END) != 1:
        raise ValueError(f"expected one {BEGIN!r} and one {END!r}, found {text.count(BEGIN)} and {text.count(END)}")
    return text.split(BEGIN)[1].split(END)[0].strip("\n")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lessons", nargs="*", help="lessons to run (number or name); default: all")
    parser.add_argument("--profile", choices=("full", "smoke"), default="full",
                        help="COURSE_PROFILE for the lessons (default: full; smoke is a quick self-check)")
    parser.add_argument("--cpus", default="0", help="CPU list the kernel is pinned to, as for taskset -c (default: 0)")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"JSON to write (default: {DEFAULT_JSON.relative_to(REPO)} for the full profile, "
                             "benchmarks/results/lesson_budget_smoke.json for smoke)")
    parser.add_argument("--add", action="store_true",
                        help="keep the other lessons already in --out and replace only the lessons run now")
    # Whole seconds: nbclient's `timeout` trait is an Integer, and traitlets before 5.10 (Colab's 5.7.1) refuses a float.
    parser.add_argument("--cell-timeout", type=int_option(1), default=1800, help="whole seconds a cell may take (default 1800)")
    parser.add_argument("--markdown", action="store_true", help="print the README table from --json and exit")
    parser.add_argument("--update-readme", action="store_true",
                        help="write the table from --json into benchmarks/README.md (between its markers) and exit")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="record read by --markdown/--update-readme")
    args = parser.parse_args(argv)
    try:
        args.cpu_list = parse_cpu_list(args.cpus)
    except ValueError as err:
        parser.error(str(err))
    if hasattr(os, "sched_getaffinity") and not set(args.cpu_list) <= os.sched_getaffinity(0):
        parser.error(f"--cpus {args.cpus}: this process may only use CPUs {sorted(os.sched_getaffinity(0))}")
    try:
        args.notebooks = resolve_lessons(args.lessons)
    except ValueError as err:
        parser.error(str(err))
    if args.out is None:
        args.out = DEFAULT_JSON if args.profile == "full" else REPO / "benchmarks" / "results" / "lesson_budget_smoke.json"
    return args


# --- measuring ------------------------------------------------------------------------------------------------------

def read_status(pid: int) -> dict[str, Any] | None:
    """``parse_proc_status`` of a live process, or ``None`` once it is gone."""
    try:
        return parse_proc_status(Path(f"/proc/{pid}/status").read_text())
    except (FileNotFoundError, ProcessLookupError):
        return None


class PeakPoller:
    """Polls a process's ``VmHWM`` in a background thread, so a peak is known even if the process dies."""

    def __init__(self, pid: int, interval_s: float = 0.5) -> None:
        self.pid, self.interval_s = pid, interval_s
        self.peak_kib = 0
        self.last: dict[str, Any] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> dict[str, Any] | None:
        status = read_status(self.pid)
        if status is not None:
            self.last = status
            self.peak_kib = max(self.peak_kib, status["vm_hwm_kib"] or 0)
        return status

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample()

    def __enter__(self) -> PeakPoller:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


# Run in the kernel after the lesson: what the kernel saw (affinity, the variables that steer TensorFlow's threads
# and oneDNN, TensorFlow's thread settings where the lesson imported it; 0 means "TensorFlow's choice").
PROBE = """import json as _j, os as _o, sys as _s
_tf = _s.modules.get("tensorflow")
print("LESSON_BUDGET_PROBE " + _j.dumps({"affinity": sorted(_o.sched_getaffinity(0)), "cpu_count": _o.cpu_count(),
      "tf_threads": None if _tf is None else {"intra_op": _tf.config.threading.get_intra_op_parallelism_threads(),
                                              "inter_op": _tf.config.threading.get_inter_op_parallelism_threads()},
      "env": {k: v for k, v in _o.environ.items()
              if k.startswith(("TF_ENABLE", "TF_NUM", "TF_XLA", "TF_CPP", "OMP_", "KMP_", "COURSE_"))}}))"""


def kernel_spec_dir(root: Path, cpus: Sequence[int]) -> Path:
    """A kernelspec whose launcher pins itself to ``cpus`` and then becomes ipykernel (same PID, same Python)."""
    launcher = (f"import os, sys; os.sched_setaffinity(0, {set(cpus)}); "
                "os.execv(sys.executable, [sys.executable, '-m', 'ipykernel_launcher', *sys.argv[1:]])")
    spec = root / "kernels" / "lesson-budget"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-c", launcher, "-f", "{connection_file}"],
        "display_name": "lesson budget (pinned)", "language": "python"}), encoding="utf-8")
    return spec.parent


def _cell_seconds(cell: Any) -> float | None:
    timing = cell.get("metadata", {}).get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return None
    parse = lambda s: dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    return (parse(end) - parse(start)).total_seconds()


def _first_line(source: str) -> str:
    lines = source.strip().splitlines()
    return lines[0][:80] if lines else ""


def run_lesson(notebook: Path, *, profile: str, cpus: Sequence[int], cell_timeout: int) -> dict[str, Any]:
    """Run one lesson on a temporary copy with a pinned kernel; return its record.

    Raises:
        ValueError: if ``cell_timeout`` is not a positive whole number of seconds (nbclient's ``timeout`` is an
            Integer trait, and traitlets 5.7 refuses a float such as ``1800.0``).
    """
    cell_timeout = int_at_least(cell_timeout, 1, "cell_timeout", expected="a positive whole number of seconds (int)")
    import nbformat
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.utils import run_sync
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    record: dict[str, Any] = {"lesson": notebook.stem, "status": "ok"}
    with tempfile.TemporaryDirectory(prefix=f"lesson-budget-{notebook.stem}-") as tmp:
        work = Path(tmp) / "notebooks"
        work.mkdir()
        shutil.copy2(notebook, work / notebook.name)
        nb = nbformat.read(work / notebook.name, as_version=4)
        nb.cells.append(nbformat.v4.new_code_cell(PROBE))
        env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}  # as a learner's kernel: inline plots
        env.update(COURSE_PROFILE=profile, COURSE_OFFLINE="1", TF_CPP_MIN_LOG_LEVEL="2")
        km = AsyncKernelManager(kernel_name="lesson-budget",
                                kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernel_spec_dir(Path(tmp), cpus))]))
        client = NotebookClient(nb, km=km, timeout=cell_timeout, startup_timeout=300, record_timing=True,
                                resources={"metadata": {"path": str(work)}})
        started = time.perf_counter()
        try:
            with client.setup_kernel(env=env, cwd=str(work)):
                pid = km.provisioner.pid
                record["kernel_start_s"] = round(time.perf_counter() - started, 2)
                with PeakPoller(pid) as poller:
                    try:
                        for index, cell in enumerate(nb.cells[:-1]):
                            client.execute_cell(cell, index)
                    except (CellExecutionError, CellTimeoutError, DeadKernelError) as err:
                        record["status"] = "timeout" if isinstance(err, CellTimeoutError) else "error"
                        record["error"] = f"cell {index}: " + (str(err).strip().splitlines() or [type(err).__name__])[-1][:200]
                    record["wall_s"] = round(time.perf_counter() - started, 2)
                    if record["status"] == "ok":
                        client.execute_cell(nb.cells[-1], len(nb.cells) - 1)
                        probe = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.get("name") == "stdout")
                        record["kernel"] = json.loads(probe.split("LESSON_BUDGET_PROBE ", 1)[1])
                    final = poller.sample()  # just before shutdown: VmHWM is the kernel's lifetime peak
                record["peak_rss_mib"] = round(poller.peak_kib / 1024, 1)
                record.setdefault("kernel", {})["cpus_allowed"] = (final or poller.last or {}).get("cpus_allowed")
                record["kernel"]["threads"] = (final or poller.last or {}).get("threads")
        finally:
            stopping = time.perf_counter()
            if km.has_kernel:
                run_sync(km.shutdown_kernel)(now=False)
            record["shutdown_s"] = round(time.perf_counter() - stopping, 2)
        timed = [(i, s) for i, c in enumerate(nb.cells[:-1]) if c.cell_type == "code" and (s := _cell_seconds(c)) is not None]
        record["slowest_cells"] = [{"index": i, "seconds": round(s, 2), "first_line": _first_line(nb.cells[i].source)}
                                   for i, s in sorted(timed, key=lambda t: -t[1])[:5]]
    return record


def machine_info() -> dict[str, Any]:
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        cpuinfo = ""
    try:
        ram_kib = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    except (OSError, AttributeError):
        ram_kib = None
    return {"cpu_model": cpu_model(cpuinfo), "cpu_flags": cpu_flags(cpuinfo), "cores": os.cpu_count(),
            "ram_gib": None if ram_kib is None else round(ram_kib / 2**20, 1),
            "load_avg_start": round(os.getloadavg()[0], 2), "platform": platform.platform(),
            "onednn_env": os.environ.get("TF_ENABLE_ONEDNN_OPTS")}


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in ("tensorflow", "keras", "numpy", "ipykernel", "nbclient"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return found


def write_json(record: dict[str, Any], path: Path) -> Path:
    """Write the record atomically, with the course's one atomic writer."""
    from course_utils import atomic

    return atomic.write_text(path, json.dumps(record, indent=2, ensure_ascii=False) + "\n")


def main(argv: Sequence[str] | None = None) -> dict[str, Any] | None:
    args = parse_args(argv)
    if args.markdown or args.update_readme:
        record = json.loads(args.json.read_text(encoding="utf-8")) if args.json.is_file() else None
        table = render_markdown(record)
        if args.update_readme:
            from course_utils import atomic

            atomic.write_text(README, replace_between_markers(README.read_text(encoding="utf-8"), table))
            print(f"updated {README.relative_to(REPO)}")
        else:
            print(table)
        return record

    record: dict[str, Any] = {
        "schema": SCHEMA, "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join(["benchmarks/lesson_budget.py", *(argv if argv is not None else sys.argv[1:])]),
        "profile": args.profile, "cpus": args.cpu_list, "machine": machine_info(), "versions": versions(),
        "targets": {"wall_s": TARGET_WALL_S, "rss_mib": TARGET_RSS_MIB}, "lessons": []}
    record["machine"]["load_avg_end"] = record["machine"]["load_avg_start"]
    kept: list[dict[str, Any]] = []
    if args.add and args.out.is_file():
        old = json.loads(args.out.read_text(encoding="utf-8"))
        now = {n.stem for n in args.notebooks}
        kept = [lesson for lesson in old.get("lessons", []) if lesson.get("lesson") not in now]
        before = old.get("earlier", {})
        for lesson in kept:  # where and when each kept lesson was measured, carried from run to run
            if "measured" not in lesson:
                was_earlier = lesson.get("lesson") in before.get("lessons", [])
                lesson["measured"] = {"date": before.get("date") if was_earlier else old.get("date"),
                                      "cpu_model": old.get("machine", {}).get("cpu_model")}
        record["earlier"] = {"date": old.get("date"), "command": old.get("command"),
                             "lessons": [lesson["lesson"] for lesson in kept]}
    record["lessons"] = list(kept)
    for notebook in args.notebooks:
        print(f"== {notebook.stem} ({args.profile} profile, kernel on CPU {args.cpus})", flush=True)
        try:
            lesson = run_lesson(notebook, profile=args.profile, cpus=args.cpu_list, cell_timeout=args.cell_timeout)
        except Exception as err:  # noqa: BLE001 (e.g. a kernel that never started: recorded, and the next lesson runs)
            lesson = {"lesson": notebook.stem, "status": "error", "error": f"{type(err).__name__}: {err}"[:200]}
        lesson["within_target"] = within_target(lesson, record["targets"])
        record["lessons"].append(lesson)
        record["lessons"].sort(key=lambda item: item.get("lesson", ""))
        print(f"   {lesson['status']}: {format_duration(lesson.get('wall_s'))} wall, "
              f"{lesson.get('peak_rss_mib')} MiB peak, kernel affinity {lesson.get('kernel', {}).get('affinity')}",
              flush=True)
        record["machine"]["load_avg_end"] = round(os.getloadavg()[0], 2)
        write_json(record, args.out)  # after every lesson, so a long run that stops keeps what it measured
    print(f"wrote {args.out}")
    print(render_markdown(record))
    return record


if __name__ == "__main__":
    main()
