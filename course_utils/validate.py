"""The argument checks that several helpers share: an int of at least n (never a bool), a positive finite number.

Each raises ``ValueError`` saying what was expected and what came, in the words the caller gives. The command lines
of ``tools/`` and ``benchmarks/`` use the same checks through :func:`int_option` and :func:`positive_option`
(``argparse`` types: a bad value ends the script with argparse's usage message and exit status 2).

Introduced in 01_gan_objective (through ``course_utils.mixtures``).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["int_at_least", "positive_number", "int_option", "positive_option"]


def int_at_least(value: Any, at_least: int, name: str, *, expected: str | None = None, note: str = "") -> int:
    """``value`` as an int if it is an integer (Python or NumPy, not a bool) ``>= at_least``.

    Args:
        value: what came.
        at_least: the smallest allowed value.
        name: the argument's name, for the message.
        expected: how the message describes a good value (default ``"an int >= {at_least}"``).
        note: a hint the message ends with, in brackets (``"images per row"``); none by default.

    Raises:
        ValueError: ``"{name} must be {expected}, got {value!r}"`` (then `` ({note})`` if given).
    """
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer) or value < at_least:
        raise ValueError(f"{name} must be {expected or f'an int >= {at_least}'}, got {value!r}"
                         + (f" ({note})" if note else ""))
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


def int_option(at_least: int) -> Callable[[str], int]:
    """An ``argparse`` type: the option's text as an int ``>= at_least`` (:func:`int_at_least`).

    ``parser.add_argument("--steps", type=int_option(1))``; ``--steps 0`` or ``--steps 1.5`` then ends the script
    with ``argument --steps: expected an int >= 1, got '0'`` (exit status 2).
    """
    def parse(text: str) -> int:
        try:
            return int_at_least(int(text), at_least, "the value")
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an int >= {at_least}, got {text!r}") from None

    parse.__name__ = f"int >= {at_least}"
    return parse


def positive_option(text: str) -> float:
    """An ``argparse`` type: the option's text as a positive finite number (:func:`positive_number`).

    ``parser.add_argument("--budget", type=positive_option)``; ``--budget 0`` or ``--budget nan`` ends the script
    with ``argument --budget: expected a positive finite number, got 'nan'`` (exit status 2).
    """
    try:
        return positive_number(float(text), "the value")
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive finite number, got {text!r}") from None
