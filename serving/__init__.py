"""Build models for serving backends, publish them to a Triton-layout repository, serve them over HTTP and gRPC.

The public API::

    import serving
    serving.build("model.onnx", "model.opt.onnx", backend="ort-cpu")
    serving.publish("model.opt.onnx", "repo", "resnet")            # repo/resnet/1/model.onnx
    with serving.start_background("repo", grpc_port=0) as server:  # free ports: server.url, server.grpc_url
        outputs = serving.infer(server.url, "resnet", {"x": x})

The server speaks the KServe v2 / Open Inference Protocol over HTTP (JSON and binary tensors) and
gRPC (Triton's ``GRPCInferenceService``), so Triton's ``tritonclient.http`` and ``tritonclient.grpc``
work against it unchanged, and the repository can be served by Triton itself.
"""

from __future__ import annotations

from serving.build import BuildPlan, BuildResult, ShapeProfile, build, make_profile, parse_shapes, plan_build
from serving.client import infer, metadata
from serving.config import DynamicBatching, ModelConfig, TensorSpec, read_config, write_config
from serving.errors import BackendUnavailableError, BuildError, ConfigError, RepositoryError, ServingError
from serving.repository import BACKENDS, PublishResult, Repository, publish
from serving.runners import OrtRunner, OrtSessionLoader, OrtSettings, Runner, TrtEngineLoader, TrtRunner
from serving.server import ServerHandle, start_background
from serving.settings import ServerSettings

__all__ = [
    "BACKENDS",
    "BackendUnavailableError",
    "BuildError",
    "BuildPlan",
    "BuildResult",
    "ConfigError",
    "DynamicBatching",
    "ModelConfig",
    "OrtRunner",
    "OrtSessionLoader",
    "OrtSettings",
    "PublishResult",
    "Repository",
    "RepositoryError",
    "Runner",
    "ServerHandle",
    "ServerSettings",
    "ServingError",
    "ShapeProfile",
    "TensorSpec",
    "TrtEngineLoader",
    "TrtRunner",
    "build",
    "infer",
    "make_profile",
    "metadata",
    "parse_shapes",
    "plan_build",
    "publish",
    "read_config",
    "start_background",
    "write_config",
]
