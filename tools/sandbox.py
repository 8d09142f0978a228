"""A sandbox for the kernel that runs a student's notebook while it is graded (Linux, bubblewrap).

nbgrader stays outside, in the teacher's process: it assembles the notebook (the locked check cells restored from
the source, the hidden tests put back), keeps the gradebook and reads the results. Only the *kernel*, where the
student's code runs, is started inside the sandbox, through a kernel spec whose command is wrapped with
``bwrap`` (Debian's ``bubblewrap``). nbgrader talks to that kernel over Unix sockets (ZeroMQ's ``ipc`` transport)
in a private folder that both sides see, since the kernel has no network at all.

What the sandboxed kernel gets:

* its own mount, PID, network, IPC and UTS namespaces: it sees only ``/usr``, ``/etc``, the Python installation
  and environment, the course's public package (``course_utils``, with ``course_utils/exercises`` replaced by
  stand-ins that hold no answers), ``data/`` and the benchmark records (``benchmarks/figures``), all read-only, plus
  a private scratch folder (its working folder and home); no ``/root``, no ``build/``, no source notebooks, no
  gradebook, no other submission, no ``notebooks/`` (whose lessons hold the solutions: a lesson that loads another
  lesson's code gets that lesson's ``.py`` with its solutions cut out);
* no network: a new network namespace with a loopback of its own;
* an unprivileged user: after the mounts, ``setpriv`` drops to a uid of its own (one per parallel slot), with no
  capabilities, no new privileges and no supplementary groups, also when the teacher is root;
* limits: processes (``RLIMIT_NPROC`` of that uid), file size (``RLIMIT_FSIZE``), core files off; the teacher's
  process watches the memory of that uid's processes and kills them all past the limit;
* an end: ``--die-with-parent`` and the PID namespace take every process of the sandbox down with it, and
  :func:`kill_uid` sends SIGKILL to whatever still runs under the slot's uid.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from course_utils.validate import int_at_least

ROOT = Path(__file__).resolve().parent.parent
KERNEL_NAME = "image-synthesis-course"
FIRST_UID = 62000  # the sandbox uids are FIRST_UID + 1 ... FIRST_UID + 9999
LAST_UID = FIRST_UID + 9999


@dataclass(frozen=True)
class Limits:
    """What one sandboxed kernel may use."""

    memory_mb: int = 3000
    processes: int = 256
    file_mb: int = 200

    def __post_init__(self) -> None:
        for name in ("memory_mb", "processes", "file_mb"):
            object.__setattr__(self, name, int_at_least(getattr(self, name), 1, name))


def bwrap_path() -> str | None:
    """The ``bwrap`` executable, or None when bubblewrap is not installed."""
    return shutil.which("bwrap")


def setpriv_path() -> str | None:
    return shutil.which("setpriv")


def missing_tools() -> str | None:
    """Why the sandbox cannot run here (a sentence), or None when it can."""
    if sys.platform != "linux":
        return f"the grading sandbox needs Linux (bubblewrap); this is {sys.platform}"
    if bwrap_path() is None:
        return "bubblewrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    if setpriv_path() is None:
        return "setpriv is not installed (Debian/Ubuntu: apt-get install util-linux)"
    if os.geteuid() != 0:
        # As a normal user bwrap needs unprivileged user namespaces; the uid drop then is the user's own.
        return None
    return None


def _ro(path: Path) -> list[str]:
    return ["--ro-bind", str(path), str(path)]


def _parents(paths: list[Path]) -> list[str]:
    """``--dir`` + ``--chmod 0755`` for every folder bwrap creates on the way to a mount point.

    bwrap creates missing parents with mode 0700, which the unprivileged user could not enter.
    """
    seen: list[Path] = []
    for path in paths:
        for parent in reversed(path.parents):
            if parent != Path("/") and parent not in seen:
                seen.append(parent)
    args: list[str] = []
    for parent in seen:
        args += ["--dir", str(parent), "--chmod", "0755", str(parent)]
    return args


def public_paths() -> list[Path]:
    """What the kernel may read: the Python installation and environment, ``course_utils``, ``data/`` and the
    committed benchmark records that lessons read (``benchmarks/figures``)."""
    paths = [Path(sys.base_prefix).resolve(), Path(sys.prefix), ROOT / "course_utils", ROOT / "data",
             ROOT / "benchmarks" / "figures"]
    out: list[Path] = []
    for p in paths:
        if p.exists() and not any(p == q or p.is_relative_to(q) for q in out):
            out.append(p)
    return out


def kernel_command(uid: int, scratch: Path, runtime: Path, limits: Limits,
                   extra_ro: list[tuple[Path, Path]] = ()) -> list[str]:
    """The kernel spec's ``argv``: bwrap with the mounts above, then setpriv and the IPython kernel.

    Args:
        uid: the unprivileged uid (and gid) the kernel runs as.
        scratch: the kernel's private, writable working folder and home (owned by ``uid``).
        runtime: the folder of the connection file and the ipc sockets (shared with nbgrader, writable).
        limits: the process and file-size limits.
        extra_ro: more read-only mounts, ``(source, target)``, mounted last (so they may cover a public folder).
    """
    bwrap, setpriv = bwrap_path(), setpriv_path()
    if bwrap is None or setpriv is None:
        raise RuntimeError(missing_tools() or "the sandbox tools are missing")
    public = public_paths()
    cmd = [bwrap, "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
           "--die-with-parent", "--new-session", "--hostname", "sandbox",
           "--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc"]
    for name in ("bin", "lib", "lib64", "sbin"):
        link = Path("/") / name
        if link.is_symlink():
            cmd += ["--symlink", os.readlink(link), str(link)]
        elif link.is_dir():
            cmd += _ro(link)
    cmd += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    cmd += _parents([*public, scratch, runtime, *(t for _, t in extra_ro)])
    for path in public:
        cmd += _ro(path)
    for source, target in extra_ro:
        cmd += ["--ro-bind", str(source), str(target)]
    cmd += ["--bind", str(scratch), str(scratch), "--bind", str(runtime), str(runtime), "--chdir", str(scratch)]
    env = {"HOME": str(scratch), "TMPDIR": str(scratch / "tmp"), "MPLCONFIGDIR": str(scratch / "mpl"),
           "JUPYTER_RUNTIME_DIR": str(runtime), "IPYTHONDIR": str(scratch / "ipython"),
           "XDG_CACHE_HOME": str(scratch / "cache"), "COURSE_OFFLINE": "1", "COURSE_CACHE_DIR": str(scratch / "cache"),
           "PATH": f"{Path(sys.prefix) / 'bin'}:/usr/bin:/bin"}
    cmd += ["--clearenv"]
    for key in ("COURSE_PROFILE", "TF_CPP_MIN_LOG_LEVEL", "MPLBACKEND", "PYTHONHASHSEED", "TF_ENABLE_ONEDNN_OPTS",
                "COURSE_MIXED_PRECISION", "COURSE_XLA", "LANG"):
        if key in os.environ:
            env.setdefault(key, os.environ[key])
    for key, value in env.items():
        cmd += ["--setenv", key, value]
    # Still root inside bwrap: hand the connection file (mode 0600, the teacher's) to the kernel's user, then drop.
    own = scratch / "connection.json"
    script = ('install -o "$1" -g "$1" -m 0600 "$2" "$3" && shift 3 && exec "$@"')
    cmd += ["--", "/bin/sh", "-c", script, "sandbox", str(uid), "{connection_file}", str(own),
            setpriv, f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--no-new-privs",
            "--bounding-set=-all", "--inh-caps=-all",
            "prlimit", f"--nproc={limits.processes}", f"--fsize={limits.file_mb * 2**20}", "--core=0", "--",
            str(Path(sys.prefix) / "bin" / "python"), "-Xfrozen_modules=off", "-m", "ipykernel_launcher",
            "-f", str(own)]
    return cmd


def write_kernel_spec(folder: Path, uid: int, scratch: Path, runtime: Path, limits: Limits,
                      extra_ro: list[tuple[Path, Path]] = ()) -> Path:
    """Write ``folder/kernels/<course kernel>/kernel.json`` (put ``folder`` first on ``JUPYTER_PATH``)."""
    spec = folder / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": kernel_command(uid, scratch, runtime, limits, list(extra_ro)), "display_name": "Python (sandboxed grading)",
        "language": "python", "interrupt_mode": "message"}, indent=1), encoding="utf-8")
    return spec


def prepare_scratch(scratch: Path, uid: int) -> None:
    """A fresh, empty scratch folder owned by ``uid`` (with the sub-folders the kernel's environment names)."""
    if scratch.exists():
        shutil.rmtree(scratch)
    for sub in ("", "tmp", "mpl", "ipython", "cache"):
        (scratch / sub).mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            os.chown(scratch / sub, uid, uid)
    scratch.chmod(0o700)


def uid_processes(uid: int) -> list[int]:
    """The PIDs of every process whose real uid is ``uid``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("Uid:"):
                if int(line.split()[1]) == uid:
                    pids.append(int(entry.name))
                break
    return pids


def uid_rss_mb(uid: int) -> float:
    """Resident memory of all ``uid``'s processes, in MiB."""
    total = 0
    for pid in uid_processes(uid):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
                    break
        except OSError:
            continue
    return total / 1024


def kill_uid(uid: int, rounds: int = 20) -> int:
    """SIGKILL every process of ``uid`` until none is left (or ``rounds`` passes); return how many remain."""
    for _ in range(rounds):
        pids = uid_processes(uid)
        if not pids:
            return 0
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.05)
    return len(uid_processes(uid))


class MemoryWatch:
    """A thread that kills every process of ``uid`` once their resident memory passes ``limit_mb``."""

    def __init__(self, uid: int, limit_mb: int, period_s: float = 0.2) -> None:
        self.uid, self.limit_mb, self.period_s = uid, limit_mb, period_s
        self.peak_mb = 0.0
        self.tripped = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> MemoryWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.period_s):
            rss = uid_rss_mb(self.uid)
            self.peak_mb = max(self.peak_mb, rss)
            if rss > self.limit_mb:
                self.tripped = True
                kill_uid(self.uid)
