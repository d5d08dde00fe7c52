"""Candidates built in several batches into one folder keep their own files."""

from __future__ import annotations

from pathlib import Path

from genie.budget import Clock
from genie.building import build_candidates
from genie.inputs import outputs_of
from modelps.edits.to_fp16 import ToFp16
from modelps.io import load
from tests.genie.dynamic_nets import calib_arrays, segmenter


def test_a_later_batch_does_not_overwrite_an_earlier_ones_files(tmp_path: Path) -> None:
    # regression: each batch numbered its files from 000, so the original's file became a later candidate
    base = segmenter()
    held = [{"x": a[None]} for a in calib_arrays(2, 32, 32)]
    reference = outputs_of(base, held)
    clock = Clock(600.0)

    def batch(specs: list) -> list:
        return build_candidates(base, None, specs, held, reference, clock, lambda *_: None, tmp_path)

    first = batch([("original", [], {})])
    second = batch([("fp16", [ToFp16()], {})])
    paths = [c.details["model_path"] for c in first + second]
    assert len(set(paths)) == 2
    nodes = {len(list(load(p).graph)) for p in paths}
    assert len(list(load(paths[0]).graph)) == len(list(base.graph)) and len(nodes) == 2
    assert second[0].name == "fp16"
