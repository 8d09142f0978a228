"""Resumable GAN training: checkpoints that survive a kernel restart.

:class:`GANCheckpoint` keeps both networks, both optimizers (Adam's moments included), the step and epoch
counters and an optional run history (losses, FID per epoch) in one folder, so a training cell that is
interrupted (a Colab time-out, a kernel restart, ``kill -9``) picks up where it stopped::

    ckpt = GANCheckpoint("runs/dcgan", generator=g, discriminator=d, g_optimizer=g_opt, d_optimizer=d_opt,
                         every_n_steps=200, extra=history)
    ckpt.restore()                      # step 0 on a fresh folder, else the latest saved step
    while ckpt.steps_done < total_steps:
        train_step(next(batches))
        ckpt.advance()
        ckpt.maybe_save()

Why a save can be interrupted safely. A save writes, in this order: the run history ``ckpt-<step>.history.json``
(atomically, :mod:`course_utils.atomic`); the checkpoint's data and ``.index`` files (TensorFlow stages them in
``ckpt-<step>_temp/``), which also hold the SHA-256 of that history file; then the small ``checkpoint`` state
file (atomically) naming the new checkpoint; only then are old checkpoints deleted. A process killed at any
moment therefore leaves the state file naming a complete checkpoint, whose history is the one it was saved with.
A second save at a step that already has a checkpoint (the end of an epoch that ended on a multiple of
``every_n_steps``, or after training with ``fit()``) never rewrites that checkpoint's files: it writes
``ckpt-<step>.1`` (``.2``, ...) beside it and deletes the older one only once the new one is listed.

Each history file also records the run's recipe: both optimizers' settings (learning rate, ``beta_1``, ...) and the
``recipe`` dict the lesson passes (``r1_gamma``, ``real_label``, ...). :meth:`GANCheckpoint.restore` refuses to
resume under a different one unless asked (``restore(allow_recipe_change=True)``). If the newest checkpoint's files
are damaged, it falls back to the newest intact one and says so. A full disk during a save is a clear ``OSError``
that leaves no temporary files and the previous checkpoint in place.

What is refused, with a ``ValueError`` that says what to do: damaged or truncated files, a history file that is
edited, missing, or not the one saved with the checkpoint (another run's, or a foreign checkpoint next to ours), a
state file naming anything outside the run folder (nothing outside it is ever touched), and a second process
writing into a folder that one is already using (a lock file ``.lock`` names its PID). If the state file is lost
while checkpoints remain, :meth:`GANCheckpoint.restore` resumes from the newest one and says so; nothing is deleted.

A single ``.keras`` model file, written whole or not at all, is :mod:`course_utils.model_file`'s job.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from . import atomic
from .model_file import _first_line
from .validate import int_at_least, positive_number

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks, the folder is not locked
    fcntl = None


__all__ = ["GANCheckpoint", "training_history"]

_CHECKPOINT_NAME = "ckpt"
_STATE_FILE = "checkpoint"
_LOCK_FILE = ".lock"
_HISTORY_SUFFIX = ".history.json"
_HISTORY_FORMAT = "GANCheckpoint history 2"
_BINDING_KEY = "history_sha256/.ATTRIBUTES/VARIABLE_VALUE"
# ckpt-<step>, or ckpt-<step>.<n> for the n-th save again at one step.
_NAME = re.compile(rf"^{_CHECKPOINT_NAME}-(\d+)(?:\.(\d+))?$")
_FILE = re.compile(rf"^({_CHECKPOINT_NAME}-\d+(?:\.\d+)?)(\.index|\.data-\d{{5}}-of-\d{{5}}|{re.escape(_HISTORY_SUFFIX)})$")
# What killed saves leave: TensorFlow's staging folder, our temporary files (old and new spelling).
_TEMP_DIR = re.compile(rf"^{_CHECKPOINT_NAME}-\d+(?:\.\d+)?_temp$")
_PART = re.compile(rf"^\.?{_CHECKPOINT_NAME}-\d+(?:\.\d+)?{re.escape(_HISTORY_SUFFIX)}(?:\..*)?\.part$"
                   rf"|^\.{_STATE_FILE}\..*\.part$")
_STATE_LINE = re.compile(r'^(model_checkpoint_path|all_model_checkpoint_paths): "(.*)"$')
_STATE_OTHER = re.compile(r"^(all_model_checkpoint_timestamps|last_preserved_timestamp): [0-9.e+-]+$")
_START_OVER = "delete {dir} to start over"
_HELD_LOCKS: dict[str, int] = {}  # folder -> open file descriptor of its lock, for this process


def _json_default(obj: Any) -> Any:
    """Let NumPy scalars/arrays and eager tensors (``float(loss)`` forgotten) into the history as numbers."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if hasattr(obj, "numpy"):
        return _json_default(np.asarray(obj.numpy()))
    raise TypeError(f"{type(obj).__name__} is not JSON-serialisable")


def _step_of(checkpoint_path: str) -> int:
    match = _NAME.match(os.path.basename(checkpoint_path))
    if match is None:
        raise ValueError(f"expected a checkpoint named {_CHECKPOINT_NAME}-<step>, got {checkpoint_path!r}")
    return int(match.group(1))


def _order(name: str) -> tuple[int, int]:
    match = _NAME.match(name)
    return int(match.group(1)), int(match.group(2) or 0)


def _lock_folder(directory: Path) -> None:
    """Hold an exclusive lock on ``directory`` for the rest of this process, or raise naming who holds it."""
    key = str(directory)
    if fcntl is None or key in _HELD_LOCKS:
        return
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / _LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        other = os.read(fd, 64).decode("ascii", "replace").strip() or "unknown"
        os.close(fd)
        raise ValueError(f"{directory} is already used by another process (PID {other}) that is saving checkpoints "
                         "there; two runs writing into one folder would destroy each other's checkpoints. Stop that "
                         f"process (kill {other}) or give this run another folder") from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    _HELD_LOCKS[key] = fd


class GANCheckpoint:
    """Save and resume a GAN training run: networks, optimizers, step/epoch counters and run history.

    Introduced in 04_dcgan.

    What is saved: every variable of both networks (weights *and* batch-norm moving statistics), the state
    of both optimizers (iteration count, learning rate, Adam's first and second moments; for a
    ``keras.optimizers.LossScaleOptimizer`` also its loss scale), the two counters :attr:`step` and
    :attr:`epoch`, and a JSON file next to each checkpoint (``ckpt-<step>.history.json``) holding a copy of
    ``extra`` (if given); the checkpoint records that file's SHA-256, so a history that was edited, swapped or
    lost is refused on :meth:`restore`. Checkpoints are numbered by step (``ckpt-1200.index`` ...); only the
    newest ``max_to_keep`` are kept, together with their history files. The folder is locked (``.lock``) by
    the first process that restores or saves in it.

    Note that an optimizer's learning rate is part of its state: after :meth:`restore` it is the one the
    run was saved with. To change it for the rest of a run, assign ``optimizer.learning_rate`` after
    :meth:`restore`.

    Attributes:
        directory: the checkpoint folder (absolute).
        step: ``tf.Variable(int64)``, training steps done; saved in the checkpoint. Read it as
            :attr:`steps_done`, move it with :meth:`advance`.
        epoch: ``tf.Variable(int64)``, epochs done; saved in the checkpoint. Read it as :attr:`epochs_done`,
            move it with :meth:`advance_epoch`.
        every_n_steps: :meth:`maybe_save` saves when the step is a multiple of this.
        max_to_keep: how many checkpoints are kept.
        checkpoint: the underlying ``tf.train.Checkpoint``.

    Args:
        directory: folder for the checkpoints (created on the first save).
        generator: the generator, a built ``keras.Model``.
        discriminator: the discriminator, a built ``keras.Model``.
        g_optimizer: the generator's optimizer (e.g. ``keras.optimizers.Adam``, or a ``LossScaleOptimizer``
            wrapping one under mixed precision).
        d_optimizer: the discriminator's optimizer (a different object from ``g_optimizer``).
        every_n_steps: save period of :meth:`maybe_save`, in steps (int >= 1).
        max_to_keep: number of checkpoints kept on disk (int >= 1; 2 keeps one to fall back on).
        extra: optional dict of run history (e.g. ``{"d_loss": [], "g_loss": [], "fid": []}``), JSON-serialisable
            (NumPy numbers and eager tensors are converted). It is saved with every checkpoint and, on
            :meth:`restore`, updated *in place* with the history saved with the restored checkpoint.
        ema_generator: optional third network saved and restored with the others, e.g. a copy of the generator
            whose weights are an exponential moving average of its weights (not trained by an optimizer).
        recipe: optional dict of the run's settings outside the optimizers (e.g. ``dataclasses.asdict(RECIPE)``: batch
            size, ``r1_gamma``, ``real_label``), JSON-serialisable. Saved with every checkpoint together with both
            optimizers' settings; :meth:`restore` refuses a checkpoint saved with other settings.

    Raises:
        ValueError: if a network is not a ``keras.Model``, an optimizer not a Keras optimizer, the same
            object is passed twice, ``every_n_steps`` or ``max_to_keep`` is not an int >= 1, or ``extra``
            is not a dict, or ``recipe`` is not a JSON-serialisable dict.
    """

    def __init__(self, directory: str | os.PathLike, *, generator, discriminator, g_optimizer, d_optimizer,
                 every_n_steps: int = 200, max_to_keep: int = 2, extra: dict | None = None, ema_generator=None,
                 recipe: Mapping[str, Any] | None = None):
        import keras
        import tensorflow as tf

        models = [("generator", generator), ("discriminator", discriminator)]
        if ema_generator is not None:
            models.append(("ema_generator", ema_generator))
        for name, obj in models:
            if not isinstance(obj, keras.Model):
                raise ValueError(f"{name} must be a keras.Model (Keras 3), got {type(obj).__module__}.{type(obj).__name__}")
        for name, obj in (("g_optimizer", g_optimizer), ("d_optimizer", d_optimizer)):
            if not isinstance(obj, keras.optimizers.Optimizer):
                raise ValueError(f"{name} must be a keras.optimizers.Optimizer (e.g. keras.optimizers.Adam), "
                                 f"got {type(obj).__module__}.{type(obj).__name__}")
        if len({id(obj) for _, obj in models}) != len(models):
            raise ValueError("generator, discriminator (and ema_generator) must be different models, got the same "
                             "object twice")
        if g_optimizer is d_optimizer:
            raise ValueError("g_optimizer and d_optimizer must be two different optimizer objects (each keeps "
                             "moments for its own network), got the same object twice")
        int_at_least(every_n_steps, 1, "every_n_steps")
        int_at_least(max_to_keep, 1, "max_to_keep")
        if extra is not None and not isinstance(extra, dict):
            raise ValueError(f"extra must be a dict of run history (or None), got {type(extra).__name__}")
        if recipe is not None and not isinstance(recipe, Mapping):
            raise ValueError(f"recipe must be a dict of the run's settings (or None), got {type(recipe).__name__}")
        try:
            self._recipe = None if recipe is None else json.loads(json.dumps(dict(recipe), default=_json_default))
        except (TypeError, ValueError) as err:
            raise ValueError(f"recipe must be JSON-serialisable (numbers, str, lists, dicts), got: {err}") from err

        self.directory = Path(directory).expanduser().absolute()
        self.generator, self.discriminator = generator, discriminator
        self.ema_generator = ema_generator
        self.g_optimizer, self.d_optimizer = g_optimizer, d_optimizer
        self.every_n_steps, self.max_to_keep = int(every_n_steps), int(max_to_keep)
        self._extra = extra
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        self._binding = tf.Variable("", dtype=tf.string, trainable=False, name="history_sha256")
        tracked = {"ema_generator": ema_generator} if ema_generator is not None else {}
        self.checkpoint = tf.train.Checkpoint(**tracked, step=self.step, epoch=self.epoch, generator=generator,
                                              discriminator=discriminator, g_optimizer=g_optimizer,
                                              d_optimizer=d_optimizer, history_sha256=self._binding)
        _ = self.checkpoint.save_counter  # created now, so every checkpoint holds it and every restore expects it
        self._may_save = False  # set by restore(), or by a save into a folder without checkpoints
        self._last_saved_step: int | None = None

    # -- reading ----------------------------------------------------------------------------------

    @property
    def steps_done(self) -> int:
        """Training steps done so far (the value of :attr:`step`), as a Python int."""
        return int(self.step.numpy())

    @property
    def epochs_done(self) -> int:
        """Epochs done so far (the value of :attr:`epoch`), as a Python int."""
        return int(self.epoch.numpy())

    @property
    def history(self) -> dict | None:
        """The run-history dict given as ``extra`` (updated in place by :meth:`restore`), or None."""
        return self._extra

    @property
    def latest(self) -> str | None:
        """Path prefix of the newest checkpoint listed in the state file (e.g. ``.../ckpt-1200``), or None."""
        names = self._listed()
        return str(self.directory / names[-1]) if names else None

    @property
    def saved_steps(self) -> list[int]:
        """Steps of the checkpoints kept on disk, oldest first."""
        return [_step_of(name) for name in self._listed()]

    def __repr__(self) -> str:
        return (f"GANCheckpoint({str(self.directory)!r}, step={self.steps_done}, epoch={self.epochs_done}, "
                f"every_n_steps={self.every_n_steps}, max_to_keep={self.max_to_keep}, saved={self.saved_steps})")

    # -- counters ---------------------------------------------------------------------------------

    def advance(self, n_steps: int = 1) -> int:
        """Count ``n_steps`` more training steps done (call it after each step).

        Introduced in 04_dcgan.

        Args:
            n_steps: steps to add (int >= 1).

        Returns:
            The new step count.

        Raises:
            ValueError: if ``n_steps`` is not an int >= 1.
        """
        self.step.assign_add(int_at_least(n_steps, 1, "n_steps"))
        return self.steps_done

    def advance_epoch(self, n_epochs: int = 1) -> int:
        """Count ``n_epochs`` more epochs done (call it at the end of each epoch).

        Introduced in 04_dcgan.

        Args:
            n_epochs: epochs to add (int >= 1).

        Returns:
            The new epoch count.

        Raises:
            ValueError: if ``n_epochs`` is not an int >= 1.
        """
        self.epoch.assign_add(int_at_least(n_epochs, 1, "n_epochs"))
        return self.epochs_done

    # -- restoring --------------------------------------------------------------------------------

    def restore(self, *, allow_recipe_change: bool = False) -> int:
        """Load the newest checkpoint in :attr:`directory`, if there is one, into the networks and optimizers.

        Introduced in 04_dcgan.

        Both optimizers are built first (``optimizer.build(model.trainable_variables)``, unless already
        built): Keras 3 creates Adam's moment variables lazily, and a moment that does not exist yet cannot
        be checked against the checkpoint, nor saved again before the first training step. Then, before
        anything is assigned: every tensor's checksum is verified, and the history file must be the one saved
        with the checkpoint (its SHA-256 is recorded in it). Every value in the checkpoint must then match a
        variable here and every variable here must get a value; otherwise nothing is changed (the variables
        are put back as they were) and a ``ValueError`` is raised. If the ``checkpoint`` state file is gone
        but checkpoints are still there, the newest one is used and the state file is written again. If the newest
        checkpoint's files (or its history file) are damaged, the newest intact one is used, the state file is
        written again without the damaged one (its files are left in place, never used) and the line says so.
        A checkpoint saved with another recipe (optimizer settings, or the ``recipe`` dict) is refused unless
        ``allow_recipe_change`` is True. Prints one line saying what happened.

        Args:
            allow_recipe_change: resume even if the recipe differs from the one the checkpoint was saved with (the
                differences are printed).

        Returns:
            The step restored (:attr:`steps_done`), 0 when there is no checkpoint.

        Raises:
            ValueError: if a network has not been built yet; if the checkpoint was saved by a different
                architecture or optimizer set-up; if its files are damaged or missing; if its history file is
                missing, damaged, edited or not the one saved with it; if the state file is damaged or names a
                checkpoint outside :attr:`directory`; if another process is using the folder; if the checkpoint was
                saved with another recipe and ``allow_recipe_change`` is False.
        """
        self._prepare()
        if self.directory.is_dir():
            _lock_folder(self.directory)
        names, recovered = self._listed_or_found()
        if not names:
            self._may_save = True
            print(f"No checkpoint in {self.directory}: starting from scratch")
            return 0
        damaged, first_error = [], None
        for index in range(len(names) - 1, -1, -1):  # newest first; fall back past damaged files
            latest = str(self.directory / names[index])
            try:
                raw, saved, saved_recipe = self._read_history_file(latest)
                self._verify_files(latest)
            except ValueError as err:
                first_error = first_error or err
                damaged.append(f"{names[index]} (step {_step_of(names[index])}) is damaged ({str(err)[:160]})")
                continue
            break
        else:
            raise first_error
        good = names[:index + 1]
        self._check_binding(latest, raw)
        diffs = self._recipe_changes(saved_recipe)
        lr_before = {name: self._learning_rate(opt) for name, opt in self._optimizers()}
        before = [v.numpy() for v in self._variables()] if diffs and not allow_recipe_change else None
        self._load_variables(latest)  # a checkpoint of other networks or optimizers is refused here first
        note = ""
        if diffs:
            shown = "; ".join(diffs[:8]) + (f"; and {len(diffs) - 8} more" if len(diffs) > 8 else "")
            if not allow_recipe_change:
                for var, value in zip(self._variables(), before):
                    var.assign(value)
                raise ValueError(f"the checkpoint {latest} (step {_step_of(latest)}) was saved with another recipe: "
                                 f"{shown}. Resuming would silently train on under the new one; nothing was changed. "
                                 "Put the recipe back, or call restore(allow_recipe_change=True) to continue under the "
                                 f"new one on purpose, or {_START_OVER.format(dir=self.directory)}")
            note = f"; resumed under a changed recipe ({shown})"
        note += self._apply_history(saved)  # after the recipe check: a refusal leaves ``extra`` as it was
        if damaged:
            self._write_state(good)
            note += (f"; the newest checkpoint {'; '.join(damaged)}: fell back to {latest}, the newest intact one "
                     "(the damaged files are left in place, never used)")
        elif recovered:
            self._write_state(names)
            note += (f"; the state file {self.directory / _STATE_FILE} was missing: rebuilt it from the "
                     f"checkpoints found ({', '.join(names)}), nothing was deleted")
        self._may_save = True
        self._last_saved_step = self.steps_done
        for name, opt in self._optimizers():
            lr = self._learning_rate(opt)
            if lr is not None and lr_before[name] is not None and not np.isclose(lr, lr_before[name]):
                note += (f"; {name} learning rate is {lr:g} as saved (was {lr_before[name]:g}: assign "
                         f"{name}.learning_rate after restore() to change it)")
        print(f"Resumed from step {self.steps_done} (epoch {self.epochs_done}) in {self.directory}{note}")
        return self.steps_done

    # -- saving -----------------------------------------------------------------------------------

    def maybe_save(self) -> str | None:
        """Save if the step is a positive multiple of ``every_n_steps`` and was not saved yet.

        Introduced in 04_dcgan.

        Returns:
            The checkpoint's path prefix, or None when nothing was saved.

        Raises:
            ValueError: see :meth:`save`.
        """
        step = self.steps_done
        if step > 0 and step % self.every_n_steps == 0 and step != self._last_saved_step:
            return self.save()
        return None

    def save(self) -> str:
        """Save a checkpoint now, named by the current step (``ckpt-<step>``).

        Introduced in 04_dcgan.

        The run history is written first, as ``ckpt-<step>.history.json`` (atomically), then the checkpoint
        (recording the history file's SHA-256), then the state file naming it; then checkpoints beyond
        ``max_to_keep`` and their history files are deleted. Saving again at a step that already has a
        checkpoint (e.g. at the end of an epoch that ended on a multiple of ``every_n_steps``) writes
        ``ckpt-<step>.1`` beside it and then deletes the older one: a step is never saved twice over the same
        files, so being killed meanwhile falls back to the earlier save of that step.

        Returns:
            The checkpoint's path prefix (``<directory>/ckpt-<step>``, or ``ckpt-<step>.<n>`` for a repeat).

        Raises:
            ValueError: if :attr:`directory` holds checkpoints of an earlier run and :meth:`restore` was not
                called (saving would mix the two runs); if a network has not been built; if ``extra`` is
                not JSON-serialisable; if another process is using the folder.
        """
        self._prepare()
        if not self._may_save:
            names, _ = self._listed_or_found()
            if names:
                raise ValueError(f"{self.directory} already holds a checkpoint (step {_step_of(names[-1])}) from an "
                                 "earlier run and restore() was not called, so saving would mix two runs: call "
                                 f"restore() first to continue that run, or {_START_OVER.format(dir=self.directory)}")
        step = self.steps_done
        history_bytes = self._history_bytes()
        _lock_folder(self.directory)
        listed = self._listed()
        same_step = [n for n in listed if _step_of(n) == step]
        name = f"{_CHECKPOINT_NAME}-{step}"
        taken = {_order(n)[1] for n in same_step} | {  # the files of an unlisted save at this step are kept too
            _order(m.group(1))[1] for m in map(_FILE.match, os.listdir(self.directory))
            if m and m.group(2) != _HISTORY_SUFFIX and _step_of(m.group(1)) == step}
        if taken:
            name += f".{max(taken) + 1}"
        prefix = self.directory / name
        kept = [n for n in listed if n not in same_step] + [name]
        dropped = same_step + kept[:-self.max_to_keep]
        try:
            atomic.write_bytes(Path(str(prefix) + _HISTORY_SUFFIX), history_bytes)
            self._binding.assign(hashlib.sha256(history_bytes).hexdigest())
            path = self.checkpoint.write(str(prefix))
            self._write_state(kept[-self.max_to_keep:])  # the new checkpoint is listed ...
        except Exception as err:
            if not (isinstance(err, OSError) or type(err).__name__ == "ResourceExhaustedError"
                    or "No space left" in str(err)):
                raise
            self._delete_checkpoint(name)  # never listed: its files, its history, TensorFlow's staging folder
            shutil.rmtree(str(prefix) + "_temp", ignore_errors=True)
            previous = f"the last saved checkpoint {self.directory / listed[-1]} is intact" if listed else \
                "no earlier checkpoint exists"
            if getattr(err, "errno", None) == errno.ENOSPC or type(err).__name__ == "ResourceExhaustedError" \
                    or "No space left" in str(err):
                raise OSError(errno.ENOSPC, f"the disk is full: the checkpoint of step {step} was not saved; "
                              f"{previous}, and nothing half-written was left in {self.directory}. Free some space "
                              f"(delete old runs or outputs) and save again ({_first_line(err)})") from err
            raise
        for old in dropped:  # ... only then are old ones deleted
            self._delete_checkpoint(old)
        self._remove_leftovers()
        self._may_save = True
        self._last_saved_step = step
        return path

    # -- the state file -----------------------------------------------------------------------------

    def _listed(self) -> list[str]:
        """Names of the checkpoints the state file lists, oldest first, all checked to lie in :attr:`directory`."""
        state = self.directory / _STATE_FILE
        if not state.is_file():
            return []
        try:
            lines = [line.strip() for line in state.read_text(encoding="utf-8").splitlines() if line.strip()]
        except (OSError, UnicodeDecodeError) as err:
            raise ValueError(self._bad_state_message(err)) from err
        latest, names = None, []
        for line in lines:
            match = _STATE_LINE.match(line)
            if match is None:
                if _STATE_OTHER.match(line):
                    continue
                raise ValueError(self._bad_state_message(detail=f"unexpected line {line[:80]!r}"))
            name = self._inside(match.group(2))
            if match.group(1) == "model_checkpoint_path":
                latest = name
            elif name not in names:
                names.append(name)
        if latest is None:
            raise ValueError(self._bad_state_message())
        return [n for n in names if n != latest] + [latest]

    def _inside(self, listed: str) -> str:
        """The bare checkpoint name for a path the state file lists; refuse anything outside the run folder."""
        path = Path(listed) if os.path.isabs(listed) else self.directory / listed
        if path.parent.resolve() != self.directory.resolve() or not _NAME.match(path.name):
            raise ValueError(f"{self.directory / _STATE_FILE} lists {listed!r}: expected checkpoints named "
                             f"{_CHECKPOINT_NAME}-<step> inside {self.directory}, got a path outside it (or another "
                             "name). Nothing was used or deleted: only files inside the run folder are ever touched. "
                             f"Restore the state file, or {_START_OVER.format(dir=self.directory)}")
        return path.name

    def _listed_or_found(self) -> tuple[list[str], bool]:
        """The listed checkpoints; without a state file, the complete-looking ones on disk (and True)."""
        if (self.directory / _STATE_FILE).exists() or not self.directory.is_dir():
            return self._listed(), False
        found = sorted((m.group(1) for m in map(_FILE.match, os.listdir(self.directory))
                        if m and m.group(2) == ".index"), key=_order)
        return found, bool(found)

    def _write_state(self, names: list[str]) -> None:
        lines = [f'model_checkpoint_path: "{names[-1]}"'] + [f'all_model_checkpoint_paths: "{n}"' for n in names]
        atomic.write_text(self.directory / _STATE_FILE, "\n".join(lines) + "\n")

    def _bad_state_message(self, err: BaseException | None = None, detail: str = "") -> str:
        why = f" ({_first_line(err)})" if err is not None else (f" ({detail})" if detail else "")
        return (f"{self.directory / _STATE_FILE} lists no usable checkpoint: expected the name of the newest one, "
                f"the file is damaged or empty{why}; {_START_OVER.format(dir=self.directory)}")

    def _delete_checkpoint(self, name: str) -> None:
        """Delete one checkpoint's files (only files of that name directly inside :attr:`directory`)."""
        for entry in os.listdir(self.directory):
            match = _FILE.match(entry)
            if match and match.group(1) == name:
                (self.directory / entry).unlink(missing_ok=True)

    def _remove_leftovers(self) -> None:
        """Delete what killed saves left: history files without a checkpoint, temporary files, ``_temp/`` folders."""
        listed = set(self._listed())
        for entry in os.listdir(self.directory):
            path = self.directory / entry
            match = _FILE.match(entry)
            if match and match.group(2) == _HISTORY_SUFFIX and match.group(1) not in listed and not Path(
                    str(self.directory / match.group(1)) + ".index").exists():
                path.unlink(missing_ok=True)
            elif _PART.match(entry):
                path.unlink(missing_ok=True)
            elif _TEMP_DIR.match(entry) and path.is_dir():  # TensorFlow's staging folder of an interrupted save
                shutil.rmtree(path, ignore_errors=True)

    # -- internals --------------------------------------------------------------------------------

    def _models(self):
        return (("generator", self.generator), ("discriminator", self.discriminator))

    def _optimizers(self):
        return (("g_optimizer", self.g_optimizer), ("d_optimizer", self.d_optimizer))

    def _prepare(self) -> None:
        """Check that both networks have their variables, and build the optimizers' variables for them."""
        extra_models = (("ema_generator", self.ema_generator),) if self.ema_generator is not None else ()
        for name, model in self._models() + extra_models:
            if not model.built or not model.weights:
                raise ValueError(f"the {name} has no weights yet: expected a built model (give it a keras.Input, "
                                 f"or call it once on a batch) before checkpointing, got an unbuilt {type(model).__name__}")
        for (_, model), (_, opt) in zip(self._models(), self._optimizers()):
            if not opt.built:
                opt.build(model.trainable_variables)

    def _variables(self) -> list:
        """Every variable the checkpoint holds, once each (for putting values back after a failed restore)."""
        seen, out = set(), []
        candidates = [self.step, self.epoch, self._binding, self.checkpoint.save_counter]
        for (_, model), (_, opt) in zip(self._models(), self._optimizers()):
            candidates += list(model.weights) + list(opt.variables)
        if self.ema_generator is not None:
            candidates += list(self.ema_generator.weights)
        for var in candidates:
            if id(var) not in seen:
                seen.add(id(var))
                out.append(var)
        return out

    @staticmethod
    def _learning_rate(opt) -> float | None:
        """The learning rate held in a variable (what a checkpoint restores), or None for a schedule."""
        import keras

        value = getattr(getattr(opt, "inner_optimizer", opt), "_learning_rate", None)
        return float(value.numpy()) if isinstance(value, keras.Variable) else None

    def _verify_files(self, latest: str) -> None:
        """Read every tensor of the checkpoint once: TensorFlow checks each one's CRC32C as it reads."""
        import tensorflow as tf

        step = _step_of(latest)
        if not Path(latest + ".index").is_file():
            raise ValueError(f"the checkpoint for step {step} is listed in {self.directory / _STATE_FILE} but "
                             f"{latest}.index is missing; {_START_OVER.format(dir=self.directory)}")
        try:
            reader = tf.train.load_checkpoint(latest)
            for name in reader.get_variable_to_shape_map():
                reader.get_tensor(name)
        except Exception as err:  # DataLossError (CRC), IndexError (truncated), OpError ...
            raise ValueError(f"the checkpoint {latest} (step {step}) is damaged or truncated and was not used "
                             f"({_first_line(err)}); {_START_OVER.format(dir=self.directory)}") from err

    def _check_binding(self, latest: str, raw: bytes) -> None:
        """The history file must be the one whose SHA-256 the checkpoint recorded when it was saved."""
        import tensorflow as tf

        reader = tf.train.load_checkpoint(latest)
        if _BINDING_KEY not in reader.get_variable_to_shape_map():
            raise ValueError(f"the checkpoint {latest} records no checksum of its run history: expected a checkpoint "
                             "saved by GANCheckpoint (course_utils 0.1 or later, with its history file), got one from "
                             f"elsewhere or an older version; nothing was changed. {_START_OVER.format(dir=self.directory)}")
        expected = reader.get_tensor(_BINDING_KEY)
        expected = expected.decode() if isinstance(expected, bytes) else str(expected)
        actual = hashlib.sha256(raw).hexdigest()
        if actual != expected:
            raise ValueError(f"the run history {latest}{_HISTORY_SUFFIX} is not the one saved with the checkpoint "
                             f"{latest}: SHA-256 expected {expected[:16]}..., got {actual[:16]}... (the history was "
                             "edited, or it or the checkpoint comes from another run); nothing was changed. Put the "
                             f"right files back, or {_START_OVER.format(dir=self.directory)}")

    def _load_variables(self, latest: str) -> None:
        """Assign the checkpoint to the variables here; on any mismatch put them back and raise."""
        import tensorflow as tf

        variables = self._variables()
        before = [v.numpy() for v in variables]
        status = None
        try:
            status = self.checkpoint.read(latest)  # eager: assigns values now (a wrong shape raises here)
            status.assert_existing_objects_matched()  # every variable here got a value ...
            status.assert_consumed()  # ... and every value in the checkpoint found its variable
        except (AssertionError, ValueError, tf.errors.OpError) as err:
            if status is not None:
                status.expect_partial()  # we raise instead; silence TF's "unrestored values" warnings at exit
            for var, value in zip(variables, before):
                var.assign(value)
            raise ValueError(self._mismatch_message(latest, err)) from None

    def _mismatch_message(self, latest: str, err: BaseException) -> str:
        import tensorflow as tf

        def count(variables) -> str:
            return f"{len(variables)} variables, {sum(int(np.prod(v.shape)) for v in variables):,} numbers"

        expected = "; ".join(f"{name}: {count(model.weights)}" for name, model in self._models())
        shapes = tf.train.load_checkpoint(latest).get_variable_to_shape_map()
        shapes.pop("_CHECKPOINTABLE_OBJECT_GRAPH", None)
        came = f"{len(shapes)} values, {sum(int(np.prod(s)) for s in shapes.values()):,} numbers in all"
        here = self._variables()
        return (f"the checkpoint {latest} (step {_step_of(latest)}) does not fit these networks and optimizers: "
                f"expected a checkpoint of them ({expected}; {count(here)} with optimizers and counters), got a "
                f"checkpoint with {came} ({_first_line(err)}). It was saved by a different architecture or set-up "
                "(layer sizes, optimizer, mixed precision on/off); nothing was changed. Rebuild the models as they "
                f"were when it was saved, or {_START_OVER.format(dir=self.directory)}")

    def _read_history_file(self, latest: str) -> tuple[bytes, dict | None, dict | None]:
        """The history file's bytes, the history it holds (None if the run saved none) and its recipe (None: none)."""
        path = Path(latest + _HISTORY_SUFFIX)
        if not path.is_file():
            raise ValueError(f"the run history {path} of the checkpoint {latest} is missing: expected the file saved "
                             "with it (it also proves the checkpoint belongs to this run), found none; put it back, or "
                             f"{_START_OVER.format(dir=self.directory)}")
        try:
            raw = path.read_bytes()
            loaded = json.loads(raw.decode("utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ValueError(f"the run history {path} is damaged and was not used ({_first_line(err)}); put back the "
                             f"file saved with the checkpoint, or {_START_OVER.format(dir=self.directory)}") from err
        if not isinstance(loaded, dict) or loaded.get("format") != _HISTORY_FORMAT or not (
                loaded.get("history") is None or isinstance(loaded.get("history"), dict)):
            raise ValueError(f"the run history {path} should hold a JSON object with format {_HISTORY_FORMAT!r} and a "
                             f"'history' dict (or null), got {type(loaded).__name__} {str(loaded)[:80]}")
        recipe = loaded.get("recipe")
        return raw, loaded["history"], recipe if isinstance(recipe, dict) else None

    def _fingerprint(self) -> dict:
        """The run's recipe: both optimizers' settings (names aside) and the ``recipe`` dict, as JSON values."""

        def clean(value):
            if isinstance(value, dict):
                return {k: clean(v) for k, v in value.items() if k != "name"}
            return value

        out = {"recipe": self._recipe}
        for name, opt in self._optimizers():
            config = clean(opt.get_config())
            out[name] = json.loads(json.dumps({"class": type(opt).__name__, **config}, default=str))
        return out

    def _recipe_changes(self, saved: dict | None) -> list[str]:
        """How this run's recipe differs from the saved one: ``"key old -> new"`` lines (none: the same)."""
        if saved is None:  # a checkpoint saved before recipes were recorded
            return []

        def flat(value, key=""):
            if isinstance(value, dict):
                out = {}
                for k, v in value.items():
                    out.update(flat(v, f"{key}.{k}" if key else str(k)))
                return out
            return {key: value}

        def show(value):
            return f"{value:.6g}" if isinstance(value, float) else repr(value)

        before, now = flat(saved), flat(self._fingerprint())
        missing = object()
        diffs = [f"{key} {show(before.get(key, missing)) if key in before else '(unset)'} -> "
                 f"{show(now[key]) if key in now else '(unset)'}"
                 for key in sorted(set(before) | set(now), key=str) if before.get(key, missing) != now.get(key, missing)
                 and not (isinstance(before.get(key), float) and isinstance(now.get(key), float)
                          and np.isclose(before[key], now[key], rtol=1e-6, atol=0))]
        return diffs

    def _apply_history(self, saved: dict | None) -> str:
        """Update ``extra`` in place with the restored history; return a note for the printed line."""
        if self._extra is None:
            return ""
        if saved is None:
            return "; no run history was saved with it (the run was saved with extra=None; history left as it was)"
        self._extra.clear()
        self._extra.update(saved)
        return ""

    def _history_bytes(self) -> bytes:
        try:
            text = json.dumps({"format": _HISTORY_FORMAT, "step": self.steps_done, "epoch": self.epochs_done,
                               "history": self._extra, "recipe": self._fingerprint()}, default=_json_default)
        except (TypeError, ValueError) as err:
            raise ValueError(f"extra must be JSON-serialisable (dicts, lists, str, numbers), got a value that is not: "
                             f"{err}") from err
        return text.encode("utf-8")


def training_history(checkpoint: GANCheckpoint, *, budget_s: float | None = None,
                     epochs: int | None = None) -> dict[str, list]:
    """Validate a training loop's stopping rule and return the checkpoint's history dict to append to.

    Introduced in 04_dcgan (its ``train_gan`` calls it first).

    Args:
        checkpoint: a :class:`GANCheckpoint` created with ``extra={}`` (a dict), so the history is saved with it.
        budget_s: seconds of training *more*; or
        epochs: the total number of epochs to reach. Exactly one of the two must be given.

    Returns:
        ``checkpoint.history`` (restored from the checkpoint if there was one), a dict of lists.

    Raises:
        ValueError: if both or neither of ``budget_s`` and ``epochs`` are given, ``budget_s`` is not a positive
            finite number, ``epochs`` is not a non-negative int, or the checkpoint keeps no history.
    """
    if (budget_s is None) == (epochs is None):
        raise ValueError(f"give exactly one of budget_s and epochs, got budget_s={budget_s!r}, epochs={epochs!r}")
    if budget_s is not None:
        positive_number(budget_s, "budget_s", expected="a positive number of seconds")
    if epochs is not None:
        int_at_least(epochs, 0, "epochs", expected="a non-negative int (the total to reach)")
    history = getattr(checkpoint, "history", None)
    if not isinstance(history, dict):
        raise ValueError("create the GANCheckpoint with extra={} (a dict) so the history is saved with it, got "
                         f"history {history!r}")
    return history
