"""Log lines: JSON objects, per-webhook lines batched, everything else written at once."""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import orjson
import pytest

from bridge.telemetry.logs import BatchingStreamHandler, JsonFormatter, TextFormatter, info_line


def handler_on(
    stream: io.StringIO, interval: float = 0.05
) -> tuple[BatchingStreamHandler, logging.Logger]:
    handler = BatchingStreamHandler(stream, interval=interval)
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
        logged_at = datetime.fromisoformat(parsed["time"])
        assert logged_at.utcoffset() == timedelta(0)
        assert abs(logged_at.timestamp() - time.time()) < 60
    finally:
        logger.removeHandler(handler)


def test_a_full_batch_of_webhook_lines_is_written_without_waiting() -> None:
    stream = io.StringIO()
    handler, logger = handler_on(stream, interval=60)
    batch = BatchingStreamHandler.BATCH_LINES
    try:
        for number in range(batch - 1):
            logger.info("webhook", extra={"event_id": f"evt_{number}"})
        assert stream.getvalue() == ""
        logger.info("webhook", extra={"event_id": f"evt_{batch - 1}"})
        lines = stream.getvalue().splitlines()
        assert [orjson.loads(line)["event_id"] for line in lines] == [
            f"evt_{number}" for number in range(batch)
        ]
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


@pytest.fixture
def records_made() -> Iterator[list[str]]:
    """The messages of every `LogRecord` created meanwhile."""
    made: list[str] = []
    factory = logging.getLogRecordFactory()

    def counting(*args: object, **kwargs: object) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        made.append(record.getMessage())
        return record

    logging.setLogRecordFactory(counting)
    yield made
    logging.setLogRecordFactory(factory)


FIELDS = {"source": "stripe", "request_id": "r1", "status": 200, "event_id": "evt_1"}


def test_the_webhook_line_without_a_record_is_the_line_with_one(records_made: list[str]) -> None:
    stream = io.StringIO()
    handler, logger = handler_on(stream)
    logger.propagate = False  # our handler alone, as `configure_logging` leaves it
    try:
        info_line(logger, "webhook", FIELDS)
        assert records_made == []  # it went straight to the handler
        logger.info("webhook", extra=FIELDS)
        assert records_made == ["webhook"]
        handler.flush()
        direct, logged = (orjson.loads(line) for line in stream.getvalue().splitlines())
        assert list(direct) == list(logged)  # the same keys in the same order
        assert direct.pop("time").endswith("+00:00")
        logged.pop("time")
        expected = {
            "level": "INFO",
            "logger": "bridge.ingest",
            "message": "webhook",
            **FIELDS,
        }
        assert direct == logged == expected
    finally:
        logger.propagate = True
        logger.removeHandler(handler)


def test_anyone_else_listening_gets_the_record_as_before(
    records_made: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    stream = io.StringIO()
    handler, logger = handler_on(stream)
    try:
        with caplog.at_level(logging.INFO, logger="bridge.ingest"):
            info_line(logger, "webhook", FIELDS)
        assert records_made == ["webhook"]
        [record] = [r for r in caplog.records if r.name == "bridge.ingest"]
        assert record.__dict__["event_id"] == "evt_1"
        handler.flush()
        assert orjson.loads(stream.getvalue())["event_id"] == "evt_1"
    finally:
        logger.removeHandler(handler)


def test_a_level_above_info_keeps_the_webhook_line_out() -> None:
    stream = io.StringIO()
    handler, logger = handler_on(stream)
    logger.propagate = False
    logger.setLevel(logging.WARNING)
    try:
        info_line(logger, "webhook", FIELDS)
        handler.flush()
        assert stream.getvalue() == ""
    finally:
        logger.setLevel(logging.INFO)
        logger.propagate = True
        logger.removeHandler(handler)


def test_text_lines_quote_values_with_spaces() -> None:
    record = logging.makeLogRecord(
        {
            "name": "bridge.ingest",
            "levelname": "INFO",
            "msg": "webhook",
            "source": "stripe",
            "reason": 'session_id is missing ("x")',
            "empty": "",
        }
    )
    line = TextFormatter("%(message)s").format(record)
    assert line == 'webhook source=stripe reason="session_id is missing (\\"x\\")" empty=""'
