"""tools/sync_lessons.py: the set-up cell copied into every lesson, the header filter read from jupytext.toml."""

from __future__ import annotations

from pathlib import Path

from tests.scripts import load_script

ROOT = Path(__file__).resolve().parent.parent
sync = load_script(ROOT / "tools" / "sync_lessons.py")

HEADER = "# ---\n# jupyter:\n#   jupytext:\n#     notebook_metadata_filter: old\n# ---\n\n"
OLD_CELL = "# Set-up (the same in every lesson): old\nimport os\n"


def _repo(tmp_path: Path, lessons: dict[str, str], toml: str) -> Path:
    (tmp_path / "tools").mkdir()
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "tools" / "setup_cell.py").write_text("# Set-up (the same in every lesson): new\nimport sys\n")
    (tmp_path / "jupytext.toml").write_text(toml)
    for name, text in lessons.items():
        (tmp_path / "notebooks" / name).write_text(text)
    return tmp_path


def test_setup_cell_last_is_replaced_not_duplicated(tmp_path):
    root = _repo(tmp_path, {"01_last.py": HEADER + "# %% [markdown]\n# # T\n\n# %%\n" + OLD_CELL},
                 'notebook_metadata_filter = "kernelspec,jupytext"\n')
    sync.main(root)
    text = (root / "notebooks" / "01_last.py").read_text()
    assert text.count("# Set-up") == 1 and text.count("# # T") == 1 and text.endswith("import sys\n")
    assert "import os" not in text
    sync.main(root)  # idempotent
    assert (root / "notebooks" / "01_last.py").read_text() == text


def test_setup_cell_in_the_middle_keeps_what_follows(tmp_path):
    body = HEADER + "# %%\n" + OLD_CELL + "\n# %%\nx = 1\n"
    root = _repo(tmp_path, {"02_mid.py": body}, 'notebook_metadata_filter = "kernelspec,jupytext"\n')
    sync.main(root)
    text = (root / "notebooks" / "02_mid.py").read_text()
    assert text.endswith("# Set-up (the same in every lesson): new\nimport sys\n\n# %%\nx = 1\n")
    assert "#     notebook_metadata_filter: kernelspec,jupytext\n" in text


def test_filter_is_read_as_toml_whatever_its_quoting(tmp_path):
    toml = "# a comment with notebook_metadata_filter = \"decoy\"\nformats = 'ipynb,py:percent'\n" \
           "notebook_metadata_filter = 'kernelspec,-jupytext.formats'\n"
    root = _repo(tmp_path, {"03_q.py": HEADER + "# %%\n" + OLD_CELL}, toml)
    sync.main(root)
    assert "#     notebook_metadata_filter: kernelspec,-jupytext.formats\n" in (root / "notebooks" / "03_q.py").read_text()


def test_the_repository_lessons_are_already_synced(tmp_path):
    import shutil

    for part in ("tools/setup_cell.py", "jupytext.toml"):
        (tmp_path / part).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / part, tmp_path / part)
    (tmp_path / "notebooks").mkdir()
    for path in (ROOT / "notebooks").glob("[0-9][0-9]_*.py"):
        shutil.copy(path, tmp_path / "notebooks" / path.name)
    sync.main(tmp_path)
    for path in (ROOT / "notebooks").glob("[0-9][0-9]_*.py"):
        assert (tmp_path / "notebooks" / path.name).read_text() == path.read_text(), path.name
