"""A model with more than 2 GB of weights opens, edits, validates and saves in little memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import onnx
import pytest

from modelps import Model, ModelSaveError

WIDTH = 16384  # two float32 [16384, 16384] weights: 2 x 1 GiB
ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import json, sys
from pathlib import Path
from modelps import Model
model = Model.load(sys.argv[1])
model.apply({"op": "rename", "kind": "node", "old": "mm0", "new": "first_matmul"})
model.apply({"op": "add_output", "tensor": "h1"})
model.undo()
model.apply({"op": "add_output", "tensor": "h1"})
model.validate("full")
model.save(sys.argv[2], external_data="weights.bin")
status = Path("/proc/self/status").read_text().splitlines()
peak_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))  # not inherited across exec
print(json.dumps({"peak_mb": peak_kb / 1024}))
"""


def _sparse_large_model(folder: Path) -> Path:
    """Write a 2-layer MatMul model whose 2 GiB of zero weights live in a sparse file (no disk used)."""
    proto = onnx.ModelProto(ir_version=8)
    proto.opset_import.add(domain="", version=17)
    graph = proto.graph
    graph.name = "large"
    nbytes = WIDTH * WIDTH * 4
    for i in range(2):
        tensor = graph.initializer.add(name=f"w{i}", data_type=onnx.TensorProto.FLOAT, dims=[WIDTH, WIDTH])
        tensor.data_location = onnx.TensorProto.EXTERNAL
        for key, value in (("location", "data.bin"), ("offset", str(i * nbytes)), ("length", str(nbytes))):
            tensor.external_data.add(key=key, value=value)
        graph.node.add(op_type="MatMul", input=["x" if i == 0 else "h1", f"w{i}"], output=[f"m{i}"], name=f"mm{i}")
        graph.node.add(op_type="Relu", input=[f"m{i}"], output=[f"h{i + 1}"], name=f"relu{i}")
    for name, where in (("x", graph.input), ("h2", graph.output)):
        info = where.add(name=name)
        info.type.tensor_type.elem_type = onnx.TensorProto.FLOAT
        for dim in (1, WIDTH):
            info.type.tensor_type.shape.dim.add(dim_value=dim)
    with open(folder / "data.bin", "wb") as data:
        data.truncate(2 * nbytes)
    onnx.save(proto, str(folder / "large.onnx"))
    return folder / "large.onnx"


@pytest.mark.slow
def test_large_model_edits_in_little_memory(tmp_path: Path) -> None:
    source = tmp_path / "in"
    source.mkdir()
    path = _sparse_large_model(source)
    out = tmp_path / "out"
    out.mkdir()
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(path), str(out / "edited.onnx")],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=True,
    )
    peak = json.loads(result.stdout.strip().splitlines()[-1])["peak_mb"]
    assert peak < 500, f"peak memory {peak:.0f} MB"
    saved = onnx.load(str(out / "edited.onnx"), load_external_data=False)
    assert [o.name for o in saved.graph.output] == ["h2", "h1"]
    assert saved.graph.node[0].name == "first_matmul"
    assert (out / "weights.bin").stat().st_size >= 2 * WIDTH * WIDTH * 4
    with pytest.raises(ModelSaveError, match="too large for one file"):
        Model.load(out / "edited.onnx", validation="structure").save(tmp_path / "single.onnx")
