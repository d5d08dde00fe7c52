"""The ``prune_channels`` pipeline: ratios -> importance -> kept channels -> surgery -> reconstruction."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np
import onnx_ir as ir

from modelps.compress.channels import Analysis, ChannelGroup, analyze, const_array
from modelps.compress.prune import PruneError, channel_scores, keep_count, nodes_by_name, prune, select_channels

__all__ = ["PruneParams", "activation_scores", "group_ratios", "plan_and_prune"]

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


def plan_and_prune(model: ir.Model, params: PruneParams) -> ir.Model:
    """Prune ``model`` as the ``prune_channels`` edit ``params`` describes; return the new model."""
    from modelps.compress.calib import load_calibration
    from modelps.compress.reconstruct import reconstruct

    analysis = analyze(model)
    ratios = group_ratios(analysis, params.ratio, params.groups, params.include_residual)
    if not ratios:
        return model.clone()
    feeds: list[dict[str, np.ndarray]] = []
    source = params.reconstruct
    if source is not None or params.importance == "error":
        feeds = load_calibration(
            model,
            source or "samples",
            count=params.calib_samples,
            seed=params.seed,
            normalize=params.normalize,
            expected_sha256=params.calib_sha256 if source else None,
        )
    selected = [analysis.group(name) for name in ratios]
    if params.importance == "error":
        scores = activation_scores(model, analysis, selected, feeds)
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
    return pruned


def activation_scores(
    model: ir.Model, analysis: Analysis, groups: Sequence[ChannelGroup], feeds: Sequence[Mapping[str, np.ndarray]]
) -> dict[str, np.ndarray]:
    """Per-channel output energy: ``sum_consumers E[x_c^2] * ||W[:, c]||^2`` on calibration data.

    This is the squared error each consumer's output would get from removing channel ``c`` alone
    (before any reconstruction), i.e. a measured reconstruction-error importance.
    """
    from modelps.compress.reconstruct import capture

    nodes = nodes_by_name(model.graph)
    wanted = {g.id for g in groups}
    uses = [u for u in analysis.consumers if any(analysis.space_group[s] in wanted for s, _ in u.layout)]
    names = list(dict.fromkeys(nodes[u.node].inputs[0].name for u in uses))
    acts = capture(model, feeds, names) if names else {}
    scores = {g.name: np.zeros(g.size) for g in groups}
    for use in uses:
        node = nodes[use.node]
        x = acts[node.inputs[0].name]
        energy_in = (x.astype(np.float64) ** 2).reshape(x.shape[0], x.shape[1], -1).mean(axis=(0, 2))
        weight = const_array(node.inputs[1])
        assert weight is not None
        cols = np.moveaxis(weight.astype(np.float64), use.axis, 0).reshape(weight.shape[use.axis], -1)
        energy = energy_in * (cols**2).sum(1)
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
