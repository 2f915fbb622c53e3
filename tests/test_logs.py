"""Log lines: JSON objects, per-webhook lines batched, everything else written at once."""

from __future__ import annotations

import io
import logging
import time

import orjson

from bridge.logs import BatchingStreamHandler, JsonFormatter


def handler_on(stream: io.StringIO) -> tuple[BatchingStreamHandler, logging.Logger]:
    handler = BatchingStreamHandler(stream, interval=0.05)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("bridge.ingest")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return handler, logger


def test_webhook_lines_are_batched_but_written_within_the_interval() -> None:
    stream = io.StringIO()
    handler, logger = handler_on(stream)
    try:
        logger.info("webhook", extra={"source": "stripe", "event_id": "evt_1"})
        assert stream.getvalue() == ""
        deadline = time.monotonic() + 2
        while not stream.getvalue() and time.monotonic() < deadline:
            time.sleep(0.01)
        [line] = stream.getvalue().splitlines()
        parsed = orjson.loads(line)
        assert (parsed["message"], parsed["source"], parsed["event_id"]) == (
            "webhook",
            "stripe",
            "evt_1",
        )
        assert parsed["time"].endswith("+00:00")
    finally:
        logger.removeHandler(handler)


def test_warnings_go_out_at_once_after_what_was_waiting() -> None:
    stream = io.StringIO()
    handler, logger = handler_on(stream)
    try:
        logger.info("webhook", extra={"event_id": "evt_1"})
        logger.warning("webhook rejected", extra={"status": 401})
        messages = [orjson.loads(line)["message"] for line in stream.getvalue().splitlines()]
        assert messages == ["webhook", "webhook rejected"]
    finally:
        logger.removeHandler(handler)
