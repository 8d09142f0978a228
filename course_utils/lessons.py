"""Load the functions a lesson defines, so tests and benchmarks run the very code the learner reads.

Cells tagged ``export`` in ``notebooks/NN_topic.py`` (``# %% tags=["export"]``) are executed, in order, in a
fresh module; nothing else in the lesson runs. Only lessons inside the repository's ``notebooks/`` folder can
be loaded.
"""

from __future__ import annotations

import linecache
import re
import types
from pathlib import Path
from typing import Any

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
_STEM = re.compile(r"^[0-9]{2}_[A-Za-z0-9_]+$")


class FrozenDict(dict):
    """A read-only dict, for a recipe's per-case table (lesson 08's Adam betas for each loss).

    A frozen dataclass stops a field from being re-bound, not a dict in it from being changed; this one refuses
    every change with a ``TypeError``. It is still a ``dict``: ``json.dumps`` and ``dataclasses.asdict`` write it
    as one, and it hashes by its items, so a recipe that holds it stays hashable.

    Introduced in 08_colour_gans.
    """

    def _refuse(self, *args, **kwargs):
        raise TypeError(f"{type(self).__name__} is read-only: make a new recipe with dataclasses.replace(...)")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = __ior__ = _refuse

    def __hash__(self):
        return hash(tuple(sorted(self.items())))

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    def __reduce__(self):
        return type(self), (dict(self),)


class LessonModule(types.ModuleType):
    """The export cells of one lesson, run as a module: ``lesson.build_generator(lesson.RECIPE)``.

    What :func:`load_lesson_code` returns to lessons, ``tests/`` and ``benchmarks/``. Names are read as attributes
    only; a name the lesson does not define raises an ``AttributeError`` that lists the names it does define. A
    variant of a lesson's recipe is a new value (``dataclasses.replace(lesson.RECIPE, ...)``) passed to its
    functions, never a change to the module.
    """

    def __getattr__(self, name: str) -> Any:  # called only for names the cells did not define
        if name.startswith("__"):
            raise AttributeError(name)
        defined = sorted(k for k in self.__dict__ if not k.startswith("__"))
        raise AttributeError(f"{self.__name__} defines no {name!r}; it defines {defined}")


def load_lesson_code(stem: str, tag: str = "export") -> LessonModule:
    """Execute the cells of ``notebooks/<stem>.py`` that carry ``tag`` and return them as a module.

    Introduced in 05_gan_engineering, which builds on lesson 04's recipe by loading it, so it runs the very code
    lesson 04 shows; ``tests/`` and ``benchmarks/`` use it the same way.

    Args:
        stem: lesson file name without extension, e.g. ``"02_convolution_and_pooling"`` (no folder: only lessons
            in ``notebooks/`` can be loaded).
        tag: the cell tag to execute.

    Returns:
        A :class:`LessonModule`: ``lesson.build_generator()``.

    Raises:
        ValueError: if ``stem`` is not a lesson name (``NN_topic``) or points outside ``notebooks/``, if the lesson
            does not exist, or if it has no cell with that tag.
    """
    import jupytext

    available = sorted(p.stem for p in NOTEBOOKS.glob("[0-9][0-9]_*.py"))
    if not isinstance(stem, str) or not _STEM.match(stem):
        raise ValueError(f"expected a lesson name like '02_convolution_and_pooling' (a file in {NOTEBOOKS}, no folder "
                         f"or suffix), got {stem!r}; lessons: {available}")
    path = NOTEBOOKS / f"{stem}.py"
    if not path.is_file():
        raise ValueError(f"no lesson source at {path}; expected one of {available}")
    if path.resolve().parent != NOTEBOOKS.resolve():
        raise ValueError(f"{path} leads outside {NOTEBOOKS} (to {path.resolve()}); only lessons in notebooks/ are loaded")
    nb = jupytext.read(path)
    module = LessonModule(f"lesson_{stem}", f"The cells tagged {tag!r} of {path.name}")
    module.__file__ = str(path)
    cells = [c for c in nb.cells if c.cell_type == "code" and tag in c.metadata.get("tags", [])]
    if not cells:
        raise ValueError(f"{path} has no code cell tagged {tag!r}")
    for i, cell in enumerate(cells):
        name = f"{path}:{tag}-cell-{i}"
        text = cell.source if cell.source.endswith("\n") else cell.source + "\n"
        # Let tracebacks and AutoGraph (tf.function) read the cell's source: without it AutoGraph warns and skips
        # converting Python control flow in the functions defined here.
        linecache.cache[name] = (len(text), None, text.splitlines(keepends=True), name)
        # dont_inherit: the cells compile as in a notebook, without this file's `from __future__` flags (string
        # annotations would make a dataclass in a cell look its module up in sys.modules)
        exec(compile(text, name, "exec", dont_inherit=True), module.__dict__)
    return module
