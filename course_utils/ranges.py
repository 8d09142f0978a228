"""One check for a pixel range ``(low, high)``, shared by the plots (:mod:`course_utils.viz`) and the evaluator."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["check_value_range"]


def check_value_range(value_range: Any) -> tuple[float, float]:
    """Check an explicit ``(low, high)`` pixel range and return it as two floats.

    Introduced in 00_start_here (through ``viz.show_images``; the evaluator of 03_cnn_classifier uses it too).

    Raises:
        ValueError: unless ``value_range`` is a pair of finite numbers with ``low < high`` that stay apart in
            float32 (a zero-width range would divide by zero).
    """
    if isinstance(value_range, str) or not isinstance(value_range, (tuple, list, np.ndarray)) or len(value_range) != 2:
        raise ValueError(f"value_range must be 'auto' or (low, high) with low < high, got {value_range!r}")
    try:
        low, high = float(value_range[0]), float(value_range[1])
    except (TypeError, ValueError):
        raise ValueError(f"value_range must be 'auto' or (low, high) with two numbers, got {value_range!r}") from None
    if not (np.isfinite(low) and np.isfinite(high)):
        raise ValueError(f"value_range must be 'auto' or two finite numbers (low, high), got {value_range!r}")
    if not low < high or np.float32(high) - np.float32(low) <= 0:
        raise ValueError(f"value_range must be 'auto' or (low, high) with low < high (a range of non-zero width), got "
                         f"{value_range!r}")
    return low, high
