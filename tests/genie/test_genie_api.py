"""The genie's public API is pinned."""

from __future__ import annotations

import genie
import modelps.compress


def test_public_api() -> None:
    assert sorted(genie.__all__) == [
        "BACKENDS", "BackendUnavailable", "Candidate", "Goal", "SearchResult", "Timing",
        "measure", "pareto_front", "recommend", "search",
    ]  # fmt: skip
    assert sorted(modelps.compress.__all__) == [
        "Analysis", "ChannelGroup", "PruneError", "analyze", "channel_scores", "keep_count", "prune", "select_channels",
    ]  # fmt: skip
    for name in genie.__all__:
        assert getattr(genie, name) is not None


def test_edits_registered() -> None:
    from modelps.edits import available_edits

    edits = available_edits()
    assert edits["prune_channels"].op == "prune_channels" and not edits["prune_channels"].preserves_function
    assert edits["quantize_int8"].op == "quantize_int8"
