from __future__ import annotations

import pytest

from editor_ui import opening
from modelps.errors import ModelLoadError


def test_upload_opens_a_workspace(small_model_path) -> None:
    ws = opening.open_upload("my model.onnx", small_model_path.read_bytes(), user="carol")
    assert ws.name == "my model" and ws.user == "carol" and len(ws.model.ir.graph) == 30


def test_upload_size_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELPS_UI_MAX_UPLOAD_MB", "1")
    with pytest.raises(ModelLoadError, match=r"the file is 2\.0 MB; the upload limit is 1 MB"):
        opening.open_upload("big.onnx", b"\0" * (2 << 20), user="u")


def test_bad_files_get_a_clear_error_naming_the_file() -> None:
    with pytest.raises(ModelLoadError, match=r"^empty\.onnx: the file is empty$"):
        opening.open_upload("empty.onnx", b"", user="u")
    with pytest.raises(ModelLoadError) as info:
        opening.open_upload("junk.onnx", b"this is not a protobuf at all" * 10, user="u")
    assert str(info.value).startswith("junk.onnx: ")
    assert "/tmp" not in str(info.value)


def test_truncated_model_is_refused(small_model_path) -> None:
    data = small_model_path.read_bytes()
    with pytest.raises(ModelLoadError, match=r"^cut\.onnx: "):
        opening.open_upload("cut.onnx", data[: len(data) // 2], user="u")
