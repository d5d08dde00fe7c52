"""The built-in edits, one module each, and the registry that names them.

Use :func:`edit_from_dict` to build an edit from recipe JSON and :func:`available_edits` to list
them. Each edit's docstring says what it handles and what it refuses.
"""

from __future__ import annotations

import importlib

from modelps.edits._base import Edit, available_edits, edit_from_dict, get_edit, register

__all__ = ["Edit", "available_edits", "edit_from_dict", "get_edit", "register"]

_BUILTIN_MODULES = (
    "add_output",
    "convert_opset",
    "extract",
    "insert_node",
    "merge",
    "prune_channels",
    "quantize_int8",
    "remove_node",
    "remove_output",
    "rename",
    "replace_op",
    "set_attribute",
    "set_initializer",
    "set_input_shape",
    "simplify",
    "to_fp16",
)

for _name in _BUILTIN_MODULES:
    try:
        importlib.import_module(f"{__name__}.{_name}")
    except ModuleNotFoundError as _exc:  # an edit module not written yet
        if _exc.name != f"{__name__}.{_name}":
            raise
