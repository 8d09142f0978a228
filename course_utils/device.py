"""Device set-up: the names lessons use (``device.setup``, ``device.environment_report``, the set-up cell's
``quiet_tensorflow_startup``), kept in one place.

This module only re-exports; each job has its own module:

* :mod:`course_utils.cpu`: oneDNN and TensorFlow's thread counts, chosen for this CPU before TensorFlow is imported
  (:func:`configure_cpu`, :func:`cpu_config`, :func:`onednn_active`, :func:`usable_cpu_count`, :func:`cpu_info`);
* :mod:`course_utils.tensorflow_startup`: importing TensorFlow without its C++ start-up lines, and keeping its later
  C++ log lines out of lesson outputs (:func:`quiet_tensorflow_startup`, :func:`tensorflow_log_level`);
* :mod:`course_utils.gpu_policy`: seeds, mixed precision, XLA and TF32 for exact and training lessons (:func:`setup`,
  :class:`DeviceConfig`, :func:`list_gpus`);
* :mod:`course_utils.environment`: the environment report every lesson prints (:func:`environment_report`).

Nothing happens on import. Every lesson's set-up cell calls :func:`quiet_tensorflow_startup`, then the lesson calls
:func:`setup` once.
"""

from __future__ import annotations

from .cpu import INTER_ENV, INTRA_ENV, ONEDNN_ENV, CPUConfig, configure_cpu, cpu_config, cpu_info, onednn_active, usable_cpu_count
from .environment import environment_report
from .gpu_policy import MIXED_PRECISION_ENV, XLA_ENV, DeviceConfig, list_gpus, setup
from .tensorflow_startup import quiet_tensorflow_startup, tensorflow_log_level

__all__ = ["CPUConfig", "configure_cpu", "cpu_config", "cpu_info", "onednn_active", "usable_cpu_count", "ONEDNN_ENV",
           "INTRA_ENV", "INTER_ENV", "quiet_tensorflow_startup", "tensorflow_log_level", "DeviceConfig", "setup",
           "list_gpus", "MIXED_PRECISION_ENV", "XLA_ENV", "environment_report"]
