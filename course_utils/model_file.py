"""Single ``.keras`` model files that are never half-written, and that are checked before Keras reads them.

:func:`save_model_atomic` writes a model to a temporary file beside the target and renames it over the target
only once it is complete (:mod:`course_utils.atomic`), so an interrupted save leaves the old file whole.
:func:`load_model_checked` checks the file's zip structure and every member's CRC first, so a truncated or damaged
file is a clear ``ValueError``, never a half-loaded model. A whole training run (both networks, both optimizers,
the counters and the history) is :mod:`course_utils.gan_checkpoint`'s job.
"""

from __future__ import annotations

import os
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import atomic

__all__ = ["save_model_atomic", "load_model_checked"]


def _first_line(err: BaseException, limit: int = 300) -> str:
    text = str(err).strip().splitlines()
    line = text[0] if text else ""
    return f"{type(err).__name__}: {line[:limit]}"



def save_model_atomic(model, path: str | os.PathLike) -> Path:
    """Save a Keras model as a ``.keras`` file atomically: the old file stays whole until the new one is.

    Introduced in 05_gan_engineering.

    The model is written to a temporary file in the same folder (``.<name>.<random>.keras``), flushed to
    disk, then renamed over ``path`` (:func:`course_utils.atomic.atomic_path`). If saving fails, the temporary
    file is removed, the file at ``path`` (if any) is untouched, and the error is raised again.

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
    with atomic.atomic_path(path, suffix=".keras") as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Keras 3.15 + NumPy 2.4 warn inside save
        model.save(tmp)
    return path


def load_model_checked(path: str | os.PathLike, *, custom_objects: Mapping[str, Any] | None = None,
                       compile: bool = True):
    """Load a ``.keras`` model file, turning a missing, misnamed or damaged file into a clear ``ValueError``.

    Introduced in 05_gan_engineering.

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
