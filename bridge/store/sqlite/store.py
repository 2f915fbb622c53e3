"""The embedded store: one SQLite file in WAL mode with `synchronous=FULL`.

Durability: in WAL mode, `synchronous=FULL` fsyncs the write-ahead log at every commit, so a
commit that returned survives a power cut, not just a process crash (`NORMAL` would only sync
at checkpoints and could lose the last commits on power loss, after the sender got its 200).
The fsync cost is shared by group commit (`writer.py`), webhooks and beacons alike. Writes go
through the writer thread, reads through one reader thread with its own connection; the one
SQLite call on the event loop is the identity ledger's recall by key (`identities.py`).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import TypeVar

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
    StoreUnavailable,
)
from bridge.store.identities import HoldsIdentities
from bridge.store.migrations import CURRENT_VERSION
from bridge.store.rules import check_storable, event_trace, event_view, in_chunks
from bridge.store.sqlite.connection import connect
from bridge.store.sqlite.identities import SQLiteIdentities
from bridge.store.sqlite.migrate import migrate
from bridge.store.sqlite.queries import RAW_COLUMNS, WAITING_EVENTS, delivery_filter, event_filter
from bridge.store.sqlite.records import ingest_one, replay_one
from bridge.store.writer import GroupCommitWriter

T = TypeVar("T")

# sqlite3 looks each `bytes` parameter up as adaptable through a raised AttributeError; as its
# own adapter, one dict hit, same objects bound (docs/benchmarks.md, "the store's statements").
sqlite3.register_adapter(bytes, bytes)

_QUEUE_DEPTH = """
SELECT destination, COUNT(*), SUM(next_attempt_at <= ?),
       MIN(CASE WHEN next_attempt_at <= ? THEN next_attempt_at END)
FROM deliveries WHERE status = 'pending' GROUP BY destination ORDER BY destination
"""

# A split attempt (the last parameters false) keeps its lease: the halves follow at once.
_RECORD_ATTEMPT = """
UPDATE deliveries
SET status = ?, attempts = attempts + 1, next_attempt_at = COALESCE(?, next_attempt_at),
    last_status = ?, last_answer = ?, finished_at = ?,
    lease_owner = IIF(?, NULL, lease_owner), lease_until = IIF(?, NULL, lease_until)
WHERE id = ? AND lease_owner = ?
"""
# An attempt is recorded only while its delivery is still leased by the recording worker.
_INSERT_ATTEMPT = """
INSERT INTO attempts (delivery_ref, attempted_at, duration_ms, http_status, outcome, answer)
SELECT ?, ?, ?, ?, ?, ?
WHERE EXISTS (SELECT 1 FROM deliveries WHERE id = ? AND lease_owner = ?)
"""
_TRACE_DELIVERIES = """
SELECT d.id, e.source, e.event_id, d.rule, d.destination, d.status, d.attempts, d.created_at,
       d.next_attempt_at, d.finished_at, d.last_status, d.last_answer, d.conversion
FROM deliveries d JOIN events e ON e.id = d.event_ref
WHERE d.event_ref = ? AND d.purged_at IS NULL ORDER BY d.id
"""
_TRACE_ATTEMPTS = """
SELECT a.delivery_ref, a.attempted_at, a.duration_ms, a.http_status, a.outcome, a.answer
FROM attempts a JOIN deliveries d ON d.id = a.delivery_ref WHERE d.event_ref = ? ORDER BY a.id
"""
_EVENT_COLUMNS = (
    "SELECT source, event_id, type, received_at, outcome, detail, payload IS NOT NULL FROM events"
)
_CLEAR_PAYLOADS = """
UPDATE events SET payload = NULL WHERE id IN (
    SELECT id FROM events WHERE received_at < ? AND payload IS NOT NULL LIMIT ?)
"""
_DELETE_FINISHED_EVENTS = """
DELETE FROM events WHERE id IN (
    SELECT e.id FROM events e WHERE e.received_at < ? AND NOT EXISTS (
        SELECT 1 FROM deliveries d WHERE d.event_ref = e.id AND d.status = 'pending')
    LIMIT ?)
"""


class SQLiteStore(HoldsIdentities):
    def __init__(self, path: Path, *, busy_timeout_ms: int = 5000) -> None:
        self.path = path
        self._busy_timeout_ms = busy_timeout_ms
        self.writer = GroupCommitWriter(lambda: connect(path, busy_timeout_ms))
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bridge-sqlite-reader")
        self._local = threading.local()
        self._closed = False
        self.identities: SQLiteIdentities = SQLiteIdentities(self.writer, self._read, path)

    @classmethod
    async def open(cls, path: Path, *, busy_timeout_ms: int = 5000) -> SQLiteStore:
        try:
            await asyncio.to_thread(migrate, path, busy_timeout_ms)
        except (sqlite3.Error, OSError) as exc:  # OSError: a folder that cannot be made
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise StoreUnavailable(f"cannot prepare database {path}: {reason}") from exc
        store = cls(path, busy_timeout_ms=busy_timeout_ms)
        store.writer.start()
        return store

    async def close(self) -> None:
        if self._closed:
            return
        self.identities.close()
        await asyncio.to_thread(self.writer.close)
        await self._read(lambda connection: connection.close())
        self._closed = True
        self._reader.shutdown(wait=True)

    async def queue_depth(self, now: int) -> list[QueueDepth]:
        rows = await self._read(lambda c: c.execute(_QUEUE_DEPTH, (now, now)).fetchall())
        return [QueueDepth(*row) for row in rows]

    async def ping(self) -> None:
        await self._read(lambda connection: connection.execute("SELECT 1").fetchone())

    async def schema_version(self) -> int:
        row = await self._read(lambda c: c.execute(CURRENT_VERSION).fetchone())
        return int(row[0])

    async def ingest(self, events: Sequence[NewEvent]) -> list[Stored]:
        check_storable(events)
        return await self.writer.run(lambda c: [ingest_one(c, event) for event in events])

    async def claim(
        self, owner: str, now: int, limit: int, lease_ms: int, destinations: Collection[str]
    ) -> list[ClaimedDelivery]:
        if not destinations:
            return []
        names = sorted(destinations)
        marks = ",".join("?" * len(names))
        # `+destination`: scan `deliveries_due` (pending only), not the unique index of every
        # delivery ever made (docs/benchmarks.md, the levers).
        sql = f"""
            UPDATE deliveries SET lease_owner = ?, lease_until = ?
            WHERE id IN (
                SELECT id FROM deliveries
                WHERE status = 'pending' AND next_attempt_at <= ?
                  AND (lease_until IS NULL OR lease_until <= ?)
                  AND +destination IN ({marks})
                ORDER BY next_attempt_at LIMIT ?)
            RETURNING id, destination, conversion, attempts, created_at, expires_at,
                (SELECT source FROM events WHERE events.id = deliveries.event_ref),
                (SELECT event_id FROM events WHERE events.id = deliveries.event_ref)
        """
        params = (owner, now + lease_ms, now, now, *names, limit)

        def claim(connection: sqlite3.Connection) -> list[ClaimedDelivery]:
            rows = connection.execute(sql, params).fetchall()
            return sorted((ClaimedDelivery(*row) for row in rows), key=lambda d: d.id)

        return await self.writer.run(claim)

    async def record(self, owner: str, attempts: Sequence[AttemptRecord]) -> None:
        answers = [(a, a.kept_answer) for a in attempts]
        logged = [
            (
                a.delivery_id,
                a.attempted_at,
                a.duration_ms,
                a.http_status,
                a.label,
                answer,
                a.delivery_id,
                owner,
            )
            for a, answer in answers
        ]
        applied = [
            (
                a.status,
                a.next_attempt_at,
                a.http_status,
                answer,
                a.attempted_at if a.status != "pending" else None,
                a.finishes,
                a.finishes,
                a.delivery_id,
                owner,
            )
            for a, answer in answers
        ]

        def record(connection: sqlite3.Connection) -> None:
            # Attempts first, while the leases still say whose they are; then the deliveries.
            connection.executemany(_INSERT_ATTEMPT, logged)
            connection.executemany(_RECORD_ATTEMPT, applied)

        await self.writer.run(record)

    async def release(self, owner: str, ids: Collection[int]) -> None:
        chosen = list(ids)
        if not chosen:
            return
        marks = ",".join("?" * len(chosen))
        sql = (
            "UPDATE deliveries SET lease_owner = NULL, lease_until = NULL "
            f"WHERE lease_owner = ? AND id IN ({marks})"
        )
        await self.writer.run(lambda connection: connection.execute(sql, (owner, *chosen)))

    async def list_deliveries(
        self, *, status: DeliveryStatus | None, destination: str | None, limit: int
    ) -> list[DeliveryView]:
        where, params = delivery_filter(None, status, destination)
        sql = f"""
            SELECT d.id, e.source, e.event_id, d.rule, d.destination, d.status, d.attempts,
                   d.created_at, d.next_attempt_at, d.finished_at, d.last_status, d.last_answer
            FROM deliveries d JOIN events e ON e.id = d.event_ref
            WHERE {where} ORDER BY d.id DESC LIMIT ?
        """
        rows = await self._read(lambda c: c.execute(sql, (*params, limit)).fetchall())
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
        where, params = delivery_filter(ids, status, destination)
        sql = f"""
            UPDATE deliveries AS d
            SET status = 'pending', next_attempt_at = ?, expires_at = ?, finished_at = NULL,
                lease_owner = NULL, lease_until = NULL
            WHERE {where}
        """
        count: int = await self.writer.run(
            lambda c: c.execute(sql, (now, expires_at, *params)).rowcount
        )
        return count

    async def purge(self, *, payloads_before: int, events_before: int) -> PurgeCounts:
        def chunk(sql: str, before: int, size: int) -> Awaitable[int]:
            return self.writer.run(lambda c: c.execute(sql, (before, size)).rowcount)

        cleared = await in_chunks(partial(chunk, _CLEAR_PAYLOADS, payloads_before))
        deleted = await in_chunks(partial(chunk, _DELETE_FINISHED_EVENTS, events_before))
        return PurgeCounts(cleared, deleted)

    async def purge_deliveries(
        self, *, ids: Collection[int] | None, status: DeliveryStatus | None, destination: str | None
    ) -> int:
        where, params = delivery_filter(ids, status, destination)
        finished = f"SELECT d.id FROM deliveries AS d WHERE {where} AND d.status != 'pending'"
        forget_attempts = f"DELETE FROM attempts WHERE delivery_ref IN ({finished})"
        # The row stays, emptied, for its key and its id (migration 0003).
        empty = (
            "UPDATE deliveries SET purged_at = ?, conversion = X'', last_answer = NULL"
            f" WHERE id IN ({finished})"
        )
        now = int(time.time() * 1000)

        def purge(connection: sqlite3.Connection) -> int:
            connection.execute(forget_attempts, params)
            count: int = connection.execute(empty, (now, *params)).rowcount
            return count

        return await self.writer.run(purge)

    async def list_events(self, where: EventFilter, limit: int) -> list[EventView]:
        clause, params = event_filter(where)
        sql = f"{_EVENT_COLUMNS} WHERE {clause} ORDER BY id DESC LIMIT ?"
        rows = await self._read(lambda c: c.execute(sql, (*params, limit)).fetchall())
        return [event_view(row) for row in rows]

    async def event_trace(self, source: str, event_id: str) -> EventTrace | None:
        def trace(c: sqlite3.Connection) -> EventTrace | None:
            row = c.execute(
                "SELECT id, source, event_id, type, received_at, outcome, detail,"
                " payload IS NOT NULL FROM events WHERE source = ? AND event_id = ?",
                (source, event_id),
            ).fetchone()
            if row is None:
                return None
            deliveries = c.execute(_TRACE_DELIVERIES, (row[0],)).fetchall()
            attempts = c.execute(_TRACE_ATTEMPTS, (row[0],)).fetchall()
            return event_trace(row, deliveries, attempts)

        return await self._read(trace)

    async def raw_events(self, where: EventFilter, limit: int) -> list[RawEvent]:
        clause, params = event_filter(where)
        sql = f"{RAW_COLUMNS} WHERE {clause} ORDER BY id LIMIT ?"
        rows = await self._read(lambda c: c.execute(sql, (*params, limit)).fetchall())
        return [RawEvent(*row) for row in rows]

    async def waiting_events(self, limit: int) -> list[RawEvent]:
        rows = await self._read(lambda c: c.execute(WAITING_EVENTS, (limit,)).fetchall())
        return [RawEvent(*row) for row in rows]

    async def replay(self, events: Sequence[NewEvent], *, dry_run: bool = False) -> list[Stored]:
        check_storable(events)

        def replay(connection: sqlite3.Connection) -> list[Stored]:
            return [replay_one(connection, event) for event in events]

        def rehearse(connection: sqlite3.Connection) -> list[Stored]:
            connection.execute("SAVEPOINT dry_run")
            try:
                return replay(connection)
            finally:
                if connection.in_transaction:
                    connection.execute("ROLLBACK TO dry_run")
                    connection.execute("RELEASE dry_run")

        return await self.writer.run(rehearse if dry_run else replay)

    async def _read(self, query: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed:
            raise StoreUnavailable("store is closed")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._reader, self._run_read, query)
        except sqlite3.Error as exc:
            raise StoreUnavailable(str(exc)) from exc

    def _run_read(self, query: Callable[[sqlite3.Connection], T]) -> T:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = connect(self.path, self._busy_timeout_ms)
            connection.execute("PRAGMA query_only = ON")
            self._local.connection = connection
        return query(connection)
