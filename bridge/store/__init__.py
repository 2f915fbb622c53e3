"""The durable outbox: events, deliveries and attempts behind the `Store` protocol."""

from __future__ import annotations

from bridge.store.base import Store, StoreUnavailable


async def open_store(url: str, *, busy_timeout_ms: int = 5000) -> Store:
    """Open the store a database URL names (`sqlite:///path.db`)."""
    if url.startswith("sqlite:"):
        from bridge.store.sqlite import SQLiteStore, sqlite_path

        return await SQLiteStore.open(sqlite_path(url), busy_timeout_ms=busy_timeout_ms)
    raise ValueError(f"unsupported database URL {url.split(':', 1)[0]!r}: use sqlite:///path.db")


async def migrate_store(url: str, busy_timeout_ms: int = 5000) -> int:
    """Apply pending schema migrations; returns the schema version. Safe to run concurrently."""
    store = await open_store(url, busy_timeout_ms=busy_timeout_ms)
    try:
        return await store.schema_version()
    finally:
        await store.close()


__all__ = ["Store", "StoreUnavailable", "migrate_store", "open_store"]
