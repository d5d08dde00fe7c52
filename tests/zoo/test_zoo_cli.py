import json

import onnx
import pytest

from modelps.cli import main


def test_list_json(capsys):
    assert main(["zoo", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    names = [r["name"] for r in rows]
    assert names == [
        "fedreid-resnet50", "fedureid-resnet50", "fedssl-byol-resnet18", "fedssl-byol-resnet50",
        "face-mobilefacenet", "face-iresnet50",
    ]  # fmt: skip
    reid = rows[0]
    assert reid["input_shape"] == [3, 256, 128] and reid["output_dim"] == 512 and reid["params"] == 24_558_144


def test_list_table(capsys):
    assert main(["zoo", "list"]) == 0
    out = capsys.readouterr().out
    assert "face-mobilefacenet" in out and "3x112x112" in out and "2,059,520" in out


def test_export_and_eval(tmp_path, capsys):
    out = tmp_path / "mbf.onnx"
    assert main(["zoo", "export", "face-mobilefacenet", "-o", str(out), "--static-batch", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["output"] == str(out) and info["dynamic_batch"] is False and info["bytes"] == out.stat().st_size
    assert onnx.load(str(out)).graph.input[0].type.tensor_type.shape.dim[0].dim_value == 1
    assert main(["zoo", "eval", str(out), "--task", "face", "--reference", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["task"] == "face" and report["pairs"] == 1200
    assert report["fidelity"]["centered_cosine"] == pytest.approx(1.0)
    assert report["fidelity"]["relative_l2"] == 0.0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["zoo", "export", "resnet9"], "modelps: error: no zoo model 'resnet9'; available: fedreid-resnet50"),
        (["zoo", "eval", "missing.onnx", "--task", "reid"], "modelps: error: missing.onnx: no such model file"),
        (["zoo", "export", "face-mobilefacenet", "--checkpoint", "nope.pth", "-o", "x.onnx"],
         "modelps: error: nope.pth: no such checkpoint file"),
    ],
)  # fmt: skip
def test_errors_are_one_line(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(message) and "\n" not in err


def test_eval_rejects_wrong_input_size(tmp_path, capsys):
    import zoo

    path = zoo.export("fedssl-byol-resnet18", tmp_path / "ssl.onnx")
    assert main(["zoo", "eval", str(path), "--task", "face"]) == 1
    assert "has shape ['batch', 3, 32, 32]; the task feeds images of shape [3, 112, 112]" in capsys.readouterr().err
