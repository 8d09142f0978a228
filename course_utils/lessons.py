"""Load the functions a lesson defines, so tests and benchmarks run the very code the learner reads.

Cells tagged ``export`` in ``notebooks/NN_topic.py`` (``# %% tags=["export"]``) are executed, in order, in a
fresh namespace; nothing else in the lesson runs.
"""

from __future__ import annotations

import linecache
from pathlib import Path
from typing import Any

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def load_lesson_code(stem: str, tag: str = "export") -> dict[str, Any]:
    """Execute the cells of ``notebooks/<stem>.py`` that carry ``tag`` and return the resulting namespace.

    Introduced in 00_start_here (used by ``tests/`` and ``benchmarks/``).

    Args:
        stem: lesson file name without extension, e.g. ``"02_convolution_and_pooling"``.
        tag: the cell tag to execute.

    Returns:
        The namespace (a dict) after running those cells.

    Raises:
        ValueError: if the lesson does not exist or has no cell with that tag.
    """
    import jupytext

    path = NOTEBOOKS / f"{stem}.py"
    if not path.is_file():
        raise ValueError(f"no lesson source at {path}; expected one of {sorted(p.stem for p in NOTEBOOKS.glob('*.py'))}")
    nb = jupytext.read(path)
    namespace: dict[str, Any] = {"__name__": f"lesson_{stem}"}
    cells = [c for c in nb.cells if c.cell_type == "code" and tag in c.metadata.get("tags", [])]
    if not cells:
        raise ValueError(f"{path} has no code cell tagged {tag!r}")
    for i, cell in enumerate(cells):
        name = f"{path}:{tag}-cell-{i}"
        text = cell.source if cell.source.endswith("\n") else cell.source + "\n"
        # Let tracebacks and AutoGraph (tf.function) read the cell's source: without it AutoGraph warns and skips
        # converting Python control flow in the functions defined here.
        linecache.cache[name] = (len(text), None, text.splitlines(keepends=True), name)
        exec(compile(text, name, "exec"), namespace)
    return namespace
