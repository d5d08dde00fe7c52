"""Editing benchmark: ModelPS vs raw ``onnx`` protobuf vs onnx-graphsurgeon, in the same run.

For each model (a ResNet-50 export, a generated 30,000-node graph, a model with > 2 GB of
weights) and each tool, a fresh process loads the model, applies the same three edits (rename a
node, rename a tensor, expose an intermediate tensor as an output), undoes them, and saves the
result. It reports load time, median per-edit and per-undo time, save time and peak memory (RSS).
Tools are run interleaved, ``--repeats`` times, and medians are reported.

Undo: ModelPS replays the edit's inverse. Protobuf and graphsurgeon have no undo, so those
variants snapshot the model before each edit (``CopyFrom`` / ``Graph.copy``) and restore it; the
snapshot is counted in the edit time, the restore in the undo time.

Usage::

    python bench/editing.py [--repeats 3] [--models resnet50,graph30k,large] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ("modelps", "modelps-full", "onnx", "graphsurgeon")
WORK = Path(os.environ.get("MODELPS_BENCH_DIR", Path(tempfile.gettempdir()) / "modelps-bench"))


# ---------------------------------------------------------------------------------------------
# model preparation
# ---------------------------------------------------------------------------------------------
def prepare_resnet50(folder: Path) -> Path:
    path = folder / "resnet50.onnx"
    if not path.exists():
        import zoo

        zoo.export("fedreid-resnet50", path, weights="seeded")
    return path


def prepare_graph30k(folder: Path, nodes: int = 30_000) -> Path:
    import onnx_ir as ir

    path = folder / "graph30k.onnx"
    if path.exists():
        return path
    x = ir.Value(name="x", type=ir.TensorType(ir.DataType.FLOAT), shape=ir.Shape([1, 64]))
    graph = ir.Graph([x], [], nodes=[], opset_imports={"": 17}, name="graph30k")
    current, skip = x, x
    for i in range(nodes // 3):
        const = ir.Value(name=f"c{i}", const_value=ir.tensor(np.full(64, 0.001 * (i % 7), np.float32), name=f"c{i}"))
        const.type, const.shape = ir.TensorType(ir.DataType.FLOAT), ir.Shape([64])
        graph.register_initializer(const)
        add = ir.node("Add", [current, const], name=f"add{i}")
        act = ir.node("LeakyRelu", [add.outputs[0]], attributes={"alpha": 0.01}, name=f"act{i}")
        mix = ir.node("Add", [act.outputs[0], skip], name=f"mix{i}")
        for node, stem in ((add, "a"), (act, "r"), (mix, "m")):
            node.outputs[0].name = f"{stem}{i}"
            graph.append(node)
        skip = current if i % 4 == 0 else skip
        current = mix.outputs[0]
    current.type, current.shape = ir.TensorType(ir.DataType.FLOAT), ir.Shape([1, 64])
    graph.outputs.append(current)
    ir.save(ir.Model(graph, ir_version=8, producer_name="bench"), path)
    return path


def prepare_large(folder: Path, layers: int = 10, width: int = 8192) -> Path:
    """A chain of ``layers`` MatMul+Relu with ``width``x``width`` float32 weights (2.7 GB by default)."""
    import onnx

    path = folder / "large" / "large.onnx"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    block = np.full((256, width), 1e-4, np.float32).tobytes()
    proto = onnx.ModelProto(ir_version=8, producer_name="bench")
    proto.opset_import.add(domain="", version=17)
    graph = proto.graph
    graph.name = "large"
    with open(path.parent / "weights.bin", "wb") as data:
        for i in range(layers):
            tensor = graph.initializer.add(name=f"w{i}", data_type=onnx.TensorProto.FLOAT, dims=[width, width])
            tensor.data_location = onnx.TensorProto.EXTERNAL
            offset = data.tell()
            for _ in range(width // 256):
                data.write(block)
            for key, value in (
                ("location", "weights.bin"),
                ("offset", str(offset)),
                ("length", str(width * width * 4)),
            ):
                tensor.external_data.add(key=key, value=value)
            graph.node.add(
                op_type="MatMul", input=[f"h{i}" if i else "x", f"w{i}"], output=[f"m{i}"], name=f"matmul{i}"
            )
            graph.node.add(op_type="Relu", input=[f"m{i}"], output=[f"h{i + 1}"], name=f"relu{i}")
    for name, kind in (("x", graph.input), (f"h{layers}", graph.output)):
        info = kind.add(name=name)
        info.type.tensor_type.elem_type = onnx.TensorProto.FLOAT
        for dim in (1, width):
            info.type.tensor_type.shape.dim.add(dim_value=dim)
    onnx.save(proto, str(path))
    return path


PREPARE = {"resnet50": prepare_resnet50, "graph30k": prepare_graph30k, "large": prepare_large}


# ---------------------------------------------------------------------------------------------
# workers (one fresh process per measurement)
# ---------------------------------------------------------------------------------------------
def _targets(names: list[str], tensors: list[str]) -> dict[str, str]:
    middle = len(names) // 2
    return {"node": names[middle], "tensor": tensors[middle], "output": tensors[middle + 1]}


def worker_modelps(path: Path, out: Path, level: str) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from modelps import Model

    start = time.perf_counter()
    model = Model.load(path, validation=level)
    load_s = time.perf_counter() - start
    nodes = [n for n in model.ir.graph if n.op_type != "Constant"]
    t = _targets([n.name for n in nodes], [n.outputs[0].name for n in nodes])
    edits = [
        {"op": "rename", "kind": "node", "old": t["node"], "new": "renamed_node"},
        {"op": "rename", "kind": "tensor", "old": t["tensor"], "new": "renamed_tensor"},
        {"op": "add_output", "tensor": t["output"]},
    ]
    edit_ms, undo_ms = [], []
    for edit in edits:
        start = time.perf_counter()
        model.apply(edit)
        edit_ms.append(1000 * (time.perf_counter() - start))
    for _ in edits:
        start = time.perf_counter()
        model.undo()
        undo_ms.append(1000 * (time.perf_counter() - start))
    for _ in edits:
        model.redo()
    start = time.perf_counter()
    model.save(out, external_data="weights.bin" if path.parent.name == "large" else None)
    save_s = time.perf_counter() - start
    return {"load_s": load_s, "edit_ms": edit_ms, "undo_ms": undo_ms, "save_s": save_s}


def worker_onnx(path: Path, out: Path) -> dict[str, Any]:
    import onnx

    start = time.perf_counter()
    model = onnx.load(str(path))
    load_s = time.perf_counter() - start
    graph = model.graph
    nodes = [n for n in graph.node if n.op_type != "Constant"]
    t = _targets([n.name for n in nodes], [n.output[0] for n in nodes])

    def rename_node() -> None:
        next(n for n in graph.node if n.name == t["node"]).name = "renamed_node"

    def rename_tensor() -> None:
        for node in graph.node:
            for field in (node.input, node.output):
                for i, name in enumerate(field):
                    if name == t["tensor"]:
                        field[i] = "renamed_tensor"

    def add_output() -> None:
        if path.parent.name == "large":  # in-memory inference cannot serialize > 2 GB: use the path API
            inferred_path = out.with_name("inferred.onnx")
            onnx.shape_inference.infer_shapes_path(str(path), str(inferred_path))
            inferred = onnx.load(str(inferred_path), load_external_data=False)
        else:
            inferred = onnx.shape_inference.infer_shapes(model)
        info = next(v for v in inferred.graph.value_info if v.name == t["output"])
        graph.output.append(info)

    edit_ms, snapshots = [], []
    for edit in (rename_node, rename_tensor, add_output):
        start = time.perf_counter()
        snapshot = onnx.ModelProto()
        snapshot.CopyFrom(model)
        snapshots.append(snapshot)
        edit()
        edit_ms.append(1000 * (time.perf_counter() - start))
    undo_ms = []
    for snapshot in reversed(snapshots):
        start = time.perf_counter()
        model.CopyFrom(snapshot)
        undo_ms.append(1000 * (time.perf_counter() - start))
    start = time.perf_counter()
    if path.parent.name == "large":
        onnx.save(model, str(out), save_as_external_data=True, location="weights.bin")
    else:
        onnx.save(model, str(out))
    save_s = time.perf_counter() - start
    return {"load_s": load_s, "edit_ms": edit_ms, "undo_ms": undo_ms, "save_s": save_s}


def worker_graphsurgeon(path: Path, out: Path) -> dict[str, Any]:
    import onnx
    import onnx_graphsurgeon as gs

    start = time.perf_counter()
    graph = gs.import_onnx(onnx.load(str(path)))
    load_s = time.perf_counter() - start
    nodes = [n for n in graph.nodes if n.op != "Constant"]
    t = _targets([n.name for n in nodes], [n.outputs[0].name for n in nodes])
    tensors = graph.tensors()

    def rename_node() -> None:
        next(n for n in graph.nodes if n.name == t["node"]).name = "renamed_node"

    def rename_tensor() -> None:
        tensors[t["tensor"]].name = "renamed_tensor"

    def add_output() -> None:
        tensor = tensors[t["output"]]
        tensor.dtype = tensor.dtype or np.float32
        graph.outputs.append(tensor)

    edit_ms, snapshots = [], []
    for edit in (rename_node, rename_tensor, add_output):
        start = time.perf_counter()
        snapshots.append(graph.copy())
        edit()
        edit_ms.append(1000 * (time.perf_counter() - start))
    undo_ms = []
    for snapshot in reversed(snapshots):
        start = time.perf_counter()
        graph = snapshot
        undo_ms.append(1000 * (time.perf_counter() - start))
    start = time.perf_counter()
    model = gs.export_onnx(graph)
    if path.parent.name == "large":
        onnx.save(model, str(out), save_as_external_data=True, location="weights.bin")
    else:
        onnx.save(model, str(out))
    save_s = time.perf_counter() - start
    return {"load_s": load_s, "edit_ms": edit_ms, "undo_ms": undo_ms, "save_s": save_s}


def run_worker(tool: str, path: Path, out: Path) -> dict[str, Any]:
    if tool == "modelps":
        result = worker_modelps(path, out, "structure")
    elif tool == "modelps-full":
        result = worker_modelps(path, out, "full")
    elif tool == "onnx":
        result = worker_onnx(path, out)
    else:
        result = worker_graphsurgeon(path, out)
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM; unlike ru_maxrss it is not inherited across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------------------------------------
# driver
# ---------------------------------------------------------------------------------------------
def measure(tool: str, path: Path) -> dict[str, Any] | None:
    out_dir = Path(tempfile.mkdtemp(prefix="modelps-bench-out-"))
    try:
        proc = subprocess.run(
            [sys.executable, __file__, "--worker", tool, "--model", str(path), "--out", str(out_dir / "out.onnx")],
            capture_output=True,
            text=True,
            timeout=3600,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    finally:
        subprocess.run(["rm", "-rf", str(out_dir)], check=False)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
        print(f"  {tool}: failed ({tail})", file=sys.stderr)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def summarize(runs: list[dict[str, Any]]) -> dict[str, float]:
    def med(key: str) -> float:
        return statistics.median(r[key] for r in runs)

    def med_list(key: str) -> float:
        return statistics.median(v for r in runs for v in r[key])

    def worst(key: str) -> float:
        return statistics.median(max(r[key]) for r in runs)

    return {
        "load_s": med("load_s"),
        "edit_ms": med_list("edit_ms"),
        "edit_max_ms": worst("edit_ms"),
        "undo_ms": med_list("undo_ms"),
        "save_s": med("save_s"),
        "peak_rss_mb": med("peak_rss_mb"),
        "runs": len(runs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--models", default="resnet50,graph30k,large")
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--large-protobuf",
        action="store_true",
        help="also run raw protobuf on the >2 GB model (it needs several times the weights in RAM; "
        "the OOM killer stopped it at 15-18 GB on a 24 GB machine)",
    )
    parser.add_argument("--worker", choices=TOOLS)
    parser.add_argument("--model", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(run_worker(args.worker, args.model, args.out)))
        return
    WORK.mkdir(parents=True, exist_ok=True)
    tools = args.tools.split(",")
    results: dict[str, dict[str, Any]] = {}
    for name in args.models.split(","):
        path = PREPARE[name](WORK)
        print(f"{name}: {path}", file=sys.stderr)
        model_tools = [t for t in tools if not (name == "large" and t == "onnx" and not args.large_protobuf)]
        runs: dict[str, list[dict[str, Any]]] = {tool: [] for tool in model_tools}
        for repeat in range(args.repeats):
            shift = repeat % len(model_tools)
            order = model_tools[shift:] + model_tools[:shift]  # interleave, rotate the order
            for tool in order:
                result = measure(tool, path)
                if result:
                    runs[tool].append(result)
        results[name] = {tool: summarize(r) for tool, r in runs.items() if r}
        print_table({name: results[name]})
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))


def print_table(results: dict[str, dict[str, Any]]) -> None:
    print("| model | tool | load s | edit ms (median / worst) | undo ms | save s | peak RSS MB |", flush=True)
    print("|---|---|---|---|---|---|---|")
    for model, tools in results.items():
        for tool, r in tools.items():
            print(
                f"| {model} | {tool} | {r['load_s']:.3f} | {r['edit_ms']:.2f} / {r['edit_max_ms']:.2f} | "
                f"{r['undo_ms']:.3f} | {r['save_s']:.3f} | {r['peak_rss_mb']:.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
