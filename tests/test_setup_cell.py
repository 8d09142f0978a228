"""The lessons' shared set-up cell (tools/setup_cell.py) on a pretend Colab: fresh, healthy, empty, partial, broken."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CELL = (ROOT / "tools" / "setup_cell.py").read_text(encoding="utf-8")
COLAB_DIR = "/content/gans-and-cnns"
COLAB_URL = "https://github.com/image-synthesis-course/gans-and-cnns"


def _git(*args, cwd=None):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def upstream(tmp_path):
    """A tiny git repository standing in for the course on GitHub."""
    repo = tmp_path / "upstream"
    (repo / "course_utils").mkdir(parents=True)
    (repo / "course_utils" / "__init__.py").write_text("")
    (repo / "course_utils" / "viz.py").write_text("X = 1\n")
    (repo / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    _git("init", "--quiet", "-b", "main", cwd=repo)
    _git("add", ".", cwd=repo)
    _git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet", "-m", "course", cwd=repo)
    return repo


def run_cell(course_dir: Path, upstream: Path, monkeypatch) -> tuple[str, list[list[str]]]:
    """Run the set-up cell as Colab would, with the course folder and the URL pointed at local copies.

    pip is not run (it would need the network); its calls are returned instead.
    """
    assert CELL.count(COLAB_DIR) == 1 and CELL.count(COLAB_URL) == 1
    source = CELL.replace(COLAB_DIR, str(course_dir)).replace(COLAB_URL, upstream.as_uri())
    pip_calls: list[list[str]] = []
    real_run = subprocess.run

    def fake_run(cmd, *args, **kwargs):
        if cmd[:3] == [sys.executable, "-m", "pip"]:
            pip_calls.append(list(cmd))
            return subprocess.CompletedProcess(cmd, 0)
        return real_run(cmd, *args, **kwargs)

    monkeypatch.setattr(subprocess, "run", fake_run)
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setattr(sys, "path", list(sys.path))
    printed: list[str] = []
    namespace = {"__name__": "setup_cell", "print": lambda *a: printed.append(" ".join(map(str, a)))}
    exec(compile(source, "setup_cell", "exec"), namespace)
    assert sys.path[0] == str(course_dir)
    return "\n".join(printed), pip_calls


def _complete(course_dir: Path) -> bool:
    return (course_dir / "course_utils" / "__init__.py").is_file() and (course_dir / "course_utils" / "viz.py").is_file()


def test_fresh_colab_clones_and_installs(tmp_path, upstream, monkeypatch):
    course = tmp_path / "content" / "gans-and-cnns"
    out, pip_calls = run_cell(course, upstream, monkeypatch)
    assert _complete(course) and out == ""
    assert len(pip_calls) == 1 and pip_calls[0][-1] == str(course)


def test_healthy_clone_is_left_alone(tmp_path, upstream, monkeypatch):
    course = tmp_path / "gans-and-cnns"
    _git("clone", "--quiet", upstream.as_uri(), str(course))
    (course / "notes.txt").write_text("a learner's file")
    out, pip_calls = run_cell(course, upstream, monkeypatch)
    assert out == "" and pip_calls == [] and (course / "notes.txt").read_text() == "a learner's file"


def test_empty_folder_is_recloned_and_says_so(tmp_path, upstream, monkeypatch):
    course = tmp_path / "gans-and-cnns"
    course.mkdir()
    out, pip_calls = run_cell(course, upstream, monkeypatch)
    assert f"{course} is empty or a broken clone: deleting it and cloning the course again" in out
    assert _complete(course) and len(pip_calls) == 1


def test_partial_clone_is_repaired_from_git_and_says_so(tmp_path, upstream, monkeypatch):
    course = tmp_path / "gans-and-cnns"
    _git("clone", "--quiet", upstream.as_uri(), str(course))
    (course / "course_utils" / "__init__.py").unlink()
    (course / "course_utils" / "viz.py").unlink()
    (course / "notes.txt").write_text("a learner's file")
    out, pip_calls = run_cell(course, upstream, monkeypatch)
    assert f"Repaired {course}: restored 2 missing files from its git history" in out
    assert _complete(course) and (course / "notes.txt").is_file() and len(pip_calls) == 1


def test_broken_git_folder_is_recloned(tmp_path, upstream, monkeypatch):
    course = tmp_path / "gans-and-cnns"
    (course / ".git").mkdir(parents=True)  # a clone killed before it wrote anything useful
    (course / "course_utils").mkdir()
    out, pip_calls = run_cell(course, upstream, monkeypatch)
    assert "is empty or a broken clone: deleting it and cloning the course again" in out
    assert _complete(course) and len(pip_calls) == 1


def test_off_colab_the_cell_touches_nothing(tmp_path, monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: calls.append(a))
    exec(compile(CELL, "setup_cell", "exec"), {"__name__": "setup_cell"})
    assert calls == []
