"""The tests' shared helpers resolve to this repository's tests/, whatever else the environment puts on sys.path."""
from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import tests

ROOT = Path(__file__).resolve().parents[1]


def test_tests_is_this_repositorys_regular_package():
    assert tests.__file__ is not None, f"`tests` is a namespace package ({list(tests.__path__)}): a regular `tests` " \
        "package elsewhere on sys.path (IPython 7.34 puts IPython/extensions there) would shadow it"
    assert Path(tests.__file__).resolve() == ROOT / "tests" / "__init__.py"
    assert Path(importlib.import_module("tests.scripts").__file__).resolve() == ROOT / "tests" / "scripts.py"


def test_a_foreign_tests_package_later_on_sys_path_does_not_shadow_ours(tmp_path):
    # What Colab's IPython does: a folder with its own regular `tests` package, appended to sys.path.
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "__init__.py").write_text("FOREIGN = True\n")
    code = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); sys.path.append({str(tmp_path)!r}); "
            "import tests.scripts, tests.classroom; print(tests.__file__)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path.parent)
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()).resolve() == ROOT / "tests" / "__init__.py"
