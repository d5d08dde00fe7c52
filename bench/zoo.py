"""Export time, file size and CPU latency of every zoo family.

Usage: python bench/zoo.py [--repeats 3] [--models a,b] [--demo-train]

Families are interleaved within each repeat and medians reported. Latency is batch-1 ONNX Runtime
against batch-1 torch on the same machine and run (ratio ort/torch). With --demo-train the demo
training time of each family is measured once (not cached: a private MODELPS_HOME is used).
Results go to stdout (markdown) and bench/results/zoo.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--models", default="")
    parser.add_argument("--demo-train", action="store_true")
    args = parser.parse_args()
    os.environ["MODELPS_HOME"] = tempfile.mkdtemp(prefix="modelps-bench-")

    import numpy as np
    import onnxruntime as ort
    import torch

    import zoo
    from zoo.onnx_export import export_module
    from zoo.weights import seeded_module

    names = [n for n in args.models.split(",") if n] or [s.name for s in zoo.list_models()]
    # export time and size do not depend on the weight values: skip the BatchNorm recalibration
    modules = {n: seeded_module(zoo.get_spec(n), calibrate=False) for n in names}
    export_s: dict[str, list[float]] = {n: [] for n in names}
    out_dir = Path(tempfile.mkdtemp())
    for _ in range(args.repeats):
        for n in names:  # interleaved
            t = time.perf_counter()
            export_module(modules[n], zoo.get_spec(n), out_dir / f"{n}.onnx")
            export_s[n].append(time.perf_counter() - t)
    rows = []
    for n in names:
        spec = zoo.get_spec(n)
        path = out_dir / f"{n}.onnx"
        x = np.random.default_rng(0).standard_normal((1, *spec.input_shape)).astype(np.float32)
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        sess.run(None, {"input": x})
        with torch.no_grad():
            modules[n](torch.from_numpy(x))
            t_torch = _median_time(lambda m=modules[n], x=x: m(torch.from_numpy(x)), 5)
        t_ort = _median_time(lambda s=sess, x=x: s.run(None, {"input": x}), 5)
        row = {
            "name": n, "params": spec.params, "export_s": statistics.median(export_s[n]),
            "onnx_mb": path.stat().st_size / 1e6, "ort_ms": t_ort * 1e3, "torch_ms": t_torch * 1e3,
            "ort_over_torch": t_ort / t_torch,
        }  # fmt: skip
        if args.demo_train:
            from zoo.train import train_demo

            t = time.perf_counter()
            train_demo(spec)
            row["demo_train_s"] = time.perf_counter() - t
        rows.append(row)
    cols = list(rows[0])
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        print(
            "| "
            + " | ".join(
                f"{v:.2f}" if isinstance(v, float) else f"{v:,}" if isinstance(v, int) else v for v in r.values()
            )
            + " |"
        )
    results = Path(__file__).resolve().parent / "results"
    results.mkdir(exist_ok=True)
    (results / "zoo.json").write_text(json.dumps({"repeats": args.repeats, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
