"""Every new edit on a real torch export (a small re-id net with BatchNorm, Resize, Dropout, dynamic batch)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import modelps
from modelps.runtime import make_inputs, run

torch = pytest.importorskip("torch")
nn = torch.nn

pytestmark = pytest.mark.slow

EMB = "/neck/BatchNormalization_output_0"


class _Block(nn.Module):  # type: ignore[misc]
    def __init__(self, c: int) -> None:
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.c2, self.b2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)

    def forward(self, x: Any) -> Any:
        return torch.relu(x + self.b2(self.c2(torch.relu(self.b1(self.c1(x))))))


class _ReID(nn.Module):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.stem, self.bn = nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16)
        self.l1, self.l2 = _Block(16), _Block(16)
        self.pool, self.neck = nn.AdaptiveAvgPool2d(1), nn.BatchNorm1d(16)
        self.drop, self.cls = nn.Dropout(0.5), nn.Linear(16, 10)

    def forward(self, x: Any) -> Any:
        x = self.l2(self.l1(torch.relu(self.bn(self.stem(x)))))
        emb = self.neck(self.pool(x).flatten(1))
        up = nn.functional.interpolate(x, scale_factor=2.0, mode="nearest")
        return self.cls(self.drop(emb)), up.mean(dim=(1, 2, 3))


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    net = _ReID().eval()
    for module in net.modules():
        if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    path = tmp_path_factory.mktemp("reid") / "reid.onnx"
    torch.onnx.export(
        net,
        (torch.randn(2, 3, 64, 32),),
        str(path),
        input_names=["image"],
        output_names=["logits", "aux"],
        dynamic_axes={"image": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )
    return path


CASES: dict[str, tuple[list[dict[str, Any]], float | None]] = {
    # name: (edits, max abs difference allowed on the common outputs; None = outputs change on purpose)
    "set_input_shape": ([{"op": "set_input_shape", "input": "image", "axis": 3, "dim": "width"}], 0.0),
    "simplify": ([{"op": "simplify"}], 1e-5),
    "optimize": ([{"op": "simplify", "method": "optimize"}], 1e-5),
    "convert_opset": ([{"op": "convert_opset", "target": 21}], 1e-5),
    "to_fp16": ([{"op": "to_fp16"}], 1e-2),
    "insert_node": ([{"op": "insert_node", "tensor": EMB, "op_type": "Mul", "constants": [0.5]}], None),
    "replace_op": (
        [{"op": "replace_op", "node": "/l1/Relu", "op_type": "LeakyRelu", "attributes": {"alpha": 0.1}}],
        None,
    ),
    "pipeline": (
        [
            {"op": "simplify"},
            {"op": "convert_opset", "target": 21},
            {"op": "to_fp16"},
            {"op": "set_input_shape", "input": "image", "axis": 0, "dim": "n"},
        ],
        1e-2,
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_edit_on_exported_model(exported: Path, case: str) -> None:
    edits, tolerance = CASES[case]
    original = modelps.Model.load(exported)
    feeds = make_inputs(original.ir, seed=0, batch=3)
    expected = run(original.ir, feeds)
    m = modelps.Model.load(exported, validation="runtime")
    for edit in edits:
        m.apply(edit)
    got = run(m.ir, feeds)
    assert set(got) == {"logits", "aux"}
    if tolerance is None:
        assert not np.allclose(got["logits"], expected["logits"])
    else:
        for key in expected:
            np.testing.assert_allclose(got[key].astype(np.float32), expected[key], atol=tolerance, rtol=tolerance)
    replayed = modelps.Model.load(exported)
    replayed.apply_recipe(modelps.Recipe.from_json(m.recipe.to_json()))
    assert replayed.to_bytes() == m.to_bytes()
    for _ in edits:
        m.undo()
    assert m.to_bytes() == original.to_bytes()


def test_extract_embedding_matches_the_full_model(exported: Path) -> None:
    full = modelps.Model.load(exported)
    full.apply({"op": "add_output", "tensor": EMB})
    m = modelps.Model.load(exported)
    m.apply({"op": "extract", "inputs": ["image"], "outputs": [EMB]})
    assert {n.op_type for n in m.ir.graph}.isdisjoint({"Gemm", "Resize", "ReduceMean"})
    feeds = make_inputs(m.ir, seed=1, batch=4)
    np.testing.assert_array_equal(run(m.ir, feeds)[EMB], run(full.ir, feeds)[EMB])


def test_set_initializer_replaces_the_classifier(
    exported: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    weight = np.eye(10, 16, dtype=np.float32)
    np.save("cls_w.npy", weight)
    m = modelps.Model.load(exported)
    full = modelps.Model.load(exported)
    full.apply({"op": "add_output", "tensor": EMB})
    m.apply({"op": "set_initializer", "name": "cls.weight", "path": "cls_w.npy"})
    assert m.reports[-1].fidelity is not None  # a weight change is measured
    bias = m.ir.graph.initializers["cls.bias"].const_value.numpy()
    feeds = make_inputs(m.ir, seed=0, batch=2)
    embedding = run(full.ir, feeds)[EMB].reshape(2, -1)
    np.testing.assert_allclose(run(m.ir, feeds)["logits"], embedding @ weight.T + bias, rtol=1e-5, atol=1e-5)
    # zeroing it makes every input give the same logits: refused, the model kept as it was
    np.save("zero.npy", np.zeros((10, 16), np.float32))
    with pytest.raises(modelps.EditError, match="output 'logits' collapsed"):
        m.apply({"op": "set_initializer", "name": "cls.weight", "path": "zero.npy"})
    np.testing.assert_allclose(run(m.ir, feeds)["logits"], embedding @ weight.T + bias, rtol=1e-5, atol=1e-5)


def test_opset_downgrade_below_batchnorm_adapter_is_refused(exported: Path) -> None:
    m = modelps.Model.load(exported)
    before = m.to_bytes()
    with pytest.raises(modelps.EditError, match="cannot convert from opset 17 to 13: .*BatchNormalization"):
        m.apply({"op": "convert_opset", "target": 13})
    assert m.to_bytes() == before
