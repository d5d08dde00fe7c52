from __future__ import annotations

import numpy as np
import onnx_ir as ir
import pytest

from editor_ui import inspector
from editor_ui.samples import residual_cnn


def test_tensor_stats_match_numpy() -> None:
    rng = np.random.default_rng(3)
    array = rng.standard_normal((8, 4, 3, 3)).astype(np.float32)
    array[0] = 0
    stats = inspector.tensor_stats(array, bins=10)
    assert stats.shape == (8, 4, 3, 3) and stats.dtype == "float32" and stats.size == array.size
    assert stats.min == pytest.approx(float(array.min()))
    assert stats.max == pytest.approx(float(array.max()))
    assert stats.mean == pytest.approx(float(array.astype(np.float64).mean()))
    assert stats.std == pytest.approx(float(array.astype(np.float64).std()))
    assert stats.zeros == pytest.approx(36 / array.size)
    assert sum(stats.counts) == array.size and len(stats.edges) == 11


def test_tensor_stats_ignore_non_finite_values() -> None:
    stats = inspector.tensor_stats(np.array([1.0, np.inf, np.nan, 3.0]))
    assert (stats.min, stats.max, stats.mean) == (1.0, 3.0, 2.0)


def test_node_info_lists_attributes_tensors_and_weights() -> None:
    model = residual_cnn(20)
    info = inspector.node_info(model, "/block0/Conv_2")
    assert info.op == "Conv" and info.domain == "ai.onnx"
    assert info.attributes == {"pads": [1, 1, 1, 1], "kernel_shape": [3, 3]}
    assert [(t.name, t.shape) for t in info.inputs] == [
        ("/block0/Relu_1_output_0", "1×4×8×8"),
        ("conv2.weight", "4×4×3×3"),
        ("conv2.bias", "4"),
    ]
    assert info.inputs[0].stats is None
    weight = model.graph.initializers["conv2.weight"].const_value.numpy()
    assert info.inputs[1].stats.mean == pytest.approx(float(weight.mean()))
    assert [t.name for t in info.outputs] == ["/block0/Conv_2_output_0"]


def test_node_info_for_graph_inputs_and_outputs_and_unknown_names() -> None:
    model = residual_cnn(20)
    assert inspector.node_info(model, "input").outputs[0].shape == "1×4×8×8"
    assert inspector.node_info(model, "logits ").inputs[0].shape == "1×10"
    with pytest.raises(KeyError):
        inspector.node_info(model, "nope")


def test_model_summary_counts() -> None:
    model = residual_cnn(20)
    summary = inspector.model_summary(model)
    assert summary["nodes"] == 20
    expected = sum(v.const_value.numpy().size for v in model.graph.initializers.values())
    assert summary["parameters"] == expected
    assert summary["op_counts"]["Conv"] == 7 and summary["inputs"] == {"input": "1×4×8×8"}


def test_attribute_tensors_are_described() -> None:
    model = ir.from_onnx_text("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[2] x) => (float[2] y) { c = Constant <value = float[2] {1.0, 2.0}> ()  y = Add(x, c) }""")
    model.graph.node(0).name = "const"
    info = inspector.node_info(model, "const")
    assert info.attributes == {"value": "tensor 2 float"}


def test_undeclared_types_come_from_shape_inference() -> None:
    """Regression: tensor types showed as "?"."""
    from editor_ui.graph import inferred_types
    from tests.models import model_from_text

    model = model_from_text(
        """
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[2, 3] x) => (y) { t = Relu(x)  y = Transpose(t) }"""
    )
    name = next(iter(model.graph)).name or ""
    bare = inspector.node_info(model, name)
    assert (bare.outputs[0].dtype, bare.outputs[0].shape) == ("?", "?")
    info = inspector.node_info(model, name, types=inferred_types(model))
    assert (info.outputs[0].dtype, info.outputs[0].shape) == ("float", "2×3")


def test_histogram_spec_keeps_bins_in_numeric_order() -> None:
    """Regression: bins were sorted as text, mirroring the negative half."""
    stats = inspector.tensor_stats(np.linspace(-5, 5, 101), bins=10)
    labels = inspector.histogram_spec(stats)["xAxis"]["data"]
    assert [float(x) for x in labels] == sorted(float(x) for x in labels)
    assert labels != sorted(labels)  # as text they would sort differently
