import os

import pytest

from course_utils import lessons

DEMO = ('# %% [markdown]\n# # Demo\n\n# %% tags=["export"]\ndef f(x):\n    return 2 * x\n\n'
        '# %%\nraise RuntimeError("not an export cell")\n\n# %% tags=["export"]\nY = f(21)\n')


def test_loader_runs_only_export_cells(tmp_path, monkeypatch):
    (tmp_path / "99_demo.py").write_text(DEMO)
    monkeypatch.setattr(lessons, "NOTEBOOKS", tmp_path)
    ns = lessons.load_lesson_code("99_demo")
    assert ns.Y == 42 and ns.f(1) == 2


def test_loader_returns_a_module_read_by_attribute_only(tmp_path, monkeypatch):
    (tmp_path / "99_demo.py").write_text(DEMO)
    monkeypatch.setattr(lessons, "NOTEBOOKS", tmp_path)
    lesson = lessons.load_lesson_code("99_demo")
    assert isinstance(lesson, lessons.LessonModule) and lesson.Y == 42 and lesson.f(4) == 8
    assert lesson.__name__ == "lesson_99_demo" and lesson.f.__module__ == "lesson_99_demo"
    with pytest.raises(AttributeError, match=r"lesson_99_demo defines no 'Z'; it defines \['Y', 'f'\]"):
        _ = lesson.Z
    assert getattr(lesson, "Z", 0) == 0 and not hasattr(lesson, "Z")
    with pytest.raises(TypeError):
        lesson["Y"]  # no dict layer: a name is an attribute
    with pytest.raises(TypeError):
        _ = "Y" in lesson


def test_loader_errors(tmp_path, monkeypatch):
    monkeypatch.setattr(lessons, "NOTEBOOKS", tmp_path)
    with pytest.raises(ValueError, match="no lesson source at"):
        lessons.load_lesson_code("00_nope")
    (tmp_path / "98_x.py").write_text("# %%\nx = 1\n")
    with pytest.raises(ValueError, match="has no code cell tagged 'export'"):
        lessons.load_lesson_code("98_x")


@pytest.mark.parametrize("stem", ["../../x", "../notebooks/00_start_here", "/etc/passwd", "00_start_here.py",
                                  "sub/99_demo", "nope", "", 7])
def test_loader_is_confined_to_the_notebooks_folder(tmp_path, monkeypatch, stem):
    notebooks = tmp_path / "repo" / "notebooks"
    notebooks.mkdir(parents=True)
    (notebooks / "sub").mkdir()
    (notebooks / "sub" / "99_demo.py").write_text(DEMO)
    (tmp_path / "x.py").write_text(DEMO.replace("Y = f(21)", "open('ran', 'w').write('yes')"))
    monkeypatch.setattr(lessons, "NOTEBOOKS", notebooks)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=r"expected a lesson name like '02_convolution_and_pooling'.*got "):
        lessons.load_lesson_code(stem)
    assert not (tmp_path / "ran").exists()


def test_loader_refuses_a_link_that_leads_outside(tmp_path, monkeypatch):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    (tmp_path / "evil.py").write_text(DEMO)
    os.symlink(tmp_path / "evil.py", notebooks / "97_link.py")
    monkeypatch.setattr(lessons, "NOTEBOOKS", notebooks)
    with pytest.raises(ValueError, match=r"97_link.py leads outside .*only lessons in notebooks/ are loaded"):
        lessons.load_lesson_code("97_link")


def test_a_cell_can_define_a_frozen_recipe_dataclass(tmp_path, monkeypatch):
    """The cells compile as in a notebook: this file's ``from __future__ import annotations`` must not leak into
    them (string annotations make ``dataclasses`` look the class's module up in ``sys.modules``, where a loaded
    lesson is not)."""
    (tmp_path / "99_recipe.py").write_text(
        '# %% tags=["export"]\nimport dataclasses\n\n\n@dataclasses.dataclass(frozen=True)\nclass Recipe:\n'
        '    width: int = 32\n\n\nRECIPE = Recipe()\n')
    monkeypatch.setattr(lessons, "NOTEBOOKS", tmp_path)
    lesson = lessons.load_lesson_code("99_recipe")
    import dataclasses

    assert dataclasses.replace(lesson.RECIPE, width=8).width == 8 and lesson.RECIPE.width == 32
    assert lesson.Recipe.__annotations__ == {"width": int}
