"""Export a zoo torch module to ONNX with a dynamic batch axis and check it against torch.

The legacy TorchScript exporter (``torch.onnx.export(..., dynamo=False)``) is used: it honours the
requested opset exactly and exports a ResNet-50 in about a second.
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

from zoo.errors import ExportError
from zoo.registry import ModelSpec

__all__ = ["DEFAULT_OPSET", "INPUT_NAME", "OUTPUT_NAME", "export_module", "max_relative_error", "verify_export"]

logger = logging.getLogger(__name__)

DEFAULT_OPSET = 17
INPUT_NAME = "input"
OUTPUT_NAME = "embedding"


def export_module(
    module: nn.Module,
    spec: ModelSpec,
    path: str | os.PathLike[str],
    *,
    opset: int = DEFAULT_OPSET,
    dynamic_batch: bool = True,
    batch: int = 1,
) -> Path:
    """Write ``module`` (in eval mode) to ``path`` as ONNX and run ``onnx.checker`` on it.

    The file appears atomically (written next to ``path``, then renamed). With ``dynamic_batch``
    the input and output have a symbolic first axis ``batch``; otherwise it is fixed at ``batch``.

    Raises:
        ExportError: torch cannot export the module, or the result fails the ONNX checker.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    module = module.eval()
    example = torch.zeros((batch, *spec.input_shape))
    axes = {INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}} if dynamic_batch else None
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module, (example,), tmp, input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                opset_version=opset, dynamic_axes=axes, do_constant_folding=True, dynamo=False,
            )
        onnx.checker.check_model(tmp, full_check=True)
        os.replace(tmp, path)
    except (RuntimeError, ValueError, TypeError, onnx.checker.ValidationError) as exc:
        raise ExportError(f"{spec.name}: ONNX export at opset {opset} failed: {exc}") from exc
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    logger.info("exported %s to %s (%d bytes)", spec.name, path, path.stat().st_size)
    return path


def max_relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    """``max|actual - expected| / max|expected|``: the error relative to the output's scale."""
    scale = float(np.max(np.abs(expected)))
    diff = float(np.max(np.abs(actual.astype(np.float64) - expected.astype(np.float64))))
    return diff / scale if scale > 0 else diff


def verify_export(
    module: nn.Module, path: str | os.PathLike[str], spec: ModelSpec, *, batch: int = 3, seed: int = 0, tol: float = 1e-4
) -> float:
    """Run torch and ONNX Runtime on the same seeded batch; return the max relative error.

    Raises:
        ExportError: The error is ``tol`` or more.
    """
    import onnxruntime as ort

    x = np.random.default_rng(seed).standard_normal((batch, *spec.input_shape)).astype(np.float32)
    with torch.no_grad():
        expected = module.eval()(torch.from_numpy(x)).numpy()
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    (actual,) = session.run([OUTPUT_NAME], {INPUT_NAME: x})
    err = max_relative_error(actual, expected)
    if not err < tol:
        raise ExportError(f"{spec.name}: ONNX Runtime output differs from torch (max relative error {err:.2e} >= {tol})")
    return err
