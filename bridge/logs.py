"""Structured logs: one JSON object per line (or plain text for people at a terminal).

What is logged is chosen at each call site: ids, names, outcomes, counts and timings. Raw
payloads, secrets and emails are never passed to a logger.
"""

from __future__ import annotations

import logging
import sys
from typing import Literal

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

_UNWANTED = ("color_message",)  # uvicorn's ANSI-coloured duplicate of the message
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", *_UNWANTED}


class TextFormatter(logging.Formatter):
    """Plain lines with the structured fields appended as key=value."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        return line + "".join(f" {k}={v}" for k, v in extras.items())


def configure_logging(level: str = "info", fmt: Literal["json", "text"] = "json") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(
            JsonFormatter(
                "{levelname}{name}{message}",
                style="{",
                rename_fields={"levelname": "level", "name": "logger"},
                timestamp="time",  # ISO 8601 in UTC
                reserved_attrs=[*RESERVED_ATTRS, *_UNWANTED],
            )
        )
    else:
        handler.setFormatter(TextFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("httpx", "httpcore", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
