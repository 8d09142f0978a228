"""course_utils.pretrained: the shipped, checksummed generator and its training record."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from course_utils import data, pretrained
from course_utils.lessons import load_lesson_code


@pytest.fixture(scope="module")
def lesson():
    return load_lesson_code("04_dcgan")


def _tiny(width=3, seed=0):
    import keras

    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(width), keras.layers.Dense(2)])


def _record():
    return {"recipe": {"batch_size": 32}, "steps": 10, "train_time_s": 1.0, "fid": 50.0, "coverage": 9,
            "fid_samples": 500, "machine": {"cpu_model": "test"}, "versions": {}, "curve": []}


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    return tmp_path


def test_save_then_load_gives_the_same_model_and_the_record(data_dir):
    model = _tiny(seed=1)
    weights, record_file = pretrained.save_trained_generator(model, _record(), name="tiny")
    assert weights == data_dir / "tiny.weights.h5" and record_file == data_dir / "tiny.json"
    assert oct(weights.stat().st_mode & 0o777) == oct(0o644 & ~_umask())
    record = json.loads(record_file.read_text())
    assert record["sha256"] == data.sha256_of(weights) and record["params"] == model.count_params()
    fresh = _tiny(seed=2)
    got = pretrained.load_trained_generator(fresh, name="tiny")
    assert got["fid"] == 50.0
    x = np.ones((2, 4), np.float32)
    np.testing.assert_array_equal(model(x).numpy(), fresh(x).numpy())


def _umask():
    import os

    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_a_damaged_or_replaced_weights_file_is_refused(data_dir):
    pretrained.save_trained_generator(_tiny(), _record(), name="tiny")
    path = data_dir / "tiny.weights.h5"
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    path.write_bytes(bytes(blob))
    fresh = _tiny(seed=5)
    before = [w.copy() for w in fresh.get_weights()]
    with pytest.raises(ValueError, match=r"tiny.weights.h5 is damaged or not the course's file: SHA-256 .* expects"):
        pretrained.load_trained_generator(fresh, name="tiny")
    for a, b in zip(before, fresh.get_weights()):
        np.testing.assert_array_equal(a, b)  # nothing was loaded
    path.unlink()
    with pytest.raises(ValueError, match="is missing"):
        pretrained.load_trained_generator(fresh, name="tiny")


def test_the_wrong_architecture_is_refused_by_name(data_dir):
    pretrained.save_trained_generator(_tiny(width=3), _record(), name="tiny")
    with pytest.raises(ValueError, match="generator has .* parameters, the course's trained tiny has"):
        pretrained.load_trained_generator(_tiny(width=5), name="tiny")
    with pytest.raises(ValueError, match="must be a Keras model"):
        pretrained.load_trained_generator(object(), name="tiny")


@pytest.mark.parametrize("text, match", [("{not json", "not a readable JSON record"),
                                         ('{"schema": "trained_model/1"}', "missing"),
                                         ("[]", "missing")])
def test_a_broken_record_is_refused(data_dir, text, match):
    (data_dir / "tiny.json").write_text(text)
    with pytest.raises(ValueError, match=match):
        pretrained.read_record("tiny")


@pytest.mark.parametrize("name", ["", "../data/x", ".hidden", 3])
def test_names_are_plain_stems(name):
    with pytest.raises(ValueError, match="name must be a plain file stem"):
        pretrained.record_path(name)


def test_the_shipped_generator_matches_its_record_and_the_lessons_recipe(lesson, tmp_path, monkeypatch):
    record = pretrained.read_record()
    assert record["recipe"] == lesson.RECIPE, "retrain it (tools/train_course_generator.py) after a recipe change"
    g = lesson.build_generator()
    pretrained.load_trained_generator(g)
    assert record["fid"] <= 12 and record["coverage"] == 10 and record["fid_samples"] == 2000
    # Its quality is real: the evaluator scores fresh samples near the recorded figure.
    from course_utils import evaluator

    noise = np.random.default_rng(7).standard_normal((2000, lesson.NOISE_DIM)).astype(np.float32)
    images = lesson.sample(g, noise)
    assert evaluator.load_evaluator().fid(images) <= record["fid"] + 3.0
    # A copy of data/ whose weights were swapped for an untrained generator's is refused.
    copy = tmp_path / "data"
    shutil.copytree(data.data_dir(), copy)
    monkeypatch.setenv("COURSE_DATA_DIR", str(copy))
    lesson.build_generator().save_weights(copy / record["file"])
    with pytest.raises(ValueError, match="damaged or not the course's file"):
        pretrained.load_trained_generator(lesson.build_generator())
