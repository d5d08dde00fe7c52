"""Fixtures of the serving tests: a repository of small models and one server answering HTTP and gRPC."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import serving
from tests.serving._serving_models import convnet, fixed, mlp


@pytest.fixture
def models_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "models"
    folder.mkdir()
    return folder


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("repo")
    src = tmp_path_factory.mktemp("src")
    serving.publish(mlp(src / "mlp.onnx"), root, "mlp")
    serving.publish(convnet(src / "convnet.onnx"), root, "convnet")
    serving.publish(fixed(src / "fixed.onnx"), root, "fixed")
    return root


@pytest.fixture(scope="module")
def server(repo: Path) -> Iterator[serving.ServerHandle]:
    """One server process answering both protocols (HTTP on ``url``, gRPC on ``grpc_url``)."""
    with serving.start_background(repo, port=0, grpc_port=0) as handle:
        yield handle
