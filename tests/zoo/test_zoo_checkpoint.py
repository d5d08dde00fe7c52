"""Checkpoints saved in the original code's layouts load; corrupted ones are refused by name."""

import numpy as np
import onnxruntime as ort
import pytest
import torch

import zoo
from zoo.nets.cifar_resnet import BYOLModel, MoCoModel, cifar_resnet
from zoo.nets.mobilefacenet import MobileFaceNet
from zoo.nets.resnet import FedReIDNet, resnet50
from zoo.onnx_export import max_relative_error


def _run(path, x):
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]


def _randomize_bn(module, seed):
    g = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
    return module.eval()


def _ft_net_checkpoint(seed=1):
    """What FedReID saves: ft_net with torchvision's unused fc, a 751-way classifier, DataParallel prefix."""
    torch.manual_seed(seed)
    net = _randomize_bn(FedReIDNet(class_num=751), seed)
    sd = net.state_dict()
    sd["model.fc.weight"], sd["model.fc.bias"] = torch.randn(1000, 2048), torch.zeros(1000)
    return net, {f"module.{k}": v for k, v in sd.items()}


@pytest.mark.slow
def test_fedreid_ft_net_checkpoint_exports_like_the_original(tmp_path):
    net, sd = _ft_net_checkpoint()
    assert "module.classifier.classifier.0.weight" in sd and "module.model.layer1.0.conv1.weight" in sd
    torch.save({"state_dict": sd, "epoch": 60}, tmp_path / "net_last.pth")
    out = zoo.export("fedreid-resnet50", tmp_path / "reid.onnx", checkpoint=tmp_path / "net_last.pth")
    x = np.random.default_rng(0).standard_normal((2, 3, 256, 128)).astype(np.float32)
    with torch.no_grad():
        expected = net(torch.from_numpy(x)).numpy()  # ft_net's add_block output: the 512-d feature
    assert max_relative_error(_run(out, x), expected) < 1e-4


def test_fedureid_accepts_bare_torchvision_keys():
    torch.manual_seed(2)
    trunk = _randomize_bn(resnet50(), 2)
    module = zoo.build_module("fedureid-resnet50", checkpoint=trunk.state_dict())
    x = torch.randn(2, 3, 256, 128)
    with torch.no_grad():
        expected = torch.nn.functional.normalize(trunk.features(x), dim=1)
        assert torch.allclose(module(x), expected, atol=1e-5)


def test_ssl_byol_checkpoint_encoder_and_heads(tmp_path):
    torch.manual_seed(3)
    byol = BYOLModel(cifar_resnet(18))
    _randomize_bn(byol, 3)
    torch.save(byol.state_dict(), tmp_path / "byol.pth")  # online_encoder.*, online_predictor.*, target_encoder.*
    x = np.random.default_rng(1).standard_normal((3, 3, 32, 32)).astype(np.float32)
    enc = zoo.export("fedssl-byol-resnet18", tmp_path / "enc.onnx", checkpoint=tmp_path / "byol.pth")
    heads = zoo.export("fedssl-byol-resnet18", tmp_path / "h.onnx", checkpoint=tmp_path / "byol.pth", variant="heads")
    with torch.no_grad():
        t = torch.from_numpy(x)
        want_enc = byol.online_encoder.features(t).numpy()
        want_heads = byol.online_predictor(byol.online_encoder(t)).numpy()
    assert max_relative_error(_run(enc, x), want_enc) < 1e-4
    assert max_relative_error(_run(heads, x), want_heads) < 1e-4


def test_ssl_moco_query_encoder():
    torch.manual_seed(4)
    moco = _randomize_bn(MoCoModel(18, mlp=True), 4)
    module = zoo.build_module("fedssl-byol-resnet18", checkpoint=moco.state_dict())
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(module(x), moco.encoder_q.features(x), atol=1e-5)


def _mbf_state(seed=5):
    torch.manual_seed(seed)
    return _randomize_bn(MobileFaceNet(), seed).state_dict()


def test_face_checkpoint_with_module_prefix():
    sd = _mbf_state()
    module = zoo.build_module("face-mobilefacenet", checkpoint={f"module.{k}": v for k, v in sd.items()})
    assert torch.equal(module.state_dict()["features.layers.2.weight"], sd["features.layers.2.weight"])


def test_missing_key_is_named(tmp_path):
    sd = _mbf_state()
    del sd["conv_sep.layers.0.weight"]
    torch.save(sd, tmp_path / "bad.pth")
    with pytest.raises(zoo.CheckpointError, match=r"bad\.pth: .*face-mobilefacenet: 1 missing keys: conv_sep\.layers\.0\.weight$"):
        zoo.export("face-mobilefacenet", tmp_path / "x.onnx", checkpoint=tmp_path / "bad.pth")
    assert not (tmp_path / "x.onnx").exists()


def test_wrong_shape_is_named():
    sd = _mbf_state()
    sd["features.layers.2.weight"] = torch.zeros(256, 512)
    with pytest.raises(
        zoo.CheckpointError, match=r"wrong shape: features\.layers\.2\.weight \(256, 512\) \(expected \(512, 512\)\)"
    ):
        zoo.build_module("face-mobilefacenet", checkpoint=sd)


def test_fedreid_corruptions_are_named():
    _, sd = _ft_net_checkpoint()
    del sd["module.model.layer2.0.conv1.weight"]
    sd["module.classifier.add_block.1.weight"] = torch.ones(256)
    with pytest.raises(zoo.CheckpointError) as info:
        zoo.build_module("fedreid-resnet50", checkpoint=sd)
    msg = str(info.value)
    assert "1 missing keys: model.layer2.0.conv1.weight" in msg
    assert "classifier.add_block.1.weight (256,) (expected (512,))" in msg
    assert "classifier.classifier" not in msg and "model.fc" not in msg  # heads that are not deployed are ignored


def test_unexpected_keys_from_another_architecture():
    torch.manual_seed(6)
    with pytest.raises(zoo.CheckpointError, match="missing keys: .*unexpected keys: "):
        zoo.build_module("face-mobilefacenet", checkpoint=cifar_resnet(18).state_dict())


def test_unreadable_checkpoints(tmp_path):
    (tmp_path / "junk.pth").write_bytes(b"not a pickle at all")
    with pytest.raises(zoo.CheckpointError, match="junk.pth: not a readable torch checkpoint"):
        zoo.build_module("face-mobilefacenet", checkpoint=tmp_path / "junk.pth")
    torch.save({"epoch": 3, "lr": 0.1}, tmp_path / "meta.pth")
    with pytest.raises(zoo.CheckpointError, match="meta.pth: holds no state dict"):
        zoo.build_module("face-mobilefacenet", checkpoint=tmp_path / "meta.pth")
    with pytest.raises(zoo.CheckpointError, match="missing.pth: no such checkpoint file"):
        zoo.build_module("face-mobilefacenet", checkpoint=tmp_path / "missing.pth")
