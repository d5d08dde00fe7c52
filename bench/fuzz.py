"""Coverage-guided fuzzing (atheris) of model loading and recipe parsing.

    python bench/fuzz.py load   --seconds 300     # bytes -> a model file -> Model.load, inspect, save
    python bench/fuzz.py recipe --seconds 300     # bytes -> recipe JSON -> parse -> apply to a small model
    python bench/fuzz.py all    --seconds 600     # both, half the time each, summary in bench/fuzz.json

A *crash* is any exception that is not a ``modelps`` error with a one-line message: a user of the
CLI must always get "modelps: error: <reason>", never a traceback. Crashing inputs are written to
``bench/fuzz-crashes/`` and the run stops at the first one. Seeds: the test suite's small models
(including ``If``/``Loop`` bodies and external data references) and recipes of every edit.
Needs ``pip install atheris`` (not a project dependency).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RECIPES = [
    [{"op": "rename", "kind": "node", "old": "n0", "new": "a"}],
    [{"op": "remove_node", "node": "n1"}],
    [{"op": "add_output", "tensor": "a"}, {"op": "remove_output", "output": "y"}],
    [{"op": "set_attribute", "node": "n0", "name": "alpha", "value": 0.5}],
    [{"op": "insert_node", "tensor": "a", "op_type": "Relu"}],
    [{"op": "replace_op", "node": "n0", "op_type": "Sigmoid"}],
    [{"op": "set_input_shape", "input": "x", "shape": ["N", 4]}],
    [{"op": "extract", "inputs": ["x"], "outputs": ["a"]}],
    [{"op": "simplify"}, {"op": "convert_opset", "target": 18}],
    [{"op": "to_fp16"}],
    [{"op": "set_initializer", "name": "w", "values": [1, 2, 3, 4]}],
]


def _seed_models(folder: Path) -> None:
    from modelps.io import save
    from tests.models import CHAIN, IF_MODEL, LOOP_MODEL, model_from_text, with_conv_weights

    for name, model in {
        "chain": model_from_text(CHAIN),
        "if": model_from_text(IF_MODEL),
        "loop": model_from_text(LOOP_MODEL),
        "conv": with_conv_weights(),
    }.items():
        save(model, folder / f"{name}.onnx")


def _seed_recipes(folder: Path) -> None:
    for index, edits in enumerate(RECIPES):
        (folder / f"r{index}.json").write_text(json.dumps({"modelps_recipe": 1, "edits": edits}))


def _is_clean(exc: BaseException) -> bool:
    from modelps.errors import ModelPSError

    text = str(exc)
    return isinstance(exc, ModelPSError) and bool(text) and "\n" not in text.strip() and "Traceback" not in text


def target_load(data: bytes) -> None:
    """Write ``data`` as a model file, load it, inspect it, save it again."""
    from modelps import Model
    from modelps.inspect import summarize

    with tempfile.TemporaryDirectory(prefix="fuzz-") as folder:
        path = Path(folder, "m.onnx")
        path.write_bytes(data)
        try:
            model = Model.load(path, validation="structure")
            summarize(model.ir)
            model.save(Path(folder, "out.onnx"))
        except Exception as exc:
            if not _is_clean(exc):
                raise


_BASE = None


def target_recipe(data: bytes) -> None:
    """Parse ``data`` as recipe JSON and apply it to a small model (full validation)."""
    from modelps import Model, Recipe
    from tests.models import CHAIN, model_from_text

    global _BASE
    if _BASE is None:
        _BASE = model_from_text(CHAIN.replace("Relu(x)", "LeakyRelu(x)"))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return
    try:
        recipe = Recipe.from_json(text)
        Model(_BASE.clone(), measure=False).apply_recipe(recipe, check_base=False)
    except Exception as exc:
        if not _is_clean(exc):
            raise


def run_one(name: str, seconds: int, corpus: Path, crashes: Path) -> dict:
    """Run one target in a child process (atheris owns the process); return its statistics."""
    crashes.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, __file__, "_child", name, str(corpus), f"-max_total_time={seconds}",
        f"-artifact_prefix={crashes}/{name}-", "-rss_limit_mb=4096", "-print_final_stats=1",
    ]  # fmt: skip
    started = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    log = result.stdout + result.stderr
    stats = {"target": name, "seconds": round(time.monotonic() - started), "exit": result.returncode}
    for line in log.splitlines():
        if line.startswith("stat::"):
            key, _, value = line.removeprefix("stat::").partition(":")
            stats[key.strip()] = int(value.strip())
        if line.startswith("#") and "cov:" in line:
            parts = line.split()
            stats["coverage"] = int(parts[parts.index("cov:") + 1])
    stats["crashes"] = sorted(p.name for p in crashes.glob(f"{name}-*"))
    if result.returncode not in (0,):
        stats["tail"] = log.splitlines()[-30:]
    return stats


def _child(name: str, corpus: str, extra: list[str]) -> None:
    import atheris

    with atheris.instrument_imports():
        import modelps  # noqa: F401
        import modelps.edits  # noqa: F401
        import modelps.inspect  # noqa: F401
    target = target_load if name == "load" else target_recipe
    atheris.Setup([sys.argv[0], corpus, *extra], target)
    atheris.Fuzz()


def main() -> None:
    """Run the targets and write bench/fuzz.json."""
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        _child(sys.argv[2], sys.argv[3], sys.argv[4:])
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("target", choices=["load", "recipe", "all"])
    parser.add_argument("--seconds", type=int, default=600)
    args = parser.parse_args()
    os.environ.setdefault("PYTHONPATH", str(ROOT))
    results = []
    names = ["load", "recipe"] if args.target == "all" else [args.target]
    with tempfile.TemporaryDirectory(prefix="fuzz-corpus-") as tmp:
        for name in names:
            corpus = Path(tmp, name)
            corpus.mkdir()
            (_seed_models if name == "load" else _seed_recipes)(corpus)
            seconds = args.seconds // len(names)
            results.append(run_one(name, seconds, corpus, ROOT / "bench" / "fuzz-crashes"))
            print(json.dumps(results[-1], indent=1))
    (ROOT / "bench" / "fuzz.json").write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
