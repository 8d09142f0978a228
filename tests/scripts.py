"""Load a repository script (tools/, benchmarks/, data/) as a module, for tests that call its functions."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType


def load_script(path: Path) -> ModuleType:
    """Execute the script at `path` as a module named after its file; it is registered in sys.modules first, because
    dataclasses look their module up by name."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
