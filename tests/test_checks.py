import numpy as np
import pytest

from course_utils.checks import ExerciseError, call_safely, check_close, passed


def test_check_close_accepts_and_rejects_with_details():
    check_close([1.0, 2.0], np.array([1.0, 2.0 + 1e-9]), what="f(x)")
    with pytest.raises(ExerciseError, match=r"f\(x\): expected shape \(2,\), got shape \(3,\)"):
        check_close([1, 2, 3], [1, 2], what="f(x)")
    with pytest.raises(ExerciseError, match=r"f\(x\): expected \[1. 2.\].*got \[1. 3.\].*largest difference 1"):
        check_close([1, 3], [1, 2], what="f(x)")
    with pytest.raises(ExerciseError, match="NaN or infinity.*numerically stable"):
        check_close([np.inf], [1.0], what="loss")
    with pytest.raises(ExerciseError, match="expected a number or array, got str"):
        check_close("abc", [1.0], what="loss")


def test_call_safely_names_the_input():
    def broken(x):
        raise KeyError("oops")

    with pytest.raises(ExerciseError, match="on x=3 raised KeyError"):
        call_safely(broken, 3, what="on x=3")
    with pytest.raises(ExerciseError, match="expected a function, got int"):
        call_safely(5, what="x")
    assert call_safely(lambda x: x + 1, 1, what="x") == 2


def test_passed_prints(capsys):
    assert passed("ex 1")
    assert "ex 1" in capsys.readouterr().out
