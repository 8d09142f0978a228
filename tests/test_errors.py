"""errors.shows_error: an intended error is checked, printed (type, message, failing line) and does not stop a run."""

import pytest

from course_utils.errors import ExpectedErrorMissing, shows_error


def _uses_an_undefined_name():
    return undefined_name_for_the_test  # noqa: F821


def test_prints_type_message_and_the_failing_line(capsys):
    with shows_error(NameError, match="undefined_name_for_the_test"):
        _uses_an_undefined_name()
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "NameError: name 'undefined_name_for_the_test' is not defined"
    assert "in _uses_an_undefined_name" in out[1] and out[1].endswith("return undefined_name_for_the_test")
    assert "noqa" not in out[1]


def test_the_code_after_the_block_runs(capsys):
    ran = []
    with shows_error((KeyError, IndexError)):
        [][1]
    ran.append(True)
    assert ran == [True] and capsys.readouterr().out.startswith("IndexError: list index out of range")


def test_a_library_frame_is_not_reported_as_the_failing_line(capsys):
    import numpy as np
    with shows_error(ValueError, match="cannot reshape"):
        np.zeros(3).reshape(4)
    line = capsys.readouterr().out.splitlines()[1]
    assert line.endswith("np.zeros(3).reshape(4)"), line


def test_code_that_no_longer_fails_is_reported():
    with pytest.raises(ExpectedErrorMissing, match="expected this code to raise NameError"):
        with shows_error(NameError):
            pass


def test_another_message_is_reported():
    with pytest.raises(ExpectedErrorMissing, match="matching 'LeakyReLU'"):
        with shows_error(NameError, match="LeakyReLU"):
            _uses_an_undefined_name()


def test_another_error_type_is_not_caught():
    with pytest.raises(ZeroDivisionError):
        with shows_error(NameError):
            1 / 0  # noqa: B018


@pytest.mark.parametrize("bad", [None, "NameError", NameError("x"), (), (NameError, int), int])
def test_bad_expected_is_a_value_error(bad):
    with pytest.raises(ValueError, match="expected an exception class"):
        with shows_error(bad):
            pass


@pytest.mark.parametrize("bad", [3, "("])
def test_bad_match_is_a_value_error(bad):
    with pytest.raises(ValueError, match="expected match to be"):
        with shows_error(NameError, match=bad):
            pass


def test_keras_argument_listing_is_left_out(capsys):
    message = "Exception encountered when calling Sequential.call().\n\n\x1b[1mInput 0 is incompatible\x1b[0m\n\n" \
              "Arguments received by Sequential.call():\n  • inputs=tf.Tensor(shape=(4, 8, 8, 1))"
    with shows_error(ValueError):
        raise ValueError(message)
    first = capsys.readouterr().out.splitlines()[0]
    assert first == "ValueError: Exception encountered when calling Sequential.call(). Input 0 is incompatible"
