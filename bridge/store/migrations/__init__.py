"""Versioned schema migrations, one SQL file per version: `NNNN_description.sql` per dialect,
and the bookkeeping both dialects share (which are pending, the version applied)."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations(dialect: str) -> list[Migration]:
    """The dialect's migrations in version order."""
    folder = resources.files(__package__).joinpath(dialect)
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            number, _, rest = entry.name.partition("_")
            found.append(Migration(int(number), rest.removesuffix(".sql"), entry.read_text()))
    found.sort(key=lambda migration: migration.version)
    return found


CURRENT_VERSION = "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"
"""The applied schema version (0 for a new store), in either dialect."""


def pending(dialect: str, current: int) -> list[Migration]:
    """The dialect's migrations a store at version `current` has yet to apply, in order."""
    return [migration for migration in migrations(dialect) if migration.version > current]
