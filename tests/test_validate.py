"""course_utils.validate: the shared argument checks, and that no helper keeps its own copy of them."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np
import pytest

from course_utils.validate import int_at_least, int_option, positive_number, positive_option

ROOT = Path(__file__).resolve().parent.parent


def test_int_at_least_takes_python_and_numpy_ints():
    assert int_at_least(3, 2, "n") == 3 and isinstance(int_at_least(np.int64(5), 0, "n"), int)


@pytest.mark.parametrize("bad", [True, np.bool_(True), 1.0, "3", None, 1])
def test_int_at_least_refuses_bools_floats_strings_and_small_values(bad):
    with pytest.raises(ValueError, match=r"^n must be an int >= 2, got "):
        int_at_least(bad, 2, "n")


def test_the_message_uses_the_callers_words():
    with pytest.raises(ValueError, match=r"^epochs must be a non-negative int \(the total\), got -1$"):
        int_at_least(-1, 0, "epochs", expected="a non-negative int (the total)")


@pytest.mark.parametrize("bad", [0, -1.0, float("inf"), float("nan"), False, "1", None])
def test_positive_number_refuses(bad):
    with pytest.raises(ValueError, match="must be a positive finite number"):
        positive_number(bad, "x")
    assert positive_number(np.float32(0.5), "x") == 0.5


def test_the_note_ends_the_message():
    with pytest.raises(ValueError, match=r"^ncols must be a positive int, got 0 \(images per row\)$"):
        int_at_least(0, 1, "ncols", expected="a positive int", note="images per row")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tool")
    parser.add_argument("--steps", type=int_option(1), default=None)
    parser.add_argument("--budget", type=positive_option, default=None)
    return parser


def test_the_command_line_options_parse_good_values():
    args = _parser().parse_args(["--steps", "3", "--budget", "2.5"])
    assert (args.steps, args.budget) == (3, 2.5) and type(args.steps) is int
    assert _parser().parse_args([]).steps is None  # defaults are not checked, as with argparse's own types


@pytest.mark.parametrize("argv, message", [
    (["--steps", "0"], "argument --steps: expected an int >= 1, got '0'"),
    (["--steps", "1.5"], "argument --steps: expected an int >= 1, got '1.5'"),
    (["--steps", "x"], "argument --steps: expected an int >= 1, got 'x'"),
    (["--budget", "0"], "argument --budget: expected a positive finite number, got '0'"),
    (["--budget", "nan"], "argument --budget: expected a positive finite number, got 'nan'"),
    (["--budget", "inf"], "argument --budget: expected a positive finite number, got 'inf'"),
])
def test_the_command_line_options_refuse_with_argparse_usage(argv, message, capsys):
    with pytest.raises(SystemExit) as err:
        _parser().parse_args(argv)
    assert err.value.code == 2
    assert message in capsys.readouterr().err


# "an int (not a bool) >= n" or "a number (not a bool) > 0" written out by hand, in either order. The checks in
# course_utils/exercises judge a learner's answer (a value, not an argument to refuse) and are not scanned.
_SMALL = r" or (?:int\()?{v}\)? *(?:<|<=) "  # ... or n < 1 (a range with two bounds, 1 <= n < k, is not this)
HAND_WRITTEN = re.compile(
    r"isinstance\((\w+), \(?bool[^)]*\)?\) or not isinstance\(\1, [^)]*\b(?:int|Integral|float|Real)\b[^)]*\)\)?"
    + _SMALL.format(v=r"\1")
    + r"|not isinstance\((\w+), \(?(?:int|Integral)\b[^)]*\)\)? or isinstance\(\2, \(?bool[^)]*\)?\)" + _SMALL.format(v=r"\2"))

def test_the_pattern_finds_the_copies_it_is_for():
    for copy in ("if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:",
                 "if isinstance(n, (bool, np.bool_)) or not isinstance(n, int) or n <= 0:",
                 "if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:",
                 "if isinstance(n, bool) or not isinstance(n, Integral) or n < 2:",
                 "if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or int(n) < 1:"):
        assert HAND_WRITTEN.search(copy), copy


def test_no_module_or_script_writes_the_int_not_bool_check_itself():
    """course_utils, tools/ and benchmarks/ (not its archive) check arguments with course_utils.validate."""
    files = [*(ROOT / "course_utils").rglob("*.py"), *(ROOT / "tools").glob("*.py"), *(ROOT / "benchmarks").glob("*.py")]
    copies = [f"{p.relative_to(ROOT)}:{line}" for p in files
              if p.name != "validate.py" and "exercises" not in p.parts
              for line, text in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if HAND_WRITTEN.search(text)]
    assert copies == [], f"use course_utils.validate (int_at_least, positive_number, int_option) in {copies}"
