"""Triton-layout model repositories: publish models into one, and read one for serving.

Layout::

    REPO/NAME/config.pbtxt
    REPO/NAME/1/model.onnx      (or model.plan for TensorRT)
    REPO/NAME/2/model.onnx

Versions accumulate; the config's ``version_policy`` (default: the newest only) picks which are served.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import onnx
import onnx_ir as ir

from modelps.io import load_proto
from serving.config import DynamicBatching, ModelConfig, TensorSpec, read_config, write_config
from serving.datatypes import from_numpy
from serving.errors import ConfigError, RepositoryError

__all__ = [
    "BACKENDS",
    "DEFAULT_MAX_BATCH_SIZE",
    "PublishResult",
    "Repository",
    "check_name",
    "onnx_signature",
    "publish",
]

logger = logging.getLogger(__name__)

BACKENDS = ("ort-cpu", "ort-cuda", "ort-trt", "tensorrt")
DEFAULT_MAX_BATCH_SIZE = 8
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_GPU_QUEUE_DELAY_US = 500


@dataclasses.dataclass(frozen=True)
class PublishResult:
    """Where :func:`publish` put a model."""

    name: str
    version: int
    path: Path
    config: ModelConfig


def check_name(name: str) -> str:
    """Return ``name`` if it is a safe model name (letters, digits, ``_ . -``; no path parts).

    Raises:
        RepositoryError: The name could escape the repository or is not a plain folder name.
    """
    if not _NAME.match(name) or name in {".", ".."}:
        raise RepositoryError(f"model name {name!r} must be letters, digits, '_', '.' or '-' (at most 128)")
    return name


def onnx_signature(path: Path) -> tuple[list[tuple[str, str, list[int]]], list[tuple[str, str, list[int]]]]:
    """Read the inputs and outputs of an ONNX file as ``(name, wire datatype, dims with -1 for dynamic)``.

    Raises:
        RepositoryError: A tensor has a type the protocol cannot carry.
    """
    proto = load_proto(path)
    initializers = {t.name for t in proto.graph.initializer}

    def spec(value: onnx.ValueInfoProto) -> tuple[str, str, list[int]]:
        tensor_type = value.type.tensor_type
        try:
            datatype = from_numpy(ir.DataType(tensor_type.elem_type).numpy())
        except (KeyError, TypeError, ValueError):
            raise RepositoryError(f"{path}: tensor {value.name!r} has a type the server cannot carry") from None
        dims = [d.dim_value if d.HasField("dim_value") else -1 for d in tensor_type.shape.dim]
        return value.name, datatype, dims

    inputs = [spec(v) for v in proto.graph.input if v.name not in initializers]
    outputs = [spec(v) for v in proto.graph.output]
    return inputs, outputs


def _signature_from_sidecar(
    path: Path,
) -> tuple[list[tuple[str, str, list[int]]], list[tuple[str, str, list[int]]], int | None]:
    sidecar = path.with_name(path.name + ".json")
    if not sidecar.is_file():
        raise RepositoryError(
            f"{path}: a TensorRT engine needs the {sidecar.name} that "
            "`modelps build --backend tensorrt` writes beside it"
        )
    info = json.loads(sidecar.read_text(encoding="utf-8"))
    limits = [p["max"][0] for p in info.get("profile", []) if p.get("max")]
    return (
        [(t["name"], t["datatype"], list(t["shape"])) for t in info["inputs"]],
        [(t["name"], t["datatype"], list(t["shape"])) for t in info["outputs"]],
        min(limits) if limits else None,
    )


def _make_config(
    name: str,
    model: Path,
    backend: str,
    max_batch_size: int | None,
    dynamic_batching: bool,
    queue_delay_us: int | None,
    max_queue_size: int,
    instances: int | None,
) -> ModelConfig:
    engine_limit = None
    if backend == "tensorrt":
        inputs, outputs, engine_limit = _signature_from_sidecar(model)
    else:
        inputs, outputs = onnx_signature(model)
    batchable = all(len(dims) >= 1 and dims[0] == -1 for _, _, dims in inputs + outputs)
    if max_batch_size is None:
        max_batch_size = min(DEFAULT_MAX_BATCH_SIZE, engine_limit or DEFAULT_MAX_BATCH_SIZE) if batchable else 0
    if engine_limit is not None and max_batch_size > engine_limit:
        raise RepositoryError(
            f"--max-batch-size {max_batch_size} exceeds the engine's profile, which allows batches up to {engine_limit}"
        )
    if max_batch_size > 0 and not batchable:
        fixed = [f"{n} {dims}" for n, _, dims in inputs + outputs if not dims or dims[0] != -1]
        raise RepositoryError(
            f"--max-batch-size {max_batch_size} needs a dynamic first (batch) dimension on every input and output; "
            f"fixed: {', '.join(fixed)} (make it dynamic with the set_input_shape edit, or pass --max-batch-size 0)"
        )
    if max_queue_size and not (dynamic_batching and max_batch_size > 0):
        raise RepositoryError(
            "--max-queue-size is part of dynamic batching in config.pbtxt; without batching, bound the queue with "
            "the server's --max-queue-size"
        )
    skip = 1 if max_batch_size > 0 else 0
    gpu = backend != "ort-cpu"
    batching = None
    if dynamic_batching and max_batch_size > 0:
        delay = queue_delay_us if queue_delay_us is not None else (_GPU_QUEUE_DELAY_US if gpu else 0)
        batching = DynamicBatching(max_queue_delay_us=delay, max_queue_size=max_queue_size)
    return ModelConfig(
        name=name,
        platform="tensorrt_plan" if backend == "tensorrt" else "onnxruntime_onnx",
        max_batch_size=max_batch_size,
        inputs=tuple(TensorSpec(n, t, tuple(d[skip:])) for n, t, d in inputs),
        outputs=tuple(TensorSpec(n, t, tuple(d[skip:])) for n, t, d in outputs),
        dynamic_batching=batching,
        instance_count=instances if instances is not None else (1 if gpu else 0),
        instance_kind="KIND_GPU" if gpu else "KIND_CPU",
        accelerator="tensorrt" if backend == "ort-trt" else None,
    )


def publish(
    model: str | os.PathLike[str] | ir.Model | Any,
    repo: str | os.PathLike[str],
    name: str,
    *,
    version: int | None = None,
    backend: str = "ort-cpu",
    max_batch_size: int | None = None,
    dynamic_batching: bool = True,
    queue_delay_us: int | None = None,
    max_queue_size: int = 0,
    instances: int | None = None,
) -> PublishResult:
    """Copy a model into ``repo/name/version/`` and (re)write ``repo/name/config.pbtxt``.

    Args:
        model: An ONNX file (ORT backends), a TensorRT engine built by :func:`serving.build`, or a
            model in memory (``modelps.Model`` or ``onnx_ir.Model``), saved into the repository.
        repo: The repository folder (created if missing).
        name: The model's name in the repository and in URLs.
        version: The version number; default one more than the newest present.
        backend: ``ort-cpu``, ``ort-cuda``, ``ort-trt`` or ``tensorrt``.
        max_batch_size: Largest merged batch; default 8 when every input and output has a dynamic
            first dimension, else 0 (no batching).
        dynamic_batching: Merge concurrent requests (when ``max_batch_size > 0``).
        queue_delay_us: How long a request may wait for others; default 0 on CPU, 500 on GPU.
        max_queue_size: Queue bound (503 beyond it); 0 uses the server's default.
        instances: Model instances, each with its own executor thread (``None``: on CPU, no count in the
            config, and the server runs one instance per core; on GPU, 1).

    Raises:
        RepositoryError: Bad name/version/backend, or the version already exists.
        ModelLoadError: The model file cannot be read.
    """
    if backend not in BACKENDS:
        raise RepositoryError(f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}")
    check_name(name)
    in_memory = _in_memory_model(model)
    if in_memory is not None:
        if backend == "tensorrt":
            raise RepositoryError("a TensorRT backend needs an engine file from `modelps build --backend tensorrt`")
        with tempfile.TemporaryDirectory(prefix="modelps-publish-") as folder:
            from modelps.io import save

            path = save(in_memory, Path(folder) / "model.onnx", external_data="model.onnx.data")
            return publish(
                path, repo, name, version=version, backend=backend, max_batch_size=max_batch_size,
                dynamic_batching=dynamic_batching, queue_delay_us=queue_delay_us,
                max_queue_size=max_queue_size, instances=instances,
            )  # fmt: skip
    source = Path(model)
    if not source.is_file():
        raise RepositoryError(f"{source}: no such model file")
    if instances is not None and instances < 1:
        raise RepositoryError(f"--instances must be at least 1, not {instances}")
    root = Path(repo)
    folder = root / name
    existing = _versions_on_disk(folder)
    if version is None:
        version = max(existing, default=0) + 1
    if version < 1:
        raise RepositoryError(f"version must be a positive integer, not {version}")
    if version in existing:
        raise RepositoryError(f"{folder}/{version} already exists; versions accumulate, so pick another --version")
    config = _make_config(
        name, source, backend, max_batch_size, dynamic_batching, queue_delay_us, max_queue_size, instances
    )
    target_dir = folder / str(version)
    tmp_dir = folder / f".{version}.tmp"
    shutil.rmtree(tmp_dir, ignore_errors=True)
    tmp_dir.mkdir(parents=True)
    _copy_model(source, tmp_dir / config.model_filename, backend)
    tmp_dir.rename(target_dir)
    write_config(config, folder / "config.pbtxt")
    logger.info("published %s version %d to %s", name, version, target_dir)
    return PublishResult(name, version, target_dir / config.model_filename, config)


def _in_memory_model(model: Any) -> ir.Model | None:
    if isinstance(model, ir.Model):
        return model
    inner = getattr(model, "ir", None)  # modelps.Model
    return inner if isinstance(inner, ir.Model) else None


def _copy_model(source: Path, target: Path, backend: str) -> None:
    if backend == "tensorrt":
        shutil.copyfile(source, target)
        shutil.copyfile(source.with_name(source.name + ".json"), target.with_name(target.name + ".json"))
        return
    proto = load_proto(source)
    external = any(t.data_location == onnx.TensorProto.EXTERNAL for t in proto.graph.initializer)
    if not external:
        shutil.copyfile(source, target)
        return
    from modelps.io import load, save

    save(load(source), target, external_data=target.name + ".data")


def _versions_on_disk(folder: Path) -> list[int]:
    if not folder.is_dir():
        return []
    return sorted(int(p.name) for p in folder.iterdir() if p.is_dir() and p.name.isdigit() and int(p.name) > 0)


class Repository:
    """A model repository folder as the server sees it."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise RepositoryError(f"{self.root}: the model repository folder does not exist")

    def names(self) -> list[str]:
        """Model names (sub-folders holding a ``config.pbtxt``), sorted."""
        return sorted(p.name for p in self.root.iterdir() if (p / "config.pbtxt").is_file() and _NAME.match(p.name))

    def config(self, name: str) -> ModelConfig:
        """Read a model's config; its ``name`` field must match the folder.

        Raises:
            RepositoryError: No such model.
            ConfigError: The config is invalid.
        """
        check_name(name)
        path = self.root / name / "config.pbtxt"
        if not path.is_file():
            raise RepositoryError(f"no model named {name!r} in {self.root}")
        config = read_config(path)
        if config.name != name:
            raise ConfigError(f"{path}: name {config.name!r} does not match the folder {name!r}")
        return config

    def versions(self, name: str, config: ModelConfig) -> list[int]:
        """Versions on disk that hold the config's model file, ascending."""
        folder = self.root / name
        return [v for v in _versions_on_disk(folder) if (folder / str(v) / config.model_filename).is_file()]

    def served_versions(self, name: str, config: ModelConfig) -> list[int]:
        """Return the versions the config's ``version_policy`` selects (ascending).

        Raises:
            RepositoryError: The policy selects nothing that exists.
        """
        available = self.versions(name, config)
        kind, numbers = config.version_policy
        if kind == "all":
            chosen = available
        elif kind == "specific":
            chosen = [v for v in available if v in numbers]
        else:
            chosen = available[-numbers[0] :] if numbers[0] > 0 else []
        if not chosen:
            raise RepositoryError(
                f"model {name!r} has no version to serve "
                f"(on disk: {available or 'none'}, policy: {kind} {list(numbers)})"
            )
        return chosen

    def model_path(self, name: str, version: int, config: ModelConfig) -> Path:
        """Return the model file of one version."""
        return self.root / name / str(version) / config.model_filename
