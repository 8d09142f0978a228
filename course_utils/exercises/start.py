"""Checks for the exercises of 00_start_here."""

from __future__ import annotations

import numpy as np

from ..checks import ExerciseError, call_safely, check_close, exercise, passed


@exercise(1, "class_counts")
def check_class_counts(fn) -> bool:
    """Check ``fn(labels) -> counts``: how many images of each digit 0..9 (length-10 integer array).

    Introduced in 00_start_here.
    """
    cases = [np.array([0, 1, 1, 9], np.uint8), np.array([3, 3, 3], np.uint8), np.arange(10, dtype=np.uint8)]
    for labels in cases:
        got = call_safely(fn, labels.copy(), what=f"counts for labels {labels.tolist()}")
        got = np.asarray(got)
        if got.shape != (10,):
            raise ExerciseError(f"counts for labels {labels.tolist()}: expected 10 counts (one per digit, "
                                f"even for digits that do not appear), got shape {got.shape}")
        check_close(got, np.bincount(labels, minlength=10), what=f"counts for labels {labels.tolist()}")
    return passed("class counts")


@exercise(2, "to_tanh_range")
def check_scale_to_tanh_range(fn) -> bool:
    """Check ``fn(images_uint8) -> float32`` images in [-1, 1] (0 -> -1, 255 -> 1), the range of ``tanh``.

    Introduced in 00_start_here.
    """
    x = np.array([[[0, 51, 102], [153, 204, 255]]], dtype=np.uint8)
    got = call_safely(fn, x.copy(), what="scaling a 1x2x3 uint8 image")
    got = np.asarray(got)
    if got.dtype != np.float32:
        raise ExerciseError(f"expected float32 (what Keras layers use), got {got.dtype}")
    check_close(got.reshape(x.shape), x.astype(np.float64) / 127.5 - 1.0,
                what="scaling pixels [0, 51, 102, 153, 204, 255]", atol=1e-6)
    return passed("scaling to [-1, 1]")
