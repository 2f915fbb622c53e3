"""The shared store for many replicas: PostgreSQL through asyncpg.

Several processes claim from one queue with `FOR UPDATE SKIP LOCKED`: each due delivery goes to
exactly one of them, and nobody waits on rows another holds. Leases expire, so a dead replica's
work is picked up. The queue table holds pending deliveries only; finished ones move to
`deliveries_done` in the same statement that records them, so the table every claim scans stays
small (a SKIP LOCKED queue slows sharply when it fills with dead rows and old versions).
Each ingest is one transaction of one statement per event: PostgreSQL commits durably
(`synchronous_commit`, on by default) before we answer, and groups concurrent commits' WAL
flushes itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import asyncpg

from bridge.store.base import (
    AttemptRecord,
    ClaimedDelivery,
    DeliveryStatus,
    DeliveryView,
    EventFilter,
    EventTrace,
    EventView,
    NewEvent,
    PurgeCounts,
    QueueDepth,
    RawEvent,
    Stored,
    StoreRefused,
    StoreUnavailable,
)
from bridge.store.identities import HoldsIdentities
from bridge.store.migrations import CURRENT_VERSION
from bridge.store.postgres.identities import PostgresIdentities
from bridge.store.postgres.migrate import migrate
from bridge.store.postgres.queries import (
    LIST_EVENTS,
    RAW_EVENTS,
    WAITING_EVENTS,
    affected,
    event_arguments,
)
from bridge.store.postgres.records import ingest_one, replay_one
from bridge.store.rules import check_storable, event_trace, event_view, in_chunks

# What each error means: data PostgreSQL refuses is bad input, not an outage; everything else
# the driver raises (a closed connection, "another operation is in progress" while the server
# shuts down, a server error) means the store cannot answer now.
_REFUSED = (asyncpg.DataError,)
_UNAVAILABLE = (
    OSError,
    TimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.InternalClientError,
)

_CLAIM = """
WITH due AS (
    SELECT id FROM deliveries
    WHERE next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until <= $1)
      AND destination = ANY($2::text[])
    ORDER BY next_attempt_at
    LIMIT $3
    FOR UPDATE SKIP LOCKED
)
UPDATE deliveries d SET lease_owner = $4, lease_until = $5
FROM due, events e WHERE d.id = due.id AND e.id = d.event_ref
RETURNING d.id, d.destination, d.conversion, d.attempts, d.created_at, d.expires_at, e.source,
          e.event_id
"""
# Retries, and split attempts (`finishes` false), which keep their lease: the halves follow.
_RECORD_RETRIES = """
WITH input AS (
    SELECT * FROM unnest($2::bigint[], $3::bigint[], $4::int[], $5::bigint[], $6::int[], $7::text[],
                         $8::text[], $9::boolean[])
        AS i(id, attempted_at, duration_ms, next_attempt_at, http_status, answer, outcome,
             finishes)
),
updated AS (
    UPDATE deliveries d
    SET attempts = d.attempts + 1, next_attempt_at = COALESCE(i.next_attempt_at, d.next_attempt_at),
        last_status = i.http_status, last_answer = i.answer,
        lease_owner = CASE WHEN i.finishes THEN NULL ELSE d.lease_owner END,
        lease_until = CASE WHEN i.finishes THEN NULL ELSE d.lease_until END
    FROM input i WHERE d.id = i.id AND d.lease_owner = $1
    RETURNING d.id, d.event_ref
)
INSERT INTO attempts (delivery_ref, event_ref, attempted_at, duration_ms, http_status,
                      outcome, answer)
SELECT u.id, u.event_ref, i.attempted_at, i.duration_ms, i.http_status, i.outcome, i.answer
FROM updated u JOIN input i ON i.id = u.id
"""
_RECORD_FINISHED = """
WITH input AS (
    SELECT * FROM unnest($2::bigint[], $3::bigint[], $4::int[], $5::int[], $6::text[],
                         $7::text[], $8::text[])
        AS i(id, attempted_at, duration_ms, http_status, answer, status, outcome)
),
moved AS (
    DELETE FROM deliveries d USING input i
    WHERE d.id = i.id AND d.lease_owner = $1
    RETURNING d.*
),
done AS (
    INSERT INTO deliveries_done (id, event_ref, rule, destination, dedupe_key, conversion, status,
                                 attempts, created_at, expires_at, next_attempt_at, last_status,
                                 last_answer, finished_at)
    SELECT m.id, m.event_ref, m.rule, m.destination, m.dedupe_key, m.conversion, i.status,
           m.attempts + 1, m.created_at, m.expires_at, m.next_attempt_at, i.http_status,
           i.answer, i.attempted_at
    FROM moved m JOIN input i ON i.id = m.id
    RETURNING id, event_ref
)
INSERT INTO attempts (delivery_ref, event_ref, attempted_at, duration_ms, http_status,
                      outcome, answer)
SELECT d.id, d.event_ref, i.attempted_at, i.duration_ms, i.http_status, i.outcome, i.answer
FROM done d JOIN input i ON i.id = d.id
"""
_QUEUE_DEPTH = """
SELECT destination, COUNT(*)::int, COUNT(*) FILTER (WHERE next_attempt_at <= $1)::int,
       MIN(next_attempt_at) FILTER (WHERE next_attempt_at <= $1)
FROM deliveries GROUP BY destination ORDER BY destination
"""

_LIST = """
SELECT * FROM (
    SELECT d.id, e.source, e.event_id, d.rule, d.destination, 'pending' AS status, d.attempts,
           d.created_at, d.next_attempt_at, NULL::bigint AS finished_at, d.last_status,
           d.last_answer
    FROM deliveries d JOIN events e ON e.id = d.event_ref
    WHERE ($1::text IS NULL OR $1 = 'pending') AND ($2::text IS NULL OR d.destination = $2)
    UNION ALL
    SELECT f.id, e.source, e.event_id, f.rule, f.destination, f.status, f.attempts,
           f.created_at, f.next_attempt_at, f.finished_at, f.last_status, f.last_answer
    FROM deliveries_done f JOIN events e ON e.id = f.event_ref
    WHERE ($1::text IS NULL OR f.status = $1) AND ($2::text IS NULL OR f.destination = $2)
) AS everything
ORDER BY id DESC LIMIT $3
"""
_RETRY_QUEUED = """
UPDATE deliveries SET next_attempt_at = $4, expires_at = $5, lease_owner = NULL, lease_until = NULL
WHERE ($1::bigint[] IS NULL OR id = ANY($1)) AND ($2::text IS NULL OR $2 = 'pending')
  AND ($3::text IS NULL OR destination = $3)
"""
_RETRY_FINISHED = """
WITH moved AS (
    DELETE FROM deliveries_done
    WHERE ($1::bigint[] IS NULL OR id = ANY($1)) AND ($2::text IS NULL OR status = $2)
      AND ($3::text IS NULL OR destination = $3)
    RETURNING *
)
INSERT INTO deliveries (id, event_ref, rule, destination, dedupe_key, conversion, attempts,
                        created_at, expires_at, next_attempt_at, last_status, last_answer)
OVERRIDING SYSTEM VALUE
SELECT id, event_ref, rule, destination, dedupe_key, conversion, attempts, created_at, $5, $4,
       last_status, last_answer
FROM moved
"""
_TRACE_EVENT = """
SELECT id, source, event_id, type, received_at, outcome, detail, payload IS NOT NULL
FROM events WHERE source = $1 AND event_id = $2
"""
_TRACE_DELIVERIES = """
SELECT id, $2::text, $3::text, rule, destination, 'pending', attempts, created_at,
       next_attempt_at, NULL::bigint, last_status, last_answer, conversion
FROM deliveries WHERE event_ref = $1
UNION ALL
SELECT id, $2::text, $3::text, rule, destination, status, attempts, created_at,
       next_attempt_at, finished_at, last_status, last_answer, conversion
FROM deliveries_done WHERE event_ref = $1
ORDER BY 1
"""
_TRACE_ATTEMPTS = """
SELECT delivery_ref, attempted_at, duration_ms, http_status, outcome, answer
FROM attempts WHERE event_ref = $1 ORDER BY id
"""
_CLEAR_PAYLOADS = """
UPDATE events SET payload = NULL WHERE id IN (
    SELECT id FROM events WHERE received_at < $1 AND payload IS NOT NULL LIMIT $2)
"""
_DELETE_FINISHED_EVENTS = """
DELETE FROM events WHERE id IN (
    SELECT e.id FROM events e WHERE e.received_at < $1 AND NOT EXISTS (
        SELECT 1 FROM deliveries d WHERE d.event_ref = e.id)
    LIMIT $2)
"""
_PURGE_DELIVERIES = """
WITH gone AS (
    DELETE FROM deliveries_done
    WHERE ($1::bigint[] IS NULL OR id = ANY($1)) AND ($2::text IS NULL OR status = $2)
      AND ($3::text IS NULL OR destination = $3)
    RETURNING id
),
history AS (DELETE FROM attempts WHERE delivery_ref IN (SELECT id FROM gone))
SELECT count(*) FROM gone
"""


class PostgresStore(HoldsIdentities):
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self.identities = PostgresIdentities(self._connection)

    @classmethod
    async def open(cls, url: str, *, pool_size: int = 10) -> PostgresStore:
        try:
            pool = await asyncpg.create_pool(url, min_size=1, max_size=pool_size)
            await migrate(pool)
        except _UNAVAILABLE as exc:
            raise StoreUnavailable(f"cannot open PostgreSQL store: {exc}") from exc
        return cls(pool)

    async def close(self) -> None:
        await self._pool.close()

    async def queue_depth(self, now: int) -> list[QueueDepth]:
        async with self._connection() as connection:
            rows = await connection.fetch(_QUEUE_DEPTH, now)
        return [QueueDepth(*row) for row in rows]

    async def ping(self) -> None:
        async with self._connection() as connection:
            await connection.fetchval("SELECT 1")

    async def schema_version(self) -> int:
        async with self._connection() as connection:
            version: int = await connection.fetchval(CURRENT_VERSION)
            return version

    async def ingest(self, events: Sequence[NewEvent]) -> list[Stored]:
        check_storable(events)
        async with self._connection() as connection, connection.transaction():
            return [await ingest_one(connection, event) for event in events]

    async def claim(
        self, owner: str, now: int, limit: int, lease_ms: int, destinations: Collection[str]
    ) -> list[ClaimedDelivery]:
        if not destinations:
            return []
        async with self._connection() as connection:
            rows = await connection.fetch(
                _CLAIM, now, sorted(destinations), limit, owner, now + lease_ms
            )
        return sorted((ClaimedDelivery(*row) for row in rows), key=lambda d: d.id)

    async def record(self, owner: str, attempts: Sequence[AttemptRecord]) -> None:
        retries = [a for a in attempts if a.status == "pending"]
        finished = [a for a in attempts if a.status != "pending"]
        async with self._connection() as connection, connection.transaction():
            if retries:
                await connection.execute(
                    _RECORD_RETRIES,
                    owner,
                    [a.delivery_id for a in retries],
                    [a.attempted_at for a in retries],
                    [a.duration_ms for a in retries],
                    [a.next_attempt_at for a in retries],
                    [a.http_status for a in retries],
                    [a.kept_answer for a in retries],
                    [a.label for a in retries],
                    [a.finishes for a in retries],
                )
            if finished:
                await connection.execute(
                    _RECORD_FINISHED,
                    owner,
                    [a.delivery_id for a in finished],
                    [a.attempted_at for a in finished],
                    [a.duration_ms for a in finished],
                    [a.http_status for a in finished],
                    [a.kept_answer for a in finished],
                    [a.status for a in finished],
                    [a.label for a in finished],
                )

    async def release(self, owner: str, ids: Collection[int]) -> None:
        if not ids:
            return
        async with self._connection() as connection:
            await connection.execute(
                "UPDATE deliveries SET lease_owner = NULL, lease_until = NULL"
                " WHERE lease_owner = $1 AND id = ANY($2::bigint[])",
                owner,
                list(ids),
            )

    async def list_deliveries(
        self, *, status: DeliveryStatus | None, destination: str | None, limit: int
    ) -> list[DeliveryView]:
        async with self._connection() as connection:
            rows = await connection.fetch(_LIST, status, destination, limit)
        return [DeliveryView(*row) for row in rows]

    async def retry_deliveries(
        self,
        *,
        ids: Collection[int] | None,
        status: DeliveryStatus | None,
        destination: str | None,
        now: int,
        expires_at: int,
    ) -> int:
        chosen = None if ids is None else list(ids)
        async with self._connection() as connection, connection.transaction():
            queued = await connection.execute(
                _RETRY_QUEUED, chosen, status, destination, now, expires_at
            )
            revived = await connection.execute(
                _RETRY_FINISHED, chosen, status, destination, now, expires_at
            )
        return affected(queued) + affected(revived)

    async def purge(self, *, payloads_before: int, events_before: int) -> PurgeCounts:
        async with self._connection() as connection:

            async def chunk(sql: str, before: int, size: int) -> int:
                return affected(await connection.execute(sql, before, size))

            cleared = await in_chunks(partial(chunk, _CLEAR_PAYLOADS, payloads_before))
            deleted = await in_chunks(partial(chunk, _DELETE_FINISHED_EVENTS, events_before))
        return PurgeCounts(cleared, deleted)

    async def purge_deliveries(
        self, *, ids: Collection[int] | None, status: DeliveryStatus | None, destination: str | None
    ) -> int:
        chosen = None if ids is None else list(ids)
        async with self._connection() as connection:
            count: int = await connection.fetchval(_PURGE_DELIVERIES, chosen, status, destination)
        return count

    async def list_events(self, where: EventFilter, limit: int) -> list[EventView]:
        async with self._connection() as connection:
            rows = await connection.fetch(LIST_EVENTS, *event_arguments(where), limit)
        return [event_view(row) for row in rows]

    async def event_trace(self, source: str, event_id: str) -> EventTrace | None:
        async with self._connection() as connection:
            row = await connection.fetchrow(_TRACE_EVENT, source, event_id)
            if row is None:
                return None
            deliveries = await connection.fetch(_TRACE_DELIVERIES, row[0], source, event_id)
            attempts = await connection.fetch(_TRACE_ATTEMPTS, row[0])
        return event_trace(row, deliveries, attempts)

    async def raw_events(self, where: EventFilter, limit: int) -> list[RawEvent]:
        async with self._connection() as connection:
            rows = await connection.fetch(RAW_EVENTS, *event_arguments(where), limit)
        return [RawEvent(*row) for row in rows]

    async def waiting_events(self, limit: int) -> list[RawEvent]:
        async with self._connection() as connection:
            rows = await connection.fetch(WAITING_EVENTS, limit)
        return [RawEvent(*row) for row in rows]

    async def replay(self, events: Sequence[NewEvent], *, dry_run: bool = False) -> list[Stored]:
        check_storable(events)
        async with self._connection() as connection:
            transaction = connection.transaction()
            await transaction.start()
            try:
                results = [await replay_one(connection, event) for event in events]
            except BaseException:
                await transaction.rollback()
                raise
            await (transaction.rollback() if dry_run else transaction.commit())
            return results

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[Any]:
        try:
            async with self._pool.acquire() as connection:
                yield connection
        except _REFUSED as exc:
            raise StoreRefused(str(exc)) from exc
        except _UNAVAILABLE as exc:
            raise StoreUnavailable(str(exc)) from exc
