import numpy as np
import pytest

from course_utils import cpu, device, environment, gpu_policy, tensorflow_startup


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
    for key in ("Python", "TensorFlow", "Keras", "CPU", "CPU cores", "oneDNN", "Threads", "RAM", "GPU", "Profile", "Data",
                "Precision", "XLA", "TF32", "Lesson kind"):
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


# ---- the CPU configuration chosen before TensorFlow is imported ------------------------------------------------

CPUINFO_ZEN3 = "processor\t: 0\nmodel name\t: AMD Ryzen 7 5800X\nflags\t\t: fpu sse sse2 avx fma avx2 bmi2\n"
CPUINFO_SPR = ("processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Platinum 8480C\n"
               "flags\t\t: avx avx2 fma avx512f avx512_vnni avx512_bf16 amx_tile amx_bf16 amx_int8\n")


def test_cpu_info_reads_model_and_the_flags_that_matter():
    model, flags = device.cpu_info(CPUINFO_ZEN3)
    assert model == "AMD Ryzen 7 5800X" and flags == ("avx", "avx2", "fma")
    model, flags = device.cpu_info(CPUINFO_SPR)
    assert "Xeon" in model and {"avx512f", "avx512_vnni", "amx_tile"} <= set(flags)


def test_usable_cpus_respect_a_cgroup_quota(tmp_path):
    import os

    affinity = len(os.sched_getaffinity(0))
    assert device.usable_cpu_count(tmp_path) == affinity  # no cgroup files: the affinity mask
    (tmp_path / "cpu.max").write_text("100000 100000\n")   # Binder: one CPU's worth of time
    assert device.usable_cpu_count(tmp_path) == 1
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert device.usable_cpu_count(tmp_path) == min(affinity, 2)
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert device.usable_cpu_count(tmp_path) == affinity
    (tmp_path / "cpu.max").unlink()
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("50000\n")   # cgroup v1, half a CPU
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert device.usable_cpu_count(tmp_path) == 1


def test_configure_cpu_turns_onednn_on_and_sizes_threads(monkeypatch):
    monkeypatch.setattr(cpu, "_is_x86", lambda: True)
    monkeypatch.setattr(cpu, "usable_cpu_count", lambda: 3)
    env = {}
    cfg = device.configure_cpu(env)
    assert env == {"TF_ENABLE_ONEDNN_OPTS": "1", "TF_NUM_INTRAOP_THREADS": "3", "TF_NUM_INTEROP_THREADS": "2"}
    assert cfg.onednn == "1" and (cfg.intra_threads, cfg.inter_threads) == (3, 2)
    assert cfg.reasons["oneDNN"].startswith("on: chosen by the course")
    monkeypatch.setattr(cpu, "usable_cpu_count", lambda: 1)
    env = {}
    device.configure_cpu(env)
    assert (env["TF_NUM_INTRAOP_THREADS"], env["TF_NUM_INTEROP_THREADS"]) == ("1", "1")


def test_the_learners_own_variables_always_win(monkeypatch):
    monkeypatch.setattr(cpu, "_is_x86", lambda: True)
    env = {"TF_ENABLE_ONEDNN_OPTS": "0", "TF_NUM_INTRAOP_THREADS": "5"}
    cfg = device.configure_cpu(env)
    assert env == {"TF_ENABLE_ONEDNN_OPTS": "0", "TF_NUM_INTRAOP_THREADS": "5"}
    assert cfg.onednn == "0" and cfg.intra_threads == 5 and cfg.inter_threads is None
    assert "set by you" in cfg.reasons["oneDNN"] and "set by you" in cfg.reasons["Threads"]


def test_configure_cpu_leaves_other_architectures_alone(monkeypatch):
    monkeypatch.setattr(cpu, "_is_x86", lambda: False)
    env = {}
    cfg = device.configure_cpu(env)
    assert "TF_ENABLE_ONEDNN_OPTS" not in env and cfg.onednn is None
    assert "not an x86-64 CPU" in cfg.reasons["oneDNN"]


@pytest.mark.parametrize("env, match", [
    ({"TF_ENABLE_ONEDNN_OPTS": "maybe"}, "TF_ENABLE_ONEDNN_OPTS must be 1 or 0"),
    ({"TF_NUM_INTRAOP_THREADS": "two"}, "TF_NUM_INTRAOP_THREADS must be a non-negative integer"),
    ({"TF_NUM_INTEROP_THREADS": "-1"}, "TF_NUM_INTEROP_THREADS must be a non-negative integer"),
])
def test_configure_cpu_refuses_unusable_values(env, match):
    with pytest.raises(ValueError, match=match):
        device.configure_cpu(dict(env))


def test_a_lesson_started_the_course_way_gets_onednn_and_the_chosen_threads():
    """In a fresh process the set-up cell's path really reaches TensorFlow (checked by TensorFlow itself)."""
    import os
    import subprocess
    import sys

    code = ("from course_utils import device\ntf = device.quiet_tensorflow_startup()\n"
            "print(device.onednn_active(), tf.config.threading.get_intra_op_parallelism_threads(),"
            " tf.config.threading.get_inter_op_parallelism_threads())\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_ENABLE_ONEDNN", "TF_NUM_"))}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180, env=env)
    assert out.returncode == 0, out.stderr
    onednn, intra, inter = out.stdout.split()
    usable = device.usable_cpu_count()
    if cpu._is_x86():
        assert onednn == "True"
    assert (int(intra), int(inter)) == (usable, min(2, usable))
    env["TF_ENABLE_ONEDNN_OPTS"] = "0"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180, env=env)
    assert out.returncode == 0 and out.stdout.split()[0] == "False", out.stderr


# ---- the GPU policy: exact lessons stay float32, training lessons may use mixed precision and XLA ---------------

def test_exact_lessons_ignore_the_training_switches(monkeypatch):
    import keras

    monkeypatch.setenv("COURSE_MIXED_PRECISION", "on")
    monkeypatch.setenv("COURSE_XLA", "on")
    cfg = device.setup(seed=0)
    assert not cfg.mixed_precision and not cfg.jit_compile and not cfg.training
    assert keras.config.dtype_policy().name == "float32"
    assert "exact float32" in cfg.reasons["Precision"]


def test_training_lessons_follow_the_switches(monkeypatch):
    import keras

    monkeypatch.setenv("COURSE_MIXED_PRECISION", "on")
    monkeypatch.setenv("COURSE_XLA", "ON")
    try:
        cfg = device.setup(seed=0, training=True)
        assert cfg.mixed_precision and cfg.jit_compile and cfg.dtype_policy == "mixed_float16"
        assert keras.config.dtype_policy().name == "mixed_float16"
        assert "set by you" in cfg.reasons["Precision"]
        monkeypatch.setenv("COURSE_MIXED_PRECISION", "off")
        monkeypatch.setenv("COURSE_XLA", "auto")
        cfg = device.setup(seed=0, training=True)
        assert not cfg.mixed_precision and cfg.jit_compile == cfg.on_gpu
        cfg = device.setup(seed=0, training=True, mixed_precision=True)  # the code's explicit choice wins
        assert cfg.mixed_precision
    finally:
        keras.config.set_dtype_policy("float32")


def test_tf32_is_off_for_exact_lessons_and_allowed_for_training(monkeypatch):
    import tensorflow as tf

    monkeypatch.delenv("COURSE_MIXED_PRECISION", raising=False)
    device.setup(seed=0, training=True)
    assert tf.config.experimental.tensor_float_32_execution_enabled()
    device.setup(seed=0)
    assert not tf.config.experimental.tensor_float_32_execution_enabled()


@pytest.mark.parametrize("name, value", [("COURSE_MIXED_PRECISION", "sometimes"), ("COURSE_XLA", "2")])
def test_bad_switch_values_are_refused(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=f"{name} must be auto, on or off, got '{value}'"):
        device.setup(seed=0, training=True)


def test_training_must_be_a_bool():
    with pytest.raises(ValueError, match="training must be True or False, got 'yes'"):
        device.setup(seed=0, training="yes")


def test_device_re_exports_the_names_lessons_tools_and_benchmarks_use():
    """``course_utils.device`` only re-exports: each name is the object of the module that does that job."""
    homes = {cpu: ["CPUConfig", "configure_cpu", "cpu_config", "cpu_info", "onednn_active", "usable_cpu_count",
                   "ONEDNN_ENV", "INTRA_ENV", "INTER_ENV"],
             tensorflow_startup: ["quiet_tensorflow_startup", "tensorflow_log_level"],
             gpu_policy: ["DeviceConfig", "setup", "list_gpus", "MIXED_PRECISION_ENV", "XLA_ENV"],
             environment: ["environment_report"]}
    for module, names in homes.items():
        for name in names:
            assert getattr(device, name) is getattr(module, name), name
    assert sorted(device.__all__) == sorted(n for names in homes.values() for n in names)
