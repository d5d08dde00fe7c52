"""convert_opset: onnx.version_converter as a whole-model edit."""

from __future__ import annotations

import numpy as np
import pytest

from modelps import Model
from modelps.runtime import run
from tests.modelps.edits.edit_helpers import (
    IF_MODEL,
    LOOP_MODEL,
    OPSET11_MODEL,
    apply_and_check_undo,
    assert_refused,
    model,
    replay,
    run_both,
    tensor_text,
)
from tests.models import model_from_text


@pytest.mark.parametrize(
    ("text", "target", "ir_version"),
    [(OPSET11_MODEL, 21, 10), (IF_MODEL, 21, 10), (LOOP_MODEL, 19, 10), (OPSET11_MODEL, 9, 6)],
    ids=["conv_11_to_21", "if_17_to_21", "loop_21_to_19", "conv_11_to_9"],
)
def test_conversion_keeps_outputs(text: str, target: int, ir_version: int) -> None:
    m = model(text)
    apply_and_check_undo(m, {"op": "convert_opset", "target": target})
    assert m.ir.opset_imports[""] == target
    assert m.ir.ir_version == ir_version
    assert all(node.name for node in m.ir.graph)
    before, after = run_both(text, m, seed=1)
    for key in before:
        np.testing.assert_allclose(before[key], after[key], rtol=1e-6)
    replay(text, [e.to_dict() for e in m.history], m.to_bytes())


def test_large_weights_are_shared_not_copied() -> None:
    big = np.arange(512, dtype=np.float32).reshape(2, 256)  # over the 1 KiB inline limit
    text = f"""<ir_version: 6, opset_import: ["" : 11]>
    g (float[N,2] x) => (float[N,256] y) <{tensor_text("float", "w", big)}> {{ y = MatMul(x, w) }}"""
    m = model(text)
    weight = m.ir.graph.initializers["w"].const_value
    m.apply({"op": "convert_opset", "target": 17})
    assert m.ir.graph.initializers["w"].const_value is weight
    before, after = run_both(text, m)
    np.testing.assert_array_equal(before["y"], after["y"])


def test_reshape_attribute_becomes_an_input_when_upgrading_from_opset_4() -> None:
    text = """<ir_version: 3, opset_import: ["" : 4]>
    g (float[2,6] x) => (float[3,4] y) { y = Reshape <shape = [3, 4]> (x) }"""
    m = model(text)
    apply_and_check_undo(m, {"op": "convert_opset", "target": 13})
    assert [n.op_type for n in m.ir.graph if n.op_type == "Reshape"] == ["Reshape"]
    reshape = next(n for n in m.ir.graph if n.op_type == "Reshape")
    assert len(reshape.inputs) == 2 and "shape" not in reshape.attributes
    before, after = run_both(text, m)
    np.testing.assert_array_equal(before["y"], after["y"])


@pytest.mark.parametrize(
    ("text", "target", "message"),
    [
        (IF_MODEL, 17, "the model already uses opset 17"),
        (IF_MODEL, 99, "target opset 99 is outside 7..28"),
        (IF_MODEL, 11, "cannot convert from opset 17 to 11: .*If"),
        (
            """<ir_version: 10, opset_import: ["" : 20]>
            g (float[2] x) => (float[2] y) { y = Gelu(x) }""",
            13,
            "cannot convert from opset 20 to 13: .*No Previous Version of Gelu",
        ),
        (
            """<ir_version: 8, opset_import: ["custom" : 1]>
            g (float[2] x) => (float[2] y) { y = custom.Foo(x) }""",
            13,
            "does not import the default ONNX domain",
        ),
    ],
)
def test_refusals_leave_the_model_unchanged(text: str, target: int, message: str) -> None:
    assert_refused(model(text, validation="structure"), {"op": "convert_opset", "target": target}, message)


LOCAL_FUNCTIONS = """
<ir_version: 8, opset_import: ["" : 18, "local" : 1]>
m (float[N, 4] x) => (float[N, 4] y) {
  y = local.Head <axis = 1> (x)
}
<domain: "local", opset_import: ["" : 18]>
Head <axis> (a) => (b) {
  c = Constant <value = float[4] {1, 2, 3, 4}> ()
  d = Mul(a, c)
  b = Softmax <axis: int = @axis> (d)
}
"""


def test_local_functions_are_converted_with_their_attribute_references() -> None:
    # regression: the converter dropped local functions ("local:Head(-1) is not a registered function")
    # and resolved @axis to its default when a body was converted alone
    model = Model(model_from_text(LOCAL_FUNCTIONS))
    feeds = {"x": np.arange(8, dtype=np.float32).reshape(2, 4) / 8}
    before = run(model.ir, feeds)["y"]
    model.apply({"op": "convert_opset", "target": 21})
    function = next(iter(model.ir.functions.values()))
    assert function.opset_imports[""] == 21 and model.ir.opset_imports["local"] == 1
    softmax = next(n for n in function if n.op_type == "Softmax")
    assert softmax.attributes["axis"].ref_attr_name == "axis"
    np.testing.assert_allclose(run(model.ir, feeds)["y"], before, rtol=1e-6)
