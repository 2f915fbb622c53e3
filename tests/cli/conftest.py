"""Every CLI test runs with the shipped mappings, test secrets and its own SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import stripe as s
from tests.support.mappings import ENVIRON


@pytest.fixture(autouse=True)
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("BRIDGE_MAPPINGS_DIR", str(s.REPO / "mappings"))
    database = tmp_path / "cli.db"
    monkeypatch.setenv("BRIDGE_DATABASE_URL", f"sqlite:///{database}")
    return database
