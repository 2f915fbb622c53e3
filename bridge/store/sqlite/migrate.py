"""Bringing a SQLite file to the current schema, one migration per exclusive write lock."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from bridge.store.migrations import CURRENT_VERSION, pending
from bridge.store.sqlite.connection import connect

CREATE_BOOKKEEPING = (
    "CREATE TABLE IF NOT EXISTS schema_migrations "
    "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)"
)


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
        connection.execute(CREATE_BOOKKEEPING)
        connection.execute("BEGIN IMMEDIATE")
        try:
            current = int(connection.execute(CURRENT_VERSION).fetchone()[0])
            waiting = pending("sqlite", current)
            if not waiting:
                connection.execute("COMMIT")
                return current, False
            migration = waiting[0]
            for statement in statements(migration.sql):
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


def statements(script: str) -> list[str]:
    """Split a script into statements (`sqlite3.complete_statement` knows the grammar)."""
    found, buffer = [], ""
    for line in script.splitlines(keepends=True):
        if not buffer.strip() and line.lstrip().startswith("--"):
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            found.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        found.append(buffer.strip())
    return found
