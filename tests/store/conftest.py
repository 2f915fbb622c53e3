from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar

import orjson
import pytest

from bridge.store import Store, open_store
from bridge.store.base import NewDelivery, NewEvent, Outbox
from bridge.store.identities import Identities
from tests.support.identities import MemoryIdentities
from tests.support.outbox import MemoryOutbox

T = TypeVar("T")

NOW = 1_795_000_000_000
HOUR = 3_600_000


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return _database_url(request, tmp_path)


def _database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'bridge.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    """Every behavioural test runs against each Store implementation."""
    opened = await open_store(database_url)
    yield opened
    await opened.close()


@pytest.fixture(params=["sqlite", "postgres", "memory"])
def url_or_memory(request: pytest.FixtureRequest, tmp_path: Path) -> str | None:
    """A store's URL, or None for the in-memory stand-in unit tests use."""
    return None if request.param == "memory" else _database_url(request, tmp_path)


@pytest.fixture
async def outbox(url_or_memory: str | None) -> AsyncIterator[Outbox]:
    """The outbox's tests run against each store and the in-memory outbox unit tests use."""
    async with _store_or(url_or_memory, MemoryOutbox) as opened:
        yield opened


@pytest.fixture
async def identities(url_or_memory: str | None) -> AsyncIterator[Identities]:
    """The ledger's tests run against each store and the in-memory ledger unit tests use."""
    async with _store_or(url_or_memory, MemoryIdentities) as opened:
        yield opened


@asynccontextmanager
async def _store_or(url: str | None, stand_in: Callable[[], T]) -> AsyncIterator[Store | T]:
    """The store `url` names, closed afterwards; `stand_in()` when there is none."""
    if url is None:
        yield stand_in()
        return
    opened = await open_store(url)
    try:
        yield opened
    finally:
        await opened.close()


def new_event(
    event_id: str = "evt_1",
    *deliveries: tuple[str, str],
    outcome: str = "accepted",
    received_at: int = NOW,
    source: str = "stripe",
    raw: bytes = b'{"id": "evt"}',
) -> NewEvent:
    """An event with deliveries given as (destination, dedupe_key) pairs."""
    return NewEvent(
        source=source,
        event_id=event_id,
        type="checkout.session.completed",
        received_at=received_at,
        outcome=outcome,  # type: ignore[arg-type]
        detail=orjson.dumps({"reason": None, "rules": []}),
        raw=raw,
        deliveries=tuple(
            NewDelivery(destination, "rule", key, b'{"conversion": true}', received_at + 72 * HOUR)
            for destination, key in deliveries
        ),
    )
