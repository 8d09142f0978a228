"""One allow-list of widget APIs, for every module and lesson that builds widgets: what ipywidgets 7.7 and 8 share.

Colab ships ipywidgets 7.7 (and its front end); `make lab` installs 8. A widget API that exists in only one of them
breaks the lesson on the other. The list below was checked against ipywidgets 7.7.1 (Colab's, `make test-colab`'s
venv) and 8. The test reads the syntax tree of every `course_utils` module and every lesson for the ipywidgets names
it uses, so a new widget anywhere is checked, not only in the lessons someone remembered; and the list holds exactly
the names in use, so none of its entries goes unchecked.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMON_TO_7_AND_8 = {"Button", "Dropdown", "FloatLogSlider", "FloatSlider", "FloatText", "GridBox", "HBox", "HTML",
                     "IntSlider", "Label", "Layout", "Output", "VBox", "interactive_output"}
NOT_WIDGETS = {"__version__"}
OWN_HELPERS = {n.name for n in ast.walk(ast.parse((ROOT / "course_utils" / "widgets.py").read_text(encoding="utf-8")))
               if isinstance(n, ast.FunctionDef)}  # course_utils.widgets' helpers, called as widgets.<helper> in lessons


def _sources() -> list[Path]:
    return sorted((ROOT / "course_utils").rglob("*.py")) + sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))


def widget_names(text: str) -> set[str]:
    """Names a module takes from ipywidgets, found in its syntax tree (comments and strings do not count).

    ``from ipywidgets import X``; and ``M.X`` wherever ``M`` is a name bound to ipywidgets by an import, in any
    scope (``import ipywidgets``, ``import ipywidgets as widgets``, inside a function too).
    """
    tree = ast.parse(text)
    names, modules = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {alias.asname or alias.name for alias in node.names if alias.name.split(".")[0] == "ipywidgets"}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "ipywidgets":
            names |= {alias.name for alias in node.names}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules:
            names.add(node.attr)
    return names - NOT_WIDGETS


def widget_users() -> dict[str, set[str]]:
    """Every course_utils module and lesson that builds widgets, with the ipywidgets names it uses."""
    users = {}
    for path in _sources():
        used = widget_names(path.read_text(encoding="utf-8")) - OWN_HELPERS
        if used:
            users[path.relative_to(ROOT).as_posix()] = used
    return users


def test_every_widget_api_used_anywhere_is_common_to_ipywidgets_7_and_8():
    """A module or lesson that uses a widget API off the list fails here: check it in 7.7.1 and 8, then add it."""
    import ipywidgets

    users = widget_users()
    assert {"course_utils/widgets.py", "course_utils/kernel_explorer.py", "notebooks/01_gan_objective.py"} <= set(users), (
        f"the scan missed known widget users: it found {sorted(users)}")
    for where, used in users.items():
        assert used <= COMMON_TO_7_AND_8, f"{where}: widget APIs outside the common set: {used - COMMON_TO_7_AND_8}"
        assert all(hasattr(ipywidgets, n) for n in used), where


def test_the_allow_list_is_what_the_course_uses():
    """The list is derived from the scan: a name nothing uses any more is dropped, so every entry stays checked."""
    used = set().union(*widget_users().values())
    assert COMMON_TO_7_AND_8 == used, f"not used by any module or lesson, remove: {sorted(COMMON_TO_7_AND_8 - used)}"


def test_the_scan_sees_every_way_of_naming_a_widget():
    text = ("import ipywidgets as widgets\nfrom ipywidgets import Tab\nw = widgets.Accordion()\n"
            "def f():\n    import ipywidgets\n    return ipywidgets.Stack(), ipywidgets.__version__\n")
    assert widget_names(text) == {"Tab", "Accordion", "Stack"}


def test_the_scan_ignores_what_is_not_an_ipywidgets_name():
    text = ("from course_utils import widgets\nwidgets.latent_explorer({}, f, g)  # not ipywidgets.Tab\n"
            "note = 'widgets.Accordion is not used here'\nimport numpy as np\nnp.Tab = 1\n")
    assert widget_names(text) == set()
