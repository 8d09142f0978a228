"""Provenance recorded by the machine: each helper's "Introduced in NN_topic" names the first lesson that uses it.

A lesson *uses* a ``course_utils`` helper when one of its code cells imports it (``from course_utils.<module>
import name``) or reads it from its module (``from course_utils import <module>`` then ``<module>.name``); a
helper re-exported by another module (``evaluator.frechet_distance`` is ``frechet.frechet_distance``) is the same
helper. A lesson *reaches* a helper it does not use when a helper it uses refers to it, directly or down a chain
(the names each ``course_utils`` function or class refers to in its body: a return type, an internal step; a
re-exported name leads to the module that defines it). The
rules, checked for every public function and class:

1. a helper some lesson uses must say "Introduced in <the first such lesson>";
2. a helper no lesson uses but some lesson reaches may say "Introduced in <the first lesson that reaches it>",
   optionally "(through ``module.other``...)": ``module.other`` must then be first used by that lesson and reach it;
3. a helper no lesson reaches claims no lesson. It names its users instead, "Not in a lesson: ..." with their paths
   (``tools/train_course_generator.py``, ``tests/test_references.py``), each of which must use it: a tool-only or
   test-only helper says so;
4. or it claims nothing (``lessons.load_lesson_code`` serves tests and benchmarks, not a lesson).

The exercise checks (``course_utils.exercises`` and their machinery ``course_utils.checks``) belong to their
lessons by module and are not covered here.
"""
from __future__ import annotations

import ast
import functools
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
OUTSIDE = re.compile(r"Not in a lesson: (.*?)(?:\n\n|$)", re.S)
USER_PATH = re.compile(r"\b((?:tools|benchmarks|tests)/[\w/]+\.py)\b")
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


def _refers_to() -> dict[tuple[str, str], set[tuple[str, str]]]:
    """(module, name) of each top-level function or class of course_utils -> the course_utils names its body uses.

    A bare name defined in the same module, a name imported from a sibling module (``from .frechet import x``),
    and ``module.name`` for a sibling module imported whole (``from . import data``): an over-estimate of what it
    calls, which is what "reaches" needs (a method's names count for its class).
    """
    graph: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for path in sorted((ROOT / "course_utils").glob("*.py")):
        module, tree = path.stem, ast.parse(path.read_text(encoding="utf-8"))
        defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)}
        names: dict[str, tuple[str, str]] = {}
        modules: dict[str, str] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 1:  # from .x import y / from . import x
                parts = node.module.split(".") if node.module else []
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "course_utils":
                parts = node.module.split(".")[1:]
            else:
                continue
            for alias in node.names:
                if parts:
                    names[alias.asname or alias.name] = (parts[0], alias.name)
                else:
                    modules[alias.asname or alias.name] = alias.name
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                continue
            refs = set()
            for sub in ast.walk(node):
                if isinstance(sub, ast.Name) and sub.id in defined and sub.id != node.name:
                    refs.add((module, sub.id))
                elif isinstance(sub, ast.Name) and sub.id in names:
                    refs.add(names[sub.id])
                elif isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name) and sub.value.id in modules:
                    refs.add((modules[sub.value.id], sub.attr))
            graph[(module, node.name)] = refs
    return graph


REFERS_TO = _refers_to()


@functools.cache
def _home(module: str, name: str) -> tuple[str, str]:
    """Where a helper is defined: a name a module re-exports (``checkpoints.GANCheckpoint``) leads to its own module
    (``gan_checkpoint.GANCheckpoint``), whose body is what it refers to."""
    obj = _resolve(module, name)
    defined_in = getattr(obj, "__module__", None) or ""
    if (inspect.isfunction(obj) or inspect.isclass(obj)) and re.fullmatch(r"course_utils\.\w+", defined_in):
        return defined_in.split(".")[1], obj.__name__
    return module, name


def _reached_from(start: tuple[str, str]) -> set[tuple[str, str]]:
    seen, stack = set(), [start]
    while stack:
        key = stack.pop()
        if key not in seen:
            seen.add(key)
            stack.extend(REFERS_TO.get(key, ()))
            stack.append(_home(*key))
    return seen


def _first_reach() -> dict[tuple[str, str], str]:
    """(module, name) -> the first lesson that uses or reaches it."""
    order = [path.stem for path in LESSONS]
    first: dict[tuple[str, str], str] = {}
    for key, lesson in sorted(FIRST.items(), key=lambda item: order.index(item[1])):
        for reached in _reached_from(key):
            first.setdefault(reached, lesson)
    return first


REACHED = _first_reach()


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
    outside = OUTSIDE.search(doc)
    first = BY_OBJECT.get(id(_resolve(module, name)))
    if first is not None:  # rule 1
        assert claimed, f"{module}.{name} is used by {first} but its docstring says no 'Introduced in {first}.'"
        assert claimed[0] == first, f"{module}.{name}: docstring says 'Introduced in {claimed[0]}', but the first lesson " \
                                    f"that uses it is {first}"
        assert not outside, f"{module}.{name} is used by {first} but says 'Not in a lesson'"
        return
    reached = REACHED.get((module, name))
    if claimed and reached is None:  # rule 3: a claim no lesson backs
        raise AssertionError(
            f"{module}.{name} says 'Introduced in {claimed[0]}' but no lesson uses or reaches it: drop the claim and "
            "say who uses it ('Not in a lesson: tools/....py ...', a tool-only or test-only helper)")
    if claimed:  # rule 2
        assert claimed[0] == reached, (f"{module}.{name}: docstring says 'Introduced in {claimed[0]}', but the first "
                                       f"lesson that reaches it (through the helpers it uses) is {reached}")
        through = THROUGH.search(doc)
        if through:
            lesson, other_module, other = through.groups()
            assert FIRST.get((other_module, other)) == lesson, (
                f"{module}.{name}: says it comes with {lesson} through {other_module}.{other}, but {other_module}.{other} "
                f"is first used by {FIRST.get((other_module, other), 'no lesson')}")
            assert (module, name) in _reached_from((other_module, other)), (
                f"{module}.{name}: says it comes through {other_module}.{other}, which never refers to it")
    if outside:  # rule 3: who uses it, checked
        assert reached is None, f"{module}.{name} says 'Not in a lesson' but {reached} reaches it"
        users = USER_PATH.findall(outside.group(1))
        assert users, f"{module}.{name}: 'Not in a lesson:' must name its users by path (tools/x.py, tests/test_x.py)"
        for user in users:
            text = (ROOT / user).read_text(encoding="utf-8") if (ROOT / user).is_file() else ""
            assert re.search(rf"\b{name}\b", text), f"{module}.{name}: says {user} uses it, but {user} never names it"


def test_the_rules_catch_a_wrong_claim():
    """The checker itself: a claim one lesson too early or too late fails, and so does one no lesson backs."""
    check = test_introduced_in_names_the_first_lesson_that_uses_the_helper
    assert BY_OBJECT[id(_resolve("viz", "save_gif"))] == "04_dcgan"
    assert FIRST[("evaluator", "frechet_distance")] == "03_cnn_classifier"
    with pytest.raises(AssertionError, match=r"says 'Introduced in 00_start_here', but the first lesson that uses it is"):
        check("viz", "save_gif", "Introduced in 00_start_here.")
    # Rule 2: a helper reached through another must name the first lesson that reaches it, through one that does.
    assert REACHED[("atomic", "write_bytes")] == "00_start_here"
    with pytest.raises(AssertionError, match=r"the first lesson that reaches it .* is 00_start_here"):
        check("atomic", "write_bytes", "Introduced in 03_cnn_classifier (through ``viz.plot_history``).")
    with pytest.raises(AssertionError, match=r"viz.plot_history is first used by 03_cnn_classifier"):
        check("atomic", "write_bytes", "Introduced in 00_start_here (through ``viz.plot_history``).")
    with pytest.raises(AssertionError, match=r"through data.load_mnist, which never refers to it"):
        check("atomic", "write_bytes", "Introduced in 00_start_here (through ``data.load_mnist``).")
    # Rule 3: a lesson its module comes with is not enough; a tool-only or test-only helper says who uses it.
    assert MODULE_FIRST["pretrained"] == "04_dcgan" and ("pretrained", "save_trained_generator") not in REACHED
    with pytest.raises(AssertionError, match=r"no lesson uses or reaches it"):
        check("pretrained", "save_trained_generator", "Introduced in 04_dcgan.")
    with pytest.raises(AssertionError, match=r"says tools/train_colour_evaluator.py uses it, but .* never names it"):
        check("pretrained", "save_trained_generator", "Not in a lesson: tools/train_colour_evaluator.py uses it.")
    with pytest.raises(AssertionError, match=r"must name its users by path"):
        check("references", "citation_keys_in", "Not in a lesson: the tests use it.")
    with pytest.raises(AssertionError, match=r"says 'Not in a lesson' but 00_start_here reaches it"):
        check("atomic", "write_bytes", "Not in a lesson: tests/test_atomic.py.")


def test_the_reach_follows_what_each_helper_refers_to():
    assert ("atomic", "write_bytes") in REFERS_TO[("viz", "save_figure")]  # from . import atomic; atomic.write_bytes
    assert ("viz", "save_figure") in REFERS_TO[("viz", "show_images")]     # a name of its own module
    assert ("frechet", "frechet_distance") in REFERS_TO[("evaluator_scoring", "Evaluator")]  # from .frechet import ...
    assert ("atomic", "write_bytes") in _reached_from(("viz", "show_images"))        # down the chain
    # A name a module only re-exports leads to the helper where it is defined, and on from there.
    assert _home("checkpoints", "GANCheckpoint") == ("gan_checkpoint", "GANCheckpoint")
    assert ("gan_checkpoint", "training_history") not in REFERS_TO.get(("checkpoints", "GANCheckpoint"), set())
    assert ("model_file", "_first_line") in _reached_from(("checkpoints", "GANCheckpoint"))
