"""Behaviour every Store implementation must show (run against each by the `store` fixture)."""

from __future__ import annotations

import pytest

from bridge.store import Store
from bridge.store.base import AttemptRecord, EventFilter, NewEvent, StoreRefused
from bridge.store.rules import PURGE_CHUNK
from tests.store.conftest import HOUR, NOW, new_event

LEASE = 60_000


async def test_an_event_and_its_deliveries_are_stored_together(store: Store) -> None:
    [stored] = await store.ingest([new_event("evt_1", ("pagent", "k1"), ("convert", "k1"))])
    assert stored.outcome == "accepted"
    assert stored.new_deliveries == 2
    views = await store.list_deliveries(status="pending", destination=None, limit=10)
    assert sorted(v.destination for v in views) == ["convert", "pagent"]
    assert {v.event_id for v in views} == {"evt_1"}


async def test_a_worker_whose_lease_expired_cannot_overwrite_the_new_owner(store: Store) -> None:
    await store.ingest([new_event("evt_1", ("pagent", "k1"))])
    [claimed] = await store.claim("slow", NOW, 10, LEASE, ["pagent"])
    await store.claim("fast", NOW + LEASE, 10, LEASE, ["pagent"])
    await store.record("slow", [AttemptRecord(claimed.id, "dead", NOW + LEASE, 5, answer="late")])
    await store.record(
        "fast", [AttemptRecord(claimed.id, "delivered", NOW + LEASE, 5, http_status=200)]
    )
    [view] = await store.list_deliveries(status=None, destination=None, limit=10)
    assert (view.status, view.attempts) == ("delivered", 1)


async def test_finished_deliveries_are_never_claimed_again(store: Store) -> None:
    await store.ingest([new_event("evt_1", ("pagent", "k1"), ("convert", "k1"))])
    claimed = await store.claim("w", NOW, 10, LEASE, ["pagent", "convert"])
    await store.record(
        "w",
        [
            AttemptRecord(claimed[0].id, "delivered", NOW, 5, http_status=200),
            AttemptRecord(claimed[1].id, "dead", NOW, 5, http_status=400, answer="HTTP 400: bad"),
        ],
    )
    assert await store.claim("w", NOW + 10 * LEASE, 10, LEASE, ["pagent", "convert"]) == []
    [dead] = await store.list_deliveries(status="dead", destination=None, limit=10)
    assert (dead.last_status, dead.last_answer) == (400, "HTTP 400: bad")


async def test_dead_deliveries_can_be_retried_with_a_fresh_max_age(store: Store) -> None:
    await store.ingest([new_event("evt_1", ("pagent", "k1")), new_event("evt_2", ("pagent", "k2"))])
    claimed = await store.claim("w", NOW, 10, LEASE, ["pagent"])
    await store.record("w", [AttemptRecord(d.id, "dead", NOW, 1, answer="x") for d in claimed])
    later = NOW + 100 * HOUR
    count = await store.retry_deliveries(
        ids=None, status="dead", destination="pagent", now=later, expires_at=later + 72 * HOUR
    )
    assert count == 2
    revived = await store.claim("w", later, 10, LEASE, ["pagent"])
    assert [d.expires_at for d in revived] == [later + 72 * HOUR] * 2


async def test_retry_by_id_touches_only_those_deliveries(store: Store) -> None:
    await store.ingest([new_event("evt_1", ("pagent", "k1")), new_event("evt_2", ("pagent", "k2"))])
    claimed = await store.claim("w", NOW, 10, LEASE, ["pagent"])
    await store.record("w", [AttemptRecord(d.id, "dead", NOW, 1) for d in claimed])
    count = await store.retry_deliveries(
        ids=[claimed[0].id], status=None, destination=None, now=NOW, expires_at=NOW + HOUR
    )
    assert count == 1
    assert len(await store.list_deliveries(status="dead", destination=None, limit=10)) == 1


async def test_purge_erases_old_payloads_and_finished_events_but_keeps_pending_work(
    store: Store,
) -> None:
    old = NOW - 10 * 24 * HOUR
    await store.ingest(
        [
            new_event("evt_old_done", ("pagent", "k1"), received_at=old),
            new_event("evt_old_pending", ("pagent", "k2"), received_at=old),
            new_event("evt_new", ("pagent", "k3")),
        ]
    )
    claimed = await store.claim("w", NOW, 10, LEASE, ["pagent"])
    done = next(d for d in claimed if d.created_at == old)
    await store.record("w", [AttemptRecord(done.id, "delivered", NOW, 1, http_status=200)])
    counts = await store.purge(
        payloads_before=NOW - 7 * 24 * HOUR, events_before=NOW - 7 * 24 * HOUR
    )
    assert counts.payloads_cleared == 2
    assert counts.events_deleted == 1
    remaining = {
        v.event_id for v in await store.list_deliveries(status=None, destination=None, limit=10)
    }
    assert remaining == {"evt_old_pending", "evt_new"}
    [again] = await store.ingest([new_event("evt_old_done", ("pagent", "k1"))])
    assert again.outcome == "accepted"  # dedupe keys live exactly as long as configured


async def test_purge_goes_on_past_one_chunk_until_nothing_old_is_left(store: Store) -> None:
    """Retention deletes in short transactions of `PURGE_CHUNK` rows: all of them, not one."""
    old = NOW - 10 * 24 * HOUR
    count = PURGE_CHUNK * 2 + 1
    await store.ingest(
        [new_event(f"evt_{n}", outcome="ignored", received_at=old) for n in range(count)]
    )
    await store.ingest([new_event("evt_recent", outcome="ignored")])
    week_ago = NOW - 7 * 24 * HOUR
    counts = await store.purge(payloads_before=week_ago, events_before=week_ago)
    assert (counts.payloads_cleared, counts.events_deleted) == (count, count)
    [left] = await store.list_events(EventFilter(), 10)
    assert (left.event_id, left.payload_kept) == ("evt_recent", True)


async def test_store_answers_ping(store: Store) -> None:
    await store.ping()


async def test_events_are_listed_newest_first_and_filtered(store: Store) -> None:
    await store.ingest(
        [
            new_event("evt_a", ("pagent", "ka")),
            new_event("evt_b", outcome="ignored", received_at=NOW + 10),
            new_event("evt_c", outcome="unmapped", received_at=NOW + 20, source="stripe-eu"),
        ]
    )
    everything = await store.list_events(EventFilter(), 10)
    assert [e.event_id for e in everything] == ["evt_c", "evt_b", "evt_a"]
    assert [e.event_id for e in await store.list_events(EventFilter(outcome="ignored"), 10)] == [
        "evt_b"
    ]
    assert [e.event_id for e in await store.list_events(EventFilter(source="stripe-eu"), 10)] == [
        "evt_c"
    ]
    since = await store.list_events(EventFilter(since=NOW + 10, until=NOW + 20), 10)
    assert [e.event_id for e in since] == ["evt_b"]
    assert everything[0].payload_kept


async def test_a_trace_shows_rules_deliveries_and_every_attempt(store: Store) -> None:
    await store.ingest([new_event("evt_t", ("pagent", "k1"), ("convert", "k1"))])
    claimed = await store.claim("w", NOW, 10, LEASE, ["pagent"])
    await store.record(
        "w",
        [
            AttemptRecord(
                claimed[0].id,
                "pending",
                NOW,
                12,
                next_attempt_at=NOW + 1,
                http_status=503,
                answer="HTTP 503",
            )
        ],
    )
    [again] = await store.claim("w", NOW + 1, 10, LEASE, ["pagent"])
    await store.record(
        "w",
        [
            AttemptRecord(
                again.id, "delivered", NOW + 1, 9, http_status=200, answer='{"accepted":1}'
            )
        ],
    )
    trace = await store.event_trace("stripe", "evt_t")
    assert trace is not None
    assert trace.event.outcome == "accepted"
    assert sorted((d.destination, d.status) for d in trace.deliveries) == [
        ("convert", "pending"),
        ("pagent", "delivered"),
    ]
    assert [(a.http_status, a.outcome) for a in trace.attempts] == [
        (503, "retry"),
        (200, "delivered"),
    ]
    assert trace.conversions[again.id] == b'{"conversion": true}'
    assert await store.event_trace("stripe", "evt_missing") is None


async def test_replay_records_what_the_current_rules_make_of_a_stored_event(store: Store) -> None:
    await store.ingest([new_event("evt_r", outcome="unmapped")])
    [raw] = await store.raw_events(EventFilter(outcome="unmapped"), 10)
    assert (raw.event_id, raw.raw) == ("evt_r", b'{"id": "evt"}')
    [replayed] = await store.replay([new_event("evt_r", ("pagent", "k-r"))])
    assert (replayed.outcome, replayed.new_deliveries) == ("accepted", 1)
    [again] = await store.replay([new_event("evt_r", ("pagent", "k-r"))])
    assert (again.outcome, again.new_deliveries) == ("accepted", 0)  # replaying twice adds nothing
    assert len(await store.list_deliveries(status=None, destination=None, limit=10)) == 1
    [event] = await store.list_events(EventFilter(event_id="evt_r"), 10)
    assert event.outcome == "accepted"


async def test_replay_never_records_a_conversion_another_event_already_has(store: Store) -> None:
    await store.ingest(
        [
            new_event("evt_first", ("pagent", "txn:g:pi_1")),
            new_event("evt_late", outcome="unmapped"),
        ]
    )
    [replayed] = await store.replay([new_event("evt_late", ("pagent", "txn:g:pi_1"))])
    assert (replayed.outcome, replayed.duplicate_of) == ("duplicate", "evt_first")
    [late] = await store.list_events(EventFilter(event_id="evt_late"), 1)
    assert (late.outcome, late.reason) == (
        "duplicate",
        "conversion already recorded from event evt_first",
    )


async def test_an_event_whose_conversions_others_recorded_keeps_the_reason(store: Store) -> None:
    await store.ingest([new_event("evt_checkout", ("pagent", "txn:g:pi_1"))])
    await store.ingest([new_event("evt_payment", ("pagent", "txn:g:pi_1"))])
    [payment] = await store.list_events(EventFilter(event_id="evt_payment"), 1)
    assert (payment.outcome, payment.reason) == (
        "duplicate",
        "conversion already recorded from event evt_checkout",
    )


async def test_purging_dead_deliveries_drops_them_and_keeps_pending_ones(store: Store) -> None:
    await store.ingest([new_event(f"evt_{n}", ("pagent", f"k{n}")) for n in range(3)])
    claimed = await store.claim("w", NOW, 10, LEASE, ["pagent"])
    await store.record("w", [AttemptRecord(claimed[0].id, "dead", NOW, 1, answer="HTTP 400")])
    assert await store.purge_deliveries(ids=None, status="dead", destination="pagent") == 1
    assert await store.purge_deliveries(ids=None, status="pending", destination=None) == 0
    remaining = await store.list_deliveries(status=None, destination=None, limit=10)
    assert sorted(v.status for v in remaining) == ["pending", "pending"]


async def test_queue_depth_counts_pending_deliveries_and_the_longest_wait(store: Store) -> None:
    await store.ingest([new_event("evt_q1", ("pagent", "k1"), ("convert", "k1"))])
    await store.ingest([new_event("evt_q2", ("pagent", "k2"), received_at=NOW + 5_000)])
    depth = await store.queue_depth(NOW + 1_000)
    assert [(q.destination, q.pending, q.due, q.oldest_due_at) for q in depth] == [
        ("convert", 1, 1, NOW),
        ("pagent", 2, 1, NOW),
    ]
    claimed = await store.claim("w", NOW + 6_000, 10, LEASE, ["pagent"])
    first = min(claimed, key=lambda d: d.id)  # evt_q1's
    await store.record("w", [AttemptRecord(first.id, "delivered", NOW + 6_000, 5, http_status=200)])
    await store.release("w", [d.id for d in claimed if d.id != first.id])
    depth = await store.queue_depth(NOW + 6_000)
    assert [(q.destination, q.pending, q.due, q.oldest_due_at) for q in depth] == [
        ("convert", 1, 1, NOW),
        ("pagent", 1, 1, NOW + 5_000),
    ]


async def _deliver_all(store: Store, destination: str = "pagent") -> None:
    claimed = await store.claim("w", NOW, 100, LEASE, [destination])
    await store.record(
        "w", [AttemptRecord(d.id, "delivered", NOW, 1, http_status=200) for d in claimed]
    )


async def test_a_purged_delivery_is_never_recorded_again_by_a_replay(store: Store) -> None:
    await store.ingest([new_event("evt_p", ("pagent", "txn:g:pi_1"))])
    await _deliver_all(store)
    assert await store.purge_deliveries(ids=None, status="delivered", destination=None) == 1
    assert await store.list_deliveries(status=None, destination=None, limit=10) == []

    [replayed] = await store.replay([new_event("evt_p", ("pagent", "txn:g:pi_1"))])
    assert replayed.new_deliveries == 0
    assert replayed.outcome == "accepted"  # its conversion was recorded, by itself
    [again] = await store.ingest([new_event("evt_other", ("pagent", "txn:g:pi_1"))])
    assert (again.outcome, again.duplicate_of) == ("duplicate", "evt_p")
    assert await store.claim("w", NOW, 10, LEASE, ["pagent"]) == []


async def test_purged_delivery_ids_are_not_given_to_new_deliveries(store: Store) -> None:
    await store.ingest([new_event("evt_1", ("pagent", "k1"))])
    await _deliver_all(store)
    [purged] = await store.list_deliveries(status="delivered", destination=None, limit=10)
    await store.purge_deliveries(ids=[purged.id], status=None, destination=None)
    await store.ingest([new_event("evt_2", ("pagent", "k2"))])
    [new] = await store.list_deliveries(status=None, destination=None, limit=10)
    assert new.id > purged.id


async def test_a_purged_delivery_leaves_no_trace_of_its_conversion(store: Store) -> None:
    await store.ingest([new_event("evt_t", ("pagent", "k1"))])
    await _deliver_all(store)
    await store.purge_deliveries(ids=None, status="delivered", destination=None)
    trace = await store.event_trace("stripe", "evt_t")
    assert trace is not None
    assert (trace.deliveries, trace.attempts, trace.conversions) == ([], [], {})
    retried = await store.retry_deliveries(
        ids=None, status="delivered", destination=None, now=NOW, expires_at=NOW + HOUR
    )
    assert retried == 0


async def test_a_purged_conversion_is_forgotten_with_its_event_by_retention(store: Store) -> None:
    old = NOW - 10 * 24 * HOUR
    await store.ingest([new_event("evt_old", ("pagent", "k1"), received_at=old)])
    await _deliver_all(store)
    await store.purge_deliveries(ids=None, status="delivered", destination=None)
    counts = await store.purge(payloads_before=NOW, events_before=NOW - 7 * 24 * HOUR)
    assert counts.events_deleted == 1
    [again] = await store.ingest([new_event("evt_new", ("pagent", "k1"))])
    assert again.outcome == "accepted"


async def test_a_dry_run_replay_decides_as_the_replay_and_stores_nothing(store: Store) -> None:
    await store.ingest(
        [
            new_event("evt_done", ("pagent", "txn:g:pi_1")),
            new_event("evt_a", outcome="unmapped"),
            new_event("evt_b", outcome="unmapped"),
        ]
    )
    replays = [
        new_event("evt_done", ("pagent", "txn:g:pi_1")),
        new_event("evt_a", ("pagent", "txn:g:pi_2")),
        new_event("evt_b", ("pagent", "txn:g:pi_2")),  # the same purchase as evt_a
    ]
    planned = await store.replay(replays, dry_run=True)
    assert len(await store.list_deliveries(status=None, destination=None, limit=10)) == 1
    assert [e.outcome for e in await store.list_events(EventFilter(outcome="unmapped"), 10)] == [
        "unmapped",
        "unmapped",
    ]
    done = [await store.replay([event]) for event in replays]
    real = [stored for [stored] in done]
    assert [(p.outcome, p.new_deliveries, p.duplicate_of) for p in planned] == [
        (r.outcome, r.new_deliveries, r.duplicate_of) for r in real
    ]
    assert [r.outcome for r in real] == ["accepted", "accepted", "duplicate"]


@pytest.mark.parametrize(
    "event",
    [
        new_event("evt_\x00nul", ("pagent", "k1")),
        new_event("evt_1", ("pagent", "txn:\x00:pi_1")),
    ],
    ids=["event id", "conversion key"],
)
async def test_text_with_a_nul_is_refused_alike_by_both_stores(
    store: Store, event: NewEvent
) -> None:
    with pytest.raises(StoreRefused, match="NUL character"):
        await store.ingest([event])
    with pytest.raises(StoreRefused, match="NUL character"):
        await store.replay([event])
    assert await store.list_events(EventFilter(), 10) == []
    [stored] = await store.ingest([new_event("evt_2", ("pagent", "k2"))])  # nothing is stuck
    assert stored.outcome == "accepted"
