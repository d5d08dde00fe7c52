"""Least-squares reconstruction after channel pruning (He et al., ICCV 2017, without LASSO).

After a group loses channels, each layer that reads the group (a ``Conv``, ``Gemm`` or ``MatMul``
"consumer") sees fewer input channels. Its weights are re-fit so that, on calibration inputs, its
output in the pruned model matches its output in the original model:

    min_{W', b'}  || Y_orig - [X_pruned, 1] [W'; b'] ||^2 + lam || [W'; b'] - [W_kept; b] ||^2

where ``X`` are the consumer's kept (im2col'd) inputs. By default (``passes=1``) they come from one
run of the original model, so every layer is re-fit as if the layers before it were exact (no
layer over-corrects for an upstream error that is fixed later); with ``passes=0`` consumers are
re-fit one at a time in graph order on the *pruned* model's inputs (He et al.'s sequential scheme:
slightly better, one model run per layer). The ridge term pulls the solution towards the plainly
pruned weights where the data say nothing.
A consumer without a bias gets one. Consumers using ``auto_pad`` other than ``NOTSET``/``VALID``,
``ConvTranspose`` and ``Gemm`` with ``alpha``/``beta`` other than 1 are left as plainly pruned.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Mapping, Sequence

import numpy as np
import onnx_ir as ir

from modelps.compress.channels import Analysis, const_array, layout_indices
from modelps.compress.prune import nodes_by_name, set_const_input

__all__ = ["capture", "expose", "reconstruct"]

logger = logging.getLogger(__name__)


def expose(model: ir.Model, names: Sequence[str]) -> ir.Model:
    """A copy of ``model`` whose graph outputs include the named tensors (float unless typed)."""
    clone = model.clone()
    by_name = {v.name: v for n in clone.graph for v in n.outputs}
    by_name.update({v.name: v for v in clone.graph.inputs})
    present = {v.name for v in clone.graph.outputs}
    for name in names:
        if name not in present:
            value = by_name[name]
            if value.type is None:
                value.type = ir.TensorType(ir.DataType.FLOAT)
            clone.graph.outputs.append(value)
            present.add(name)
    return clone


def capture(model: ir.Model, feeds: Sequence[Mapping[str, np.ndarray]], names: Sequence[str]) -> dict[str, np.ndarray]:
    """Run ``model`` on each feed and return the named tensors, concatenated along axis 0."""
    parts = list(capture_chunks(model, feeds, names, chunk=max(len(feeds), 1)))
    return {n: np.concatenate([p[n] for p in parts], axis=0) for n in names}


def capture_chunks(
    model: ir.Model, feeds: Sequence[Mapping[str, np.ndarray]], names: Sequence[str], chunk: int = 8
) -> Iterator[dict[str, np.ndarray]]:
    """:func:`capture`, ``chunk`` feeds at a time from one session: memory bounded by the chunk."""
    from modelps.runtime import session_for

    session = session_for(expose(model, names))
    for start in range(0, len(feeds), chunk):
        parts: dict[str, list[np.ndarray]] = {n: [] for n in names}
        for feed in feeds[start : start + chunk]:
            for name, array in zip(names, session.run(list(names), dict(feed)), strict=True):
                parts[name].append(array)
        yield {n: np.concatenate(p, axis=0) for n, p in parts.items()}


def reconstruct(
    original: ir.Model,
    pruned: ir.Model,
    analysis: Analysis,
    keep: Mapping[int, np.ndarray],
    feeds: Sequence[Mapping[str, np.ndarray]],
    *,
    passes: int = 1,
    max_rows: int = 4096,
    chunk_size: int = 8,
    feed_chunk: int = 8,
    ridge: float = 1e-2,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> list[str]:
    """Re-fit, in ``pruned`` (mutated), every consumer of a pruned group; return their names.

    ``analysis`` must be the analysis of ``original`` and ``keep`` its pruned groups by id.
    """
    if not keep or not feeds:
        return []
    pruned_nodes = nodes_by_name(pruned.graph)
    order = {node.name: i for i, node in enumerate(original.graph)}
    uses = [u for u in analysis.uses_of(keep.keys()) if _supported(pruned_nodes[u.node])]
    uses.sort(key=lambda u: order[u.node])
    if not uses:
        return []
    sequential = passes <= 0 or passes >= len(uses)
    chunks = [[u] for u in uses] if sequential else [uses[i : i + chunk_size] for i in range(0, len(uses), chunk_size)]
    rng = np.random.default_rng(seed)
    samples = sum(int(next(iter(feed.values())).shape[0]) if feed else 1 for feed in feeds)
    done: list[str] = []
    for step, chunk in enumerate(chunks):
        in_names = list(dict.fromkeys(_name(pruned_nodes[u.node].inputs[0]) for u in chunk))
        out_names = list(dict.fromkeys(_name(pruned_nodes[u.node].outputs[0]) for u in chunk))
        if sequential:
            pairs: Iterator[tuple[dict[str, np.ndarray], dict[str, np.ndarray]]] = zip(
                capture_chunks(pruned, feeds, in_names, chunk=feed_chunk),
                capture_chunks(original, feeds, out_names, chunk=feed_chunk),
                strict=True,
            )
        else:  # one pass on the original: each layer re-fit as if the layers before it were exact
            both = list(dict.fromkeys(in_names + out_names))
            pairs = ((part, part) for part in capture_chunks(original, feeds, both, chunk=feed_chunk))
        rows: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {u.node: [] for u in chunk}
        for inputs, targets in pairs:  # rows sampled per chunk of feeds: memory bounded by the chunk
            share = len(next(iter(targets.values()))) / max(samples, 1)
            for use in chunk:
                node = pruned_nodes[use.node]
                x = inputs[_name(node.inputs[0])]
                if not sequential:
                    idx, length = layout_indices(use.layout, analysis, keep)
                    x = np.take(x.reshape(x.shape[0], length, *x.shape[2:]) if x.ndim > 2 else x, idx, axis=1)
                rows[use.node].append(_rows(node, x, targets[_name(node.outputs[0])], max_rows, share, rng))
        for use in chunk:
            node = pruned_nodes[use.node]
            design = np.concatenate([r for r, _ in rows[use.node]])
            wanted = np.concatenate([t for _, t in rows[use.node]])
            out_layout = analysis.layouts.get(node.outputs[0].name or "")
            out_idx = layout_indices(out_layout, analysis, keep)[0] if out_layout else None
            _refit(pruned.graph, node, design, wanted, out_idx, ridge)
            done.append(use.node)
        if progress is not None:
            progress(step + 1, len(chunks))
    return done


def _supported(node: ir.Node) -> bool:
    if node.op_type == "Conv":
        pad = node.attributes.get("auto_pad")
        return pad is None or pad.as_string() in ("NOTSET", "VALID")
    if node.op_type == "Gemm":
        alpha = node.attributes.get("alpha")
        beta = node.attributes.get("beta")
        return (alpha is None or alpha.as_float() == 1.0) and (beta is None or beta.as_float() == 1.0)
    return node.op_type == "MatMul"


def _rows(
    node: ir.Node, x: np.ndarray, y: np.ndarray, max_rows: int, share: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares rows (inputs, targets) of ``node`` from one chunk of captured feeds."""
    if node.op_type == "Conv":
        weight = const_array(node.inputs[1])
        assert weight is not None
        return _conv_rows(node, x, y, weight.shape, max_rows, rng, share)
    if node.op_type == "Gemm":
        return x.reshape(len(x), -1), y.reshape(len(y), -1)
    return x.reshape(-1, x.shape[-1]), y.reshape(-1, y.shape[-1])


def _refit(
    graph: ir.Graph, node: ir.Node, rows: np.ndarray, targets: np.ndarray, out_idx: np.ndarray | None, ridge: float
) -> None:
    weight = const_array(node.inputs[1])
    assert weight is not None
    bias_value = node.inputs[2] if len(node.inputs) > 2 else None
    bias = const_array(bias_value)
    transposed = False
    if node.op_type == "Conv":
        w0 = weight.reshape(weight.shape[0], -1).T  # (cin*k*k, cout)
    elif node.op_type == "Gemm":
        trans_b = node.attributes.get("transB")
        transposed = trans_b is not None and trans_b.as_int() == 1
        w0 = weight.T if transposed else weight
    else:
        w0 = weight
    if out_idx is not None and targets.shape[1] != w0.shape[1]:
        targets = targets[:, out_idx]
    with_bias = node.op_type != "MatMul"
    b0 = np.zeros(w0.shape[1]) if bias is None else np.broadcast_to(bias.reshape(-1), (w0.shape[1],))
    design = rows.astype(np.float32)
    beta0 = w0.astype(np.float64)
    if with_bias:
        design = np.concatenate([design, np.ones((len(design), 1), np.float32)], axis=1)
        beta0 = np.concatenate([beta0, b0[None, :].astype(np.float64)], axis=0)
    gram = (design.T @ design).astype(np.float64)  # float32 products, float64 solve
    cross = (design.T @ targets.astype(np.float32)).astype(np.float64)
    lam = ridge * float(np.trace(gram)) / gram.shape[0] + 1e-12
    gram[np.diag_indices_from(gram)] += lam
    solution = _solve_spd(gram, cross + lam * beta0)
    new_w = solution[:-1] if with_bias else solution
    if node.op_type == "Conv":
        set_const_input(graph, node, 1, new_w.T.reshape(weight.shape).astype(weight.dtype))
    elif node.op_type == "Gemm":
        set_const_input(graph, node, 1, (new_w.T if transposed else new_w).astype(weight.dtype))
    else:
        set_const_input(graph, node, 1, new_w.astype(weight.dtype))
    if with_bias:
        new_b = solution[-1].astype(weight.dtype)
        if bias_value is not None:
            set_const_input(
                graph, node, 2, new_b.reshape(bias.shape) if bias is not None and bias.size == new_b.size else new_b
            )
        else:
            _add_bias(graph, node, new_b)


def _solve_spd(gram: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Solve the (symmetric positive definite) normal equations."""
    return np.linalg.solve(gram, rhs)


def _add_bias(graph: ir.Graph, node: ir.Node, bias: np.ndarray) -> None:
    if len(node.inputs) < 3:
        node.resize_inputs(3)
    set_const_input(graph, node, 2, bias)


def _conv_rows(
    node: ir.Node,
    x: np.ndarray,
    y: np.ndarray,
    wshape: tuple[int, ...],
    max_rows: int,
    rng: np.random.Generator,
    share: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """im2col rows of ``x`` at sampled output positions and the matching rows of ``y``.

    ``share`` is this chunk's part of all the feeds: it gets that part of the rows.
    """
    if x.ndim != 4:
        raise ValueError("only 2-D convolutions are reconstructed")
    kh, kw = wshape[2], wshape[3]
    strides = _ints(node, "strides", [1, 1])
    dilations = _ints(node, "dilations", [1, 1])
    pads = _ints(node, "pads", [0, 0, 0, 0])
    xp = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    n, _, oh, ow = y.shape
    total = n * oh * ow
    count = min(total, math.ceil(share * max(max_rows, int(1.5 * wshape[1] * kh * kw))))
    pick = np.sort(rng.choice(total, size=count, replace=False)) if count < total else np.arange(total)
    bn, rem = np.divmod(pick, oh * ow)
    r, c = np.divmod(rem, ow)
    ki = np.arange(kh)[:, None] * dilations[0]
    kj = np.arange(kw)[None, :] * dilations[1]
    rows_i = (r * strides[0])[:, None, None] + ki[None]
    cols_j = (c * strides[1])[:, None, None] + kj[None]
    patches = xp[bn[:, None, None, None], np.arange(x.shape[1])[None, :, None, None], rows_i[:, None], cols_j[:, None]]
    rows = patches.reshape(count, -1)
    targets = y[bn, :, r, c]
    return rows, targets


def _ints(node: ir.Node, name: str, default: list[int]) -> list[int]:
    attr = node.attributes.get(name)
    return default if attr is None else list(attr.as_ints())


def _name(value: ir.Value | None) -> str:
    """A tensor's name (every tensor the pruner touches is named)."""
    assert value is not None and value.name is not None
    return value.name
