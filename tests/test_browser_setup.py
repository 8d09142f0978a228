"""The browser test's plumbing: CI runs it after `make test`, its dependency stays out of the learners' lock."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ci_runs_the_browser_test_after_make_test_and_installs_chromium_as_root():
    script = (ROOT / ".ci" / "run").read_text()
    assert "set -euo pipefail" in script
    lines = [line.strip() for line in script.splitlines()]
    assert lines.index("make test") < lines.index("apt-get install -y -q chromium") < lines.index("make test-browser")
    assert "apt-get update" in script and 'id -u' in script
    subprocess.run(["bash", "-n", str(ROOT / ".ci" / "run")], check=True)


def test_playwright_is_pinned_for_the_browser_test_only():
    browser_lock = (ROOT / "requirements-browser-lock.txt").read_text()
    assert re.search(r"^playwright==\d+\.\d+\.\d+$", browser_lock, re.MULTILINE)
    assert "playwright" not in (ROOT / "requirements-lock.txt").read_text().lower()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert not any(dep.lower().startswith("playwright") for dep in project["project"]["dependencies"])


def test_make_test_does_not_collect_the_browser_test():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "tests_browser" not in project["tool"]["pytest"]["ini_options"]["testpaths"]
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^test-browser: \$\(BROWSER_STAMP\)$", makefile, re.MULTILINE)
    assert "requirements-browser-lock.txt" in makefile
