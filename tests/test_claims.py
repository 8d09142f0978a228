"""The claims module: a committed result sentence fails the full profile when the run contradicts it."""

import numpy as np
import pytest

from course_utils.claims import ClaimError, claim, say


def test_say_prints_the_supported_sentence(capsys):
    assert say(np.float64(1.0) < 2.0, "lower", "higher") is True
    assert say(False, "lower", "higher") is False
    assert capsys.readouterr().out.splitlines() == ["lower", "higher"]


def test_claim_fails_in_full_profile(monkeypatch, capsys):
    monkeypatch.setenv("COURSE_PROFILE", "full")
    assert claim(True, "GAN beats L1", evidence="17.1 vs 16.8") is True
    assert "GAN beats L1 (17.1 vs 16.8)" in capsys.readouterr().out
    with pytest.raises(ClaimError, match="GAN beats L1"):
        claim(False, "GAN beats L1", evidence="16.8 vs 17.1")


def test_claim_only_notes_in_smoke_profile(monkeypatch, capsys):
    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    assert claim(False, "GAN beats L1") is False
    assert "smoke profile" in capsys.readouterr().out


@pytest.mark.parametrize("bad", [1, "yes", None, np.array([True, False])])
def test_bad_condition_is_a_value_error(bad):
    with pytest.raises(ValueError, match="expected condition to be a bool"):
        claim(bad, "x")
    with pytest.raises(ValueError, match="expected condition to be a bool"):
        say(bad, "x", "y")


def test_empty_sentence_is_a_value_error():
    with pytest.raises(ValueError, match="non-empty sentence"):
        claim(True, " ")
