"""Small generated models for the Open page's demo button, the tests and the benchmark.

Example::

    >>> m = residual_cnn(100)
    >>> len(m.graph)
    100
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

__all__ = ["residual_cnn"]


def _typed(value: ir.Value, shape: list[int]) -> ir.Value:
    value.shape = ir.Shape(shape)
    value.type = ir.TensorType(ir.DataType.FLOAT)
    return value


def residual_cnn(nodes: int = 100, *, channels: int = 4, size: int = 8, seed: int = 0) -> ir.Model:
    """Build a ResNet-like chain with exactly ``nodes`` nodes (at least 8).

    Residual blocks of Conv-Relu-Conv-Add-Relu, a Conv-Relu stem, a pooled Gemm head, and Relu
    padding to hit the count.
    """
    if nodes < 8:
        raise ValueError("residual_cnn needs at least 8 nodes")
    rng = np.random.default_rng(seed)
    c, s = channels, size
    x = _typed(ir.Value(name="input"), [1, c, s, s])
    graph = ir.Graph(inputs=[x], outputs=[], nodes=[], opset_imports={"": 17}, name="residual_cnn")
    counter = {"n": 0}

    def weight(name: str, shape: list[int], scale: float) -> ir.Value:
        value = ir.Value(
            name=name, const_value=ir.tensor((rng.standard_normal(shape) * scale).astype(np.float32), name=name)
        )
        _typed(value, shape)
        graph.register_initializer(value)
        return value

    def add(op: str, inputs: list[ir.Value], shape: list[int], attrs: dict | None = None) -> ir.Value:
        index = counter["n"]
        counter["n"] += 1
        node = ir.node(op, inputs, attributes=attrs or {}, name=f"/block{index // 5}/{op}_{index}")
        out = node.outputs[0]
        out.name = f"/block{index // 5}/{op}_{index}_output_0"
        _typed(out, shape)
        graph.append(node)
        return out

    def conv(inp: ir.Value) -> ir.Value:
        k = counter["n"]
        w = weight(f"conv{k}.weight", [c, c, 3, 3], (2.0 / (9 * c)) ** 0.5)
        b = weight(f"conv{k}.bias", [c], 0.01)
        return add("Conv", [inp, w, b], [1, c, s, s], {"pads": [1, 1, 1, 1], "kernel_shape": [3, 3]})

    cur = add("Relu", [conv(x)], [1, c, s, s])
    blocks = (nodes - 5) // 5
    for _ in range(blocks):
        skip = cur
        t = add("Relu", [conv(cur)], [1, c, s, s])
        t = add("Add", [conv(t), skip], [1, c, s, s])
        cur = add("Relu", [t], [1, c, s, s])
    for _ in range(nodes - 5 - 5 * blocks):
        cur = add("Relu", [cur], [1, c, s, s])
    pooled = add("GlobalAveragePool", [cur], [1, c, 1, 1])
    flat = add("Flatten", [pooled], [1, c])
    fc_w = weight("fc.weight", [10, c], 0.5)
    fc_b = weight("fc.bias", [10], 0.01)
    out = add("Gemm", [flat, fc_w, fc_b], [1, 10], {"transB": 1})
    out.name = "logits"
    graph.outputs.append(out)
    return ir.Model(graph, ir_version=8, producer_name="modelps-samples")
