"""Calls from the grader into a sandboxed kernel, with data only: arrays in ``.npz`` (no pickle), the rest in JSON.

When a submission is graded (``make grade``), the student's notebook runs in a sandboxed kernel and the checks run
in the grader's own process, outside the student's reach. A check calls the student's function through a proxy;
the proxy writes the arguments with :func:`save`, runs :func:`serve_call` in the kernel, and reads the result
with :func:`load`. Only plain data crosses: NumPy arrays and TensorFlow tensors (sent as arrays), numbers,
strings, None, and tuples, lists, sets and dicts of them. Nothing is unpickled, so a submission cannot make the
grader run code by what it returns.

This module holds no answers; it is the kernel's side of the protocol (and the encoding both sides share).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["NotData", "decode", "encode", "load", "save", "serve_call"]

MAX_ARRAY_BYTES = 64 * 2**20


class NotData(TypeError):
    """A value that cannot cross the boundary (a model, an optimizer, a function...)."""


def encode(value: Any, arrays: dict[str, np.ndarray]) -> Any:
    """A JSON-able description of ``value``; its arrays go into ``arrays`` (key ``a<N>``).

    Raises:
        NotData: for anything but arrays, tensors, numbers, strings, None and containers of them.
    """
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, np.generic):  # before int | float: np.float64 is a subclass of float
        key = f"a{len(arrays)}"
        arrays[key] = np.asarray(value)
        return {"scalar": key}
    if isinstance(value, int | float) and not isinstance(value, bool):
        return {"num": repr(value), "type": type(value).__name__}
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            raise NotData("an array of Python objects")
        key = f"a{len(arrays)}"
        arrays[key] = value
        return {"array": key}
    if type(value).__module__.startswith("tensorflow") and hasattr(value, "numpy") and hasattr(value, "dtype"):
        key = f"a{len(arrays)}"
        arrays[key] = np.asarray(value.numpy())
        return {"tensor": key}
    if isinstance(value, tuple | list | set | frozenset):
        kind = "set" if isinstance(value, set | frozenset) else type(value).__name__ if type(value) in (tuple, list) \
            else None
        if kind is None:
            raise NotData(f"a {type(value).__name__}")
        items = sorted(value, key=repr) if kind == "set" else value
        return {kind: [encode(v, arrays) for v in items]}
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise NotData("a dict with keys that are not str")
        return {"dict": {k: encode(v, arrays) for k, v in value.items()}}
    raise NotData(f"a {type(value).__module__}.{type(value).__name__}")


def decode(doc: Any, arrays: Any, *, tensors: bool = True) -> Any:
    """The value :func:`encode` described (tensors come back as ``tf.constant`` when ``tensors``)."""
    if doc is None or isinstance(doc, bool | str):
        return doc
    if not isinstance(doc, dict) or len(doc) not in (1, 2):
        raise ValueError(f"expected an encoded value, got {str(doc)[:80]!r}")
    if "num" in doc:
        kind = doc.get("type")
        if kind not in ("int", "float"):
            raise ValueError(f"expected a number of type int or float, got {kind!r}")
        return int(doc["num"]) if kind == "int" else float(doc["num"])
    (kind, body), = doc.items()
    if kind in ("array", "scalar", "tensor"):
        arr = np.asarray(arrays[body])
        if kind == "scalar":
            return arr[()]
        if kind == "tensor" and tensors:
            import tensorflow as tf

            return tf.constant(arr)
        return arr
    if kind in ("tuple", "list", "set"):
        items = [decode(v, arrays, tensors=tensors) for v in body]
        return tuple(items) if kind == "tuple" else set(items) if kind == "set" else items
    if kind == "dict":
        return {k: decode(v, arrays, tensors=tensors) for k, v in body.items()}
    raise ValueError(f"expected an encoded value, got the kind {kind!r}")


def save(path: Path | str, doc: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Write ``doc`` (JSON) and ``arrays`` as one ``.npz`` (the JSON under the key ``__doc__``), atomically."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, __doc__=np.frombuffer(json.dumps(doc).encode("utf-8"), np.uint8), **arrays)
    os.replace(tmp, path)


def load(path: Path | str, *, max_bytes: int = MAX_ARRAY_BYTES) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read what :func:`save` wrote, refusing pickles and files over ``max_bytes``.

    Raises:
        ValueError: if the file is missing, too large, or not a document written by :func:`save`.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"expected a result file at {path}, found none")
    size = path.stat().st_size
    if size > max_bytes:
        raise ValueError(f"expected a result of at most {max_bytes} bytes, got {size} bytes")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        doc = json.loads(arrays.pop("__doc__").tobytes().decode("utf-8"))
    except Exception as err:  # noqa: BLE001 - anything unreadable is one kind of bad answer
        raise ValueError(f"expected a result written by course_utils.rpc.save at {path}: {err}") from None
    if not isinstance(doc, dict):
        raise ValueError(f"expected a JSON object in {path}, got {type(doc).__name__}")
    return doc, arrays


def serve_call(namespace: dict[str, Any], name: str, request: str, response: str) -> None:
    """Call ``namespace[name]`` on the arguments in ``request``; write its result, or its error, to ``response``.

    Runs in the sandboxed kernel. A ``NotImplementedError`` (nbgrader's stub) and any other exception are reported
    by type name and message; a result that is not plain data is reported as such.
    """
    doc, arrays = load(request)
    out: dict[str, np.ndarray] = {}
    try:
        fn = namespace[name]
        args = decode(doc["args"], arrays)
        kwargs = decode(doc["kwargs"], arrays)
        result = fn(*args, **kwargs)
        reply = {"result": encode(result, out)}
    except KeyError as err:
        reply = {"error": "NameError", "message": f"name {err} is not defined"} if name not in namespace else \
            {"error": "KeyError", "message": str(err)}
    except NotData as err:
        out.clear()
        reply = {"error": "TypeError", "message": f"returned {err}, which is not data (arrays, numbers, lists)"}
    except BaseException as err:  # noqa: BLE001 - the student's error is the answer
        reply = {"error": type(err).__name__, "message": str(err)[:2000]}
    save(response, reply, out)
