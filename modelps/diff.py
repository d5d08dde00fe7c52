"""Structural diff of two models: signature, nodes, attributes, initializers and opsets.

Nodes are matched by name (ModelPS names unnamed nodes ``n<index>`` on load, so a model and
its edited version match node for node). Initializers are matched by name and compared by shape,
type and content.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import numpy as np
import onnx_ir as ir

from modelps.inspect import tensor_signature
from modelps.names import node_key

__all__ = ["ModelDiff", "diff"]


@dataclasses.dataclass
class ModelDiff:
    """Everything that differs between model ``a`` and model ``b``."""

    inputs: dict[str, list[Any]] = dataclasses.field(default_factory=dict)
    outputs: dict[str, list[Any]] = dataclasses.field(default_factory=dict)
    nodes_added: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    nodes_removed: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    nodes_changed: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    initializers_added: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    initializers_removed: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    initializers_changed: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    opset: dict[str, list[int | None]] = dataclasses.field(default_factory=dict)

    @property
    def identical(self) -> bool:
        """Whether nothing differs."""
        return not any(bool(v) for v in dataclasses.asdict(self).values())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with an ``identical`` flag and a ``summary`` of counts."""
        data = dataclasses.asdict(self)
        data["identical"] = self.identical
        data["summary"] = {k: len(v) for k, v in data.items() if isinstance(v, (list, dict)) and k != "summary"}
        return data

    def to_text(self) -> str:
        """A human-readable report, one change per line."""
        if self.identical:
            return "models are identical"
        lines: list[str] = []
        for kind in ("inputs", "outputs"):
            for name, (old, new) in getattr(self, kind).items():
                lines.append(f"{kind[:-1]} {name}: {_sig(old)} -> {_sig(new)}")
        for domain, (old, new) in self.opset.items():
            lines.append(f"opset {domain or 'ai.onnx'}: {old} -> {new}")
        lines += [f"+ node {n['name']} ({n['op_type']})" for n in self.nodes_added]
        lines += [f"- node {n['name']} ({n['op_type']})" for n in self.nodes_removed]
        for change in self.nodes_changed:
            details = "; ".join(f"{k}: {v[0]!r} -> {v[1]!r}" for k, v in change["changes"].items())
            lines.append(f"~ node {change['name']}: {details}")
        lines += [f"+ initializer {i['name']} {i['shape']} {i['dtype']}" for i in self.initializers_added]
        lines += [f"- initializer {i['name']} {i['shape']} {i['dtype']}" for i in self.initializers_removed]
        for change in self.initializers_changed:
            lines.append(f"~ initializer {change['name']}: {change['change']}")
        return "\n".join(lines)


def _sig(entry: Any) -> str:
    return "absent" if entry is None else f"{entry['dtype']}{entry['shape']}"


def _signature(values: Any) -> dict[str, dict[str, Any]]:
    """Name -> dtype and shape of the non-initializer tensors in ``values``."""
    result = {}
    for value in values:
        if not value.is_initializer():
            entry = tensor_signature(value)
            result[entry.pop("name")] = entry
    return result


def _compare_maps(old: dict[str, Any], new: dict[str, Any]) -> dict[str, list[Any]]:
    return {k: [old.get(k), new.get(k)] for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)}


def _attr_value(attr: ir.Attr) -> Any:
    value = attr.value
    if isinstance(value, ir.TensorProtocol):
        return f"tensor{list(value.shape.numpy())}#{_digest(value)}"
    if isinstance(value, ir.Graph):
        return f"graph({len(value)} nodes)"
    if isinstance(value, (list, tuple)):
        return [v if isinstance(v, (int, float, str)) else repr(v) for v in value]
    return value if isinstance(value, (int, float, str)) else repr(value)


def _node_view(node: ir.Node) -> dict[str, Any]:
    return {
        "op_type": node.op_type if not node.domain else f"{node.domain}::{node.op_type}",
        "inputs": [v.name if v is not None else "" for v in node.inputs],
        "outputs": [v.name for v in node.outputs],
        "attributes": {name: _attr_value(attr) for name, attr in sorted(node.attributes.items())},
    }


def _digest(tensor: ir.TensorProtocol) -> str:
    return hashlib.sha256(tensor.tobytes()).hexdigest()[:12]


def _tensor_view(value: ir.Value) -> dict[str, Any]:
    tensor = value.const_value
    if tensor is None:
        return {"name": value.name, "shape": None, "dtype": None}
    return {"name": value.name, "shape": list(tensor.shape.numpy()), "dtype": tensor.dtype.name.lower()}


def _tensor_change(a: ir.Value, b: ir.Value) -> str | None:
    ta, tb = a.const_value, b.const_value
    if ta is None or tb is None:
        return None if ta is tb else "data added or removed"
    if ta.dtype != tb.dtype or ta.shape != tb.shape:
        return f"{ta.dtype.name.lower()}{list(ta.shape.numpy())} -> {tb.dtype.name.lower()}{list(tb.shape.numpy())}"
    if ta is tb or ta.tobytes() == tb.tobytes():
        return None
    delta = np.abs(ta.numpy().astype(np.float64) - tb.numpy().astype(np.float64))
    return f"values changed (max abs difference {float(delta.max()):.6g}, {int((delta > 0).sum())} elements)"


def diff(a: ir.Model, b: ir.Model) -> ModelDiff:
    """Compare model ``a`` with model ``b`` (``b`` is the newer one)."""
    result = ModelDiff(
        inputs=_compare_maps(_signature(a.graph.inputs), _signature(b.graph.inputs)),
        outputs=_compare_maps(_signature(a.graph.outputs), _signature(b.graph.outputs)),
        opset=_compare_maps(dict(a.opset_imports), dict(b.opset_imports)),
    )
    nodes_a = {node_key(node, i): node for i, node in enumerate(a.graph)}
    nodes_b = {node_key(node, i): node for i, node in enumerate(b.graph)}
    for name, node in nodes_b.items():
        if name not in nodes_a:
            result.nodes_added.append({"name": name, **_node_view(node)})
    for name, node in nodes_a.items():
        if name not in nodes_b:
            result.nodes_removed.append({"name": name, **_node_view(node)})
            continue
        view_a, view_b = _node_view(node), _node_view(nodes_b[name])
        changes = {k: [view_a[k], view_b[k]] for k in view_a if view_a[k] != view_b[k]}
        if changes:
            result.nodes_changed.append({"name": name, "changes": changes})
    inits_a, inits_b = a.graph.initializers, b.graph.initializers
    result.initializers_added = [_tensor_view(v) for k, v in inits_b.items() if k not in inits_a]
    result.initializers_removed = [_tensor_view(v) for k, v in inits_a.items() if k not in inits_b]
    for name, value in inits_a.items():
        if name in inits_b:
            change = _tensor_change(value, inits_b[name])
            if change:
                result.initializers_changed.append({"name": name, "change": change})
    return result
