"""docs/edits.md documents every built-in edit, and its JSON examples are valid edits."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from modelps import Recipe, available_edits, edit_from_dict

DOC = Path(__file__).resolve().parents[3] / "docs" / "edits.md"
GENIE_EDITS = {"quantize_int8", "prune_channels"}  # documented with the genie


def _json_blocks() -> list[str]:
    return re.findall(r"```json\n(.*?)```", DOC.read_text(), flags=re.S)


@pytest.mark.parametrize("op", sorted(set(available_edits()) - GENIE_EDITS))
def test_every_edit_has_a_section_with_its_docstring_facts(op: str) -> None:
    text = DOC.read_text()
    assert f"### {op}\n" in text
    section = text.split(f"### {op}\n", 1)[1].split("\n### ", 1)[0]
    assert f'"op": "{op}"' in section
    assert "Refuses" in section or "refuses" in section


def test_json_examples_are_valid_edits_and_recipes() -> None:
    seen = 0
    for block in _json_blocks():
        if '"modelps_recipe"' in block:
            assert len(Recipe.from_dict(json.loads(block)).edits) == 3
            continue
        for line in block.strip().splitlines():
            data = json.loads(line)
            if data["op"] in ("merge", "set_initializer") and ("model" in data or "path" in data):
                data.setdefault("sha256", "0" * 64)  # the file is not there; skip hashing it
            assert edit_from_dict(data).op == data["op"]
            seen += 1
    assert seen >= len(set(available_edits()) - GENIE_EDITS)
