"""The PostgreSQL schema: migrations applied once, however many replicas start together."""

from __future__ import annotations

import asyncpg

from bridge.store.migrations import migrations

_MIGRATION_LOCK = 0x6272696467650001  # pg_advisory_xact_lock key: one migrator at a time


async def migrate(pool: asyncpg.Pool) -> int:
    """Apply pending migrations; concurrent starts wait on an advisory lock, then find none."""
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
        await connection.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)"
        )
        current: int = await connection.fetchval(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"
        )
        for migration in migrations("postgres"):
            if migration.version > current:
                await connection.execute(migration.sql)
                await connection.execute(
                    "INSERT INTO schema_migrations VALUES ($1, $2, now())",
                    migration.version,
                    migration.name,
                )
                current = migration.version
        return current
