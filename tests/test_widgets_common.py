"""One allow-list of widget APIs, for every module and lesson that builds widgets: what ipywidgets 7.7 and 8 share.

Colab ships ipywidgets 7.7 (and its front end); `make lab` installs 8. A widget API that exists in only one of them
breaks the lesson on the other. The list below was checked against ipywidgets 7.7.1 (Colab's, `make test-colab`'s
venv) and 8; the test scans every `course_utils` module and every lesson for the names it uses, so a new widget
anywhere is checked, not only in the lessons someone remembered.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMON_TO_7_AND_8 = {"Button", "Dropdown", "FloatLogSlider", "FloatSlider", "FloatText", "GridBox", "HBox", "HTML",
                     "IntSlider", "Label", "Layout", "Output", "VBox", "interactive_output"}
NOT_WIDGETS = {"__version__"}


def _sources() -> list[Path]:
    return sorted((ROOT / "course_utils").rglob("*.py")) + sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))


def widget_names(text: str) -> set[str]:
    """Names taken from ipywidgets: `widgets.X` / `ipywidgets.X` attributes and `from ipywidgets import X`."""
    names = set(re.findall(r"\b(?:ipy)?widgets\.(\w+)", text))
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "ipywidgets":
            names |= {a.name for a in node.names}
    return names - NOT_WIDGETS


def test_every_widget_api_used_anywhere_is_common_to_ipywidgets_7_and_8():
    import ipywidgets

    users = {}
    for path in _sources():
        text = path.read_text(encoding="utf-8")
        if "widgets" not in text:
            continue
        # course_utils.widgets' own helpers are called as widgets.<helper> in lessons: not ipywidgets names.
        own = {n.name for n in ast.walk(ast.parse((ROOT / "course_utils" / "widgets.py").read_text()))
               if isinstance(n, ast.FunctionDef)}
        used = widget_names(text) - own
        if used:
            users[path.relative_to(ROOT).as_posix()] = used
    assert len(users) >= 4, f"the scan found too few widget users: {sorted(users)}"
    for where, used in users.items():
        assert used <= COMMON_TO_7_AND_8, f"{where}: widget APIs outside the common set: {used - COMMON_TO_7_AND_8}"
        assert all(hasattr(ipywidgets, n) for n in used), where


def test_the_scan_sees_every_way_of_naming_a_widget():
    text = "import ipywidgets as widgets\nfrom ipywidgets import Tab\nw = widgets.Accordion()\nx = ipywidgets.Stack()\n"
    assert widget_names(text) == {"Tab", "Accordion", "Stack"}
