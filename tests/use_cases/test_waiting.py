"""A webhook that arrives before its visitor's beacon waits, then maps once the beacon is in,
or is unmapped after the ledger's wait; a converted checkout links its customer for renewals.
Real SQLite store, Stripe-signed requests."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import sqlite3
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from bridge.mapping import load_config
from bridge.mapping.loaded import Config
from bridge.store.base import EventFilter
from bridge.store.identities import Sighting
from bridge.store.sqlite import SQLiteStore
from bridge.telemetry.metrics import Metrics
from bridge.use_cases.ingest import Ingestor, Reply
from bridge.use_cases.waiting import WaitingEvents
from tests.support import stripe as s
from tests.support.identity_mappings import LEDGER as SHARED_LEDGER
from tests.support.identity_mappings import RENEWALS
from tests.support.mappings import ENVIRON, PAGENT, SOURCE, write_mappings

REF = "ref_visitor_waiting_0123456789"
START = 1_790_000_000.0
MINUTE = 60.0

LEDGER = SHARED_LEDGER + "    wait_minutes: 15\n"

RULES = RENEWALS


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


@dataclass
class Bench:
    config: Config
    store: SQLiteStore
    clock: Clock
    ingest: Ingestor
    waiting: WaitingEvents
    metrics: Metrics

    async def send(self, event_type: str, **fields: Any) -> Reply:
        payload = s.event(event_type, created=int(self.clock.now), **fields)
        return await self.ingest.receive("stripe", s.inbound(payload))

    async def beacon(self, ref: str = REF) -> None:
        at = int(self.clock.now * 1000)
        ids = {"session_id": "sess-browser", "user_id": "user-browser"}
        await self.store.remember([Sighting("web", ref, "pagent", ids, at, at + 86_400_000)])

    async def conversions(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for event in await self.store.list_events(EventFilter(), 100):
            trace = await self.store.event_trace(event.source, event.event_id)
            assert trace is not None
            found.extend(orjson.loads(held) for held in trace.conversions.values())
        return found

    async def outcome(self, event_id: str) -> tuple[str, str | None]:
        [event] = await self.store.list_events(EventFilter(event_id=event_id), 1)
        return event.outcome, event.reason


@pytest.fixture
async def bench(tmp_path: Path) -> AsyncIterator[Bench]:
    config = configured(tmp_path, LEDGER)
    store = await SQLiteStore.open(tmp_path / "bridge.db")
    clock, metrics = Clock(), Metrics()
    ingest = Ingestor(config, store, identities=store, clock=clock)
    waiting = WaitingEvents(store, config, store, interval_seconds=60, clock=clock, metrics=metrics)
    try:
        yield Bench(config, store, clock, ingest, waiting, metrics)
    finally:
        await store.close()


def configured(tmp_path: Path, ledger: str) -> Config:
    folder = write_mappings(tmp_path, source=SOURCE, pagent=PAGENT, ledger=ledger, rules=RULES)
    return load_config(folder, ENVIRON)


async def test_a_webhook_before_its_beacon_waits_then_maps(bench: Bench) -> None:
    reply = await bench.send("checkout.session.completed", client_reference_id=REF)
    assert (reply.status, reply.body["status"]) == (200, "waiting_identity")
    assert "waiting until" in reply.body["reason"]
    assert REF in reply.body["reason"]
    assert await bench.conversions() == []
    assert await bench.waiting.settle() == []  # nothing known yet: it keeps waiting

    bench.clock.now += 2 * MINUTE
    await bench.beacon()
    [settled] = await bench.waiting.settle()
    assert (settled.before, settled.after, settled.new_deliveries) == (
        "waiting_identity",
        "accepted",
        1,
    )
    [conversion] = await bench.conversions()
    assert (conversion["session_id"], conversion["user_id"]) == ("sess-browser", "user-browser")
    assert await bench.waiting.settle() == []
    sample = bench.metrics.identity_waits.labels("stripe", "arrived")._value.get()
    assert sample == 1


async def test_a_beacon_that_never_comes_leaves_the_event_unmapped_after_the_wait(
    bench: Bench,
) -> None:
    reply = await bench.send("checkout.session.completed", client_reference_id=REF)
    bench.clock.now += 14 * MINUTE
    assert await bench.waiting.settle() == []
    bench.clock.now += 1 * MINUTE
    [settled] = await bench.waiting.settle()
    assert settled.after == "unmapped"
    outcome, reason = await bench.outcome(reply.body["event_id"])
    assert outcome == "unmapped"
    assert reason is not None
    assert f"no identity for key '{REF}' reached ledger 'web' within 15 minutes" in reason
    assert await bench.conversions() == []


async def test_a_webhook_without_a_key_is_unmapped_at_once(bench: Bench) -> None:
    reply = await bench.send("checkout.session.completed", client_reference_id=None)
    assert reply.body["status"] == "unmapped"


async def test_no_wait_when_the_ledger_waits_zero_minutes(tmp_path: Path) -> None:
    config = configured(tmp_path, LEDGER.replace("wait_minutes: 15", "wait_minutes: 0"))
    store = await SQLiteStore.open(tmp_path / "bridge.db")
    try:
        ingest = Ingestor(config, store, identities=store)
        payload = s.event("checkout.session.completed", client_reference_id=REF)
        reply = await ingest.receive("stripe", s.inbound(payload))
        assert reply.body["status"] == "unmapped"
        assert "within 0 minutes" in reply.body["reason"]
    finally:
        await store.close()


async def test_the_first_checkout_links_its_customer_and_a_renewal_finds_the_visitor(
    bench: Bench,
) -> None:
    await bench.beacon()
    first = await bench.send(
        "checkout.session.completed", client_reference_id=REF, customer="cus_renews"
    )
    assert first.body["status"] == "accepted"
    renewal = await bench.send("invoice.paid", customer="cus_renews")
    assert renewal.body["status"] == "accepted", renewal.body
    goals = sorted((c["goal_id"], c["user_id"]) for c in await bench.conversions())
    assert goals == [("purchase", "user-browser"), ("renewal", "user-browser")]
    trace = await bench.store.event_trace("stripe", renewal.body["event_id"])
    assert trace is not None
    assert trace.rules[0]["identity"]["via"] == "cus_renews"  # type: ignore[index]


async def test_two_passes_at_once_deliver_once(bench: Bench) -> None:
    await bench.send("checkout.session.completed", client_reference_id=REF)
    await bench.beacon()
    passes = await asyncio.gather(bench.waiting.settle(), bench.waiting.settle())
    assert sum(r.new_deliveries for results in passes for r in results) == 1
    assert len(await bench.conversions()) == 1


async def test_an_event_whose_source_left_the_mappings_stops_waiting(
    bench: Bench, tmp_path: Path
) -> None:
    reply = await bench.send("checkout.session.completed", client_reference_id=REF)
    folder = tmp_path / "mappings"
    (folder / "source.yaml").write_text(SOURCE.replace("stripe:", "stripe-live:"))
    (folder / "rules.yaml").write_text(RULES.replace("source: stripe", "source: stripe-live"))
    moved = WaitingEvents(
        bench.store, load_config(folder, ENVIRON), bench.store, interval_seconds=60
    )
    [settled] = await moved.settle()
    assert settled.after is None
    outcome, reason = await bench.outcome(reply.body["event_id"])
    assert outcome == "unmapped"
    assert reason is not None
    assert "no longer in the mapping files" in reason
    assert await moved.settle() == []


async def test_a_beacon_wakes_the_loop(bench: Bench) -> None:
    await bench.send("checkout.session.completed", client_reference_id=REF)
    task = asyncio.create_task(bench.waiting.run())
    try:
        await asyncio.sleep(0.05)
        await bench.beacon()
        bench.waiting.wake()
        for _ in range(100):
            if await bench.conversions():
                break
            await asyncio.sleep(0.02)
        assert len(await bench.conversions()) == 1
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


EMAIL_RULES = RENEWALS.replace(
    "link: data.object.customer", "link: data.object.customer_details.email"
).replace("key: data.object.customer\n", "key: data.object.customer_email\n")


@pytest.mark.parametrize("pepper", [None, "pepper-7f3a91c2"])
async def test_an_email_links_the_visitor_as_its_hash_only(
    tmp_path: Path, pepper: str | None
) -> None:
    """The store never holds the address: a key or link with `@` is kept hashed (with the
    ledger's pepper when one is set), and the same address written otherwise finds it."""
    ledger = LEDGER + ("    email_pepper: ${LEDGER_PEPPER}\n" if pepper else "")
    folder = write_mappings(
        tmp_path, source=SOURCE, pagent=PAGENT, ledger=ledger, rules=EMAIL_RULES
    )
    environ = {**ENVIRON, "LEDGER_PEPPER": pepper} if pepper else ENVIRON
    config = load_config(folder, environ)
    path = tmp_path / "bridge.db"
    store = await SQLiteStore.open(path)
    try:
        now = int(time.time() * 1000)
        ids = {"session_id": "sess-browser", "user_id": "user-browser"}
        await store.remember([Sighting("web", REF, "pagent", ids, now, now + 86_400_000)])
        ingest = Ingestor(config, store, identities=store)
        details = {"email": "Jenny.Rosen@Example.com"}
        checkout = s.event(
            "checkout.session.completed", client_reference_id=REF, customer_details=details
        )
        assert (await ingest.receive("stripe", s.inbound(checkout))).body["status"] == "accepted"
        renewal = s.event("invoice.paid", customer_email=" jenny.rosen@example.com")
        answer = await ingest.receive("stripe", s.inbound(renewal))
        assert answer.body["status"] == "accepted", answer.body
        trace = await store.event_trace("stripe", answer.body["event_id"])
        assert trace is not None
        via = trace.rules[0]["identity"]["via"]  # type: ignore[index]
        assert via.startswith("email:")
        assert "jenny" not in via
    finally:
        await store.close()
    normalised = b"jenny.rosen@example.com"
    digest = (
        hmac.new(pepper.encode(), normalised, hashlib.sha256).hexdigest()
        if pepper
        else hashlib.sha256(normalised).hexdigest()
    )
    keys = sqlite3.connect(path).execute("SELECT key FROM identity_links").fetchall()
    assert keys == [(f"email:{digest}",)]
