"""The public API of ``modelps`` is pinned: changing it is a deliberate act."""

from __future__ import annotations

import modelps


def test_public_names() -> None:
    assert sorted(modelps.__all__) == [
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
    for name in modelps.__all__:
        assert hasattr(modelps, name), name


def test_core_imports_no_heavy_packages() -> None:
    import subprocess
    import sys

    heavy = "('torch', 'streamlit', 'sqlalchemy', 'starlette')"
    code = f"import sys, modelps, modelps.cli; print(sorted(m for m in {heavy} if m in sys.modules))"
    import os
    from pathlib import Path

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    out = out.strip()
    assert out == "[]"


def test_builtin_edits_are_registered() -> None:
    names = set(modelps.available_edits())
    assert {"remove_node", "add_output", "remove_output", "set_attribute", "rename"} <= names
