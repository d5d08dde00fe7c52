"""Model diff after known edits."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from modelps import Model
from modelps.diff import diff
from tests.models import CHAIN, model_from_text, with_conv_weights


def test_identical_models() -> None:
    result = diff(with_conv_weights(), with_conv_weights())
    assert result.identical
    assert result.to_text() == "models are identical"


def test_edits_show_up() -> None:
    base = Model(model_from_text(CHAIN))
    edited = Model(model_from_text(CHAIN))
    edited.apply({"op": "remove_node", "node": "n1"})
    edited.apply({"op": "add_output", "tensor": "c"})
    result = diff(base.ir, edited.ir)
    assert [n["name"] for n in result.nodes_removed] == ["n1"]
    assert result.nodes_changed == [{"name": "n2", "changes": {"inputs": [["b"], ["a"]]}}]
    assert result.outputs == {"c": [None, {"dtype": "float", "shape": ["N", 4]}]}
    assert result.to_dict()["summary"]["nodes_removed"] == 1
    assert "- node n1 (Identity)" in result.to_text()


def test_attribute_and_initializer_changes() -> None:
    a, b = with_conv_weights(), with_conv_weights()
    conv = b.graph[0]
    conv.attributes["pads"] = ir.Attr("pads", ir.AttributeType.INTS, [0, 0, 0, 0])
    weight = b.graph.initializers["fb"]
    weight.const_value = ir.tensor(weight.const_value.numpy() + np.float32(0.5), name="fb")
    result = diff(a, b)
    assert result.nodes_changed[0]["changes"]["attributes"][1]["pads"] == [0, 0, 0, 0]
    assert result.initializers_changed == [
        {"name": "fb", "change": "values changed (max abs difference 0.5, 4 elements)"}
    ]
