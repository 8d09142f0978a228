import numpy as np
import pytest

from course_utils import device


def test_setup_on_cpu_chooses_float32_without_xla_and_seeds():
    import keras

    cfg = device.setup(seed=3)
    assert cfg.device_name in {"CPU", "GPU"}
    if not cfg.on_gpu:
        assert not cfg.mixed_precision and not cfg.jit_compile
        assert keras.config.dtype_policy().name == "float32"
    a = np.random.rand(3)
    device.setup(seed=3)
    np.testing.assert_array_equal(a, np.random.rand(3))


def test_setup_explicit_flags_and_restore():
    import keras

    cfg = device.setup(seed=0, mixed_precision=True, xla=True)
    try:
        assert cfg.mixed_precision and cfg.jit_compile
        assert keras.config.dtype_policy().name == "mixed_float16"
    finally:
        device.setup(seed=0, mixed_precision=False, xla=False)
    assert keras.config.dtype_policy().name == "float32"


@pytest.mark.parametrize("kwargs, match", [
    ({"seed": -1}, "seed must be a non-negative int, got -1"),
    ({"seed": 1.5}, "seed must be a non-negative int, got 1.5"),
    ({"seed": 0, "xla": "yes"}, "xla must be True, False or 'auto', got 'yes'"),
    ({"seed": 0, "mixed_precision": 1}, "mixed_precision must be True, False or 'auto', got 1"),
])
def test_setup_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        device.setup(**kwargs)


def test_environment_report_has_what_a_bug_report_needs(capsys, monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    cfg = device.setup(seed=1)
    report = device.environment_report(cfg)
    printed = capsys.readouterr().out
    for key in ("Python", "TensorFlow", "Keras", "CPU cores", "RAM", "GPU", "Profile", "Data", "Precision", "XLA"):
        assert key in report and key in printed
    assert report["Profile"] == "smoke"
    assert "mnist_5k.npz" in report["Data"]


def test_quiet_tensorflow_startup_mutes_cpp_lines_only():
    import subprocess
    import sys

    code = ("import os, sys\nfrom course_utils.device import quiet_tensorflow_startup as q\ntf = q()\n"
            "print('tf', tf.__version__)\nsys.stderr.write('python stderr ok\\n'); sys.stderr.flush()\n"
            "os.write(2, b'fd stderr ok')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)
    assert out.returncode == 0 and out.stdout.startswith("tf "), out.stderr
    assert "I0000" not in out.stderr and "absl::InitializeLog" not in out.stderr
    assert "python stderr ok" in out.stderr and "fd stderr ok" in out.stderr, "stderr must be restored afterwards"
