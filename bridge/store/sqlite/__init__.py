"""The embedded store: one SQLite file in WAL mode (`store.py`), how it is opened
(`connection.py`) and migrated (`migrate.py`), its schema (`schema.py`), what storing an event
means in its SQL (`records.py`), the listings' filters (`queries.py`) and the identity
ledger's SQL (`identities.py`)."""

from bridge.store.sqlite.connection import PAGE_SIZE, connect, sqlite_path
from bridge.store.sqlite.migrate import migrate
from bridge.store.sqlite.store import SQLiteStore

__all__ = ["PAGE_SIZE", "SQLiteStore", "connect", "migrate", "sqlite_path"]
