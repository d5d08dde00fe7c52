"""Small test models written in ONNX text, shared by the tests."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

__all__ = ["CHAIN", "CONV_NET", "IF_MODEL", "LOOP_MODEL", "model_from_text", "with_conv_weights"]

CHAIN = """
<ir_version: 8, opset_import: ["" : 17]>
chain (float[N, 4] x) => (float[N, 4] y) {
  a = Relu(x)
  b = Identity(a)
  c = Dropout(b)
  d = Sigmoid(c)
  e = Mul(d, a)
  y = Tanh(e)
}
"""

CONV_NET = """
<ir_version: 8, opset_import: ["" : 13]>
convnet (float[N, 3, 8, 8] x, float[8, 3, 3, 3] w, float[8] b, float[4, 8] fw, float[4] fb) => (float[N, 4] y) {
  c = Conv <pads = [1, 1, 1, 1], kernel_shape = [3, 3]> (x, w, b)
  r = Relu(c)
  p = GlobalAveragePool(r)
  f = Flatten(p)
  y = Gemm <transB = 1> (f, fw, fb)
}
"""

IF_MODEL = """
<ir_version: 8, opset_import: ["" : 11]>
ifmodel (float[2] x, bool cond) => (float[2] y) {
  t = Relu(x)
  y = If(cond) <
    then_branch = then_g () => (float[2] o) { o = Neg(t) },
    else_branch = else_g () => (float[2] o) { o = Abs(t) }
  >
}
"""

LOOP_MODEL = """
<ir_version: 8, opset_import: ["" : 21]>
loopmodel (float[3] x, int64 trips) => (float[3] y) {
  cond = Constant <value = bool {1}> ()
  y = Loop(trips, cond, x) <
    body = body_g (int64 i, bool c_in, float[3] acc) => (bool c_out, float[3] acc_out) {
      c_out = Identity(c_in)
      acc_out = Add(acc, acc)
    }
  >
}
"""


def model_from_text(text: str) -> ir.Model:
    """Parse ONNX text into an ``onnx_ir`` model."""
    return ir.from_onnx_text(text)


def with_conv_weights(seed: int = 0) -> ir.Model:
    """CONV_NET with seeded random weights as initializers."""
    rng = np.random.default_rng(seed)
    model = model_from_text(CONV_NET)
    arrays = {
        "w": rng.standard_normal((8, 3, 3, 3)).astype(np.float32),
        "b": rng.standard_normal(8).astype(np.float32),
        "fw": rng.standard_normal((4, 8)).astype(np.float32),
        "fb": rng.standard_normal(4).astype(np.float32),
    }
    graph = model.graph
    for value in [v for v in graph.inputs if v.name in arrays]:
        graph.inputs.remove(value)
        value.const_value = ir.tensor(arrays[value.name], name=value.name)
        graph.register_initializer(value)
    return model
