"""The identity ledger in PostgreSQL's SQL (its rules are `bridge.store.identity_rules`): one
statement per call, its rows passed as arrays, so a beacon costs one round trip and one commit."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from functools import partial
from typing import Any

from bridge.store.identities import Holdings, KnownIdentity, Link, Sighting
from bridge.store.identity_rules import (
    NOTHING_HELD,
    holdings,
    known_identity,
    rows_to_link,
    rows_to_remember,
    unrecallable,
)
from bridge.store.postgres.queries import affected
from bridge.store.rules import in_chunks

# A newer capture replaces the vendor's row; an identical repeat of a live row or an older
# capture changes nothing (and counts nothing). An expired row is renewed by any capture.
_REMEMBER = """
INSERT INTO identity_sightings AS s (ledger, ref, vendor, ids, captured_at, expires_at)
SELECT i.ledger, i.ref, i.vendor, i.ids::jsonb, i.captured_at, i.expires_at
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[])
    AS i(ledger, ref, vendor, ids, captured_at, expires_at)
ON CONFLICT (ledger, ref, vendor) DO UPDATE
SET ids = excluded.ids, captured_at = excluded.captured_at, expires_at = excluded.expires_at
WHERE excluded.captured_at >= s.captured_at
  AND (excluded.ids IS DISTINCT FROM s.ids OR s.expires_at <= excluded.captured_at)
"""
# The first link wins; one that expired before the new link was made is replaced.
LINK = """
INSERT INTO identity_links AS l (ledger, key, ref, linked_at, expires_at)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[])
ON CONFLICT (ledger, key) DO UPDATE
SET ref = excluded.ref, linked_at = excluded.linked_at, expires_at = excluded.expires_at
WHERE l.expires_at <= excluded.linked_at
"""
# Rows found by the reference itself (no link key), then those found through a link.
_RECALL = """
SELECT NULL::text, ref, vendor, ids::text, captured_at FROM identity_sightings
WHERE ledger = $1 AND ref = $2 AND expires_at > $3
UNION ALL
SELECT l.key, s.ref, s.vendor, s.ids::text, s.captured_at
FROM identity_links l JOIN identity_sightings s ON s.ledger = l.ledger AND s.ref = l.ref
WHERE l.ledger = $1 AND l.key = $2 AND l.expires_at > $3 AND s.expires_at > $3
"""
# What a reference holds, for people (not a webhook's path): the links are found by scanning
# the ledger's links, which are kept by key alone.
_SIGHTINGS_OF = """
SELECT vendor, ids::text, captured_at, expires_at FROM identity_sightings
WHERE ledger = $1 AND ref = $2 AND expires_at > $3
"""
_LINKS_TO = """
SELECT key, linked_at, expires_at FROM identity_links
WHERE ledger = $1 AND ref = $2 AND expires_at > $3
"""
_FORGET_SIGHTINGS = """
DELETE FROM identity_sightings WHERE (ledger, ref, vendor) IN (
    SELECT ledger, ref, vendor FROM identity_sightings WHERE expires_at <= $1 LIMIT $2)
"""
_FORGET_LINKS = """
DELETE FROM identity_links WHERE (ledger, key) IN (
    SELECT ledger, key FROM identity_links WHERE expires_at <= $1 LIMIT $2)
"""


class PostgresIdentities:
    """`Identities` on a `PostgresStore`'s connections (taken as the store takes them, so an
    outage reads as `StoreUnavailable` here too)."""

    def __init__(self, connection: Callable[[], AbstractAsyncContextManager[Any]]) -> None:
        self._connection = connection

    async def remember(self, sightings: Sequence[Sighting]) -> int:
        return await self._write_all(_REMEMBER, rows_to_remember(sightings))

    async def link(self, links: Sequence[Link]) -> int:
        return await self._write_all(LINK, rows_to_link(links))

    async def recall(self, ledger: str, key: str, now: int) -> KnownIdentity | None:
        if unrecallable(ledger, key):
            return None
        async with self._connection() as connection:
            rows = await connection.fetch(_RECALL, ledger, key, now)
        return known_identity(ledger, rows)

    async def holdings(self, ledger: str, ref: str, now: int) -> Holdings:
        if unrecallable(ledger, ref):
            return NOTHING_HELD
        async with self._connection() as connection, _snapshot(connection):
            sightings = await connection.fetch(_SIGHTINGS_OF, ledger, ref, now)
            links = await connection.fetch(_LINKS_TO, ledger, ref, now)
        return holdings(ledger, ref, sightings, links)

    async def forget_expired(self, now: int) -> int:
        async with self._connection() as connection:

            async def chunk(sql: str, size: int) -> int:
                return affected(await connection.execute(sql, now, size))

            sightings = await in_chunks(partial(chunk, _FORGET_SIGHTINGS))
            return sightings + await in_chunks(partial(chunk, _FORGET_LINKS))

    async def _write_all(self, sql: str, rows: Sequence[tuple[object, ...]]) -> int:
        """Run `sql` once with the rows as one array per column; the rows it changed."""
        if not rows:
            return 0
        async with self._connection() as connection:
            return affected(await connection.execute(sql, *map(list, zip(*rows, strict=True))))


def _snapshot(connection: Any) -> AbstractAsyncContextManager[Any]:
    """A read-only transaction whose statements all see the same commit."""
    transaction: AbstractAsyncContextManager[Any] = connection.transaction(
        isolation="repeatable_read", readonly=True
    )
    return transaction
