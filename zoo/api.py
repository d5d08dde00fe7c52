"""The zoo's Python API: export a zoo model to ONNX (cached), without importing torch at import time.

Example::

    import zoo
    path = zoo.export("fedreid-resnet50", "reid.onnx", weights="demo")
    report = zoo.evaluate(path, "reid")          # {"rank1": ..., "mAP": ...}
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from zoo.cache import DEMO_VERSION, atomic_path, cached_file
from zoo.registry import get_spec

__all__ = ["EXPORT_VERSION", "build_module", "export"]

logger = logging.getLogger(__name__)

EXPORT_VERSION = 1


def build_module(
    name: str, weights: str = "seeded", *, seed: int = 0, variant: str | None = None, checkpoint: Any = None
) -> Any:
    """Return the deployed torch module of zoo model ``name`` in eval mode (imports torch)."""
    from zoo.weights import prepare

    return prepare(get_spec(name), weights, seed=seed, variant=variant, checkpoint=checkpoint)


def export(
    name: str,
    path: str | os.PathLike[str] | None = None,
    *,
    weights: str = "seeded",
    seed: int = 0,
    opset: int = 17,
    dynamic_batch: bool = True,
    checkpoint: str | os.PathLike[str] | Mapping[str, Any] | None = None,
    variant: str | None = None,
) -> Path:
    """Export zoo model ``name`` to ONNX; returns the file's path.

    The result has passed ``onnx.checker`` and reproduces the torch module's output in ONNX
    Runtime (max relative error < 1e-4). Exports of ``seeded``/``demo`` weights are cached under
    ``$MODELPS_HOME/zoo/onnx`` and copied to ``path``; with ``path=None`` the cached file is
    returned (do not modify it). A ``checkpoint`` (file or state dict in the original code's
    layout) replaces ``weights`` and is never cached.

    Raises:
        UnknownModelError: ``name`` is not a zoo model.
        CheckpointError: The checkpoint cannot be read or does not fit.
        ExportError: Export, the checker or the ONNX Runtime comparison failed.
        ZooError: Unknown ``weights`` or ``variant``.
    """
    spec = get_spec(name)
    if checkpoint is not None:
        if path is None:
            raise ValueError("an export of a checkpoint needs an output path")
        module = build_module(name, weights, seed=seed, variant=variant, checkpoint=checkpoint)
        return _export_checked(module, spec, Path(path), opset, dynamic_batch)
    if weights not in ("seeded", "demo"):
        from zoo.errors import ZooError

        raise ZooError(f"unknown weights {weights!r}; choose one of: seeded, demo")
    version = f"{weights}{DEMO_VERSION}" if weights == "demo" else weights  # retrained demos get new exports
    tag = f"{name}{'-' + variant if variant else ''}-{version}-s{seed}-op{opset}-{'dyn' if dynamic_batch else 'static'}"

    def produce(tmp: Path) -> None:
        module = build_module(name, weights, seed=seed, variant=variant)
        _export_checked(module, spec, tmp, opset, dynamic_batch)

    cached = cached_file(f"onnx/{tag}-v{EXPORT_VERSION}.onnx", produce)
    if path is None:
        return cached
    out = Path(path)
    with atomic_path(out) as tmp:
        shutil.copyfile(cached, tmp)
    logger.info("wrote %s", out)
    return out


def _export_checked(module: Any, spec: Any, path: Path, opset: int, dynamic_batch: bool) -> Path:
    from zoo.onnx_export import export_module, verify_export

    export_module(module, spec, path, opset=opset, dynamic_batch=dynamic_batch)
    err = verify_export(module, path, spec, batch=3 if dynamic_batch else 1)
    logger.info("%s: ONNX Runtime matches torch (max relative error %.2e)", spec.name, err)
    return path
