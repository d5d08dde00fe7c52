"""Channel dependency analysis on an ONNX graph: which channels must be pruned together.

Every tensor of rank >= 2 carries a *layout*: the list of channel spaces its axis 1 is made of.
A channel space is created by a producer (``Conv``, ``ConvTranspose``, ``Gemm``, ``MatMul`` with a
constant weight); pass-through ops (``BatchNormalization``, activations including ``PReLU``,
pooling, depthwise convolutions, ``Flatten``, ...) copy their input's layout; element-wise ops with
two tensor inputs (a residual ``Add``, the ``Mul`` of a squeeze-excitation block) tie the spaces of
both inputs into one *group*; ``Concat`` on the channel axis concatenates layouts; ``Flatten`` and
``Reshape`` into a ``Gemm`` expand each channel into ``H*W`` consecutive features.

A group is the unit of pruning: removing channel ``i`` of a group removes it from every producer
(weight rows, bias), every parameter along the way (BN statistics, PReLU slopes, per-channel
constants) and every consumer (weight columns, expanded for ``Flatten``). Groups that reach a graph
input or output, a grouped convolution, or any op this analysis does not understand are *fixed*:
they are reported with the reason and never pruned.

This module is the analysis's entry point; the pieces live in :mod:`modelps.compress.groups` (the
result: groups and the surgery plan), :mod:`modelps.compress.values` (inferred shapes, constants),
``_channel_spaces`` (union-find over channel spaces) and ``_channel_rules`` (one rule per op). The
surgery itself is :func:`modelps.compress.prune.prune`.

Example::

    >>> import onnx_ir as ir
    >>> from modelps.model import Model
    >>> model = Model(ir.from_onnx_text('''
    ...     <ir_version: 8, opset_import: ["" : 17]>
    ...     g (float[1,1,2,2] x) => (float[1,2,2,2] y)
    ...     <float[4,1,1,1] w1 = {1, 2, 3, 4}, float[2,4,1,1] w2 = {1, 1, 1, 1, 1, 1, 1, 1}> {
    ...       a = Conv(x, w1)
    ...       b = Relu(a)
    ...       y = Conv(b, w2) }''')).ir
    >>> [(g.name, g.size, g.prunable, g.reason) for g in analyze(model).groups]
    [('x', 1, False, "it is the model input 'x'"), ('n0', 4, True, None),
     ('n2', 2, False, "it is the model output 'y'")]
"""

from __future__ import annotations

import onnx_ir as ir

from modelps.compress._channel_rules import ChannelAnalyzer
from modelps.compress.groups import Analysis, ChannelGroup, ConsumerUse, Layout, ParamSlice, layout_indices
from modelps.compress.values import const_array, inferred_types, static_shapes

__all__ = [
    "Analysis",
    "ChannelGroup",
    "ConsumerUse",
    "Layout",
    "ParamSlice",
    "analyze",
    "const_array",
    "layout_indices",
    "inferred_types",
    "static_shapes",
]


def analyze(model: ir.Model) -> Analysis:
    """Find the channel groups of ``model``'s main graph and how to prune each of them."""
    return ChannelAnalyzer(model).run()
