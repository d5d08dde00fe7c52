"""Run a peer tool's ONNX Runtime INT8 static (PTQ) quantization on one model.

Tools:
  olive  - Microsoft Olive (olive-ai), pass ``OnnxStaticQuantization`` run through
           ``olive.workflows.run`` with its defaults (QDQ, S8 weights / S8 activations,
           per-tensor, MinMax, ORT quant pre-processing, ``get_qdq_config``).
  inc    - Intel Neural Compressor for ONNX Runtime (onnx-neural-compressor),
           ``quantize(model, out, StaticQuantConfig(...))`` with its defaults except
           ``quant_format=QDQ`` (U8 activations asym / S8 weights, per-tensor, MinMax).
           ``--tune`` uses ``tuning.autotune`` (its default static tuning space, at most
           ``--max-trials`` trials) with an eval_fn = centered cosine vs FP32 outputs
           on the calibration samples.

Install (a virtual environment of their own; both import packages they do not declare)::

    python3 -m venv /tmp/peers-venv
    /tmp/peers-venv/bin/pip install torch==2.13.0 olive-ai==0.13.0 onnx-neural-compressor==1.0 \
        onnxruntime onnx requests prettytable scipy

Calibration: ``--calib`` is an .npz with one array per model input, samples stacked on
axis 0; each sample is fed with batch 1 (``arr[i:i+1]``).

"seconds" times the tool call only (imports, npz loading and checks excluded). The output is
re-saved as one self-contained .onnx and must load in onnxruntime, else ok=false; settings end
with the observed per-channel DequantizeLinear count. Prints exactly one JSON line on stdout
(tool, ok, seconds, error, version, settings); tool chatter goes to stderr. Always exits 0.
"""

from __future__ import annotations

import argparse  # noqa: E401
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

PKG = {"olive": "olive-ai", "inc": "onnx-neural-compressor"}
Feed = dict[str, np.ndarray]


def load_samples(path: str) -> list[Feed]:
    """Split the npz into per-sample feeds with a batch axis of 1."""
    with np.load(path) as z:
        arrs = {k: z[k] for k in z.files}
    n = min(a.shape[0] for a in arrs.values())
    return [{k: a[i : i + 1] for k, a in arrs.items()} for i in range(n)]


class NpzReader:
    """Minimal CalibrationDataReader (get_next / rewind), ORT and INC compatible."""

    def __init__(self, samples: list[Feed]) -> None:
        self.samples, self.i = samples, 0

    def get_next(self) -> Feed | None:
        self.i += 1
        return self.samples[self.i - 1] if self.i <= len(self.samples) else None

    def rewind(self) -> None:
        self.i = 0


def copy_model(src: Path, dst: Path) -> None:
    """Save src (possibly with external data) as a single self-contained dst."""
    import onnx

    m = onnx.load(str(src))
    big = m.ByteSize() > 1.9e9
    onnx.save(m, str(dst), save_as_external_data=big, location=dst.name + ".data" if big else None)


def dq_counts(path: Path) -> tuple[int, int]:
    """(per-channel, total) DequantizeLinear nodes in the output, per-channel = non-scalar scale."""
    import onnx

    m = onnx.load(str(path))
    size = {i.name: int(np.prod(i.dims)) for i in m.graph.initializer}
    dq = [n for n in m.graph.node if n.op_type == "DequantizeLinear"]
    return sum(size.get(n.input[1], 1) > 1 for n in dq), len(dq)


def run_olive(model: str, samples: list[Feed], out: Path, work: Path, per_channel: bool) -> str:
    from olive.data.registry import Registry
    from olive.workflows import run as olive_run

    @Registry.register_dataset("quant_peers_npz")
    def _npz_dataset(**_: Any) -> list[tuple[dict[str, np.ndarray], int]]:
        # default_dataloader (torch DataLoader, batch_size=1) re-adds the batch axis
        return [({k: v[0] for k, v in s.items()}, 0) for s in samples]

    cfg: dict[str, Any] = {
        "input_model": {"type": "ONNXModel", "model_path": str(Path(model).resolve())},
        "systems": {
            "local": {
                "type": "LocalSystem",
                "accelerators": [{"device": "cpu", "execution_providers": ["CPUExecutionProvider"]}],
            }
        },
        "data_configs": [
            {
                "name": "calib",
                "type": "DataContainer",
                "load_dataset_config": {"type": "quant_peers_npz"},
                "dataloader_config": {"type": "default_dataloader", "batch_size": 1},
            }
        ],
        "passes": {"quant": {"type": "OnnxStaticQuantization", "data_config": "calib", "per_channel": per_channel}},
        "host": "local",
        "target": "local",
        "evaluate_input_model": False,
        "output_dir": str(work / "out"),
        "cache_dir": str(work / "cache"),
        "log_severity_level": 3,
    }
    olive_run(cfg)
    found = sorted((work / "out").rglob("*.onnx"))
    if not found:
        raise RuntimeError("Olive produced no output model (pass failed; see stderr log)")
    copy_model(found[0], out)
    gran = "per-channel" if per_channel else "per-tensor"
    return f"QDQ, {gran}, MinMax, S8 weights (sym) / S8 activations (asym), quant_preprocess"


def centered_cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = (x.astype(np.float64).ravel() - x.mean() for x in (a, b))
    d = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / d) if d > 0 else float(np.array_equal(a, b))


def make_eval_fn(model: str, samples: list[Feed], evals: list[float]) -> Callable[[str], float]:
    """eval_fn(model_path) -> mean over outputs of centered cosine vs FP32 on the calib set."""
    import onnxruntime as ort

    def outputs(path: str) -> list[np.ndarray]:
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        runs = [sess.run(None, s) for s in samples]
        return [np.concatenate([np.asarray(r[j]).ravel() for r in runs]) for j in range(len(runs[0]))]

    ref = outputs(model)

    def eval_fn(path: str) -> float:
        evals.append(round(float(np.mean([centered_cosine(r, q) for r, q in zip(ref, outputs(path), strict=True)])), 4))
        return evals[-1]

    return eval_fn


def run_inc(
    model: str, samples: list[Feed], out: Path, work: Path, per_channel: bool, tune: bool, max_trials: int
) -> str:
    import onnx
    from onnx_neural_compressor.quantization import QuantFormat, config, quantize, tuning

    reader = NpzReader(samples)
    if not tune:
        cfg = config.StaticQuantConfig(
            calibration_data_reader=reader,
            quant_format=QuantFormat.QDQ,
            calibration_sampling_size=len(samples),
            per_channel=per_channel,
        )
        quantize(model, str(work / "inc.onnx"), cfg)  # INC writes external data for >1 KB tensors
        copy_model(work / "inc.onnx", out)
        gran = "per-channel" if per_channel else "per-tensor"
        return f"QDQ, {gran}, MinMax, S8 weights (sym) / U8 activations (asym), ORT_ENABLE_BASIC pre-opt"
    space = config.StaticQuantConfig.get_config_set_for_tuning(
        quant_format=QuantFormat.QDQ, calibration_sampling_size=len(samples)
    )
    tcfg = tuning.TuningConfig(config_set=space, max_trials=max_trials, tolerable_loss=0.01)
    evals: list[float] = []  # [fp32 baseline, trial 1, ...]
    try:
        best = tuning.autotune(model, tcfg, eval_fn=make_eval_fn(model, samples, evals), calibration_data_reader=reader)
    except SystemExit:  # autotune calls exit(0) when no trial meets tolerable_loss
        best = None
    if best is None:
        raise RuntimeError("autotune returned no model (tuning space exhausted before any stop condition)")
    onnx.save(best, str(out))
    return (
        f"autotune: QDQ, MinMax, space per_channel x quant_last_matmul x op types, <= {max_trials} trials, "
        f"centered-cosine eval, tol 1%, returns first passing or last trial; evals {evals}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tool", choices=sorted(PKG), required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--calib", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--per-channel", action="store_true", help="override the tools' per-tensor default")
    ap.add_argument("--tune", action="store_true", help="inc only: accuracy-aware autotune (own space)")
    ap.add_argument("--max-trials", type=int, default=3)
    args = ap.parse_args()

    res: dict[str, Any] = {
        "tool": args.tool,
        "ok": False,
        "seconds": None,
        "error": None,
        "version": None,
        "settings": None,
    }
    stdout_fd = os.dup(1)
    os.dup2(2, 1)  # keep tool chatter (python and native) off stdout
    sys.stdout = sys.stderr
    work = Path(tempfile.mkdtemp(prefix="quant_peers_"))
    t0 = None
    try:
        res["version"] = metadata.version(PKG[args.tool])
        samples = load_samples(args.calib)
        out = Path(args.out).resolve()
        out.parent.mkdir(parents=True, exist_ok=True)
        __import__("olive.workflows" if args.tool == "olive" else "onnx_neural_compressor.quantization")  # untimed
        t0 = time.perf_counter()
        if args.tool == "olive":
            res["settings"] = run_olive(args.model, samples, out, work, args.per_channel)
        else:
            res["settings"] = run_inc(args.model, samples, out, work, args.per_channel, args.tune, args.max_trials)
        res["seconds"] = round(time.perf_counter() - t0, 3)
        if not out.exists():
            raise RuntimeError("no output model written")
        pc, n_dq = dq_counts(out)
        res["settings"] += f" [output: {pc}/{n_dq} DequantizeLinear per-channel]"
        import onnxruntime as ort  # validate: the output must load in ORT (not timed)

        try:
            ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
        except Exception as e:
            raise RuntimeError(f"output model does not load in onnxruntime: {e}") from None
        res["ok"] = True
    except BaseException as e:  # noqa: BLE001 - failures are data
        traceback.print_exc()
        if t0 is not None and res["seconds"] is None:
            res["seconds"] = round(time.perf_counter() - t0, 3)
        msgs = []
        while e is not None and len(msgs) < 3:
            msgs.append(f"{type(e).__name__}: {(str(e).strip().splitlines() or [''])[0]}")
            e = e.__cause__ or e.__context__
        res["error"] = " <- ".join(msgs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    sys.stderr.flush()
    os.dup2(stdout_fd, 1)
    sys.stdout = os.fdopen(stdout_fd, "w")
    print(json.dumps(res), flush=True)
    os._exit(0)


if __name__ == "__main__":
    main()
