"""The durable outbox: events, deliveries and attempts behind the `Store` protocol."""

from __future__ import annotations

from bridge.store.base import Store, StoreUnavailable


async def open_store(url: str, *, busy_timeout_ms: int = 5000) -> Store:
    """Open the store a database URL names (`sqlite:///path.db`)."""
    if url.startswith("sqlite:"):
        from bridge.store.sqlite import SQLiteStore, sqlite_path

        return await SQLiteStore.open(sqlite_path(url), busy_timeout_ms=busy_timeout_ms)
    raise ValueError(f"unsupported database URL {url.split(':', 1)[0]!r}: use sqlite:///path.db")


__all__ = ["Store", "StoreUnavailable", "open_store"]
