"""Structured (JSON lines) logging for the server."""

from __future__ import annotations

import logging
import time

import orjson

__all__ = ["JsonFormatter", "configure"]

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any ``extra=`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        """Format one record as a JSON object."""
        data = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        data |= {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(data, default=str).decode()


def configure(level: int = logging.INFO, json_lines: bool = True) -> None:
    """Send the server's logs (``serving.*``) to stderr, as JSON lines by default."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("serving")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
