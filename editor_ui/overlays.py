"""Values drawn over the canvas: per-node latency, pruning sensitivity, and the diff between two revisions.

Each is a plain ``{node_name: value}`` mapping (or sets of names), so any measurement can be shown.

Example::

    >>> sensitivity_heat({"sensitivity": {"/c1/Conv": {"0.25": 0.01, "0.5": 0.04}, "/c2/Conv": {"0.5": 0.002}}})
    {'/c1/Conv': 0.04, '/c2/Conv': 0.002}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import onnx_ir as ir

from editor_ui.revdiff import diff_models

__all__ = ["diff_sets", "latency_heat", "random_feeds", "sensitivity_heat"]


def random_feeds(model: ir.Model, *, seed: int = 0) -> dict[str, np.ndarray]:
    """Seeded inputs for ``model``: symbolic dimensions as 1, floats normal, integers zero, booleans true."""
    rng = np.random.default_rng(seed)
    feeds: dict[str, np.ndarray] = {}
    for value in model.graph.inputs:
        if value.is_initializer() or value.name is None:
            continue
        shape = [d if isinstance(d, int) and d > 0 else 1 for d in (value.shape or [])]
        dtype = value.dtype.numpy() if value.dtype is not None else np.dtype(np.float32)
        if np.issubdtype(dtype, np.floating):
            feeds[value.name] = rng.standard_normal(shape).astype(dtype)
        elif dtype == np.bool_:
            feeds[value.name] = np.ones(shape, dtype=bool)
        else:
            feeds[value.name] = np.zeros(shape, dtype=dtype)
    return feeds


def latency_heat(model: ir.Model, *, runs: int = 5, threads: int = 1) -> dict[str, float]:
    """Measured time per node (ms) on ONNX Runtime CPU, with the genie's profiler (``genie.predictor``)."""
    from genie.predictor import profile_table

    table = profile_table(model, random_feeds(model), threads=threads, runs=runs)
    return {name: float(ms) for name, ms in table.node_ms.items()}


def sensitivity_heat(result: Mapping[str, Any]) -> dict[str, float]:
    """Pruning sensitivity per node from a genie result: the worst fidelity loss of its channel group.

    A group is named after the node producing its channels (``genie.search``'s ``sensitivity``).
    """
    heat = {}
    for name, losses in (result.get("sensitivity") or {}).items():
        values = [float(v) for v in dict(losses).values()]
        if values:
            heat[str(name)] = max(values)
    return heat


def diff_sets(old: ir.Model, new: ir.Model) -> dict[str, list[str]]:
    """Node names added, removed and changed from ``old`` to ``new`` (for colouring both sides)."""
    result = diff_models(old, new)
    return {
        "added": list(result["nodes_added"]),
        "removed": list(result["nodes_removed"]),
        "changed": list(result["nodes_changed"]),
    }
