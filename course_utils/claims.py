"""Result sentences bound to the values they report, so prose cannot drift from what a run measured.

A lesson that states a result of *this run* (a comparison, a winner, a trend, a trade-off) prints the sentence
from code, with :func:`say` (the sentence the values support, whichever way they came out), or commits to it with
:func:`claim`: in the full profile (``COURSE_PROFILE=full``, the one ``make notebooks`` executes) a false claim
raises :class:`ClaimError`, so a re-execution that contradicts the lesson fails instead of leaving the prose wrong;
in the smoke profile (seconds of training, used by the tests) it prints what it found and goes on.
"""

from __future__ import annotations

import numpy as np

from .profiles import get_profile

__all__ = ["ClaimError", "claim", "say"]


class ClaimError(AssertionError):
    """A sentence the lesson commits to is contradicted by the values this run measured."""


def _check_text(name: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected {name} to be a non-empty sentence (str), got {value!r}")
    return value


def say(condition: bool, if_true: str, if_false: str) -> bool:
    """Print the sentence that the measured values support, and return the condition.

    Introduced in 01_gan_objective.

    Args:
        condition: what the run measured (e.g. ``fid_gan < fid_l1``), as a bool (NumPy bools are accepted).
        if_true: the sentence to print when it holds.
        if_false: the sentence to print when it does not.

    Raises:
        ValueError: if ``condition`` is not a bool or a sentence is empty.
    """
    if not isinstance(condition, bool | np.bool_):
        raise ValueError(f"expected condition to be a bool, got {type(condition).__name__} ({condition!r})")
    _check_text("if_true", if_true)
    _check_text("if_false", if_false)
    print(if_true if condition else if_false)
    return bool(condition)


def claim(condition: bool, sentence: str, *, evidence: str = "") -> bool:
    """Commit to ``sentence``: print it when ``condition`` holds; when it does not, fail in the full profile.

    Introduced in 01_gan_objective.

    Args:
        condition: whether the measured values support the sentence.
        sentence: the result sentence the lesson's prose relies on.
        evidence: the values behind it (printed, and quoted in the error).

    Returns:
        The condition (False only in the smoke profile, where a short run may not support the sentence).

    Raises:
        ClaimError: in the full profile, when the condition is false.
        ValueError: if ``condition`` is not a bool or ``sentence`` is empty.
    """
    if not isinstance(condition, bool | np.bool_):
        raise ValueError(f"expected condition to be a bool, got {type(condition).__name__} ({condition!r})")
    _check_text("sentence", sentence)
    suffix = f" ({evidence})" if evidence else ""
    if condition:
        print(sentence + suffix)
        return True
    if get_profile() == "full":
        raise ClaimError(f"the lesson says {sentence!r}, but this run contradicts it{suffix}. Re-read the run's "
                         "figures and change the prose, or find out why the result changed.")
    print(f"(smoke profile: a short run does not support the lesson's sentence: {sentence!r}{suffix})")
    return False
