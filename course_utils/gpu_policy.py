"""The GPU policy: seeds, precision and compilation for this machine and this kind of lesson.

A GPU changes speed, never results. Lessons whose point is exactness (01-03) call ``setup(seed)``: float32, no XLA,
TF32 off. Training lessons call ``setup(seed, training=True)``: mixed precision and XLA by default on a GPU.
``COURSE_MIXED_PRECISION`` and ``COURSE_XLA`` (``auto``, ``on`` or ``off``) override that default for training
lessons; ``make test`` runs every lesson with both ``on`` to simulate the GPU policy on a CPU. Nothing happens on
import.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from .cpu import _OFF, _ON
from .validate import int_at_least

MIXED_PRECISION_ENV = "COURSE_MIXED_PRECISION"
XLA_ENV = "COURSE_XLA"


@dataclass(frozen=True)
class DeviceConfig:
    """What :func:`setup` decided.

    Introduced in 00_start_here.

    Attributes:
        gpus: names of the visible GPUs (empty on CPU).
        mixed_precision: True when the global Keras dtype policy is ``mixed_float16``.
        jit_compile: the value to pass as ``jit_compile`` (XLA) to ``compile``/``tf.function``.
        seed: the seed given to Keras, NumPy, Python and TensorFlow.
        training: True for a training lesson (GPU policy: mixed precision and XLA allowed), False for an
            exactness lesson (float32, no XLA, TF32 off).
        reasons: why each choice was made, for the environment report.
    """

    gpus: tuple[str, ...]
    mixed_precision: bool
    jit_compile: bool
    seed: int
    training: bool = False
    reasons: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def on_gpu(self) -> bool:
        """True when at least one GPU is visible."""
        return bool(self.gpus)

    @property
    def device_name(self) -> str:
        """``"GPU"`` or ``"CPU"``."""
        return "GPU" if self.gpus else "CPU"

    @property
    def dtype_policy(self) -> str:
        """The Keras dtype policy :func:`setup` chose: ``"mixed_float16"`` or ``"float32"``."""
        return "mixed_float16" if self.mixed_precision else "float32"


def list_gpus() -> tuple[str, ...]:
    """Return the names of the GPUs TensorFlow can see (empty tuple when there are none).

    Introduced in 00_start_here.
    """
    import tensorflow as tf

    return tuple(d.name for d in tf.config.list_physical_devices("GPU"))


def _resolve(flag: bool | str, name: str) -> bool | str:
    if flag == "auto" or isinstance(flag, bool):
        return flag
    raise ValueError(f"{name} must be True, False or 'auto', got {flag!r}")


def _env_switch(name: str) -> str:
    """``auto``, ``on`` or ``off`` from a COURSE_* variable (unset or empty: ``auto``)."""
    raw = os.environ.get(name, "")
    value = raw.strip().lower() or "auto"
    if value in _ON:
        return "on"
    if value in _OFF:
        return "off"
    if value != "auto":
        raise ValueError(f"{name} must be auto, on or off, got {raw!r}")
    return value


def _choose(arg: bool | str, env_name: str, gpus: bool, training: bool, what: str) -> tuple[bool, str]:
    if isinstance(arg, bool):
        return arg, f"{'on' if arg else 'off'}: asked for by the code"
    if not training:
        return False, "off: this lesson checks exact float32 results (a GPU changes speed, never results)"
    switch = _env_switch(env_name)
    if switch != "auto":
        return switch == "on", f"{switch}: set by you ({env_name}={os.environ.get(env_name)})"
    if gpus:
        return True, f"on: a training lesson on a GPU ({what})"
    return False, f"off: a training lesson on a CPU ({what} measured no faster here)"


def setup(seed: int = 42, *, training: bool = False, mixed_precision: bool | str = "auto",
          xla: bool | str = "auto") -> DeviceConfig:
    """Seed everything and choose the precision and compilation for this machine and this kind of lesson.

    * ``training=False`` (lessons whose point is exactness, 01-03): float32, no XLA and, on a GPU, TensorFlow's
      TF32 matrix maths off, so results match the NumPy references to float32 precision on every machine.
    * ``training=True`` (training lessons): on a GPU, ``mixed_float16`` and XLA by default. The environment
      variables ``COURSE_MIXED_PRECISION`` and ``COURSE_XLA`` (``auto``, ``on``, ``off``) override that default,
      which is how ``make test`` simulates the GPU policy on a CPU. On a CPU the default is float32 and no XLA
      (a CPU has no float16 tensor cores; every CPU timing of the course is measured without XLA).

    Either way GPU memory growth is turned on, so a lesson does not grab all of the GPU's memory.

    Introduced in 00_start_here.

    Args:
        seed: seed for Python, NumPy, TensorFlow and Keras (``keras.utils.set_random_seed``).
        training: whether this is a training lesson (see above).
        mixed_precision: True, False or ``"auto"`` (the policy above). True/False always win.
        xla: True, False or ``"auto"`` (the policy above). True/False always win.

    Returns:
        A :class:`DeviceConfig` describing the choice, with the reasons.

    Raises:
        ValueError: if ``seed`` is not a non-negative int, a flag is not True/False/"auto", ``training`` is not a
            bool, or ``COURSE_MIXED_PRECISION``/``COURSE_XLA`` hold something other than auto/on/off.
    """
    seed = int_at_least(seed, 0, "seed", expected="a non-negative int")
    if not isinstance(training, bool):
        raise ValueError(f"training must be True or False, got {training!r}")
    mixed_precision = _resolve(mixed_precision, "mixed_precision")
    xla = _resolve(xla, "xla")
    import keras
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # already initialised; growth can only be set before first use
            pass
    use_mp, mp_why = _choose(mixed_precision, MIXED_PRECISION_ENV, bool(gpus), training, "mixed precision")
    use_xla, xla_why = _choose(xla, XLA_ENV, bool(gpus), training, "XLA")
    # TF32 (Ampere and newer GPUs) rounds float32 matrix products to 10 mantissa bits: off for exact lessons.
    tf.config.experimental.enable_tensor_float_32_execution(bool(training))
    keras.config.set_dtype_policy("mixed_float16" if use_mp else "float32")
    keras.utils.set_random_seed(seed)
    reasons = {"Precision": mp_why, "XLA": xla_why,
               "TF32": ("allowed (training lesson)" if training else "off (exact float32 comparisons)")
               + ("" if gpus else "; no GPU, so it does not apply")}
    return DeviceConfig(tuple(g.name for g in gpus), use_mp, use_xla, seed, training, reasons)
