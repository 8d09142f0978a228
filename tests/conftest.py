"""Shared fixtures: every test runs offline with a private cache and no classroom mirror."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(autouse=True)
def _isolated_data_env(tmp_path, monkeypatch):
    """Point the download cache at a temporary folder, disable the network and any mirror."""
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    monkeypatch.delenv("COURSE_DATA_MIRROR", raising=False)
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    yield


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


class DataOnlyRemote:
    """The grader's stand-in for a student's function: every harness case goes through rpc as data, both ways.

    Calling it directly fails the test (a check must hand the function to its harness, never live objects);
    ``calls`` lists the ``(harness name, spec)`` of each case.
    """

    def __init__(self, fn, tmp_path):
        self.fn, self.tmp, self.calls = fn, tmp_path, []
        self.__course_names__: set[str] = set()

    def __call__(self, *args, **kwargs):
        raise AssertionError("a check called the student's function directly, with live objects, not via a harness")

    def __course_harness__(self, name, spec):
        from course_utils import harness, rpc

        self.calls.append((name, spec))
        arrays: dict = {}
        req, res = self.tmp / "req.npz", self.tmp / "res.npz"
        rpc.save(req, {"args": rpc.encode([], arrays), "kwargs": rpc.encode(spec, arrays)}, arrays)
        rpc.serve_call({"__h": lambda **s: harness.HARNESSES[name](self.fn, **s)}, "__h", str(req), str(res))
        reply, out = rpc.load(res)
        if "error" in reply:
            raise (NotImplementedError if reply["error"] == "NotImplementedError" else RuntimeError)(reply["message"])
        return rpc.decode(reply["result"], out)

    @property
    def harness_names(self) -> set[str]:
        return {name for name, _ in self.calls}


@pytest.fixture
def data_only_remote(tmp_path):
    """``data_only_remote(fn)``: a :class:`DataOnlyRemote` of ``fn`` working in this test's folder."""
    return lambda fn: DataOnlyRemote(fn, tmp_path)
