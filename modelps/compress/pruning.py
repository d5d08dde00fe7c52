"""The ``prune_channels`` pipeline: ratios -> importance -> kept channels -> surgery -> reconstruction."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np
import onnx_ir as ir

from modelps.compress.channels import Analysis, ChannelGroup, analyze, const_array
from modelps.compress.prune import PruneError, channel_scores, keep_count, nodes_by_name, prune, select_channels

__all__ = [
    "Elimination",
    "PruneParams",
    "activation_scores",
    "group_ratios",
    "ls_elimination",
    "ls_scores",
    "plan_and_prune",
]

logger = logging.getLogger(__name__)


class PruneParams(Protocol):
    """The parameters of the ``prune_channels`` edit."""

    ratio: float
    groups: dict[str, float]
    include_residual: bool
    importance: str
    round_to: int
    reconstruct: str | None
    calib_sha256: str | None
    calib_samples: int
    seed: int
    normalize: Any
    finetune_steps: int
    finetune_lr: float
    input_shapes: dict[str, list[int]]


def group_ratios(
    analysis: Analysis, ratio: float, groups: Mapping[str, float], include_residual: bool
) -> dict[str, float]:
    """The ratio each prunable group gets (groups left at 0 omitted).

    Raises:
        PruneError: ``groups`` names an unknown or fixed group.
    """
    by_name = {g.name: g for g in analysis.groups}
    for name in groups:
        group = by_name.get(name)
        if group is None:
            known = ", ".join(g.name for g in analysis.prunable[:8])
            raise PruneError(f"no channel group named {name!r} (prunable groups include: {known})")
        if not group.prunable:
            raise PruneError(f"group {name!r} cannot be pruned: {group.reason}")
    ratios = {}
    for group in analysis.prunable:
        r = groups.get(group.name, ratio if (include_residual or not group.residual) else 0.0)
        if r > 0:
            ratios[group.name] = r
    return ratios


def plan_and_prune(model: ir.Model, params: Any) -> ir.Model:
    """Prune ``model`` as the ``prune_channels`` edit ``params`` describes; return the new model.

    ``params`` has the fields of :class:`PruneParams` (the edit itself).
    """
    from modelps.compress.calib import load_calibration
    from modelps.compress.reconstruct import reconstruct

    analysis = analyze(model)
    ratios = group_ratios(analysis, params.ratio, params.groups, params.include_residual)
    if not ratios:
        return model.clone()
    feeds: list[dict[str, np.ndarray]] = []
    source = params.reconstruct
    if source is not None or params.importance in ("error", "ls"):
        feeds = load_calibration(
            model,
            source or "samples",
            count=params.calib_samples,
            seed=params.seed,
            normalize=params.normalize,
            expected_sha256=params.calib_sha256 if source else None,
            shapes=params.input_shapes,
        )
    selected = [analysis.group(name) for name in ratios]
    if params.importance == "error":
        scores = activation_scores(model, analysis, selected, feeds)
    elif params.importance == "ls":
        scores = ls_scores(model, analysis, selected, feeds)
    else:
        scores = {g.name: channel_scores(model, analysis, g, params.importance) for g in selected}
    keep = {
        g.name: select_channels(scores[g.name], keep_count(g.size, ratios[g.name], params.round_to)) for g in selected
    }
    pruned = prune(model, keep, analysis)
    if source is not None:
        by_id = {analysis.group(name).id: kept for name, kept in keep.items() if len(kept) < analysis.group(name).size}
        done = reconstruct(model, pruned, analysis, by_id, feeds, seed=params.seed)
        logger.info("reconstructed %d layers", len(done))
    if params.finetune_steps and feeds:
        from modelps.compress.distill import distill_for_edit

        steps, lr = params.finetune_steps, params.finetune_lr
        pruned = distill_for_edit(pruned, model, feeds, steps=steps, lr=lr, seed=params.seed, error=PruneError)
    return pruned


def activation_scores(
    model: ir.Model, analysis: Analysis, groups: Sequence[ChannelGroup], feeds: Sequence[Mapping[str, np.ndarray]]
) -> dict[str, np.ndarray]:
    """Per-channel output energy: ``sum_consumers E[x_c^2] * ||W[:, c]||^2`` on calibration data.

    This is the squared error each consumer's output would get from removing channel ``c`` alone
    (before any reconstruction), i.e. a measured reconstruction-error importance.
    """
    from modelps.compress.reconstruct import capture_chunks

    nodes = nodes_by_name(model.graph)
    wanted = {g.id for g in groups}
    uses = analysis.uses_of(wanted)
    names = list(dict.fromkeys(_name(nodes[u.node].inputs[0]) for u in uses))
    sums: dict[str, np.ndarray] = {}
    counts: dict[str, int] = {}
    for acts in capture_chunks(model, feeds, names) if names else ():  # a few inputs' activations at a time
        for name, x in acts.items():
            rows = x.astype(np.float64).reshape(x.shape[0], x.shape[1], -1)
            sums[name] = sums.get(name, 0.0) + (rows**2).sum(axis=(0, 2))
            counts[name] = counts.get(name, 0) + rows.shape[0] * rows.shape[2]
    scores = {g.name: np.zeros(g.size) for g in groups}
    for use in uses:
        node = nodes[use.node]
        energy_in = sums[_name(node.inputs[0])] / counts[_name(node.inputs[0])]
        weight = const_array(node.inputs[1])
        assert weight is not None
        energy = energy_in * (_weight_rows(weight, use.axis) ** 2).sum(1)
        offset = 0
        for sid, rep in use.layout:
            size = analysis.space_size[sid]
            gid = analysis.space_group[sid]
            block = energy[offset : offset + size * rep].reshape(size, rep).sum(1)
            for group in groups:
                if group.id == gid:
                    scores[group.name] += block
            offset += size * rep
    return scores


@dataclasses.dataclass(frozen=True)
class Elimination:
    """One group's least-squares elimination: order, cost of each step, plain-removal energy.

    ``costs[k]`` is the squared error (per output position, summed over outputs) the ``k``-th
    removal adds to the consumers' outputs after the least-squares re-fit; ``energy[c]`` is the
    error removing channel ``c`` alone adds without any re-fit (``E[x_c^2] * ||w_c||^2``).
    """

    ranks: np.ndarray
    costs: np.ndarray
    energy: np.ndarray

    def reconstruction_factor(self, removed: int) -> float:
        """Error with re-fit over error without, when ``removed`` channels go (each its own way)."""
        if removed <= 0:
            return 1.0
        plain = float(np.sort(self.energy)[:removed].sum())
        return float(np.sum(self.costs[:removed])) / plain if plain > 0 else 1.0


def ls_elimination(
    model: ir.Model,
    analysis: Analysis,
    groups: Sequence[ChannelGroup],
    feeds: Sequence[Mapping[str, np.ndarray]],
    ridge: float = 1e-3,
) -> dict[str, Elimination]:
    """Greedy least-squares backward elimination of each group's channels (see :func:`ls_scores`).

    Groups read by several tensors, through a Concat, or by grouped convolutions are left out, and
    so are groups with fewer calibration rows (samples x positions) than channels: their covariance
    is singular and every channel looks predictable from the others in-sample (a pooled 512-feature
    head on 16 images priced every channel at nearly zero).
    """
    from modelps.compress.reconstruct import capture

    nodes = nodes_by_name(model.graph)
    plans: dict[str, tuple[str, np.ndarray]] = {}
    for group in groups:
        uses = analysis.uses_of({group.id})
        inputs = {_name(nodes[u.node].inputs[0]) for u in uses}
        if not uses or len(inputs) != 1 or any(len(u.layout) != 1 or u.layout[0][1] != 1 for u in uses):
            continue
        weights = [_channel_rows(nodes[u.node], u.axis) for u in uses]
        if all(w is not None and len(w) == group.size for w in weights):
            plans[group.name] = (inputs.pop(), np.concatenate([w for w in weights if w is not None], axis=1))
    acts = capture(model, feeds, list(dict.fromkeys(name for name, _ in plans.values()))) if plans else {}
    return {
        name: _eliminate(acts[tensor], rows, ridge)
        for name, (tensor, rows) in plans.items()
        if acts[tensor].size // acts[tensor].shape[1] >= acts[tensor].shape[1]  # rows >= channels
    }


def ls_scores(
    model: ir.Model,
    analysis: Analysis,
    groups: Sequence[ChannelGroup],
    feeds: Sequence[Mapping[str, np.ndarray]],
    ridge: float = 1e-3,
) -> dict[str, np.ndarray]:
    """Channel ranks for pruning *with* least-squares reconstruction (higher = removed later).

    Greedy backward elimination in the spirit of Optimal Brain Surgeon, on the consumers' weights
    and the (centered) channel covariance of their input on calibration data: each step removes the
    channel whose loss the remaining ones can best make up after a least-squares re-fit, i.e. the
    smallest ``||w_c||^2 / P_cc`` with ``P`` the inverse covariance; then the other channels'
    weights take over its part and ``P`` is downdated. Redundant channels (predictable from the
    others) go first, which plain magnitude or energy scores cannot see. Spatial taps of a
    convolution are treated as separate outputs. Groups read by several tensors, through a
    Concat, or by grouped convolutions fall back to :func:`activation_scores`.
    """
    scores = {name: e.ranks for name, e in ls_elimination(model, analysis, groups, feeds, ridge).items()}
    fallback = [g for g in groups if g.name not in scores]
    if fallback:
        scores.update(activation_scores(model, analysis, fallback, feeds))
    return scores


def _channel_rows(node: ir.Node, axis: int) -> np.ndarray | None:
    """The consumer's weight as one row per input channel (None for grouped convolutions)."""
    weight = const_array(node.inputs[1])
    group = node.attributes.get("group")
    if weight is None or (group is not None and group.as_int() != 1):
        return None
    return _weight_rows(weight, axis)


def _weight_rows(weight: np.ndarray, axis: int) -> np.ndarray:
    """``weight`` (float64) with one row per index of ``axis``, everything else flattened."""
    return np.moveaxis(weight.astype(np.float64), axis, 0).reshape(weight.shape[axis], -1)


def _eliminate(x: np.ndarray, rows: np.ndarray, ridge: float) -> Elimination:
    """Greedy least-squares backward elimination of the channels of ``x`` read through ``rows``.

    Works on the weights' Gram matrix ``G = W W^T``: removing channel ``c`` moves ``l_i = P_ic / P_cc``
    of its row onto each other row ``i``, so ``G`` and ``P`` are both downdated in O(C^2) per step.
    """
    channels = x.shape[1]
    flat = np.moveaxis(x.astype(np.float64), 1, 0).reshape(channels, -1)
    energy_in = (flat**2).mean(axis=1)
    flat -= flat.mean(axis=1, keepdims=True)
    cov = flat @ flat.T / max(flat.shape[1], 1)
    cov[np.diag_indices_from(cov)] += ridge * max(float(np.trace(cov)) / channels, 1e-12)
    prec = np.linalg.inv(cov)
    gram = rows @ rows.T
    energy = energy_in * np.diag(gram).copy()
    alive = np.ones(channels, bool)
    ranks = np.zeros(channels)
    costs = np.zeros(channels)
    for step in range(channels):
        idx = np.flatnonzero(alive)
        cost = np.diag(gram)[idx] / np.diag(prec)[idx]
        pick = int(np.argmin(cost))
        c = idx[pick]
        ranks[c], costs[step] = step, cost[pick]
        alive[c] = False
        rest = np.flatnonzero(alive)
        if not len(rest):
            break
        link = prec[rest, c] / prec[c, c]
        g_c = gram[rest, c]
        block = np.ix_(rest, rest)
        gram[block] += np.outer(link, link) * gram[c, c] - np.outer(link, g_c) - np.outer(g_c, link)
        prec[block] -= np.outer(link, prec[c, rest])
    return Elimination(ranks, costs, energy)


def _name(value: ir.Value | None) -> str:
    """A tensor's name (every tensor the pruner touches is named)."""
    assert value is not None and value.name is not None
    return value.name
