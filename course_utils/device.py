"""Device set-up: the CPU configuration, seeds, GPU detection, mixed precision and XLA, and the environment report.

Nothing happens on import. Every lesson's set-up cell calls :func:`quiet_tensorflow_startup`, which first calls
:func:`configure_cpu` (oneDNN and thread counts must be chosen *before* TensorFlow is imported), then the lesson
calls :func:`setup` once.

The policy, in one place:

* **CPU.** oneDNN on (it was measured faster on every x86-64 CPU tried, and it has kernels that TensorFlow's
  default CPU kernels lack, such as the input gradient of a dilated convolution); as many threads as CPUs this
  process may really use (affinity and cgroup quota, so a 1-CPU Binder container does not run 64 threads).
  A learner's own ``TF_ENABLE_ONEDNN_OPTS``, ``TF_NUM_INTRAOP_THREADS`` or ``TF_NUM_INTEROP_THREADS`` always wins.
  The measurements are in ``benchmarks/cpu_config.py`` and its committed JSON.
* **GPU.** A GPU changes speed, never results. Lessons whose point is exactness (01-03) call ``setup(seed)``:
  float32, no XLA, TF32 off. Training lessons call ``setup(seed, training=True)``: mixed precision and XLA by
  default on a GPU. ``COURSE_MIXED_PRECISION`` and ``COURSE_XLA`` (``auto``, ``on`` or ``off``) override that
  default for training lessons; ``make test`` runs every lesson with both ``on`` to simulate the GPU policy on a CPU.
"""

from __future__ import annotations

import atexit
import math
import os
import platform
import re
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from .validate import int_at_least


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

ONEDNN_ENV = "TF_ENABLE_ONEDNN_OPTS"
INTRA_ENV = "TF_NUM_INTRAOP_THREADS"
INTER_ENV = "TF_NUM_INTEROP_THREADS"
MIXED_PRECISION_ENV = "COURSE_MIXED_PRECISION"
XLA_ENV = "COURSE_XLA"
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


# TensorFlow's C++ log lines. absl's own format, "E0000 00:00:1796483138.385771    5737 meta_optimizer.cc:967] ...",
# and TensorFlow's older one, "2026-08-01 12:00:00.123456: E tensorflow/core/...". Severity I, W, E, F.
_TF_LOG_LINE = re.compile(rb"^(?:(?P<absl>[IWEF])\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\]"
                          rb"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: (?P<tf>[IWEF]) \S+)")
_ABSL_NOTICE = b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
_SEVERITY = {b"I": 0, b"W": 1, b"E": 2, b"F": 3}
_STDERR_FILTER: dict | None = None


def tensorflow_log_level(line: bytes | str) -> int | None:
    """The ``TF_CPP_MIN_LOG_LEVEL`` that hides ``line``: 1 for INFO, 2 for WARNING, 3 for ERROR (and for absl's
    "All log messages before absl::InitializeLog()" notice); ``None`` for a fatal line or a line that is not one of
    TensorFlow's C++ log lines (those always show).

    Introduced in 00_start_here (used by :func:`quiet_tensorflow_startup`).

    Raises:
        ValueError: if ``line`` is neither ``bytes`` nor ``str``.
    """
    if isinstance(line, str):
        line = line.encode("utf-8", "replace")
    if not isinstance(line, bytes):
        raise ValueError(f"expected one line of text (str or bytes), got {type(line).__name__}: {line!r}")
    if line.startswith(_ABSL_NOTICE):
        return 1
    match = _TF_LOG_LINE.match(line)
    if match is None:
        return None
    severity = _SEVERITY[match.group("absl") or match.group("tf")]
    return None if severity == 3 else severity + 1


def _could_start_log_line(head: bytes) -> bool:
    """Whether an unfinished line could still become a hidden log line (so it waits for its end)."""
    return bool(re.match(rb"^(?:[IWE]\d{0,4}(?: |$)|\d)", head)) or _ABSL_NOTICE.startswith(head[:len(_ABSL_NOTICE)])


def _pump_stderr(read_fd: int, write_fd: int, state: dict) -> None:
    """Copy ``read_fd`` to ``write_fd`` line by line, leaving out the log lines ``state["min_level"]`` hides."""
    pending = b""
    while True:
        min_level = state["min_level"]
        try:
            chunk = os.read(read_fd, 65536)
        except OSError:
            chunk = b""
        if not chunk:
            break
        pending += chunk
        lines = pending.split(b"\n")
        pending = lines.pop()
        kept = [line + b"\n" for line in lines if (tensorflow_log_level(line) or 99) > min_level]
        if pending and (len(pending) > 65536 or not _could_start_log_line(pending)):
            kept.append(pending)
            pending = b""
        if kept:
            try:
                os.write(write_fd, b"".join(kept))
            except OSError:
                pass
    if pending and (tensorflow_log_level(pending) or 99) > state["min_level"]:
        try:
            os.write(write_fd, pending)
        except OSError:
            pass
    os.close(read_fd)


def _restore_stderr() -> None:
    """Put the process's own stderr back and let the filter thread pass on what it still holds (at exit)."""
    global _STDERR_FILTER
    state, _STDERR_FILTER = _STDERR_FILTER, None
    if state is None:
        return
    os.dup2(state["target"], 2)  # the pipe's last write end closes: the thread reads to its end and stops
    state["thread"].join(timeout=2)
    os.close(state["target"])


def _filter_tensorflow_log_lines(min_level: int) -> bool:
    """Route file descriptor 2 through a thread that drops TensorFlow's C++ log lines below ``min_level``.

    TensorFlow 2.20 and 2.21 log through absl before anything calls ``absl::InitializeLog()``; such lines go to
    stderr whatever ``TF_CPP_MIN_LOG_LEVEL`` says (e.g. Grappler's "remapper failed ... LeakyReluGrad" error when
    it declines to fuse a convolution with the LeakyReLU after it, in a gradient of a gradient, as in R1; the
    graph then runs unfused, as it would anyway). This applies the level to them, the way TensorFlow applies it
    to its own lines; fatal lines and everything else pass through unchanged, and nothing TensorFlow computes
    changes. Only inside a Jupyter kernel, whose file descriptor 2 is already a pipe read by a thread (ipykernel
    copies it into the cell's output); a plain script keeps its stderr untouched.
    """
    global _STDERR_FILTER
    if _STDERR_FILTER is not None:
        _STDERR_FILTER["min_level"] = min_level
        return True
    read_fd, write_fd = os.pipe()
    target = os.dup(2)
    os.dup2(write_fd, 2)
    os.close(write_fd)
    state = {"target": target, "min_level": min_level}
    state["thread"] = threading.Thread(target=_pump_stderr, args=(read_fd, target, state), daemon=True,
                                       name="course-utils-tensorflow-log-filter")
    state["thread"].start()
    _STDERR_FILTER = state
    atexit.register(_restore_stderr)
    return True


def _in_jupyter_kernel() -> bool:
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    return shell is not None and getattr(shell, "kernel", None) is not None


def _min_log_level(environ=None) -> int:
    raw = (os.environ if environ is None else environ).get("TF_CPP_MIN_LOG_LEVEL", "0").strip() or "0"
    try:
        return max(0, min(3, int(raw)))
    except ValueError:
        return 0


def quiet_tensorflow_startup():
    """Import TensorFlow and probe for GPUs once, with the C++ start-up lines it writes to stderr muted.

    TensorFlow 2.21 prints absl log lines (oneDNN, CUDA probing) straight to the process's stderr before
    ``TF_CPP_MIN_LOG_LEVEL`` takes effect; in a notebook they land in the cell's output. The set-up cell of every
    lesson calls this once; Python exceptions still surface normally. Before the import it calls
    :func:`configure_cpu`, so oneDNN and the thread counts suit this CPU. In a Jupyter kernel it also keeps the
    C++ log lines that TensorFlow writes later, while lessons train, out of the outputs when
    ``TF_CPP_MIN_LOG_LEVEL`` asks to hide them (the set-up cell sets 3): absl prints them regardless under
    TensorFlow 2.20 and 2.21 (see :func:`tensorflow_log_level`).

    Introduced in 00_start_here.

    Returns:
        The ``tensorflow`` module.
    """
    global _CPU_CONFIG
    if "tensorflow" not in sys.modules or _CPU_CONFIG is None:
        _CPU_CONFIG = configure_cpu()
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import tensorflow as tf

            _apply_threads(tf, _CPU_CONFIG)
            tf.config.list_physical_devices("GPU")
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    min_level = _min_log_level()
    if min_level > 0 and _in_jupyter_kernel():
        _filter_tensorflow_log_lines(min_level)
    return tf


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
