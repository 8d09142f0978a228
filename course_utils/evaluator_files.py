"""The digit evaluator's files: written atomically, checked against their SHA-256 before they are loaded.

The evaluator is shipped as two files in ``data/``:

* ``mnist_evaluator.weights.h5`` -- the weights of the CNN (:mod:`course_utils.evaluator_network`);
* ``mnist_evaluator_stats.npz`` -- mean and covariance of its features on the 4,000 real training digits, with
  metadata.

:func:`save_evaluator` writes both, :func:`load_evaluator` checks both against the SHA-256 recorded below and loads
them once (later calls return the same object). The colour evaluator's files use the same format and the same
readers. Regenerate with ``python -m course_utils.evaluator --train``.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from . import atomic, data
from .evaluator_network import FEATURE_DIM, build_model
from .evaluator_scoring import Evaluator
from .frechet import ReferenceStats

WEIGHTS_NAME = "mnist_evaluator.weights.h5"
STATS_NAME = "mnist_evaluator_stats.npz"
WEIGHTS_SHA256 = "c28f9dee64060c16dafff86a10084a33e48553d93719e0696c592b71c8067bff"
STATS_SHA256 = "30b03284ee51bf3fc02f563f2f39d1678b29935a08789994b2f0c0d43d977553"
"""SHA-256 of the shipped files (``data/README.md`` says how they were made)."""


def save_evaluator(evaluator: Evaluator, directory: str | os.PathLike | None = None) -> tuple[Path, Path]:
    """Write an evaluator's weights and reference statistics into ``directory`` (default ``data/``), atomically.

    Introduced in 03_cnn_classifier.

    Returns:
        The paths of the weights file and the statistics file.
    """
    directory = Path(directory) if directory is not None else data.data_dir()
    directory.mkdir(parents=True, exist_ok=True)
    weights_path, stats_path = directory / WEIGHTS_NAME, directory / STATS_NAME
    ref = evaluator.reference_stats()
    # A fresh copy without optimizer state: a compiled model's file would also hold Adam's moments (3x).
    _save_files(evaluator.model, build_model(), ref, weights_path, stats_path)
    return weights_path, stats_path


def _save_files(model, bare, reference: ReferenceStats, weights_path: Path, stats_path: Path,
                extra_arrays: dict[str, np.ndarray] | None = None) -> None:
    """Write ``model``'s weights (through ``bare``, a fresh uncompiled copy) and ``reference``, atomically.

    ``extra_arrays`` go into the statistics file after ``mu``, ``sigma``, ``n`` and before the metadata strings.
    """
    bare.set_weights(model.get_weights())
    # Keras insists on the ".weights.h5" suffix, so the temporary file keeps it.
    with atomic.atomic_path(weights_path, suffix=".weights.h5") as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Keras 3.15 + NumPy 2.4 warn inside save_weights
        bare.save_weights(str(tmp))
    arrays = {"mu": reference.mu.astype(np.float64), "sigma": reference.sigma.astype(np.float64),
              "n": np.int64(reference.n)}
    arrays.update(extra_arrays or {})
    arrays.update({f"meta_{k}": np.str_(v) for k, v in reference.metadata.items()})
    atomic.write_bytes(stats_path, data.npz_bytes(arrays))


def _load_weights(model, path: Path) -> None:
    """``model.load_weights(path)``, with a ``ValueError`` naming the file when it cannot be read."""
    try:
        model.load_weights(str(path))
    except Exception as err:  # h5py/keras errors on a damaged file
        raise ValueError(f"{path} could not be read as evaluator weights ({type(err).__name__}: {err})") from err


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` file, with a ``ValueError`` naming the file when it cannot be read."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except Exception as err:  # zip/format errors of a damaged file
        raise ValueError(f"{path} is not a readable .npz file ({type(err).__name__}: {err})") from err


def stats_from(arrays: dict[str, np.ndarray], path: Path, feature_dim: int = FEATURE_DIM, prefix: str = "",
               metadata: dict[str, str] | None = None) -> ReferenceStats:
    """The checked statistics ``{prefix}mu``, ``{prefix}sigma``, ``{prefix}n`` of one file's arrays."""
    keys = tuple(prefix + name for name in ("mu", "sigma", "n"))
    missing = set(keys) - set(arrays)
    if missing:
        raise ValueError(f"{path}: expected arrays {', '.join(keys)}; missing {sorted(missing)}")
    mu, sigma = arrays[keys[0]], arrays[keys[1]]
    if mu.shape != (feature_dim,) or sigma.shape != (feature_dim, feature_dim) or not (
            np.all(np.isfinite(mu)) and np.all(np.isfinite(sigma))):
        raise ValueError(f"{path}: expected finite {keys[0]} ({feature_dim},) and {keys[1]} ({feature_dim}, "
                         f"{feature_dim}), got {mu.shape} and {sigma.shape}")
    if metadata is None:
        metadata = {k[5:]: str(v) for k, v in arrays.items() if k.startswith("meta_")}
    return ReferenceStats(mu=mu, sigma=sigma, n=int(arrays[keys[2]]), metadata=metadata)


def _read_stats(path: Path, feature_dim: int = FEATURE_DIM) -> ReferenceStats:
    return stats_from(read_npz(path), path, feature_dim)


def load_checked(directory: str | os.PathLike | None, names: tuple[str, str], digests: tuple[str, str], *,
                 check_sha256: bool, what: str, restore: str, build):
    """The one loader of a shipped evaluator (digits and colour): verify its weights and statistics files, then
    ``build(weights_path, stats_path)`` once; later calls with the same files return the same object.

    ``restore`` is the sentence saying how to get a good copy back (``{name}`` is the file's name); it ends both the
    missing-file and the wrong-digest messages of ``data.verify_file``.
    """
    directory = Path(directory) if directory is not None else data.data_dir()
    paths = tuple(directory / name for name in names)
    key = (*(str(path.resolve()) for path in paths), bool(check_sha256))
    if key not in _CACHE:
        for path, sha in zip(paths, digests):
            sentence = restore.format(name=path.name)
            data.verify_file(path, sha if check_sha256 else None, what=what,
                             remedy=f"It is not the shipped {what[4:] if what.startswith('the ') else what}: "
                                    f"{sentence[0].lower()}{sentence[1:]}", missing=sentence)
        _CACHE[key] = build(*paths)
    return _CACHE[key]


_CACHE: dict[tuple[str, str, bool], Evaluator] = {}  # the digit and colour evaluators, by their files


def load_evaluator(directory: str | os.PathLike | None = None, *, check_sha256: bool = True) -> Evaluator:
    """Load the shipped evaluator (cached: later calls return the same object at no cost).

    Introduced in 03_cnn_classifier.

    Args:
        directory: folder holding ``mnist_evaluator.weights.h5`` and ``mnist_evaluator_stats.npz``
            (default: the repository's ``data/``, or ``COURSE_DATA_DIR``).
        check_sha256: verify both files against ``WEIGHTS_SHA256``/``STATS_SHA256``. Turn it off only to load
            an evaluator you retrained yourself (``save_evaluator`` into another folder).

    Returns:
        The :class:`Evaluator`.

    Raises:
        ValueError: if a file is missing, corrupt, truncated, or (with ``check_sha256``) not the shipped one.
    """
    return load_checked(directory, (WEIGHTS_NAME, STATS_NAME), (WEIGHTS_SHA256, STATS_SHA256),
                        check_sha256=check_sha256, what="the evaluator file",
                        restore="Restore it from the repository (git checkout -- {name}) or regenerate it with "
                                "`python -m course_utils.evaluator --train`.",
                        build=lambda weights, stats: Evaluator(_built_with(weights), _read_stats(stats)))


def _built_with(weights_path: Path, build=build_model):
    """A fresh network from ``build()`` with the weights of ``weights_path``."""
    model = build()
    _load_weights(model, weights_path)
    return model
