"""Structured logging: one JSON object per line, for the server (`loket serve`).

A record's structured data travels in `extra={"fields": {...}}` and is merged into the
line. An exception attached to a record is written as its type and traceback frames
only: exception messages may quote personal data.
"""

from __future__ import annotations

import json
import logging
import traceback
from datetime import UTC, datetime
from typing import Any


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info and record.exc_info[1] is not None:
            exception = record.exc_info[1]
            entry.setdefault("exceptionType", type(exception).__qualname__)
            entry.setdefault(
                "frames",
                [
                    {"file": f.filename, "line": f.lineno, "function": f.name}
                    for f in traceback.extract_tb(exception.__traceback__)
                ],
            )
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure(level: int = logging.INFO) -> None:
    """Send every log record (the app's, uvicorn's) to stderr as JSON lines."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Tortoise logs every statement with its parameters at DEBUG: names, addresses,
    # password hashes. Never, whatever the level asked for.
    logging.getLogger("tortoise.db_client").setLevel(max(level, logging.INFO))


__all__ = ["JsonFormatter", "configure"]
