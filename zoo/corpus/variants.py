"""Graph variants of the zoo's own models, each made by one small transform (onnx_ir).

The base is ``face-mobilefacenet`` with seeded weights (2.1 M parameters, 3x112x112 input), except
for the odd symbolic dims, which need a network that accepts any image size
(``fedssl-byol-resnet18``, 3x32x32 by default). Every variant computes the same function as its
base (up to float rounding); what changes is where the weights live and how the graph is laid out.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import onnx_ir as ir

from zoo.corpus.images import photo
from zoo.corpus.store import MODEL_FILE

__all__ = [
    "BN_INFLATION",
    "build_constants",
    "build_external_data",
    "build_if_loop",
    "build_multi_output",
    "build_odd_dims",
    "build_opset11",
    "build_opset21",
    "face_inputs",
    "odd_dims_inputs",
]

logger = logging.getLogger(__name__)

_FACE = "face-mobilefacenet"
_ANY_SIZE = "fedssl-byol-resnet18"
BN_INFLATION = 4000.0  # running_var * k**2 (up to ~3e8, past float16's 65504), scale * k, epsilon * k**2
ODD_DIMS = (-1, "image height (px)", "width/px?", "N'")  # input batch, height, width; output batch


def _zoo_model(name: str, opset: int = 17) -> ir.Model:
    import zoo

    return ir.load(zoo.export(name, opset=opset))


def _save(model: ir.Model, folder: Path, **kwargs: Any) -> None:
    ir.save(model, folder / MODEL_FILE, **kwargs)


def initializers_to_constants(graph: ir.Graph) -> int:
    """Replace every initializer of ``graph`` by a ``Constant`` node at the top; return how many."""
    nodes = []
    for name, value in list(graph.initializers.items()):
        tensor = value.const_value
        if tensor is None or value.is_graph_input() or value.is_graph_output():
            continue
        graph.initializers.pop(name)
        node = ir.node("Constant", [], attributes={"value": tensor}, name=f"const/{name}")
        value.replace_all_uses_with(node.outputs[0])
        node.outputs[0].name = name
        node.outputs[0].shape, node.outputs[0].type = tensor.shape, ir.TensorType(tensor.dtype)
        nodes.append(node)
    if nodes:
        graph.insert_before(graph[0], nodes)
    return len(nodes)


def _constant(value: ir.Value | None) -> np.ndarray | None:
    """The constant behind ``value``, looking through Identity nodes (exporters share equal weights that way)."""
    while value is not None and value.const_value is None:
        producer = value.producer()
        if producer is None or producer.op_type != "Identity":
            return None
        value = producer.inputs[0]
    return None if value is None or value.const_value is None else value.const_value.numpy()


def _drop_if_unused(graph: ir.Graph, value: ir.Value | None) -> None:
    """Remove ``value``'s Identity producer and initializer once nothing uses them."""
    while value is not None and not value.uses() and not value.is_graph_output():
        producer = value.producer()
        if producer is not None and producer.op_type == "Identity":
            source = producer.inputs[0]
            graph.remove(producer, safe=True)
            value = source
            continue
        if value.name in graph.initializers and not value.is_graph_input():
            graph.initializers.pop(value.name)
        return


def inflate_batchnorm(graph: ir.Graph, k: float, every: int = 8) -> int:
    """Scale every ``every``-th BatchNormalization's variance by ``k**2``, its scale by ``k`` and epsilon by ``k**2``.

    The node computes the same function, but its variance no longer fits in float16 (as in
    Paddle exports, where BatchNorm variances of 1e7-1e8 occur). Returns the number of nodes changed.
    """
    changed = 0
    norms = [n for n in graph if n.op_type == "BatchNormalization"]
    for node in norms[::every]:
        scale, var = _constant(node.inputs[1]), _constant(node.inputs[4])
        if scale is None or var is None:
            continue
        for index, value, factor in ((1, scale, k), (4, var, k * k)):  # new tensors: exporters share equal ones
            name = f"{node.name}/{'scale' if index == 1 else 'var'}_x{factor:g}"
            inflated = ir.tensor(value * np.float32(factor), name=name)
            new = ir.Value(name=name, shape=inflated.shape, type=ir.TensorType(inflated.dtype), const_value=inflated)
            graph.register_initializer(new)
            old = node.inputs[index]
            node.replace_input_with(index, new)
            _drop_if_unused(graph, old)
        eps = node.attributes["epsilon"].as_float() if "epsilon" in node.attributes else 1e-5
        node.attributes["epsilon"] = ir.AttrFloat32("epsilon", eps * k * k)
        changed += 1
    return changed


def build_constants(folder: Path) -> dict[str, Any]:
    """BatchNorm left unfolded (TorchScript export in ``TrainingMode.PRESERVE``), every weight a ``Constant`` node.

    A few BatchNorms hold variances past float16's range (:func:`inflate_batchnorm`), the trap that
    turned a Paddle text detector's output to zeros under a naive float16 conversion.
    """
    import torch

    import zoo

    module = zoo.build_module(_FACE)
    tmp = folder / "bn.onnx"
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (torch.zeros(1, 3, 112, 112),),
            str(tmp),
            input_names=["input"],
            output_names=["embedding"],
            opset_version=17,
            dynamic_axes={"input": {0: "batch"}, "embedding": {0: "batch"}},
            training=torch.onnx.TrainingMode.PRESERVE,
            dynamo=False,
        )
    model = ir.load(tmp)
    tmp.unlink()
    inflated = inflate_batchnorm(model.graph, BN_INFLATION)
    lifted = initializers_to_constants(model.graph)
    _save(model, folder)
    return {"inflated_batchnorms": inflated, "constants": lifted}


def build_odd_dims(folder: Path) -> dict[str, Any]:
    """Any image size, with odd dims: a ``-1`` batch, oddly named height and width, ``N'`` on the output.

    Some exporters write ``-1`` for an unknown dim; the names hold spaces, a slash, brackets and ``?``.
    """
    model = _zoo_model(_ANY_SIZE)
    batch, height, width, out_batch = ODD_DIMS
    (inp,), (out,) = model.graph.inputs, model.graph.outputs
    inp.shape = ir.Shape([batch, 3, height, width])
    out.shape = ir.Shape([out_batch, out.shape[1] if out.shape else None])
    for node in model.graph:  # intermediate shapes the exporter recorded would now be wrong
        for value in node.outputs:
            if not value.is_graph_output():
                value.shape = None
    _save(model, folder)
    return {"dims": list(ODD_DIMS)}


def build_opset11(folder: Path) -> dict[str, Any]:
    """The TorchScript exporter at opset 11."""
    _save(_zoo_model(_FACE, opset=11), folder)
    return {}


def build_opset21(folder: Path) -> dict[str, Any]:
    """The opset-17 export converted to opset 21 by ONNX's version converter."""
    import onnx
    import onnx.version_converter

    proto = onnx.version_converter.convert_version(ir.to_proto(_zoo_model(_FACE)), 21)
    proto.ir_version = max(proto.ir_version, 10)
    onnx.save(proto, folder / MODEL_FILE)
    return {}


def build_multi_output(folder: Path) -> dict[str, Any]:
    """Three outputs: the embedding (rank 2), the last 7x7 feature map (rank 4) and it as 49 tokens (rank 3)."""
    model = _zoo_model(_FACE)
    graph = model.graph
    fmap = [n for n in graph if n.op_type == "PRelu"][-5].outputs[0]  # last stage, 256x7x7
    shape = ir.node(
        "Constant", [], attributes={"value": ir.tensor(np.array([0, 0, -1], np.int64))}, name="tokens/shape"
    )
    reshape = ir.node("Reshape", [fmap, shape.outputs[0]], name="tokens/Reshape")
    graph.insert_after(fmap.producer(), [shape, reshape])
    fmap_out = ir.node("Identity", [fmap], name="feature_map/Identity")
    graph.insert_after(reshape, fmap_out)
    fmap_out.outputs[0].name = "feature_map"
    fmap_out.outputs[0].dtype = ir.DataType.FLOAT
    fmap_out.outputs[0].shape = ir.Shape(["batch", None, None, None])
    tokens = reshape.outputs[0]
    tokens.name, tokens.dtype, tokens.shape = "tokens", ir.DataType.FLOAT, ir.Shape(["batch", None, None])
    graph.outputs.extend([fmap_out.outputs[0], tokens])
    _save(model, folder)
    return {}


def build_if_loop(folder: Path) -> dict[str, Any]:
    """The embedding head rewritten with control flow whose bodies hold the weights.

    ``Flatten -> MatMul(W) -> BatchNorm`` becomes a ``Loop`` of two trips, each adding
    ``x[:, half] @ W[half]`` (the two halves of ``W`` are a ``Constant`` node in the loop body),
    then an ``If`` on "the input has 3 channels": its then-branch is the BatchNorm with its
    parameters as subgraph initializers, its else-branch an Identity.
    """
    model = _zoo_model(_FACE)
    graph = model.graph
    matmul = next(n for n in graph if n.op_type == "MatMul")
    bn = next(n for n in graph if n.op_type == "BatchNormalization" and n.outputs[0].is_graph_output())
    x, w_value = matmul.inputs
    assert x is not None and w_value is not None and w_value.const_value is not None
    w = w_value.const_value.numpy()
    k = 2
    rows = w.shape[0] // k
    w_stack = w.reshape(k, rows, w.shape[1])

    t = ir.tape.Tape()
    chunks = t.op(
        "Transpose",
        [t.op("Reshape", [x, t.op("Constant", [], {"value": ir.tensor(np.array([0, k, rows]))})])],
        {"perm": [1, 0, 2]},
    )
    batch = t.op("Slice", [t.op("Shape", [x]), _i64(t, [0]), _i64(t, [1])])
    zeros_shape = t.op("Concat", [batch, _i64(t, [w.shape[1]])], {"axis": 0})
    zeros = t.op("ConstantOfShape", [zeros_shape], {"value": ir.tensor(np.zeros(1, np.float32))})
    trips = t.op("Constant", [], {"value": ir.tensor(np.array(k, np.int64))})
    always = t.op("Constant", [], {"value": ir.tensor(np.array(True))})

    # Loop body: (iter, cond, acc) -> (cond, acc + chunks[iter] @ w_stack[iter])
    it = ir.val("i", ir.DataType.INT64, ir.Shape([]))
    cond_in = ir.val("cond_in", ir.DataType.BOOL, ir.Shape([]))
    acc = ir.val("acc", ir.DataType.FLOAT, None)
    b = ir.tape.Tape()
    w_body = b.op("Constant", [], {"value": ir.tensor(w_stack, name="head.weight.chunks")})
    part = b.op("MatMul", [b.op("Gather", [chunks, it]), b.op("Gather", [w_body, it])])
    acc_out = b.op("Add", [acc, part])
    cond_out = b.op("Identity", [cond_in])
    body = ir.Graph([it, cond_in, acc], [cond_out, acc_out], nodes=b.nodes, name="head_loop_body")
    (projected,) = t.op_multi_out("Loop", [trips, always, zeros], {"body": body}, num_outputs=1)

    # If body: the BatchNorm with its parameters as the subgraph's own initializers.
    then_t = ir.tape.Tape()
    params = [then_t.initializer(ir.tensor(v.const_value.numpy(), name=f"then/{v.name}")) for v in bn.inputs[1:]]  # type: ignore[union-attr]
    normed = then_t.op(
        "BatchNormalization",
        [projected, *params],
        {"epsilon": bn.attributes["epsilon"].as_float()} if "epsilon" in bn.attributes else None,
    )
    then_g = ir.Graph([], [normed], nodes=then_t.nodes, initializers=then_t.initializers, name="then_batchnorm")
    else_t = ir.tape.Tape()
    else_g = ir.Graph([], [else_t.op("Identity", [projected])], nodes=else_t.nodes, name="else_identity")
    channels = t.op(
        "Gather", [t.op("Shape", [graph.inputs[0]]), t.op("Constant", [], {"value": ir.tensor(np.array(1))})]
    )
    is_rgb = t.op("Equal", [channels, t.op("Constant", [], {"value": ir.tensor(np.array(3))})])
    (embedding,) = t.op_multi_out("If", [is_rgb], {"then_branch": then_g, "else_branch": else_g}, num_outputs=1)

    for tape, prefix in ((t, "head"), (b, "head/loop"), (then_t, "head/then"), (else_t, "head/else")):
        for i, node in enumerate(tape.nodes):
            node.name = f"{prefix}/{node.op_type}_{i}"
            for j, value in enumerate(node.outputs):
                value.name = f"{node.name}_output_{j}"
    graph.insert_after(bn, list(t.nodes))
    out = bn.outputs[0]
    out.replace_all_uses_with(embedding, replace_graph_outputs=True)
    embedding.name, embedding.dtype, embedding.shape = out.name or "embedding", ir.DataType.FLOAT, out.shape
    dropped = [*bn.inputs[1:], w_value]
    graph.remove([bn, matmul], safe=True)
    for value in dropped:
        _drop_if_unused(graph, value)
    _save(model, folder)
    return {"loop_trips": k}


def _i64(tape: ir.tape.Tape, values: list[int]) -> ir.Value:
    return tape.op("Constant", [], {"value": ir.tensor(np.array(values, np.int64))})


def build_external_data(folder: Path) -> dict[str, Any]:
    """Every weight of 1 KiB or more in ``model.onnx.data`` beside the graph."""
    _save(_zoo_model(_FACE), folder, external_data=f"{MODEL_FILE}.data", size_threshold_bytes=1024)
    return {}


def _faces(n: int, seed: int, hw: tuple[int, int]) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [((photo(rng, hw).astype(np.float32) / 255.0 - 0.5) / 0.5).transpose(2, 0, 1)[None] for _ in range(n)]


def face_inputs(path: Path, n: int, seed: int = 0) -> list[dict[str, np.ndarray]]:
    """``n`` crops of scikit-image photos, 1x3x112x112, normalised as the face models expect."""
    return [{"input": x} for x in _faces(n, seed, (112, 112))]


def odd_dims_inputs(path: Path, n: int, seed: int = 0) -> list[dict[str, np.ndarray]]:
    """``n`` photo crops, 1x3x48x64 (not the 32x32 the network was made for: its dims are free)."""
    return [{"input": x} for x in _faces(n, seed, (48, 64))]
