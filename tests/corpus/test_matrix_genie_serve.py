"""Foreign models through the genie and through publish + serve."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.corpus.conftest import ALL
from tests.corpus_matrix import stage_genie, stage_serve


@pytest.mark.parametrize("foreign", ALL, indirect=True)
def test_genie_recommends_or_says_why(foreign, tmp_path: Path) -> None:
    row = stage_genie(foreign, tmp_path, budget_s=15)
    assert row.held, row.detail
    if row.status == "ok" and row.numbers["recommended"] is None:
        assert row.detail.startswith(("no candidate meets the goal", "speed:")), row.detail
    if row.status == "ok" and row.numbers["recommended"] is not None:
        assert row.numbers["speedup"] >= 1.0 and row.numbers["fidelity"] >= 0.98


@pytest.mark.parametrize("foreign", ALL, indirect=True)
def test_publish_and_serve_answer_with_the_same_outputs(foreign, tmp_path: Path) -> None:
    row = stage_serve(foreign, foreign.inputs(1), tmp_path)
    assert row.status == "ok", (row.detail, row.numbers)
