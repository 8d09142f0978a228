"""Set-up files agree with each other: pyproject ranges admit Colab and the lock; environment.yml is valid for Binder."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
REQUIREMENTS = {Requirement(r).name.lower(): Requirement(r) for r in PYPROJECT["project"]["dependencies"]}
EXTRAS = {extra: {Requirement(r).name.lower(): Requirement(r) for r in reqs}
          for extra, reqs in PYPROJECT["project"]["optional-dependencies"].items()}
LOCK = {
    line.split("==")[0].lower().replace("_", "-"): line.split("==")[1].strip()
    for line in (ROOT / "requirements-lock.txt").read_text().splitlines()
    if line and not line.startswith("#")
}
# Colab's versions (requirements-colab.txt, Colab's published list; `make test-colab` runs the course with them).
COLAB = {
    Requirement(line).name.lower(): line.split("==")[1].strip()
    for line in (ROOT / "requirements-colab.txt").read_text().splitlines()
    if line.strip() and not line.startswith("#")
}


def test_dependencies_are_what_the_lessons_import():
    """The package needs what the lessons and course_utils import; the tools around them are extras, so that a
    `pip install` with dependencies on Colab pulls in no JupyterLab and upgrades no kernel."""
    assert set(REQUIREMENTS) == {"tensorflow", "keras", "numpy", "ipython", "ipywidgets", "matplotlib", "jupytext",
                                 "tqdm", "scipy", "pillow", "scikit-image", "pywavelets"}
    assert {"jupyterlab", "ipykernel"} <= set(EXTRAS["lab"]) and {"pytest", "nbval", "ipykernel"} <= set(EXTRAS["test"])


def test_colab_list_pins_every_dependency_and_the_test_tools():
    assert set(REQUIREMENTS) <= set(COLAB), f"requirements-colab.txt misses {sorted(set(REQUIREMENTS) - set(COLAB))}"
    assert {"ipykernel", "traitlets", "nbclient", "nbval", "pytest"} <= set(COLAB)
    assert COLAB["tensorflow"] == "2.20.0" and COLAB["traitlets"] == "5.7.1" and COLAB["ipykernel"] == "6.17.1"
    assert re.search(r"published list of preinstalled packages, \d{4}-\d{2}", (ROOT / "requirements-colab.txt").read_text())


@pytest.mark.parametrize("name", sorted(REQUIREMENTS))
def test_ranges_admit_colab(name):
    req = REQUIREMENTS[name]
    assert Version(COLAB[name]) in req.specifier, f"{name} {COLAB[name]} (Colab) not admitted by {req}"


@pytest.mark.parametrize("extra", ["lab", "test"])
def test_kernel_ranges_admit_colab(extra):
    req = EXTRAS[extra]["ipykernel"]
    assert Version(COLAB["ipykernel"]) in req.specifier, f"ipykernel {COLAB['ipykernel']} (Colab) not admitted by {req}"


def test_readme_colab_sentence_matches_the_set_up_cell():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## On Colab", 1)[1].split("\n## ", 1)[0]
    setup = (ROOT / "tools" / "setup_cell.py").read_text()
    assert '"pip", "install", "--quiet", "--no-deps", "-e"' in setup
    assert "`pip install --no-deps -e`" in section and "requirements-colab.txt" in section
    for name in ("TensorFlow", "Keras", "ipywidgets"):
        assert name in section


def test_python_range_admits_colab_and_local():
    from packaging.specifiers import SpecifierSet

    spec = SpecifierSet(PYPROJECT["project"]["requires-python"])
    for v in ("3.11", "3.12", "3.13"):
        assert Version(v) in spec


@pytest.mark.parametrize("group", ["dependencies", "lab", "test", "dev"])
def test_lock_pins_every_dependency_within_its_range(group):
    """`make lab`/`make test` install the lock, then the course with --no-deps: the lock must hold the extras too."""
    requirements = REQUIREMENTS if group == "dependencies" else EXTRAS[group]
    for name, req in requirements.items():
        name = name.replace("_", "-")
        assert name in LOCK, f"{name} ({group}) is not pinned in requirements-lock.txt"
        assert Version(LOCK[name]) in req.specifier, f"lock pins {name}=={LOCK[name]}, outside {req.specifier}"


def test_environment_yml_is_valid_for_binder():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"]
    deps = env["dependencies"]
    pythons = [d for d in deps if isinstance(d, str) and d.startswith("python")]
    assert pythons and "=" in pythons[0], "environment.yml must pin Python"
    assert Version(pythons[0].split("=")[-1]) in Requirement("x" + PYPROJECT["project"]["requires-python"]).specifier
    pip = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    assert "-e ." in pip, "Binder must install the course itself"
    pins = dict(p.split("==") for p in pip if "==" in p)
    for name in ("tensorflow", "keras", "jupyterlab", "ipywidgets"):
        assert name in pins, f"{name} not pinned for Binder"
    for name, version in pins.items():
        assert LOCK.get(name.lower()) == version, f"environment.yml pins {name}=={version}, the lock has {LOCK.get(name.lower())}"


def test_ci_runs_make_test():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
