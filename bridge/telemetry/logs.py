"""Structured logs: one JSON object per line (or plain text for people at a terminal).

What is logged is chosen at each call site: ids, names, outcomes, counts and timings. Raw
payloads, secrets and emails are never passed to a logger.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Literal, TextIO

import orjson

_UNWANTED = ("color_message",)  # uvicorn's ANSI-coloured duplicate of the message
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", *_UNWANTED}


class JsonFormatter(logging.Formatter):
    """One JSON object per line, built with orjson (a general-purpose JSON log library cost five
    times as much per line, on the path that answers every webhook)."""

    def format(self, record: logging.LogRecord) -> str:
        fields = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        if record.exc_info:
            fields["exc_info"] = self.formatException(record.exc_info)
        return json_line(record.levelname, record.name, record.getMessage(), fields, record.created)


def json_line(
    level: str, logger: str, message: str, fields: Mapping[str, object], created: float
) -> str:
    """The JSON form of one log line, for `JsonFormatter` and for `info_line` alike."""
    line: dict[str, object] = {"level": level, "logger": logger, "message": message, **fields}
    line["time"] = datetime.fromtimestamp(created, UTC)  # orjson writes it as isoformat() does
    return orjson.dumps(line, default=str).decode()


class TextFormatter(logging.Formatter):
    """Plain lines with the structured fields appended as key=value; a value with a space, a
    quote, an `=` or nothing at all is quoted (as JSON quotes a string), so that where one value
    ends and the next key starts is never in doubt."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        return line + "".join(f" {k}={_text_value(v)}" for k, v in extras.items())


def _text_value(value: object) -> str:
    text = str(value)
    if text and text.isprintable() and not any(c in text for c in ' "='):
        return text
    return orjson.dumps(text).decode()


class BatchingStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes the per-webhook and per-delivery lines in batches, at most `interval` seconds
    late: one system call per batch instead of one per line, which cost more than the rest of a
    webhook's logging. Every other line (start, stop, warnings, errors) is written at once,
    after whatever is waiting, so nothing is reordered and nothing important waits."""

    BATCHED = frozenset({"bridge.ingest", "bridge.delivery"})
    BATCH_LINES = 64
    """Lines written together at most (about 20 KB): 256 was slower under load, each write
    sweeping a few hundred KB (the lines, their join, its encoding) through the CPU's cache
    (docs/benchmarks.md, "The levers")."""

    def __init__(self, stream: TextIO, interval: float = 0.1, batch: int = BATCH_LINES) -> None:
        super().__init__(stream)
        self._pending: list[str] = []
        self._batch = batch
        self._interval = interval
        flusher = threading.Thread(
            target=self._flush_every_interval, name="bridge-log-flush", daemon=True
        )
        flusher.start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        urgent = record.levelno >= logging.WARNING or record.name not in self.BATCHED
        self._queue(line, urgent)  # handle() holds self.lock

    def emit_line(self, line: str) -> None:
        """Queue a line formatted already, as `emit` queues a batched one."""
        with self.lock:  # type: ignore[union-attr]
            self._queue(line, urgent=False)

    def _queue(self, line: str, urgent: bool) -> None:
        self._pending.append(line + self.terminator)
        if urgent or len(self._pending) >= self._batch:
            self._write()

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            self._write()

    def _write(self) -> None:
        if not self._pending:
            return
        text, self._pending = "".join(self._pending), []
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            pass  # a closed or broken stderr must not take webhooks down with it

    def _flush_every_interval(self) -> None:
        while True:
            time.sleep(self._interval)
            self.flush()


def info_line(logger: logging.Logger, message: str, fields: Mapping[str, object]) -> None:
    """`logger.info(message, extra=fields)` for the line logged once per webhook.

    When the only thing that would see the record is bridge's own batching JSON handler (no
    handler, filter or level of anyone else's on the way: what `configure_logging` sets up),
    the line goes to that handler directly, as the same bytes, without a `LogRecord`, the
    hierarchy walk and the handler's filters, which cost a share of every webhook
    (docs/benchmarks.md, "The levers"). Anything else (a test's capturing handler, text
    format, another level) takes the logging module's way."""
    handler = _sole_json_handler(logger)
    if handler is None:
        logger.info(message, extra=dict(fields))
    else:
        handler.emit_line(json_line("INFO", logger.name, message, fields, time.time()))


def _sole_json_handler(logger: logging.Logger) -> BatchingStreamHandler | None:
    if not logger.isEnabledFor(logging.INFO):
        return None
    handler = None
    current: logging.Logger | None = logger
    while current is not None:
        if current.filters or current.disabled:
            return None
        if current.handlers:
            if handler is not None or len(current.handlers) != 1:
                return None
            handler = current.handlers[0]
        if not current.propagate:
            break
        current = current.parent
    if (
        type(handler) is BatchingStreamHandler
        and not handler.filters
        and handler.level <= logging.INFO
        and type(handler.formatter) is JsonFormatter
        and logger.name in BatchingStreamHandler.BATCHED
    ):
        return handler
    return None


def flush_logs() -> None:
    """Write out every waiting line (at shutdown, before the process exits)."""
    for handler in logging.getLogger().handlers:
        handler.flush()


def configure_logging(level: str = "info", fmt: Literal["json", "text"] = "json") -> None:
    # Per-record facts bridge never logs; skipping them is the logging module's own advice for
    # speed (logging HOWTO, "Optimization").
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging._srcfile = None  # no caller lookup (file and line are not logged)
    handler = BatchingStreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("httpx", "httpcore", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
