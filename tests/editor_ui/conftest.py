from __future__ import annotations

from pathlib import Path

import pytest

from editor_ui.samples import residual_cnn
from editor_ui.workspace import LocalWorkspace
from modelps import io


@pytest.fixture(scope="session")
def small_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("models") / "small.onnx"
    io.save(residual_cnn(30), path)
    return path


@pytest.fixture
def ws(small_model_path: Path) -> LocalWorkspace:
    return LocalWorkspace(small_model_path, user="alice", name="small")
