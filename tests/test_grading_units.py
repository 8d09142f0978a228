"""The grader's parts that need no kernel: data-only calls, collecting a class, assembling a notebook."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from course_utils import rpc
from course_utils.checks import ExerciseError, forbid_calls

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import grading  # noqa: E402


def test_rpc_round_trip_keeps_types(tmp_path):
    value = [np.arange(6.0).reshape(2, 3), (1, 2.5, True, None, "x"), {"k": np.float32(3.0)}, {1, 2}]
    arrays: dict = {}
    doc = rpc.encode(value, arrays)
    rpc.save(tmp_path / "m.npz", {"v": doc}, arrays)
    back, arr = rpc.load(tmp_path / "m.npz")
    got = rpc.decode(back["v"], arr)
    np.testing.assert_array_equal(got[0], value[0])
    assert got[1] == (1, 2.5, True, None, "x") and isinstance(got[1][0], int)
    assert got[2]["k"] == np.float32(3.0) and got[2]["k"].dtype == np.float32
    assert got[3] == {1, 2}


def test_rpc_carries_numpy_float64_scalars(tmp_path):
    """np.float64 is a subclass of float: it must still cross as a NumPy scalar (np.mean returns one)."""
    value = (np.float64(1.5), np.mean(np.arange(4.0)), [np.float64(-0.25)])
    arrays: dict = {}
    doc = rpc.encode(value, arrays)
    rpc.save(tmp_path / "m.npz", {"v": doc}, arrays)
    back, arr = rpc.load(tmp_path / "m.npz")
    got = rpc.decode(back["v"], arr)
    assert got[0] == 1.5 and got[1] == 1.5 and got[2][0] == -0.25
    assert all(isinstance(v, np.float64) for v in (got[0], got[1], got[2][0]))


@pytest.mark.parametrize("bad", [object(), lambda: 1, np.array([object()], dtype=object), {1: "int key"}])
def test_rpc_refuses_what_is_not_data(bad):
    with pytest.raises(rpc.NotData):
        rpc.encode(bad, {})


def test_rpc_never_unpickles(tmp_path):
    np.save(tmp_path / "p.npy", np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    with open(tmp_path / "p.npz", "wb") as f:
        f.write((tmp_path / "p.npy").read_bytes())
    with pytest.raises(ValueError, match="expected a result written by course_utils.rpc.save"):
        rpc.load(tmp_path / "p.npz")
    (tmp_path / "big.npz").write_bytes(b"0" * 100)
    with pytest.raises(ValueError, match="at most 10 bytes"):
        rpc.load(tmp_path / "big.npz", max_bytes=10)


def test_serve_call_reports_errors_by_name(tmp_path):
    def stub(x):
        raise NotImplementedError()

    arrays: dict = {}
    rpc.save(tmp_path / "req.npz", {"args": rpc.encode([np.ones(2)], arrays), "kwargs": rpc.encode({}, arrays)}, arrays)
    for ns, kind in (({"f": stub}, "NotImplementedError"), ({}, "NameError"), ({"f": lambda x: object()}, "TypeError"),
                     ({"f": lambda x: x * 2}, None)):
        rpc.serve_call(ns, "f", str(tmp_path / "req.npz"), str(tmp_path / "res.npz"))
        doc, arr = rpc.load(tmp_path / "res.npz")
        assert doc.get("error") == kind
    np.testing.assert_array_equal(rpc.decode(doc["result"], arr), [2.0, 2.0])


def test_an_error_raised_on_purpose_reaches_the_check_as_the_same_builtin(tmp_path):
    """A check that expects ValueError for bad input (07's class_mean_direction) sees a ValueError from the kernel."""
    def refuses(x):
        raise ValueError("no sample of class 5")

    arrays: dict = {}
    rpc.save(tmp_path / "req.npz", {"args": rpc.encode([np.ones(2)], arrays), "kwargs": rpc.encode({}, arrays)}, arrays)
    rpc.serve_call({"f": refuses}, "f", str(tmp_path / "req.npz"), str(tmp_path / "res.npz"))
    err = grading.reply_error(rpc.load(tmp_path / "res.npz")[0])
    assert type(err) is ValueError and str(err) == "no sample of class 5"
    for name in ("SystemExit", "KeyboardInterrupt", "GeneratorExit", "os.system", "Exception"):
        err = grading.reply_error({"error": name, "message": "m"})
        assert type(err) not in (SystemExit, KeyboardInterrupt, GeneratorExit, Exception)
        assert isinstance(err, Exception) and not isinstance(err, ValueError)


def test_a_check_that_expects_a_refusal_passes_a_right_answer_through_the_grader(tmp_path):
    """Lesson 07's exercise 4 wants ValueError for a class with no sample: as data, through rpc, it still passes."""
    from course_utils.exercises import trends

    def direction(z, labels, source, target):
        z, labels = np.asarray(z, np.float64), np.asarray(labels)
        if not (labels == source).any() or not (labels == target).any():
            raise ValueError("no sample of that class")
        d = z[labels == target].mean(axis=0) - z[labels == source].mean(axis=0)
        return d / np.linalg.norm(d)

    def proxy(*args):
        arrays: dict = {}
        rpc.save(tmp_path / "q.npz", {"args": rpc.encode(list(args), arrays), "kwargs": rpc.encode({}, arrays)}, arrays)
        rpc.serve_call({"f": direction}, "f", str(tmp_path / "q.npz"), str(tmp_path / "r.npz"))
        reply, out = rpc.load(tmp_path / "r.npz")
        if "error" in reply:
            raise grading.reply_error(reply)
        return rpc.decode(reply["result"], out, tensors=False)

    assert trends.check_class_mean_direction(proxy) is True


def test_forbidden_names_come_from_the_submitted_source():
    class Remote:
        __course_names__ = {"np", "tf", "zeros"}

    with pytest.raises(ExerciseError, match="rather than calling tf"):
        forbid_calls(Remote(), {"tf": "no"}, what="x")
    forbid_calls(Remote(), {"conv2d_grad_input": "no"}, what="x")


def _nb(*cells):
    return {"cells": list(cells), "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def _code(src, gid=None, solution=False, grade=False):
    meta = {"nbgrader": {"grade_id": gid, "solution": solution, "grade": grade}} if gid else {}
    return {"cell_type": "code", "source": src, "metadata": meta, "outputs": [], "execution_count": None}


def test_assemble_takes_only_solution_cells_from_the_submission():
    source = _nb(_code("import numpy as np"), _code("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION",
                                                     "ex1-solution", solution=True),
                 _code("_ = ex.check_f(f)\n### BEGIN HIDDEN TESTS\n_ = ex.check_f(f, hidden=True)\n### END HIDDEN TESTS",
                       "ex1-check", grade=True))
    sub = _nb(_code("import os; os.system('rm -rf /')"), _code("def f():\n    return 2", "ex1-solution", solution=True),
              _code("print('Correct')", "ex1-check", solution=True), _code("x = 1", "ex9-solution", solution=True))
    nb, exercises, notes = grading.assemble(source, sub)
    sources = [c["source"] for c in nb["cells"]]
    assert sources == ["import numpy as np", "def f():\n    return 2"]
    assert [e.grade_id for e in exercises] == ["ex1-check"] and "hidden=True" in exercises[0].source
    assert any("ex1-check was marked as a solution" in n for n in notes)
    assert any("unknown ids ['ex9-solution']" in n for n in notes)
    nb, _, notes = grading.assemble(source, _nb())
    assert nb["cells"][1]["source"] == "def f():\n    raise NotImplementedError()"
    assert any("ex1-solution is missing" in n for n in notes)
    assert grading.check_calls(exercises[0].source) == [("check_f", [("fn", "f")], {}),
                                                        ("check_f", [("fn", "f")], {"hidden": ("const", True)})]


def test_solution_names_follow_helpers():
    nb = _nb(_code("import tensorflow as tf\ndef helper(x):\n    return tf.abs(x)\ndef f(x):\n    return helper(x)\n"
                   "def g(x):\n    return x", "ex1-solution", solution=True))
    names = grading.solution_names(nb)
    assert "tf" in names["f"] and "abs" in names["f"] and "tf" not in names["g"]


def test_collect_reports_what_it_does_not_grade(tmp_path):
    stems = {"02_x"}
    for rel in ("ann/02_x.ipynb", "bob/02_x/02_x.ipynb", "bob/backup/02_x.ipynb", "bob/02_x.py", "Lee Anna/02_x.ipynb",
                "cy/99_y.ipynb", "loose.ipynb"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("{}")
    found, notes = grading.collect(tmp_path, stems)
    assert sorted(found) == ["Lee Anna", "ann", "bob"]
    text = json.dumps(notes)
    for piece in ("backup/02_x.ipynb: only 02_x.ipynb", "a .py file is not graded", "not a lesson of this course",
                  "loose.ipynb: not in a student's folder", "characters other than letters"):
        assert piece in text, piece


@pytest.mark.parametrize("content, why", [(b"", "empty"), (b"{nope", "invalid JSON"), (b"[1]", "not a notebook")])
def test_unreadable_submissions_get_a_reason(tmp_path, content, why):
    (tmp_path / "n.ipynb").write_bytes(content)
    nb, reason = grading.read_submission(tmp_path / "n.ipynb")
    assert nb is None and why in reason


def test_lesson_05_is_judged_outside_the_kernel_through_its_harness(data_only_remote):
    """The 05 checks hand live objects only to the harness; the judge sees data, and grades right and wrong alike."""
    import keras
    import tensorflow as tf

    from course_utils.exercises import engineering

    def same_state(a, b):
        if len(a) != len(b):
            return False
        for x, y in zip(a, b):
            xs = x.weights if isinstance(x, keras.Model) else x.variables
            ys = y.weights if isinstance(y, keras.Model) else y.variables
            if len(xs) != len(ys) or not all(np.array_equal(u.numpy(), v.numpy()) for u, v in zip(xs, ys)):
                return False
        return True

    def trainable_only(a, b):
        return all(np.array_equal(u.numpy(), v.numpy()) for x, y in zip(a, b) if isinstance(x, keras.Model)
                   for u, v in zip(x.trainable_variables, y.trainable_variables))

    def scaled_gradients(loss_fn, variables, scale):
        with tf.GradientTape() as tape:
            scaled = loss_fn() * scale
        return [g / scale for g in tape.gradient(scaled, variables)]

    good = data_only_remote(same_state)
    assert engineering.check_same_state(good) is True
    assert good.harness_names == {"engineering.same_state"} and len(good.calls) == 6
    with pytest.raises(ExerciseError, match="moving mean"):
        engineering.check_same_state.__wrapped__(data_only_remote(trainable_only))
    assert engineering.check_scaled_gradients(data_only_remote(scaled_gradients)) is True

    def not_divided(loss_fn, variables, scale):
        with tf.GradientTape() as tape:
            scaled = loss_fn() * scale
        return tape.gradient(scaled, variables)

    with pytest.raises(ExerciseError, match="still multiplied by the scale"):
        engineering.check_scaled_gradients.__wrapped__(data_only_remote(not_divided))


def test_harnesses_hold_no_answers():
    """course_utils.harness stays in the sandbox: it must not reach the checks or define a reference."""
    import ast

    source = (ROOT / "course_utils" / "harness.py").read_text()
    tree = ast.parse(source)
    imported = {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | {
        a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not any("exercises" in m or "checks" in m for m in imported), imported
    names = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    assert not any(n.startswith(("reference", "_reference", "expected")) for n in names), names
    assert "05_gan_engineering" not in grading.IN_KERNEL_LESSONS and "04_dcgan" not in grading.IN_KERNEL_LESSONS
    assert not grading.IN_KERNEL_LESSONS, "every lesson's checks are judged in the grader"


def test_lesson_04_is_judged_outside_the_kernel_through_its_harnesses(data_only_remote):
    """Lesson 04's four checks on live objects: right answers pass through rpc, wrong ones are named, as data."""
    import tensorflow as tf

    from course_utils.exercises import dcgan
    from course_utils.lessons import load_lesson_code

    lesson = load_lesson_code("04_dcgan")
    for name, check in (("discriminator_step", dcgan.check_discriminator_step),
                        ("generator_step", dcgan.check_generator_step),
                        ("alternating_update", dcgan.check_alternating_update),
                        ("r1_penalty", dcgan.check_r1_penalty)):
        remote = data_only_remote(getattr(lesson, name))
        assert check(remote) is True, name
        assert remote.harness_names == {f"dcgan.{name}"}, remote.calls

    def swapped_labels(d, opt, real, fake):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.nn.softplus(d(real, training=True))) + tf.reduce_mean(
                tf.nn.softplus(-d(fake, training=True)))
        opt.apply_gradients(zip(tape.gradient(loss, d.trainable_variables), d.trainable_variables))
        return loss

    def no_training_flag(d, opt, real, fake):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.nn.softplus(-d(real))) + tf.reduce_mean(tf.nn.softplus(d(fake)))
        opt.apply_gradients(zip(tape.gradient(loss, d.trainable_variables), d.trainable_variables))
        return loss

    def r1_without_outer_path(d, real, gamma):
        with tf.GradientTape() as tape:
            tape.watch(real)
            logits = tf.reduce_sum(d(real, training=True))
        norms = tf.reduce_sum(tf.square(tape.gradient(logits, real)), axis=[1, 2, 3])
        return tf.constant(0.5 * gamma * float(tf.reduce_mean(norms)))

    for fn, check, message in ((swapped_labels, dcgan.check_discriminator_step, "labels are swapped"),
                               (no_training_flag, dcgan.check_discriminator_step, "no training argument"),
                               (r1_without_outer_path, dcgan.check_r1_penalty, "the value is right, but")):
        remote = data_only_remote(fn)
        with pytest.raises(ExerciseError, match=message):
            check.__wrapped__(remote)


def test_the_sandbox_gets_lessons_without_solutions_and_exercises_without_answers(tmp_path):
    """What a sandboxed kernel may read: lesson 04's code with its solutions cut, and stand-in exercise modules."""
    from course_utils.exercises import dcgan

    source = ROOT / "notebooks" / "04_dcgan.py"
    cut = grading.student_lesson_source(source, tmp_path / "lessons" / "04_dcgan.py").read_text()
    assert source.read_text().count(grading.SOLUTION_BEGIN) == cut.count("raise NotImplementedError()") == 5
    assert grading.SOLUTION_BEGIN not in cut and grading.HIDDEN_BEGIN not in cut
    parts = source.read_text().split(grading.SOLUTION_BEGIN)
    inside = [region.split(grading.SOLUTION_END)[0] for region in parts[1:]]
    elsewhere = {ln.strip() for text in [parts[0], *(r.split(grading.SOLUTION_END)[1] for r in parts[1:])]
                 for ln in text.splitlines()}
    own = {ln.strip() for region in inside for ln in region.splitlines() if len(ln.strip()) > 20} - elsewhere
    assert len(own) >= 10 and not [ln for ln in own if ln in cut]
    compile(cut, "04_dcgan.py", "exec")  # still Python: lesson 05 loads its export cells
    stub = grading.stub_exercises(tmp_path / "stub")
    text = (stub / "dcgan.py").read_text()
    for secret in ("_BUG_SYMPTOMS", "_BUG_LINES", "reference_", "hidden"):
        assert secret not in text
    namespace: dict = {}
    exec(compile(text, "dcgan.py", "exec"), namespace)
    assert namespace["TRAINING_LOOP_SOURCE"] == dcgan.TRAINING_LOOP_SOURCE
    with pytest.raises(AttributeError, match="not available"):
        namespace["__getattr__"]("reference_r1_penalty")
    with pytest.raises(ValueError, match="not closed"):
        (tmp_path / "open.py").write_text(f"def f():\n    {grading.SOLUTION_BEGIN}\n    return 1\n")
        grading.student_lesson_source(tmp_path / "open.py", tmp_path / "out.py")


@pytest.mark.parametrize("field", ["memory_mb", "processes", "file_mb"])
@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "300"])
def test_sandbox_limits_refuse_what_is_not_a_positive_int(field, bad):
    with pytest.raises(ValueError, match=rf"^{field} must be an int >= 1, got {bad!r}$"):
        grading.sandbox.Limits(**{field: bad})
    assert grading.sandbox.Limits(**{field: np.int64(7)}) == grading.sandbox.Limits(**{field: 7})


def test_reports_are_written_whole_with_the_same_bytes_as_the_csv_module(tmp_path, monkeypatch):
    """scores.csv, scores.md and the feedback go through course_utils.atomic (a crash leaves the old file or the new)."""
    import csv

    from course_utils import atomic

    written = []
    real = atomic.write_text
    monkeypatch.setattr(atomic, "write_text", lambda path, text, *a, **k: written.append(path) or real(path, text, *a, **k))
    sources = {"04_dcgan": {"cells": [{"metadata": {"nbgrader": {"grade": True, "grade_id": "ex1"}}}]}}
    results = [grading.JobResult("ana", "04_dcgan", [grading.Exercise("ex1", "", 1.0)]),
               grading.JobResult("bo, jr", "04_dcgan", [grading.Exercise("ex1", "", 0.0, "wrong sign")])]
    (tmp_path / "scores.csv").write_text("stale\n")
    csv_path, md_path = grading.write_reports(results, {}, sources, tmp_path, 1.0)
    with open(tmp_path / "expected.csv", "w", newline="", encoding="utf-8") as fh:  # what the csv module writes
        csv.writer(fh).writerows([["student", "04_dcgan:ex1", "total", "max"], ["ana", "1", "1", "1"],
                                  ["bo, jr", "0", "0", "1"]])
    assert csv_path.read_bytes() == (tmp_path / "expected.csv").read_bytes()
    assert "0/1: wrong sign" in md_path.read_text(encoding="utf-8")
    assert set(written) == {csv_path, md_path, *tmp_path.glob("feedback/*/04_dcgan.md")} and len(written) == 4
