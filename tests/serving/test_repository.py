from __future__ import annotations

from pathlib import Path

import pytest

import serving
import serving.pbtxt
from serving.config import DynamicBatching, ModelConfig, TensorSpec, read_config
from serving.errors import ConfigError, RepositoryError
from tests.serving._serving_models import convnet, fixed, mlp


def test_publish_writes_triton_layout(models_dir: Path, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    result = serving.publish(convnet(models_dir / "c.onnx"), repo, "conv")
    assert result.version == 1 and result.path == repo / "conv" / "1" / "model.onnx"
    assert result.path.read_bytes() == (models_dir / "c.onnx").read_bytes()
    text = (repo / "conv" / "config.pbtxt").read_text()
    assert 'platform: "onnxruntime_onnx"' in text and "max_batch_size: 8" in text
    assert "data_type: TYPE_FP32" in text and "dims: [ 3, -1, -1 ]" in text
    assert "dynamic_batching {\n  max_queue_delay_microseconds: 0\n}" in text
    config = read_config(repo / "conv" / "config.pbtxt")
    assert config.inputs == (TensorSpec("x", "FP32", (3, -1, -1)),)
    assert config.outputs == (TensorSpec("feat", "FP32", (8, -1, -1)), TensorSpec("pooled", "FP32", (8,)))
    assert config.dynamic_batching == DynamicBatching(0, 0)
    assert config.instance_kind == "KIND_CPU"


def test_versions_accumulate_and_newest_is_served(models_dir: Path, tmp_path: Path) -> None:
    path = mlp(models_dir / "m.onnx")
    repo = tmp_path / "repo"
    assert [serving.publish(path, repo, "m").version for _ in range(2)] == [1, 2]
    assert serving.publish(path, repo, "m", version=7).version == 7
    with pytest.raises(RepositoryError, match="m/2 already exists; versions accumulate"):
        serving.publish(path, repo, "m", version=2)
    r = serving.Repository(repo)
    config = r.config("m")
    assert r.versions("m", config) == [1, 2, 7]
    assert r.served_versions("m", config) == [7]


def test_publish_options(models_dir: Path, tmp_path: Path) -> None:
    path = mlp(models_dir / "m.onnx")
    repo = tmp_path / "repo"
    gpu = serving.publish(path, repo, "g", backend="ort-trt", max_batch_size=32, max_queue_size=5, instances=2).config
    assert (gpu.instance_kind, gpu.accelerator, gpu.max_batch_size, gpu.instance_count) == (
        "KIND_GPU",
        "tensorrt",
        32,
        2,
    )
    assert gpu.dynamic_batching == DynamicBatching(max_queue_delay_us=500, max_queue_size=5)
    assert read_config(repo / "g" / "config.pbtxt") == gpu
    plain = serving.publish(path, repo, "p", dynamic_batching=False, max_batch_size=0).config
    assert plain.dynamic_batching is None and plain.inputs[0].dims == (-1, 4)
    fixed_model = serving.publish(fixed(models_dir / "f.onnx"), repo, "f").config
    assert fixed_model.max_batch_size == 0 and fixed_model.inputs == (TensorSpec("x", "INT32", (3,)),)


@pytest.mark.parametrize(
    "kwargs,error",
    [
        ({"name": "../evil"}, "model name '../evil' must be letters"),
        ({"name": "ok", "backend": "tflite"}, "unknown backend 'tflite'"),
        ({"name": "ok", "version": 0}, "version must be a positive integer, not 0"),
        ({"name": "ok", "instances": 0}, "--instances must be at least 1"),
        (
            {"name": "ok", "dynamic_batching": False, "max_queue_size": 3},
            "--max-queue-size is part of dynamic batching",
        ),
    ],
)
def test_publish_refuses(models_dir: Path, tmp_path: Path, kwargs: dict, error: str) -> None:
    with pytest.raises(RepositoryError, match=error.replace("(", r"\(")):
        serving.publish(mlp(models_dir / "m.onnx"), tmp_path / "repo", **kwargs)
    assert not (tmp_path / "repo" / "ok").exists()


def test_publish_refuses_batching_a_fixed_batch_model(models_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(
        RepositoryError, match=r"--max-batch-size 4 needs a dynamic first \(batch\) dimension.*fixed: x \[3\]"
    ):
        serving.publish(fixed(models_dir / "f.onnx"), tmp_path, "f", max_batch_size=4)


def test_publish_tensorrt_needs_the_build_sidecar(tmp_path: Path) -> None:
    plan = tmp_path / "m.plan"
    plan.write_bytes(b"engine")
    with pytest.raises(RepositoryError, match="needs the m.plan.json that `modelps build --backend tensorrt` writes"):
        serving.publish(plan, tmp_path / "repo", "m", backend="tensorrt")
    plan.with_name("m.plan.json").write_text(
        '{"inputs": [{"name": "x", "datatype": "FP16", "shape": [-1, 3]}],'
        ' "outputs": [{"name": "y", "datatype": "FP16", "shape": [-1, 2]}],'
        ' "profile": [{"name": "x", "min": [1, 3], "opt": [2, 3], "max": [4, 3]}]}'
    )
    config = serving.publish(plan, tmp_path / "repo", "m", backend="tensorrt").config
    assert (config.platform, config.max_batch_size, config.model_filename) == ("tensorrt_plan", 4, "model.plan")
    assert config.inputs == (TensorSpec("x", "FP16", (3,)),)
    assert (tmp_path / "repo" / "m" / "1" / "model.plan").read_bytes() == b"engine"
    with pytest.raises(RepositoryError, match="exceeds the engine's profile, which allows batches up to 4"):
        serving.publish(plan, tmp_path / "repo", "m", backend="tensorrt", max_batch_size=16)


def test_config_errors(tmp_path: Path) -> None:
    path = tmp_path / "config.pbtxt"
    path.write_text('name: "m" platform: "pytorch_libtorch" input [{name: "x" data_type: TYPE_FP32 dims: [1]}]')
    with pytest.raises(ConfigError, match="platform 'pytorch_libtorch' is not served by ModelPS"):
        read_config(path)
    path.write_text('name: "m" backend: "onnxruntime" input [{name: "x" data_type: TYPE_FP99 dims: [1]}]')
    with pytest.raises(ConfigError, match="tensor 'x' has unknown data_type 'TYPE_FP99'"):
        read_config(path)
    path.write_text('name: "m" platform: "onnxruntime_onnx" max_batch_size: -1 input [] output []')
    with pytest.raises(ConfigError, match="max_batch_size must be >= 0, not -1"):
        read_config(path)


def test_version_policies(models_dir: Path, tmp_path: Path) -> None:
    path = mlp(models_dir / "m.onnx")
    for _ in range(3):
        serving.publish(path, tmp_path, "m")
    r = serving.Repository(tmp_path)
    base = r.config("m")
    for policy, expected in [(("all", ()), [1, 2, 3]), (("specific", (1, 3)), [1, 3]), (("latest", (2,)), [2, 3])]:
        config = ModelConfig(**{**base.__dict__, "version_policy": policy})
        assert r.served_versions("m", config) == expected
        assert ModelConfig.from_dict(serving.pbtxt.loads(serving.pbtxt.dumps(config.to_dict()))) == config
    with pytest.raises(
        RepositoryError, match=r"model 'm' has no version to serve \(on disk: \[1, 2, 3\], policy: specific \[9\]\)"
    ):
        r.served_versions("m", ModelConfig(**{**base.__dict__, "version_policy": ("specific", (9,))}))
    with pytest.raises(RepositoryError, match="no model named 'zz'"):
        r.config("zz")
