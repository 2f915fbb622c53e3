"""The SQLite file: where a URL says it is, and how a connection to it is made durable."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def sqlite_path(url: str) -> Path:
    """`sqlite:///relative.db` or `sqlite:////absolute/path.db` -> a filesystem path."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or len(url) == len(prefix):
        raise ValueError(f"not a SQLite URL: {url!r} (expected sqlite:///path/to/file.db)")
    return Path(url[len(prefix) :])


# 8 KiB pages: a webhook's row fits one, not overflow pages (docs/benchmarks.md, "page size").
# Fixed once a store is in WAL mode: older stores keep 4 KiB (docs/operations.md converts one).
PAGE_SIZE = 8192


def connect(path: Path, busy_timeout_ms: int) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None, timeout=busy_timeout_ms / 1000)
    connection.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # before WAL: it writes the header
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = FULL")
    connection.execute("PRAGMA foreign_keys = ON")
    return connection
