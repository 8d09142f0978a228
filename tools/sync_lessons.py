"""Normalise every lesson's .py source (run by `make sync`): the shared set-up cell from tools/setup_cell.py and
the jupytext header filter from jupytext.toml, so each .py equals `jupytext --to py:percent` of its notebook."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARKER = "# Set-up (the same in every lesson)"
FILTER_KEY = "#     notebook_metadata_filter: "
CELL = "\n# %%"


def with_setup_cell(text: str, setup: str, where: str) -> str:
    """Replace the set-up cell (from its marker comment to the next cell, or to the end) with ``setup``."""
    start = text.find(MARKER)
    if start < 0:
        raise SystemExit(f"{where}: no set-up cell found (it must start with {MARKER!r})")
    end = text.find(CELL, start)
    rest = text[end + 1:] if end >= 0 else ""  # the set-up cell may be the last cell: nothing follows it
    return text[:start] + setup + "\n" + ("\n" + rest if rest else "")


def main(root: Path = ROOT) -> None:
    setup = (root / "tools" / "setup_cell.py").read_text(encoding="utf-8").strip()
    with open(root / "jupytext.toml", "rb") as fh:
        config = tomllib.load(fh)
    wanted_filter = config.get("notebook_metadata_filter")
    if not isinstance(wanted_filter, str):
        raise SystemExit(f"{root / 'jupytext.toml'}: expected a notebook_metadata_filter string, got {wanted_filter!r}")
    for path in sorted((root / "notebooks").glob("[0-9][0-9]_*.py")):
        text = path.read_text(encoding="utf-8")
        new = with_setup_cell(text, setup, str(path))
        lines = new.split("\n")
        lines = [FILTER_KEY + wanted_filter if line.startswith(FILTER_KEY) else line for line in lines]
        lines = [line for line in lines if line != "#     formats: ipynb,py:percent"]
        new = "\n".join(lines)
        if new != text:
            path.write_text(new, encoding="utf-8")
            print(f"updated the set-up cell of {path.name}")


if __name__ == "__main__":
    main()
