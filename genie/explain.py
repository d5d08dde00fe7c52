"""Explanations of candidates: what each did, what it bought, where the time went."""

from __future__ import annotations

from collections.abc import Mapping

from genie.goal import Candidate
from genie.predictor import LayerTable

__all__ = ["explain"]


def explain(
    cand: Candidate,
    baseline: Candidate,
    sensitivity: Mapping[str, Mapping[str, float]],
    tables: Mapping[str, LayerTable],
) -> str:
    """One or two sentences: what the candidate did, what it bought, and what it left alone."""
    parts = []
    ratios: Mapping[str, float] = cand.details.get("ratios") or {}
    edits = {edit.op: edit for edit in cand.recipe.edits}
    if ratios:
        top = sorted(ratios.items(), key=lambda kv: -kv[1])[:3]
        cuts = ", ".join(f"{name} {ratio:.0%}" for name, ratio in top)
        parts.append(
            f"prunes {cand.pruned_fraction:.0%} of prunable channels in {len(ratios)} groups (largest cuts: {cuts})"
        )
        steps = getattr(edits.get("prune_channels"), "finetune_steps", 0)
        if steps:
            parts.append(f"fine-tunes the pruned weights for {steps} steps to reproduce the original")
    quant = edits.get("quantize_int8")
    if quant is not None:
        parts.append(_int8(quant, cand))
    if "to_fp16" in edits:
        parts.append("converts weights and activations to float16")
    what = " and ".join(parts) or "leaves the model unchanged"
    quality = f"centered cosine {cand.score:.4f}"
    if cand.score_se:
        quality += f" ± {cand.score_se:.4f}"
    if cand.metric is not None:
        quality += f", task metric {cand.metric:.4f}"
        if baseline.metric is not None:
            quality += f" ({cand.metric - baseline.metric:+.4f})"
    first = (
        f"{what[0].upper()}{what[1:]}: measured {cand.speedup:.2f}x ({cand.latency_ms:.2f} ms vs "
        f"{baseline.latency_ms:.2f} ms), {quality} on held-out inputs."
    )
    second = []
    table = tables.get("fp32")
    if ratios and table is not None and table.node_ms:
        total = sum(table.node_ms.values()) + table.other_ms
        top_layer, ms = max(table.node_ms.items(), key=lambda kv: kv[1])
        second.append(f"the slowest layer was {top_layer} ({ms / total:.0%} of the time)")
    if ratios and sensitivity:
        worst = sorted(sensitivity, key=lambda n: -max(sensitivity[n].values()))[:2]
        kept = [n for n in worst if ratios.get(n, 0) < 0.25]
        if kept:
            second.append(f"the most sensitive groups ({', '.join(kept)}) were left mostly intact")
    return first + (" " + "; ".join(second).capitalize() + "." if second else "")


def _int8(edit: object, cand: Candidate) -> str:
    method = getattr(edit, "method", "minmax")
    text = f"quantizes to INT8 (QDQ, {method} calibration"
    text += ", per-channel weights" if getattr(edit, "per_channel", True) else ", per-tensor weights"
    if getattr(edit, "symmetric", False):
        text += ", symmetric activations"
    if getattr(edit, "reduce_range", False):
        text += ", 7-bit weights"
    text += ")"
    op_types = tuple(getattr(edit, "op_types", ()))
    if op_types:
        text += f", only its {'/'.join(op_types)} layers (every other layer left in float)"
    kept = cand.kept_float or tuple(getattr(edit, "exclude", ()))
    if cand.kept_float:
        names = ", ".join(kept[:4]) + ("…" if len(kept) > 4 else "")
        text += f", keeping the {len(kept)} most sensitive layer(s) in float ({names})"
    elif kept:
        text += f", keeping {len(kept)} layer(s) in float"
    steps = getattr(edit, "finetune_steps", 0)
    if steps:
        text += f", then fine-tunes the INT8 weights and biases for {steps} steps with INT8 rounding simulated"
    return text
