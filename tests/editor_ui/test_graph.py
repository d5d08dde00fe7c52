from __future__ import annotations

import onnx_ir as ir
import pytest

from editor_ui import graph
from editor_ui.samples import residual_cnn
from modelps.model import Model

DIAMOND = """
<ir_version: 8, opset_import: ["" : 17]>
g (float[1,4] x) => (float[1,4] y) {
    a = Relu(x)
    b = Sigmoid(x)
    c = Tanh(a)
    y = Add(c, b)
}"""


def test_build_graph_has_io_nodes_and_shaped_edges() -> None:
    data = graph.build_graph(Model(ir.from_onnx_text(DIAMOND)).ir)
    assert [(n.label, n.op) for n in data.nodes] == [
        ("x", "Input"),
        ("n0", "Relu"),
        ("n1", "Sigmoid"),
        ("n2", "Tanh"),
        ("n3", "Add"),
        ("y ", "Output"),
    ]
    assert sorted((s, d, t) for s, d, t, _ in data.edges) == [
        (0, 1, "x"),
        (0, 2, "x"),
        (1, 3, "a"),
        (2, 4, "b"),
        (3, 4, "c"),
        (4, 5, "y"),
    ]
    assert {shape for _, _, t, shape in data.edges if t in ("x", "y")} == {"1×4"}


def test_layout_puts_every_edge_downwards_and_layers_do_not_overlap() -> None:
    data = graph.build_graph(residual_cnn(60))
    pos = graph.layered_positions(data)
    for src, dst, _, _ in data.edges:
        assert pos[dst][1] > pos[src][1]
    assert len(set(pos.values())) == len(pos)


def test_diamond_branches_sit_side_by_side() -> None:
    data = graph.build_graph(Model(ir.from_onnx_text(DIAMOND)).ir)
    pos = graph.layered_positions(data)
    assert pos[1][1] == pos[2][1] == 1.0
    assert pos[1][0] != pos[2][0]
    assert pos[4][1] == 3.0  # Add waits for the longest branch


def test_small_graph_view_is_complete_and_big_one_is_a_bounded_neighbourhood() -> None:
    small = graph.build_graph(residual_cnn(100))
    view = graph.make_view(small)
    assert view.complete and len(view.members) == len(small.nodes)
    big = graph.build_graph(residual_cnn(5000))
    centre = big.index("/block500/Conv_2502")
    view = graph.make_view(big, centre)
    assert not view.complete
    assert len(view.members) == graph.FOCUS_LIMIT
    assert centre in view.members and view.focus == centre
    adj = big.adjacency()
    assert all(n in view.members for n in adj[centre])
    spec = graph.echarts_spec(big, view)
    assert len(spec["series"][0]["data"]) == graph.FOCUS_LIMIT
    everything = graph.make_view(big, centre, show_all=True)
    assert everything.complete and len(everything.members) == len(big.nodes)


def test_view_centres_on_focus() -> None:
    data = graph.build_graph(residual_cnn(100))
    target = data.index("/block10/Add_50")
    view = graph.make_view(data, target)
    assert view.pixel(target, 800) == pytest.approx((view.pixel(target, 800)[0], graph.CHART_HEIGHT / 2))
    top = graph.make_view(data)
    x, y = top.pixel(0, 800)
    assert graph.PADDING < y < graph.CHART_HEIGHT / 2  # the input node starts near the top
    assert 0 < x < 800


def test_spec_colours_by_op_and_labels_edges_with_shapes() -> None:
    data = graph.build_graph(residual_cnn(20))
    view = graph.make_view(data)
    series = graph.echarts_spec(data, view)["series"][0]
    colours = {item["name"]: item["itemStyle"]["color"] for item in series["data"]}
    assert colours["/block0/Conv_0"] == graph.op_colour("Conv") != colours["/block0/Relu_1"]
    assert len(series["links"]) == len(data.edges)
    assert {link["value"] for link in series["links"]} == {"1×4×8×8", "1×4×1×1", "1×4", "1×10"}
    assert series["selectedMode"] == "single"


def test_selected_node_maps_chart_indices() -> None:
    data = graph.build_graph(residual_cnn(5000))
    view = graph.make_view(data, 2000)
    assert graph.selected_node(view, [3]) == view.members[3]
    assert graph.selected_node(view, [len(view.members) + 5]) is None
    assert graph.selected_node(view, []) is None


def test_search_by_name_tensor_and_op() -> None:
    data = graph.build_graph(residual_cnn(30))
    by_op = graph.search(data, "gemm")
    assert [data.nodes[i].op for i in by_op] == ["Gemm"]
    by_tensor = graph.search(data, "/block1/Relu_6_output_0")
    assert data.nodes[by_tensor[0]].label == "/block1/Relu_6"  # the producer first
    assert {data.nodes[i].label for i in by_tensor} >= {"/block1/Relu_6", "/block1/Conv_7"}
    assert graph.search(data, "  ") == []
    assert graph.search(data, "no-such-thing") == []


def test_cycle_does_not_hang_the_layout() -> None:
    data = graph.GraphData(
        nodes=tuple(graph.GraphNode(f"n{i}", "Relu", (), ()) for i in range(3)),
        edges=((0, 1, "a", "?"), (1, 2, "b", "?"), (2, 1, "c", "?")),
        token="t",
    )
    pos = graph.layered_positions(data)
    assert pos[0][1] < pos[1][1] and pos[0][1] < pos[2][1]


def test_focus_node_is_outlined() -> None:
    data = graph.build_graph(residual_cnn(20))
    target = data.index("/block2/Add_10")
    series = graph.echarts_spec(data, graph.make_view(data, target))["series"][0]
    outlined = [d["name"] for d in series["data"] if "borderColor" in d["itemStyle"]]
    assert outlined == ["/block2/Add_10"]
    plain = graph.echarts_spec(data, graph.make_view(data))["series"][0]
    assert not [d for d in plain["data"] if "borderColor" in d["itemStyle"]]


def test_constant_producers_sit_above_their_consumer_and_undeclared_shapes_are_inferred() -> None:
    model = Model(
        ir.from_onnx_text("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[1,4] x) => (float[1,4] y) <float[4] w = {1.0, 2.0, 3.0, 4.0}> {
            a = Relu(x)
            b = Sigmoid(a)
            c = Tanh(b)
            wi = Identity(w)
            y = Add(c, wi)
        }""")
    ).ir
    data = graph.build_graph(model)
    pos = graph.layered_positions(data)
    ident, add = data.index("n3"), data.index("n4")
    assert pos[ident][1] == pos[add][1] - 1  # not on the top row with the graph input
    shapes = {t: shape for _, _, t, shape in data.edges}
    assert shapes["a"] == shapes["b"] == shapes["c"] == "1×4" and shapes["wi"] == "4"
