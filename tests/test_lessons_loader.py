import os

import pytest

from course_utils import lessons

DEMO = ('# %% [markdown]\n# # Demo\n\n# %% tags=["export"]\ndef f(x):\n    return 2 * x\n\n'
        '# %%\nraise RuntimeError("not an export cell")\n\n# %% tags=["export"]\nY = f(21)\n')


def test_loader_runs_only_export_cells(tmp_path, monkeypatch):
    (tmp_path / "99_demo.py").write_text(DEMO)
    monkeypatch.setattr(lessons, "NOTEBOOKS", tmp_path)
    ns = lessons.load_lesson_code("99_demo")
    assert ns["Y"] == 42 and ns["f"](1) == 2


def test_loader_returns_a_module_that_also_reads_like_a_dict(tmp_path, monkeypatch):
    (tmp_path / "99_demo.py").write_text(DEMO)
    monkeypatch.setattr(lessons, "NOTEBOOKS", tmp_path)
    lesson = lessons.load_lesson_code("99_demo")
    assert isinstance(lesson, lessons.LessonModule) and lesson.Y == 42 and lesson.f(4) == 8
    assert lesson.f is lesson["f"] and "Y" in lesson and "Z" not in lesson and lesson.get("Z", 0) == 0
    assert sorted(lesson) == sorted(lesson.keys()) == ["Y", "f"] and len(lesson) == 2
    assert lesson.__name__ == "lesson_99_demo" and lesson.f.__module__ == "lesson_99_demo"
    with pytest.raises(KeyError, match=r"lesson_99_demo defines no 'Z'; it defines \['Y', 'f'\]"):
        lesson["Z"]
    lesson["Z"] = 3  # what monkeypatch.setitem does
    assert lesson.Z == 3 and "Z" in lesson
    del lesson["Z"]
    assert not hasattr(lesson, "Z")


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
