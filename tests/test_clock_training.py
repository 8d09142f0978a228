"""course_utils.clock_training: the harness the tools and benchmarks train with (clock, schedule, best weights,
curve, record), driven by a fake clock and a fake train step so that every figure is known exactly."""

from __future__ import annotations

import json
import math
import os
import time

import numpy as np
import pytest

from course_utils import clock_training as ct


class FakeClock:
    """A clock that moves only when told to: a step costs what the test says, evaluation costs what it says."""

    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class FakeModel:
    """get_weights/set_weights of one array, so that the kept weights say at which step they were taken."""

    def __init__(self):
        self.w = np.zeros(1)

    def get_weights(self):
        return [self.w.copy()]

    def set_weights(self, weights):
        self.w = weights[0].copy()


def make_step(clock: FakeClock, cost: float = 0.3, model: FakeModel | None = None, losses=None):
    """A train step that takes `cost` seconds on the clock, counts its calls in the model's weight, and returns
    the next of `losses` as d_loss (0.5 when not given)."""
    losses = iter(losses) if losses is not None else None

    def step(batch):
        clock.now += cost
        if model is not None:
            model.w = model.w + 1
        return {"d_loss": next(losses) if losses is not None else 0.5, "g_loss": np.float32(1.25)}
    return step


def batches():
    while True:
        yield None


def slow_score(clock: FakeClock, seconds: float = 100.0, **extra):
    """A score that takes `seconds` on the clock (it must not count as training) and records where it stood."""
    def score(run):
        clock.now += seconds
        return {**run.stamp(4), **extra}
    return score


def test_every_seconds_evaluates_on_schedule_and_at_the_end_with_the_clock_stopped():
    clock = FakeClock()
    run = ct.ClockRun(make_step(clock, 0.3), batches(), clock=clock)
    curve = ct.train(run, ct.EverySeconds(1.0, 2.5), slow_score(clock))
    # due at 1.0 (first reached after 4 steps, 1.2 s), 2.0 (7 steps, 2.1 s) and the budget 2.5 (9 steps, 2.7 s)
    assert [p["step"] for p in curve] == [4, 7, 9]
    assert [p["time_s"] for p in curve] == pytest.approx([1.2, 2.1, 2.7])
    assert run.steps == 9 and run.seconds == pytest.approx(2.7)  # 300 s of evaluation are not training time
    assert run.eval_seconds > 0 and run.first_step_s == pytest.approx(0.3)
    again = ct.ClockRun(make_step(clock, 0.3), batches(), clock=clock)  # the budget is on the schedule itself
    assert [p["step"] for p in ct.train(again, ct.EverySeconds(1.0, 2.5), slow_score(clock), final=False)] == [4, 7, 9]


def test_every_seconds_keeps_its_grid_when_a_step_overruns():
    """The next evaluation is due `every` after the previous one was due, not after it happened."""
    clock = FakeClock()
    costs = iter([0.9, 0.9, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3])

    def step(batch):
        clock.now += next(costs)
        return {"d_loss": 0.0}
    run = ct.ClockRun(step, batches(), clock=clock)
    curve = ct.train(run, ct.EverySeconds(1.0, 3.0), slow_score(clock))
    # 0.9, 1.8 (due 1.0), 2.1 (due 2.0), 2.4, 2.7, 3.0 (budget): 1.8 -> next due 2.0, not 2.8
    assert [p["step"] for p in curve] == [2, 3, 6]


def test_every_steps_evaluates_every_n_steps_and_the_warm_up_is_not_a_step():
    clock = FakeClock()
    run = ct.ClockRun(make_step(clock, 0.5), batches(), clock=clock)
    took = run.warm_up("first batch")
    assert took == pytest.approx(0.5) and run.steps == 0 and run.seconds == 0.0 and run.last == {}
    curve = ct.train(run, ct.EverySteps(2, 6), slow_score(clock))
    assert [p["step"] for p in curve] == [2, 4, 6]
    assert [p["time_s"] for p in curve] == pytest.approx([1.0, 2.0, 3.0])
    assert run.last == {"d_loss": 0.5, "g_loss": 1.25}  # floats, read back from the last step


def test_a_warm_up_can_count_be_timed_and_be_undone():
    clock = FakeClock()
    run = ct.ClockRun(make_step(clock, 2.0), batches(), clock=clock)
    run.warm_up(count=True, timed=True)
    assert run.steps == 1 and run.seconds == 2.0 and run.last["d_loss"] == 0.5

    class Var:
        def __init__(self, value):
            self.value = np.array(value)

        def numpy(self):
            return self.value.copy()

        def assign(self, value):
            self.value = np.array(value)
    var, model = Var([1.0, 2.0]), FakeModel()

    def step(batch):
        var.value = var.value * 10
        model.w = model.w + 1
        return {"d_loss": 0.0}
    undone = ct.ClockRun(step, batches(), clock=clock)
    undone.warm_up("batch", restore=[var])
    assert var.value.tolist() == [1.0, 2.0] and undone.steps == 0, "the warm-up's step must teach nothing"


def test_best_weights_keep_the_lowest_accepted_score_and_restore_them():
    clock, model = FakeClock(), FakeModel()
    fids = iter([50.0, 20.0, 5.0, 30.0, 25.0, float("nan")])
    coverage = iter([10, 10, 9, 10, 10, 10])  # the FID of 5 comes with 9 classes only: not eligible

    def score(run):
        return {**run.stamp(), "fid": next(fids), "coverage": next(coverage)}
    run = ct.ClockRun(make_step(clock, 1.0, model), batches(), clock=clock)
    best = ct.BestWeights(model, accept=lambda p: p["coverage"] == 10)
    ct.train(run, ct.EverySteps(1, 6), score, best=best)
    assert model.w.tolist() == [6.0]
    point = best.restore()
    assert point["step"] == 2 and point["fid"] == 20.0
    assert model.w.tolist() == [2.0], "the model must hold the weights of the best evaluation, not the last"


def test_best_weights_without_an_accepted_point_leave_the_model_as_it_is():
    model = FakeModel()
    model.w = np.array([7.0])
    best = ct.BestWeights(model)
    assert not best.offer({"fid": float("nan"), "step": 1})
    assert best.restore() is None and model.w.tolist() == [7.0]
    assert best.offer({"fid": 3.0, "step": 2}) and not best.offer({"fid": 3.0, "step": 3})  # a tie keeps the first


def test_a_non_finite_loss_stops_the_run_and_the_last_step_is_scored():
    clock = FakeClock()
    run = ct.ClockRun(make_step(clock, 1.0, losses=[0.1, 0.2, math.nan, 0.4]), batches(), clock=clock,
                      stop_on_nonfinite=True, label="test")
    curve = ct.train(run, ct.EverySteps(2, 8), slow_score(clock))
    assert run.diverged and run.steps == 3
    assert [p["step"] for p in curve] == [2, 3]


def test_the_final_evaluation_covers_a_budget_spent_before_the_first_due_time():
    clock = FakeClock()
    run = ct.ClockRun(make_step(clock, 5.0), batches(), clock=clock)
    run.warm_up(count=True, timed=True)  # 5 s: already past the 2 s budget
    curve = ct.train(run, ct.EverySeconds(1.0, 2.0), slow_score(clock))
    assert run.steps == 1 and [p["step"] for p in curve] == [1]
    assert ct.train(run, ct.EverySeconds(1.0, 2.0), slow_score(clock), final=True) == curve  # no second point


def test_train_until_stops_at_the_first_step_past_the_target():
    clock = FakeClock()
    run = ct.ClockRun(make_step(clock, 0.4), batches(), clock=clock)
    run.train_until(1.0)
    assert run.steps == 3 and run.seconds == pytest.approx(1.2)
    run.train_until(1.0)  # already there: no step
    assert run.steps == 3
    run.train_until(steps=5)
    assert run.steps == 5
    with pytest.raises(ValueError, match="seconds or steps"):
        run.train_until(1.0, steps=2)
    with pytest.raises(ValueError, match="seconds or steps"):
        run.train_until()


def test_before_step_runs_outside_the_clock():
    clock, seen = FakeClock(), []

    def before(run):
        seen.append(run.seconds)
        clock.now += 50.0  # e.g. a learning-rate change: not training time
    run = ct.ClockRun(make_step(clock, 1.0), batches(), clock=clock, before_step=before)
    run.train_until(steps=3)
    assert seen == [0.0, 1.0, 2.0] and run.seconds == 3.0


def test_clocks_and_bad_arguments():
    assert ct.ClockRun(lambda b: {"d_loss": 0.0}, batches(), clock="cpu").clock is time.process_time
    assert ct.ClockRun(lambda b: {"d_loss": 0.0}, batches()).clock is time.perf_counter
    with pytest.raises(ValueError, match=r"clock must be one of \['cpu', 'wall'\].*got 'gpu'"):
        ct.ClockRun(lambda b: {}, batches(), clock="gpu")
    with pytest.raises(ValueError, match="step must be a callable"):
        ct.ClockRun(None, batches())
    with pytest.raises(ValueError, match="every must be a positive finite number, got 0"):
        ct.EverySeconds(0, 10)
    with pytest.raises(ValueError, match="budget must be a positive finite number, got nan"):
        ct.EverySeconds(1, float("nan"))
    with pytest.raises(ValueError, match=r"total must be a multiple of every \(2\), got 5"):
        ct.EverySteps(2, 5)
    with pytest.raises(ValueError, match="total must be an int >= 3, got 2"):
        ct.EverySteps(3, 2)
    with pytest.raises(ValueError, match="every must be an int >= 1, got True"):
        ct.EverySteps(True, 2)


def test_shuffled_batches_visit_every_row_once_per_epoch_in_a_seeded_order():
    x = np.arange(10, dtype=np.float32).reshape(10, 1)
    a, b = ct.ShuffledBatches(x, 3, seed=1), ct.ShuffledBatches(x, 3, seed=1)
    first = [next(a).numpy().ravel().tolist() for _ in range(3)]  # one epoch: 9 rows, the 10th dropped
    assert len({v for batch in first for v in batch}) == 9 and a.epochs == 1
    assert [next(b).numpy().ravel().tolist() for _ in range(3)] == first  # same seed, same order
    next(a)
    assert a.epochs == 2  # a fresh permutation once fewer than a batch is left
    assert ct.ShuffledBatches(x, 3, seed=1).peek().numpy().ravel().tolist() == [0.0, 1.0, 2.0]
    other = ct.ShuffledBatches(x, 3, seed=2)
    assert [next(other).numpy().ravel().tolist() for _ in range(3)] != first
    with pytest.raises(ValueError, match=r"batch_size must be in 1..10, got 11"):
        ct.ShuffledBatches(x, 11, seed=0)
    with pytest.raises(ValueError, match="batch_size must be an int >= 1, got 0"):
        ct.ShuffledBatches(x, 0, seed=0)


def test_the_record_is_strict_json_written_atomically(tmp_path, monkeypatch):
    path = tmp_path / "record.json"
    record = {"fid": float("nan"), "best": np.float32(2.5), "steps": np.int64(3), "ok": np.bool_(True),
              "shape": (1, 2), "inf": [float("inf")], "nested": {1: "a"}}
    assert ct.write_record(path, record) == path

    def no_nan(token):
        raise AssertionError(f"not strict JSON: {token}")
    assert json.loads(path.read_text(), parse_constant=no_nan) == {
        "fid": None, "best": 2.5, "steps": 3, "ok": True, "shape": [1, 2], "inf": [None], "nested": {"1": "a"}}
    assert path.read_text().endswith("}\n")
    assert ct.jsonable({"a": (np.float64(1.5), np.nan, object)}) == {"a": [1.5, None, repr(object)]}

    def crash(src, dst):
        raise OSError("disk full")
    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        ct.write_record(path, {"new": 1})
    assert json.loads(path.read_text())["best"] == 2.5, "a failed write must leave the old record whole"
    assert [p.name for p in tmp_path.iterdir()] == ["record.json"], "and no temporary file behind"


def test_provenance_has_the_keys_the_committed_records_have():
    """The end of data/dcgan_generator.json and data/colour_generator.json (flags, GPUs) and of
    benchmarks/figures/colour_losses.json (neither): same keys, same order."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    full = ct.provenance("tools/train_course_generator.py", ["--minutes", "1"], gpus=(), flags=True)
    short = ct.provenance("benchmarks/colour_losses.py", [])
    for facts, committed in ((full, "data/dcgan_generator.json"), (short, "benchmarks/figures/colour_losses.json")):
        record = json.loads((root / committed).read_text(encoding="utf-8"))
        assert list(facts) == list(record)[-4:] == ["machine", "versions", "created_utc", "command"]
        assert list(facts["machine"]) == list(record["machine"]), committed
        assert list(facts["versions"]) == list(record["versions"])
    assert full["command"] == "python tools/train_course_generator.py --minutes 1" and full["machine"]["gpus"] == []
    assert short["command"] == "python benchmarks/colour_losses.py "
    assert full["created_utc"][:2] == "20" and full["created_utc"].endswith("+00:00")
