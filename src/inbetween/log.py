"""Structured logging: one line per event, ``key=value`` pairs, job id on every job line."""

from __future__ import annotations

import logging
import sys
from typing import Any

__all__ = ["configure", "event"]


class _KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = getattr(record, "fields", {})
        parts = [
            self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            record.levelname.lower(),
            record.getMessage(),
        ]
        parts += [f"{k}={v!r}" if isinstance(v, str) and " " in v else f"{k}={v}"
                  for k, v in fields.items()]
        line = " ".join(parts)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure(level: str = "INFO") -> None:
    """Send inbetween's logs to stderr, one line per event."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_KeyValueFormatter())
    root = logging.getLogger("inbetween")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False


def event(
    logger: logging.Logger, name: str, *, level: int = logging.INFO, exc: bool = False,
    **fields: Any,
) -> None:
    """Log the event ``name`` with ``fields`` as key=value pairs."""
    logger.log(level, name, extra={"fields": fields}, exc_info=exc)
