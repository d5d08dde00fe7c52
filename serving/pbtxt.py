"""Read and write the protobuf text format subset used by Triton's ``config.pbtxt``.

Messages become dicts, repeated fields lists, enums plain strings (``"TYPE_FP32"``). The reader
accepts what Triton's documentation shows: ``key: value``, ``key { ... }``, ``key: [ a, b ]``,
``key [ { ... }, { ... } ]``, repeated keys, ``#`` comments, single or double quoted strings and
optional ``,``/``;`` separators. Fields that Triton declares ``repeated`` are always lists.

Example::

    >>> text = dumps({"name": "m", "max_batch_size": 8,
    ...               "input": [{"name": "x", "data_type": "TYPE_FP32", "dims": [3, -1]}]})
    >>> print(text)
    name: "m"
    max_batch_size: 8
    input [
      {
        name: "x"
        data_type: TYPE_FP32
        dims: [ 3, -1 ]
      }
    ]
    <BLANKLINE>
    >>> loads(text)["input"][0]["dims"]
    [3, -1]
"""

from __future__ import annotations

import re
from typing import Any

from serving.errors import ConfigError

__all__ = ["dumps", "loads"]

REPEATED = frozenset(
    {
        "input", "output", "dims", "instance_group", "versions", "gpus", "preferred_batch_size",
        "gpu_execution_accelerator", "cpu_execution_accelerator",
    }
)  # fmt: skip
ENUMS = frozenset({"data_type", "kind", "format", "priority"})

_TOKEN = re.compile(
    r"""\s+|\#[^\n]*|(?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|(?P<num>[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+)(?![\w.]))"""
    r"""|(?P<id>[A-Za-z_][\w.]*|-?inf|nan)|(?P<punct>[{}\[\]:,;<>])"""
)


def loads(text: str) -> dict[str, Any]:
    """Parse text-format protobuf into a dict.

    Raises:
        ConfigError: The text is not valid text format; the message gives the line.
    """
    tokens = _tokenize(text)
    parser = _Parser(tokens)
    result = parser.message(closing=None)
    return result


def dumps(message: dict[str, Any]) -> str:
    """Write a dict as text-format protobuf (the inverse of :func:`loads`)."""
    lines: list[str] = []
    _write_message(message, lines, 0)
    return "\n".join(lines) + "\n"


def _tokenize(text: str) -> list[tuple[str, str, int]]:
    tokens = []
    pos, line = 0, 1
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise ConfigError(f"line {line}: unexpected character {text[pos]!r}")
        kind = match.lastgroup
        if kind is not None:
            tokens.append((kind, match.group(kind), line))
        line += match.group(0).count("\n")
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, str, int]]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> tuple[str, str, int]:
        token = self.peek()
        if token is None:
            raise ConfigError(f"unexpected end of text{f' (expected {expected!r})' if expected else ''}")
        if expected is not None and token[1] != expected:
            raise ConfigError(f"line {token[2]}: expected {expected!r}, found {token[1]!r}")
        self.pos += 1
        return token

    def message(self, closing: str | None) -> dict[str, Any]:
        result: dict[str, Any] = {}
        while True:
            token = self.peek()
            if token is None:
                if closing is not None:
                    raise ConfigError(f"unexpected end of text (missing {closing!r})")
                return result
            if token[1] == closing:
                self.pos += 1
                return result
            if token[1] in {",", ";"}:
                self.pos += 1
                continue
            kind, key, line = self.take()
            if kind != "id":
                raise ConfigError(f"line {line}: expected a field name, found {key!r}")
            value, is_list = self.field_value()
            _add(result, key, value, is_list)

    def field_value(self) -> tuple[Any, bool]:
        token = self.peek()
        if token is not None and token[1] == ":":
            self.pos += 1
            token = self.peek()
        if token is None:
            raise ConfigError("unexpected end of text (expected a value)")
        if token[1] == "[":
            self.pos += 1
            items: list[Any] = []
            while True:
                nxt = self.peek()
                if nxt is not None and nxt[1] == "]":
                    self.pos += 1
                    return items, True
                items.append(self.value())
                nxt = self.peek()
                if nxt is not None and nxt[1] == ",":
                    self.pos += 1
        return self.value(), False

    def value(self) -> Any:
        kind, text, line = self.take()
        if text in {"{", "<"}:
            return self.message("}" if text == "{" else ">")
        if kind == "str":
            return bytes(text[1:-1], "utf-8").decode("unicode_escape")
        if kind == "num":
            return float(text) if any(c in text for c in ".eE") else int(text)
        if kind == "id":
            return {"true": True, "false": False}.get(text, text)
        raise ConfigError(f"line {line}: unexpected {text!r}")


def _add(result: dict[str, Any], key: str, value: Any, is_list: bool) -> None:
    repeated = is_list or key in REPEATED
    if key in result:
        existing = result[key]
        if not isinstance(existing, list):
            existing = [existing]
        result[key] = existing + (value if is_list else [value])
    else:
        result[key] = value if is_list else ([value] if repeated else value)


def _scalar(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if key in ENUMS:
        return str(value)
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _write_message(message: dict[str, Any], lines: list[str], depth: int) -> None:
    pad = "  " * depth
    for key, value in message.items():
        if isinstance(value, dict):
            lines.append(f"{pad}{key} {{")
            _write_message(value, lines, depth + 1)
            lines.append(f"{pad}}}")
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            lines.append(f"{pad}{key} [")
            for i, item in enumerate(value):
                lines.append(f"{pad}  {{")
                _write_message(item, lines, depth + 2)
                lines.append(f"{pad}  }}" + ("," if i < len(value) - 1 else ""))
            lines.append(f"{pad}]")
        elif isinstance(value, list):
            lines.append(f"{pad}{key}: [ {', '.join(_scalar(key, v) for v in value)} ]")
        else:
            lines.append(f"{pad}{key}: {_scalar(key, value)}")
