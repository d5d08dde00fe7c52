"""The graph canvas: the model as a hierarchical, zoomable graph in the browser.

:mod:`~editor_ui.canvas.doc` turns an ``onnx_ir`` model into a compact document (graphs, name-scope
groups, folded constants, subgraphs); :mod:`~editor_ui.canvas.component` hands it to the front end
(``editor_ui/frontend``, built into ``editor_ui/static/canvas``), which lays it out and draws it with
Cytoscape.js.
"""

__all__: list[str] = []
