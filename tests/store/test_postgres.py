"""What is particular to the PostgreSQL store: concurrent migrations, a small queue table,
several processes claiming from one queue."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from bridge.store import StoreUnavailable, migrate_store, open_store
from bridge.store.base import AttemptRecord
from bridge.store.postgres import PostgresStore
from bridge.store.postgres.schema import SCHEMA
from tests.store.conftest import NOW, new_event

LEASE = 60_000


async def test_replicas_starting_together_migrate_once(postgres_url: str) -> None:
    versions = await asyncio.gather(*(migrate_store(postgres_url) for _ in range(6)))
    assert versions == [3] * 6
    connection = await asyncpg.connect(postgres_url)
    try:
        assert await connection.fetchval("SELECT count(*) FROM schema_migrations") == 3
    finally:
        await connection.close()


async def test_a_migrated_store_has_the_schema_its_schema_file_shows(postgres_url: str) -> None:
    await migrate_store(postgres_url)
    connection = await asyncpg.connect(postgres_url)
    migrated = await connection.fetchval("SELECT current_schema()")
    documented = f"{migrated}_documented"
    try:
        await connection.execute(f"CREATE SCHEMA {documented}; SET search_path = {documented}")
        await connection.execute(SCHEMA)
        assert await _described(connection, migrated) == await _described(connection, documented)
    finally:
        await connection.execute(f"DROP SCHEMA IF EXISTS {documented} CASCADE")
        await connection.close()


_COLUMNS = """
SELECT c.relname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       a.attidentity, pg_get_expr(d.adbin, d.adrelid), c.reloptions::text
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE c.relnamespace = $1::regnamespace AND c.relkind = 'r' AND a.attnum > 0
  AND NOT a.attisdropped
ORDER BY 1, 2
"""
_CONSTRAINTS = """
SELECT c.relname, k.conname, pg_get_constraintdef(k.oid)
FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
WHERE c.relnamespace = $1::regnamespace ORDER BY 1, 2
"""
_INDEXES = "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 ORDER BY 1"


async def _described(connection: asyncpg.Connection, schema: str) -> list[tuple[object, ...]]:
    """Every column, constraint and index of `schema`, with the schema's name left out."""
    rows = [
        *await connection.fetch(_COLUMNS, schema),
        *await connection.fetch(_CONSTRAINTS, schema),
        *await connection.fetch(_INDEXES, schema),
    ]
    return [
        tuple(v.replace(f"{schema}.", "") if isinstance(v, str) else v for v in row) for row in rows
    ]


async def test_finished_deliveries_leave_the_queue_table(postgres_url: str) -> None:
    store = await PostgresStore.open(postgres_url)
    try:
        await store.ingest([new_event(f"evt_{n}", ("pagent", f"k{n}")) for n in range(20)])
        claimed = await store.claim("w", NOW, 100, LEASE, ["pagent"])
        await store.record(
            "w",
            [
                AttemptRecord(
                    d.id, "dead" if d.id % 5 == 0 else "delivered", NOW, 3, http_status=200
                )
                for d in claimed
            ],
        )
        connection = await asyncpg.connect(postgres_url)
        try:
            assert await connection.fetchval("SELECT count(*) FROM deliveries") == 0
            assert await connection.fetchval("SELECT count(*) FROM deliveries_done") == 20
            assert await connection.fetchval("SELECT count(*) FROM attempts") == 20
        finally:
            await connection.close()
        assert (
            len(await store.list_deliveries(status="delivered", destination=None, limit=100)) == 16
        )
    finally:
        await store.close()


async def test_separate_processes_never_claim_the_same_delivery(postgres_url: str) -> None:
    replicas = [await PostgresStore.open(postgres_url, pool_size=4) for _ in range(3)]
    try:
        await replicas[0].ingest([new_event(f"evt_{n}", ("pagent", f"k{n}")) for n in range(300)])
        rounds = await asyncio.gather(
            *(
                replica.claim(f"replica-{r}-{n}", NOW, 25, LEASE, ["pagent"])
                for r, replica in enumerate(replicas)
                for n in range(6)
            )
        )
        ids = [d.id for claimed in rounds for d in claimed]
        assert len(ids) == len(set(ids)) == 300
    finally:
        for replica in replicas:
            await replica.close()


async def test_an_unreachable_server_is_unavailable() -> None:
    with pytest.raises(StoreUnavailable, match="cannot open PostgreSQL store"):
        await open_store("postgresql://bridge@127.0.0.1:1/nowhere")


class BusyPool:
    """A pool whose driver is mid-operation on every connection, as while the server stops."""

    def acquire(self) -> None:
        raise asyncpg.exceptions.InternalClientError("another operation is in progress")


async def test_a_driver_busy_while_the_server_shuts_down_is_an_outage_not_a_crash(
    postgres_url: str,
) -> None:
    store = await PostgresStore.open(postgres_url)
    pool, store._pool = store._pool, BusyPool()
    try:
        with pytest.raises(StoreUnavailable, match="another operation"):
            await store.ingest([new_event("evt_1", ("pagent", "k1"))])
    finally:
        store._pool = pool
        await store.close()
