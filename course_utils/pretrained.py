"""The course's own trained models, shipped in ``data/`` with their checksums and training records.

A learner on a slow machine (Binder's single CPU, an old laptop) trains for the lesson's time budget and gets
what that machine can reach. So that the later sections (the latent space, the widgets) still show full quality,
the course ships the generator it trained with the same recipe for longer: ``data/NAME.weights.h5`` and its record
``data/NAME.json`` (recipe, steps, training time, machine, FID, class coverage, SHA-256 of the weights).
``tools/train_course_generator.py`` writes both.

Introduced in 04_dcgan.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from . import atomic, data

SCHEMA = "trained_model/1"
DCGAN_GENERATOR = "dcgan_generator"
_REQUIRED = ("schema", "name", "file", "sha256", "params", "recipe", "steps", "train_time_s", "fid", "coverage",
             "fid_samples", "machine", "versions")
MODEL_FIELDS = ("schema", "name", "file", "sha256", "params", "recipe", "steps", "train_time_s", "metrics", "machine",
                "versions")
"""The fields every shipped model's record has (the generator's record has FID fields instead of ``metrics``)."""
SHIPPED_SHA256 = {
    "colour_generator": "828a4787f30dc0efb8da13a7bb82f1f1175e9539af5f2051e039814d77f77139",
    "dcgan_generator": "969cf9438d99292871ca99caef7a472781e85bb5157f431482f2fa2e1d15d8a7",
    "restore_denoise": "2c220ee8c81d9a927c6b9bc5708315070486deb6ce3326d197d8d9a6c2328c38",
    "restore_inpaint": "f7ef4d9de3cd11e400c51f38dca042713a0082a6d83e153e4be520c8301367fd",
    "restore_inpaint_gan": "31099cd1c69af92f5f96c533222025f430f97547c5920b0a037e9d5aca5fee82",
    "restore_sr2": "a928de75cbc2bb0e769f1cb13da9cb4468154bbab38b757d71783ac8e6cf8f59",
    "restore_sr4": "f10add55df443884adcac382f13eced749d2fa378e4381d9d66c2a8ccd73d670",
    "restore_sr4_gan": "d1e0139713058f2349861f2fee047de76fcaf73594f6ea54bdb1a4322b4c6014",
    "translate_cyclegan_g2t": "6267bdc0f27d5a25be6471bf341ea04ab8c76179755aa10c74806e7db75a9bc5",
    "translate_cyclegan_t2g": "d633b61bd54ab9670dc1b343fef4b12134347d32a27a4731379ec2b8498dfc34",
    "translate_pix2pix_g2t": "ff80e703de02542178f2b6538d6d0612445a60459495bf620184ba6dbe3b0f3e",
    "translate_pix2pix_t2g": "0c2487636a355fdb82ccc2e8c3e6807fa87a820777df6f5375d4a8c1a4174594",
}
"""The SHA-256 of every model the course ships, pinned here as ``evaluator.WEIGHTS_SHA256`` is: a record copied
over another's, or edited to name other weights, is refused (``data/README.md`` lists the same digests).
After retraining a shipped model, paste the digest its tool prints here and in ``data/README.md``."""
_TYPES = {"schema": (str,), "name": (str,), "file": (str,), "sha256": (str,), "params": (int,),
          "recipe": (dict,), "steps": (int,), "train_time_s": (int, float), "metrics": (dict,),
          "machine": (dict,), "versions": (dict,), "fid": (int, float), "coverage": (int,), "fid_samples": (int,)}


def record_path(name: str = DCGAN_GENERATOR) -> Path:
    """Where the training record of the shipped model ``name`` lives (``data/NAME.json``).

    Introduced in 04_dcgan.
    """
    if not isinstance(name, str) or not name or "/" in name or "\\" in name or name.startswith("."):
        raise ValueError(f"name must be a plain file stem such as {DCGAN_GENERATOR!r}, got {name!r}")
    return data.data_dir() / f"{name}.json"


def read_record(name: str = DCGAN_GENERATOR, required: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Read and check the training record of a shipped model.

    Introduced in 04_dcgan.

    Args:
        name: the model's name (``"dcgan_generator"``).
        required: the fields the record must have (default: the generator's, with its FID fields; the restoration
            models of lesson 06 have :data:`MODEL_FIELDS`).

    Returns:
        The record as a dict (see the module docstring for its fields).

    Raises:
        ValueError: if the record is missing, is not valid JSON, or lacks a field.
    """
    path = record_path(name)
    if not path.is_file():
        raise ValueError(f"the training record of the course's {name} is missing ({path}); restore it with "
                         f"`git checkout -- data/` or run tools/train_course_generator.py")
    try:
        record = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path} is not a readable JSON record ({err}); restore it with `git checkout -- data/`") from err
    if not isinstance(record, dict):
        raise ValueError(f"{path} is not a {SCHEMA} record: expected a JSON object, got {type(record).__name__} "
                         f"(missing every field)")
    if required is None:
        required = _REQUIRED
    missing = [key for key in required if key not in record]
    if missing or record.get("schema") != SCHEMA:
        raise ValueError(f"{path} is not a {SCHEMA} record: missing {missing}, schema {record.get('schema')!r}")
    for key, types in _TYPES.items():
        value = record.get(key)
        if key in record and (isinstance(value, bool) or not isinstance(value, types)):
            raise ValueError(f"{path}: field {key!r} must be {' or '.join(t.__name__ for t in types)}, got "
                             f"{type(value).__name__} {value!r:.60}; restore it with `git checkout -- data/`")
    if "name" in record and record["name"] != name:
        raise ValueError(f"{path.name} is the record of {record['name']!r}, expected the record of {name!r} (a record "
                         f"copied over another's); restore it with `git checkout -- data/`")
    if "file" in record and record["file"] != f"{name}.weights.h5":
        raise ValueError(f"{path} names the file {record['file']!r}, expected {name + '.weights.h5'!r}: a shipped "
                         "model's weights lie in the data folder under its own name; restore it with "
                         "`git checkout -- data/`")
    pinned = SHIPPED_SHA256.get(name)
    if pinned is not None and "sha256" in record and record["sha256"] != pinned:
        raise ValueError(f"{path} is not the course's: SHA-256 {record['sha256']} in the record, the course pins "
                         f"{pinned} for {name} (course_utils.pretrained.SHIPPED_SHA256); restore it with "
                         "`git checkout -- data/`")
    return record


def load_trained_generator(generator, name: str = DCGAN_GENERATOR) -> dict[str, Any]:
    """Load the course's trained weights into ``generator`` after checking the file is exactly the shipped one.

    Introduced in 04_dcgan.

    Args:
        generator: a Keras model built by the lesson's ``build_generator()`` (same architecture, untrained).
        name: the shipped model's name.

    Returns:
        The training record (recipe, steps, training time, machine, FID, class coverage, ...).

    Raises:
        ValueError: if the record or the weights file is missing, the weights' SHA-256 differs from the record's
            (a damaged, partial or replaced file), or ``generator`` does not have the recorded architecture.
    """
    return _load_checked(generator, name, read_record(name, _REQUIRED), "generator", "build_generator()")


def load_trained_model(model, name: str) -> dict[str, Any]:
    """Load a shipped model's weights into ``model`` after checking its SHA-256 against its record.

    The same checks as :func:`load_trained_generator`, for any model the course ships (the restoration U-Nets of
    lesson 06: ``data/restore_<task>.weights.h5``), whose record has the fields of :data:`MODEL_FIELDS`.

    Introduced in 06_image_restoration.

    Args:
        model: a Keras model built with the recipe in the record (same architecture, untrained).
        name: the shipped model's name, e.g. ``"restore_denoise"``.

    Returns:
        The training record (recipe, task, steps, training time, machine, metrics, ...).

    Raises:
        ValueError: if the record or the weights file is missing or incomplete, the weights' SHA-256 differs from the
            record's, or ``model`` does not have the recorded number of parameters.
    """
    return _load_checked(model, name, read_record(name, MODEL_FIELDS), "model", "the recipe in its record")


def _load_checked(model, name: str, record: dict[str, Any], what: str, how: str) -> dict[str, Any]:
    folder = data.data_dir().resolve()
    path = data.data_dir() / record["file"]
    if path.resolve().parent != folder:
        raise ValueError(f"{record_path(name)} names the file {record['file']!r}, expected a file inside {folder}")
    data.verify_file(path, record["sha256"], what=f"the course's trained {name}",
                     remedy=f"It is not the course's file (the record {record_path(name).name} pins that digest): "
                            "restore it with `git checkout -- data/`.",
                     missing="Restore it with `git checkout -- data/`.")
    count = getattr(model, "count_params", None)
    if count is None:
        raise ValueError(f"{what} must be a Keras model built by {how}, got {type(model).__name__}")
    if model.count_params() != record["params"]:
        raise ValueError(f"{what} has {model.count_params():,} parameters, the course's trained {name} has "
                         f"{record['params']:,}: build it with {how} (recipe {record['recipe']})")
    before = [w.numpy().copy() for w in model.weights]  # a failed load puts every value back
    try:
        model.load_weights(path)
    except (ValueError, OSError) as err:
        for var, value in zip(model.weights, before):
            var.assign(value)
        raise ValueError(f"could not load {path} into this {what} (nothing was changed): {err}") from err
    return record


def save_trained_generator(generator, record: dict[str, Any], name: str = DCGAN_GENERATOR,
                           directory: str | os.PathLike | None = None) -> tuple[Path, Path]:
    """Write the weights and the training record atomically (temporary files, then rename); weights first.

    Any model: ``name`` is the file stem; ``record`` gets ``schema``, ``name``, ``file``, ``sha256`` and ``params``
    filled in.

    Not in a lesson: tools/train_course_generator.py and tools/train_restoration_models.py write the shipped models
    with it (lessons 04 and 06 load them with :func:`load_trained_generator` and :func:`load_trained_model`).

    Returns:
        The paths of the weights file and of the record.
    """
    record_path(name)  # checks the name
    directory = Path(directory) if directory is not None else data.data_dir()
    directory.mkdir(parents=True, exist_ok=True)
    weights = directory / f"{name}.weights.h5"
    with atomic.atomic_path(weights, suffix=".weights.h5") as tmp:  # Keras insists on the suffix
        generator.save_weights(tmp)
    full = {"schema": SCHEMA, "name": name, "file": weights.name, "sha256": data.sha256_of(weights),
            "params": int(generator.count_params()), **{k: v for k, v in record.items() if k not in
                                                        ("schema", "name", "file", "sha256", "params")}}
    out = atomic.write_text(directory / f"{name}.json", json.dumps(full, indent=1) + "\n")
    return weights, out
