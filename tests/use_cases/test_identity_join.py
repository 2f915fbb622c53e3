"""Ingest with a rule that reads the identity ledger: the ids a browser gave, joined to the
webhook that carries its reference."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from bridge.mapping import load_config
from bridge.store.base import EventFilter, StoreUnavailable
from bridge.store.identities import KnownIdentity, Sighting
from bridge.store.sqlite import SQLiteStore
from bridge.use_cases.ingest import Ingestor, Reply
from bridge.use_cases.replay import replay
from tests.support import stripe as s
from tests.support.identities import MemoryIdentities
from tests.support.identity_mappings import JOINED
from tests.support.identity_mappings import LEDGER as SHARED_LEDGER
from tests.support.mappings import ENVIRON, PAGENT, SOURCE, write_mappings
from tests.support.outbox import MemoryOutbox

REF = "ref_visitor_0123456789ab"

LEDGER = SHARED_LEDGER + "    wait_minutes: 0\n"
"""No wait: what a rule makes of an identity it does not find shows at once (waiting is
`test_waiting.py`'s)."""


PLAIN = """
rules:
  - name: plain
    source: stripe
    destination: pagent
    conversion:
      session_id: data.object.metadata.session_id
      user_id: {const: u}
      goal_id: {const: purchase}
"""


class Unreachable(MemoryIdentities):
    """A ledger whose store cannot be read."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    async def recall(self, ledger: str, key: str, now: int) -> KnownIdentity | None:
        self.calls += 1
        raise StoreUnavailable("database is locked")


def ingestor(
    tmp_path: Path, outbox: MemoryOutbox, identities: MemoryIdentities | None, rules: str = JOINED
) -> Ingestor:
    folder = write_mappings(tmp_path, source=SOURCE, pagent=PAGENT, ledger=LEDGER, rules=rules)
    return Ingestor(load_config(folder, ENVIRON), outbox, identities=identities)


async def remembered(identities: MemoryIdentities, captured_at: int) -> None:
    ids = {"session_id": "sess-captured", "user_id": "user-7"}
    expires_at = captured_at + 86_400_000
    await identities.remember([Sighting("web", REF, "pagent", ids, captured_at, expires_at)])


async def send(ingest: Ingestor, **fields: Any) -> Reply:
    payload = s.event("checkout.session.completed", **fields)
    return await ingest.receive("stripe", s.inbound(payload))


def delivered(outbox: MemoryOutbox) -> list[dict[str, Any]]:
    return [orjson.loads(held.conversion) for held in outbox.deliveries.values()]


def traced_rules(outbox: MemoryOutbox) -> list[dict[str, Any]]:
    [held] = outbox.events.values()
    rules: list[dict[str, Any]] = orjson.loads(held.detail)["rules"]
    return rules


async def test_the_captured_ids_reach_the_conversion(tmp_path: Path) -> None:
    outbox, identities = MemoryOutbox(), MemoryIdentities()
    captured_at = int(time.time() * 1000) - 60_000
    await remembered(identities, captured_at)
    reply = await send(ingestor(tmp_path, outbox, identities), client_reference_id=REF)
    assert reply.status == 200
    assert reply.body["status"] == "accepted"
    [conversion] = delivered(outbox)
    assert (conversion["session_id"], conversion["user_id"]) == ("sess-captured", "user-7")
    assert traced_rules(outbox)[0]["identity"] == {
        "ledger": "web",
        "ref": REF,
        "via": "ref",
        "vendors": {"pagent": {"captured_at": captured_at}},
    }


async def test_an_id_the_payload_carries_is_preferred(tmp_path: Path) -> None:
    outbox, identities = MemoryOutbox(), MemoryIdentities()
    await remembered(identities, int(time.time() * 1000))
    ingest = ingestor(tmp_path, outbox, identities)
    await send(ingest, client_reference_id=REF, metadata={"session_id": "sess-stripe"})
    [conversion] = delivered(outbox)
    assert (conversion["session_id"], conversion["user_id"]) == ("sess-stripe", "user-7")


async def test_a_reference_the_ledger_does_not_know_is_unmapped(tmp_path: Path) -> None:
    outbox, identities = MemoryOutbox(), MemoryIdentities()
    await remembered(identities, int(time.time() * 1000))
    ingest = ingestor(tmp_path, outbox, identities)
    reply = await send(ingest, client_reference_id="ref_someone_else_0123456789")
    assert reply.body["status"] == "unmapped"
    assert "session_id is missing" in reply.body["reason"]
    assert traced_rules(outbox)[0]["identity"] is None
    assert delivered(outbox) == []


async def test_expired_ids_are_not_used(tmp_path: Path) -> None:
    outbox, identities = MemoryOutbox(), MemoryIdentities()
    await remembered(identities, int(time.time() * 1000) - 2 * 86_400_000)
    reply = await send(ingestor(tmp_path, outbox, identities), client_reference_id=REF)
    assert reply.body["status"] == "unmapped"


async def test_without_a_ledger_reader_nothing_is_known(tmp_path: Path) -> None:
    outbox = MemoryOutbox()
    reply = await send(ingestor(tmp_path, outbox, None), client_reference_id=REF)
    assert reply.body["status"] == "unmapped"
    assert traced_rules(outbox)[0]["identity"] is None


async def test_a_ledger_that_cannot_be_read_is_a_503_with_nothing_stored(tmp_path: Path) -> None:
    outbox = MemoryOutbox()
    reply = await send(ingestor(tmp_path, outbox, Unreachable()), client_reference_id=REF)
    assert reply.status == 503
    assert outbox.events == {}


async def test_rules_without_identity_never_read_the_ledger(tmp_path: Path) -> None:
    outbox, identities = MemoryOutbox(), Unreachable()
    ingest = ingestor(tmp_path, outbox, identities, rules=PLAIN)
    reply = await send(ingest, client_reference_id=REF, metadata={"session_id": "s"})
    assert (reply.status, reply.body["status"]) == (200, "accepted")
    assert identities.calls == 0
    assert "identity" not in traced_rules(outbox)[0]


@pytest.mark.parametrize("reference", [None, ""])
async def test_without_a_reference_the_customer_is_the_key(
    tmp_path: Path, reference: str | None
) -> None:
    outbox, identities = MemoryOutbox(), MemoryIdentities()
    now = int(time.time() * 1000)
    ids = {"session_id": "sess-by-customer", "user_id": "user-9"}
    await identities.remember([Sighting("web", "cus_42", "pagent", ids, now, now + 60_000)])
    ingest = ingestor(tmp_path, outbox, identities)
    await send(ingest, client_reference_id=reference, customer="cus_42")
    [conversion] = delivered(outbox)
    assert conversion["session_id"] == "sess-by-customer"


async def test_a_replay_reads_what_the_ledger_knows_now(tmp_path: Path) -> None:
    """A checkout that arrived before its beacon is unmapped; replayed once the beacon is in,
    it carries the captured ids."""
    folder = write_mappings(tmp_path, source=SOURCE, pagent=PAGENT, ledger=LEDGER, rules=JOINED)
    config = load_config(folder, ENVIRON)
    store = await SQLiteStore.open(tmp_path / "bridge.db")
    try:
        ingest = Ingestor(config, store, identities=store)
        first = await send(ingest, client_reference_id=REF)
        assert first.body["status"] == "unmapped"
        now = int(time.time() * 1000)
        ids = {"session_id": "sess-late", "user_id": "user-late"}
        await store.remember([Sighting("web", REF, "pagent", ids, now, now + 86_400_000)])
        where = [EventFilter(source="stripe")]
        [result] = await replay(store, config, where, limit=10, dry_run=False, identities=store)
        assert (result.before, result.after, result.new_deliveries) == ("unmapped", "accepted", 1)
        trace = await store.event_trace("stripe", first.body["event_id"])
        assert trace is not None
        [conversion] = [orjson.loads(held) for held in trace.conversions.values()]
        assert (conversion["session_id"], conversion["user_id"]) == ("sess-late", "user-late")
    finally:
        await store.close()
