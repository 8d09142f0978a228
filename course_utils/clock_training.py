"""One training harness for the tools and benchmarks: train against a clock, evaluate on a schedule, keep the best
weights, record the curve, write the record atomically.

The lessons keep their own visible training loops (that is what they teach); the scripts that train longer than a
lesson can, or compare recipes, share this one:

- :class:`ClockRun` takes timed steps of a train step (``step(batch) -> {"d_loss": ..., ...}``) on a stream of
  batches. Only the steps count on its clock (wall-clock ``time.perf_counter`` or the process's CPU seconds
  ``time.process_time``); evaluation, sampling and saving happen with the clock stopped.
- A schedule says when to evaluate and when to stop: :class:`EverySeconds` (every so many seconds of training, and
  at the end of the budget) or :class:`EverySteps` (every so many steps, for a fixed number of steps);
  :meth:`ClockRun.train_until` lets a benchmark interleave several runs at fixed points of their clocks.
- :func:`train` runs the loop; each evaluation appends a point to the run's curve, and :class:`BestWeights` keeps
  the weights (the weight-averaged generator's) of the best point so far.
- :func:`provenance` gives the record's machine, versions, date and command; :func:`write_record` writes the JSON
  record through :mod:`course_utils.atomic` (strict JSON: NaN becomes null).

Not in a lesson: tools/train_course_generator.py, tools/train_colour_generator.py, benchmarks/ablations.py,
benchmarks/time_to_quality.py and benchmarks/colour_losses.py train with it; tests/test_clock_training.py tests it.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import atomic
from .validate import int_at_least, positive_number

__all__ = ["CLOCKS", "ShuffledBatches", "ClockRun", "EverySeconds", "EverySteps", "BestWeights", "train",
           "provenance", "jsonable", "write_record"]

CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}
"""What a budget can count: wall-clock seconds, or the CPU seconds this process got (fair on a shared machine when
the process is pinned to one core)."""


def _clock(clock: str | Callable[[], float]) -> Callable[[], float]:
    if callable(clock):
        return clock
    if clock not in CLOCKS:
        raise ValueError(f"clock must be one of {sorted(CLOCKS)} or a function returning seconds, got {clock!r}")
    return CLOCKS[clock]


class ShuffledBatches:
    """Shuffled mini-batches of an array: a fresh permutation (seeded) every epoch, the last partial batch dropped.

    Not in a lesson: benchmarks/time_to_quality.py and benchmarks/ablations.py draw their batches with it (every
    recipe or arm sees the same order for the same seed); tests/test_clock_training.py.

    ``next(batches)`` gives a ``tf.Tensor`` of ``batch_size`` rows; one shape throughout, so ``tf.function`` traces
    once. :meth:`peek` gives the first rows without moving through the data (a warm-up batch).
    """

    def __init__(self, x: np.ndarray, batch_size: int, seed: int):
        batch_size = int_at_least(batch_size, 1, "batch_size")
        if batch_size > len(x):
            raise ValueError(f"batch_size must be in 1..{len(x)}, got {batch_size}")
        self.x, self.batch_size = x, batch_size
        self.rng = np.random.default_rng(seed)
        self.order = np.empty(0, dtype=np.int64)
        self.pos = 0
        self.epochs = 0

    def peek(self):
        """A batch for the warm-up step (the first ``batch_size`` rows), taken without moving through the data."""
        import tensorflow as tf

        return tf.convert_to_tensor(self.x[:self.batch_size])

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self):
        import tensorflow as tf

        if self.pos + self.batch_size > len(self.order):
            self.order = self.rng.permutation(len(self.x))
            self.pos = 0
            self.epochs += 1
        idx = self.order[self.pos:self.pos + self.batch_size]
        self.pos += self.batch_size
        return tf.convert_to_tensor(self.x[idx])


class ClockRun:
    """One training run: timed steps on its own clock, its curve, and whether it diverged.

    Not in a lesson: tools/train_course_generator.py, tools/train_colour_generator.py, benchmarks/ablations.py,
    benchmarks/time_to_quality.py and benchmarks/colour_losses.py train through it; tests/test_clock_training.py.

    Args:
        step: the train step, ``step(batch)`` returning a dict of metrics (tensors or floats) with ``"d_loss"``;
            reading it back (``float``) waits for the step to finish, so an asynchronous GPU step is timed whole.
        batches: an iterator of batches; ``next(batches)`` is called once per step, on the clock (drawing a batch
            counts as training time).
        clock: ``"wall"`` (``time.perf_counter``), ``"cpu"`` (``time.process_time``) or a function returning seconds.
        before_step: called as ``before_step(run)`` before every timed step, outside the clock (a learning-rate
            schedule reads ``run.seconds``).
        stop_on_nonfinite: stop training (``diverged``) when the step's ``d_loss`` is NaN or infinite.
        label: the run's name in messages.

    Attributes:
        steps: steps taken (the warm-up counts only when asked to).
        seconds: training time on the clock.
        first_step_s: the first timed step's duration.
        eval_seconds: time spent in :meth:`evaluate` (not on the training clock).
        last: the metrics of the last step, as floats.
        curve: one point per evaluation.
        diverged: whether a non-finite loss stopped the run.
    """

    def __init__(self, step: Callable[[Any], dict[str, Any]], batches: Iterator[Any], *,
                 clock: str | Callable[[], float] = "wall", before_step: Callable[[ClockRun], None] | None = None,
                 stop_on_nonfinite: bool = False, label: str = "run"):
        if not callable(step):
            raise ValueError(f"step must be a callable train step, got {step!r}")
        self.step_fn, self.batches, self.clock = step, batches, _clock(clock)
        self.before_step, self.stop_on_nonfinite, self.label = before_step, bool(stop_on_nonfinite), label
        self.steps, self.seconds, self.eval_seconds = 0, 0.0, 0.0
        self.first_step_s: float | None = None
        self.last_out: dict[str, Any] = {}
        self.curve: list[dict[str, Any]] = []
        self.diverged = False

    @property
    def last(self) -> dict[str, float]:
        """The last step's metrics as floats (empty before the first step)."""
        return {k: float(v) for k, v in self.last_out.items()}

    def warm_up(self, batch: Any = None, *, count: bool = False, timed: bool = False,
                restore: Iterable[Any] = ()) -> float:
        """One step to trace (and compile) the train step; returns how long it took.

        Args:
            batch: the batch to step on (default: the next of ``batches``).
            count: count it as a training step.
            timed: put its time on the training clock.
            restore: variables (weights, optimizer state) to set back to their values before the step, so that
                the step that paid for tracing teaches nothing and the clock starts from an untrained state.
        """
        state = list(restore)
        saved = [v.numpy() for v in state]
        start = self.clock()
        out = self.step_fn(next(self.batches) if batch is None else batch)
        float(out["d_loss"])
        elapsed = self.clock() - start
        for var, value in zip(state, saved):
            var.assign(value)
        if count:
            self.steps += 1
            self.last_out = out
        if timed:
            self.seconds += elapsed
        return elapsed

    def step(self) -> dict[str, Any]:
        """Take one timed step on the next batch; return its metrics (tensors, as the step gave them)."""
        if self.before_step is not None:
            self.before_step(self)
        start = self.clock()
        out = self.step_fn(next(self.batches))
        d_loss = float(out["d_loss"])  # reading a value waits for the step to finish (GPUs run async)
        elapsed = self.clock() - start
        self.seconds += elapsed
        self.steps += 1
        if self.first_step_s is None:
            self.first_step_s = elapsed
        self.last_out = out
        if self.stop_on_nonfinite and not math.isfinite(d_loss):
            self.diverged = True
            print(f"  {self.label}: discriminator loss is {d_loss} at step {self.steps}; stopping this run")
        return out

    def train_until(self, seconds: float | None = None, *, steps: int | None = None) -> None:
        """Take steps until the clock reaches ``seconds`` (or the step count reaches ``steps``), or the run diverges.

        The clock is read after every step, so the last step may overrun by at most one step.
        """
        if (seconds is None) == (steps is None):
            raise ValueError(f"train_until takes seconds or steps, one of them, got seconds={seconds!r}, "
                             f"steps={steps!r}")
        while not self.diverged and (self.seconds < seconds if steps is None else self.steps < steps):
            self.step()

    def stamp(self, digits: int = 1) -> dict[str, Any]:
        """``{"time_s": training seconds rounded to digits, "step": steps}``: where a curve point stands."""
        return {"time_s": round(self.seconds, digits), "step": self.steps}

    def evaluate(self, score: Callable[[ClockRun], dict[str, Any]]) -> dict[str, Any]:
        """Call ``score(run)`` with the clock stopped; append the point it returns to the curve and return it."""
        start = time.perf_counter()
        point = score(self)
        self.eval_seconds += time.perf_counter() - start
        self.curve.append(point)
        return point


class EverySeconds:
    """Evaluate every ``every`` seconds of training and when the budget runs out; stop at ``budget`` seconds.

    Not in a lesson: tools/train_course_generator.py, tools/train_colour_generator.py and
    benchmarks/colour_losses.py; tests/test_clock_training.py.

    The next evaluation is due ``every`` seconds after the previous one was due (not after it happened), so a step
    that overruns does not shift the schedule.
    """

    def __init__(self, every: float, budget: float):
        self.every = positive_number(every, "every")
        self.budget = positive_number(budget, "budget")
        self.next = self.every

    def done(self, run: ClockRun) -> bool:
        """Whether the budget is spent."""
        return run.seconds >= self.budget

    def due(self, run: ClockRun) -> bool:
        """Whether to evaluate now (and if so, move on to the next time)."""
        if run.seconds >= self.next or run.seconds >= self.budget:
            self.next += self.every
            return True
        return False


class EverySteps:
    """Evaluate every ``every`` steps; stop after ``total`` steps (a multiple of ``every``).

    Not in a lesson: benchmarks/ablations.py (arms compared at equal steps); tests/test_clock_training.py.
    """

    def __init__(self, every: int, total: int):
        self.every = int_at_least(every, 1, "every")
        self.total = int_at_least(total, self.every, "total")
        if self.total % self.every:
            raise ValueError(f"total must be a multiple of every ({self.every}), got {total!r}")

    def done(self, run: ClockRun) -> bool:
        """Whether all the steps are taken."""
        return run.steps >= self.total

    def due(self, run: ClockRun) -> bool:
        """Whether the step count is on the schedule."""
        return run.steps % self.every == 0


class BestWeights:
    """The weights of ``model`` at the best evaluation so far: the lowest ``point[key]`` among accepted points.

    Not in a lesson: tools/train_course_generator.py and tools/train_colour_generator.py keep the weight-averaged
    generator's best weights with it; tests/test_clock_training.py.

    Args:
        model: the network whose weights are kept (``get_weights``/``set_weights``).
        key: the point's score; lower is better (NaN never wins).
        accept: which points may be chosen at all (``lambda p: p["coverage"] == 10``); all by default.
    """

    def __init__(self, model: Any, *, key: str = "fid", accept: Callable[[dict[str, Any]], bool] | None = None):
        self.model, self.key, self.accept = model, key, accept
        self.point: dict[str, Any] | None = None
        self.weights: list[np.ndarray] | None = None

    def offer(self, point: dict[str, Any]) -> bool:
        """Keep the model's current weights if ``point`` is accepted and beats the best so far; say whether."""
        score = float(point[self.key])
        best = math.inf if self.point is None else float(self.point[self.key])
        if not score < best or (self.accept is not None and not self.accept(point)):
            return False
        self.point, self.weights = point, self.model.get_weights()
        return True

    def restore(self) -> dict[str, Any] | None:
        """Set the model to the best weights kept (if any); return that point (None when no point was accepted)."""
        if self.weights is not None:
            self.model.set_weights(self.weights)
        return self.point


def train(run: ClockRun, schedule: EverySeconds | EverySteps, score: Callable[[ClockRun], dict[str, Any]], *,
          best: BestWeights | None = None, final: bool = True) -> list[dict[str, Any]]:
    """Train ``run`` until ``schedule`` says done, evaluating (clock stopped) whenever it says due.

    Not in a lesson: tools/train_course_generator.py, tools/train_colour_generator.py, benchmarks/ablations.py and
    benchmarks/colour_losses.py; tests/test_clock_training.py.

    Args:
        run: the run (warmed up or not, as the script wants).
        schedule: :class:`EverySeconds` or :class:`EverySteps`.
        score: ``score(run) -> point``, the curve point of an evaluation (``run.stamp()`` gives time and step).
        best: offered every point, if given.
        final: evaluate once more at the end when the last point is not at the last step (a budget that ended
            before the first evaluation, or a run that diverged).

    Returns:
        The run's curve.
    """
    def evaluate() -> None:
        point = run.evaluate(score)
        if best is not None:
            best.offer(point)

    while not schedule.done(run) and not run.diverged:
        run.step()
        if schedule.due(run):
            evaluate()
    if final and (not run.curve or run.curve[-1].get("step") != run.steps):
        evaluate()
    return run.curve


def provenance(script: str, argv: Sequence[str] | None, *, gpus: Sequence[str] | None = None,
               flags: bool = False) -> dict[str, Any]:
    """Where and how a record was made: ``{"machine", "versions", "created_utc", "command"}``, for its end.

    Not in a lesson: tools/train_course_generator.py, tools/train_colour_generator.py and benchmarks/colour_losses.py
    end their records with it; tests/test_clock_training.py.

    Args:
        script: the script's path from the repository root (``"tools/train_course_generator.py"``).
        argv: the arguments it was given (None: ``sys.argv[1:]``).
        gpus: the GPUs it used (``device.setup(...).gpus``), recorded when given.
        flags: record the CPU's feature flags too.
    """
    import platform
    import sys

    import keras
    import tensorflow as tf

    from .cpu import cpu_config, onednn_active

    cpu = cpu_config()
    machine: dict[str, Any] = {"cpu_model": cpu.model}
    if flags:
        machine["cpu_flags"] = list(cpu.flags)
    machine.update({"usable_cpus": cpu.usable_cpus, "onednn": onednn_active()})
    if gpus is not None:
        machine["gpus"] = list(gpus)
    machine["platform"] = platform.platform(terse=True)
    return {"machine": machine,
            "versions": {"python": platform.python_version(), "tensorflow": tf.__version__,
                         "keras": keras.__version__},
            "created_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "command": f"python {script} " + " ".join(argv if argv is not None else sys.argv[1:])}


def jsonable(value: Any) -> Any:
    """``value`` with NumPy numbers as Python numbers, tuples as lists, and NaN or infinity as None (strict JSON).

    Not in a lesson: write_record writes every record through it; tests/test_clock_training.py.
    """
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        return float(value) if math.isfinite(value) else None
    if value is None or isinstance(value, int | str):
        return value
    return repr(value)


def write_record(path: str | os.PathLike, record: dict[str, Any]) -> Path:
    """Write ``record`` as indented strict JSON (:func:`jsonable`), atomically: the old record or the new, never half.

    Not in a lesson: benchmarks/ablations.py, benchmarks/colour_losses.py and benchmarks/time_to_quality.py write
    their records with it; tests/test_clock_training.py.
    """
    return atomic.write_text(path, json.dumps(jsonable(record), indent=1) + "\n")
