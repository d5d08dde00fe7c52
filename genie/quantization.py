"""INT8 variants of a model: which calibration to use, and which variant to combine with pruning.

The choice is made on the held-out inputs (32 by default), never on a handful: a variant replaces
the current best only when the mean of the paired per-sample differences is more than twice its
standard error (:func:`better`). Screening compares the calibration methods (MinMax, Percentile,
Entropy); the best one is then tried with symmetric activations, per-tensor weights, without ORT's
pre-processing (BatchNorm folding, shape inference) and with reduced range.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np
import onnx_ir as ir

from genie.inputs import model_bytes
from genie.measure import measure
from modelps.edits import Edit
from modelps.edits.quantize_int8 import QuantizeInt8

__all__ = [
    "better",
    "choose",
    "combined_variant",
    "fp16_edit",
    "kernel_key",
    "named_scores",
    "op_type_variants",
    "quant_variants",
    "refinements",
]


def _depthwise(base: ir.Model) -> tuple[str, ...]:
    return tuple(
        node.name
        for node in base.graph
        if node.op_type == "Conv" and node.name and "group" in node.attributes and node.attributes["group"].as_int() > 1
    )


def quant_variants(base: ir.Model, edit: QuantizeInt8) -> list[tuple[str, QuantizeInt8]]:
    """The screening set: every layer with MinMax, Percentile and Entropy calibration, and without depthwise convs.

    Percentile calibration clips activation outliers (centered cosine 0.9934 -> 0.9944 on the
    zoo's demo fedreid-resnet50 here; 0.865 -> 0.963 on a PP-OCR text detector).

    ORT's CPU INT8 depthwise kernels are slow: on MobileFaceNet, INT8 everywhere ran 0.4x of FP32
    here while INT8 without the depthwise convolutions ran 1.2x.
    """
    variants = [
        ("int8", edit),
        ("int8-percentile", dataclasses.replace(edit, method="percentile")),
        ("int8-entropy", dataclasses.replace(edit, method="entropy")),
    ]
    depthwise = _depthwise(base)
    if depthwise:
        variants.append(("int8-no-depthwise", dataclasses.replace(edit, exclude=depthwise)))
    return variants


def refinements(name: str, edit: QuantizeInt8) -> list[tuple[str, QuantizeInt8]]:
    """Variants of the best screened one.

    Symmetric activations, per-tensor weights, no pre-processing, reduced range.
    """
    out = [
        (f"{name}-symmetric", dataclasses.replace(edit, symmetric=True)),
        (f"{name}-per-tensor", dataclasses.replace(edit, per_channel=False)),
        (f"{name}-no-preprocess", dataclasses.replace(edit, preprocess=False)),
        (f"{name}-reduce-range", dataclasses.replace(edit, reduce_range=True)),
    ]
    return [(n, e) for n, e in out if e != edit]


OP_FAMILIES = {"conv": ("Conv", "ConvTranspose"), "matmul": ("MatMul", "Gemm")}
"""The compute-op families :func:`op_type_variants` quantizes one at a time."""
MIN_FAMILY_NODES = 3


def op_type_variants(base: ir.Model, name: str, edit: QuantizeInt8) -> list[tuple[str, QuantizeInt8]]:
    """Variants of ``edit`` that quantize one family of compute ops only (the others stay float).

    Offered when a graph mixes families (at least :data:`MIN_FAMILY_NODES` nodes of each): on
    PP-OCRv6's text recognizer (57 Conv, 13 MatMul) INT8 everywhere scored 0.987 on other text
    lines here, its MatMuls alone 0.999, and no single Conv kept in float moved it by more than
    0.001 -- the error is spread over the convolutions, so a per-layer search cannot find it.
    """
    if edit.op_types:
        return []
    counts = {family: sum(node.op_type in ops for node in base.graph) for family, ops in OP_FAMILIES.items()}
    present = [family for family, count in counts.items() if count >= MIN_FAMILY_NODES]
    if len(present) < 2:
        return []
    return [(f"{name}-{family}-only", dataclasses.replace(edit, op_types=OP_FAMILIES[family])) for family in present]


def better(candidate: np.ndarray, incumbent: np.ndarray, sigmas: float = 2.0) -> bool:
    """Whether per-sample scores ``candidate`` beat ``incumbent`` by more than ``sigmas`` paired standard errors.

    Example::

        >>> rng = np.random.default_rng(0)
        >>> base = 0.95 + 0.02 * rng.standard_normal(32)
        >>> better(base + 0.01, base), better(base + 0.001 * rng.standard_normal(32), base)
        (True, False)
    """
    diff = np.asarray(candidate, np.float64) - np.asarray(incumbent, np.float64)
    if diff.size < 2:
        return bool(diff.mean() > 0)
    se = diff.std(ddof=1) / np.sqrt(diff.size)
    return bool(diff.mean() > sigmas * se and diff.mean() > 0)


def kernel_key(edit: QuantizeInt8) -> QuantizeInt8:
    """The parts of an INT8 edit that decide which kernels run (calibration and symmetry only change scales)."""
    return dataclasses.replace(edit, method="minmax", symmetric=False, calib_samples=0, calib="", calib_sha256=None)


def combined_variant(
    built: Mapping[str, tuple[QuantizeInt8, ir.Model]],
    scores: Mapping[str, float],
    feed: Mapping[str, np.ndarray],
    backend: str,
    threads: int,
    floor: float,
) -> str:
    """The INT8 variant to combine with pruning.

    The fastest variant that meets the fidelity floor (the most faithful one among those within 5%
    of it); when none does, the most faithful within 5% of the fastest. Variants that run the same
    kernels (:func:`kernel_key`) are timed once: a short timing cannot tell them apart and would
    pick by noise.
    """
    kernels = {name: repr(kernel_key(edit).to_dict()) for name, (edit, _) in built.items()}
    first: dict[str, str] = {}
    for name, kernel in kernels.items():
        first.setdefault(kernel, name)
    if len(first) > 1:
        timed = measure(
            {name: model_bytes(built[name][1]) for name in first.values()},
            feed, baseline=next(iter(first.values())), backend=backend, threads=threads, rounds=3, iters=5,
        )  # fmt: skip
        ms = {name: timed[first[kernel]].median_ms for name, kernel in kernels.items()}
    else:
        ms = dict.fromkeys(built, 1.0)
    meeting = [name for name in built if scores[name] >= floor]
    pool = meeting or list(built)
    fastest = min(ms[name] for name in pool)
    close = [name for name in pool if ms[name] <= 1.05 * fastest]
    return max(close, key=lambda name: scores[name])


def fp16_edit(backend: str) -> Edit | None:
    """A ``to_fp16`` edit for GPU backends (never for the CPU: no speed-up there), if the core has it."""
    if backend == "ort-cpu":
        return None
    from modelps.edits import edit_from_dict
    from modelps.errors import UnknownEditError

    try:
        return edit_from_dict({"op": "to_fp16"})
    except UnknownEditError:
        return None


def named_scores(per_sample: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Mean per-sample score of each variant."""
    return {name: float(np.mean(values)) for name, values in per_sample.items()}


def choose(per_sample: Mapping[str, np.ndarray], incumbent: str, challengers: Sequence[str]) -> str:
    """``incumbent`` unless a challenger is :func:`better`; among several, the best of those."""
    winners = [name for name in challengers if better(per_sample[name], per_sample[incumbent])]
    return max(winners, key=lambda n: float(np.mean(per_sample[n]))) if winners else incumbent
