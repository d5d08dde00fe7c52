"""The canvas as a Streamlit component: the built front end, and the graph document served beside it.

The document is written once per model revision to a cache folder that Streamlit serves as a second
(file-only) component, and the canvas fetches it by URL. So the arguments sent on every rerun stay a
few hundred bytes however large the model is, and a click costs one small round trip.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from editor_ui.canvas.doc import CanvasDoc

__all__ = ["STATIC", "canvas", "data_folder", "publish"]

logger = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent.parent / "static" / "canvas"
"""The built front end (``npm run build`` in ``editor_ui/frontend`` writes it)."""
KEEP_DOCS = 40

_declared: dict[str, Any] = {}


def data_folder() -> Path:
    """The folder the graph documents are served from (private to this user)."""
    folder = Path(tempfile.gettempdir()) / f"modelps-canvas-{os.getuid() if hasattr(os, 'getuid') else 0}"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def _components() -> tuple[Any, Any]:
    if not _declared:
        import streamlit.components.v1 as components

        if not (STATIC / "index.html").exists():
            raise FileNotFoundError(f"the canvas is not built: {STATIC} (npm run build in editor_ui/frontend)")
        _declared["canvas"] = components.declare_component("modelps_canvas", path=str(STATIC))
        _declared["data"] = components.declare_component("modelps_canvas_data", path=str(data_folder()))
    return _declared["canvas"], _declared["data"]


def publish(doc: CanvasDoc) -> str:
    """Write ``doc`` where the canvas can fetch it (once per token); returns its URL relative to the canvas."""
    _, data = _components()
    folder = data_folder()
    path = folder / f"{doc.token}.json"
    if not path.exists():
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(doc.to_json())
        os.replace(tmp, path)
        old = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime)[:-KEEP_DOCS]
        for stale in old:
            stale.unlink(missing_ok=True)
    else:
        path.touch()
    return f"../{data.name}/{path.name}"


def canvas(
    doc: CanvasDoc,
    *,
    key: str,
    view_key: str,
    height: int = 760,
    selected: tuple[str, str] | None = None,
    tensors: list[str] | None = None,
    focus: tuple[str, str, int] | None = None,
    overlay: dict[str, Any] | None = None,
    diff: dict[str, list[str]] | None = None,
    sync: str | None = None,
    pane: str = "main",
) -> dict[str, Any] | None:
    """Draw ``doc``; returns the user's last event (``select``, ``tensors`` or ``action``), or ``None``.

    ``selected`` is ``(graph id, node name)``; ``focus`` ``(graph id, node name, nonce)`` moves the view to
    a node once per nonce; ``overlay`` is a heat map ``{"kind": "heat", "label", "values": {node: value}}``;
    ``diff`` colours ``added``/``removed``/``changed`` node names; canvases with the same ``sync`` follow
    each other's navigation. ``view_key`` names the view the browser remembers across page switches.
    """
    component, _ = _components()
    args = {
        "doc_url": publish(doc),
        "token": doc.token,
        "height": height,
        "view_key": view_key,
        "selected": {"graph": selected[0], "node": selected[1]} if selected else None,
        "tensors": list(tensors or []),
        "focus": {"graph": focus[0], "node": focus[1], "nonce": focus[2]} if focus else None,
        "overlay": overlay,
        "diff": diff,
        "sync": sync,
        "pane": pane,
    }
    json.dumps(args)  # fail here, with the Python stack, on anything not JSON-ready
    return component(key=key, default=None, **args)
