import pytest

from course_utils import profiles


@pytest.mark.parametrize("value, expected", [("", "full"), ("full", "full"), ("smoke", "smoke"), (" SMOKE ", "smoke")])
def test_profile_values(monkeypatch, value, expected):
    monkeypatch.setenv("COURSE_PROFILE", value)
    assert profiles.get_profile() == expected
    assert profiles.pick(full="F", smoke="S") == ("S" if expected == "smoke" else "F")


def test_default_profile_is_full(monkeypatch):
    monkeypatch.delenv("COURSE_PROFILE", raising=False)
    assert profiles.get_profile() == "full"
    assert not profiles.is_smoke()


def test_bad_profile_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "fast")
    with pytest.raises(ValueError, match=r"COURSE_PROFILE must be one of \('smoke', 'full'\), got 'fast'"):
        profiles.get_profile()
