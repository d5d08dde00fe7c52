"""Loading and saving, including hostile files and external-data references."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
import onnx_ir as ir
import pytest

from modelps import Model, ModelLoadError, ModelSaveError, UnsafeModelError
from modelps.io import load, model_bytes, save
from modelps.runtime import make_inputs, run
from tests.models import with_conv_weights


@pytest.fixture()
def external_model(tmp_path: Path) -> Path:
    """CONV_NET saved with every initializer in ``weights.bin``."""
    folder = tmp_path / "model"
    folder.mkdir()
    save(with_conv_weights(), folder / "model.onnx", external_data="weights.bin", size_threshold_bytes=0)
    return folder / "model.onnx"


def _rewrite_external(path: Path, tensor: str, **entries: str) -> None:
    """Rewrite (or add) external-data entries of one initializer in a saved model."""
    proto = onnx.load(str(path), load_external_data=False)
    for init in proto.graph.initializer:
        if init.name == tensor:
            current = {e.key: e.value for e in init.external_data}
            current.update(entries)
            del init.external_data[:]
            for key, value in current.items():
                init.external_data.add(key=key, value=value)
    onnx.save(proto, str(path))


def test_external_data_round_trip_gives_same_outputs(external_model: Path) -> None:
    original = with_conv_weights()
    loaded = load(external_model)
    feeds = make_inputs(original, seed=1)
    np.testing.assert_array_equal(run(loaded, feeds)["y"], run(original, feeds)["y"])
    assert isinstance(loaded.graph.initializers["w"].const_value, ir.ExternalTensor)


@pytest.mark.parametrize(
    ("location", "message"),
    [
        ("../weights.bin", "leaves the model's folder"),
        ("sub/../../weights.bin", "leaves the model's folder"),
        ("/etc/passwd", "is an absolute path"),
        ("C:\\Windows\\win.ini", "is an absolute path"),
        ("missing.bin", "does not exist"),
        ("sub", "is not a regular file"),
    ],
)
def test_unsafe_locations_are_refused(external_model: Path, location: str, message: str) -> None:
    (external_model.parent / "sub").mkdir()
    _rewrite_external(external_model, "w", location=location)
    with pytest.raises(UnsafeModelError, match=message) as info:
        load(external_model)
    assert "initializer 'w'" in str(info.value)


def test_symlink_out_of_folder_is_refused(external_model: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.bin"
    secret.write_bytes(b"\0" * 4096)
    os.symlink(secret, external_model.parent / "link.bin")
    _rewrite_external(external_model, "w", location="link.bin")
    with pytest.raises(UnsafeModelError, match="resolves outside the model's folder"):
        load(external_model)


def test_symlink_inside_folder_is_refused(external_model: Path) -> None:
    os.symlink(external_model.parent / "weights.bin", external_model.parent / "alias.bin")
    _rewrite_external(external_model, "w", location="alias.bin")
    with pytest.raises(UnsafeModelError, match="is a symbolic link"):
        load(external_model)


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ({"basepath": "/etc"}, r"unknown external-data key\(s\) \['basepath'\]"),
        ({"length": str(1 << 60)}, "lie beyond the end"),
        ({"offset": str(1 << 40)}, "lie beyond the end"),
        ({"offset": "-8"}, "offset -8 is negative"),
        ({"offset": "ten"}, "offset 'ten' is not an integer"),
        ({"length": "12"}, "needs 864 bytes but length is 12"),
    ],
)
def test_bad_external_entries_are_refused(external_model: Path, entries: dict[str, str], message: str) -> None:
    _rewrite_external(external_model, "w", **entries)
    with pytest.raises(UnsafeModelError, match=message):
        load(external_model)


def test_short_data_file_is_refused(external_model: Path) -> None:
    data = external_model.parent / "weights.bin"
    data.write_bytes(data.read_bytes()[:100])
    with pytest.raises(UnsafeModelError, match="beyond the end of 'weights.bin'"):
        load(external_model)


def test_huge_declared_dims_are_refused(tmp_path: Path) -> None:
    proto = ir.to_proto(with_conv_weights())
    proto.graph.initializer[0].dims[:] = [1 << 30, 1 << 30, 1 << 30]
    path = tmp_path / "huge.onnx"
    onnx.save(proto, str(path))
    with pytest.raises(UnsafeModelError, match="implausibly large"):
        load(path)


def test_inline_size_mismatch_is_refused(tmp_path: Path) -> None:
    proto = ir.to_proto(with_conv_weights())
    proto.graph.initializer[0].dims[0] = 9
    path = tmp_path / "mismatch.onnx"
    onnx.save(proto, str(path))
    with pytest.raises(UnsafeModelError, match="needs 972 bytes but the tensor carries 864"):
        load(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"\xff\xfe garbage \x00\x01" * 10, "not a valid ONNX model"),
        (b"hello world, not a model", "not a valid ONNX model"),
    ],
)
def test_garbage_files_are_refused(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.onnx"
    path.write_bytes(content)
    with pytest.raises(ModelLoadError, match=message):
        Model.load(path)


def test_truncated_model_is_refused_at_every_cut(tmp_path: Path) -> None:
    data = model_bytes(with_conv_weights())
    path = tmp_path / "cut.onnx"
    for cut in range(1, len(data), max(1, len(data) // 60)):
        path.write_bytes(data[:cut])
        with pytest.raises(ModelLoadError):
            load(path)


def test_missing_file() -> None:
    with pytest.raises(ModelLoadError, match="no such model file"):
        load("/nonexistent/model.onnx")


def test_save_refuses_folder_in_external_name(tmp_path: Path) -> None:
    with pytest.raises(ModelSaveError, match="must be a plain file name"):
        save(with_conv_weights(), tmp_path / "m.onnx", external_data="../escape.bin")


def test_save_refuses_writing_through_symlink(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.bin"
    target.write_bytes(b"keep")
    os.symlink(target, tmp_path / "w.bin")
    with pytest.raises(ModelSaveError, match="symbolic link"):
        save(with_conv_weights(), tmp_path / "m.onnx", external_data="w.bin")
    assert target.read_bytes() == b"keep"


def test_save_without_external_data_is_deterministic(tmp_path: Path) -> None:
    model = Model(with_conv_weights())
    model.save(tmp_path / "a.onnx")
    model.save(tmp_path / "b.onnx")
    assert (tmp_path / "a.onnx").read_bytes() == (tmp_path / "b.onnx").read_bytes()
    assert Model.load(tmp_path / "a.onnx").to_bytes() == model.to_bytes()


def test_names_that_are_not_utf8_are_refused_at_load(tmp_path: Path) -> None:
    # found by bench/fuzz.py: such a name loaded, then every save or inspect crashed in serialization
    from tests.models import LOOP_MODEL, model_from_text

    data = model_bytes(model_from_text(LOOP_MODEL))
    assert data.count(b"Constant") == 1
    path = tmp_path / "bad.onnx"
    path.write_bytes(data.replace(b"Constant", b"o\xd8nCsant"))
    with pytest.raises(
        ModelLoadError, match=r"not a valid ONNX model \(a op_type is not UTF-8 text: b'o\\xd8nCsant'\)"
    ):
        load(path)


def test_attributes_without_a_type_are_refused_at_load(tmp_path: Path) -> None:
    # found by bench/fuzz.py: a Loop body attribute of type UNDEFINED loaded, then nothing could save it
    from tests.models import LOOP_MODEL, model_from_text

    proto = ir.to_proto(model_from_text(LOOP_MODEL))
    next(a for n in proto.graph.node for a in n.attribute if a.name == "body").type = onnx.AttributeProto.UNDEFINED
    path = tmp_path / "bad.onnx"
    path.write_bytes(proto.SerializeToString())
    with pytest.raises(ModelLoadError, match="attribute 'body' has no valid type: 0"):
        load(path)


def test_dim_names_that_are_not_utf8_are_refused_at_load(tmp_path: Path) -> None:
    # found by bench/fuzz.py: a symbolic dim that is not UTF-8 text crashed inspect and save
    from tests.models import CHAIN, model_from_text

    data = model_bytes(model_from_text(CHAIN.replace("[N, 4]", "[Zbatchdim, 4]")))
    path = tmp_path / "bad.onnx"
    path.write_bytes(data.replace(b"Zbatchdim", b"\xcebatchdim"))
    with pytest.raises(ModelLoadError, match=r"a dim_param is not UTF-8 text: b'\\xcebatchdim'"):
        load(path)


def test_tensors_of_undefined_type_are_refused_at_load(tmp_path: Path) -> None:
    # found by bench/fuzz.py: a Constant holding a tensor of element type UNDEFINED crashed inspect
    from tests.models import LOOP_MODEL, model_from_text

    proto = ir.to_proto(model_from_text(LOOP_MODEL))
    proto.graph.node[0].attribute[0].t.data_type = onnx.TensorProto.UNDEFINED
    path = tmp_path / "bad.onnx"
    path.write_bytes(proto.SerializeToString())
    with pytest.raises(ModelLoadError, match=r"attribute 'value' of node .*: not a valid tensor \(element type 0"):
        load(path)


def test_tensor_attributes_without_a_tensor_are_refused_at_load(tmp_path: Path) -> None:
    # found by bench/fuzz.py: a Constant whose TENSOR attribute carried no tensor crashed inspect
    from tests.models import LOOP_MODEL, model_from_text

    proto = ir.to_proto(model_from_text(LOOP_MODEL))
    proto.graph.node[0].attribute[0].ClearField("t")
    path = tmp_path / "bad.onnx"
    path.write_bytes(proto.SerializeToString())
    with pytest.raises(ModelLoadError, match="attribute 'value' is a TENSOR without one"):
        load(path)
