"""The ModelPS editor: a Streamlit front end over ``modelps``, ``genie`` and ``serving``.

Start it with ``modelps ui`` (or ``modelps up`` for the UI plus a local model server). The Streamlit
script (:mod:`editor_ui.app`) only lays out widgets; the logic lives in plain modules
(:mod:`editor_ui.graph`, :mod:`editor_ui.inspector`, :mod:`editor_ui.forms`, :mod:`editor_ui.actions`,
:mod:`editor_ui.workspace`, ...), which are unit tested.
"""

__all__: list[str] = []
