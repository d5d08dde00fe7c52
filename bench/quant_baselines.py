"""The quantizers a user would run instead of the genie, each given the same calibration inputs.

* ONNX Runtime ``quantize_static``: QDQ, per-channel INT8 weights, UINT8 activations, with MinMax,
  Percentile and Entropy calibration, after the opset 13 upgrade QDQ per-channel needs and
  ``quant_pre_process`` (symbolic shape inference, falling back to ONNX's when that fails).
* ONNX Runtime ``quantize_dynamic`` (INT8 weights, activations quantized at run time).
* Olive and Neural Compressor through ``bench/quant_peers.py`` in a virtual environment of their
  own (``--peers-python``); a tool that fails is reported with its error, not skipped silently.

Each function returns ``(path or None, seconds, note)``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from modelps.errors import first_line

__all__ = ["ORT_METHODS", "ort_dynamic", "ort_static", "peer", "preprocess"]

ORT_METHODS = ("MinMax", "Percentile", "Entropy")
Feeds = Sequence[dict[str, np.ndarray]]


def _first_line(error: BaseException) -> str:
    return f"{type(error).__name__}: {first_line(error, 1)}"[:300]


def preprocess(src: Path, folder: Path) -> tuple[Path, str]:
    """The model as ORT's quantizer wants it: opset >= 13, then ``quant_pre_process``."""
    import onnx
    from onnx import version_converter

    notes = []
    model = onnx.load(str(src))
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 13)
    upgraded = folder / f"{src.stem}-op13.onnx"
    if opset < 13:
        model = version_converter.convert_version(model, 13)
        notes.append(f"opset {opset} -> 13")
    onnx.save(model, str(upgraded))
    out = folder / f"{src.stem}-pre.onnx"
    with contextlib.chdir(folder):  # symbolic shape inference writes temporary files into the working folder
        _pre_process(upgraded, out, notes)
    return out, "; ".join(notes)


def _pre_process(upgraded: Path, out: Path, notes: list[str]) -> None:
    from onnxruntime.quantization.shape_inference import quant_pre_process

    try:
        quant_pre_process(str(upgraded), str(out))
    except Exception as error:  # noqa: BLE001 - symbolic shape inference fails on some exports
        notes.append(f"symbolic shape inference failed ({_first_line(error)}); ONNX shape inference used")
        quant_pre_process(str(upgraded), str(out), skip_symbolic_shape=True)


class _Reader:
    """ORT's CalibrationDataReader protocol over a list of feeds."""

    def __init__(self, feeds: Feeds) -> None:
        self._it = iter(feeds)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._it, None)

    def rewind(self) -> None:  # pragma: no cover - called by some ORT versions only
        pass


def ort_static(pre: Path, feeds: Feeds, out: Path, method: str) -> tuple[Path | None, float, str]:
    """``quantize_static`` QDQ per-channel with calibration ``method``."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    start = time.monotonic()
    try:
        quantize_static(
            str(pre), str(out), _Reader(feeds), quant_format=QuantFormat.QDQ, per_channel=True,
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
            calibrate_method=getattr(CalibrationMethod, method),
        )  # fmt: skip
    except Exception as error:  # noqa: BLE001 - a failing baseline is a result
        return None, time.monotonic() - start, _first_line(error)
    return out, time.monotonic() - start, ""


def ort_dynamic(pre: Path, out: Path) -> tuple[Path | None, float, str]:
    """``quantize_dynamic`` with INT8 weights."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    start = time.monotonic()
    try:
        quantize_dynamic(str(pre), str(out), weight_type=QuantType.QInt8)
    except Exception as error:  # noqa: BLE001
        return None, time.monotonic() - start, _first_line(error)
    return out, time.monotonic() - start, ""


def peer(
    python: str, tool: str, src: Path, calib: Path, out: Path, timeout_s: float, extra: tuple[str, ...] = ()
) -> tuple[Path | None, float, str]:
    """Olive (``tool='olive'``) or Neural Compressor (``'inc'``) in their own environment (``extra``: more flags)."""
    script = Path(__file__).with_name("quant_peers.py")
    cmd = [python, str(script), "--tool", tool, "--model", str(src), "--calib", str(calib), "--out", str(out)]
    cmd += list(extra)
    start = time.monotonic()
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return None, time.monotonic() - start, _first_line(error)
    seconds = time.monotonic() - start
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return None, seconds, f"exit {done.returncode}: {tail[:300]}"
    report = json.loads(lines[-1])
    if not report.get("ok") or not out.exists():
        return None, seconds, str(report.get("error", "no model written"))[:300]
    logging.getLogger(__name__).info("%s %s: %s", tool, report.get("version"), report.get("settings"))
    return out, float(report.get("seconds", seconds)), f"{report.get('version', '')} {report.get('settings', '')}"
