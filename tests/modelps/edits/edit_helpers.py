"""Small models and checks shared by the edit tests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import onnx_ir as ir
import pytest

from modelps import EditError, Model
from modelps.runtime import make_inputs, run


def tensor_text(dtype: str, name: str, array: np.ndarray) -> str:
    """An ONNX-text initializer ``dtype[dims] name = {values}``."""
    dims = ",".join(str(d) for d in array.shape)
    values = ",".join(repr(float(v)) if dtype.startswith("float") else str(int(v)) for v in array.ravel())
    return f"{dtype}[{dims}] {name} = {{{values}}}"


def model(text: str, **kwargs: Any) -> Model:
    """A :class:`Model` from ONNX text."""
    return Model(ir.from_onnx_text(text), **kwargs)


def outputs(m: Model | ir.Model, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run a model on ONNX Runtime."""
    return run(m.ir if isinstance(m, Model) else m, feeds)


def feeds_for(m: Model, seed: int = 0, **kwargs: Any) -> dict[str, np.ndarray]:
    """Seeded random inputs for a model."""
    return make_inputs(m.ir, seed=seed, **kwargs)


def apply_and_check_undo(m: Model, edit: Mapping[str, Any]) -> bytes:
    """Apply ``edit``, check undo restores the exact bytes and redo the exact result; return the result bytes."""
    before = m.to_bytes()
    m.apply(edit)
    after = m.to_bytes()
    assert after != before
    m.undo()
    assert m.to_bytes() == before
    m.redo()
    assert m.to_bytes() == after
    return after


def assert_refused(m: Model, edit: Mapping[str, Any], match: str) -> EditError:
    """Check ``edit`` raises :class:`EditError` matching ``match`` and leaves the model unchanged."""
    before = m.to_bytes()
    history = list(m.history)
    with pytest.raises(EditError, match=match) as info:
        m.apply(edit)
    assert m.to_bytes() == before
    assert m.history == history
    return info.value


def replay(text: str, edits: list[Mapping[str, Any]], result: bytes) -> None:
    """Replay ``edits`` on a fresh copy of the model and check the bytes are identical."""
    fresh = model(text)
    for edit in edits:
        fresh.apply(edit)
    assert fresh.to_bytes() == result
    recipe = fresh.recipe
    again = model(text)
    again.apply_recipe(type(recipe).from_json(recipe.to_json()))
    assert again.to_bytes() == result


W4 = np.array([1.0, -2.0, 3.0, 0.5], dtype=np.float32)

IF_MODEL = f"""<ir_version: 8, opset_import: ["" : 17]>
g (float[N,4] x, bool c) => (float[N,4] y, float[N,4] z) <{tensor_text("float", "w", W4)}> {{
  k = Constant <value = float[1] {{0.5}}> ()
  t = Mul(x, w)
  u = Add(t, k)
  r = Relu(u)
  y = If(c) <then_branch = th () => (float[N,4] a) {{ a = Sigmoid(r) }},
             else_branch = el () => (float[N,4] b) {{ b = Neg(r) }}>
  z = Tanh(r)
}}"""

LOOP_MODEL = """<ir_version: 10, opset_import: ["" : 21]>
g (float[B,4] x) => (float[B,4] y, float[B,4] s) {
  trips = Constant <value = int64 {3}> ()
  cond = Constant <value = bool {1}> ()
  h = Relu(x)
  s = Loop(trips, cond, h) <body = body (int64 i, bool cin, float[B,4] acc) => (bool cout, float[B,4] accout) {
    cout = Identity(cin)
    accout = Add(acc, x)
  }>
  y = Sigmoid(h)
}"""

CONV_W = np.linspace(-1, 1, 54, dtype=np.float32).reshape(2, 3, 3, 3)
CONV_B = np.array([0.1, -0.2], dtype=np.float32)
OPSET11_MODEL = f"""<ir_version: 6, opset_import: ["" : 11]>
g (float[batch,3,6,6] x) => (float[batch,2] y)
  <{tensor_text("float", "w", CONV_W)}, {tensor_text("float", "b", CONV_B)}> {{
  c = Conv <pads = [1,1,1,1]> (x, w, b)
  r = Relu(c)
  p = GlobalAveragePool(r)
  y = Flatten <axis = 1> (p)
}}"""

# Every model in this list must survive each edit that does not target its subgraphs.
SURVIVORS = {"if_opset17": IF_MODEL, "loop_opset21": LOOP_MODEL, "conv_opset11": OPSET11_MODEL}


def run_both(text: str, m: Model, seed: int = 0, batch: int = 2) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Outputs of the original model (from ``text``) and of ``m`` on the same seeded inputs."""
    original = model(text)
    feeds = feeds_for(original, seed=seed, batch=batch)
    return outputs(original, feeds), outputs(m, {k: v for k, v in feeds.items() if k in input_names(m)})


def input_names(m: Model) -> set[str]:
    """Names of a model's graph inputs."""
    return {v.name for v in m.ir.graph.inputs if v.name}
