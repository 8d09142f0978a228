"""The argument checks that several helpers share: an int of at least n (never a bool), a positive finite number.

Each raises ``ValueError`` saying what was expected and what came, in the words the caller gives.

Introduced in 01_gan_objective (through ``course_utils.mixtures``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["int_at_least", "positive_number"]


def int_at_least(value: Any, at_least: int, name: str, *, expected: str | None = None) -> int:
    """``value`` as an int if it is an integer (Python or NumPy, not a bool) ``>= at_least``.

    Args:
        value: what came.
        at_least: the smallest allowed value.
        name: the argument's name, for the message.
        expected: how the message describes a good value (default ``"an int >= {at_least}"``).

    Raises:
        ValueError: ``"{name} must be {expected}, got {value!r}"``.
    """
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer) or value < at_least:
        raise ValueError(f"{name} must be {expected or f'an int >= {at_least}'}, got {value!r}")
    return int(value)


def positive_number(value: Any, name: str, *, expected: str = "a positive finite number") -> float:
    """``value`` as a float if it is a real number (not a bool), finite and > 0.

    Raises:
        ValueError: ``"{name} must be {expected}, got {value!r}"``.
    """
    if (isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.integer | np.floating)
            or not math.isfinite(float(value)) or float(value) <= 0):
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return float(value)
