"""The environment report: what a bug report or a teacher needs to know about a run (lesson 00 prints it).

Versions, the CPU and what :mod:`course_utils.cpu` chose for it, RAM, GPUs, what :mod:`course_utils.gpu_policy`
chose (precision, XLA, TF32) and why, the profile, and where the data comes from.
``benchmarks/time_to_quality.py`` stores it with its record; a learner can print it in any lesson for a bug report.
"""

from __future__ import annotations

import os
import platform
import sys

from .cpu import cpu_config, onednn_active
from .gpu_policy import DeviceConfig, list_gpus


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
    cpu = cpu_config()
    active = onednn_active()
    report = {
        "Python": sys.version.split()[0],
        "Platform": platform.platform(terse=True),
        "TensorFlow": tf.__version__,
        "Keras": keras.__version__,
        "NumPy": np.__version__,
        "ipywidgets": widgets_version,
        "CPU": f"{cpu.model} ({', '.join(cpu.flags) or 'no flags read'})",
        "CPU cores": f"{os.cpu_count()} visible, {cpu.usable_cpus} usable",
        "oneDNN": ("in use" if active else "not in use" if active is not None else "unknown")
        + f" ({cpu.reasons['oneDNN']})",
        "Threads": cpu.reasons["Threads"],
        "RAM": f"{ram:.1f} GB" if ram else "unknown",
        "GPU": ", ".join(gpus) if gpus else "none (CPU only)",
        "Colab": "yes" if "google.colab" in sys.modules else "no",
        "Profile": profiles.get_profile(),
        "Data": data.describe_sources(),
    }
    if config is not None:
        report["Lesson kind"] = "training" if config.training else "exact (float32 comparisons)"
        report["Precision"] = ("mixed_float16" if config.mixed_precision else "float32") + (
            f" ({config.reasons['Precision']})" if config.reasons.get("Precision") else "")
        report["XLA"] = ("on" if config.jit_compile else "off") + (
            f" ({config.reasons['XLA']})" if config.reasons.get("XLA") else "")
        if "TF32" in config.reasons:
            report["TF32"] = config.reasons["TF32"]
        report["Seed"] = str(config.seed)
    if show:
        width = max(map(len, report))
        for key, value in report.items():
            print(f"{key:<{width}} : {value}")
    return report
