import pytest

from course_utils import lessons


def test_loader_runs_only_export_cells(tmp_path, monkeypatch):
    (tmp_path / "99_demo.py").write_text(
        '# %% [markdown]\n# # Demo\n\n# %% tags=["export"]\ndef f(x):\n    return 2 * x\n\n'
        '# %%\nraise RuntimeError("not an export cell")\n\n# %% tags=["export"]\nY = f(21)\n'
    )
    monkeypatch.setattr(lessons, "NOTEBOOKS", tmp_path)
    ns = lessons.load_lesson_code("99_demo")
    assert ns["Y"] == 42 and ns["f"](1) == 2


def test_loader_errors(tmp_path, monkeypatch):
    monkeypatch.setattr(lessons, "NOTEBOOKS", tmp_path)
    with pytest.raises(ValueError, match="no lesson source at"):
        lessons.load_lesson_code("nope")
    (tmp_path / "98_x.py").write_text("# %%\nx = 1\n")
    with pytest.raises(ValueError, match="has no code cell tagged 'export'"):
        lessons.load_lesson_code("98_x")
