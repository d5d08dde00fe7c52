"""The graph view's data: nodes and edges of an ONNX graph, a layered layout, search and focus.

Everything here is plain Python over ``onnx_ir``; the Streamlit page only hands :func:`echarts_spec`'s
result to ``st.echarts_chart``. Positions are computed here (top-to-bottom layers, like Netron), so the
browser does no layout work and large graphs stay responsive: past :data:`FULL_VIEW_LIMIT` nodes the view
shows the neighbourhood of one focus node instead of everything.

Example::

    >>> import onnx_ir as ir
    >>> from modelps.model import Model
    >>> m = Model(ir.from_onnx_text('''
    ...     <ir_version: 8, opset_import: ["" : 17]>
    ...     g (float[1,4] x) => (float[1,4] y) { t = Relu(x)  y = Sigmoid(t) }''')).ir
    >>> g = build_graph(m)
    >>> [n.label for n in g.nodes]
    ['x', 'n0', 'n1', 'y ']
    >>> layered_positions(g)[1]
    (0.0, 1.0)
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections import deque
from collections.abc import Iterable, Sequence

import onnx_ir as ir

__all__ = [
    "CHART_HEIGHT",
    "FOCUS_LIMIT",
    "FULL_VIEW_LIMIT",
    "GraphData",
    "GraphNode",
    "GraphView",
    "build_graph",
    "inferred_shapes",
    "echarts_spec",
    "layered_positions",
    "make_view",
    "neighbourhood",
    "op_colour",
    "search",
    "selected_node",
    "shape_text",
]

FULL_VIEW_LIMIT = 400
"""Graphs with at most this many nodes are drawn whole; larger ones show a neighbourhood."""
FOCUS_LIMIT = 120
"""The most nodes a neighbourhood view shows."""
CHART_HEIGHT = 640
X_SPACING = 190.0
Y_SPACING = 90.0
PADDING = 40

INPUT_OP = "Input"
OUTPUT_OP = "Output"

_COLOURS = {
    "conv": "#3367d6",
    "gemm": "#3367d6",
    "matmul": "#3367d6",
    "norm": "#7b1fa2",
    "act": "#c62828",
    "pool": "#2e7d32",
    "shape": "#757575",
    "math": "#ef6c00",
    "quant": "#00838f",
    "io": "#37474f",
    "other": "#5d4037",
}
_KINDS = {
    "conv": {"Conv", "ConvTranspose", "ConvInteger", "QLinearConv"},
    "gemm": {"Gemm", "MatMul", "MatMulInteger", "QLinearMatMul", "Einsum"},
    "norm": {
        "BatchNormalization",
        "LayerNormalization",
        "InstanceNormalization",
        "GroupNormalization",
        "LpNormalization",
        "Dropout",
    },
    "act": {
        "Relu",
        "PRelu",
        "LeakyRelu",
        "Sigmoid",
        "Tanh",
        "Softmax",
        "HardSigmoid",
        "HardSwish",
        "Gelu",
        "Elu",
        "Selu",
        "Clip",
        "Mish",
        "Softplus",
        "LogSoftmax",
    },
    "pool": {
        "MaxPool",
        "AveragePool",
        "GlobalAveragePool",
        "GlobalMaxPool",
        "ReduceMean",
        "ReduceMax",
        "ReduceSum",
        "ReduceL2",
    },
    "shape": {
        "Reshape",
        "Flatten",
        "Transpose",
        "Squeeze",
        "Unsqueeze",
        "Concat",
        "Split",
        "Slice",
        "Gather",
        "Shape",
        "Expand",
        "Identity",
        "Constant",
        "Cast",
        "Pad",
        "Resize",
        "Tile",
    },
    "math": {"Add", "Sub", "Mul", "Div", "Pow", "Sqrt", "Exp", "Log", "Neg", "Abs", "Max", "Min", "Sum"},
    "quant": {"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear"},
    "io": {INPUT_OP, OUTPUT_OP},
}


def op_colour(op_type: str) -> str:
    """Return the fill colour for an op type (a family colour, Netron-like).

    >>> op_colour("Conv"), op_colour("Relu"), op_colour("MyCustomOp")
    ('#3367d6', '#c62828', '#5d4037')
    """
    for kind, ops in _KINDS.items():
        if op_type in ops:
            return _COLOURS[kind]
    return _COLOURS["other"]


@dataclasses.dataclass(frozen=True)
class GraphNode:
    """One drawn node: an ONNX node, or a graph input/output (``op`` ``Input``/``Output``)."""

    label: str
    op: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class GraphData:
    """A graph's nodes and edges; edges are ``(src, dst, tensor name, shape text)`` by node index."""

    nodes: tuple[GraphNode, ...]
    edges: tuple[tuple[int, int, str, str], ...]
    token: str

    def index(self, label: str) -> int | None:
        """Return the index of the node called ``label``, or ``None``."""
        for i, node in enumerate(self.nodes):
            if node.label == label:
                return i
        return None

    def adjacency(self) -> list[list[int]]:
        """Undirected neighbour lists."""
        adj: list[list[int]] = [[] for _ in self.nodes]
        for src, dst, _, _ in self.edges:
            adj[src].append(dst)
            adj[dst].append(src)
        return adj


def _dims_text(shape: ir.Shape | None) -> str:
    if shape is None:
        return "?"
    dims = [str(d) if isinstance(d, int) else (str(d.value) if d.value is not None else "?") for d in shape]
    return "×".join(dims) if dims else "scalar"


def inferred_shapes(model: ir.Model) -> dict[str, str]:
    """Return shape texts from ONNX shape inference for tensors whose shape the model does not declare."""
    if all(v.shape is not None for node in model.graph for v in node.outputs):
        return {}
    from modelps.validate import infer_value_types

    try:
        types = infer_value_types(model)
    except Exception:  # inference is best effort: unknown shapes stay "?"
        return {}
    return {name: _dims_text(shape) for name, (_, shape) in types.items() if shape is not None}


def shape_text(value: ir.Value | None) -> str:
    """Return a tensor's shape as text, e.g. ``1×64×56×56`` (``?`` when unknown).

    >>> v = ir.Value(name="t", shape=ir.Shape([1, "batch", 3]))
    >>> shape_text(v)
    '1×batch×3'
    """
    if value is None:
        return "?"
    return _dims_text(value.shape)


def build_graph(model: ir.Model) -> GraphData:
    """Collect the main graph's nodes (graph inputs and outputs included) and tensor edges.

    Shapes the model does not declare come from ONNX shape inference.
    """
    graph = model.graph
    inferred = inferred_shapes(model)
    nodes: list[GraphNode] = []
    producer: dict[str, int] = {}
    values: dict[str, ir.Value] = {}
    for value in graph.inputs:
        if value.name is None or value.is_initializer():
            continue
        producer[value.name] = len(nodes)
        values[value.name] = value
        nodes.append(GraphNode(value.name, INPUT_OP, (), (value.name,)))
    for node in graph:
        ins = tuple(v.name for v in node.inputs if v is not None and v.name)
        outs = tuple(v.name for v in node.outputs if v.name)
        for v in node.outputs:
            if v.name:
                producer[v.name] = len(nodes)
                values[v.name] = v
        nodes.append(GraphNode(node.name or "", node.op_type, ins, outs))
    edges: list[tuple[int, int, str, str]] = []
    for dst, gnode in enumerate(nodes):
        for name in gnode.inputs:
            src = producer.get(name)
            if src is not None:
                text = shape_text(values.get(name))
                edges.append((src, dst, name, inferred.get(name, text) if text == "?" else text))
    for value in graph.outputs:
        if value.name is None:
            continue
        dst = len(nodes)
        nodes.append(GraphNode(f"{value.name} ", OUTPUT_OP, (value.name,), ()))
        src = producer.get(value.name)
        if src is not None:
            edges.append((src, dst, value.name, shape_text(value)))
    digest = hashlib.sha256()
    for gnode in nodes:
        digest.update(f"{gnode.label}|{gnode.op}|{','.join(gnode.inputs)}\n".encode())
    for edge in edges:
        digest.update(f"{edge[3]}".encode())
    return GraphData(tuple(nodes), tuple(edges), digest.hexdigest()[:16])


def _layers(count: int, edges: Iterable[tuple[int, int]]) -> list[int]:
    """Longest-path layer of each node (0 for sources); nodes on a cycle are placed after the rest."""
    succ: list[list[int]] = [[] for _ in range(count)]
    indeg = [0] * count
    for src, dst in edges:
        succ[src].append(dst)
        indeg[dst] += 1
    layer = [0] * count
    queue = deque(i for i in range(count) if indeg[i] == 0)
    seen = 0
    while queue:
        i = queue.popleft()
        seen += 1
        for j in succ[i]:
            layer[j] = max(layer[j], layer[i] + 1)
            indeg[j] -= 1
            if indeg[j] == 0:
                queue.append(j)
    if seen < count:  # a cycle (invalid model): put the leftovers below everything
        bottom = max(layer, default=0) + 1
        for i in range(count):
            if indeg[i] > 0:
                layer[i] = bottom
    return layer


def layered_positions(graph: GraphData, members: Sequence[int] | None = None) -> dict[int, tuple[float, float]]:
    """Top-to-bottom layered layout of ``members`` (default: every node), in layout units.

    Layers are longest-path ranks; within a layer nodes are ordered by the mean position of their
    predecessors (one barycentre sweep), which keeps chains straight and branches side by side.
    """
    members = list(range(len(graph.nodes))) if members is None else list(members)
    local = {node: i for i, node in enumerate(members)}
    sub_edges = [(local[s], local[d]) for s, d, _, _ in graph.edges if s in local and d in local]
    layer = _layers(len(members), sub_edges)
    preds: list[list[int]] = [[] for _ in members]
    succs: list[list[int]] = [[] for _ in members]
    for s, d in sub_edges:
        preds[d].append(s)
        succs[s].append(d)
    for i, member in enumerate(members):  # constants and weight casts: just above their first consumer
        if not preds[i] and succs[i] and graph.nodes[member].op != INPUT_OP:
            layer[i] = max(0, min(layer[j] for j in succs[i]) - 1)
    by_layer: dict[int, list[int]] = {}
    for i, rank in enumerate(layer):
        by_layer.setdefault(rank, []).append(i)
    x: dict[int, float] = {}
    for rank in sorted(by_layer):
        row = by_layer[rank]
        if rank > 0:
            row.sort(key=lambda i: _barycentre(preds[i], x))
        offset = (len(row) - 1) / 2
        for slot, i in enumerate(row):
            x[i] = slot - offset
    return {members[i]: (x[i], float(layer[i])) for i in range(len(members))}


def _barycentre(preds: list[int], x: dict[int, float]) -> float:
    placed = [x[p] for p in preds if p in x]  # on a cycle, some predecessors are not placed yet
    return sum(placed) / len(placed) if placed else float("inf")


def neighbourhood(graph: GraphData, centre: int, limit: int = FOCUS_LIMIT) -> list[int]:
    """Nodes within growing undirected distance of ``centre``, nearest first, at most ``limit``."""
    adj = graph.adjacency()
    seen = {centre}
    order = [centre]
    queue = deque([centre])
    while queue and len(order) < limit:
        i = queue.popleft()
        for j in sorted(adj[i]):
            if j not in seen:
                seen.add(j)
                order.append(j)
                queue.append(j)
                if len(order) >= limit:
                    break
    return sorted(order)


def search(graph: GraphData, query: str, limit: int = 50) -> list[int]:
    """Nodes whose name, op type, or input/output tensor names contain ``query`` (case-insensitive).

    Exact name or op-type matches come first.
    """
    q = query.strip().lower()
    if not q:
        return []
    exact: list[int] = []
    partial: list[int] = []
    for i, node in enumerate(graph.nodes):
        name, op = node.label.strip().lower(), node.op.lower()
        tensors = [t.lower() for t in (*node.inputs, *node.outputs)]
        if q in (name, op) or q in tensors:
            exact.append(i)
        elif q in name or q in op or any(q in t for t in tensors):
            partial.append(i)
    return (exact + partial)[:limit]


@dataclasses.dataclass(frozen=True)
class GraphView:
    """What the chart draws: node indices into the graph, their positions (layout pixels) and the window.

    The chart plots nodes on hidden value axes; the initial window is ``x_range`` by ``y_range``
    (``y`` grows downwards) and the user pans and zooms from there with the mouse.
    """

    members: tuple[int, ...]
    positions: dict[int, tuple[float, float]]
    width: float
    height: float
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    focus: int | None
    complete: bool

    def pixel(self, index: int, canvas_width: float) -> tuple[float, float]:
        """Where node ``index`` is drawn on a canvas ``canvas_width`` wide before any pan or zoom."""
        x, y = self.positions[index]
        (x0, x1), (y0, y1) = self.x_range, self.y_range
        grid_w, grid_h = canvas_width - 2 * PADDING, CHART_HEIGHT - 2 * PADDING
        return PADDING + (x - x0) / (x1 - x0) * grid_w, PADDING + (y - y0) / (y1 - y0) * grid_h


def make_view(graph: GraphData, focus: int | None = None, *, show_all: bool = False) -> GraphView:
    """Choose what to draw: everything for small graphs (or ``show_all``), else ``focus``'s neighbourhood.

    The window is one screen's height of layers centred on ``focus`` when given, else at the top, and
    as wide as the widest layer (at least four node widths).
    """
    complete = show_all or len(graph.nodes) <= FULL_VIEW_LIMIT
    if focus is not None and not 0 <= focus < len(graph.nodes):
        focus = None
    if complete:
        members: list[int] = list(range(len(graph.nodes)))
    else:
        members = neighbourhood(graph, 0 if focus is None else focus)
    raw = layered_positions(graph, members)
    min_x = min((p[0] for p in raw.values()), default=0.0)
    min_y = min((p[1] for p in raw.values()), default=0.0)
    positions = {
        i: ((x - min_x) * X_SPACING + X_SPACING / 2, (y - min_y) * Y_SPACING + Y_SPACING / 2)
        for i, (x, y) in raw.items()
    }
    width = max((p[0] for p in positions.values()), default=0.0) + X_SPACING / 2
    height = max((p[1] for p in positions.values()), default=0.0) + Y_SPACING / 2
    window_h = float(CHART_HEIGHT - 2 * PADDING)
    window_w = max(width, 4 * X_SPACING)
    if focus is not None and focus in positions:
        cy = positions[focus][1]
    else:
        cy, focus = window_h / 2 - Y_SPACING / 4, None
    x0 = (width - window_w) / 2
    return GraphView(
        tuple(members),
        positions,
        width,
        height,
        (x0, x0 + window_w),
        (cy - window_h / 2, cy + window_h / 2),
        focus,
        complete,
    )


def echarts_spec(graph: GraphData, view: GraphView) -> dict:
    """Return the ECharts option for ``view``: fixed positions, op colours, tensor shapes on edges.

    Nodes sit on hidden value axes whose range is the view's window; inside data-zoom on both axes
    gives pan and zoom. Selection is drawn by ECharts itself, so a click does not change the spec and
    the user's pan and zoom survive the rerun.
    """
    many = len(view.members) > 300
    data = []
    for i in view.members:
        node = graph.nodes[i]
        x, y = view.positions[i]
        style: dict = {"color": op_colour(node.op)}
        if i == view.focus:  # the node the view was centred on (search, "Focus here", the last edit)
            style.update(borderColor="#ffb300", borderWidth=4, borderType="dashed")
        data.append(
            {
                "name": node.label,
                "value": [x, y],
                "itemStyle": style,
                "label": {"formatter": f"{node.op}\n{_short(node.label.strip())}"},
            }
        )
    index_of = {node: k for k, node in enumerate(view.members)}
    links = []
    for src, dst, tensor, shape in graph.edges:
        if src in index_of and dst in index_of:
            link = {
                "source": index_of[src],
                "target": index_of[dst],
                "value": shape,
                "name": tensor,
                "label": {"formatter": shape},
            }
            if view.positions[dst][1] - view.positions[src][1] > 1.5 * Y_SPACING:  # a skip edge: bend it
                link["lineStyle"] = {"curveness": 0.35}
            links.append(link)
    hidden = {"show": False}
    axis = {"type": "value", "axisLine": hidden, "axisTick": hidden, "axisLabel": hidden, "splitLine": hidden}
    return {
        "animation": False,
        "grid": {"left": PADDING, "right": PADDING, "top": PADDING, "bottom": PADDING},
        "xAxis": {**axis, "min": view.x_range[0], "max": view.x_range[1]},
        "yAxis": {**axis, "inverse": True, "min": view.y_range[0], "max": view.y_range[1]},
        "dataZoom": [
            {"type": "inside", "xAxisIndex": 0, "filterMode": "none"},
            {"type": "inside", "yAxisIndex": 0, "filterMode": "none"},
        ],
        "tooltip": {"show": True, "formatter": "{b}"},
        "series": [
            {
                "type": "graph",
                "coordinateSystem": "cartesian2d",
                "symbol": "roundRect",
                "symbolSize": [124, 42],
                "selectedMode": "single",
                "select": {"itemStyle": {"borderColor": "#ffb300", "borderWidth": 5}},
                "label": {"show": True, "color": "#fff", "fontSize": 11, "lineHeight": 15},
                "edgeSymbol": ["none", "arrow"],
                "edgeSymbolSize": 7,
                "edgeLabel": {"show": not many, "fontSize": 10, "color": "#444"},
                "lineStyle": {"color": "#90a4ae", "width": 1.5, "opacity": 0.9},
                "data": data,
                "links": links,
            }
        ],
    }


def selected_node(view: GraphView, indices: Sequence[int]) -> int | None:
    """Map the chart's selected data indices back to a graph node index (anchors are ignored)."""
    for k in indices:
        if 0 <= k < len(view.members):
            return view.members[k]
    return None


def _short(label: str, limit: int = 20) -> str:
    return label if len(label) <= limit else "…" + label[-(limit - 1) :]
