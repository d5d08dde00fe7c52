"""simplify: onnxsim or the onnxscript optimizer as an explicit, replayable edit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx_ir as ir
import pytest

from modelps import Model, save
from modelps.edits import simplify as simplify_module
from tests.modelps.edits.edit_helpers import (
    SURVIVORS,
    apply_and_check_undo,
    assert_refused,
    model,
    replay,
    run_both,
    tensor_text,
)

FOLDABLE = """<ir_version: 8, opset_import: ["" : 17]>
g (float[N,4] x) => (float[N,4] y) <float[4] w = {1, 2, 3, 4}> {
  two = Constant <value = float[1] {2.0}> ()
  w2 = Mul(w, two)
  s = Shape(x)
  x2 = Reshape(x, s)
  i = Identity(x2)
  y = Add(i, w2)
}"""


@pytest.mark.parametrize("method", ["onnxsim", "optimize"])
def test_folds_constants_and_keeps_outputs(method: str) -> None:
    m = model(FOLDABLE)
    apply_and_check_undo(m, {"op": "simplify", "method": method})
    ops = [n.op_type for n in m.ir.graph]
    assert "Mul" not in ops and "Identity" not in ops and "Reshape" not in ops
    assert all(node.name for node in m.ir.graph)
    before, after = run_both(FOLDABLE, m, seed=3, batch=3)
    np.testing.assert_allclose(before["y"], after["y"], rtol=1e-6)
    replay(FOLDABLE, [e.to_dict() for e in m.history], m.to_bytes())


@pytest.mark.parametrize("method", ["onnxsim", "optimize"])
@pytest.mark.parametrize("name", sorted(SURVIVORS))
def test_subgraph_models_survive(name: str, method: str) -> None:
    text = SURVIVORS[name]
    m = model(text)
    m.apply({"op": "simplify", "method": method})
    after_bytes = m.to_bytes()
    m.undo()
    assert m.to_bytes() == model(text).to_bytes()
    m.redo()
    assert m.to_bytes() == after_bytes
    assert any(n.op_type in ("If", "Loop", "Conv") for n in m.ir.graph)
    before, after = run_both(text, m, seed=1)
    for key in before:
        np.testing.assert_allclose(before[key], after[key], rtol=1e-5, atol=1e-6)
    replay(text, [e.to_dict() for e in m.history], after_bytes)


def test_onnxsim_refuses_models_over_its_size_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(simplify_module, "_ONNXSIM_LIMIT", 8)
    m = model(FOLDABLE)
    assert_refused(m, {"op": "simplify"}, "too much for onnxsim .* use method 'optimize'")
    apply_and_check_undo(m, {"op": "simplify", "method": "optimize"})


@pytest.mark.parametrize("method", ["onnxsim", "optimize"])
def test_memory_mapped_external_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, method: str) -> None:
    monkeypatch.chdir(tmp_path.parent)  # external data must not be looked up from the working directory
    big = np.linspace(-1, 1, 1024, dtype=np.float32).reshape(4, 256)
    text = f"""<ir_version: 8, opset_import: ["" : 17]>
    g (float[N,4] x) => (float[N,256] y) <{tensor_text("float", "w", big)}> {{
      i = Identity(x)
      two = Constant <value = float {{2.0}}> ()
      w2 = Mul(w, two)
      y = MatMul(i, w2)
    }}"""
    save(ir.from_onnx_text(text), tmp_path / "m.onnx", external_data="m.onnx.data")
    m = Model.load(tmp_path / "m.onnx")
    assert isinstance(m.ir.graph.initializers["w"].const_value, ir.ExternalTensor)
    apply_and_check_undo(m, {"op": "simplify", "method": method})
    ops = [n.op_type for n in m.ir.graph]
    assert "Mul" not in ops and "Identity" not in ops and "MatMul" in ops
    before, after = run_both(text, m, seed=2)
    np.testing.assert_allclose(before["y"], after["y"], rtol=1e-6)


def test_unknown_method_is_refused_before_applying() -> None:
    m = model(FOLDABLE)
    assert_refused(m, {"op": "simplify", "method": "magic"}, "parameter 'method' must be one of 'onnxsim', 'optimize'")


@pytest.mark.parametrize("method", ["onnxsim", "optimize"])
def test_custom_operator_is_kept(method: str) -> None:
    text = """<ir_version: 8, opset_import: ["" : 17, "custom.x" : 1]>
    g (float[N,4] x) => (float[N,4] y) { i = Identity(x)  t = custom.x.Foo(i)  y = Relu(t) }"""
    m = model(text, validation="structure")
    m.apply({"op": "simplify", "method": method})
    assert [n.op_type for n in m.ir.graph] == ["Foo", "Relu"]
