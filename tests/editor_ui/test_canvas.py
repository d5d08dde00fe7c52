"""The canvas document: hierarchy, folding, subgraphs, functions, types, search; and its component wrapper."""

from __future__ import annotations

import json

import numpy as np
import onnx_ir as ir
import pytest

from editor_ui.canvas import component
from editor_ui.canvas.doc import CAPTURED, INPUT, OUTPUT, build_doc
from editor_ui.canvas.scopes import MAX_CHILDREN, node_scope
from editor_ui.canvas.search import search
from editor_ui.graph import inferred_types
from editor_ui.samples import residual_cnn
from modelps.model import Model
from tests.models import IF_MODEL, LOOP_MODEL, model_from_text


def _graph(doc, gid="main"):
    return doc.data["graphs"][gid]


def _names(g, of):
    return [g["names"][i] for i, op in enumerate(g["op"]) if op == of]


def test_residual_blocks_become_groups_and_repeats_are_marked() -> None:
    doc = build_doc(residual_cnn(30))
    g = _graph(doc)
    labels = [grp["label"] for grp in g["groups"]]
    assert labels == [f"block{k}" for k in range(6)]
    reps = {grp["label"]: grp["reps"] for grp in g["groups"]}
    assert reps["block1"] == reps["block2"] == reps["block4"] >= 4  # identical Conv-Relu-Conv-Add-Relu blocks
    assert len({grp["rep"] for grp in g["groups"][1:5]}) == 1
    members = [g["names"][i] for i, k in enumerate(g["grp"]) if k == labels.index("block2")]
    assert members == ["/block2/Add_10", "/block2/Relu_11", "/block2/Conv_12", "/block2/Relu_13", "/block2/Conv_14"]
    assert json.loads(doc.to_json())["token"] == doc.token


def test_weights_are_folded_into_their_consumers_not_drawn() -> None:
    doc = build_doc(residual_cnn(30))
    g = _graph(doc)
    assert not any("weight" in n or "bias" in n for n in g["names"])
    conv = g["names"].index("/block0/Conv_0")
    assert g["folded"][conv] == 2  # weight and bias
    assert doc.graphs["main"].folded["/block0/Conv_0"] == ["conv0.weight", "conv0.bias"]


def test_constant_chains_are_folded_and_searchable() -> None:
    model = model_from_text(
        """
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[1, 4] x) => (float[1, 4] y) <int8[4] wq = {1, 2, 3, 4}, float s = {0.5}> {
          k = Constant <value = float[4] {1, 1, 1, 1}> ()
          w = DequantizeLinear(wq, s)
          a = Add(x, w)
          y = Mul(a, k)
        }"""
    )
    doc = build_doc(Model(model).ir)
    g = _graph(doc)
    drawn = [g["names"][i] for i, op in enumerate(g["op"]) if op >= 0]
    assert [doc.data["ops"][g["op"][g["names"].index(n)]] for n in drawn] == ["Add", "Mul"]
    assert g["folded"][g["names"].index(drawn[0])] == 1 and g["folded"][g["names"].index(drawn[1])] == 1
    (hit,) = search(doc, "DequantizeLinear")
    assert hit.node == drawn[0] and "folded" in hit.why


def test_if_bodies_are_nested_graphs_with_captured_values() -> None:
    doc = build_doc(Model(model_from_text(IF_MODEL)).ir)
    main = _graph(doc)
    if_index = main["names"].index("n1")
    assert main["sub"][str(if_index)] == [
        ["then_branch", "main/n1.then_branch"],
        ["else_branch", "main/n1.else_branch"],
    ]
    edges = {
        (main["names"][s], main["names"][d], t)
        for s, d, t in zip(main["src"], main["dst"], main["tensor"], strict=True)
    }
    assert ("n0", "n1", "t") in edges  # the bodies read t: drawn as an edge into the If
    body = _graph(doc, "main/n1.then_branch")
    assert body["parent"] == "main" and body["title"] == "n1 · then_branch"
    assert _names(body, CAPTURED) == ["t"] and _names(body, OUTPUT) == ["o"]
    hits = search(doc, "Neg")
    assert [(h.graph, h.op) for h in hits] == [("main/n1.then_branch", "Neg")]


def test_loop_body_inputs_and_local_functions() -> None:
    doc = build_doc(Model(model_from_text(LOOP_MODEL)).ir)
    body = _graph(doc, "main/n1.body")
    assert _names(body, INPUT) == ["i", "c_in", "acc"]
    fn = ir.Function(
        "custom",
        "Double",
        graph=ir.Graph(
            inputs=[a := ir.Value(name="a")],
            outputs=[(n := ir.node("Add", [a, a])).outputs[0]],
            nodes=[n],
            opset_imports={"": 17},
        ),
        attributes=[],
    )
    x = ir.Value(name="x", shape=ir.Shape([2]), type=ir.TensorType(ir.DataType.FLOAT))
    call = ir.node("Double", [x], domain="custom", name="twice")
    model = ir.Model(
        ir.Graph([x], [call.outputs[0]], nodes=[call], opset_imports={"": 17, "custom": 1}),
        ir_version=8,
        functions=[fn],
    )
    doc = build_doc(model)
    main = _graph(doc)
    assert main["sub"][str(main["names"].index("twice"))] == [["function", "fn:custom:Double"]]
    assert doc.data["ops"][_graph(doc, "fn:custom:Double")["op"][1]] == "Add"


def test_wide_levels_are_split_into_ranges() -> None:
    doc = build_doc(residual_cnn(1000))
    g = _graph(doc)
    children: dict[int, int] = {}
    for grp in g["groups"]:
        children[grp["parent"]] = children.get(grp["parent"], 0) + 1
    for parent in g["grp"]:
        children[parent] = children.get(parent, 0) + 1
    assert max(children.values()) <= MAX_CHILDREN + 2  # inputs/outputs sit at the top
    assert any(grp["syn"] for grp in g["groups"]) and sum(1 for grp in g["groups"] if grp["parent"] == -1) <= 8


def test_scope_from_exporter_metadata_wins_over_the_name() -> None:
    node = ir.Node("", "Relu", [], name="relu_7")
    node.metadata_props["pkg.torch.onnx.name_scopes"] = "['', 'encoder', 'layer.0']"
    assert node_scope(node, "relu_7") == ("encoder", "layer.0")


def test_edges_carry_real_types_when_the_model_declares_none() -> None:
    """Regression: tensor types showed as "?"."""
    model = model_from_text(
        """
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[2, 3] x) => (y) { t = Relu(x)  y = Transpose(t) }"""
    )
    types = inferred_types(model)
    doc = build_doc(model, types=types)
    g = _graph(doc)
    texts = {
        t: (doc.data["dtypes"][d], doc.data["shapes"][s])
        for t, d, s in zip(g["tensor"], g["dtype"], g["shape"], strict=True)
    }
    assert texts["t"] == ("float", "2×3") and texts["y"] == ("float", "3×2")


def test_token_changes_with_the_model() -> None:
    model = Model(residual_cnn(30))
    before = build_doc(model.ir).token
    model.apply({"op": "remove_node", "node": "/block1/Relu_6"})
    assert build_doc(model.ir).token != before


def test_publish_writes_the_document_once_where_the_canvas_fetches_it(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(component, "data_folder", lambda: tmp_path)

    class Fake:
        name = "editor_ui.canvas.component.modelps_canvas_data"

    monkeypatch.setattr(component, "_components", lambda: (None, Fake()))
    doc = build_doc(residual_cnn(12))
    url = component.publish(doc)
    assert url == f"../{Fake.name}/{doc.token}.json"
    assert json.loads((tmp_path / f"{doc.token}.json").read_text())["token"] == doc.token
    assert component.publish(doc) == url and len(list(tmp_path.glob("*.json"))) == 1


def test_the_built_front_end_ships_in_the_package() -> None:
    assert (component.STATIC / "index.html").exists() and (component.STATIC / "canvas.js").stat().st_size > 100_000
    html = (component.STATIC / "index.html").read_text()
    assert "./canvas.js" in html and "http" not in html.replace("http-equiv", "")  # no network at run time


@pytest.mark.parametrize("nodes", [124, 5000])
def test_documents_stay_compact(nodes: int) -> None:
    doc = build_doc(residual_cnn(nodes))
    assert len(doc.to_json()) < 120 * nodes + 20_000
    assert np.all(np.asarray(_graph(doc)["src"]) < len(_graph(doc)["names"]))


def _corpus_names() -> list[str]:
    try:
        from zoo import corpus
    except ImportError:
        return []
    return corpus.names()


@pytest.mark.slow
@pytest.mark.parametrize("name", _corpus_names())
def test_every_foreign_model_opens_as_a_canvas_document(name: str) -> None:
    """Models ModelPS did not make (zoo.corpus): every node is drawn or folded, every subgraph reachable."""
    from zoo import corpus

    model = Model.load(corpus.get(name).path, validation="none").ir
    doc = build_doc(model, types=inferred_types(model))
    main = _graph(doc)
    drawn = sum(1 for op in main["op"] if op >= 0)
    folded = sum(len(v) for v in doc.graphs["main"].folded.values())
    assert 0 < drawn <= len(model.graph)
    for gid, g in doc.data["graphs"].items():
        assert g["parent"] is None or g["parent"] in doc.data["graphs"], gid
        assert len(g["grp"]) == len(g["names"]) and all(-1 <= k < len(g["groups"]) for k in g["grp"])
    for links in main["sub"].values():
        assert all(gid in doc.data["graphs"] for _, gid in links)
    drawn_ops = {doc.data["ops"][op] for op in main["op"] if op >= 0}
    assert "Constant" not in drawn_ops  # constants are folded into their consumers, never drawn
    if name == "ppocr-det":  # a Paddle export: 213 weights, each folded into the node that reads it
        assert folded >= 200
