"""Tests for ``course_utils.model_file``: single ``.keras`` files saved atomically and checked before they load."""

from __future__ import annotations

import os
import re
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import layers

from course_utils.model_file import load_model_checked, save_model_atomic


def make_model(seed=0):
    """A Dense model 4 -> 8 (batch norm) -> 3."""
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((4,)), layers.Dense(8), layers.BatchNormalization(), layers.ReLU(),
                             layers.Dense(3, dtype="float32")])


def test_save_model_atomic_round_trip(tmp_path):
    model = make_model()
    path = save_model_atomic(model, tmp_path / "models" / "generator.keras")
    assert path == tmp_path / "models" / "generator.keras" and sorted(os.listdir(path.parent)) == ["generator.keras"]
    loaded = load_model_checked(path)
    z = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(z, verbose=0), model.predict(z, verbose=0))
    for a, b in zip(loaded.weights, model.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize("name, suffix", [("generator.h5", ".h5"), ("generator", "(none)"), ("g.keras.bak", ".bak")])
def test_wrong_suffix_is_refused(tmp_path, name, suffix):
    model = make_model()
    match = rf"expected a path ending in '.keras', got suffix '{re.escape(suffix)}' in "
    with pytest.raises(ValueError, match=match):
        save_model_atomic(model, tmp_path / name)
    with pytest.raises(ValueError, match=match):
        load_model_checked(tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_failed_save_leaves_the_old_file_untouched(tmp_path, monkeypatch):
    model = make_model()
    path = save_model_atomic(model, tmp_path / "generator.keras")
    old = path.read_bytes()

    def broken_save(target, *args, **kwargs):
        Path(target).write_bytes(b"PK half a file")
        raise OSError("disk full")

    monkeypatch.setattr(model, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_model_atomic(model, path)
    assert path.read_bytes() == old and os.listdir(tmp_path) == ["generator.keras"]


def test_missing_or_truncated_model_file_raises(tmp_path):
    with pytest.raises(ValueError, match=r"expected a saved model at .*nope.keras, found no such file"):
        load_model_checked(tmp_path / "nope.keras")
    path = save_model_atomic(make_model(), tmp_path / "generator.keras")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ValueError, match=r"generator.keras is damaged or truncated .*re-run the training cell to recreate it"):
        load_model_checked(path)
