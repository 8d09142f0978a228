"""Tests for ``course_utils.gan_checkpoint`` (and the names ``course_utils.checkpoints`` re-exports): exact resume,
damaged or foreign checkpoints, SIGKILL. The single ``.keras`` files of ``course_utils.model_file``: test_model_file.py."""

from __future__ import annotations

import inspect
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers

from course_utils import checkpoints, gan_checkpoint, model_file
from course_utils.gan_checkpoint import GANCheckpoint

REPO = Path(__file__).resolve().parents[1]

# The tiny GAN every test uses; the SIGKILL test's script is given the same three functions' source.

def make_gan(seed=0, width=8, loss_scale=False):
    """A Dense generator 4 -> width (batch norm) -> 3 and a Dense discriminator 3 -> 8 -> 1, with Adam(2e-4, 0.5)."""
    keras.utils.set_random_seed(seed)
    generator = keras.Sequential([keras.Input((4,)), layers.Dense(width), layers.BatchNormalization(), layers.ReLU(),
                                  layers.Dense(3, dtype="float32")])
    discriminator = keras.Sequential([keras.Input((3,)), layers.Dense(8), layers.LeakyReLU(0.2),
                                      layers.Dense(1, dtype="float32")])
    opts = [keras.optimizers.Adam(2e-4, beta_1=0.5), keras.optimizers.Adam(2e-4, beta_1=0.5)]
    if loss_scale:
        opts = [keras.optimizers.LossScaleOptimizer(opt) for opt in opts]
    return dict(generator=generator, discriminator=discriminator, g_optimizer=opts[0], d_optimizer=opts[1])


def make_train_step(gan):
    """One non-saturating GAN step on (z, x); returns (d_loss, g_loss)."""
    g, d, g_opt, d_opt = gan["generator"], gan["discriminator"], gan["g_optimizer"], gan["d_optimizer"]
    scaled = isinstance(g_opt, keras.optimizers.LossScaleOptimizer)

    @tf.function
    def train_step(z, x):
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            fake = g(z, training=True)
            real_logits, fake_logits = d(x, training=True), d(fake, training=True)
            d_loss = tf.reduce_mean(tf.nn.softplus(-real_logits)) + tf.reduce_mean(tf.nn.softplus(fake_logits))
            g_loss = tf.reduce_mean(tf.nn.softplus(-fake_logits))
            g_obj, d_obj = (g_opt.scale_loss(g_loss), d_opt.scale_loss(d_loss)) if scaled else (g_loss, d_loss)
        g_opt.apply_gradients(zip(g_tape.gradient(g_obj, g.trainable_variables), g.trainable_variables))
        d_opt.apply_gradients(zip(d_tape.gradient(d_obj, d.trainable_variables), d.trainable_variables))
        return d_loss, g_loss

    return train_step


def make_batches(n, seed=0):
    rng = np.random.default_rng(seed)
    return [(tf.constant(rng.normal(size=(8, 4)), tf.float32), tf.constant(rng.normal(1.0, 0.5, size=(8, 3)), tf.float32))
            for _ in range(n)]


def snapshot(gan, optimizers: bool = True) -> list[tuple[str, np.ndarray]]:
    """Every variable of both networks (and optimizers), in order, named independently of Keras' name counters."""
    out = []
    for key in ("generator", "discriminator"):
        out += [(f"{key}/{i}:{v.name}", v.numpy()) for i, v in enumerate(gan[key].weights)]
    for key in ("g_optimizer", "d_optimizer") if optimizers else ():
        out += [(f"{key}/{i}:{v.name.rsplit('_', 1)[-1]}", v.numpy()) for i, v in enumerate(gan[key].variables)]
    return out


def assert_same_state(got, expected):
    assert [name for name, _ in got] == [name for name, _ in expected]
    for (name, a), (_, b) in zip(got, expected):
        np.testing.assert_array_equal(a, b, err_msg=name)


def train_and_save(run_dir, steps=3, *, every=3, extra=None, **gan_kwargs):
    gan = make_gan(**gan_kwargs)
    ckpt = GANCheckpoint(run_dir, **gan, every_n_steps=every, extra=extra)
    ckpt.restore()
    train_step = make_train_step(gan)
    for z, x in make_batches(steps):
        train_step(z, x)
        ckpt.advance()
        ckpt.maybe_save()
    return gan, ckpt


# --- exact resume ----------------------------------------------------------------------------------

@pytest.mark.parametrize("mixed", [False, True], ids=["adam", "mixed_float16-loss_scale"])
def test_resume_restores_everything_exactly_and_training_continues_identically(tmp_path, capsys, mixed):
    if mixed:
        keras.config.set_dtype_policy("mixed_float16")
    try:
        batches = make_batches(5)
        original = make_gan(seed=0, loss_scale=mixed)
        ckpt = GANCheckpoint(tmp_path / "run", **original, every_n_steps=3)
        assert ckpt.restore() == 0
        step = make_train_step(original)
        for z, x in batches[:3]:
            step(z, x)
            ckpt.advance()
        ckpt.advance_epoch()
        assert ckpt.maybe_save() == str(tmp_path / "run" / "ckpt-3")
        saved = snapshot(original)

        fresh = make_gan(seed=1, loss_scale=mixed)  # other initial weights, optimizers not built
        assert not fresh["g_optimizer"].built and not fresh["d_optimizer"].built
        resumed = GANCheckpoint(tmp_path / "run", **fresh, every_n_steps=3)
        capsys.readouterr()
        assert resumed.restore() == 3 and resumed.steps_done == 3 and resumed.epochs_done == 1
        assert f"Resumed from step 3 (epoch 1) in {tmp_path / 'run'}" in capsys.readouterr().out
        # Right after restore(), before any step: weights, BN moving stats, iterations and Adam moments
        # (these only exist here because restore() built the optimizers) equal the saved ones.
        assert_same_state(snapshot(fresh), saved)
        g_opt = fresh["g_optimizer"].inner_optimizer if mixed else fresh["g_optimizer"]
        assert int(g_opt.iterations.numpy()) == 3
        moments = [v.numpy() for v in g_opt.variables if v.name.endswith(("momentum", "velocity"))]
        assert len(moments) == 2 * len(fresh["generator"].trainable_variables) and all(np.any(m != 0) for m in moments)
        bn = fresh["generator"].layers[1]
        assert np.any(bn.moving_mean.numpy() != 0) and np.any(bn.moving_variance.numpy() != 1)
        if mixed:
            assert [v.name for v in fresh["g_optimizer"].variables if "scale" in v.name] == ["dynamic_scale"]

        # Two more steps on both: the resumed run is bit-for-bit the uninterrupted one.
        step_fresh = make_train_step(fresh)
        for z, x in batches[3:]:
            step(z, x)
            step_fresh(z, x)
        assert_same_state(snapshot(fresh), snapshot(original))
    finally:
        keras.config.set_dtype_policy("float32")


def test_no_checkpoint_starts_from_zero_and_changes_nothing(tmp_path, capsys):
    gan = make_gan()
    before = snapshot(gan, optimizers=False)
    ckpt = GANCheckpoint(tmp_path / "nothing-here", **gan)
    assert ckpt.restore() == 0 and ckpt.epochs_done == 0 and ckpt.latest is None
    assert f"No checkpoint in {tmp_path / 'nothing-here'}: starting from scratch" in capsys.readouterr().out
    assert_same_state(snapshot(gan, optimizers=False), before)
    assert gan["g_optimizer"].built  # built by restore(), ready to be saved with its moments


# --- what gets saved when --------------------------------------------------------------------------

def test_maybe_save_respects_every_n_steps(tmp_path):
    ckpt = GANCheckpoint(tmp_path / "run", **make_gan(), every_n_steps=3)
    ckpt.restore()
    saved_at = []
    for _ in range(7):
        ckpt.advance()
        if ckpt.maybe_save():
            saved_at.append(ckpt.steps_done)
        assert ckpt.maybe_save() is None  # never twice at one step
    assert saved_at == [3, 6] and ckpt.saved_steps == [3, 6]
    assert ckpt.save() == str(tmp_path / "run" / "ckpt-7")  # save() does not wait for a multiple


def test_max_to_keep_prunes_old_checkpoints_and_their_history(tmp_path):
    run = tmp_path / "run"
    history = {"step": []}
    ckpt = GANCheckpoint(run, **make_gan(), every_n_steps=1, max_to_keep=2, extra=history)
    ckpt.restore()
    run.mkdir()
    (run / "ckpt-99.history.json.part").write_text("{")  # left by a killed save
    (run / "ckpt-98_temp").mkdir()  # TensorFlow's staging folder, left by a killed save
    (run / "notes.txt").write_text("mine")  # not ours: left alone
    for _ in range(4):
        history["step"].append(ckpt.advance())
        ckpt.maybe_save()
    assert ckpt.saved_steps == [3, 4]
    names = sorted(p.name for p in run.iterdir())
    assert names == [".lock", "checkpoint", "ckpt-3.data-00000-of-00001", "ckpt-3.history.json", "ckpt-3.index",
                     "ckpt-4.data-00000-of-00001", "ckpt-4.history.json", "ckpt-4.index", "notes.txt"]
    assert json.loads((run / "ckpt-3.history.json").read_text())["history"] == {"step": [1, 2, 3]}
    # Written files are readable by others (0644 under the usual umask), not 0600 as mkstemp would leave them.
    old_mask = os.umask(0o022)
    os.umask(old_mask)
    expected_mode = 0o666 & ~old_mask
    for name in ("checkpoint", "ckpt-4.history.json"):
        assert (run / name).stat().st_mode & 0o777 == expected_mode, name


def test_history_round_trips_and_matches_the_checkpoint_restored(tmp_path, capsys, monkeypatch):
    run = tmp_path / "run"
    history = {"d_loss": [], "fid": [np.float64(91.5)], "note": "first run"}
    gan = make_gan()
    ckpt = GANCheckpoint(run, **gan, every_n_steps=2, extra=history)
    ckpt.restore()
    step = make_train_step(gan)
    for z, x in make_batches(4):
        d_loss, _ = step(z, x)
        history["d_loss"].append(d_loss)  # an eager tensor: stored as a number
        ckpt.advance()
        ckpt.maybe_save()
    expected = json.loads(json.dumps({**history, "d_loss": [float(v) for v in history["d_loss"]]}))

    # A kill after step 6's history file was written but before its checkpoint: step 4 and its history win.
    for _ in range(2):
        history["d_loss"].append(0.0)
        ckpt.advance()
    monkeypatch.setattr(ckpt.checkpoint, "write", lambda *a, **kw: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        ckpt.maybe_save()
    assert (run / "ckpt-6.history.json").is_file() and ckpt.saved_steps == [2, 4]

    restored_history = {"d_loss": ["stale"], "other": 1}
    resumed = GANCheckpoint(run, **make_gan(seed=1), extra=restored_history)
    assert resumed.restore() == 4
    assert resumed.history is restored_history and restored_history == expected  # updated in place
    assert len(restored_history["d_loss"]) == resumed.steps_done
    capsys.readouterr()
    assert resumed.save() == str(run / "ckpt-4.1")  # the next save removes the orphan history file of step 6
    assert not (run / "ckpt-6.history.json").exists()


def test_resaving_a_step_records_the_new_epoch_and_an_interrupted_rewrite_falls_back(tmp_path, monkeypatch):
    run = tmp_path / "run"
    history = {"epochs": []}
    _, ckpt = train_and_save(run, steps=4, every=2, extra=history)  # checkpoints at steps 2 and 4
    history["epochs"].append(1)
    ckpt.advance_epoch()
    # The epoch ended on a multiple of every_n_steps: the step is saved again, beside the first save, never over it.
    assert ckpt.save() == str(run / "ckpt-4.1")
    assert ckpt.saved_steps == [2, 4] and ckpt.latest == str(run / "ckpt-4.1")
    assert sorted(p.name for p in run.glob("ckpt-4*")) == ["ckpt-4.1.data-00000-of-00001", "ckpt-4.1.history.json",
                                                            "ckpt-4.1.index"]  # the first save of step 4 is gone
    check = GANCheckpoint(run, **make_gan(seed=1), extra={})
    assert check.restore() == 4 and check.epochs_done == 1 and check.history == {"epochs": [1]}

    history["epochs"].append(2)
    ckpt.advance_epoch()
    written = []
    real_write = ckpt.checkpoint.write

    def killed_midway(prefix, **kwargs):
        written.append(prefix)
        real_write(prefix, **kwargs)  # the files are complete, but the state file never gets to name them
        raise KeyboardInterrupt()

    monkeypatch.setattr(ckpt.checkpoint, "write", killed_midway)
    with pytest.raises(KeyboardInterrupt):
        ckpt.save()
    assert written == [str(run / "ckpt-4.2")]
    survivor = GANCheckpoint(run, **make_gan(seed=2), extra={})
    assert survivor.restore() == 4 and survivor.epochs_done == 1 and survivor.history == {"epochs": [1]}


def test_restore_brings_back_the_saved_learning_rate_and_says_so(tmp_path, capsys):
    train_and_save(tmp_path / "run", steps=3)
    gan = make_gan(seed=1)
    gan["g_optimizer"].learning_rate = 1e-3
    with pytest.raises(ValueError, match=r"saved with another recipe: g_optimizer.learning_rate 0.0002 -> 0.001"):
        GANCheckpoint(tmp_path / "run", **gan).restore()
    GANCheckpoint(tmp_path / "run", **gan).restore(allow_recipe_change=True)
    assert np.isclose(float(gan["g_optimizer"].learning_rate.numpy()), 2e-4)
    out = capsys.readouterr().out
    assert "g_optimizer learning rate is 0.0002 as saved (was 0.001" in out and "d_optimizer" not in out


def test_saving_over_an_earlier_run_without_restore_is_refused(tmp_path):
    train_and_save(tmp_path / "run", steps=3)
    other = GANCheckpoint(tmp_path / "run", **make_gan(seed=1), every_n_steps=3)
    other.advance(3)
    with pytest.raises(ValueError, match=r"already holds a checkpoint \(step 3\).*call restore\(\) first.*start over"):
        other.maybe_save()


# --- foreign and damaged checkpoints ---------------------------------------------------------------

@pytest.mark.parametrize("kwargs", [dict(width=16), dict(loss_scale=True)], ids=["wider-generator", "loss-scale-optimizer"])
def test_checkpoint_of_another_set_up_is_refused_and_changes_nothing(tmp_path, kwargs):
    train_and_save(tmp_path / "run", steps=3)
    gan = make_gan(seed=1, **kwargs)
    other = GANCheckpoint(tmp_path / "run", **gan)
    for key in ("g_optimizer", "d_optimizer"):
        gan[key].build(gan["generator" if key == "g_optimizer" else "discriminator"].trainable_variables)
    before = snapshot(gan)
    match = r"does not fit these networks.*expected .*got a checkpoint with .*delete .*run to start over"
    with pytest.raises(ValueError, match=match):
        other.restore()
    assert_same_state(snapshot(gan), before)
    assert other.steps_done == 0


@pytest.mark.parametrize("damage", ["truncate-data", "flip-a-byte", "truncate-index", "delete-index", "empty-state"])
def test_damaged_checkpoint_raises_instead_of_being_used(tmp_path, damage):
    run = tmp_path / "run"
    train_and_save(run, steps=3)
    data_file, index = run / "ckpt-3.data-00000-of-00001", run / "ckpt-3.index"
    if damage == "truncate-data":
        data_file.write_bytes(data_file.read_bytes()[: data_file.stat().st_size // 2])
    elif damage == "flip-a-byte":
        raw = bytearray(data_file.read_bytes())
        raw[len(raw) // 2] ^= 0xFF
        data_file.write_bytes(bytes(raw))
    elif damage == "truncate-index":
        index.write_bytes(index.read_bytes()[:40])
    elif damage == "delete-index":
        index.unlink()
    else:
        (run / "checkpoint").write_text("")
    match = {"delete-index": "ckpt-3.index is missing", "empty-state": "lists no usable checkpoint"}.get(
        damage, "is damaged or truncated and was not used")
    gan = make_gan(seed=1)
    before = snapshot(gan, optimizers=False)
    with pytest.raises(ValueError, match=rf"{match}.*delete .*run to start over"):
        GANCheckpoint(run, **gan).restore()
    assert_same_state(snapshot(gan, optimizers=False), before)


def test_damaged_history_file_raises(tmp_path):
    run = tmp_path / "run"
    train_and_save(run, steps=3, extra={"loss": [1.0]})
    (run / "ckpt-3.history.json").write_text('{"loss": [1.0')
    with pytest.raises(ValueError, match=r"run history .*ckpt-3.history.json is damaged"):
        GANCheckpoint(run, **make_gan(seed=1), extra={}).restore()


# --- lost state file, swapped or edited history, paths outside the folder, two writers (issue 16) ---------

def test_deleted_state_file_resumes_from_the_newest_checkpoint_and_deletes_nothing(tmp_path, capsys):
    run = tmp_path / "run"
    history = {"step": []}
    gan, ckpt = make_gan(), None
    ckpt = GANCheckpoint(run, **gan, every_n_steps=3, extra=history)
    ckpt.restore()
    for _ in range(6):
        history["step"].append(ckpt.advance())
        ckpt.maybe_save()
    saved = snapshot(gan)
    (run / "checkpoint").unlink()
    before = sorted(p.name for p in run.iterdir())

    resumed_history = {}
    resumed = GANCheckpoint(run, **make_gan(seed=1), every_n_steps=3, extra=resumed_history)
    capsys.readouterr()
    assert resumed.restore() == 6 and resumed_history == {"step": [1, 2, 3, 4, 5, 6]}
    out = capsys.readouterr().out
    assert "state file" in out and "was missing: rebuilt it from the checkpoints found (ckpt-3, ckpt-6)" in out
    assert_same_state(snapshot({**resumed.__dict__, "generator": resumed.generator, "discriminator": resumed.discriminator,
                                "g_optimizer": resumed.g_optimizer, "d_optimizer": resumed.d_optimizer}), saved)
    assert resumed.saved_steps == [3, 6]
    assert set(before) <= {p.name for p in run.iterdir()}, "nothing may be deleted while recovering"
    resumed.advance(3)
    resumed.maybe_save()  # the next save keeps the history of what it keeps
    assert resumed.saved_steps == [6, 9] and (run / "ckpt-6.history.json").is_file()


def test_saving_without_restore_after_losing_the_state_file_is_refused(tmp_path):
    train_and_save(tmp_path / "run", steps=3)
    (tmp_path / "run" / "checkpoint").unlink()
    other = GANCheckpoint(tmp_path / "run", **make_gan(seed=1), every_n_steps=3)
    other.advance(3)
    with pytest.raises(ValueError, match=r"already holds a checkpoint \(step 3\).*call restore\(\) first"):
        other.save()
    assert (tmp_path / "run" / "ckpt-3.index").is_file()


@pytest.mark.parametrize("swap", ["edited", "other-run-history", "foreign-checkpoint", "missing"])
def test_history_is_bound_to_its_checkpoint(tmp_path, swap):
    run, other = tmp_path / "run", tmp_path / "other"
    train_and_save(run, steps=3, extra={"loss": [1.0, 2.0, 3.0]})
    train_and_save(other, steps=3, extra={"loss": [9.0, 9.0, 9.0]}, seed=5)  # same architecture, another run
    history = run / "ckpt-3.history.json"
    if swap == "edited":
        history.write_text(history.read_text().replace("2.0", "0.5"))
    elif swap == "other-run-history":
        history.write_bytes((other / "ckpt-3.history.json").read_bytes())
    elif swap == "foreign-checkpoint":  # another run's tensors next to our history
        for suffix in (".index", ".data-00000-of-00001"):
            (run / f"ckpt-3{suffix}").write_bytes((other / f"ckpt-3{suffix}").read_bytes())
    else:
        history.unlink()
    match = r"history .*ckpt-3.history.json of the checkpoint .*ckpt-3 is missing" if swap == "missing" else (
        r"run history .*ckpt-3.history.json is not the one saved with the checkpoint .*SHA-256 expected")
    gan = make_gan(seed=1)
    before = snapshot(gan, optimizers=False)
    extra = {"mine": 1}
    with pytest.raises(ValueError, match=match):
        GANCheckpoint(run, **gan, extra=extra).restore()
    assert_same_state(snapshot(gan, optimizers=False), before) and extra == {"mine": 1}


def test_history_of_a_run_saved_without_extra_leaves_extra_alone_and_says_so(tmp_path, capsys):
    train_and_save(tmp_path / "run", steps=3)  # extra=None
    extra = {"kept": [1]}
    capsys.readouterr()
    assert GANCheckpoint(tmp_path / "run", **make_gan(seed=1), extra=extra).restore() == 3
    assert extra == {"kept": [1]} and "no run history was saved with it" in capsys.readouterr().out


@pytest.mark.parametrize("listed", ["absolute", "relative"])
def test_state_file_naming_files_outside_the_folder_is_refused_and_nothing_is_deleted(tmp_path, listed):
    run, elsewhere = tmp_path / "run", tmp_path / "elsewhere"
    _, ckpt = train_and_save(run, steps=3, every=1)
    elsewhere.mkdir()
    precious = [elsewhere / "precious.index", elsewhere / "precious.data-00000-of-00001", elsewhere / "ckpt-1.index"]
    for path in precious:
        path.write_text("keep me")
    target = str(elsewhere / "precious") if listed == "absolute" else "../elsewhere/ckpt-1"
    (run / "checkpoint").write_text(f'model_checkpoint_path: "ckpt-3"\nall_model_checkpoint_paths: "{target}"\n'
                                    'all_model_checkpoint_paths: "ckpt-3"\n')
    match = r"lists '.*(precious|ckpt-1)'.*got a path outside it.*Nothing was used or deleted"
    with pytest.raises(ValueError, match=match):
        GANCheckpoint(run, **make_gan(seed=1)).restore()
    ckpt.advance()
    with pytest.raises(ValueError, match=match):
        ckpt.save()  # the run that was writing here: a save prunes old checkpoints, and must refuse instead
    assert all(path.read_text() == "keep me" for path in precious)


LOCK_HOLDER = """
import sys, time
from pathlib import Path
from course_utils.gan_checkpoint import _lock_folder
_lock_folder(Path(sys.argv[1]))
print("locked", flush=True)
time.sleep(60)
"""


def test_a_second_writer_is_refused_with_the_other_pid(tmp_path):
    run = tmp_path / "run"
    train_and_save(run, steps=3)  # this process holds the lock now
    busy = tmp_path / "busy"
    python_path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    proc = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(busy)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": python_path})
    try:
        assert proc.stdout.readline().strip() == "locked"
        gan = make_gan(seed=1)
        ckpt = GANCheckpoint(busy, **gan, every_n_steps=3)
        with pytest.raises(ValueError, match=rf"already used by another process \(PID {proc.pid}\).*kill {proc.pid}"):
            ckpt.restore()
        ckpt._may_save = True
        with pytest.raises(ValueError, match=rf"PID {proc.pid}"):
            ckpt.save()
        assert not list(busy.glob("ckpt-*"))
    finally:
        proc.kill()
        proc.wait(timeout=30)
        proc.stdout.close()
    # Once the other process is gone its lock goes with it (the kernel drops it), even after kill -9.
    assert GANCheckpoint(busy, **make_gan(seed=1)).restore() == 0
    # Two objects of one process (the lesson's "simulated restart") share the lock.
    assert GANCheckpoint(run, **make_gan(seed=2)).restore() == 3


def test_history_is_written_atomically_so_a_crash_leaves_no_half_file(tmp_path, monkeypatch):
    """A crash in the middle of writing the history file (here: at its fsync) leaves no half-written history."""
    run = tmp_path / "run"
    history = {"loss": list(range(1000))}
    _, ckpt = train_and_save(run, steps=3, extra=history)
    ckpt.advance(3)

    def crash(fd):
        raise KeyboardInterrupt()

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(KeyboardInterrupt):
        ckpt.save()
    monkeypatch.undo()
    assert not (run / "ckpt-6.history.json").exists() and not [p for p in run.iterdir() if p.name.endswith(".part")]
    resumed = {}
    assert GANCheckpoint(run, **make_gan(seed=1), extra=resumed).restore() == 3 and resumed == history


# --- argument checks -------------------------------------------------------------------------------

@pytest.mark.parametrize("change, match", [
    (dict(every_n_steps=0), r"every_n_steps must be an int >= 1, got 0"),
    (dict(every_n_steps=2.5), r"every_n_steps must be an int >= 1, got 2.5"),
    (dict(every_n_steps=True), r"every_n_steps must be an int >= 1, got True"),
    (dict(max_to_keep=0), r"max_to_keep must be an int >= 1, got 0"),
    (dict(generator="G"), r"generator must be a keras.Model \(Keras 3\), got builtins.str"),
    (dict(d_optimizer=object()), r"d_optimizer must be a keras.optimizers.Optimizer .*got builtins.object"),
    (dict(extra=[1, 2]), r"extra must be a dict of run history \(or None\), got list"),
    ("same-optimizer", r"two different optimizer objects"),
])
def test_bad_arguments(tmp_path, change, match):
    kwargs = make_gan()
    if change == "same-optimizer":
        kwargs["d_optimizer"] = kwargs["g_optimizer"]
    else:
        kwargs.update(change)
    with pytest.raises(ValueError, match=match):
        GANCheckpoint(tmp_path / "run", **kwargs)


def test_unbuilt_model_advance_and_unserialisable_history_are_reported(tmp_path):
    gan = make_gan()
    gan["generator"] = keras.Sequential([layers.Dense(3)])  # no Input: no weights yet
    with pytest.raises(ValueError, match=r"the generator has no weights yet: expected a built model"):
        GANCheckpoint(tmp_path / "a", **gan).restore()
    ckpt = GANCheckpoint(tmp_path / "b", **make_gan(), extra={"fn": print})
    with pytest.raises(ValueError, match=r"n_steps must be an int >= 1, got 0"):
        ckpt.advance(0)
    ckpt.restore()
    with pytest.raises(ValueError, match=r"extra must be JSON-serialisable"):
        ckpt.save()
    assert not (tmp_path / "b").exists() or not any((tmp_path / "b").iterdir())


# --- the names lessons use ------------------------------------------------------------------------

def test_checkpoints_re_exports_the_names_lessons_use():
    assert checkpoints.GANCheckpoint is gan_checkpoint.GANCheckpoint
    assert checkpoints.training_history is gan_checkpoint.training_history
    assert checkpoints.save_model_atomic is model_file.save_model_atomic
    assert checkpoints.load_model_checked is model_file.load_model_checked
    assert sorted(checkpoints.__all__) == sorted(gan_checkpoint.__all__ + model_file.__all__)


# --- a real kill -9 in the middle of training ------------------------------------------------------

TRAIN_SCRIPT = '''
import sys, time
import keras
import numpy as np
import tensorflow as tf
from keras import layers
from course_utils.gan_checkpoint import GANCheckpoint
''' + "\n".join(inspect.getsource(f) for f in (make_gan, make_train_step, make_batches)) + '''
run_dir, mode = sys.argv[1], sys.argv[2]
gan = make_gan()
history = {"g_loss": []}
ckpt = GANCheckpoint(run_dir, **gan, every_n_steps=5, max_to_keep=2, extra=history)
start = ckpt.restore()
print(f"resumed {start} {len(history['g_loss'])}", flush=True)
train_step = make_train_step(gan)
batches = make_batches(7)
stop, deadline = (start + 10 if mode == "resume" else 10**9), time.monotonic() + 120
while ckpt.steps_done < stop and time.monotonic() < deadline:
    _, g_loss = train_step(*batches[ckpt.steps_done % 7])
    history["g_loss"].append(float(g_loss))
    ckpt.advance()
    if ckpt.maybe_save():
        print(f"saved {ckpt.steps_done}", flush=True)
print(f"done {ckpt.steps_done}", flush=True)
'''


def test_sigkill_during_training_resumes_from_the_last_saved_step(tmp_path):
    script, run = tmp_path / "train_gan.py", tmp_path / "run"
    script.write_text(textwrap.dedent(TRAIN_SCRIPT))
    python_path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": python_path, "CUDA_VISIBLE_DEVICES": ""}
    lines: list[str] = []
    with open(tmp_path / "stderr.txt", "w") as err:
        proc = subprocess.Popen([sys.executable, str(script), str(run), "train"], stdout=subprocess.PIPE, stderr=err,
                                text=True, env=env)
        reader = threading.Thread(target=lambda: [lines.append(line) for line in proc.stdout], daemon=True)
        reader.start()
        try:
            deadline = time.monotonic() + 600  # a loaded shared machine can take minutes just to import TensorFlow
            while time.monotonic() < deadline and proc.poll() is None:
                saves = [int(line.split()[1]) for line in list(lines) if line.startswith("saved")]
                if len(saves) >= 2 and saves[-1] >= 10:
                    break
                time.sleep(0.05)
            stderr = (tmp_path / "stderr.txt").read_text
            assert proc.poll() is None, f"the training script stopped early:\n{''.join(lines)}\n{stderr()}"
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)
            reader.join(timeout=30)
            proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    saves = [int(line.split()[1]) for line in lines if line.startswith("saved")]
    assert len(saves) >= 2 and saves[-1] >= 10, f"killed before two saves:\n{''.join(lines)}"

    resumed = subprocess.run([sys.executable, str(script), str(run), "resume"], capture_output=True, text=True,
                             env=env, timeout=600)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    notice, marker, *rest = resumed.stdout.splitlines()
    start, n_history = map(int, marker.split()[1:])
    assert marker.startswith("resumed") and notice == f"Resumed from step {start} (epoch 0) in {run}"
    # The last save printed, or the one after it if the kill came between its save and its print.
    assert start in (saves[-1], saves[-1] + 5) and start >= 10
    assert n_history == start  # the history restored is the one saved with that checkpoint
    assert rest == [f"saved {start + 5}", f"saved {start + 10}", f"done {start + 10}"]


# --- issue 24: a changed recipe is refused, a damaged newest checkpoint falls back, a full disk is said ----------

@pytest.mark.parametrize("change", ["beta_1", "learning_rate", "r1_gamma", "real_label"])
def test_a_changed_recipe_is_refused_unless_asked_for(tmp_path, capsys, change):
    run = tmp_path / "run"
    recipe = {"r1_gamma": 1.0, "real_label": 0.9}
    gan = make_gan()
    ckpt = GANCheckpoint(run, **gan, every_n_steps=2, recipe=recipe)
    ckpt.restore()
    ckpt.advance(2)
    ckpt.save()
    gan = make_gan(seed=1)
    new_recipe = dict(recipe)
    if change == "beta_1":
        gan["g_optimizer"] = keras.optimizers.Adam(2e-4, beta_1=0.9)
    elif change == "learning_rate":
        gan["d_optimizer"] = keras.optimizers.Adam(1e-3, beta_1=0.5)
    else:
        new_recipe[change] = 0.5
    other = GANCheckpoint(run, **gan, recipe=new_recipe)
    before = snapshot(gan, optimizers=False)
    with pytest.raises(ValueError, match=rf"saved with another recipe: .*{change} .*-> .*restore\(allow_recipe_change=True\)"):
        other.restore()
    assert other.steps_done == 0
    assert_same_state(snapshot(gan, optimizers=False), before)  # nothing was changed
    assert other.restore(allow_recipe_change=True) == 2
    assert "resumed under a changed recipe" in capsys.readouterr().out


def test_a_damaged_newest_checkpoint_falls_back_to_the_last_good_one_and_says_so(tmp_path, capsys):
    run = tmp_path / "run"
    train_and_save(run, steps=4, every=2, extra={"loss": []})  # ckpt-2 and ckpt-4
    data_file = run / "ckpt-4.data-00000-of-00001"
    raw = bytearray(data_file.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    data_file.write_bytes(bytes(raw))
    capsys.readouterr()
    ckpt = GANCheckpoint(run, **make_gan(seed=1), every_n_steps=2, extra={})
    assert ckpt.restore() == 2
    out = capsys.readouterr().out
    assert re.search(r"ckpt-4 \(step 4\) is damaged .*fell back to .*ckpt-2", out), out
    assert ckpt.saved_steps == [2]
    ckpt.advance(2)
    assert ckpt.save() == str(run / "ckpt-4.1")  # the damaged files are never overwritten nor used
    assert GANCheckpoint(run, **make_gan(seed=2), extra={}).restore() == 4


@pytest.mark.parametrize("where", ["checkpoint", "history"])
def test_a_full_disk_is_a_clear_error_and_leaves_no_temporary_files(tmp_path, monkeypatch, where):
    import errno

    from course_utils import atomic

    run = tmp_path / "run"
    _, ckpt = train_and_save(run, steps=2, every=2, extra={"loss": []})
    before = sorted(os.listdir(run))
    ckpt.advance(2)
    if where == "checkpoint":
        def full(prefix, **kwargs):
            Path(prefix + "_temp").mkdir()
            (Path(prefix + "_temp") / "part-00000-of-00001.data-00000-of-00001").write_bytes(b"x" * 100)
            raise tf.errors.ResourceExhaustedError(None, None, f"{prefix}_temp/part; No space left on device")

        monkeypatch.setattr(ckpt.checkpoint, "write", full)
    else:
        def full(path, payload):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))

        monkeypatch.setattr(atomic, "write_bytes", full)
    with pytest.raises(OSError, match=r"disk is full: the checkpoint of step 4 was not saved; .*ckpt-2 .*is intact"):
        ckpt.save()
    assert sorted(os.listdir(run)) == before
    assert GANCheckpoint(run, **make_gan(seed=1), extra={}).restore() == 2


def test_old_checkpoints_are_deleted_only_after_the_state_file_names_the_new_one(tmp_path, monkeypatch):
    run = tmp_path / "run"
    gan = make_gan()
    ckpt = GANCheckpoint(run, **gan, every_n_steps=2, max_to_keep=1, extra={"loss": []})
    ckpt.restore()
    ckpt.advance(2)
    ckpt.save()

    def killed(names):
        raise KeyboardInterrupt()

    monkeypatch.setattr(ckpt, "_write_state", killed)
    ckpt.advance(2)
    with pytest.raises(KeyboardInterrupt):
        ckpt.save()  # killed just before the state file names ckpt-4: ckpt-2 must still be whole
    assert GANCheckpoint(run, **make_gan(seed=1), extra={}).restore() == 2
