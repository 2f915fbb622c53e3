"""The outbox's rules (ingest, claim, record, release) on both real stores and the in-memory
outbox unit tests use, so none of them can drift (run against each by the `outbox` fixture)."""

from __future__ import annotations

import asyncio

from bridge.store.base import AttemptRecord, Outbox
from tests.store.conftest import NOW, new_event

LEASE = 60_000


async def test_a_redelivered_event_is_a_duplicate_and_creates_nothing(outbox: Outbox) -> None:
    await outbox.ingest([new_event("evt_1", ("pagent", "k1"))])
    [again] = await outbox.ingest([new_event("evt_1", ("pagent", "k2"))])
    assert again.outcome == "duplicate"
    assert again.new_deliveries == 0
    [only] = await outbox.claim("w", NOW, 10, LEASE, ["pagent"])
    assert only.event_id == "evt_1"


async def test_the_same_event_id_from_another_source_is_a_different_event(outbox: Outbox) -> None:
    await outbox.ingest([new_event("evt_1", ("pagent", "k1"))])
    [other] = await outbox.ingest([new_event("evt_1", ("pagent", "k9"), source="stripe-eu")])
    assert other.outcome == "accepted"


async def test_a_conversion_already_recorded_by_another_event_is_not_recorded_twice(
    outbox: Outbox,
) -> None:
    await outbox.ingest([new_event("evt_checkout", ("pagent", "txn:goal:pi_1"))])
    [second] = await outbox.ingest([new_event("evt_payment_intent", ("pagent", "txn:goal:pi_1"))])
    assert second.outcome == "duplicate"
    assert second.duplicate_of == "evt_checkout"
    [only] = await outbox.claim("w", NOW, 10, LEASE, ["pagent"])
    assert only.event_id == "evt_checkout"


async def test_ignored_and_unmapped_events_are_kept_without_deliveries(outbox: Outbox) -> None:
    results = await outbox.ingest(
        [new_event("evt_a", outcome="ignored"), new_event("evt_b", outcome="unmapped")]
    )
    assert [r.outcome for r in results] == ["ignored", "unmapped"]
    [again] = await outbox.ingest([new_event("evt_b", outcome="unmapped")])
    assert again.outcome == "duplicate"


async def test_a_lease_gives_a_delivery_to_one_worker_until_it_ends(outbox: Outbox) -> None:
    await outbox.ingest([new_event("evt_1", ("pagent", "k1"))])
    [claimed] = await outbox.claim("worker-a", NOW, 10, LEASE, ["pagent"])
    assert await outbox.claim("worker-b", NOW + 1000, 10, LEASE, ["pagent"]) == []
    [reclaimed] = await outbox.claim("worker-b", NOW + LEASE, 10, LEASE, ["pagent"])
    assert reclaimed.id == claimed.id


async def test_only_deliveries_for_ready_destinations_are_claimed(outbox: Outbox) -> None:
    await outbox.ingest([new_event("evt_1", ("pagent", "k1"), ("convert", "k1"))])
    claimed = await outbox.claim("w", NOW, 10, LEASE, ["convert"])
    assert [c.destination for c in claimed] == ["convert"]
    assert await outbox.claim("w", NOW, 10, LEASE, []) == []


async def test_concurrent_claims_never_hand_out_the_same_delivery(outbox: Outbox) -> None:
    await outbox.ingest([new_event(f"evt_{n}", ("pagent", f"k{n}")) for n in range(50)])
    batches = await asyncio.gather(
        *(outbox.claim(f"w{n}", NOW, 7, LEASE, ["pagent"]) for n in range(10))
    )
    ids = [d.id for batch in batches for d in batch]
    assert len(ids) == len(set(ids)) == 50


async def test_a_retry_waits_until_its_time(outbox: Outbox) -> None:
    await outbox.ingest([new_event("evt_1", ("pagent", "k1"))])
    [claimed] = await outbox.claim("w", NOW, 10, LEASE, ["pagent"])
    await outbox.record(
        "w",
        [
            AttemptRecord(
                claimed.id,
                "pending",
                NOW,
                5,
                next_attempt_at=NOW + 30_000,
                http_status=500,
                answer="HTTP 500",
            )
        ],
    )
    assert await outbox.claim("w", NOW + 29_999, 10, LEASE, ["pagent"]) == []
    [again] = await outbox.claim("w", NOW + 30_000, 10, LEASE, ["pagent"])
    assert again.attempts == 1


async def test_released_leases_are_claimable_at_once(outbox: Outbox) -> None:
    await outbox.ingest([new_event("evt_1", ("pagent", "k1"))])
    [claimed] = await outbox.claim("stopping", NOW, 10, LEASE, ["pagent"])
    await outbox.release("stopping", [claimed.id])
    [again] = await outbox.claim("other", NOW + 1, 10, LEASE, ["pagent"])
    assert again.id == claimed.id
    assert again.attempts == 0
