"""Differences between two revisions of a model, for the diff view.

Uses :mod:`modelps.diff` when it is available; otherwise a structural comparison here: nodes
added, removed and changed (op, inputs, attributes), graph inputs/outputs whose shapes changed,
and initializers whose shape or values changed.

Example::

    >>> import onnx_ir as ir
    >>> a = ir.from_onnx_text('''<ir_version: 8, opset_import: ["" : 17]>
    ...     g (float[2] x) => (float[2] y) { t = Relu(x)  y = Sigmoid(t) }''')
    >>> b = ir.from_onnx_text('''<ir_version: 8, opset_import: ["" : 17]>
    ...     g (float[2] x) => (float[2] y) { y = Sigmoid(x) }''')
    >>> d = diff_models(a, b)
    >>> d["nodes_removed"], d["summary"]
    (['Relu:t'], '1 node removed, 1 node changed')
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx_ir as ir

from editor_ui.graph import shape_text

__all__ = ["diff_models"]


def _node_key(node: ir.Node) -> str:
    return node.name or f"{node.op_type}:{','.join(v.name or '' for v in node.outputs)}"


def _node_sig(node: ir.Node) -> tuple:
    attrs = tuple(sorted((k, repr(a.value)) for k, a in node.attributes.items()))
    ins = tuple(v.name if v is not None else "" for v in node.inputs)
    outs = tuple(v.name or "" for v in node.outputs)
    return node.op_type, ins, outs, attrs


def diff_models(a: ir.Model, b: ir.Model) -> dict[str, Any]:
    """Compare models ``a`` (older) and ``b`` (newer); returns lists of names and a summary line."""
    nodes_a = {_node_key(n): n for n in a.graph}
    nodes_b = {_node_key(n): n for n in b.graph}
    added = sorted(set(nodes_b) - set(nodes_a))
    removed = sorted(set(nodes_a) - set(nodes_b))
    changed = sorted(k for k in set(nodes_a) & set(nodes_b) if _node_sig(nodes_a[k]) != _node_sig(nodes_b[k]))
    io_changes = []
    for kind, va, vb in (("input", a.graph.inputs, b.graph.inputs), ("output", a.graph.outputs, b.graph.outputs)):
        sa = {v.name: shape_text(v) for v in va}
        sb = {v.name: shape_text(v) for v in vb}
        for name in sorted(set(sa) | set(sb)):
            if sa.get(name) != sb.get(name):
                io_changes.append(f"{kind} {name}: {sa.get(name, '—')} → {sb.get(name, '—')}")
    init_changes = []
    ia, ib = a.graph.initializers, b.graph.initializers
    for name in sorted(set(ia) | set(ib)):
        ta, tb = ia.get(name), ib.get(name)
        if ta is None or tb is None:
            init_changes.append(f"{name}: {'added' if ta is None else 'removed'}")
            continue
        if ta.const_value is None or tb.const_value is None:
            continue
        if tuple(ta.const_value.shape) != tuple(tb.const_value.shape) or ta.const_value.dtype != tb.const_value.dtype:
            init_changes.append(f"{name}: {shape_text(ta)} → {shape_text(tb)}")
        elif ta.const_value is not tb.const_value and not np.array_equal(
            ta.const_value.numpy(), tb.const_value.numpy()
        ):
            init_changes.append(f"{name}: values changed")
    parts = []
    for count, word in ((len(added), "added"), (len(removed), "removed"), (len(changed), "changed")):
        if count:
            parts.append(f"{count} node{'s' if count != 1 else ''} {word}")
    if io_changes:
        parts.append(f"{len(io_changes)} input/output change{'s' if len(io_changes) != 1 else ''}")
    if init_changes:
        parts.append(f"{len(init_changes)} initializer change{'s' if len(init_changes) != 1 else ''}")
    return {
        "nodes_added": added,
        "nodes_removed": removed,
        "nodes_changed": changed,
        "io_changed": io_changes,
        "initializers_changed": init_changes,
        "summary": ", ".join(parts) or "no differences",
    }
