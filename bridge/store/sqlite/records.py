"""What storing an event means in SQLite: the event once per (source, event id), each of its
conversions once per (destination, dedupe key), and the duplicate's reason. Each function is a
job of the writer's group commit: it runs inside the group's transaction."""

from __future__ import annotations

import sqlite3

import orjson

from bridge.store.base import EventOutcome, NewEvent, Stored

# The inserts tell what they did by the cursor's `rowcount` (0 on a conflict) and `lastrowid`,
# not by RETURNING: SQLite gathers RETURNING rows in a temporary b-tree it builds and drops for
# every statement (measured: a quarter of the store's instructions per ingested event).
INSERT_EVENT = """
INSERT INTO events (source, event_id, type, received_at, outcome, detail, payload)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (source, event_id) DO NOTHING
"""


INSERT_DELIVERY = """
INSERT INTO deliveries (event_ref, rule, destination, dedupe_key, conversion,
                        created_at, expires_at, next_attempt_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (destination, dedupe_key) DO NOTHING
"""


_FIRST_RECORDED_BY = """
SELECT e.event_id FROM deliveries d JOIN events e ON e.id = d.event_ref
WHERE d.destination = ? AND d.dedupe_key = ?
"""


def ingest_one(connection: sqlite3.Connection, event: NewEvent) -> Stored:
    inserted = connection.execute(
        INSERT_EVENT,
        (
            event.source,
            event.event_id,
            event.type,
            event.received_at,
            event.outcome,
            event.detail,
            event.raw,
        ),
    )
    if inserted.rowcount == 0 or inserted.lastrowid is None:
        return Stored("duplicate", 0)
    event_ref = inserted.lastrowid
    created, first_recorded_by = _insert_deliveries(connection, event_ref, event)
    if event.deliveries and created == 0:
        _mark_duplicate(connection, event_ref, event.detail, first_recorded_by)
        return Stored("duplicate", 0, first_recorded_by)
    return Stored(event.outcome, created, first_recorded_by)


def replay_one(connection: sqlite3.Connection, event: NewEvent) -> Stored:
    row = connection.execute(
        "SELECT id FROM events WHERE source = ? AND event_id = ?", (event.source, event.event_id)
    ).fetchone()
    if row is None:
        return ingest_one(connection, event)
    event_ref = row[0]
    created, first_recorded_by = _insert_deliveries(connection, event_ref, event)
    has_deliveries = connection.execute(
        "SELECT EXISTS (SELECT 1 FROM deliveries WHERE event_ref = ?)", (event_ref,)
    ).fetchone()[0]
    if has_deliveries:
        outcome: EventOutcome = "accepted"
    elif event.deliveries:
        _mark_duplicate(connection, event_ref, event.detail, first_recorded_by)
        return Stored("duplicate", 0, first_recorded_by)
    else:
        outcome = event.outcome
    connection.execute(
        "UPDATE events SET outcome = ?, detail = ? WHERE id = ?", (outcome, event.detail, event_ref)
    )
    return Stored(outcome, created, first_recorded_by)


def _insert_deliveries(
    connection: sqlite3.Connection, event_ref: int, event: NewEvent
) -> tuple[int, str | None]:
    """Add the deliveries not recorded yet; returns (created, first event that recorded one)."""
    created = 0
    first_recorded_by: str | None = None
    for d in event.deliveries:
        inserted = connection.execute(
            INSERT_DELIVERY,
            (
                event_ref,
                d.rule,
                d.destination,
                d.dedupe_key,
                d.conversion,
                event.received_at,
                d.expires_at,
                event.received_at,
            ),
        ).rowcount
        if inserted:
            created += 1
        elif first_recorded_by is None:
            found = connection.execute(_FIRST_RECORDED_BY, (d.destination, d.dedupe_key)).fetchone()
            first_recorded_by = found[0] if found else "?"
    return created, first_recorded_by


def _mark_duplicate(
    connection: sqlite3.Connection, event_ref: int, detail: bytes, first_recorded_by: str | None
) -> None:
    updated = orjson.loads(detail)
    updated["reason"] = f"conversion already recorded from event {first_recorded_by}"
    connection.execute(
        "UPDATE events SET outcome = 'duplicate', detail = ? WHERE id = ?",
        (orjson.dumps(updated), event_ref),
    )
