"""The course's tests, a regular package so that `tests.scripts` and `tests.classroom` resolve to this folder.

As a namespace package it lost to any regular `tests` package on sys.path: IPython 7.34 (Colab's) puts
IPython/extensions on sys.path when it is imported, and that folder holds a `tests` package, so under Colab's versions
`from tests.scripts import load_script` failed to import. A regular package found earlier on sys.path (pytest puts the
repository's root first) always wins."""
