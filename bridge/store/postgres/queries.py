"""The event listings' statements and filter arguments, and the count of affected rows."""

from __future__ import annotations

from typing import Any

from bridge.store.base import EventFilter

EVENT_WHERE = """
WHERE ($1::text IS NULL OR source = $1) AND ($2::text IS NULL OR outcome = $2)
  AND ($3::bigint IS NULL OR received_at >= $3) AND ($4::bigint IS NULL OR received_at < $4)
  AND ($5::text IS NULL OR event_id = $5)
"""
LIST_EVENTS = f"""
SELECT source, event_id, type, received_at, outcome, detail, payload IS NOT NULL FROM events
{EVENT_WHERE} ORDER BY id DESC LIMIT $6
"""
_RAW_COLUMNS = "SELECT source, event_id, type, outcome, payload, received_at FROM events"
RAW_EVENTS = f"{_RAW_COLUMNS} {EVENT_WHERE} ORDER BY id LIMIT $6"
# Written with the literal the partial index `events_waiting` is defined by, so it is used.
WAITING_EVENTS = f"{_RAW_COLUMNS} WHERE outcome = 'waiting_identity' ORDER BY id LIMIT $1"


def event_arguments(where: EventFilter) -> tuple[Any, ...]:
    return (where.source, where.outcome, where.since, where.until, where.event_id)


def affected(status: str) -> int:
    """Rows affected, from asyncpg's command status ("UPDATE 3", "INSERT 0 2")."""
    return int(status.rsplit(" ", 1)[-1])
