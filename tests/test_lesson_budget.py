"""The Binder-budget benchmark (benchmarks/lesson_budget.py): its pure parts, the README table, and a smoke run.

No lesson runs in the full profile here: the benchmark itself is run by hand, on a quiet machine (benchmarks/README.md).
The end-to-end test runs lesson 00 in the smoke profile, to check that the kernel really is pinned to one CPU.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.scripts import load_script

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "benchmarks" / "lesson_budget.py"


lb = load_script(SCRIPT)

STATUS = """Name:\tpython
State:\tS (sleeping)
VmPeak:\t 3012345 kB
VmHWM:\t  812344 kB
VmRSS:\t  700000 kB
Threads:\t21
Cpus_allowed:\t1
Cpus_allowed_list:\t0
"""


def test_proc_status_fields_are_read():
    assert lb.parse_proc_status(STATUS) == {"vm_hwm_kib": 812344, "vm_rss_kib": 700000, "threads": 21,
                                            "cpus_allowed": "0"}
    assert lb.parse_proc_status("Name:\tzombie\n") == {"vm_hwm_kib": None, "vm_rss_kib": None, "threads": None,
                                                       "cpus_allowed": None}


def test_proc_status_of_this_process_has_a_peak():
    status = lb.read_status(os.getpid())
    assert status["vm_hwm_kib"] >= status["vm_rss_kib"] > 0
    assert lb.read_status(2**22 + 12345) is None  # no such process


def test_malformed_memory_field_is_refused():
    with pytest.raises(ValueError, match="VmHWM.*kB.*got '12 MB'"):
        lb.parse_proc_status("VmHWM:\t12 MB\n")


@pytest.mark.parametrize(("text", "cpus"), [("0", [0]), ("0,2", [0, 2]), ("0-3,6", [0, 1, 2, 3, 6]), (" 1 ", [1])])
def test_cpu_lists(text, cpus):
    assert lb.parse_cpu_list(text) == cpus


@pytest.mark.parametrize("text", ["", "a", "3-1", "0,,1", "-1"])
def test_bad_cpu_lists_are_refused(text):
    with pytest.raises(ValueError, match="CPU"):
        lb.parse_cpu_list(text)


def test_cpu_model_and_flags():
    cpuinfo = "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Processor\nflags\t\t: fpu avx2 fma avx512f amx_tile\n"
    assert lb.cpu_model(cpuinfo) == "Intel(R) Xeon(R) Processor"
    flags = lb.cpu_flags(cpuinfo)
    assert flags["avx512f"] and flags["amx_tile"] and flags["avx2"] and not flags["amx_bf16"]
    assert not any(lb.cpu_flags("").values())


def test_lessons_are_resolved_by_number_or_name():
    every = lb.resolve_lessons([])
    assert every and all(p.suffix == ".ipynb" and p.stem[:2].isdigit() for p in every) and every == sorted(every)
    assert lb.resolve_lessons(["00"]) == lb.resolve_lessons(["00_start_here"]) == \
        lb.resolve_lessons(["notebooks/00_start_here.ipynb"]) == [REPO / "notebooks" / "00_start_here.ipynb"]
    with pytest.raises(ValueError, match="expected one lesson for '99'"):
        lb.resolve_lessons(["99"])


def test_durations():
    assert lb.format_duration(754.2) == "12:34"
    assert lb.format_duration(59.6) == "1:00"
    assert lb.format_duration(None) == "–"
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="finite duration"):
            lb.format_duration(bad)


def _record(*lessons):
    return {"date": "2026-12-01T10:00:00+00:00", "profile": "full", "cpus": [0],
            "machine": {"cpu_model": "AMD EPYC", "cores": 2, "load_avg_start": 0.31, "load_avg_end": 0.5,
                        "cpu_flags": {f: f in ("avx2", "fma") for f in lb.CPU_FLAGS}},
            "versions": {"tensorflow": "2.21.0", "python": "3.11.7"},
            "targets": {"wall_s": 360, "rss_mib": 1536}, "lessons": list(lessons)}


def test_table_marks_each_lesson_within_or_over_target():
    ok = {"lesson": "00_start_here", "status": "ok", "wall_s": 44.6, "kernel_start_s": 1.2, "peak_rss_mib": 743.7,
          "slowest_cells": [{"index": 13, "seconds": 32.1, "first_line": "x"}]}
    slow = {"lesson": "04_dcgan", "status": "ok", "wall_s": 400.0, "kernel_start_s": 2, "peak_rss_mib": 1600.0,
            "slowest_cells": []}
    broken = {"lesson": "02_x", "status": "error", "error": "cell 3: ValueError: a|b", "wall_s": 5.0,
              "kernel_start_s": 1, "peak_rss_mib": 300.0}
    table = lb.render_markdown(_record(ok, slow, broken))
    lines = table.splitlines()
    assert lines[0].startswith("Measured 2026-12-01 with `benchmarks/lesson_budget.py` (profile `full`")
    assert "CPU 0 (1 of 2 cores) of AMD EPYC (flags: avx2, fma; no avx512f, amx_tile)" in lines[0]
    assert "≤ 6:00 wall, ≤ 1,536 MiB" in lines[0]
    assert lines[3] == "|---|---|---|---|---|---|"
    assert lines[4] == "| `00_start_here` | 0:45 | 1 s | 744 MiB | cell 13: 32 s | within |"
    assert lines[5] == "| `04_dcgan` | 6:40 | 2 s | 1,600 MiB | – | **over** (wall, rss) |"
    assert lines[6].endswith("| **error**: cell 3: ValueError: a\\|b |")
    # The total: the lessons that ran (0:45 + 6:40), the largest peak, and how many were not measured.
    assert lines[7] == ("| **all 2 lessons, one after another** | **7:25** | | 1,600 MiB (the largest) | | "
                        "1 lesson(s) not measured |")
    assert lb.within_target(ok, {"wall_s": 360, "rss_mib": 1536}) == {"wall": True, "rss": True}
    assert lb.within_target({}, {"wall_s": 360, "rss_mib": 1536}) == {"wall": None, "rss": None}
    assert lb.render_markdown(None) == lb.NOT_MEASURED


def test_readme_block_is_replaced_between_markers():
    text = f"intro\n{lb.BEGIN}\nold table\n{lb.END}\noutro\n"
    new = lb.replace_between_markers(text, "new table")
    assert new == f"intro\n{lb.BEGIN}\nnew table\n{lb.END}\noutro\n"
    assert lb.block_between_markers(new) == "new table"
    with pytest.raises(ValueError, match="expected one"):
        lb.replace_between_markers("no markers", "x")
    with pytest.raises(ValueError, match="expected one"):
        lb.replace_between_markers(f"{lb.END}{lb.BEGIN}", "x")


def test_readme_table_is_what_markdown_gives_from_the_committed_json():
    """benchmarks/README.md shows exactly `lesson_budget.py --markdown` (the committed JSON, or 'not measured yet')."""
    record = json.loads(lb.DEFAULT_JSON.read_text(encoding="utf-8")) if lb.DEFAULT_JSON.is_file() else None
    if record is not None:
        assert record["profile"] == "full", "the committed record must be a full-profile run"
    readme = lb.README.read_text(encoding="utf-8")
    assert lb.block_between_markers(readme) == lb.render_markdown(record), (
        "benchmarks/README.md is out of date: run `.venv/bin/python benchmarks/lesson_budget.py --update-readme`")


@pytest.mark.parametrize("argv", [["99"], ["--cpus", "x"], ["--cpus", "4096"], ["--cell-timeout", "0"],
                                  ["--cell-timeout", "1.5"], ["--profile", "fast"]])
def test_bad_command_line_is_refused(argv, capsys):
    with pytest.raises(SystemExit) as err:
        lb.parse_args(argv)
    assert err.value.code == 2
    assert "error" in capsys.readouterr().err


def test_cell_timeout_is_a_whole_number_that_nbclient_accepts():
    """nbclient's `timeout` is an Integer trait; traitlets 5.7.1 (Colab's) refuses 1800.0, later ones accept it."""
    import nbformat
    from nbclient import NotebookClient

    for argv, expected in (([], 1800), (["--cell-timeout", "60"], 60)):
        timeout = lb.parse_args(argv).cell_timeout
        assert type(timeout) is int and timeout == expected
        assert NotebookClient(nbformat.v4.new_notebook(), timeout=timeout).timeout == expected


@pytest.mark.parametrize("bad", [1800.0, 0, -5, True, "60"])
def test_run_lesson_refuses_a_timeout_that_is_not_whole_seconds(bad):
    with pytest.raises(ValueError, match="whole number of seconds"):
        lb.run_lesson(REPO / "notebooks" / "00_start_here.ipynb", profile="smoke", cpus=[0], cell_timeout=bad)


@pytest.mark.slow
def test_smoke_run_of_lesson_00_pins_the_kernel_to_one_cpu(tmp_path):
    out = tmp_path / "budget.json"
    earlier = {"lesson": "99_measured_before", "status": "ok", "wall_s": 1.0}
    stale = {"lesson": "00_start_here", "status": "error", "error": "from an earlier run"}
    out.write_text(json.dumps({"date": "2026-01-01", "command": "before", "lessons": [stale, earlier]}))
    lesson_00 = REPO / "notebooks" / "00_start_here.ipynb"
    committed = lesson_00.read_bytes()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run([sys.executable, str(SCRIPT), "--profile", "smoke", "00", "--out", str(out), "--add"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    record = json.loads(out.read_text(encoding="utf-8"))
    assert record["profile"] == "smoke" and record["cpus"] == [0]
    assert set(record["machine"]) >= {"cpu_model", "cpu_flags", "cores", "load_avg_start", "load_avg_end"}
    assert record["versions"]["tensorflow"]
    lesson, kept = record["lessons"]  # --add: the other lesson is kept, lesson 00's earlier entry replaced
    assert {k: v for k, v in kept.items() if k != "measured"} == earlier
    assert kept["measured"] == {"date": "2026-01-01", "cpu_model": None}  # when and where it was measured
    assert record["earlier"]["lessons"] == ["99_measured_before"]
    assert lesson["lesson"] == "00_start_here" and lesson["status"] == "ok", lesson
    assert lesson["kernel"]["affinity"] == [0] and lesson["kernel"]["cpus_allowed"] == "0"
    assert lesson["kernel"]["env"]["COURSE_PROFILE"] == "smoke" and lesson["kernel"]["env"]["COURSE_OFFLINE"] == "1"
    assert 0 < lesson["kernel_start_s"] < lesson["wall_s"] and lesson["peak_rss_mib"] > 50
    assert lesson["slowest_cells"] and lesson["within_target"] == {"wall": True, "rss": True}
    assert "| `00_start_here` |" in proc.stdout
    assert lesson_00.read_bytes() == committed, "the benchmark must run a copy, never rewrite the lesson"


def test_kept_lessons_say_when_and_on_which_cpu_they_were_measured():
    from lesson_budget import kept_note
    record = {"earlier": {"date": "2026-12-06T05:00:00", "lessons": ["00_a", "01_b", "02_c"]},
              "lessons": [{"lesson": "00_a", "measured": {"date": "2026-12-05T01:00:00", "cpu_model": "Intel Xeon"}},
                          {"lesson": "01_b", "measured": {"date": "2026-12-05T01:00:00", "cpu_model": "Intel Xeon"}},
                          {"lesson": "02_c"}, {"lesson": "08_new"}]}
    note = kept_note(record)
    assert note == (" Kept from earlier runs of the same script: `00_a`, `01_b` (2026-12-05, Intel Xeon); "
                    "`02_c` (2026-12-06).")
    assert "08_new" not in note and kept_note({"lessons": []}) == ""
