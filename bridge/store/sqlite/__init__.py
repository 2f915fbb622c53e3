"""The embedded store: one SQLite file in WAL mode (`store.py`), its schema (`schema.py`), what
storing an event means (`records.py`) and the listings' filters (`queries.py`)."""

from bridge.store.sqlite.schema import PAGE_SIZE, connect, migrate, sqlite_path
from bridge.store.sqlite.store import SQLiteStore

__all__ = ["PAGE_SIZE", "SQLiteStore", "connect", "migrate", "sqlite_path"]
