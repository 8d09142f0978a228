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


def test_train_minutes_follows_the_profile_and_the_learners_override(monkeypatch):
    monkeypatch.delenv("COURSE_TRAIN_MINUTES", raising=False)
    monkeypatch.setenv("COURSE_PROFILE", "full")
    assert profiles.train_minutes(full=3, smoke=0.1) == 3.0
    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    assert profiles.train_minutes(full=3, smoke=0.1) == 0.1
    monkeypatch.setenv("COURSE_TRAIN_MINUTES", " 7.5 ")
    assert profiles.train_minutes(full=3, smoke=0.1) == 7.5


@pytest.mark.parametrize("raw", ["0", "-1", "abc", "inf", "nan"])
def test_train_minutes_refuses_a_bad_override(monkeypatch, raw):
    monkeypatch.setenv("COURSE_TRAIN_MINUTES", raw)
    with pytest.raises(ValueError, match=f"COURSE_TRAIN_MINUTES must be a positive number of minutes, got '{raw}'"):
        profiles.train_minutes(full=3, smoke=0.1)


@pytest.mark.parametrize("kwargs", [{"full": 0, "smoke": 1}, {"full": 1, "smoke": True}, {"full": "3", "smoke": 1}])
def test_train_minutes_refuses_bad_defaults(kwargs):
    with pytest.raises(ValueError, match="must be a positive number of minutes"):
        profiles.train_minutes(**kwargs)
