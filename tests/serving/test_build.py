from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

import serving
from serving.build import ShapeProfile, make_profile, parse_shapes, plan_build
from serving.errors import BackendUnavailableError, BuildError
from tests.serving._serving_models import convnet, mlp

HAS_TRT = importlib.util.find_spec("tensorrt") is not None
HAS_CUDA_EP = "CUDAExecutionProvider" in ort.get_available_providers()


def test_parse_shapes() -> None:
    assert parse_shapes(None) == {}
    assert parse_shapes(["x:1x3x8x8", "ns:scope/in:2"]) == {"x": (1, 3, 8, 8), "ns:scope/in": (2,)}
    for bad, message in [
        ("x=1x3", "must look like NAME:1x3x224x224"),
        ("x:1x-3", "must look like"),
        (":4", "must look like"),
    ]:
        with pytest.raises(BuildError, match=message):
            parse_shapes(bad)
    with pytest.raises(BuildError, match="input 'x' is given two shapes"):
        parse_shapes("x:1,x:2")


def test_profile_defaults_batch_only_dims() -> None:
    assert make_profile([("x", [-1, 3, 8, 8]), ("k", [4])], {}, {}, {}, max_batch_size=16) == (
        ShapeProfile("x", (1, 3, 8, 8), (1, 3, 8, 8), (16, 3, 8, 8)),
        ShapeProfile("k", (4,), (4,), (4,)),
    )


def test_profile_explicit_shapes() -> None:
    inputs = [("x", [-1, 3, -1, -1])]
    profile = make_profile(inputs, {"x": (1, 3, 32, 32)}, {"x": (4, 3, 224, 224)}, {"x": (8, 3, 512, 512)})
    assert profile == (ShapeProfile("x", (1, 3, 32, 32), (4, 3, 224, 224), (8, 3, 512, 512)),)


@pytest.mark.parametrize(
    "mins,opts,maxs,error",
    [
        ({}, {}, {}, r"input 'x' has dynamic dimension\(s\) at \[0, 2, 3\].*--max-shape x:Nx3xNxN"),
        ({"x": (1, 3, 8, 8)}, {}, {}, "input 'x' needs all three of --min-shape, --opt-shape and --max-shape"),
        ({"y": (1,)}, {}, {}, r"--min-shape names unknown input\(s\) \['y'\]"),
        (
            {"x": (1, 3, 8)},
            {"x": (1, 3, 8, 8)},
            {"x": (1, 3, 8, 8)},
            "min shape \\[1, 3, 8\\] has rank 3, the model's is 4",
        ),
        ({"x": (1, 4, 8, 8)}, {"x": (1, 3, 8, 8)}, {"x": (1, 3, 8, 8)}, "sets fixed dimension 1 to 4, not 3"),
        ({"x": (2, 3, 8, 8)}, {"x": (1, 3, 8, 8)}, {"x": (4, 3, 8, 8)}, "need min <= opt <= max in every dimension"),
        ({"x": (0, 3, 8, 8)}, {"x": (1, 3, 8, 8)}, {"x": (4, 3, 8, 8)}, "dimensions must be at least 1"),
    ],
)
def test_profile_errors(mins: dict, opts: dict, maxs: dict, error: str) -> None:
    with pytest.raises(BuildError, match=error):
        make_profile([("x", [-1, 3, -1, -1])], mins, opts, maxs)


def test_plan_flags_and_levels() -> None:
    x = [("x", [-1, 4])]
    assert plan_build("ort-cpu", x).flags == () and plan_build("ort-cpu", x).opt_level == "extended"
    trt = plan_build("tensorrt", x, fp16=True, int8=True, calib="c.npz", workspace_mb=64)
    assert trt.flags == ("FP16", "INT8") and trt.workspace_bytes == 64 << 20 and trt.calib == Path("c.npz")
    ort_trt = plan_build(
        "ort-trt", x, fp16=True, min_shapes={"x": (1, 4)}, opt_shapes={"x": (2, 4)}, max_shapes={"x": (8, 4)}
    )
    assert ort_trt.opt_level == "basic"
    assert ort_trt.provider_options() == {
        "trt_fp16_enable": True,
        "trt_max_workspace_size": 4096 << 20,
        "trt_profile_min_shapes": "x:1x4",
        "trt_profile_opt_shapes": "x:2x4",
        "trt_profile_max_shapes": "x:8x4",
    }


@pytest.mark.parametrize(
    "backend,kwargs,error",
    [
        ("ort-cpu", {"fp16": True}, "--fp16/--int8 need a TensorRT backend"),
        ("ort-cuda", {"min_shapes": {"x": (1, 4)}}, "only apply to ort-trt and tensorrt builds, not ort-cuda"),
        ("tensorrt", {"int8": True}, "--int8 needs --calib NPZ"),
        ("tensorrt", {"calib": "c.npz"}, "--calib is only used with --int8"),
        ("ort-trt", {"int8": True, "calib": "c.npz"}, "INT8 with ort-trt needs a TensorRT calibration table"),
        ("onnx", {}, "unknown backend 'onnx'"),
        ("ort-cpu", {"opt_level": "max"}, "--opt-level must be one of"),
    ],
)
def test_plan_refuses(backend: str, kwargs: dict, error: str) -> None:
    with pytest.raises(BuildError, match=error):
        plan_build(backend, [("x", [-1, 4])], **kwargs)


def test_build_ort_cpu_saves_an_optimised_model_with_equal_outputs(models_dir: Path) -> None:
    source = convnet(models_dir / "c.onnx")
    result = serving.build(source, models_dir / "c.opt.onnx", "ort-cpu", opt_level="all")
    assert result.path.is_file() and result.details["providers"] == ["CPUExecutionProvider"]
    x = np.random.default_rng(0).standard_normal((2, 3, 11, 13)).astype(np.float32)
    a = ort.InferenceSession(str(source)).run(None, {"x": x})
    b = ort.InferenceSession(str(result.path)).run(None, {"x": x})
    for left, right in zip(a, b, strict=True):
        assert np.abs(left - right).max() < 1e-5
    with pytest.raises(BuildError, match="must not overwrite the input model"):
        serving.build(source, source, "ort-cpu")


@pytest.mark.skipif(HAS_CUDA_EP, reason="this onnxruntime has the CUDA provider")
def test_build_ort_cuda_without_gpu_build_says_how_to_install(models_dir: Path) -> None:
    with pytest.raises(
        BackendUnavailableError,
        match="has no CUDAExecutionProvider: pip uninstall -y onnxruntime && pip install onnxruntime-gpu",
    ):
        serving.build(mlp(models_dir / "m.onnx"), models_dir / "o.onnx", "ort-cuda")


@pytest.mark.skipif(HAS_TRT, reason="TensorRT is installed")
def test_build_tensorrt_without_tensorrt_says_how_to_install(models_dir: Path) -> None:
    with pytest.raises(BackendUnavailableError, match="pip install --extra-index-url https://pypi.nvidia.com tensorrt"):
        serving.build(mlp(models_dir / "m.onnx"), models_dir / "m.plan", "tensorrt")


@pytest.mark.gpu
@pytest.mark.skipif(
    not HAS_TRT, reason="needs TensorRT (pip install --extra-index-url https://pypi.nvidia.com tensorrt) and a GPU"
)
def test_tensorrt_engine_serves_equal_outputs(models_dir: Path, tmp_path: Path) -> None:
    source = convnet(models_dir / "c.onnx")
    engine = serving.build(
        source, tmp_path / "c.plan", "tensorrt",
        min_shapes="x:1x3x8x8", opt_shapes="x:2x3x16x16", max_shapes="x:4x3x32x32",
    )  # fmt: skip
    assert (tmp_path / "c.plan.json").is_file() and (tmp_path / "c.timing.cache").is_file()
    x = np.random.default_rng(0).standard_normal((2, 3, 12, 20)).astype(np.float32)
    with serving.TrtRunner(serving.TrtEngineLoader(engine.path)) as runner:
        got = runner.infer({"x": x}, ["feat", "pooled"])
    want = ort.InferenceSession(str(source)).run(["feat", "pooled"], {"x": x})
    assert np.abs(got["pooled"] - want[1]).max() < 1e-3  # TF32 convolutions
    repo = tmp_path / "repo"
    serving.publish(engine.path, repo, "c", backend="tensorrt")
    with serving.start_background(repo) as server:
        assert np.abs(serving.infer(server.url, "c", {"x": x})["pooled"] - want[1]).max() < 1e-3


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA_EP, reason="needs onnxruntime-gpu with the CUDA provider and a GPU")
def test_ort_cuda_runner(models_dir: Path) -> None:
    source = mlp(models_dir / "m.onnx")
    loader = serving.OrtSessionLoader(source, ["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert loader().get_providers()[0] == "CUDAExecutionProvider"  # no silent fall-back to the CPU
    x = np.ones((3, 4), np.float32)
    with serving.OrtRunner(loader) as runner:
        got = runner.infer({"x": x}, ["y"])
    assert np.abs(got["y"] - ort.InferenceSession(str(source)).run(["y"], {"x": x})[0]).max() < 1e-4


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA_EP, reason="needs onnxruntime-gpu with the CUDA provider and a GPU")
def test_ort_cuda_build_serves_equal_outputs_over_http(models_dir: Path, tmp_path: Path) -> None:
    source = convnet(models_dir / "c.onnx")
    result = serving.build(source, tmp_path / "c.cuda.onnx", "ort-cuda")
    assert result.details["providers"][0] == "CUDAExecutionProvider"
    x = np.random.default_rng(0).standard_normal((2, 3, 12, 20)).astype(np.float32)
    want = ort.InferenceSession(str(source)).run(["feat", "pooled"], {"x": x})
    repo = tmp_path / "repo"
    serving.publish(result.path, repo, "c", backend="ort-cuda")
    with serving.start_background(repo) as server:
        got = serving.infer(server.url, "c", {"x": x})
    assert np.abs(got["feat"] - want[0]).max() < 1e-3  # TF32/cuDNN convolutions
    assert np.abs(got["pooled"] - want[1]).max() < 1e-3
