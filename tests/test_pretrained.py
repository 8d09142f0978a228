"""course_utils.pretrained: the shipped, checksummed generator and its training record."""

from __future__ import annotations

import dataclasses
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
    with pytest.raises(ValueError,
                       match=r"tiny.weights.h5 is corrupt or incomplete: SHA-256 is .* expected .* not the course.s file"):
        pretrained.load_trained_generator(fresh, name="tiny")
    for a, b in zip(before, fresh.get_weights()):
        np.testing.assert_array_equal(a, b)  # nothing was loaded
    path.unlink()
    with pytest.raises(ValueError, match=r"expected the course's trained tiny at .*tiny.weights.h5, found none\. "
                                         r"Restore it with `git checkout -- data/`"):
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
    assert record["recipe"] == dataclasses.asdict(lesson.RECIPE), "retrain it (tools/train_course_generator.py)"
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
    with pytest.raises(ValueError, match="corrupt or incomplete: .* not the course's file"):
        pretrained.load_trained_generator(lesson.build_generator())


# -- issue 24: a record is tied to its name, its file to the data folder, the shipped digests to the code --------

def test_a_record_copied_over_another_name_is_refused(data_dir):
    pretrained.save_trained_generator(_tiny(seed=1), _record(), name="tiny")
    pretrained.save_trained_generator(_tiny(seed=2), _record(), name="other")
    (data_dir / "tiny.json").write_bytes((data_dir / "other.json").read_bytes())
    fresh = _tiny(seed=5)
    before = [w.copy() for w in fresh.get_weights()]
    with pytest.raises(ValueError, match=r"tiny.json is the record of 'other', expected the record of 'tiny'"):
        pretrained.load_trained_generator(fresh, name="tiny")
    record = json.loads((data_dir / "other.json").read_text())
    record["name"] = "tiny"  # the name fixed, but the file and digest still another model's
    (data_dir / "tiny.json").write_text(json.dumps(record))
    with pytest.raises(ValueError, match=r"names the file 'other.weights.h5', expected 'tiny.weights.h5'"):
        pretrained.load_trained_generator(fresh, name="tiny")
    for a, b in zip(before, fresh.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("where", ["../outside/tiny.weights.h5", "absolute"])
def test_a_record_naming_a_file_outside_the_data_folder_is_refused(data_dir, tmp_path_factory, where):
    pretrained.save_trained_generator(_tiny(seed=1), _record(), name="tiny")
    outside = tmp_path_factory.mktemp("outside")
    (outside / "tiny.weights.h5").write_bytes((data_dir / "tiny.weights.h5").read_bytes())
    record = json.loads((data_dir / "tiny.json").read_text())
    record["file"] = str(outside / "tiny.weights.h5") if where == "absolute" else where
    (data_dir / "tiny.json").write_text(json.dumps(record))
    with pytest.raises(ValueError, match=r"names the file .*, expected 'tiny.weights.h5'"):
        pretrained.load_trained_generator(_tiny(seed=5), name="tiny")


@pytest.mark.parametrize("field, value", [("params", "558849"), ("file", 5), ("sha256", None), ("params", True),
                                          ("name", ["tiny"])])
def test_a_record_field_of_the_wrong_type_is_a_clear_error(data_dir, field, value):
    pretrained.save_trained_generator(_tiny(seed=1), _record(), name="tiny")
    record = json.loads((data_dir / "tiny.json").read_text())
    record[field] = value
    (data_dir / "tiny.json").write_text(json.dumps(record))
    with pytest.raises(ValueError, match=rf"field '{field}' must be"):
        pretrained.load_trained_generator(_tiny(seed=5), name="tiny")


def test_the_shipped_digests_are_pinned_in_code(tmp_path, monkeypatch):
    records = {p.stem: json.loads(p.read_text()) for p in data.data_dir().glob("*.json")}
    shipped = {name for name, r in records.items() if isinstance(r, dict) and r.get("schema") == pretrained.SCHEMA}
    assert shipped and set(pretrained.SHIPPED_SHA256) == shipped
    for name in shipped:
        assert pretrained.read_record(name, ())["sha256"] == pretrained.SHIPPED_SHA256[name]
    # sr4_gan's record and weights copied over sr4's: the names are right, the digest is not the pinned one.
    copy = tmp_path / "data"
    shutil.copytree(data.data_dir(), copy)
    monkeypatch.setenv("COURSE_DATA_DIR", str(copy))
    record = json.loads((copy / "restore_sr4_gan.json").read_text())
    record.update(name="restore_sr4", file="restore_sr4.weights.h5")
    (copy / "restore_sr4.json").write_text(json.dumps(record))
    shutil.copyfile(copy / "restore_sr4_gan.weights.h5", copy / "restore_sr4.weights.h5")
    with pytest.raises(ValueError, match=r"restore_sr4.*not the course's: SHA-256 .* the course pins"):
        pretrained.read_record("restore_sr4", pretrained.MODEL_FIELDS)


def test_a_failed_load_leaves_the_model_as_it_was(data_dir):
    import keras

    keras.utils.set_random_seed(0)
    saved = keras.Sequential([keras.Input((4,)), keras.layers.Dense(6), keras.layers.Dense(3)])  # 30 + 21 = 51
    pretrained.save_trained_generator(saved, _record(), name="tiny")
    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(6), keras.layers.Dense(3, use_bias=False),
                              keras.layers.Dense(1, use_bias=False)])  # 30 + 18 + 3 = 51, other shapes
    assert other.count_params() == saved.count_params()
    before = [w.copy() for w in other.get_weights()]
    with pytest.raises(ValueError, match="could not load"):
        pretrained.load_trained_generator(other, name="tiny")
    for a, b in zip(before, other.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_every_file_in_data_is_documented_with_its_digest():
    readme = (data.data_dir() / "README.md").read_text(encoding="utf-8")
    for path in sorted(data.data_dir().iterdir()):
        if path.name == "README.md" or path.is_dir():
            continue
        assert f"`{path.name}`" in readme or path.name in readme, f"data/README.md does not name {path.name}"
        if path.suffix in {".h5", ".npz"}:
            assert data.sha256_of(path) in readme, f"data/README.md lacks the SHA-256 of {path.name}"


@pytest.mark.parametrize("name", ["colour_generator", "dcgan_generator"])
def test_the_data_readme_quotes_the_shipped_generators_record(name):
    """data/README.md's 'how it was trained' row is typed by hand next to the record the training tool wrote: its
    command, step count, FID and coverage must be the record's, so a new generator cannot ship with an old row."""
    record = json.loads((data.data_dir() / f"{name}.json").read_text(encoding="utf-8"))
    readme = (data.data_dir() / "README.md").read_text(encoding="utf-8")
    rows = [line for line in readme.splitlines()
            if line.startswith("| how it was trained |") and f"`{record['command']}`" in line]
    assert len(rows) == 1, f"data/README.md has no 'how it was trained' row quoting `{record['command']}`"
    row = rows[0]
    assert f"{record['trained_steps']:,} steps" in row, f"the row does not state {record['trained_steps']:,} steps"
    assert f"FID {record['fid']:.3f}" in row, f"the row does not state the record's FID {record['fid']:.3f}"
    assert f"{record['coverage']} of {record.get('n_classes', 10)}" in row, "the row does not state the coverage"
    if record["steps"] != record["trained_steps"]:  # the kept weights are not the last ones: say which were kept
        assert f"step {record['steps']:,}" in row, f"the row does not name the kept step {record['steps']:,}"
    if "floor" in record:
        ratio = record["metrics"]["fid_over_floor"]
        assert f"{record['floor']:.3f}" in row and f"{ratio:.2f}x" in row, \
            "the row does not state the real-vs-real floor and the ratio to it"
