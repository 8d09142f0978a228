"""Show an intended error without stopping the notebook: the article's broken listings, a helper's refusal.

A cell that fails on purpose would stop "Run all" in front ends that ignore nbconvert's ``raises-exception`` tag
(VS Code, Colab). :func:`shows_error` runs the failing code, checks that it fails the way the lesson says, prints
what a learner needs to read (the error's type, its message, the line that failed) and lets the notebook go on.
"""

from __future__ import annotations

import re
import sysconfig
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["ExpectedErrorMissing", "shows_error"]

_PACKAGE = str(Path(__file__).resolve().parent)


class ExpectedErrorMissing(AssertionError):
    """The code that a lesson says fails ran without the error it names: the lesson's explanation is out of date."""


def _library_dirs() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    dirs = {paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in paths}
    return tuple(str(Path(d).resolve()) for d in dirs) + (_PACKAGE,)


def _failing_frame(tb) -> traceback.FrameSummary | None:
    """The deepest frame of the traceback that is the learner's (or the article's) code, not a library's."""
    frames = traceback.extract_tb(tb)
    libraries = _library_dirs()
    own = [f for f in frames if not str(Path(f.filename).resolve()).startswith(libraries)
           and "contextlib" not in f.filename]
    return own[-1] if own else (frames[-1] if frames else None)


def _first_line(message: str) -> str:
    """The message without terminal colour codes, on as few lines as a reader needs (Keras adds a paragraph)."""
    plain = re.sub(r"\x1b\[[0-9;]*m", "", message)
    lines = []
    for line in plain.splitlines():
        if line.strip().startswith("Arguments received by"):  # Keras then lists the call's arguments: noise here
            break
        if line.strip():
            lines.append(line.strip())
    return " ".join(lines[:3])


@contextmanager
def shows_error(expected: type[BaseException] | tuple[type[BaseException], ...], match: str | None = None
                ) -> Iterator[None]:
    """Run the ``with`` block, which must fail with ``expected``; print the error and let the notebook go on.

    Introduced in 03_cnn_classifier.

    Prints ``ErrorType: message`` and the failing line of the code in the notebook (the deepest frame that is not
    in a library), so that a learner sees what went wrong without the notebook stopping. An error of another type
    is not caught: it is a real failure, not the one the lesson explains.

    Args:
        expected: the exception class the block must raise (a subclass also counts), or a tuple of them.
        match: optionally, a regular expression that must be found (``re.search``) in the error's message.

    Raises:
        ExpectedErrorMissing: if the block ran without raising, or raised ``expected`` with a message that does
            not match ``match`` (the lesson's explanation no longer describes what happens).
        ValueError: if ``expected`` is not an exception class (or a non-empty tuple of them), or ``match`` is not
            a string that compiles as a regular expression.

    Example:
        >>> with shows_error(NameError, match="X_train"):
        ...     X_train  # noqa: F821
    """
    classes = expected if isinstance(expected, tuple) else (expected,)
    if not classes or not all(isinstance(c, type) and issubclass(c, BaseException) for c in classes):
        raise ValueError(f"expected an exception class (e.g. NameError) or a non-empty tuple of them, "
                         f"got {expected!r}")
    if match is not None:
        if not isinstance(match, str):
            raise ValueError(f"expected match to be a regular expression (str) or None, got {type(match).__name__}")
        try:
            pattern = re.compile(match)
        except re.error as err:
            raise ValueError(f"expected match to be a valid regular expression, got {match!r} ({err})") from None
    names = " or ".join(c.__name__ for c in classes)
    try:
        yield
    except classes as err:  # noqa: B030  (a tuple of exception classes, checked above)
        message = str(err)
        if match is not None and not pattern.search(message):
            raise ExpectedErrorMissing(f"expected {names} with a message matching {match!r}, but the message was "
                                       f"{message!r}") from err
        print(f"{type(err).__name__}: {_first_line(message)}")
        frame = _failing_frame(err.__traceback__)
        if frame is not None and frame.line:
            where = f"line {frame.lineno}" + ("" if frame.name == "<module>" else f", in {frame.name}")
            line = re.sub(r"\s*# noqa\b.*$", "", frame.line.strip())  # the linter's markers are not the article's
            print(f"  the line that failed ({where}): {line}")
        print("  (the error is expected here: the notebook goes on)")
    else:
        raise ExpectedErrorMissing(f"expected this code to raise {names}, but it ran without error")
