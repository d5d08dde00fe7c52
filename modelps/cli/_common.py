"""Helpers shared by command modules: JSON output and argument types."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["add_json_flag", "existing_file", "print_json", "to_jsonable"]


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    """Add ``--json`` (machine-readable output on stdout)."""
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")


def to_jsonable(value: Any) -> Any:
    """Convert numpy scalars/arrays, paths and tuples to plain JSON types."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    return value


def print_json(data: Any) -> None:
    """Write ``data`` as indented JSON to stdout."""
    json.dump(to_jsonable(data), sys.stdout, indent=2)
    sys.stdout.write("\n")


def existing_file(text: str) -> Path:
    """Argparse type: a path that must exist."""
    path = Path(text)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{text}: no such file")
    return path
