"""Set-up files agree with each other: pyproject ranges admit Colab and the lock; environment.yml is valid for Binder."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
REQUIREMENTS = {Requirement(r).name.lower(): Requirement(r) for r in PYPROJECT["project"]["dependencies"]}
LOCK = {
    line.split("==")[0].lower().replace("_", "-"): line.split("==")[1].strip()
    for line in (ROOT / "requirements-lock.txt").read_text().splitlines()
    if line and not line.startswith("#")
}
COLAB = {"tensorflow": "2.20.0", "keras": "3.13.0", "ipywidgets": "7.7.1"}


def test_stack_is_declared():
    for name in ("tensorflow", "keras", "jupyterlab", "ipywidgets", "matplotlib", "nbval", "jupytext", "tqdm", "scipy",
                 "pillow", "pytest"):
        assert name in REQUIREMENTS, f"{name} missing from pyproject dependencies"


@pytest.mark.parametrize("name, version", sorted(COLAB.items()))
def test_ranges_admit_colab(name, version):
    assert Version(version) in REQUIREMENTS[name].specifier, f"{name} {version} (Colab) not admitted by {REQUIREMENTS[name]}"


def test_python_range_admits_colab_and_local():
    from packaging.specifiers import SpecifierSet

    spec = SpecifierSet(PYPROJECT["project"]["requires-python"])
    for v in ("3.11", "3.12", "3.13"):
        assert Version(v) in spec


def test_lock_pins_every_dependency_within_its_range():
    for name, req in REQUIREMENTS.items():
        assert name in LOCK, f"{name} is not pinned in requirements-lock.txt"
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
