"""Normalise every lesson's .py source (run by `make sync`): the shared set-up cell from tests/setup_cell.py and
the jupytext header filter from jupytext.toml, so each .py equals `jupytext --to py:percent` of its notebook."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARKER = "# Set-up (the same in every lesson)"
FILTER_KEY = "#     notebook_metadata_filter: "


def main() -> None:
    setup = (ROOT / "tests" / "setup_cell.py").read_text(encoding="utf-8").strip()
    toml = (ROOT / "jupytext.toml").read_text(encoding="utf-8")
    wanted_filter = toml.split('notebook_metadata_filter = "')[1].split('"')[0]
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py")):
        text = path.read_text(encoding="utf-8")
        start = text.find(MARKER)
        if start < 0:
            raise SystemExit(f"{path}: no set-up cell found (it must start with {MARKER!r})")
        end = text.find("\n# %%", start)
        new = text[:start] + setup + "\n\n" + text[end + 1:]
        lines = new.split("\n")
        lines = [FILTER_KEY + wanted_filter if line.startswith(FILTER_KEY) else line for line in lines]
        lines = [line for line in lines if line != "#     formats: ipynb,py:percent"]
        new = "\n".join(lines)
        if new != text:
            path.write_text(new, encoding="utf-8")
            print(f"updated the set-up cell of {path.name}")


if __name__ == "__main__":
    main()
