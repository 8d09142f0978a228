"""TensorFlow imported quietly: the set-up cell's one call, and TensorFlow's C++ log lines kept out of outputs.

Every lesson's set-up cell calls :func:`quiet_tensorflow_startup`. It chooses the CPU configuration first
(:mod:`course_utils.cpu`: oneDNN and the thread counts must be set *before* TensorFlow is imported), imports
TensorFlow with its C++ start-up lines muted and, in a Jupyter kernel, routes the process's stderr through a filter
that applies ``TF_CPP_MIN_LOG_LEVEL`` to the lines absl prints regardless (:func:`tensorflow_log_level`). Nothing
happens on import.
"""

from __future__ import annotations

import atexit
import os
import re
import sys
import threading

from .cpu import _apply_threads, _configure_before_import

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
    :func:`course_utils.cpu.configure_cpu`, so oneDNN and the thread counts suit this CPU. In a Jupyter kernel it also keeps the
    C++ log lines that TensorFlow writes later, while lessons train, out of the outputs when
    ``TF_CPP_MIN_LOG_LEVEL`` asks to hide them (the set-up cell sets 3): absl prints them regardless under
    TensorFlow 2.20 and 2.21 (see :func:`tensorflow_log_level`).

    Introduced in 00_start_here.

    Returns:
        The ``tensorflow`` module.
    """
    cpu_choice = _configure_before_import()
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import tensorflow as tf

            _apply_threads(tf, cpu_choice)
            tf.config.list_physical_devices("GPU")
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    min_level = _min_log_level()
    if min_level > 0 and _in_jupyter_kernel():
        _filter_tensorflow_log_lines(min_level)
    return tf
