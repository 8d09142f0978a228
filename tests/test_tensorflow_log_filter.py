"""TensorFlow's C++ log lines stay out of lesson outputs (issue 28): course_utils.device filters them in kernels.

Under TensorFlow 2.20 with ipykernel 6.17 (Colab's versions) and 2.21, absl prints lines logged before
``absl::InitializeLog()`` whatever ``TF_CPP_MIN_LOG_LEVEL`` says, e.g. Grappler's "remapper failed ... LeakyReluGrad"
error in an R1 step (a gradient of a gradient through LeakyReLU). The set-up cell's ``quiet_tensorflow_startup()``
applies the level to them in a Jupyter kernel. `make test-colab` runs this file under Colab's versions too.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from pathlib import Path

import pytest

from course_utils import device, tensorflow_startup

ROOT = Path(__file__).resolve().parent.parent
REMAPPER = ("E0000 00:00:1796483138.385771    5737 meta_optimizer.cc:967] remapper failed: INVALID_ARGUMENT: "
            "Mutation::Apply error: fanout 'gradient_tape/sequential/leaky_re_lu/LeakyRelu/LeakyReluGrad' exist for "
            "missing node 'sequential/conv2d/BiasAdd'.")
NOTICE = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
HIDDEN = re.compile(r"absl::InitializeLog|^[IWE]\d{4} \d\d:\d\d:\d|meta_optimizer|remapper failed", re.MULTILINE)


@pytest.mark.parametrize("line, level", [
    (REMAPPER, 3),
    (NOTICE, 1),
    ("I0000 00:00:1796483113.099175    5681 port.cc:153] oneDNN custom operations are on.", 1),
    ("W0000 00:00:1796483113.099175    5681 cuda_executor.cc:1] no GPU", 2),
    ("2026-08-01 12:00:00.123456: E tensorflow/core/grappler/optimizers/meta_optimizer.cc:961] failed", 3),
    ("2026-08-01 12:00:00.123456: I tensorflow/core/util/port.cc:113] oneDNN custom operations are on.", 1),
    ("F0000 00:00:1796483113.099175    5681 logging.cc:1] Check failed: x", None),  # fatal: always shown
    ("Traceback (most recent call last):", None),
    ("E0000 is how the course names nothing", None),
    ("", None),
])
def test_log_level_of_a_line(line, level):
    assert device.tensorflow_log_level(line) == level
    assert device.tensorflow_log_level(line.encode()) == level


@pytest.mark.parametrize("bad", [None, 3, ["E0000"]])
def test_log_level_refuses_what_is_not_a_line(bad):
    with pytest.raises(ValueError, match="expected one line of text"):
        device.tensorflow_log_level(bad)


def _pump(chunks, min_level):
    read_in, write_in = os.pipe()
    read_out, write_out = os.pipe()
    thread = threading.Thread(target=tensorflow_startup._pump_stderr, args=(read_in, write_out, {"min_level": min_level}))
    thread.start()
    for chunk in chunks:
        os.write(write_in, chunk.encode())
    os.close(write_in)
    thread.join(timeout=10)
    os.close(write_out)
    with os.fdopen(read_out, "rb") as out:
        return out.read().decode()


def test_pump_drops_hidden_lines_and_keeps_the_rest_in_order():
    text = f"{NOTICE}\n{REMAPPER}\nplain line\nF0000 00:00:1.5    1 x.cc:1] fatal\nno newline at the end"
    assert _pump([text], 3) == "plain line\nF0000 00:00:1.5    1 x.cc:1] fatal\nno newline at the end"
    assert _pump([text], 2) == f"{REMAPPER}\nplain line\nF0000 00:00:1.5    1 x.cc:1] fatal\nno newline at the end"


def test_pump_joins_a_log_line_split_across_writes():
    half = len(REMAPPER) // 2
    assert _pump(["before\nE00", "00 00:00:1.0    1 ", REMAPPER[half - 40:half], "\nafter\n"], 3).startswith("before\n")
    assert _pump([REMAPPER[:half], REMAPPER[half:] + "\nafter\n"], 3) == "after\n"
    assert _pump(["progress 10%", " 20%\n"], 3) == "progress 10% 20%\n"


@pytest.mark.slow
def test_no_tensorflow_log_line_reaches_a_kernel_running_an_r1_step():
    """A notebook with the set-up cell, then a tiny R1 step (input gradient through Conv2D + LeakyReLU, then its
    gradient with respect to the weights): its outputs hold no C++ log line; other stderr output still shows."""
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient

    setup = (ROOT / "tools" / "setup_cell.py").read_text()
    r1_step = """
import keras
from keras import layers
d = keras.Sequential([keras.Input((28, 28, 1)), layers.Conv2D(8, 4, strides=2, padding="same"),
                      layers.LeakyReLU(negative_slope=0.2), layers.Conv2D(16, 4, strides=2, padding="same"),
                      layers.LeakyReLU(negative_slope=0.2), layers.Flatten(), layers.Dense(1)])
opt = keras.optimizers.Adam(1e-3)

@tf.function
def r1_step(x):
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            inner.watch(x)
            total = tf.reduce_sum(d(x, training=True))
        r1 = tf.reduce_mean(tf.reduce_sum(tf.square(inner.gradient(total, x)), axis=[1, 2, 3]))
    grads = outer.gradient(r1, d.trainable_variables)
    opt.apply_gradients([(g, v) for g, v in zip(grads, d.trainable_variables) if g is not None])
    return r1

print("R1 step ran:", bool(tf.math.is_finite(r1_step(tf.random.normal((8, 28, 28, 1))))))
"""
    # What TensorFlow 2.20 prints in that step under Colab's versions, written as TensorFlow writes it (file
    # descriptor 2), so the test fails whenever the filter is off, whichever TensorFlow happens to log.
    written = f"""
import os, time
os.write(2, {(NOTICE + chr(10) + REMAPPER + chr(10)).encode()!r})
os.write(2, b"a C library's own line\\n")
time.sleep(0.5)
"""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(setup), nbformat.v4.new_code_cell(r1_step), nbformat.v4.new_code_cell(written)]
    # Without PYTEST_CURRENT_TEST: ipykernel 7 copies file descriptor 2 into the outputs only outside pytest.
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    env = {**{k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}, "PYTHONPATH": path,
           "TF_CPP_MIN_LOG_LEVEL": "3", "COURSE_OFFLINE": "1"}
    client = NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}})
    with client.setup_kernel(env=env, cwd=str(ROOT)):
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index)
    texts = ["".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream") for cell in nb.cells]
    assert "R1 step ran: True" in texts[1]
    assert "a C library's own line" in texts[2], f"stderr that is not a log line must still show: {texts[2]!r}"
    for index, text in enumerate(texts):
        assert not HIDDEN.search(text), f"cell {index} shows a TensorFlow C++ log line ({sys.version.split()[0]}):\n{text}"
