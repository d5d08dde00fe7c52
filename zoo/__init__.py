"""ModelPS zoo: the ReID, self-supervised and face model families, exported to ONNX.

``import zoo`` is cheap: torch is imported only when a model is built, trained or exported.

Example::

    >>> import zoo
    >>> [m.name for m in zoo.list_models()][:2]
    ['fedreid-resnet50', 'fedureid-resnet50']
"""

from __future__ import annotations

from zoo.api import build_module, export
from zoo.data import demo_task_data
from zoo.errors import CheckpointError, ExportError, UnknownModelError, ZooError
from zoo.evaluation import embed, evaluate, task_embeddings, task_metrics
from zoo.metrics import face_verification, fidelity, knn_accuracy, reid_metrics
from zoo.registry import ModelSpec, get_spec, list_models

__all__ = [
    "CheckpointError",
    "ExportError",
    "ModelSpec",
    "UnknownModelError",
    "ZooError",
    "build_module",
    "demo_task_data",
    "embed",
    "evaluate",
    "export",
    "face_verification",
    "fidelity",
    "get_spec",
    "knn_accuracy",
    "list_models",
    "reid_metrics",
    "task_embeddings",
    "task_metrics",
]
