"""Every benchmark figure in a README comes from a committed JSON record, through the script's --markdown.

A table typed or edited by hand, or a record re-measured without regenerating the README, fails here.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _script(name):
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


def _block(text: str, tag: str) -> str:
    match = re.search(rf"<!-- {tag}:begin[^>]*-->\n(.*?)\n<!-- {tag}:end -->", text, re.S)
    assert match, f"no generated block <!-- {tag}:begin --> ... <!-- {tag}:end -->"
    return match.group(1).strip()


@pytest.mark.parametrize("readme", ["README.md", "benchmarks/README.md"])
def test_time_to_quality_tables_are_generated_from_the_records(readme):
    ttq = _script("time_to_quality")
    records = sorted((REPO / "benchmarks" / "figures").glob("*/time_to_quality.json"))
    assert records, "at least one record of the three-recipe schema"
    assert all(json.loads(r.read_text())["schema"] == ttq.SCHEMA for r in records), \
        "older records belong in benchmarks/figures/archive/"
    assert _block((REPO / readme).read_text(), "time_to_quality") == ttq.markdown_table().strip()


def test_the_cpu_configuration_table_is_generated_from_its_record():
    cpu = _script("cpu_config")
    record = json.loads((REPO / "benchmarks" / "figures" / "cpu_config.json").read_text())
    assert _block((REPO / "benchmarks" / "README.md").read_text(), "cpu_config") == cpu.markdown(record).strip()


def test_the_block_finder_fails_on_a_hand_edit():
    text = "x\n<!-- t:begin -->\n| a |\n<!-- t:end -->\n"
    assert _block(text, "t") == "| a |"
    with pytest.raises(AssertionError):
        _block("no markers", "t")
