"""A per-layer latency table, so the search can price a pruning plan without timing it.

The table is built by profiling the model once with ONNX Runtime's profiler (per-node kernel
times, same threads as the measurements) and attributing each kernel to a node of the original
graph (ORT renames fused nodes: ``<value>_nchwc``, ``<node>_token_<n>``; a fused Conv+BN+ReLU
is charged to its Conv). A pruning plan scales each layer's time by its remaining work: for a
layer mixing channels ``(C_in'/C_in) * (C_out'/C_out)``, for the others the kept fraction of
their channels, raised to a per-model exponent ``gamma`` fitted on measured points (kernel
efficiency falls at small widths, so time shrinks slower than FLOPs). The total is scaled so that
the unpruned model predicts its measured latency. Its error against measurement is reported by
the search for every candidate it measures.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import tempfile
from collections.abc import Mapping, Sequence

import numpy as np
import onnx_ir as ir

from modelps.compress.channels import Analysis, layout_indices

__all__ = ["FractionModel", "LayerTable", "fractions_for", "profile_table"]

logger = logging.getLogger(__name__)

_MIXING = {"Conv", "ConvTranspose", "Gemm", "MatMul"}
_SUFFIX = re.compile(r"(_token_\d+|_nchwc|_fused.*|_quant|_output_\d+)$")


@dataclasses.dataclass
class LayerTable:
    """Profiled time (ms) per original node plus unattributed time."""

    node_ms: dict[str, float]
    other_ms: float
    scale: float = 1.0
    gamma: float = 1.0

    @property
    def total_ms(self) -> float:
        """The predicted latency of the unpruned model."""
        return self.scale * (sum(self.node_ms.values()) + self.other_ms)

    def predict(self, fractions: Mapping[str, float]) -> float:
        """Predicted latency (ms) when each node keeps ``fractions[node]`` of its work (default 1)."""
        total = self.other_ms
        for node, ms in self.node_ms.items():
            total += ms * max(fractions.get(node, 1.0), 1e-6) ** self.gamma
        return self.scale * total

    def calibrate(self, measured_ms: float) -> None:
        """Scale the table so the unpruned model predicts ``measured_ms``."""
        raw = sum(self.node_ms.values()) + self.other_ms
        if raw > 0:
            self.scale = measured_ms / raw

    def fit_gamma(self, points: Sequence[tuple[Mapping[str, float], float]]) -> None:
        """Choose ``gamma`` minimizing the squared log error on ``(fractions, measured_ms)`` points."""
        if not points:
            return
        best, best_err = self.gamma, float("inf")
        for gamma in np.linspace(0.3, 1.5, 25):
            self.gamma = float(gamma)
            err = sum(np.log(self.predict(f) / m) ** 2 for f, m in points if m > 0)
            if err < best_err:
                best, best_err = float(gamma), err
        self.gamma = best

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (top layers only)."""
        top = sorted(self.node_ms.items(), key=lambda kv: -kv[1])[:20]
        return {"scale": self.scale, "gamma": self.gamma, "other_ms": self.other_ms, "top_layers_ms": dict(top)}


def profile_table(
    model: ir.Model,
    feeds: Mapping[str, np.ndarray],
    *,
    original: ir.Model | None = None,
    threads: int = 1,
    runs: int = 10,
) -> LayerTable:
    """Profile ``model`` on ORT CPU and attribute kernel times to nodes of ``original`` (default: ``model``)."""
    import onnxruntime as ort

    from modelps.io import model_bytes

    graph = (original or model).graph
    with tempfile.TemporaryDirectory(prefix="modelps-prof-") as folder:
        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.enable_profiling = True
        options.profile_file_prefix = os.path.join(folder, "prof")
        session = ort.InferenceSession(model_bytes(model), options, providers=["CPUExecutionProvider"])
        for _ in range(3 + runs):
            session.run(None, dict(feeds))
        path = session.end_profiling()
        with open(path) as f:
            events = json.load(f)
    per_name: dict[str, list[float]] = {}
    for event in events:
        if event.get("cat") == "Node" and str(event.get("name", "")).endswith("_kernel_time"):
            per_name.setdefault(event["name"][: -len("_kernel_time")], []).append(event["dur"] / 1000.0)
    nodes = {n.name: n for n in graph}
    producers = {v.name: n for n in graph for v in n.outputs}
    node_ms: dict[str, float] = {}
    other = 0.0
    for name, durs in per_name.items():
        ms = float(np.median(durs)) * len(durs) / (3 + runs)  # median kernel time x calls per run
        target = _attribute(name, nodes, producers)
        if target is None:
            other += ms
        else:
            node_ms[target] = node_ms.get(target, 0.0) + ms
    return LayerTable(node_ms=node_ms, other_ms=other)


def _attribute(name: str, nodes: Mapping[str, ir.Node], producers: Mapping[str, ir.Node]) -> str | None:
    base = name
    for _ in range(3):
        stripped = _SUFFIX.sub("", base)
        if stripped == base:
            break
        base = stripped
    node = nodes.get(base) or nodes.get(name) or producers.get(base)
    if node is None:
        return None
    return _walk_to_mixing(node, producers)


def _walk_to_mixing(node: ir.Node, producers: Mapping[str, ir.Node]) -> str:
    """From a fused chain's last node back to its Conv/Gemm (through BN, activations, Add)."""
    current = node
    for _ in range(4):
        if current.op_type in _MIXING:
            return current.name or ""
        found = None
        for value in current.inputs:
            producer = producers.get(value.name) if value is not None else None
            if producer is not None and producer.op_type in _MIXING:
                found = producer
                break
        if found is None:
            first = current.inputs[0] if current.inputs else None
            found = producers.get(first.name) if first is not None else None
            if found is None or current.op_type not in (
                "BatchNormalization",
                "Relu",
                "Clip",
                "PRelu",
                "LeakyRelu",
                "Sigmoid",
                "HardSwish",
            ):
                return node.name or ""
        current = found
    return node.name or ""


def fractions_for(model: ir.Model, analysis: Analysis, keep: Mapping[int, np.ndarray]) -> dict[str, float]:
    """Remaining work of each node under a pruning plan (group id -> kept channel indices)."""
    fractions: dict[str, float] = {}
    for node in model.graph:
        out = analysis.layouts.get(node.outputs[0].name or "") if node.outputs else None
        out_frac = _kept_fraction(out, analysis, keep)
        if node.op_type in _MIXING and len(node.inputs) > 0 and node.inputs[0] is not None:
            inp = analysis.layouts.get(node.inputs[0].name or "")
            group = node.attributes.get("group")
            depthwise = group is not None and group.as_int() > 1
            in_frac = 1.0 if depthwise else _kept_fraction(inp, analysis, keep)
            fractions[node.name or ""] = in_frac * out_frac
        else:
            fractions[node.name or ""] = out_frac
    return fractions


class FractionModel:
    """Fast remaining-work fractions for plans given as a kept fraction per group (for the search).

    Each node's work is ``in_fraction * out_fraction`` (mixing layers) or ``out_fraction``, where
    a layout's fraction is the size-weighted mean of its groups' kept fractions.
    """

    def __init__(self, model: ir.Model, analysis: Analysis) -> None:
        self.terms: dict[str, list[list[tuple[int, float]]]] = {}
        for node in model.graph:
            out = analysis.layouts.get(node.outputs[0].name or "") if node.outputs else None
            factors = [self._weights(out, analysis)]
            if node.op_type in _MIXING and node.inputs and node.inputs[0] is not None:
                group = node.attributes.get("group")
                if not (group is not None and group.as_int() > 1):
                    factors.append(self._weights(analysis.layouts.get(node.inputs[0].name or ""), analysis))
            self.terms[node.name or ""] = [f for f in factors if f]

    @staticmethod
    def _weights(layout: object, analysis: Analysis) -> list[tuple[int, float]]:
        if not layout:
            return []
        sizes: dict[int, float] = {}
        for sid, rep in layout:  # type: ignore[attr-defined]
            gid = analysis.space_group[sid]
            sizes[gid] = sizes.get(gid, 0.0) + analysis.space_size[sid] * rep
        total = sum(sizes.values())
        return [(gid, size / total) for gid, size in sizes.items()]

    def fractions(self, kept: Mapping[int, float]) -> dict[str, float]:
        """Remaining work per node when group ``g`` keeps ``kept[g]`` of its channels (default 1)."""
        result = {}
        for node, factors in self.terms.items():
            value = 1.0
            for weights in factors:
                value *= sum(w * kept.get(gid, 1.0) for gid, w in weights)
            result[node] = value
        return result


def _kept_fraction(layout: object, analysis: Analysis, keep: Mapping[int, np.ndarray]) -> float:
    if not layout:
        return 1.0
    idx, total = layout_indices(layout, analysis, keep)  # type: ignore[arg-type]
    return len(idx) / total if total else 1.0
