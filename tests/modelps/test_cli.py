"""The ``modelps`` command line, run as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from modelps import cli
from modelps.cli import build_parser
from modelps.io import save
from tests.models import with_conv_weights

ROOT = Path(__file__).resolve().parents[2]


def modelps(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "modelps", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
    )


@pytest.fixture()
def model_path(tmp_path: Path) -> Path:
    path = tmp_path / "net.onnx"
    save(with_conv_weights(), path)
    return path


def _commands() -> list[list[str]]:
    parser = build_parser()
    found = []
    action = next(a for a in parser._actions if a.dest == "command")
    for name, sub in action.choices.items():
        nested = [
            a for a in sub._actions if getattr(a, "choices", None) and a.dest != "help" and isinstance(a.choices, dict)
        ]
        if nested:
            found += [[name, child] for child in nested[0].choices]
        else:
            found.append([name])
    return found


@pytest.mark.parametrize("command", _commands(), ids=lambda c: " ".join(c))
def test_every_command_has_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args([*command, "--help"])
    assert info.value.code == 0
    assert "usage: modelps" in capsys.readouterr().out


def test_inspect_json(model_path: Path) -> None:
    result = modelps("inspect", model_path, "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert {"inputs", "outputs", "nodes", "op_counts", "params", "flops", "opset"} <= set(data)
    assert data["nodes"] == 5 and data["params"] == 260 and data["opset"] == {"": 13}
    assert data["flops"] is None and "x[0]=N" in data["flops_note"]  # a symbolic batch: no guessed number


def test_inspect_with_shape(model_path: Path) -> None:
    result = modelps("inspect", model_path, "--shape", "x:2x3x8x8")
    assert result.returncode == 0, result.stderr
    assert "FLOPs      58,504 (27,712 MACs)" in result.stdout
    bad = modelps("inspect", model_path, "--shape", "x:2x3")
    assert bad.returncode != 0 and bad.stderr.strip() == ("modelps: error: input 'x' has rank 4, the shape given has 2")


def test_edit_diff_compare(model_path: Path, tmp_path: Path) -> None:
    recipe = tmp_path / "r.json"
    recipe.write_text(json.dumps({"modelps_recipe": 1, "edits": [{"op": "add_output", "tensor": "r"}]}))
    out = tmp_path / "out.onnx"
    result = modelps("edit", model_path, "--recipe", recipe, "-o", out, "--recipe-out", tmp_path / "full.json")
    assert result.returncode == 0, result.stderr
    full = json.loads((tmp_path / "full.json").read_text())
    assert full["edits"] == [{"op": "add_output", "tensor": "r"}]
    assert len(full["base"]["sha256"]) == 64
    diff = json.loads(modelps("diff", model_path, out, "--json").stdout)
    assert diff["outputs"] == {"r": [None, {"dtype": "float", "shape": ["N", 8, 8, 8]}]}
    compared = json.loads(modelps("compare", model_path, out, "--json").stdout)
    assert compared["close"] and compared["only_in_b"] == ["r"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["inspect", "missing.onnx"], "modelps: error: missing.onnx: no such model file"),
        (["edit", "net.onnx", "-o", "o.onnx"], "modelps: error: nothing to do: give --recipe and/or --edit"),
        (["edit", "net.onnx", "-o", "o.onnx", "--edit", "{bad"], "modelps: error: --edit is not valid JSON"),
        (["edit", "net.onnx", "-o", "o.onnx", "--edit", '{"op": "zap"}'], "modelps: error: unknown edit 'zap'"),
        (
            ["edit", "net.onnx", "-o", "o.onnx", "--edit", '{"op": "remove_node", "node": "n9"}'],
            "modelps: error: remove_node: edit #1: no node named 'n9' in the graph",
        ),
        (["inspect"], "modelps inspect: error: the following arguments are required: model"),
        (["frobnicate"], "modelps: error: argument COMMAND: invalid choice: 'frobnicate'"),
    ],
)
def test_failures_print_one_line(model_path: Path, args: list[str], message: str) -> None:
    result = modelps(*args, cwd=model_path.parent)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(message)
    assert "Traceback" not in result.stderr
    assert not (model_path.parent / "o.onnx").exists()


def test_garbage_model_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07garbage" * 50)
    result = modelps("inspect", bad)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "not a valid ONNX model" in result.stderr


def test_replaying_a_recipe_gives_identical_files(model_path: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "first.onnx", tmp_path / "second.onnx"
    edit = '{"op": "rename", "kind": "tensor", "old": "r", "new": "relu_out"}'
    assert modelps("edit", model_path, "--edit", edit, "-o", first, "--recipe-out", tmp_path / "r.json").returncode == 0
    assert modelps("edit", model_path, "--recipe", tmp_path / "r.json", "-o", second).returncode == 0
    assert first.read_bytes() == second.read_bytes()
    other = tmp_path / "other.onnx"
    save(with_conv_weights(seed=9), other)
    result = modelps("edit", other, "--recipe", tmp_path / "r.json", "-o", tmp_path / "x.onnx")
    assert result.returncode == 1 and "the recipe was made for base model" in result.stderr


def test_a_missing_optional_dependency_hides_only_its_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "needs_missing_dep.py").write_text("import modelps_test_absent_dependency\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("modelps.cli.core", "needs_missing_dep.cli"))
    monkeypatch.setattr(cli, "_extra", lambda module: "sessions")
    parser = cli.build_parser()
    assert parser.epilog == (
        "Commands not available here: needs_missing_dep (needs modelps_test_absent_dependency: "
        "pip install 'modelps[sessions]')"
    )
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["inspect", "--help"])  # the core commands still work
    assert exit_info.value.code == 0
    assert "usage: modelps inspect" in capsys.readouterr().out
