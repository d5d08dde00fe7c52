"""The executor's indexing, comparison and normalization ops equal ONNX Runtime, and whole foreign models run."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir
import onnxruntime as ort
import pytest

from modelps.io import model_bytes
from zoo import corpus
from zoo.corpus.registry import ENTRIES

torch = pytest.importorskip("torch", reason="fine-tuning needs PyTorch (pip install torch==2.13.0)")

from modelps.compress.distill import UnsupportedOp, _Executor, unsupported_ops  # noqa: E402

_HEAD = '<ir_version: 9, opset_import: ["" : 18]>\n'

GRAPHS = {
    "slice negative step, clamped ends": """
        g (float[2,9,5] x) => (float[2,4,5] y) {
          s = Constant <value = int64[1] {-1}> ()
          e = Constant <value = int64[1] {-1000}> ()
          a = Constant <value = int64[1] {1}> ()
          k = Constant <value = int64[1] {-2}> ()
          y0 = Slice (x, s, e, a, k)
          s1 = Constant <value = int64[1] {1}> ()
          e1 = Constant <value = int64[1] {9223372036854775807}> ()
          y = Slice (y0, s1, e1, a) }""",
    "slice strided, negative axis": """
        g (float[2,9,5] x) => (float[2,5,3] y) {
          s = Constant <value = int64[2] {0, 1}> ()
          e = Constant <value = int64[2] {100, 4}> ()
          a = Constant <value = int64[2] {1, -1}> ()
          k = Constant <value = int64[2] {2, 1}> ()
          y = Slice (x, s, e, a, k) }""",
    "split into uneven parts by count": """
        g (float[2,8,3] x) => (float[2,8,3] y) {
          p, q, r = Split <axis = 1, num_outputs = 3> (x)
          y = Concat <axis = 1> (r, p, q) }""",
    "split by sizes": """
        g (float[2,8,3] x) => (float[2,8,3] y) {
          n = Constant <value = int64[2] {5, 3}> ()
          p, q = Split <axis = -2> (x, n)
          y = Concat <axis = 1> (q, p) }""",
    "pad reflect and edge on chosen axes": """
        g (float[1,2,5,6] x) => (float[1,2,9,9] y) {
          p = Constant <value = int64[4] {1, 2, 1, 0}> ()
          a = Constant <value = int64[2] {2, 3}> ()
          r = Pad <mode = "reflect"> (x, p, , a)
          y = Pad <mode = "edge"> (r, p, , a) }""",
    "pad constant, negative pads crop": """
        g (float[1,2,5,6] x) => (float[1,3,4,8] y) {
          p = Constant <value = int64[8] {0, 1, 0, 1, 0, 0, -1, 1}> ()
          v = Constant <value = float {2.5}> ()
          y = Pad (x, p, v) }""",
    "flatten at the last axis, shape with start and end": """
        g (float[3,4] x) => (float[3,4] y) {
          f = Flatten <axis = 2> (x)
          d = Shape <start = 0, end = 1> (x)
          m = Constant <value = int64[1] {-1}> ()
          s = Concat <axis = 0> (d, m)
          y = Reshape (f, s) }""",
    "layer normalization": """
        g (float[2,3,8] x) => (float[2,3,8] y) {
          w = Constant <value = float[8] {1, 2, 0.5, 1, 1, 3, 1, 0.25}> ()
          b = Constant <value = float[8] {0, 1, 0, -1, 0, 0.5, 0, 0}> ()
          y = LayerNormalization <axis = -1, epsilon = 0.001> (x, w, b) }""",
    "attention-mask arithmetic": """
        g (float[2,6] x) => (float[2,6] y) {
          n = Shape <start = 1> (x)
          z = Constant <value = int64 {0}> ()
          one = Constant <value = int64 {1}> ()
          k = Squeeze (n)
          r = Range (z, k, one)
          c = Constant <value = int64 {3}> ()
          lo = LessOrEqual (r, c)
          hi = GreaterOrEqual (r, one)
          keep = And (lo, hi)
          full = Expand (keep, n)
          zeros = ConstantOfShape <value = float[1] {-9}> (n)
          nan = IsNaN (x)
          ok = Not (nan)
          both = Or (full, ok)
          pos = Greater (x, zeros)
          m = Max (x, zeros, x)
          q = Min (m, x)
          w = Where (pos, q, zeros)
          y0 = Where (both, w, x)
          e = Equal (r, c)
          y = Where (e, zeros, y0) }""",
    "gather nd, tile, reductions, log and reciprocal": """
        g (float[3,4] x) => (float[2,8] y) {
          i = Constant <value = int64[2,1] {2, 0}> ()
          g = GatherND (x, i)
          t = Constant <value = int64[2] {1, 2}> ()
          u = Tile (g, t)
          a = Abs (u)
          l = Log (a)
          r = Reciprocal (a)
          ax = Constant <value = int64[1] {1}> ()
          mx = ReduceMax (l, ax)
          mn = ReduceMin <keepdims = 1> (r)
          s = Sum (l, mx, mn)
          f = Floor (s)
          c = Ceil (r)
          y = Add (f, c) }""",
}


@pytest.mark.parametrize("name", list(GRAPHS))
def test_tensor_op_matches_onnx_runtime(name: str) -> None:
    model = ir.from_onnx_text(_HEAD + GRAPHS[name])
    shape = [int(d) for d in model.graph.inputs[0].shape]
    x = np.random.default_rng(3).standard_normal(shape).astype(np.float32) + 0.05
    expected = ort.InferenceSession(model_bytes(model), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    assert unsupported_ops(model) == []
    got = _Executor(model)({"x": torch.from_numpy(x)})["y"].detach().numpy()
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_unsupported_tensor_op_attributes_are_named() -> None:
    model = ir.from_onnx_text(_HEAD + """
        g (float[1,2,5,6] x) => (float[1,2,5,8] y) {
          p = Constant <value = int64[8] {0, 0, 0, 1, 0, 0, 0, 1}> ()
          y = Pad <mode = "antisymmetric"> (x, p) }""")
    with pytest.raises(UnsupportedOp, match="Pad .*: mode=antisymmetric is not supported for fine-tuning"):
        _Executor(model)({"x": torch.zeros(1, 2, 5, 6)})


NOT_RUN = {"sklearn-digits", "onnxscript-functions", "variant-if-loop"}  # ai.onnx.ml, local functions, If/Loop


def _params() -> list:
    return [pytest.param(n, marks=pytest.mark.slow) if ENTRIES[n].slow else n for n in corpus.names()]


@pytest.mark.parametrize("name", _params())
def test_executor_runs_foreign_models_as_onnx_runtime_does(name: str) -> None:
    entry = corpus.get(name)
    model = ir.load(str(entry.path))
    if name in NOT_RUN:
        assert unsupported_ops(model), f"{name} now runs in the executor: move it out of NOT_RUN"
        return
    assert unsupported_ops(model) == []
    feed = entry.inputs(1, 3)[0]
    session = ort.InferenceSession(model_bytes(model), providers=["CPUExecutionProvider"])
    expected = session.run(None, feed)
    with torch.no_grad():
        got = _Executor(model, train=False)({k: torch.from_numpy(np.asarray(v)) for k, v in feed.items()})
    for (key, tensor), want in zip(got.items(), expected, strict=True):
        scale = max(1.0, float(np.abs(want).max()))
        np.testing.assert_allclose(tensor.numpy(), want, rtol=1e-4, atol=1e-5 * scale, err_msg=key)
