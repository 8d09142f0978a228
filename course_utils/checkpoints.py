"""Resumable GAN training: checkpoints that survive a kernel restart, and model files that are never half-written.

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

Why a save can be interrupted safely: TensorFlow writes a checkpoint's data file, then its ``.index``
(the data file is useless without it), and only then rewrites the small ``checkpoint`` state file
(atomically, by renaming a finished temporary file) to point at the new checkpoint; old checkpoints are
deleted after that. A process killed at any moment therefore leaves the state file naming the previous,
complete checkpoint. Each checkpoint's run history is written (atomically) *before* the checkpoint itself,
so the history next to the checkpoint that is restored always belongs to it.

:func:`save_model_atomic` and :func:`load_model_checked` do the same for single ``.keras`` files.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["GANCheckpoint", "save_model_atomic", "load_model_checked"]

_CHECKPOINT_NAME = "ckpt"
_HISTORY_SUFFIX = ".history.json"
_HISTORY_FILE = re.compile(rf"^{_CHECKPOINT_NAME}-(\d+){re.escape(_HISTORY_SUFFIX)}(\.part)?$")
_TEMP_DIR = re.compile(rf"^{_CHECKPOINT_NAME}-\d+_temp$")
_START_OVER = "delete {dir} to start over"


def _is_positive_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)) and value >= 1


def _first_line(err: BaseException, limit: int = 300) -> str:
    text = str(err).strip().splitlines()
    line = text[0] if text else ""
    return f"{type(err).__name__}: {line[:limit]}"


def _json_default(obj: Any) -> Any:
    """Let NumPy scalars/arrays and eager tensors (``float(loss)`` forgotten) into the history as numbers."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if hasattr(obj, "numpy"):
        return _json_default(np.asarray(obj.numpy()))
    raise TypeError(f"{type(obj).__name__} is not JSON-serialisable")


def _atomic_write_text(path: Path, text: str) -> None:
    """Write ``path.part``, flush it to disk, then rename it over ``path`` (a crash leaves old or new, never half)."""
    part = path.with_name(path.name + ".part")
    try:
        with open(part, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(part, path)
    finally:
        if part.exists():
            part.unlink()


def _step_of(checkpoint_path: str) -> int:
    return int(checkpoint_path.rsplit("-", 1)[-1])


class GANCheckpoint:
    """Save and resume a GAN training run: networks, optimizers, step/epoch counters and run history.

    Introduced in 04_dcgan.

    What is saved: every variable of both networks (weights *and* batch-norm moving statistics), the state
    of both optimizers (iteration count, learning rate, Adam's first and second moments; for a
    ``keras.optimizers.LossScaleOptimizer`` also its loss scale), the two counters :attr:`step` and
    :attr:`epoch`, and, if ``extra`` is given, a JSON copy of that dict next to each checkpoint
    (``ckpt-<step>.history.json``). Checkpoints are numbered by step (``ckpt-1200.index`` ...); only the
    newest ``max_to_keep`` are kept, together with their history files.

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
        manager: the underlying ``tf.train.CheckpointManager``.

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

    Raises:
        ValueError: if a network is not a ``keras.Model``, an optimizer not a Keras optimizer, the same
            object is passed twice, ``every_n_steps`` or ``max_to_keep`` is not an int >= 1, ``extra``
            is not a dict, or the folder's ``checkpoint`` state file is damaged.
    """

    def __init__(self, directory: str | os.PathLike, *, generator, discriminator, g_optimizer, d_optimizer,
                 every_n_steps: int = 200, max_to_keep: int = 2, extra: dict | None = None, ema_generator=None):
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
        if not _is_positive_int(every_n_steps):
            raise ValueError(f"every_n_steps must be an int >= 1, got {every_n_steps!r}")
        if not _is_positive_int(max_to_keep):
            raise ValueError(f"max_to_keep must be an int >= 1, got {max_to_keep!r}")
        if extra is not None and not isinstance(extra, dict):
            raise ValueError(f"extra must be a dict of run history (or None), got {type(extra).__name__}")

        self.directory = Path(directory).expanduser().absolute()
        self.generator, self.discriminator = generator, discriminator
        self.ema_generator = ema_generator
        self.g_optimizer, self.d_optimizer = g_optimizer, d_optimizer
        self.every_n_steps, self.max_to_keep = int(every_n_steps), int(max_to_keep)
        self._extra = extra
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        tracked = {"ema_generator": ema_generator} if ema_generator is not None else {}
        self.checkpoint = tf.train.Checkpoint(**tracked, step=self.step, epoch=self.epoch, generator=generator,
                                              discriminator=discriminator, g_optimizer=g_optimizer,
                                              d_optimizer=d_optimizer)
        self.manager = self._new_manager()
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
        """Path prefix of the newest checkpoint on disk (e.g. ``.../ckpt-1200``), or None."""
        return self.manager.latest_checkpoint

    @property
    def saved_steps(self) -> list[int]:
        """Steps of the checkpoints kept on disk, oldest first."""
        return [_step_of(p) for p in self.manager.checkpoints]

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
        if not _is_positive_int(n_steps):
            raise ValueError(f"n_steps must be an int >= 1, got {n_steps!r}")
        self.step.assign_add(int(n_steps))
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
        if not _is_positive_int(n_epochs):
            raise ValueError(f"n_epochs must be an int >= 1, got {n_epochs!r}")
        self.epoch.assign_add(int(n_epochs))
        return self.epochs_done

    # -- restoring --------------------------------------------------------------------------------

    def restore(self) -> int:
        """Load the newest checkpoint in :attr:`directory`, if there is one, into the networks and optimizers.

        Introduced in 04_dcgan.

        Both optimizers are built first (``optimizer.build(model.trainable_variables)``, unless already
        built): Keras 3 creates Adam's moment variables lazily, and a moment that does not exist yet cannot
        be checked against the checkpoint, nor saved again before the first training step. Every value in
        the checkpoint must then match a variable here and every variable here must get a value; otherwise
        nothing is changed (the variables are put back as they were) and a ``ValueError`` is raised.
        Every tensor's checksum is verified before anything is assigned, so a damaged file is reported,
        never used. Prints one line saying what happened.

        Returns:
            The step restored (:attr:`steps_done`), 0 when there is no checkpoint.

        Raises:
            ValueError: if a network has not been built yet; if the checkpoint was saved by a different
                architecture or optimizer set-up; if its files (or its history file) are damaged or missing.
        """
        import tensorflow as tf

        self._prepare()
        self.manager = self._new_manager()
        latest = self.manager.latest_checkpoint
        if latest is None:
            if (self.directory / "checkpoint").exists():
                raise ValueError(self._bad_state_message())
            self._may_save = True
            print(f"No checkpoint in {self.directory}: starting from scratch")
            return 0

        saved_history = self._read_history(latest)
        self._verify_files(latest)
        variables = self._variables()
        before = [v.numpy() for v in variables]
        lr_before = {name: self._learning_rate(opt) for name, opt in self._optimizers()}
        status = None
        try:
            status = self.checkpoint.restore(latest)  # eager: assigns values now (a wrong shape raises here)
            status.assert_existing_objects_matched()  # every variable here got a value ...
            status.assert_consumed()  # ... and every value in the checkpoint found its variable
        except (AssertionError, ValueError, tf.errors.OpError) as err:
            if status is not None:
                status.expect_partial()  # we raise instead; silence TF's "unrestored values" warnings at exit
            for var, value in zip(variables, before):
                var.assign(value)
            raise ValueError(self._mismatch_message(latest, err)) from None

        if self._extra is not None and saved_history is not None:
            self._extra.clear()
            self._extra.update(saved_history)
        self._may_save = True
        self._last_saved_step = self.steps_done
        note = ""
        if self._extra is not None and saved_history is None:
            note = "; no run history was saved with it (history left as it was)"
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
        """Save a checkpoint now, numbered by the current step (``checkpoint_number=step``).

        Introduced in 04_dcgan.

        The run history (``extra``) is written first, as ``ckpt-<step>.history.json`` (atomically), then the
        checkpoint, then old checkpoints beyond ``max_to_keep`` and their history files are deleted. Saving
        again at a step that already has a checkpoint (e.g. at the end of an epoch that ended on a
        multiple of ``every_n_steps``) first makes the previous checkpoint the latest, so being killed while
        it is rewritten falls back to that one; only when it is the sole checkpoint is it rewritten in place.

        Returns:
            The checkpoint's path prefix (``<directory>/ckpt-<step>``).

        Raises:
            ValueError: if :attr:`directory` holds checkpoints of an earlier run and :meth:`restore` was not
                called (saving would mix the two runs); if a network has not been built; if ``extra`` is
                not JSON-serialisable.
        """
        self._prepare()
        if not self._may_save:
            latest = self.manager.latest_checkpoint
            if latest is not None:
                raise ValueError(f"{self.directory} already holds a checkpoint (step {_step_of(latest)}) from an "
                                 "earlier run and restore() was not called, so saving would mix two runs: call "
                                 f"restore() first to continue that run, or {_START_OVER.format(dir=self.directory)}")
        step = self.steps_done
        history_text = self._history_text()
        prefix = str(self.directory / f"{_CHECKPOINT_NAME}-{step}")
        if prefix in self.manager.checkpoints:
            self._drop_from_state(prefix)
        self.directory.mkdir(parents=True, exist_ok=True)
        if history_text is not None:
            _atomic_write_text(Path(prefix + _HISTORY_SUFFIX), history_text)
        path = self.manager.save(checkpoint_number=step)
        self._may_save = True
        self._last_saved_step = step
        self._prune_history()
        return path

    # -- internals --------------------------------------------------------------------------------

    def _new_manager(self):
        import tensorflow as tf

        try:
            return tf.train.CheckpointManager(self.checkpoint, str(self.directory), max_to_keep=self.max_to_keep,
                                              checkpoint_name=_CHECKPOINT_NAME)
        except ValueError as err:  # "Invalid checkpoint state": the state file is empty or names nothing
            raise ValueError(self._bad_state_message(err)) from err

    def _bad_state_message(self, err: BaseException | None = None) -> str:
        detail = f" ({_first_line(err)})" if err is not None else ""
        return (f"{self.directory / 'checkpoint'} lists no usable checkpoint: expected the name of the newest one, "
                f"the file is damaged or empty{detail}; {_START_OVER.format(dir=self.directory)}")

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
        candidates = [self.step, self.epoch, self.checkpoint.save_counter]
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
            raise ValueError(f"the checkpoint for step {step} is listed in {self.directory / 'checkpoint'} but "
                             f"{latest}.index is missing; {_START_OVER.format(dir=self.directory)}")
        try:
            reader = tf.train.load_checkpoint(latest)
            for name in reader.get_variable_to_shape_map():
                reader.get_tensor(name)
        except Exception as err:  # DataLossError (CRC), IndexError (truncated), OpError ...
            raise ValueError(f"the checkpoint {latest} (step {step}) is damaged or truncated and was not used "
                             f"({_first_line(err)}); {_START_OVER.format(dir=self.directory)}") from err

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

    def _history_path(self, checkpoint_path: str) -> Path:
        return Path(checkpoint_path + _HISTORY_SUFFIX)

    def _read_history(self, latest: str) -> dict | None:
        if self._extra is None:
            return None
        path = self._history_path(latest)
        if not path.is_file():
            return None
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ValueError(f"the run history {path} is damaged and was not used ({_first_line(err)}); delete it to "
                             "resume without the history, or delete the whole folder to start over") from err
        if not isinstance(loaded, dict):
            raise ValueError(f"the run history {path} should hold a JSON object (a dict), got {type(loaded).__name__}")
        return loaded

    def _history_text(self) -> str | None:
        if self._extra is None:
            return None
        try:
            return json.dumps(self._extra, default=_json_default)
        except (TypeError, ValueError) as err:
            raise ValueError(f"extra must be JSON-serialisable (dicts, lists, str, numbers), got a value that is not: "
                             f"{err}") from err

    def _drop_from_state(self, prefix: str) -> None:
        """Before rewriting ``prefix`` in place, point the state file at the checkpoint before it (if any)."""
        import tensorflow as tf

        state = tf.train.get_checkpoint_state(str(self.directory))
        if state is None:
            return
        stamps = list(state.all_model_checkpoint_timestamps) or [state.last_preserved_timestamp] * len(
            state.all_model_checkpoint_paths)
        keep = [(os.path.basename(p), t) for p, t in zip(state.all_model_checkpoint_paths, stamps)
                if os.path.basename(p) != os.path.basename(prefix)]
        if not keep:
            return
        try:  # the v1 function is the only public writer of the state file; mute its deprecation notice
            from tensorflow.python.util.deprecation import silence
        except ImportError:  # pragma: no cover - TensorFlow moved it
            from contextlib import nullcontext as silence
        with silence():
            tf.compat.v1.train.update_checkpoint_state(
                str(self.directory), keep[-1][0], [p for p, _ in keep],
                all_model_checkpoint_timestamps=[t for _, t in keep],
                last_preserved_timestamp=state.last_preserved_timestamp)
        self.manager = self._new_manager()

    def _prune_history(self) -> None:
        """Delete history files of checkpoints no longer kept, and what killed saves left (``.part``, ``_temp/``)."""
        kept = set(self.saved_steps)
        for path in self.directory.iterdir():
            match = _HISTORY_FILE.match(path.name)
            if match and (match.group(2) or int(match.group(1)) not in kept):
                path.unlink(missing_ok=True)
            elif _TEMP_DIR.match(path.name) and path.is_dir():  # TensorFlow's staging folder of an interrupted save
                shutil.rmtree(path, ignore_errors=True)


def save_model_atomic(model, path: str | os.PathLike) -> Path:
    """Save a Keras model as a ``.keras`` file atomically: the old file stays whole until the new one is.

    Introduced in 04_dcgan.

    The model is written to a temporary file in the same folder (``<name>.tmp-<pid>.keras``), flushed to
    disk, then renamed over ``path`` with ``os.replace``. If saving fails, the temporary file is removed,
    the file at ``path`` (if any) is untouched, and the error is raised again.

    Args:
        model: a ``keras.Model``.
        path: where to write; must end in ``.keras``. Parent folders are created.

    Returns:
        The path written.

    Raises:
        ValueError: if ``path`` does not end in ``.keras`` or ``model`` is not a ``keras.Model``.
    """
    import keras

    path = Path(path).expanduser()
    if path.suffix != ".keras":
        raise ValueError(f"expected a path ending in '.keras', got suffix {path.suffix or '(none)'!r} in {path}")
    if not isinstance(model, keras.Model):
        raise ValueError(f"expected a keras.Model, got {type(model).__module__}.{type(model).__name__}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.stem}.tmp-{os.getpid()}.keras")
    try:
        with warnings.catch_warnings():  # Keras 3.15 + NumPy 2.4 warn inside save (tf.Variable.__array__)
            warnings.simplefilter("ignore", DeprecationWarning)
            model.save(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def load_model_checked(path: str | os.PathLike, *, custom_objects: Mapping[str, Any] | None = None,
                       compile: bool = True):
    """Load a ``.keras`` model file, turning a missing, misnamed or damaged file into a clear ``ValueError``.

    Introduced in 04_dcgan.

    The file's zip structure and every member's CRC are checked before Keras reads it, so a truncated or
    corrupted file is reported, never half-loaded.

    Args:
        path: a file written by :func:`save_model_atomic` (or ``model.save``), ending in ``.keras``.
        custom_objects: passed to ``keras.models.load_model`` (for custom layers or models).
        compile: passed to ``keras.models.load_model``.

    Returns:
        The loaded ``keras.Model``.

    Raises:
        ValueError: if the file does not end in ``.keras``, does not exist, or cannot be read as a model.
    """
    import keras

    path = Path(path).expanduser()
    if path.suffix != ".keras":
        raise ValueError(f"expected a path ending in '.keras', got suffix {path.suffix or '(none)'!r} in {path}")
    if not path.is_file():
        raise ValueError(f"expected a saved model at {path}, found no such file; re-run the training cell to create it")
    try:
        with zipfile.ZipFile(path) as zf:
            bad = zf.testzip()
        if bad is not None:
            raise zipfile.BadZipFile(f"member {bad!r} fails its CRC check")
        with warnings.catch_warnings():  # as in save_model_atomic
            warnings.simplefilter("ignore", DeprecationWarning)
            return keras.models.load_model(path, custom_objects=custom_objects, compile=compile)
    except zipfile.BadZipFile as err:
        raise ValueError(f"{path} is damaged or truncated ({_first_line(err)}): re-run the training cell to "
                         "recreate it") from err
    except Exception as err:  # h5py/keras errors: a damaged file, or a custom layer Keras does not know
        raise ValueError(f"{path} could not be loaded as a Keras model ({_first_line(err)}); if it is damaged, re-run "
                         "the training cell to recreate it (a model with custom layers also needs custom_objects=)") from err
