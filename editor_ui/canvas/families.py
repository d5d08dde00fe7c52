"""Op families and their colours, for the canvas and its legend.

>>> op_family("Conv"), op_family("Relu"), op_family("If"), op_family("MyCustomOp")
('conv', 'activation', 'control', 'other')
"""

from __future__ import annotations

__all__ = ["FAMILY_COLOURS", "op_family"]

FAMILY_COLOURS = {
    "conv": "#3367d6",
    "matmul": "#1e88e5",
    "norm": "#7b1fa2",
    "activation": "#c62828",
    "pool": "#2e7d32",
    "shape": "#607d8b",
    "math": "#ef6c00",
    "quant": "#00838f",
    "control": "#b8860b",
    "function": "#ad1457",
    "io": "#37474f",
    "other": "#6d4c41",
}
"""Fill colour per family (white text reads on each)."""

_FAMILIES = {
    "conv": "Conv ConvTranspose ConvInteger QLinearConv DeformConv",
    "matmul": "Gemm MatMul MatMulInteger QLinearMatMul Einsum Attention MultiHeadAttention",
    "norm": "BatchNormalization LayerNormalization InstanceNormalization GroupNormalization LpNormalization "
    "SimplifiedLayerNormalization RMSNormalization SkipLayerNormalization Dropout",
    "activation": "Relu PRelu LeakyRelu Sigmoid Tanh Softmax HardSigmoid HardSwish Gelu FastGelu Elu Selu Clip "
    "Mish Softplus Softsign LogSoftmax Swish",
    "pool": "MaxPool AveragePool GlobalAveragePool GlobalMaxPool ReduceMean ReduceMax ReduceMin ReduceSum "
    "ReduceProd ReduceL2 LpPool ArgMax ArgMin TopK",
    "shape": "Reshape Flatten Transpose Squeeze Unsqueeze Concat Split Slice Gather GatherElements GatherND "
    "Shape Size Expand Identity Constant ConstantOfShape Cast CastLike Pad Resize Tile Range Where NonZero "
    "ScatterND ScatterElements DepthToSpace SpaceToDepth",
    "math": "Add Sub Mul Div Pow Sqrt Exp Log Neg Abs Max Min Sum Mean Reciprocal Floor Ceil Round Sign Erf "
    "Equal Less Greater LessOrEqual GreaterOrEqual Not And Or Xor Mod Sin Cos",
    "quant": "QuantizeLinear DequantizeLinear DynamicQuantizeLinear",
    "control": "If Loop Scan SequenceMap",
}
_BY_OP = {op: family for family, ops in _FAMILIES.items() for op in ops.split()}


def op_family(op_type: str) -> str:
    """The family of an op type (``other`` when unknown)."""
    return _BY_OP.get(op_type, "other")
