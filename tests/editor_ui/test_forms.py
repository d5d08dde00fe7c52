from __future__ import annotations

import pytest

from editor_ui import forms
from modelps.edits import available_edits
from modelps.errors import EditError


def test_every_registered_edit_has_a_form() -> None:
    for op in available_edits():
        fields = forms.form_fields(op)
        assert fields, op
        assert all(f.kind in ("text", "int", "float", "bool", "json", "choice") for f in fields)
        assert forms.edit_doc(op)


def test_remove_node_form_parses_and_prefills() -> None:
    fields = {f.name: f for f in forms.form_fields("remove_node")}
    assert fields["node"].required and fields["node"].picker == "node"
    assert forms.prefill("remove_node", "/a/Relu", None)["node"] == "/a/Relu"
    assert forms.parse_form("remove_node", {"node": " /a/Relu "}) == {"op": "remove_node", "node": "/a/Relu"}


def test_missing_required_field_is_named() -> None:
    with pytest.raises(EditError, match="parameter 'node' is required"):
        forms.parse_form("remove_node", {"node": ""})


def test_json_fields_parse_values_and_bare_words() -> None:
    data = forms.parse_form("set_attribute", {"node": "n", "name": "axis", "value": "[1, 2]"})
    assert data["value"] == [1, 2]
    data = forms.parse_form("set_attribute", {"node": "n", "name": "mode", "value": "nearest"})
    assert data["value"] == "nearest"
    with pytest.raises(EditError, match="not valid JSON"):
        forms.parse_form("set_attribute", {"node": "n", "name": "x", "value": "[1, 2"})


def test_optional_defaults_are_left_out() -> None:
    data = forms.parse_form("set_attribute", {"node": "n", "name": "alpha", "value": "", "type": ""})
    assert data == {"op": "set_attribute", "node": "n", "name": "alpha"}


@pytest.mark.parametrize(
    ("text", "dims"),
    [
        ("1,3,256,128", [1, 3, 256, 128]),
        ("[1,3,256,128]", [1, 3, 256, 128]),
        ("batch,3,h,w", ["batch", 3, "h", "w"]),
        ('["batch", 3, "h", "w"]', ["batch", 3, "h", "w"]),
        (" ( 1, 3 ) ", [1, 3]),
        ("1×3×8×8", [1, 3, 8, 8]),
    ],
)
def test_shape_field_accepts_what_people_type(text: str, dims: list) -> None:
    """Regression: the shape field demanded JSON."""
    assert forms.parse_form("set_input_shape", {"input": "x", "shape": text}) == {
        "op": "set_input_shape",
        "input": "x",
        "shape": dims,
    }


def test_bad_shape_dimension_is_named() -> None:
    with pytest.raises(EditError, match=r"cannot read '3\.5'"):
        forms.parse_form("set_input_shape", {"input": "x", "shape": "1,3.5"})
