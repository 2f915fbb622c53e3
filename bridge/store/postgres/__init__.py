"""The shared store for many replicas: PostgreSQL through asyncpg (`store.py`), its schema
(`schema.py`), what storing an event means (`records.py`) and the listings' readers
(`queries.py`)."""

from bridge.store.postgres.store import PostgresStore

__all__ = ["PostgresStore"]
