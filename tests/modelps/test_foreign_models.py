"""Foreign models: opsets 11-21, dynamic dims, Constant nodes, If/Loop subgraphs survive load, edit and save."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from modelps import Model
from modelps.io import save
from modelps.runtime import run
from tests.models import CHAIN, IF_MODEL, LOOP_MODEL, model_from_text


@pytest.mark.parametrize("opset", [11, 12, 13, 15, 17, 19, 21])
def test_opsets_round_trip(tmp_path: Path, opset: int) -> None:
    text = CHAIN.replace('"" : 17', f'"" : {opset}')
    model = Model(model_from_text(text))
    model.validate("runtime")
    save(model.ir, tmp_path / "m.onnx")
    loaded = Model.load(tmp_path / "m.onnx")
    assert loaded.to_bytes() == model.to_bytes()
    loaded.apply({"op": "remove_node", "node": "n1"})
    loaded.validate("runtime")


def test_if_subgraphs_survive_edits(tmp_path: Path) -> None:
    model = Model(model_from_text(IF_MODEL))
    feeds = {"x": np.array([-1.5, 2.0], np.float32), "cond": np.array(True)}
    expected = run(model.ir, feeds)["y"]
    model.apply({"op": "rename", "kind": "tensor", "old": "t", "new": "relu_t"})  # used inside both branches
    model.apply({"op": "add_output", "tensor": "relu_t"})
    save(model.ir, tmp_path / "if.onnx")
    loaded = Model.load(tmp_path / "if.onnx")
    outputs = run(loaded.ir, feeds)
    np.testing.assert_array_equal(outputs["y"], expected)
    np.testing.assert_array_equal(outputs["relu_t"], [0.0, 2.0])
    proto = onnx.load(str(tmp_path / "if.onnx"))
    branches = {a.name: a.g for a in proto.graph.node[1].attribute}
    assert branches["then_branch"].node[0].input == ["relu_t"]


def test_loop_and_constant_survive(tmp_path: Path) -> None:
    model = Model(model_from_text(LOOP_MODEL))
    feeds = {"x": np.array([1, 2, 3], np.float32), "trips": np.array(3, np.int64)}
    before = run(model.ir, feeds)["y"]
    np.testing.assert_array_equal(before, [8, 16, 24])
    model.apply({"op": "rename", "kind": "output", "old": "y", "new": "doubled"})
    save(model.ir, tmp_path / "loop.onnx")
    loaded = Model.load(tmp_path / "loop.onnx")
    np.testing.assert_array_equal(run(loaded.ir, feeds)["doubled"], before)
    assert [n.op_type for n in loaded.ir.graph] == ["Constant", "Loop"]


def test_refusing_to_remove_subgraph_node() -> None:
    model = Model(model_from_text(IF_MODEL))
    with pytest.raises(Exception, match="holds subgraphs; remove it with extract instead"):
        model.apply({"op": "remove_node", "node": "n1"})
