"""Device set-up: seeds, GPU detection, memory growth, mixed precision and XLA, and the environment report.

Nothing happens on import; lessons call :func:`setup` once, at the top.
"""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class DeviceConfig:
    """What :func:`setup` decided.

    Introduced in 00_start_here.

    Attributes:
        gpus: names of the visible GPUs (empty on CPU).
        mixed_precision: True when the global Keras dtype policy is ``mixed_float16``.
        jit_compile: the value to pass as ``jit_compile`` (XLA) to ``compile``/``tf.function``.
        seed: the seed given to Keras, NumPy, Python and TensorFlow.
    """

    gpus: tuple[str, ...]
    mixed_precision: bool
    jit_compile: bool
    seed: int

    @property
    def on_gpu(self) -> bool:
        """True when at least one GPU is visible."""
        return bool(self.gpus)

    @property
    def device_name(self) -> str:
        """``"GPU"`` or ``"CPU"``."""
        return "GPU" if self.gpus else "CPU"


def quiet_tensorflow_startup():
    """Import TensorFlow and probe for GPUs once, with the C++ start-up lines it writes to stderr muted.

    TensorFlow 2.21 prints absl log lines (oneDNN, CUDA probing) straight to the process's stderr before
    ``TF_CPP_MIN_LOG_LEVEL`` takes effect; in a notebook they land in the cell's output. The set-up cell of every
    lesson calls this once; Python exceptions still surface normally.

    Introduced in 00_start_here.

    Returns:
        The ``tensorflow`` module.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import tensorflow as tf

            tf.config.list_physical_devices("GPU")
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    return tf


def list_gpus() -> tuple[str, ...]:
    """Return the names of the GPUs TensorFlow can see (empty tuple when there are none).

    Introduced in 00_start_here.
    """
    import tensorflow as tf

    return tuple(d.name for d in tf.config.list_physical_devices("GPU"))


def _resolve(flag: bool | str, default: bool, name: str) -> bool:
    if flag == "auto":
        return default
    if isinstance(flag, bool):
        return flag
    raise ValueError(f"{name} must be True, False or 'auto', got {flag!r}")


def setup(seed: int = 42, *, mixed_precision: bool | str = "auto", xla: bool | str = "auto") -> DeviceConfig:
    """Seed everything and choose the precision and compilation for this machine.

    On a GPU: memory growth on (so a lesson does not grab all GPU memory), ``mixed_float16`` and XLA
    by default. On a CPU: float32 and no XLA (XLA measured slower for the course's small GANs on CPU).

    Introduced in 00_start_here.

    Args:
        seed: seed for Python, NumPy, TensorFlow and Keras (``keras.utils.set_random_seed``).
        mixed_precision: True, False or ``"auto"`` (= on when a GPU is present).
        xla: True, False or ``"auto"`` (= on when a GPU is present).

    Returns:
        A :class:`DeviceConfig` describing the choice.

    Raises:
        ValueError: if ``seed`` is not a non-negative int or a flag is not True/False/"auto".
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    import keras
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # already initialised; growth can only be set before first use
            pass
    use_mp = _resolve(mixed_precision, bool(gpus), "mixed_precision")
    use_xla = _resolve(xla, bool(gpus), "xla")
    keras.config.set_dtype_policy("mixed_float16" if use_mp else "float32")
    keras.utils.set_random_seed(seed)
    return DeviceConfig(tuple(g.name for g in gpus), use_mp, use_xla, seed)


def _total_ram_gb() -> float | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    except (ValueError, OSError, AttributeError):
        return None


def environment_report(config: DeviceConfig | None = None, *, show: bool = True) -> dict[str, str]:
    """Collect (and by default print) what a bug report or a teacher needs to know about this run.

    Python, TensorFlow, Keras, NumPy and ipywidgets versions; CPU count and RAM; GPUs; precision and XLA;
    the active profile; where the data comes from.

    Introduced in 00_start_here.

    Args:
        config: the result of :func:`setup`, to report its precision and XLA choice.
        show: print the report as aligned lines.

    Returns:
        The report as an ordered dict of strings.
    """
    import keras
    import numpy as np
    import tensorflow as tf

    from . import data, profiles

    try:
        import ipywidgets

        widgets_version = ipywidgets.__version__
    except ImportError:  # pragma: no cover - the stack always has it
        widgets_version = "not installed"
    ram = _total_ram_gb()
    gpus = list_gpus()
    report = {
        "Python": sys.version.split()[0],
        "Platform": platform.platform(terse=True),
        "TensorFlow": tf.__version__,
        "Keras": keras.__version__,
        "NumPy": np.__version__,
        "ipywidgets": widgets_version,
        "CPU cores": str(os.cpu_count()),
        "RAM": f"{ram:.1f} GB" if ram else "unknown",
        "GPU": ", ".join(gpus) if gpus else "none (CPU only)",
        "Colab": "yes" if "google.colab" in sys.modules else "no",
        "Profile": profiles.get_profile(),
        "Data": data.describe_sources(),
    }
    if config is not None:
        report["Precision"] = "mixed_float16" if config.mixed_precision else "float32"
        report["XLA"] = "on" if config.jit_compile else "off"
        report["Seed"] = str(config.seed)
    if show:
        width = max(map(len, report))
        for key, value in report.items():
            print(f"{key:<{width}} : {value}")
    return report
