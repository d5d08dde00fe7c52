"""Foreign models through inspect and every edit: counts, equal outputs, measured fidelity, byte-identical replay."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.corpus.conftest import ALL
from tests.corpus_matrix import stage_inspect, stage_lossy, stage_preserving, stage_replay

ALWAYS_APPLY = {"rename", "add_output"}


@pytest.mark.parametrize("foreign", ALL, indirect=True)
def test_inspect_counts_every_weight(foreign) -> None:
    row = stage_inspect(foreign)
    assert row.status == "ok", row.numbers


@pytest.mark.parametrize("foreign", ALL, indirect=True)
def test_function_preserving_edits_keep_outputs_and_replay(foreign) -> None:
    rows = stage_preserving(foreign, foreign.inputs(2))
    for row in rows:
        assert row.held, (row.stage, row.numbers, row.detail)
        if row.stage in ALWAYS_APPLY:
            assert row.status == "ok", (row.stage, row.detail)
    replay = stage_replay(foreign, [r.numbers["edit"] for r in rows if r.status == "ok"] + [{"op": "to_fp16"}])
    assert replay.status == "ok" and replay.numbers["edits"] >= 2


@pytest.mark.parametrize("foreign", ALL, indirect=True)
def test_fp16_and_int8_are_measured_never_silently_broken(foreign, tmp_path: Path) -> None:
    for row in stage_lossy(foreign, foreign.inputs(4), tmp_path):
        assert row.held, (row.stage, row.detail, row.numbers)
        if row.status == "ok":
            assert row.numbers["fidelity"]["finite"] == 1.0
        else:  # a refusal names its reason
            assert row.detail.startswith(f"{row.stage}: "), row.detail
