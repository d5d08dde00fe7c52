"""Every family exports with a dynamic batch axis, passes the checker and matches torch in ORT."""

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

import zoo
from zoo.onnx_export import max_relative_error
from zoo.registry import list_models

NAMES = [s.name for s in list_models()]


def _ort(path):
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _torch_out(module, x):
    with torch.no_grad():
        return module(torch.from_numpy(x)).numpy()


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_export_dynamic_batch_matches_torch(name, tmp_path):
    spec = zoo.get_spec(name)
    path = zoo.export(name, tmp_path / f"{name}.onnx", weights="seeded")
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    assert model.opset_import[0].version == 17
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and [d.dim_value for d in dims[1:]] == list(spec.input_shape)
    module = zoo.build_module(name, "seeded")
    assert sum(p.numel() for p in module.parameters()) == spec.params
    session = _ort(path)
    for batch in (1, 4):
        x = np.random.default_rng(batch).standard_normal((batch, *spec.input_shape)).astype(np.float32)
        (y,) = session.run(None, {"input": x})
        expected = _torch_out(module, x)
        assert y.shape == (batch, spec.output_dim)
        assert max_relative_error(y, expected) < 1e-4
        # the seeded, BatchNorm-recalibrated network is not degenerate: outputs differ per image
        if batch > 1:
            assert np.std(y, axis=0).mean() > 1e-3 * np.abs(y).mean()


@pytest.mark.slow
def test_export_static_batch_other_opset_and_heads(tmp_path):
    path = zoo.export("fedssl-byol-resnet18", tmp_path / "ssl.onnx", opset=13, dynamic_batch=False, variant="heads")
    model = onnx.load(str(path))
    assert model.opset_import[0].version == 13
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_value == 1
    assert model.graph.output[0].type.tensor_type.shape.dim[1].dim_value == 2048
    module = zoo.build_module("fedssl-byol-resnet18", variant="heads")
    x = np.random.default_rng(0).standard_normal((1, 3, 32, 32)).astype(np.float32)
    (y,) = _ort(path).run(None, {"input": x})
    assert max_relative_error(y, _torch_out(module, x)) < 1e-4


def test_export_is_cached_and_loads_in_core(tmp_path):
    import modelps

    a = zoo.export("face-mobilefacenet")
    b = zoo.export("face-mobilefacenet")
    assert a == b and a.is_file()
    out = zoo.export("face-mobilefacenet", tmp_path / "m.onnx")
    assert out.read_bytes() == a.read_bytes()
    m = modelps.Model.load(out)
    assert [v.name for v in m.ir.graph.inputs] == ["input"]


def test_seeded_weights_are_reproducible_and_seed_dependent():
    a = zoo.build_module("face-mobilefacenet", seed=0).state_dict()
    b = zoo.build_module("face-mobilefacenet", seed=0).state_dict()
    c = zoo.build_module("face-mobilefacenet", seed=1).state_dict()
    key = "layers.0.layers.0.weight"
    assert torch.equal(a[key], b[key]) and torch.equal(a["conv_sep.layers.1.running_var"], b["conv_sep.layers.1.running_var"])
    assert not torch.equal(a[key], c[key])
    # BatchNorm statistics were recalibrated (not the defaults 0 / 1)
    assert not torch.allclose(a["conv_sep.layers.1.running_var"], torch.ones(512))


def test_unknown_model_weights_and_variant():
    with pytest.raises(zoo.UnknownModelError, match="no zoo model 'resnet9'.*fedreid-resnet50"):
        zoo.export("resnet9")
    with pytest.raises(zoo.ZooError, match="unknown weights 'imagenet'"):
        zoo.export("face-mobilefacenet", weights="imagenet")
    with pytest.raises(zoo.ZooError, match="has no variant 'heads'"):
        zoo.build_module("face-mobilefacenet", variant="heads")
