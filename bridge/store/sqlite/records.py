"""Storing an event in SQLite's SQL: the event once per (source, event id), each of its
conversions once per (destination, dedupe key); what that means is `bridge.store.rules`. Each
function is a job of the writer's group commit: it runs inside the group's transaction."""

from __future__ import annotations

import sqlite3

from bridge.store.base import NewEvent, Stored
from bridge.store.identity_rules import rows_to_link
from bridge.store.rules import ingested, kept_detail, replayed
from bridge.store.sqlite.identities import LINK

# `rowcount` and `lastrowid`, not RETURNING, which builds a temporary b-tree per statement
# (docs/benchmarks.md, "the store's statements").
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


_SET_OUTCOME = "UPDATE events SET outcome = ?, detail = ? WHERE id = ?"


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
        return ingested(event, None)
    event_ref = inserted.lastrowid
    created, first_recorded_by = _insert_deliveries(connection, event_ref, event)
    _link(connection, event)
    stored = ingested(event, created, first_recorded_by)
    if stored.outcome == "duplicate":
        connection.execute(_SET_OUTCOME, ("duplicate", kept_detail(event, stored), event_ref))
    return stored


def replay_one(connection: sqlite3.Connection, event: NewEvent) -> Stored:
    row = connection.execute(
        "SELECT id FROM events WHERE source = ? AND event_id = ?", (event.source, event.event_id)
    ).fetchone()
    if row is None:
        return ingest_one(connection, event)
    event_ref = row[0]
    created, first_recorded_by = _insert_deliveries(connection, event_ref, event)
    _link(connection, event)
    has_deliveries = connection.execute(
        "SELECT EXISTS (SELECT 1 FROM deliveries WHERE event_ref = ?)", (event_ref,)
    ).fetchone()[0]
    stored = replayed(event, bool(has_deliveries), created, first_recorded_by)
    connection.execute(_SET_OUTCOME, (stored.outcome, kept_detail(event, stored), event_ref))
    return stored


def _link(connection: sqlite3.Connection, event: NewEvent) -> None:
    if event.links:
        connection.executemany(LINK, rows_to_link(event.links))


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
