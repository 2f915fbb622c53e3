"""A genuine delivery sent again after its dedupe id is purged is refused by its own time.

Senders that sign no time (Shopify, WooCommerce, Lemon Squeezy, Pipedrive, Chargebee,
Salesforce, HubSpot v1/v2, an `hmac` source without `{timestamp}`) sign bodies that verify
forever; their dedupe ids live `BRIDGE_DEDUPE_RETENTION_DAYS`. A body whose own time is older
than that window less a day is answered 401, with nothing stored. Every request here is signed
the way its sender signs, over the shipped mappings and a real SQLite file.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bridge.mapping import Config, load_config
from bridge.sources import InboundRequest
from bridge.store.sqlite import SQLiteStore
from bridge.use_cases.ingest import Ingestor, Reply
from tests.support import stripe as s
from tests.support.senders import DATED, SENDERS, shipped_mappings


class Bridge:
    def __init__(self, config: Config, store: SQLiteStore, retention_days: float = 7) -> None:
        self.store = store
        self.ingestor = Ingestor(config, store, dedupe_retention_days=retention_days)

    async def send(self, kind: str, body: bytes, **extra: str) -> Reply:
        sender = SENDERS[kind]
        url = f"http://b/webhooks/{sender.source}"
        signed = sender.sign(body, sender.now(), url)
        request = InboundRequest("POST", url + signed.query, {**signed.headers, **extra}, body)
        return await self.ingestor.receive(sender.source, request)

    def events(self) -> int:
        [(count,)] = sqlite3.connect(self.store.path).execute("SELECT count(*) FROM events")
        return int(count)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    opened = await SQLiteStore.open(tmp_path / "bridge.db")
    yield opened
    await opened.close()


@pytest.fixture
def config(tmp_path: Path) -> Config:
    folder = tmp_path / "mappings"
    return load_config(folder, shipped_mappings(folder))


def days_ago(days: float) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) - timedelta(days=days)


def sample(kind: str, moment: datetime) -> bytes:
    return DATED[kind](SENDERS[kind].recorded(), moment)


@pytest.mark.parametrize("kind", sorted(DATED))
async def test_a_body_older_than_the_dedupe_window_less_a_day_is_refused(
    config: Config, store: SQLiteStore, kind: str
) -> None:
    bridge = Bridge(config, store)
    stale = await bridge.send(kind, sample(kind, days_ago(6.1)))
    assert stale.status == 401, stale.body
    assert "is refused as a possible replay" in stale.body["error"]
    assert bridge.events() == 0
    recent = await bridge.send(kind, sample(kind, days_ago(5.9)))
    assert recent.status == 200, recent.body
    assert bridge.events() >= 1  # a HubSpot body holds two events


async def test_the_window_follows_the_dedupe_retention(config: Config, store: SQLiteStore) -> None:
    bridge = Bridge(config, store, retention_days=30)
    old = await bridge.send("shopify", sample("shopify", days_ago(28)))
    assert old.status == 200, old.body
    older = await bridge.send("shopify", sample("shopify", days_ago(29.5)))
    assert older.status == 401, older.body


async def test_an_unsigned_shopify_time_header_does_not_make_an_old_body_new(
    config: Config, store: SQLiteStore
) -> None:
    bridge = Bridge(config, store)
    fresh = datetime.now(UTC).isoformat()
    reply = await bridge.send(
        "shopify", sample("shopify", days_ago(10)), **{"x-shopify-triggered-at": fresh}
    )
    assert reply.status == 401, reply.body
    assert bridge.events() == 0


async def test_a_body_without_its_own_time_is_not_refused(
    config: Config, store: SQLiteStore
) -> None:
    """A HubSpot workflow body carries no time: nothing to check (docs/security.md says so)."""
    reply = await Bridge(config, store).send("hubspot", SENDERS["hubspot"].sample(1))
    assert reply.status == 200, reply.body


async def test_a_sender_that_signs_its_timestamp_is_bounded_by_it_not_by_the_body(
    config: Config, store: SQLiteStore
) -> None:
    """A Stripe event created long ago (an event resent from the dashboard) carries a fresh
    signed timestamp: the signature's window bounds replays, not the body's time."""
    event = s.event("checkout.session.completed", created=int(days_ago(20).timestamp()))
    reply = await Bridge(config, store).send("stripe", s.body(event))
    assert reply.status == 200, reply.body


async def test_a_hubspot_v1_request_is_bounded_by_its_events_time(
    tmp_path: Path, store: SQLiteStore
) -> None:
    """v1 signs the body alone: without the body-time rule it verifies forever."""
    folder = tmp_path / "legacy"
    folder.mkdir()
    (folder / "hubspot.yaml").write_text(
        "sources:\n  hubspot:\n    kind: hubspot\n    secret: ${HUBSPOT_CLIENT_SECRET}\n"
        "    signature_versions: [v1]\n"
    )
    secret = "4d1c8f0e-7b2a-4c9d-9e51-2a6f3b8c0d17"
    bridge = Bridge(load_config(folder, {"HUBSPOT_CLIENT_SECRET": secret}), store)

    async def send(body: bytes) -> Reply:
        signature = hashlib.sha256(secret.encode() + body).hexdigest()
        headers = {"x-hubspot-signature": signature, "x-hubspot-signature-version": "v1"}
        request = InboundRequest("POST", "http://b/webhooks/hubspot", headers, body)
        return await bridge.ingestor.receive("hubspot", request)

    stale = await send(sample("hubspot", days_ago(30)))
    assert stale.status == 401, stale.body
    assert bridge.events() == 0
    fresh = await send(sample("hubspot", days_ago(1)))
    assert fresh.status == 200, fresh.body
