"""Storing an event in PostgreSQL's SQL: the event once per (source, event id), each of its
conversions once per (destination, dedupe key) in `conversion_keys`, which outlive purged
deliveries; what that means is `bridge.store.rules`. Each ingest is one statement per event."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bridge.store.base import NewDelivery, NewEvent, Stored
from bridge.store.identity_rules import rows_to_link
from bridge.store.postgres.identities import LINK
from bridge.store.rules import ingested, kept_detail, replayed

_INGEST = """
WITH ev AS (
    INSERT INTO events (source, event_id, type, received_at, outcome, detail, payload)
    VALUES ($1, $2, $3, $4, $5, $6, $7)
    ON CONFLICT (source, event_id) DO NOTHING
    RETURNING id
),
planned AS (
    SELECT DISTINCT ON (destination, dedupe_key) *
    FROM unnest($8::text[], $9::text[], $10::text[], $11::bytea[], $12::bigint[])
        AS p(destination, rule, dedupe_key, conversion, expires_at)
),
keys AS (
    INSERT INTO conversion_keys (destination, dedupe_key, event_ref)
    SELECT p.destination, p.dedupe_key, ev.id FROM planned p CROSS JOIN ev
    ON CONFLICT DO NOTHING
    RETURNING destination, dedupe_key, event_ref
),
queued AS (
    INSERT INTO deliveries (event_ref, rule, destination, dedupe_key, conversion,
                            created_at, expires_at, next_attempt_at)
    SELECT k.event_ref, p.rule, p.destination, p.dedupe_key, p.conversion, $4, p.expires_at, $4
    FROM keys k JOIN planned p USING (destination, dedupe_key)
    RETURNING id
)
SELECT (SELECT id FROM ev) AS event_ref, (SELECT count(*) FROM queued) AS created
"""


_FIRST_RECORDED_BY = """
SELECT e.event_id FROM conversion_keys k JOIN events e ON e.id = k.event_ref
WHERE (k.destination, k.dedupe_key) IN (SELECT * FROM unnest($1::text[], $2::text[]))
  AND k.event_ref <> $3
ORDER BY k.event_ref LIMIT 1
"""


_ADD_DELIVERIES = """
WITH planned AS (
    SELECT DISTINCT ON (destination, dedupe_key) *
    FROM unnest($3::text[], $4::text[], $5::text[], $6::bytea[], $7::bigint[])
        AS p(destination, rule, dedupe_key, conversion, expires_at)
),
keys AS (
    INSERT INTO conversion_keys (destination, dedupe_key, event_ref)
    SELECT destination, dedupe_key, $1 FROM planned
    ON CONFLICT DO NOTHING
    RETURNING destination, dedupe_key
),
queued AS (
    INSERT INTO deliveries (event_ref, rule, destination, dedupe_key, conversion,
                            created_at, expires_at, next_attempt_at)
    SELECT $1, p.rule, p.destination, p.dedupe_key, p.conversion, $2, p.expires_at, $2
    FROM keys k JOIN planned p USING (destination, dedupe_key)
    RETURNING id
)
SELECT count(*) FROM queued
"""


_SET_OUTCOME = "UPDATE events SET outcome = $1, detail = $2 WHERE id = $3"


async def ingest_one(connection: Any, event: NewEvent) -> Stored:
    deliveries = event.deliveries
    row = await connection.fetchrow(
        _INGEST,
        event.source,
        event.event_id,
        event.type,
        event.received_at,
        event.outcome,
        event.detail,
        event.raw,
        [d.destination for d in deliveries],
        [d.rule for d in deliveries],
        [d.dedupe_key for d in deliveries],
        [d.conversion for d in deliveries],
        [d.expires_at for d in deliveries],
    )
    event_ref, created = row["event_ref"], row["created"]
    if event_ref is None:
        return ingested(event, None)
    first_recorded_by = None
    if created < _planned(deliveries):
        first_recorded_by = await _first_recorded_by(connection, deliveries, event_ref)
    await _link(connection, event)
    stored = ingested(event, created, first_recorded_by)
    if stored.outcome == "duplicate":
        await connection.execute(_SET_OUTCOME, "duplicate", kept_detail(event, stored), event_ref)
    return stored


async def replay_one(connection: Any, event: NewEvent) -> Stored:
    event_ref = await connection.fetchval(
        "SELECT id FROM events WHERE source = $1 AND event_id = $2", event.source, event.event_id
    )
    if event_ref is None:
        return await ingest_one(connection, event)
    deliveries = event.deliveries
    created: int = await connection.fetchval(
        _ADD_DELIVERIES,
        event_ref,
        event.received_at,
        [d.destination for d in deliveries],
        [d.rule for d in deliveries],
        [d.dedupe_key for d in deliveries],
        [d.conversion for d in deliveries],
        [d.expires_at for d in deliveries],
    )
    # Its conversion keys outlive purged deliveries: an event that recorded a conversion once
    # stays `accepted`.
    has_deliveries = await connection.fetchval(
        "SELECT EXISTS (SELECT 1 FROM conversion_keys WHERE event_ref = $1)", event_ref
    )
    first_recorded_by = None
    if created < _planned(deliveries):
        first_recorded_by = await _first_recorded_by(connection, deliveries, -1)
    await _link(connection, event)
    stored = replayed(event, has_deliveries, created, first_recorded_by)
    await connection.execute(_SET_OUTCOME, stored.outcome, kept_detail(event, stored), event_ref)
    return stored


async def _link(connection: Any, event: NewEvent) -> None:
    """The event's links, in its transaction (one statement, a column per array)."""
    rows = rows_to_link(event.links)
    if rows:
        await connection.execute(LINK, *map(list, zip(*rows, strict=True)))


def _planned(deliveries: Sequence[NewDelivery]) -> int:
    """How many deliveries the event asks for: one per (destination, dedupe key)."""
    return len({(d.destination, d.dedupe_key) for d in deliveries})


async def _first_recorded_by(
    connection: Any, deliveries: Sequence[NewDelivery], other_than: int
) -> str | None:
    """The first event other than `other_than` (-1: any) that recorded one of `deliveries`."""
    found: str | None = await connection.fetchval(
        _FIRST_RECORDED_BY,
        [d.destination for d in deliveries],
        [d.dedupe_key for d in deliveries],
        other_than,
    )
    return found
