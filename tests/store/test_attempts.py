"""What the store keeps of each delivery attempt, on every Store implementation."""

from __future__ import annotations

from bridge.store import Store
from bridge.store.base import ANSWER_LIMIT, AttemptRecord
from tests.store.conftest import NOW, new_event

LEASE = 60_000


async def test_a_claim_names_the_event_each_delivery_came_from(store: Store) -> None:
    await store.ingest([new_event("evt_named", ("pagent", "k1"), source="stripe-eu")])
    [claimed] = await store.claim("w", NOW, 10, LEASE, ["pagent"])
    assert (claimed.source, claimed.event_id) == ("stripe-eu", "evt_named")


async def test_a_vendor_answer_holding_any_bytes_is_recorded(store: Store) -> None:
    """PostgreSQL's text refuses NUL: a vendor's 2xx answer with one must still be recorded."""
    await store.ingest([new_event("evt_nul", ("pagent", "k1"))])
    [claimed] = await store.claim("w", NOW, 10, LEASE, ["pagent"])
    answer = 'ok\x00{"id": "\udcff"}' + "x" * (2 * ANSWER_LIMIT)
    await store.record(
        "w", [AttemptRecord(claimed.id, "delivered", NOW, 3, http_status=200, answer=answer)]
    )
    trace = await store.event_trace("stripe", "evt_nul")
    assert trace is not None
    [delivery] = trace.deliveries
    assert (delivery.status, delivery.attempts) == ("delivered", 1)
    [attempt] = trace.attempts
    assert attempt.answer is not None
    assert attempt.answer.startswith('ok\ufffd{"id": "?"}xxx')
    assert len(attempt.answer) <= ANSWER_LIMIT + 3
    assert delivery.last_answer == attempt.answer


async def test_a_split_attempt_is_counted_and_the_delivery_stays_leased(store: Store) -> None:
    """A refused batch is re-sent in halves within the same lease: its attempt is recorded,
    and the delivery is finished by the attempt that follows."""
    await store.ingest([new_event("evt_split", ("pagent", "k1"))])
    [claimed] = await store.claim("w", NOW, 10, LEASE, ["pagent"])
    split = AttemptRecord(
        claimed.id, "pending", NOW, 4, http_status=400, answer="HTTP 400: bad", outcome="split"
    )
    await store.record("w", [split])
    assert await store.claim("other", NOW + 1, 10, LEASE, ["pagent"]) == []
    [pending] = await store.list_deliveries(status="pending", destination=None, limit=10)
    assert pending.attempts == 1
    await store.record(
        "w", [AttemptRecord(claimed.id, "delivered", NOW + 5, 2, http_status=200, answer="ok")]
    )
    trace = await store.event_trace("stripe", "evt_split")
    assert trace is not None
    [delivery] = trace.deliveries
    assert (delivery.status, delivery.attempts) == ("delivered", 2)
    assert [(a.outcome, a.http_status, a.answer) for a in trace.attempts] == [
        ("split", 400, "HTTP 400: bad"),
        ("delivered", 200, "ok"),
    ]


async def test_a_split_attempt_of_a_lease_that_ran_out_is_not_recorded(store: Store) -> None:
    await store.ingest([new_event("evt_late", ("pagent", "k1"))])
    [claimed] = await store.claim("slow", NOW, 10, LEASE, ["pagent"])
    await store.claim("fast", NOW + LEASE, 10, LEASE, ["pagent"])
    late = AttemptRecord(claimed.id, "pending", NOW, 4, http_status=413, outcome="split")
    await store.record("slow", [late])
    trace = await store.event_trace("stripe", "evt_late")
    assert trace is not None
    assert trace.attempts == []
    assert trace.deliveries[0].attempts == 0
