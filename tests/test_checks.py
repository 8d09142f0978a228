import numpy as np
import pytest

from course_utils.checks import (
    ExerciseError,
    as_scalar,
    call_safely,
    check_close,
    exercise,
    forbid_calls,
    name_mistake,
    passed,
    softplus,
)


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


def test_a_function_returning_none_is_told_so():
    with pytest.raises(ExerciseError, match="f\\(1\\): you returned None. Did you forget the `return` statement"):
        call_safely(lambda x: None, 1, what="f(1)")
    assert call_safely(lambda x: None, 1, what="f(1)", returns=False) is None
    with pytest.raises(ExerciseError, match="loss: you returned None"):
        check_close(None, 1.0, what="loss")
    with pytest.raises(ExerciseError, match="loss: you returned None"):
        as_scalar(None, "loss")


def test_as_scalar_reads_one_number_and_names_what_came():
    assert as_scalar(np.float32(2.5), "x") == 2.5
    assert as_scalar(np.array([[3.0]]), "x") == 3.0
    assert np.isinf(as_scalar(float("inf"), "x"))
    with pytest.raises(ExerciseError, match=r"x: expected the loss, got a tuple of 2 items"):
        as_scalar((1.0, 2.0), "x", meaning="the loss")
    with pytest.raises(ExerciseError, match=r"x: expected one number, got an array of shape \(3,\)"):
        as_scalar(np.zeros(3), "x")
    with pytest.raises(ExerciseError, match="x: expected one number, got str"):
        as_scalar("1.0x", "x")


def test_softplus_is_stable_and_exact():
    x = np.array([-1000.0, -1.0, 0.0, 2.0, 1000.0])
    got = softplus(x)
    assert np.all(np.isfinite(got))
    assert np.allclose(got[1:4], np.log1p(np.exp(x[1:4])))
    assert got[0] == 0.0 and got[-1] == 1000.0


def test_name_mistake_needs_every_case_to_match():
    expected = [1.0, 2.0, 3.0]
    mistakes = {"doubled": [2.0, 4.0, 6.0], "harmless here": [1.0, 2.0, 3.0], "off by one": [2.0, 3.0, 4.0]}
    assert name_mistake([2.0, 4.0, 6.0], mistakes, expected) == "doubled"
    assert name_mistake([2.0, 3.0, 4.0], mistakes, expected) == "off by one"
    assert name_mistake([2.0, 4.0, 7.0], mistakes, expected) is None      # one case unexplained: no name
    assert name_mistake([1.0, 2.0, 3.0], {"harmless here": [1.0, 2.0, 3.0]}, expected) is None
    assert name_mistake([np.ones(2), None], {"ones": [np.ones(2), np.ones(2)]}, [np.zeros(2), np.zeros(2)]) is None
    with pytest.raises(ValueError, match=r"expected one right answer per case \(3\), got 2"):
        name_mistake([1, 2, 3], {}, [1, 2])
    with pytest.raises(ValueError, match=r"expected one answer per case \(3\) for the mistake 'short', got 1"):
        name_mistake([1, 2, 3], {"short": [1]}, [1, 2, 3])


def test_an_exercise_left_as_the_stub_is_reported_not_raised(capsys):
    @exercise(3, "my_fn")
    def check(fn):
        call_safely(fn, 1, what="my_fn(1)")
        return passed("my_fn")

    def stub(x):
        # YOUR CODE HERE
        raise NotImplementedError()

    assert check(stub) is False
    captured = capsys.readouterr()
    assert captured.err.startswith("Exercise 3: not attempted yet") and "Correct" not in captured.out
    assert check(lambda x: x) is True
    with pytest.raises(ExerciseError, match="raised ZeroDivisionError"):
        check(lambda x: x / 0)
    assert check.exercise_number == 3 and check.__name__ == "check"
    with pytest.raises(ValueError, match="must be an exercise number \\(an int >= 1\\), got 0"):
        exercise(0, "f")
    with pytest.raises(ValueError, match="expected the name of what the learner writes.*got ''"):
        exercise(1, "")


def test_warnings_from_the_learners_code_go_to_stdout_not_stderr(capsys):
    import warnings

    def noisy(x):
        warnings.warn("careful", UserWarning, stacklevel=1)
        return x

    assert call_safely(noisy, 2, what="noisy(2)") == 2
    captured = capsys.readouterr()
    assert "noisy(2) warned UserWarning: careful" in captured.out and captured.err == ""


def helper_that_cheats(x):
    return forbidden_name(x)  # noqa: F821


def test_forbid_calls_sees_through_helpers_and_nested_functions():
    names = {"forbidden_name": "the lesson already wrote it"}

    def direct(x):
        return forbidden_name(x)  # noqa: F821

    def indirect(x):
        return helper_that_cheats(x)

    def nested(x):
        return (lambda: forbidden_name(x))()  # noqa: F821

    for fn in (direct, indirect, nested):
        with pytest.raises(ExerciseError, match="write it yourself rather than calling forbidden_name: the lesson"):
            forbid_calls(fn, names, what="ex")
    forbid_calls(lambda x: np.sum(x), names, what="ex")


def test_tolerance_for_follows_the_lowest_precision():
    import tensorflow as tf

    from course_utils.checks import tolerance_for

    assert tolerance_for(np.zeros(3), 1.0, np.arange(3)) == (1e-6, 1e-9)
    assert tolerance_for(np.zeros(3), np.zeros(3, np.float32)) == (1e-4, 1e-5)
    assert tolerance_for(tf.zeros(3)) == (1e-4, 1e-5)
    assert tolerance_for(np.float32(1.0), rtol=1e-3) == (1e-3, 1e-5)
    assert tolerance_for(np.zeros(3, np.float16)) == (1e-2, 1e-2)
    assert tolerance_for(tf.zeros(3, tf.bfloat16)) == (1e-2, 1e-2)
