"""Benchmark zoo models on the GPU backends against ONNX Runtime on the CPU.

For each model and batch size: latency of FP32 on ``ort-cpu`` (the reference), and of FP32,
FP16 (``to_fp16``) and INT8 QDQ (``quantize_int8``, signed activations as GPUs want them) on
``ort-cuda`` — and on ``ort-trt`` / ``tensorrt`` where installed. Each backend's variants are
measured interleaved in one run (median of rounds after warm-up); speed-ups are against FP32 on
the same backend and against the CPU. Fidelity (centered cosine) compares each variant's GPU
outputs with FP32 on the CPU. Needs ``onnxruntime-gpu`` and a GPU; backends that cannot start are
reported, not fatal.

Usage::

    python bench/gpu.py [--models fedreid-resnet50,face-mobilefacenet] [--weights seeded]
                        [--batches 1,32] [--out bench/gpu.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from genie.measure import BackendUnavailable, make_runner, measure  # noqa: E402
from modelps.fidelity import centered_cosine  # noqa: E402
from modelps.io import model_bytes  # noqa: E402
from modelps.model import Model  # noqa: E402

GPU_BACKENDS = ("ort-cuda", "ort-trt", "tensorrt")


def variants(path: Path) -> dict[str, bytes]:
    """FP32, FP16 and INT8 QDQ forms of the model at ``path``."""
    out = {"fp32": path.read_bytes()}
    half = Model.load(path)
    half.apply({"op": "to_fp16"})
    out["fp16"] = model_bytes(half.ir)
    int8 = Model.load(path)
    int8.apply({"op": "quantize_int8", "calib": "samples", "activation_type": "int8", "calib_samples": 16})
    out["int8"] = model_bytes(int8.ir)
    return out


def outputs(backend: str, data: bytes, feeds: dict[str, np.ndarray]) -> np.ndarray:
    """The first output of one run on ``backend`` (ONNX Runtime backends only)."""
    return np.asarray(make_runner(backend, data, feeds)()[0], dtype=np.float32)


def bench_model(name: str, weights: str, batches: list[int], rounds: int) -> list[dict[str, Any]]:
    """Rows of the table for one zoo model."""
    import zoo

    with tempfile.TemporaryDirectory() as folder:
        path = zoo.export(name, Path(folder, f"{name}.onnx"), weights=weights)
        forms = variants(path)
    spec = zoo.get_spec(name)
    rows: list[dict[str, Any]] = []
    probe = {"input": np.random.default_rng(1).standard_normal((16, *spec.input_shape)).astype(np.float32)}
    reference = outputs("ort-cpu", forms["fp32"], probe)  # fidelity needs a batch: centered over samples
    for batch in batches:
        rng = np.random.default_rng(0)
        feeds = {"input": rng.standard_normal((batch, *spec.input_shape)).astype(np.float32)}
        cpu = measure({"fp32": forms["fp32"]}, feeds, baseline="fp32", backend="ort-cpu", rounds=rounds)
        row: dict[str, Any] = {"model": name, "batch": batch, "cpu_fp32_ms": cpu["fp32"].median_ms}
        for backend in GPU_BACKENDS:
            try:
                make_runner(backend, forms["fp32"], feeds)
            except BackendUnavailable as exc:
                row[backend] = {"unavailable": str(exc)}
                continue
            timed = measure(forms, feeds, baseline="fp32", backend=backend, rounds=rounds)
            entry: dict[str, Any] = {}
            for form, timing in timed.items():
                entry[form] = {
                    "median_ms": round(timing.median_ms, 3),
                    "spread_ms": [round(timing.p10_ms, 3), round(timing.p90_ms, 3)],
                    "speedup_vs_fp32": round(timing.speedup, 3),
                    "speedup_vs_cpu": round(cpu["fp32"].median_ms / timing.median_ms, 2),
                }
                if backend == "ort-cuda":
                    got = outputs(backend, forms[form], probe)
                    entry[form]["centered_cosine"] = round(centered_cosine(reference, got), 5)
            row[backend] = entry
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="fedreid-resnet50,face-mobilefacenet")
    parser.add_argument("--weights", default="seeded", help="zoo weights: seeded (fast) or demo (trained)")
    parser.add_argument("--batches", default="1,32")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    batches = [int(b) for b in args.batches.split(",")]
    rows = [r for m in args.models.split(",") for r in bench_model(m, args.weights, batches, args.rounds)]
    report = {"rows": rows, "seconds": round(time.perf_counter() - start, 1)}
    if args.out is not None:
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
