"""Bringing a PostgreSQL database to the current schema, once however many replicas start
together."""

from __future__ import annotations

import asyncpg

from bridge.store.migrations import CURRENT_VERSION, pending

_MIGRATION_LOCK = 0x6272696467650001  # pg_advisory_xact_lock key: one migrator at a time

CREATE_BOOKKEEPING = (
    "CREATE TABLE IF NOT EXISTS schema_migrations "
    "(version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)"
)


async def migrate(pool: asyncpg.Pool) -> int:
    """Apply pending migrations; concurrent starts wait on an advisory lock, then find none."""
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
        await connection.execute(CREATE_BOOKKEEPING)
        current: int = await connection.fetchval(CURRENT_VERSION)
        for migration in pending("postgres", current):
            await connection.execute(migration.sql)
            await connection.execute(
                "INSERT INTO schema_migrations VALUES ($1, $2, now())",
                migration.version,
                migration.name,
            )
            current = migration.version
        return current
