"""One switch for how much work a lesson does: ``COURSE_PROFILE=smoke|full``.

Lessons read their epochs, steps and subset sizes through :func:`pick`, so the same notebook runs
in seconds under the test suite (``smoke``) and shows real results for a learner (``full``, the default).
"""

from __future__ import annotations

import os
from typing import TypeVar

from .validate import positive_number

T = TypeVar("T")

PROFILES = ("smoke", "full")
ENV_VAR = "COURSE_PROFILE"


def get_profile() -> str:
    """Return the active profile, read from the ``COURSE_PROFILE`` environment variable.

    Introduced in 00_start_here.

    Returns:
        ``"full"`` (the default, when the variable is unset or empty) or ``"smoke"``.

    Raises:
        ValueError: if the variable holds anything else.
    """
    value = os.environ.get(ENV_VAR, "").strip().lower() or "full"
    if value not in PROFILES:
        raise ValueError(f"{ENV_VAR} must be one of {PROFILES}, got {os.environ.get(ENV_VAR)!r}")
    return value


def is_smoke() -> bool:
    """Return True when the fast ``smoke`` profile (the one the tests use) is active.

    Introduced in 02_convolution_and_pooling.
    """
    return get_profile() == "smoke"


def pick(*, full: T, smoke: T) -> T:
    """Return ``full`` or ``smoke`` according to the active profile.

    Introduced in 00_start_here.

    Args:
        full: value for a learner's real run (default profile).
        smoke: value for the test suite's quick run.

    Returns:
        The value for the active profile.

    Example:
        >>> EPOCHS = pick(full=20, smoke=1)
    """
    return smoke if is_smoke() else full


TRAIN_MINUTES_ENV = "COURSE_TRAIN_MINUTES"


def train_minutes(*, full: float, smoke: float) -> float:
    """The wall-clock training budget of a training lesson, in minutes: :func:`pick`, unless you set your own.

    ``COURSE_TRAIN_MINUTES=10`` gives every training cell ten minutes (on a fast machine, or to get further);
    otherwise the lesson's ``full`` or ``smoke`` value applies.

    Introduced in 04_dcgan.

    Args:
        full: minutes in the full profile (sized for a slow laptop to stay within the lesson's time target).
        smoke: minutes in the smoke profile (a few seconds).

    Returns:
        The budget in minutes (a positive float).

    Raises:
        ValueError: if ``full``/``smoke`` are not positive numbers, or ``COURSE_TRAIN_MINUTES`` is not a positive
            number of minutes.
    """
    for name, value in (("full", full), ("smoke", smoke)):
        positive_number(value, name, expected="a positive number of minutes")
    raw = os.environ.get(TRAIN_MINUTES_ENV, "").strip()
    if not raw:
        return float(pick(full=full, smoke=smoke))
    try:
        minutes = float(raw)
    except ValueError:
        minutes = float("nan")
    if not 0 < minutes < float("inf"):
        raise ValueError(f"{TRAIN_MINUTES_ENV} must be a positive number of minutes, got {raw!r}")
    return minutes
