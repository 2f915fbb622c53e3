"""The SQLite file: where it is, how a connection to it is made durable, and its migrations."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from bridge.store.migrations import migrations


def sqlite_path(url: str) -> Path:
    """`sqlite:///relative.db` or `sqlite:////absolute/path.db` -> a filesystem path."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or len(url) == len(prefix):
        raise ValueError(f"not a SQLite URL: {url!r} (expected sqlite:///path/to/file.db)")
    return Path(url[len(prefix) :])


# Pages of 8 KiB for new stores: a webhook's row (its raw body, typically 2 to 8 KB) shares a
# page with others or fits one alone instead of spilling onto overflow pages, so a group commit
# writes fewer WAL frames, each costing one `pwrite` for its header and one for the page
# (measured: ingest +6 to 9 % requests per second, p99 17 -> 11 ms). A store's page size is
# fixed once it is in WAL mode; older stores keep their 4 KiB pages (docs/operations.md says
# how to convert one).
PAGE_SIZE = 8192


def connect(path: Path, busy_timeout_ms: int) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None, timeout=busy_timeout_ms / 1000)
    connection.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # before WAL: it writes the header
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = FULL")
    connection.execute("PRAGMA foreign_keys = ON")
    return connection


def migrate(path: Path, busy_timeout_ms: int = 5000) -> int:
    """Apply pending migrations, each under an exclusive write lock; returns the schema version.

    Each migration runs on a connection of its own: one that edits the schema's text (0002)
    leaves the connection's parsed schema behind, and an `ALTER TABLE` on that connection
    would write at the old text's offsets.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        version, applied = _apply_next_migration(path, busy_timeout_ms)
        if not applied:
            return version


def _apply_next_migration(path: Path, busy_timeout_ms: int) -> tuple[int, bool]:
    """(schema version, whether a migration was applied to reach it)."""
    connection = connect(path, busy_timeout_ms)
    try:
        connection.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)"
        )
        connection.execute("BEGIN IMMEDIATE")
        try:
            current = int(
                connection.execute(
                    "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"
                ).fetchone()[0]
            )
            pending = [m for m in migrations("sqlite") if m.version > current]
            if not pending:
                connection.execute("COMMIT")
                return current, False
            migration = pending[0]
            for statement in _statements(migration.sql):
                connection.execute(statement)
            connection.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                (migration.version, migration.name, int(time.time() * 1000)),
            )
            connection.execute("COMMIT")
        except BaseException:
            connection.rollback()
            raise
        return migration.version, True
    finally:
        connection.close()


def _statements(script: str) -> list[str]:
    """Split a migration into statements (`sqlite3.complete_statement` knows the grammar)."""
    statements, buffer = [], ""
    for line in script.splitlines(keepends=True):
        if not buffer and line.lstrip().startswith("--"):
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements
