"""The durable outbox: events, deliveries and attempts behind four roles (`bridge.store.base`),
its rules written once (`rules.py`), one package of SQL per dialect."""

from __future__ import annotations

from bridge.store.base import Store, StoreUnavailable


async def open_store(url: str, *, busy_timeout_ms: int = 5000, pool_size: int = 10) -> Store:
    """Open (and migrate) the store a database URL names.

    `sqlite:///path.db` for the embedded store, `postgresql://user:password@host:5432/db` for
    one shared by many replicas.
    """
    scheme = url.split(":", 1)[0]
    if scheme == "sqlite":
        from bridge.store.sqlite import SQLiteStore, sqlite_path

        return await SQLiteStore.open(sqlite_path(url), busy_timeout_ms=busy_timeout_ms)
    if scheme in {"postgresql", "postgres"}:
        from bridge.store.postgres import PostgresStore

        return await PostgresStore.open(url, pool_size=pool_size)
    raise ValueError(
        f"unsupported database URL scheme {scheme!r}: use sqlite:///path.db or postgresql://..."
    )


async def migrate_store(url: str, busy_timeout_ms: int = 5000) -> int:
    """Apply pending schema migrations; returns the schema version. Safe to run concurrently."""
    store = await open_store(url, busy_timeout_ms=busy_timeout_ms, pool_size=1)
    try:
        return await store.schema_version()
    finally:
        await store.close()


__all__ = ["Store", "StoreUnavailable", "migrate_store", "open_store"]
