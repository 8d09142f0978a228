"""The checks of lesson 07's exercises: the lesson's solutions and the references pass; wrong answers fail with the
named mistake; nbgrader's stub is reported as not attempted."""

from __future__ import annotations

import numpy as np
import pytest

from course_utils.checks import ExerciseError
from course_utils.exercises import trends as ex
from course_utils.lessons import load_lesson_code


@pytest.fixture(scope="module")
def lesson():
    return load_lesson_code("07_trends_and_challenges")


def _stub(*_args, **_kwargs):
    raise NotImplementedError()


# --- the lesson's solutions and the references --------------------------------------------------------

def test_the_lesson_solutions_pass(lesson):
    assert ex.check_cutout(lesson.cutout_np) is True
    assert ex.check_q_sample(lesson.q_sample_np) is True
    assert ex.check_class_mean_direction(lesson.class_mean_direction) is True


def test_the_references_pass():
    assert ex.check_cutout(ex.reference_cutout) is True
    assert ex.check_q_sample(ex.reference_q_sample) is True

    def direction(z, labels, source, target):
        labels = np.asarray(labels)
        if not (np.any(labels == source) and np.any(labels == target)):
            raise ValueError("a class without samples")
        return ex.reference_class_mean_direction(z, labels, source, target)

    assert ex.check_class_mean_direction(direction) is True


def test_stubs_are_not_attempted(capsys):
    assert ex.check_cutout(_stub) is False
    assert ex.check_q_sample(_stub) is False
    assert ex.check_class_mean_direction(_stub) is False
    err = capsys.readouterr().err
    assert "Exercise 1: not attempted yet" in err and "Exercise 3: not attempted yet" in err


# --- exercise 1: cutout -----------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, match", [
    ({"swap": True}, "rows and columns are swapped"),
    ({"clip": False}, "negative start in NumPy slicing"),
    ({"fill": -1.0}, "filled with -1"),
    ({"centred_odd": True}, r"centre - \(size - 1\) // 2"),
])
def test_cutout_mistakes_are_named(kwargs, match):
    with pytest.raises(ExerciseError, match=match):
        ex.check_cutout(lambda images, centers, size: ex.reference_cutout(images, centers, size, **kwargs))


def test_cutout_trivial_answers_fail():
    with pytest.raises(ExerciseError, match="unchanged"):
        ex.check_cutout(lambda images, centers, size: np.array(images, copy=True))
    with pytest.raises(ExerciseError):
        ex.check_cutout(lambda images, centers, size: np.zeros_like(images))


def test_cutout_must_not_change_its_input():
    def in_place(images, centers, size):
        out = ex.reference_cutout(images, centers, size)
        images[...] = out
        return images

    with pytest.raises(ExerciseError, match="input images were changed"):
        ex.check_cutout(in_place)


def test_cutout_may_not_call_the_lessons_answer(lesson):
    namespace = {"cutout": lesson.cutout, "np": np}
    exec("def cutout_np(images, centers, size):\n    return np.asarray(cutout(images[..., None] if images.ndim == 3 "
         "else images, centers, size))", namespace)
    with pytest.raises(ExerciseError, match="rather than calling cutout"):
        ex.check_cutout(namespace["cutout_np"])


# --- exercise 2: q(x_t | x_0) -------------------------------------------------------------------------------

@pytest.mark.parametrize("kind, match", [
    ("beta_t", "not cumulative"),
    ("no_sqrt", "square roots are missing"),
    ("cumprod_betas", "cumulative product of the betas"),
    ("one_early", "one step early"),
])
def test_q_sample_mistakes_are_named(kind, match):
    with pytest.raises(ExerciseError, match=match):
        ex.check_q_sample(lambda x0, t, noise, betas: ex._q_variant(x0, t, noise, betas, kind))


def test_q_sample_trivial_answers_fail():
    with pytest.raises(ExerciseError):
        ex.check_q_sample(lambda x0, t, noise, betas: x0)
    with pytest.raises(ExerciseError):
        ex.check_q_sample(lambda x0, t, noise, betas: noise)
    with pytest.raises(ExerciseError, match="returned None"):
        ex.check_q_sample(lambda x0, t, noise, betas: None)


def test_reference_q_sample_is_the_composed_one_step_process():
    """Composing q(x_t | x_{t-1}) by hand, with the noise of each step, has the closed form's mean and variance."""
    betas = np.linspace(0.01, 0.2, 8)
    rng = np.random.default_rng(0)
    x = np.ones((50_000, 1))
    for b in betas:
        x = np.sqrt(1 - b) * x + np.sqrt(b) * rng.standard_normal(x.shape)
    closed = ex.reference_q_sample(np.ones((50_000, 1)), np.full(50_000, 7), rng.standard_normal((50_000, 1)), betas)
    assert abs(x.mean() - closed.mean()) < 0.01 and abs(x.var() - closed.var()) < 0.01


# --- exercise 3: a class-mean direction -------------------------------------------------------------------

def _unit(v):
    return v / np.linalg.norm(v)


@pytest.mark.parametrize("wrong, match", [
    (lambda z, y, a, b: _unit(z[y == a].mean(0) - z[y == b].mean(0)), "wrong way"),
    (lambda z, y, a, b: z[y == b].mean(0) - z[y == a].mean(0), "not a unit vector"),
    (lambda z, y, a, b: _unit(z[y == b].mean(0) - z.mean(0)), "overall mean"),
])
def test_direction_mistakes_are_named(wrong, match):
    def fn(z, labels, source, target):
        return wrong(np.asarray(z), np.asarray(labels), source, target)

    with pytest.raises(ExerciseError, match=match):
        ex.check_class_mean_direction(fn)


def test_direction_must_refuse_a_missing_class():
    def no_check(z, labels, source, target):
        return ex.reference_class_mean_direction(z, labels, source, target)

    with pytest.raises(ExerciseError, match="raise ValueError"):
        ex.check_class_mean_direction(no_check)


def test_direction_trivial_answers_fail():
    with pytest.raises(ExerciseError):
        ex.check_class_mean_direction(lambda z, labels, source, target: np.zeros(np.shape(z)[1]))
    with pytest.raises(ExerciseError):
        ex.check_class_mean_direction(lambda z, labels, source, target: _unit(np.ones(np.shape(z)[1])))
