"""The identity ledger in SQLite's SQL (its rules are `bridge.store.identity_rules`): writes
are jobs of the writer's group commit, so beacons share fsyncs with webhooks; a webhook's
recall runs on the event loop's own read-only connection (see `recall`), other reads on the
reader thread."""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Protocol, TypeVar

from bridge.store.base import StoreUnavailable
from bridge.store.identities import Holdings, KnownIdentity, Link, Sighting
from bridge.store.identity_rules import (
    NOTHING_HELD,
    holdings,
    known_identity,
    rows_to_link,
    rows_to_remember,
    unrecallable,
)
from bridge.store.rules import in_chunks
from bridge.store.writer import GroupCommitWriter

T = TypeVar("T")

_HERE_BUSY_S = 0.01
"""How long a recall on the event loop waits for a busy file before the reader thread reads."""

# A newer capture replaces the vendor's row; an identical repeat of a live row or an older
# capture changes nothing (and counts nothing). An expired row is renewed by any capture.
REMEMBER = """
INSERT INTO identity_sightings (ledger, ref, vendor, ids, captured_at, expires_at)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (ledger, ref, vendor) DO UPDATE
SET ids = excluded.ids, captured_at = excluded.captured_at, expires_at = excluded.expires_at
WHERE excluded.captured_at >= identity_sightings.captured_at
  AND (excluded.ids != identity_sightings.ids
       OR identity_sightings.expires_at <= excluded.captured_at)
"""
# The first link wins; one that expired before the new link was made is replaced.
LINK = """
INSERT INTO identity_links (ledger, key, ref, linked_at, expires_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (ledger, key) DO UPDATE
SET ref = excluded.ref, linked_at = excluded.linked_at, expires_at = excluded.expires_at
WHERE identity_links.expires_at <= excluded.linked_at
"""
# Rows found by the reference itself (no link key), then those found through a link.
RECALL = """
SELECT NULL, ref, vendor, ids, captured_at FROM identity_sightings
WHERE ledger = ?1 AND ref = ?2 AND expires_at > ?3
UNION ALL
SELECT l.key, s.ref, s.vendor, s.ids, s.captured_at
FROM identity_links l JOIN identity_sightings s ON s.ledger = l.ledger AND s.ref = l.ref
WHERE l.ledger = ?1 AND l.key = ?2 AND l.expires_at > ?3 AND s.expires_at > ?3
"""
# What a reference holds, for people (not a webhook's path): the links are found by scanning
# the ledger's links, which are kept by key alone.
_SIGHTINGS_OF = """
SELECT vendor, ids, captured_at, expires_at FROM identity_sightings
WHERE ledger = ?1 AND ref = ?2 AND expires_at > ?3
"""
_LINKS_TO = """
SELECT key, linked_at, expires_at FROM identity_links
WHERE ledger = ?1 AND ref = ?2 AND expires_at > ?3
"""
_FORGET_SIGHTINGS = """
DELETE FROM identity_sightings WHERE rowid IN (
    SELECT rowid FROM identity_sightings WHERE expires_at <= ? LIMIT ?)
"""
_FORGET_LINKS = """
DELETE FROM identity_links WHERE (ledger, key) IN (
    SELECT ledger, key FROM identity_links WHERE expires_at <= ? LIMIT ?)
"""


class Reads(Protocol):
    """The store's way to run a query on its read connection, off the event loop."""

    def __call__(self, query: Callable[[sqlite3.Connection], T]) -> Awaitable[T]: ...


class SQLiteIdentities:
    """`Identities` on a `SQLiteStore`'s writer (group commits) and its read connection."""

    def __init__(self, writer: GroupCommitWriter, read: Reads, path: Path) -> None:
        self.writer = writer
        self._read = read
        self._path = path
        self._here: sqlite3.Connection | None = None
        self._closed = False

    async def remember(self, sightings: Sequence[Sighting]) -> int:
        return await self._write_all(REMEMBER, rows_to_remember(sightings))

    async def link(self, links: Sequence[Link]) -> int:
        return await self._write_all(LINK, rows_to_link(links))

    async def recall(self, ledger: str, key: str, now: int) -> KnownIdentity | None:
        """Read on the calling thread, the event loop, unlike every other read: one lookup by
        primary key on a read-only connection, which in WAL mode never waits for the writer,
        costs about 9 µs there and about 74 µs handed to the reader thread
        (docs/benchmarks.md). Should it ever find the file busy, the reader thread reads it."""
        if unrecallable(ledger, key):
            return None
        arguments = (ledger, key, now)
        try:
            rows = self._connection_here().execute(RECALL, arguments).fetchall()
        except sqlite3.Error:
            rows = await self._read(lambda c: c.execute(RECALL, arguments).fetchall())
        return known_identity(ledger, rows)

    def _connection_here(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreUnavailable("store is closed")
        if self._here is None:
            here = sqlite3.connect(
                self._path, isolation_level=None, timeout=_HERE_BUSY_S, check_same_thread=False
            )
            here.execute("PRAGMA query_only = ON")
            self._here = here
        return self._here

    def close(self) -> None:
        self._closed = True
        if self._here is not None:
            self._here.close()
            self._here = None

    async def holdings(self, ledger: str, ref: str, now: int) -> Holdings:
        if unrecallable(ledger, ref):
            return NOTHING_HELD

        def read(connection: sqlite3.Connection) -> Holdings:
            arguments = (ledger, ref, now)
            sightings = connection.execute(_SIGHTINGS_OF, arguments).fetchall()
            links = connection.execute(_LINKS_TO, arguments).fetchall()
            return holdings(ledger, ref, sightings, links)

        return await self._read(read)

    async def forget_expired(self, now: int) -> int:
        def chunk(sql: str, size: int) -> Awaitable[int]:
            return self.writer.run(lambda c: c.execute(sql, (now, size)).rowcount)

        sightings = await in_chunks(partial(chunk, _FORGET_SIGHTINGS))
        return sightings + await in_chunks(partial(chunk, _FORGET_LINKS))

    async def _write_all(self, sql: str, rows: Sequence[tuple[object, ...]]) -> int:
        """Run `sql` for each row in the next group commit; the rows it changed."""
        if not rows:
            return 0
        changed: int = await self.writer.run(lambda c: c.executemany(sql, rows).rowcount)
        return changed
