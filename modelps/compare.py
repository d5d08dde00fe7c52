"""Numeric comparison of two models on the same inputs in ONNX Runtime."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import onnx_ir as ir

from modelps.errors import ComparisonError
from modelps.runtime import input_specs, make_inputs, session_for

__all__ = ["Comparison", "OutputComparison", "compare", "load_inputs"]


@dataclasses.dataclass(frozen=True)
class OutputComparison:
    """How one output of model ``b`` differs from the same output of model ``a``."""

    name: str
    shape_a: list[int]
    shape_b: list[int]
    max_abs: float
    max_rel: float
    mean_abs: float
    cosine: float
    close: bool


@dataclasses.dataclass(frozen=True)
class Comparison:
    """The result of :func:`compare`."""

    outputs: list[OutputComparison]
    only_in_a: list[str]
    only_in_b: list[str]
    rtol: float
    atol: float

    @property
    def close(self) -> bool:
        """Whether every common output is within tolerance."""
        return all(o.close for o in self.outputs)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with an overall ``close`` flag."""
        return {**dataclasses.asdict(self), "close": self.close}


def load_inputs(path: str | os.PathLike[str], model: ir.Model) -> dict[str, np.ndarray]:
    """Read inputs from an ``.npz`` whose keys are the model's input names.

    Raises:
        ComparisonError: The file is unreadable, a key is missing or unknown, or a dtype is wrong.
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError) as exc:
        raise ComparisonError(f"{path}: cannot read inputs ({exc})") from exc
    specs = {name: dtype for name, dtype, _ in input_specs(model)}
    missing = sorted(set(specs) - set(arrays))
    unknown = sorted(set(arrays) - set(specs))
    if missing or unknown:
        raise ComparisonError(f"{path}: inputs missing {missing}, unknown {unknown}; expected {sorted(specs)}")
    for name, array in arrays.items():
        if array.dtype != specs[name]:
            raise ComparisonError(f"{path}: input {name!r} is {array.dtype}, the model expects {specs[name]}")
    return arrays


def _compare_output(name: str, a: np.ndarray, b: np.ndarray, rtol: float, atol: float) -> OutputComparison:
    if a.shape != b.shape:
        return OutputComparison(
            name, list(a.shape), list(b.shape), float("inf"), float("inf"), float("inf"), 0.0, False
        )
    fa, fb = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    delta = np.abs(fa - fb)
    denom = np.linalg.norm(fa) * np.linalg.norm(fb)
    cosine = float(fa @ fb / denom) if denom > 0 else float(np.array_equal(fa, fb))
    return OutputComparison(
        name=name,
        shape_a=list(a.shape),
        shape_b=list(b.shape),
        max_abs=float(delta.max()) if delta.size else 0.0,
        max_rel=float((delta / np.maximum(np.abs(fa), 1e-12)).max()) if delta.size else 0.0,
        mean_abs=float(delta.mean()) if delta.size else 0.0,
        cosine=cosine,
        close=bool(np.allclose(fb, fa, rtol=rtol, atol=atol)),
    )


def compare(
    a: ir.Model,
    b: ir.Model,
    *,
    inputs: Mapping[str, np.ndarray] | None = None,
    seed: int = 0,
    rtol: float = 1e-4,
    atol: float = 1e-5,
) -> Comparison:
    """Run both models on the same inputs (seeded random unless given) and compare common outputs.

    Raises:
        ComparisonError: The models' inputs differ, or an input cannot be made.
    """
    specs_a = {n: (str(d), len(s)) for n, d, s in input_specs(a)}
    specs_b = {n: (str(d), len(s)) for n, d, s in input_specs(b)}
    if specs_a != specs_b:

        def show(specs: dict[str, tuple[str, int]]) -> str:
            return ", ".join(f"{n}: {d} rank {r}" for n, (d, r) in sorted(specs.items()))

        raise ComparisonError(f"the models take different inputs: {show(specs_a)} vs {show(specs_b)}")
    feeds = dict(inputs) if inputs is not None else make_inputs(a, seed=seed)
    session_a, session_b = session_for(a), session_for(b)
    names_a = [o.name for o in session_a.get_outputs()]
    names_b = [o.name for o in session_b.get_outputs()]
    pairs = _pair_outputs(names_a, names_b)
    if not pairs:
        raise ComparisonError(f"the models have no outputs in common: {names_a} vs {names_b}")
    try:
        out_a = session_a.run([a for a, _ in pairs], feeds)
        out_b = session_b.run([b for _, b in pairs], feeds)
    except Exception as exc:  # ORT raises its own types for bad feeds
        raise ComparisonError(f"running the models failed: {str(exc).splitlines()[0]}") from exc
    labels = [a if a == b else f"{a} -> {b}" for a, b in pairs]
    return Comparison(
        outputs=[_compare_output(n, x, y, rtol, atol) for n, x, y in zip(labels, out_a, out_b, strict=True)],
        only_in_a=[n for n in names_a if n not in {a for a, _ in pairs}],
        only_in_b=[n for n in names_b if n not in {b for _, b in pairs}],
        rtol=rtol,
        atol=atol,
    )


def _pair_outputs(names_a: list[str], names_b: list[str]) -> list[tuple[str, str]]:
    """Pair outputs by name; when as many remain unpaired on both sides, pair those by position."""
    pairs = [(n, n) for n in names_a if n in names_b]
    rest_a = [n for n in names_a if n not in names_b]
    rest_b = [n for n in names_b if n not in names_a]
    if len(rest_a) == len(rest_b):
        pairs += list(zip(rest_a, rest_b, strict=True))
    return pairs
