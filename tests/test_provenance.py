"""Provenance recorded by the machine: each helper's "Introduced in NN_topic" names the first lesson that uses it.

A lesson *uses* a ``course_utils`` helper when one of its code cells imports it (``from course_utils.<module>
import name``) or reads it from its module (``from course_utils import <module>`` then ``<module>.name``); a
helper re-exported by another module (``evaluator.frechet_distance`` is ``frechet.frechet_distance``) is the same
helper. The rules, checked for every public function and class:

1. a helper some lesson uses must say "Introduced in <the first such lesson>";
2. a helper no lesson uses may say "Introduced in NN_topic (through ``module.other``...)", and ``module.other``
   must then be first used by lesson NN (a return type, an internal step);
3. otherwise its claim must name the first lesson that imports its module;
4. or it claims nothing (``lessons.load_lesson_code`` serves tests and benchmarks, not a lesson).

The exercise checks (``course_utils.exercises`` and their machinery ``course_utils.checks``) belong to their
lessons by module and are not covered here.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import jupytext
import pytest

import course_utils

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
INTRODUCED = re.compile(r"Introduced in (\d\d_[a-z0-9_]+)")
THROUGH = re.compile(r"Introduced in (\d\d_[a-z0-9_]+) \(through ``([a-z_]+)\.([A-Za-z_]\w*)``")
MODULES = sorted(m.name for m in pkgutil.iter_modules(course_utils.__path__) if not m.name.startswith("_")
                 and m.name not in {"exercises", "checks"})


def _code(path: Path) -> str:
    """The code cells of a lesson, without comments (a commented-out import is not a use)."""
    cells = [c.source for c in jupytext.read(path).cells if c.cell_type == "code"]
    return "\n".join(re.sub(r"(?m)#.*$", "", source) for source in cells)


def _uses(source: str) -> tuple[set[tuple[str, str]], set[str]]:
    """(module, name) pairs of course_utils helpers one lesson's code uses, and the modules it imports."""
    found, modules = set(), set()
    for module, names in re.findall(r"from course_utils\.(\w+) import ([\w, ()\n]+)", source):
        modules.add(module)
        found |= {(module, n.strip()) for n in re.split(r"[,\s()]+", names) if n.strip() and n.strip() != "as"}
    for names in re.findall(r"from course_utils import ([\w, ]+)", source):
        for module in (n.strip() for n in names.split(",")):
            modules.add(module)
            found |= {(module, attr) for attr in re.findall(rf"(?<![\w.]){module}\.([A-Za-z_]\w*)", source)}
    return found, modules


def _resolve(module: str, name: str):
    try:
        return getattr(importlib.import_module(f"course_utils.{module}"), name)
    except (ImportError, AttributeError):
        return None


def _scan() -> tuple[dict[int, str], dict[tuple[str, str], str], dict[str, str]]:
    by_object: dict[int, str] = {}
    by_name: dict[tuple[str, str], str] = {}
    module_first: dict[str, str] = {}
    for path in LESSONS:  # in teaching order
        found, modules = _uses(_code(path))
        for module in modules:
            module_first.setdefault(module, path.stem)
        for key in found:
            by_name.setdefault(key, path.stem)
            obj = _resolve(*key)
            if obj is not None and (inspect.isfunction(obj) or inspect.isclass(obj)):
                by_object.setdefault(id(obj), path.stem)
    return by_object, by_name, module_first


BY_OBJECT, FIRST, MODULE_FIRST = _scan()


def _helpers():
    for module_name in MODULES:
        module = importlib.import_module(f"course_utils.{module_name}")
        for name, obj in vars(module).items():
            if name.startswith("_") or not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue
            if getattr(obj, "__module__", None) != module.__name__:
                continue  # imported from elsewhere: checked in its own module
            yield module_name, name, inspect.getdoc(obj) or ""


HELPERS = sorted(_helpers())


def test_the_lesson_scan_sees_the_helpers_lessons_use():
    assert FIRST[("device", "quiet_tensorflow_startup")] == "00_start_here"  # the set-up cell
    assert FIRST[("viz", "show_images")] == "00_start_here"
    assert FIRST[("receptive_field", "receptive_field")] == "02_convolution_and_pooling"
    assert FIRST[("checkpoints", "GANCheckpoint")] == "04_dcgan"
    assert len(HELPERS) > 40


@pytest.mark.parametrize("module, name, doc", HELPERS, ids=[f"{m}.{n}" for m, n, _ in HELPERS])
def test_introduced_in_names_the_first_lesson_that_uses_the_helper(module, name, doc):
    claimed = INTRODUCED.findall(doc)
    first = BY_OBJECT.get(id(_resolve(module, name)))
    if first is not None:  # rule 1
        assert claimed, f"{module}.{name} is used by {first} but its docstring says no 'Introduced in {first}.'"
        assert claimed[0] == first, f"{module}.{name}: docstring says 'Introduced in {claimed[0]}', but the first lesson " \
                                    f"that uses it is {first}"
        return
    if not claimed:  # rule 4
        return
    through = THROUGH.search(doc)
    if through:  # rule 2
        lesson, other_module, other = through.groups()
        assert lesson == claimed[0]
        assert FIRST.get((other_module, other)) == lesson, (
            f"{module}.{name}: says it comes with {lesson} through {other_module}.{other}, but {other_module}.{other} "
            f"is first used by {FIRST.get((other_module, other), 'no lesson')}")
        return
    assert module in MODULE_FIRST, (  # rule 3
        f"{module}.{name} says 'Introduced in {claimed[0]}' but no lesson uses it or imports course_utils.{module}: "
        "say through which helper a lesson reaches it (\"Introduced in NN_topic (through ``module.helper``...)\") or "
        "drop the claim")
    assert claimed[0] == MODULE_FIRST[module], (
        f"{module}.{name}: docstring says 'Introduced in {claimed[0]}'; no lesson uses it directly, and course_utils."
        f"{module} first comes in {MODULE_FIRST[module]}")


def test_the_rules_catch_a_wrong_claim():
    """The checker itself: a claim one lesson too early or too late fails."""
    assert BY_OBJECT[id(_resolve("viz", "save_gif"))] == "04_dcgan"
    assert FIRST[("evaluator", "frechet_distance")] == "03_cnn_classifier"
    with pytest.raises(AssertionError, match=r"says 'Introduced in 00_start_here', but the first lesson that uses it is"):
        test_introduced_in_names_the_first_lesson_that_uses_the_helper("viz", "save_gif", "Introduced in 00_start_here.")
    with pytest.raises(AssertionError, match=r"first used by 00_start_here"):
        test_introduced_in_names_the_first_lesson_that_uses_the_helper(
            "atomic", "write_bytes", "Introduced in 03_cnn_classifier (through ``viz.show_images``).")
    with pytest.raises(AssertionError, match=r"no lesson uses it or imports course_utils.atomic"):
        test_introduced_in_names_the_first_lesson_that_uses_the_helper("atomic", "write_bytes", "Introduced in 00_start_here.")
