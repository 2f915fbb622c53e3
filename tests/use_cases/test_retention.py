"""Retention's sweep: old payloads and events, and the identity ledger's expired rows."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bridge.store.identities import Link, Sighting
from bridge.store.sqlite import SQLiteStore
from bridge.use_cases.retention import Swept, purge_once

NOW = 1_795_000_000_000
HOUR = 3_600_000


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    opened = await SQLiteStore.open(tmp_path / "b.db")
    yield opened
    await opened.close()


async def test_a_sweep_forgets_what_the_ledger_no_longer_keeps(
    store: SQLiteStore, caplog: pytest.LogCaptureFixture
) -> None:
    ref = "r3f_0123456789abcdefghij"
    await store.remember(
        [
            Sighting("web", ref, "pagent", {"session_id": "s"}, NOW - 2 * HOUR, NOW - HOUR),
            Sighting("web", ref, "convert", {"visitor_id": "v"}, NOW - 2 * HOUR, NOW + HOUR),
        ]
    )
    await store.link([Link("web", "customer:cus_1", ref, NOW - 2 * HOUR, NOW - HOUR)])
    with caplog.at_level(logging.INFO, logger="bridge.retention"):
        swept = await purge_once(store, payload_days=30, dedupe_days=30, clock=lambda: NOW / 1000)
    assert swept == Swept(payloads_cleared=0, events_deleted=0, identities_forgotten=2)
    [line] = caplog.records
    assert line.__dict__["identities_forgotten"] == 2
    known = await store.recall("web", ref, NOW - 3 * HOUR)  # before any expiry: only what is left
    assert known is not None
    assert list(known.vendors) == ["convert"]
    assert await store.recall("web", "customer:cus_1", NOW - 3 * HOUR) is None


async def test_a_sweep_with_nothing_to_forget_logs_nothing(
    store: SQLiteStore, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="bridge.retention"):
        swept = await purge_once(store, payload_days=30, dedupe_days=30, clock=lambda: NOW / 1000)
    assert swept == Swept(0, 0, 0)
    assert caplog.records == []
