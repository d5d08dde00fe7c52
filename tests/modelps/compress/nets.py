"""Small CNNs built directly with onnx_ir for the pruning and quantization tests.

Families: ResNet (basic and bottleneck blocks), MobileFaceNet-like (depthwise + PReLU),
squeeze-excitation, Concat (inception-like) and a Flatten -> Gemm head.
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from modelps.compress.channels import inferred_types


class Net:
    """A tiny graph builder: each method adds one layer and returns its output value."""

    def __init__(self, shape: tuple[int, ...] = (1, 3, 32, 32), *, opset: int = 17, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        self.opset = opset
        self.x = ir.val("x", ir.DataType.FLOAT, list(shape))
        self.nodes: list[ir.Node] = []
        self.inits: list[ir.Value] = []
        self.channels: dict[str, int] = {"x": shape[1]}
        self.count = 0

    def _name(self, op: str) -> str:
        self.count += 1
        return f"{op.lower()}{self.count}"

    def const(self, array: np.ndarray, hint: str) -> ir.Value:
        name = f"{hint}_{len(self.inits)}"
        array = np.asarray(array, np.float32) if array.dtype.kind == "f" else array
        value = ir.val(
            name, ir.DataType.from_numpy(array.dtype), list(array.shape), const_value=ir.tensor(array, name=name)
        )
        self.inits.append(value)
        return value

    def op(self, op: str, inputs: list[ir.Value | None], channels: int | None, **attrs: object) -> ir.Value:
        name = self._name(op)
        node = ir.node(op, inputs, attributes=attrs or None, name=name)
        node.outputs[0].name = f"{name}_out"
        self.nodes.append(node)
        out = node.outputs[0]
        if channels is not None:
            self.channels[out.name] = channels
        return out

    def ch(self, value: ir.Value) -> int:
        return self.channels[value.name or ""]

    def conv(self, x: ir.Value, cout: int, k: int = 3, stride: int = 1, group: int = 1, bias: bool = True) -> ir.Value:
        cin = self.ch(x)
        fan_in = cin // group * k * k
        w = self.rng.standard_normal((cout, cin // group, k, k)) * np.sqrt(2.0 / fan_in)
        inputs = [x, self.const(w, "w")]
        if bias:
            inputs.append(self.const(self.rng.standard_normal(cout) * 0.1, "b"))
        pad = k // 2
        return self.op("Conv", inputs, cout, kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4, group=group)

    def bn(self, x: ir.Value) -> ir.Value:
        c = self.ch(x)
        r = self.rng
        params = [
            r.uniform(0.5, 1.5, c),
            r.standard_normal(c) * 0.1,
            r.standard_normal(c) * 0.1,
            r.uniform(0.5, 1.5, c),
        ]
        return self.op("BatchNormalization", [x, *(self.const(p, "bn") for p in params)], c, epsilon=1e-5)

    def relu(self, x: ir.Value) -> ir.Value:
        return self.op("Relu", [x], self.ch(x))

    def prelu(self, x: ir.Value) -> ir.Value:
        slope = self.const(self.rng.uniform(0.1, 0.3, (self.ch(x), 1, 1)), "slope")
        return self.op("PRelu", [x, slope], self.ch(x))

    def sigmoid(self, x: ir.Value) -> ir.Value:
        return self.op("Sigmoid", [x], self.ch(x))

    def add(self, a: ir.Value, b: ir.Value) -> ir.Value:
        return self.op("Add", [a, b], self.ch(a))

    def mul(self, a: ir.Value, b: ir.Value) -> ir.Value:
        return self.op("Mul", [a, b], self.ch(a))

    def gap(self, x: ir.Value) -> ir.Value:
        return self.op("GlobalAveragePool", [x], self.ch(x))

    def maxpool(self, x: ir.Value) -> ir.Value:
        return self.op("MaxPool", [x], self.ch(x), kernel_shape=[2, 2], strides=[2, 2])

    def concat(self, *xs: ir.Value) -> ir.Value:
        return self.op("Concat", list(xs), sum(self.ch(x) for x in xs), axis=1)

    def flatten(self, x: ir.Value, spatial: int = 1) -> ir.Value:
        return self.op("Flatten", [x], self.ch(x) * spatial, axis=1)

    def gemm(self, x: ir.Value, n: int) -> ir.Value:
        k = self.ch(x)
        w = self.rng.standard_normal((n, k)) * np.sqrt(1.0 / k)
        return self.op(
            "Gemm", [x, self.const(w, "fc"), self.const(self.rng.standard_normal(n) * 0.1, "fcb")], n, transB=1
        )

    def cbr(self, x: ir.Value, cout: int, k: int = 3, stride: int = 1, act: str = "relu", group: int = 1) -> ir.Value:
        y = self.bn(self.conv(x, cout, k, stride, group=group, bias=False))
        return self.prelu(y) if act == "prelu" else (self.relu(y) if act == "relu" else y)

    def se(self, x: ir.Value, reduction: int = 4) -> ir.Value:
        c = self.ch(x)
        s = self.relu(self.conv(self.gap(x), max(1, c // reduction), k=1))
        return self.mul(x, self.sigmoid(self.conv(s, c, k=1)))

    def build(self, *outputs: ir.Value) -> ir.Model:
        for i, out in enumerate(outputs):
            out.name = "y" if len(outputs) == 1 else f"y{i}"
            out.dtype = ir.DataType.FLOAT
        graph = ir.Graph(
            [self.x],
            list(outputs),
            nodes=self.nodes,
            initializers=self.inits,
            opset_imports={"": self.opset},
            name="net",
        )
        model = ir.Model(graph, ir_version=8 if self.opset >= 15 else 7)
        found = inferred_types(model)
        for out in outputs:
            out.shape = ir.Shape(list(found[out.name][1]))
        return model


def basic_block(net: Net, x: ir.Value, cout: int, stride: int = 1, se: bool = False) -> ir.Value:
    y = net.cbr(x, cout, 3, stride)
    y = net.cbr(y, cout, 3, 1, act="none")
    if se:
        y = net.se(y)
    short = x if stride == 1 and net.ch(x) == cout else net.cbr(x, cout, 1, stride, act="none")
    return net.relu(net.add(y, short))


def bottleneck(net: Net, x: ir.Value, mid: int, cout: int, stride: int = 1) -> ir.Value:
    y = net.cbr(x, mid, 1)
    y = net.cbr(y, mid, 3, stride)
    y = net.cbr(y, cout, 1, act="none")
    short = x if stride == 1 and net.ch(x) == cout else net.cbr(x, cout, 1, stride, act="none")
    return net.relu(net.add(y, short))


def resnet18(*, width: int = 8, shape=(1, 3, 32, 32), opset: int = 17, se: bool = False, seed: int = 0) -> ir.Model:
    """ResNet-18 layout ([2, 2, 2, 2] basic blocks) at a reduced width, GAP + Flatten + Gemm head."""
    net = Net(shape, opset=opset, seed=seed)
    y = net.maxpool(net.cbr(net.x, width, 3))
    for stage, blocks in enumerate([2, 2, 2, 2]):
        for b in range(blocks):
            y = basic_block(net, y, width * 2**stage, stride=2 if b == 0 and stage > 0 else 1, se=se)
    return net.build(net.gemm(net.flatten(net.gap(y)), 10))


def resnet50(*, width: int = 8, shape=(1, 3, 32, 32), opset: int = 17, seed: int = 0, blocks=(3, 4, 6, 3)) -> ir.Model:
    """ResNet-50 layout (bottleneck blocks [3, 4, 6, 3], expansion 4) at a reduced width."""
    net = Net(shape, opset=opset, seed=seed)
    y = net.maxpool(net.cbr(net.x, width, 3))
    for stage, count in enumerate(blocks):
        mid = width * 2**stage
        for b in range(count):
            y = bottleneck(net, y, mid, mid * 4, stride=2 if b == 0 and stage > 0 else 1)
    return net.build(net.gemm(net.flatten(net.gap(y)), 10))


def mobilefacenet(*, shape=(1, 3, 32, 32), seed: int = 0) -> ir.Model:
    """MobileFaceNet-like: depthwise separable bottlenecks with PReLU, residual adds, GDC + linear head."""
    net = Net(shape, opset=17, seed=seed)
    y = net.cbr(net.x, 16, 3, 2, act="prelu")
    y = net.cbr(y, 16, 3, 1, act="prelu", group=16)
    for cout, stride, n in [(16, 2, 2), (32, 2, 2)]:
        for i in range(n):
            h = net.cbr(y, net.ch(y) * 2, 1, act="prelu")
            h = net.cbr(h, net.ch(h), 3, stride if i == 0 else 1, act="prelu", group=net.ch(h))
            h = net.cbr(h, cout, 1, act="none")
            y = net.add(h, y) if i > 0 else h
    y = net.cbr(y, 64, 1, act="prelu")
    y = net.cbr(y, 64, 4, 1, act="none", group=64)  # global depthwise conv (4x4 map)
    emb = net.gemm(net.flatten(net.gap(y)), 32)
    return net.build(emb)


def inception(*, shape=(1, 3, 16, 16), seed: int = 0) -> ir.Model:
    """Two branches concatenated on channels, then a conv and a Flatten -> Gemm head (no pooling)."""
    net = Net(shape, opset=17, seed=seed)
    stem = net.cbr(net.x, 8, 3)
    a = net.cbr(stem, 6, 1)
    b = net.cbr(net.cbr(stem, 4, 1), 10, 3)
    y = net.cbr(net.concat(a, b), 12, 3, 2)
    y = net.cbr(y, 8, 3, 2)  # 4x4 map
    return net.build(net.gemm(net.flatten(y, spatial=16), 5))
