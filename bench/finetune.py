"""Benchmark distillation fine-tuning (``prune_channels`` ``finetune_steps``) on the CPU and a CUDA GPU.

A zoo model is pruned with least-squares reconstruction, then fine-tuned towards the original for
``--steps`` steps on each device in turn, ``--rounds`` times interleaved. Reported per device: the
median seconds per step (the first step, which includes warm-up, is left out) and the spread, the
speed-up against the CPU, and the centered cosine of the fine-tuned model against the original on
held-out images after each device's last round. The teacher runs in ONNX Runtime on the CPU on
every device. Devices PyTorch cannot use are reported, not fatal.

Usage::

    python bench/finetune.py [--model fedreid-resnet50] [--weights seeded] [--ratio 0.3]
                             [--steps 20] [--rounds 3] [--devices cpu,cuda] [--out bench/finetune.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from genie.inputs import outputs_of  # noqa: E402
from modelps.compress.calib import load_calibration  # noqa: E402
from modelps.compress.distill import distill  # noqa: E402
from modelps.fidelity import fidelity as fidelity_of  # noqa: E402
from modelps.fidelity import score  # noqa: E402
from modelps.model import Model  # noqa: E402


def step_seconds(student: Any, teacher: Any, feeds: list, steps: int, device: str) -> tuple[list[float], Any]:
    """Seconds taken by each fine-tuning step after the first, and the fine-tuned model."""
    import torch

    stamps: list[float] = []

    def tick(step: int, total: int) -> None:
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        stamps.append(time.perf_counter())

    tuned = distill(student, teacher, feeds, steps=steps, device=device, progress=tick)
    return list(np.diff(stamps)), tuned


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="fedreid-resnet50")
    parser.add_argument("--weights", default="seeded", help="zoo weights: seeded (fast) or demo (trained)")
    parser.add_argument("--ratio", type=float, default=0.3, help="share of each group's channels pruned")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calib-samples", type=int, default=32)
    parser.add_argument("--devices", default="cpu,cuda")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    import torch

    import zoo

    with tempfile.TemporaryDirectory() as folder:
        path = zoo.export(args.model, Path(folder, f"{args.model}.onnx"), weights=args.weights)
        teacher = Model.load(path)
        student = Model.load(path)
        plan = {"op": "prune_channels", "ratio": args.ratio, "reconstruct": "samples"}
        student.apply({**plan, "calib_samples": args.calib_samples})
    feeds = load_calibration(teacher.ir, "samples", count=args.calib_samples, seed=0)
    held = load_calibration(teacher.ir, "samples", count=16, seed=99)
    reference = outputs_of(teacher.ir, held)
    devices = args.devices.split(",")
    report: dict[str, Any] = {
        "model": args.model, "weights": args.weights, "ratio": args.ratio, "steps": args.steps,
        "rounds": args.rounds, "torch": torch.__version__, "cpu_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "fidelity_before": score(fidelity_of(reference, outputs_of(student.ir, held))), "devices": {},
    }  # fmt: skip
    times: dict[str, list[float]] = {d: [] for d in devices}
    for round_ in range(args.rounds):
        for device in devices:
            if "unavailable" in report["devices"].get(device, {}):
                continue
            try:
                seconds, tuned = step_seconds(student.ir, teacher.ir, feeds, args.steps, device)
            except ValueError as exc:
                report["devices"][device] = {"unavailable": str(exc)}
                continue
            times[device] += seconds
            fidelity = score(fidelity_of(reference, outputs_of(tuned, held)))
            report["devices"][device] = {"fidelity_after": round(fidelity, 5)}
            print(f"round {round_ + 1} {device}: {statistics.median(seconds):.3f} s/step, cosine {fidelity:.4f}")
    cpu = statistics.median(times["cpu"]) if times.get("cpu") else None
    for device, seconds in times.items():
        if seconds:
            median = statistics.median(seconds)
            report["devices"][device].update(
                median_s_per_step=round(median, 4), spread_s=[round(min(seconds), 4), round(max(seconds), 4)],
                speedup_vs_cpu=round(cpu / median, 2) if cpu else None,
            )  # fmt: skip
    text = json.dumps(report, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
