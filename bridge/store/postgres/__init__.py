"""The shared store for many replicas: PostgreSQL through asyncpg (`store.py`), how it is
migrated (`migrate.py`), its schema (`schema.py`), what storing an event means in its SQL
(`records.py`), the listings' statements (`queries.py`) and the identity ledger's SQL
(`identities.py`)."""

from bridge.store.postgres.store import PostgresStore

__all__ = ["PostgresStore"]
