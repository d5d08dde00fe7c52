"""ModelPS core: load any ONNX model, edit it, record a replayable recipe, validate, inspect and diff.

The public API::

    import modelps
    m = modelps.Model.load("model.onnx")
    m.apply({"op": "add_output", "tensor": "/layer3/Relu_output_0"})
    m.undo(); m.redo()
    m.recipe.save("recipe.json")
    m.save("edited.onnx")
"""

from __future__ import annotations

from modelps.edits import Edit, available_edits, edit_from_dict, get_edit, register
from modelps.errors import (
    ComparisonError,
    EditError,
    ModelLoadError,
    ModelPSError,
    ModelSaveError,
    RecipeError,
    UnknownEditError,
    UnsafeModelError,
    ValidationError,
)
from modelps.io import file_sha256, load, save
from modelps.model import Model
from modelps.recipe import Recipe
from modelps.validate import validate

__all__ = [
    "ComparisonError",
    "Edit",
    "EditError",
    "Model",
    "ModelLoadError",
    "ModelPSError",
    "ModelSaveError",
    "Recipe",
    "RecipeError",
    "UnknownEditError",
    "UnsafeModelError",
    "ValidationError",
    "__version__",
    "available_edits",
    "edit_from_dict",
    "file_sha256",
    "get_edit",
    "load",
    "register",
    "save",
    "validate",
]

__version__ = "0.1.0"
