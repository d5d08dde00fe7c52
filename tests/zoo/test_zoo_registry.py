import doctest

import pytest

import zoo
from zoo import metrics, registry


def test_registry_rows():
    names = [s.name for s in zoo.list_models()]
    assert len(names) == len(set(names)) == 6
    spec = zoo.get_spec("fedssl-byol-resnet50")
    assert spec.summary() == {
        "name": "fedssl-byol-resnet50",
        "family": "ssl",
        "input_shape": [3, 32, 32],
        "output_dim": 2048,
        "params": 23_500_352,
        "task": "ssl",
        "variants": ["heads"],
        "description": spec.description,
    }
    with pytest.raises(zoo.UnknownModelError, match="no zoo model 'x'; available: fedreid-resnet50, fedureid-resnet50"):
        zoo.get_spec("x")


@pytest.mark.parametrize("name", ["face-mobilefacenet", "fedssl-byol-resnet18"])
def test_params_match_built_module(name):
    spec = zoo.get_spec(name)
    module = spec.build()
    assert sum(p.numel() for p in module.parameters()) == spec.params


def test_public_api_is_pinned():
    assert zoo.__all__ == sorted(zoo.__all__)
    assert set(zoo.__all__) == {
        "CheckpointError", "ExportError", "ModelSpec", "UnknownModelError", "ZooError", "build_module",
        "demo_task_data", "embed", "evaluate", "export", "face_verification", "fidelity", "get_spec",
        "knn_accuracy", "list_models", "reid_metrics", "task_embeddings", "task_metrics",
    }  # fmt: skip
    assert callable(zoo.export) and callable(zoo.evaluate)
    assert issubclass(zoo.CheckpointError, zoo.ZooError)


@pytest.mark.parametrize("module", [registry, metrics, zoo])
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0
