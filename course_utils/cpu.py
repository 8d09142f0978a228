"""TensorFlow's CPU side, chosen before TensorFlow is imported: oneDNN and the sizes of its thread pools.

oneDNN is turned on for every x86-64 CPU (it was measured faster on every one tried, and it has kernels that
TensorFlow's default CPU kernels lack, such as the input gradient of a dilated convolution); TensorFlow gets as many
threads as CPUs this process may really use (affinity and cgroup quota, so a 1-CPU Binder container does not run 64
threads). A learner's own ``TF_ENABLE_ONEDNN_OPTS``, ``TF_NUM_INTRAOP_THREADS`` or ``TF_NUM_INTEROP_THREADS`` always
wins. The measurements are in ``benchmarks/cpu_config.py`` and its committed JSON.

:func:`configure_cpu` chooses (the set-up cell's :func:`course_utils.tensorflow_startup.quiet_tensorflow_startup`
calls it just before it imports TensorFlow), :func:`cpu_config` says what was chosen, :func:`onednn_active` asks the
running TensorFlow. Nothing happens on import.
"""

from __future__ import annotations

import math
import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path

ONEDNN_ENV = "TF_ENABLE_ONEDNN_OPTS"
INTRA_ENV = "TF_NUM_INTRAOP_THREADS"
INTER_ENV = "TF_NUM_INTEROP_THREADS"
_ON, _OFF = ("1", "true", "on", "yes", "y"), ("0", "false", "off", "no", "n")
# CPU features TensorFlow 2.x checks to turn oneDNN on by itself on x86-64 Linux (Cascade Lake or newer, Zen 4).
_TF_ONEDNN_DEFAULT_FLAGS = ("avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile", "amx_bf16", "amx_int8")


@dataclass(frozen=True)
class CPUConfig:
    """What :func:`configure_cpu` chose for TensorFlow's CPU side, and why.

    Introduced in 00_start_here.

    Attributes:
        model: the CPU's model name.
        flags: the CPU features that matter here (``avx2``, ``avx512f``, ``avx512_vnni``, ``amx_tile``, ...).
        usable_cpus: CPUs this process may use (affinity mask and cgroup quota taken into account).
        onednn: the value of ``TF_ENABLE_ONEDNN_OPTS`` TensorFlow will read ("1"/"0"), or None if left unset.
        intra_threads / inter_threads: TensorFlow's thread-pool sizes (None: TensorFlow's own choice).
        reasons: one sentence per choice, for the environment report.
    """

    model: str
    flags: tuple[str, ...]
    usable_cpus: int
    onednn: str | None
    intra_threads: int | None
    inter_threads: int | None
    reasons: dict[str, str]

    @property
    def tf_default_onednn(self) -> bool:
        """Whether TensorFlow would turn oneDNN on by itself on this CPU (x86-64 with VNNI/BF16/AMX)."""
        return _is_x86() and any(f in self.flags for f in _TF_ONEDNN_DEFAULT_FLAGS)


def _is_x86() -> bool:
    return platform.machine().lower() in ("x86_64", "amd64", "x86-64")


def cpu_info(cpuinfo: str | None = None) -> tuple[str, tuple[str, ...]]:
    """The CPU's model name and the features that matter to TensorFlow, from ``/proc/cpuinfo``.

    Introduced in 00_start_here.

    Args:
        cpuinfo: the text of ``/proc/cpuinfo`` (read from the system when None).

    Returns:
        ``(model, flags)``; flags are among avx, avx2, fma, avx512f, avx512_vnni, avx512_bf16, avx_vnni,
        amx_tile, amx_bf16, amx_int8 (empty where the file does not exist, e.g. on macOS).
    """
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            cpuinfo = ""
    model, flags = platform.processor() or "unknown", set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key == "model name" and model in ("unknown", "", platform.processor()):
            model = value.strip()
        elif key == "flags" and not flags:
            flags = set(value.split())
    wanted = ("avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile", "amx_bf16",
              "amx_int8")
    return model, tuple(f for f in wanted if f in flags)


def usable_cpu_count(cgroup_root: str | os.PathLike = "/sys/fs/cgroup") -> int:
    """How many CPUs this process can really keep busy: the affinity mask, capped by a cgroup CPU quota.

    Binder and many containers show the host's cores (``os.cpu_count()`` says 64) but allow one CPU's worth of
    time; TensorFlow sized for 64 threads then runs slower than with one.

    Introduced in 00_start_here.
    """
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    root = Path(cgroup_root)
    quota = None
    try:  # cgroup v2: "max 100000" or "100000 100000"
        q, period = (root / "cpu.max").read_text().split()[:2]
        if q != "max":
            quota = int(q) / int(period)
    except (OSError, ValueError):
        try:  # cgroup v1
            q = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
            period = int((root / "cpu" / "cpu.cfs_period_us").read_text())
            if q > 0 and period > 0:
                quota = q / period
        except (OSError, ValueError):
            pass
    if quota is not None:
        n = min(n, max(1, math.ceil(quota - 1e-9)))
    return max(1, n)


def _positive_int_env(environ, name: str) -> int | None:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise ValueError(f"{name} must be a non-negative integer (0 = TensorFlow's choice), got {raw!r}")
    return value or None


def configure_cpu(environ=None) -> CPUConfig:
    """Choose oneDNN and TensorFlow's thread counts for this CPU, before TensorFlow is imported.

    * oneDNN: on (``TF_ENABLE_ONEDNN_OPTS=1``) on x86-64. TensorFlow turns it on by itself only on CPUs with
      AVX-512 VNNI, BF16 or AMX; on AVX2-only CPUs (most AMD and older Intel) it would run its default kernels,
      which were measured slower for every course model and lack a few ops (``benchmarks/cpu_config.py``).
    * Threads: intra-op = the CPUs this process may use (affinity, cgroup quota); inter-op = 2 (1 on one CPU);
      the course's small models gain nothing from more independent ops in flight.

    Your own ``TF_ENABLE_ONEDNN_OPTS``, ``TF_NUM_INTRAOP_THREADS`` and ``TF_NUM_INTEROP_THREADS`` always win.
    Once TensorFlow is imported these variables have no effect any more, so this only records what it finds.

    Introduced in 00_start_here.

    Args:
        environ: the environment to read and update (``os.environ`` when None).

    Returns:
        A :class:`CPUConfig` saying what was chosen and why.

    Raises:
        ValueError: if ``TF_ENABLE_ONEDNN_OPTS`` or a thread-count variable holds something unusable.
    """
    env = os.environ if environ is None else environ
    model, flags = cpu_info()
    usable = usable_cpu_count()
    reasons = {}
    late = "tensorflow" in sys.modules and environ is None
    onednn = env.get(ONEDNN_ENV)
    if onednn is not None:
        if onednn.strip().lower() not in _ON + _OFF:
            raise ValueError(f"{ONEDNN_ENV} must be 1 or 0 (or true/false), got {onednn!r}")
        onednn = "1" if onednn.strip().lower() in _ON else "0"
        reasons["oneDNN"] = f"{'on' if onednn == '1' else 'off'}: set by you ({ONEDNN_ENV}={env.get(ONEDNN_ENV)})"
    elif _is_x86() and not late:
        onednn = env[ONEDNN_ENV] = "1"
        tf_default = any(f in flags for f in _TF_ONEDNN_DEFAULT_FLAGS)
        reasons["oneDNN"] = ("on: chosen by the course, measured faster for its models on every x86-64 CPU tried; "
                             + ("TensorFlow would also turn it on here (VNNI/BF16/AMX)" if tf_default else
                                "TensorFlow would leave it off on this CPU (no AVX-512 VNNI/BF16/AMX)"))
    else:
        reasons["oneDNN"] = ("TensorFlow's own default (already imported: set up before importing TensorFlow)"
                             if late else "TensorFlow's own default (not an x86-64 CPU)")
    intra = _positive_int_env(env, INTRA_ENV)
    inter = _positive_int_env(env, INTER_ENV)
    if intra is not None or inter is not None:
        reasons["Threads"] = f"set by you ({INTRA_ENV}={env.get(INTRA_ENV)}, {INTER_ENV}={env.get(INTER_ENV)})"
    elif not late:
        intra, inter = usable, min(2, usable)
        env[INTRA_ENV], env[INTER_ENV] = str(intra), str(inter)
        reasons["Threads"] = (f"{intra} intra-op, {inter} inter-op: the {usable} CPU(s) this process may use "
                              f"(of {os.cpu_count()} visible)")
    else:
        reasons["Threads"] = "TensorFlow's own default (already imported)"
    return CPUConfig(model, flags, usable, onednn, intra, inter, reasons)


_CPU_CONFIG: CPUConfig | None = None

def _configure_before_import() -> CPUConfig:
    """:func:`configure_cpu` at start-up, unless TensorFlow is imported and a choice was made already; remembered
    for :func:`cpu_config`."""
    global _CPU_CONFIG
    if "tensorflow" not in sys.modules or _CPU_CONFIG is None:
        _CPU_CONFIG = configure_cpu()
    return _CPU_CONFIG


def cpu_config() -> CPUConfig:
    """The CPU configuration chosen at start-up (computed now, without changing anything, if none was).

    Introduced in 00_start_here.
    """
    global _CPU_CONFIG
    if _CPU_CONFIG is None:
        _CPU_CONFIG = configure_cpu(dict(os.environ))
    return _CPU_CONFIG


def onednn_active() -> bool | None:
    """Whether the running TensorFlow uses oneDNN (None if it cannot tell).

    Introduced in 00_start_here.
    """
    try:
        from tensorflow.python.util import _pywrap_util_port

        return bool(_pywrap_util_port.IsMklEnabled())
    except Exception:  # private API: best effort
        return None


def _apply_threads(tf, cfg: CPUConfig | None) -> None:
    """Give TensorFlow the chosen pool sizes through its API too (the environment variables alone are not
    visible to ``tf.config.threading``); too late once TensorFlow has run an op, then nothing changes."""
    if cfg is None:
        return
    try:
        if cfg.intra_threads:
            tf.config.threading.set_intra_op_parallelism_threads(cfg.intra_threads)
        if cfg.inter_threads:
            tf.config.threading.set_inter_op_parallelism_threads(cfg.inter_threads)
    except RuntimeError:  # the runtime is already initialised
        pass
