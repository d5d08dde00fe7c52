from __future__ import annotations

import serving


def test_public_api_is_pinned() -> None:
    assert sorted(serving.__all__) == sorted(
        [
            "BACKENDS", "BackendUnavailableError", "BuildError", "BuildPlan", "BuildResult", "ConfigError",
            "DynamicBatching", "ModelConfig", "OrtRunner", "OrtSessionLoader", "OrtSettings", "PublishResult",
            "Repository", "RepositoryError", "Runner", "ServerHandle", "ServerSettings", "ServingError",
            "ShapeProfile", "TensorSpec", "TrtEngineLoader", "TrtRunner", "build", "infer", "make_profile",
            "metadata", "parse_shapes", "plan_build", "publish", "read_config", "start_background", "write_config",
        ]
    )  # fmt: skip
    for name in serving.__all__:
        assert getattr(serving, name) is not None


def test_importing_serving_loads_no_gpu_or_web_stack() -> None:
    import subprocess
    import sys

    heavy = ("tensorrt", "onnxruntime", "uvicorn", "torch")
    code = f"import sys, serving, serving.cli; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
