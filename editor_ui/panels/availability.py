"""Which optional back ends are installed: the genie, serving and the shared session store."""

from __future__ import annotations

__all__ = ["genie_available", "serving_available", "sessions_available"]


def _importable(name: str) -> bool:
    try:
        __import__(name)
    except ImportError:
        return False
    return True


def genie_available() -> bool:
    """Whether the genie package is installed."""
    return _importable("genie")


def serving_available() -> bool:
    """Whether the serving package is installed."""
    return _importable("serving")


def sessions_available() -> bool:
    """Whether the shared session store is installed."""
    try:
        from editor_ui import shared  # noqa: F401
    except ImportError:
        return False
    return True
