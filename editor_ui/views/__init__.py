"""The Streamlit pages, one module each; :mod:`editor_ui.app` picks one from the sidebar."""

__all__: list[str] = []
