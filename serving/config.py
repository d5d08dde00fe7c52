"""The model configuration ModelPS reads and writes: a subset of Triton's ``config.pbtxt``."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from serving import pbtxt
from serving.datatypes import CONFIG_TO_WIRE, WIRE_TO_CONFIG
from serving.errors import ConfigError

__all__ = ["PLATFORMS", "DynamicBatching", "ModelConfig", "TensorSpec", "read_config", "write_config"]

PLATFORMS = {"onnxruntime_onnx": "model.onnx", "tensorrt_plan": "model.plan"}
"""Platforms ModelPS serves, with the default model file name of each."""


@dataclasses.dataclass(frozen=True)
class TensorSpec:
    """One input or output: name, wire datatype (``FP32``) and dims (``-1`` = any size).

    In a model config the dims leave out the batch dimension when ``max_batch_size > 0``.
    """

    name: str
    datatype: str
    dims: tuple[int, ...]

    def to_json(self, batch: bool) -> dict[str, Any]:
        """Metadata form of the Open Inference Protocol (the batch dim shown as ``-1``)."""
        return {"name": self.name, "datatype": self.datatype, "shape": ([-1] if batch else []) + list(self.dims)}


@dataclasses.dataclass(frozen=True)
class DynamicBatching:
    """Triton's ``dynamic_batching`` block (the fields ModelPS uses).

    Attributes:
        max_queue_delay_us: How long the first queued request may wait for others to join its batch.
            ``0`` batches only what is already queued (best on CPU).
        max_queue_size: Requests waiting beyond this are refused with 503 (``0``: the server default).
    """

    max_queue_delay_us: int = 0
    max_queue_size: int = 0


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """What ModelPS needs to know to serve a model (read from or written to ``config.pbtxt``).

    ``instance_count`` 0 means the config gives no count: the server picks (one instance per core on CPU).
    """

    name: str
    platform: str
    max_batch_size: int
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    dynamic_batching: DynamicBatching | None = None
    instance_count: int = 0
    instance_kind: str = "KIND_CPU"
    accelerator: str | None = None
    version_policy: tuple[str, tuple[int, ...]] = ("latest", (1,))
    default_model_filename: str | None = None

    @property
    def model_filename(self) -> str:
        """The file each version folder holds (``model.onnx`` or ``model.plan`` unless overridden)."""
        return self.default_model_filename or PLATFORMS[self.platform]

    def to_dict(self) -> dict[str, Any]:
        """Return the config as a pbtxt-ready dict."""
        out: dict[str, Any] = {"name": self.name, "platform": self.platform, "max_batch_size": self.max_batch_size}
        out["input"] = [_tensor_dict(t) for t in self.inputs]
        out["output"] = [_tensor_dict(t) for t in self.outputs]
        kind, numbers = self.version_policy
        if kind == "all":
            out["version_policy"] = {"all": {}}
        elif kind == "specific":
            out["version_policy"] = {"specific": {"versions": list(numbers)}}
        elif numbers != (1,):
            out["version_policy"] = {"latest": {"num_versions": numbers[0]}}
        if self.dynamic_batching is not None:
            block: dict[str, Any] = {"max_queue_delay_microseconds": self.dynamic_batching.max_queue_delay_us}
            if self.dynamic_batching.max_queue_size:
                block["default_queue_policy"] = {"max_queue_size": self.dynamic_batching.max_queue_size}
            out["dynamic_batching"] = block
        group: dict[str, Any] = {"count": self.instance_count} if self.instance_count else {}
        out["instance_group"] = [group | {"kind": self.instance_kind}]
        if self.accelerator:
            out["optimization"] = {
                "execution_accelerators": {"gpu_execution_accelerator": [{"name": self.accelerator}]}
            }
        if self.default_model_filename:
            out["default_model_filename"] = self.default_model_filename
        return out

    def to_json(self) -> dict[str, Any]:
        """Return the config in the JSON form Triton's ``GET /v2/models/{name}/config`` returns."""
        data = self.to_dict()
        for key in ("input", "output"):
            for tensor in data[key]:
                tensor["dims"] = [str(d) for d in tensor["dims"]]  # Triton prints int64 as strings
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, where: str = "config.pbtxt") -> ModelConfig:
        """Build from a parsed ``config.pbtxt``.

        Raises:
            ConfigError: A required field is missing or has a value ModelPS cannot serve.
        """
        platform = data.get("platform") or _platform_from_backend(data.get("backend"), where)
        if platform not in PLATFORMS:
            raise ConfigError(f"{where}: platform {platform!r} is not served by ModelPS (use {sorted(PLATFORMS)})")
        name = data.get("name")
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{where}: the model has no name")
        max_batch = _int(data.get("max_batch_size", 0), "max_batch_size", where)
        if max_batch < 0:
            raise ConfigError(f"{where}: max_batch_size must be >= 0, not {max_batch}")
        inputs = tuple(_tensor(t, where) for t in data.get("input", []))
        outputs = tuple(_tensor(t, where) for t in data.get("output", []))
        if not inputs or not outputs:
            raise ConfigError(f"{where}: the config must list the model's inputs and outputs")
        groups = data.get("instance_group") or [{}]
        count = sum(_int(g.get("count", 0), "instance_group count", where) for g in groups)
        kind = groups[0].get("kind", "KIND_GPU" if platform == "tensorrt_plan" else "KIND_CPU")
        if kind == "KIND_AUTO":
            kind = "KIND_CPU"
        accelerators = data.get("optimization", {}).get("execution_accelerators", {})
        names = [a.get("name") for a in accelerators.get("gpu_execution_accelerator", [])]
        batching = None
        if "dynamic_batching" in data:
            block = data["dynamic_batching"] or {}
            policy = block.get("default_queue_policy", {}) or {}
            batching = DynamicBatching(
                max_queue_delay_us=_int(
                    block.get("max_queue_delay_microseconds", 0), "max_queue_delay_microseconds", where
                ),
                max_queue_size=_int(policy.get("max_queue_size", 0), "max_queue_size", where),
            )
        return cls(
            name=name,
            platform=platform,
            max_batch_size=max_batch,
            inputs=inputs,
            outputs=outputs,
            dynamic_batching=batching,
            instance_count=max(count, 0),
            instance_kind=kind,
            accelerator=names[0] if names else None,
            version_policy=_version_policy(data.get("version_policy"), where),
            default_model_filename=data.get("default_model_filename") or None,
        )


def read_config(path: Path) -> ModelConfig:
    """Read a ``config.pbtxt`` file.

    Raises:
        ConfigError: The file cannot be parsed or is not servable.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read ({exc})") from exc
    try:
        data = pbtxt.loads(text)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    return ModelConfig.from_dict(data, where=str(path))


def write_config(config: ModelConfig, path: Path) -> None:
    """Write ``config.pbtxt`` atomically."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(pbtxt.dumps(config.to_dict()), encoding="utf-8")
    tmp.replace(path)


def _tensor_dict(spec: TensorSpec) -> dict[str, Any]:
    return {"name": spec.name, "data_type": WIRE_TO_CONFIG[spec.datatype], "dims": list(spec.dims)}


def _tensor(data: dict[str, Any], where: str) -> TensorSpec:
    name = data.get("name")
    if not isinstance(name, str):
        raise ConfigError(f"{where}: a tensor has no name")
    config_type = data.get("data_type")
    if config_type not in CONFIG_TO_WIRE:
        raise ConfigError(f"{where}: tensor {name!r} has unknown data_type {config_type!r}")
    dims = tuple(_int(d, f"dims of {name!r}", where) for d in data.get("dims", []))
    return TensorSpec(name, CONFIG_TO_WIRE[config_type], dims)


def _int(value: Any, what: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ConfigError(f"{where}: {what} must be an integer, not {value!r}")
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"{where}: {what} must be an integer, not {value!r}") from None


def _platform_from_backend(backend: Any, where: str) -> str:
    mapping = {"onnxruntime": "onnxruntime_onnx", "tensorrt": "tensorrt_plan"}
    if backend in mapping:
        return mapping[backend]
    raise ConfigError(f"{where}: set platform (onnxruntime_onnx or tensorrt_plan); backend {backend!r} is not served")


def _version_policy(data: Any, where: str) -> tuple[str, tuple[int, ...]]:
    if not data:
        return ("latest", (1,))
    if "all" in data:
        return ("all", ())
    if "specific" in data:
        versions = tuple(_int(v, "version", where) for v in data["specific"].get("versions", []))
        return ("specific", versions)
    if "latest" in data:
        return ("latest", (_int(data["latest"].get("num_versions", 1), "num_versions", where),))
    raise ConfigError(f"{where}: unknown version_policy {data!r}")
