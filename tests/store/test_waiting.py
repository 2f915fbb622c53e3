"""Events waiting for their identity, and the links an event writes, on both stores."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import pytest

from bridge.store import Store
from bridge.store.base import EventFilter, NewEvent, StoreRefused, StoreUnavailable
from bridge.store.identities import Link, Sighting
from bridge.store.sqlite import SQLiteStore
from bridge.store.sqlite.migrate import migrate
from bridge.store.sqlite.queries import WAITING_EVENTS
from tests.store.conftest import NOW, new_event

DAY = 86_400_000


def linked(event_id: str, key: str, ref: str = "ref_a") -> NewEvent:
    link = Link("web", key, ref, NOW, NOW + DAY)
    return dataclasses.replace(new_event(event_id), links=(link,))


async def test_waiting_events_are_listed_oldest_first_until_they_settle(store: Store) -> None:
    await store.ingest(
        [
            new_event("evt_wait_1", outcome="waiting_identity", received_at=NOW - 5),
            new_event("evt_done", ("pagent", "k_done")),
            new_event("evt_wait_2", outcome="waiting_identity", received_at=NOW),
        ]
    )
    waiting = await store.waiting_events(10)
    assert [(w.event_id, w.outcome, w.received_at) for w in waiting] == [
        ("evt_wait_1", "waiting_identity", NOW - 5),
        ("evt_wait_2", "waiting_identity", NOW),
    ]
    assert waiting[0].raw == b'{"id": "evt"}'
    settled = new_event("evt_wait_1", ("pagent", "k_1"))
    [stored] = await store.replay([settled])
    assert stored.outcome == "accepted"
    assert [w.event_id for w in await store.waiting_events(10)] == ["evt_wait_2"]
    assert [w.event_id for w in await store.waiting_events(0)] == []
    [listed] = await store.list_events(EventFilter(outcome="waiting_identity"), 10)
    assert listed.event_id == "evt_wait_2"


async def test_an_event_ties_its_links_in_its_own_commit(store: Store) -> None:
    await store.remember([Sighting("web", "ref_a", "pagent", {"user_id": "u"}, NOW, NOW + DAY)])
    await store.ingest([linked("evt_1", "cus_1")])
    known = await store.recall("web", "cus_1", NOW)
    assert known is not None
    assert (known.ref, known.via) == ("ref_a", "cus_1")


async def test_a_received_event_links_nothing_again(store: Store) -> None:
    await store.remember([Sighting("web", "ref_b", "pagent", {"user_id": "u"}, NOW, NOW + DAY)])
    await store.ingest([new_event("evt_1")])
    [again] = await store.ingest([linked("evt_1", "cus_1", ref="ref_b")])
    assert again.outcome == "duplicate"
    assert await store.recall("web", "cus_1", NOW) is None


async def test_a_replay_ties_its_links_and_the_first_link_wins(store: Store) -> None:
    for ref in ("ref_a", "ref_b"):
        await store.remember([Sighting("web", ref, "pagent", {"user_id": ref}, NOW, NOW + DAY)])
    await store.ingest([new_event("evt_1"), linked("evt_2", "cus_1", ref="ref_b")])
    await store.replay([linked("evt_1", "cus_1", ref="ref_a")])
    known = await store.recall("web", "cus_1", NOW)
    assert known is not None
    assert known.ref == "ref_b"


async def test_a_link_the_store_cannot_keep_refuses_the_event(store: Store) -> None:
    with pytest.raises(StoreRefused):
        await store.ingest([linked("evt_1", "cus\x00")])
    assert await store.list_events(EventFilter(), 10) == []


def test_sqlite_finds_waiting_events_through_the_partial_index(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    migrate(path)
    plan = sqlite3.connect(path).execute(f"EXPLAIN QUERY PLAN {WAITING_EVENTS}", (10,)).fetchall()
    assert any("events_waiting" in row[-1] for row in plan), plan


async def test_sqlite_recall_on_the_loop_sees_each_commit_and_ends_with_the_store(
    tmp_path: Path,
) -> None:
    """The recall reads on the event loop's own connection: it must see what the writer just
    committed (no snapshot held between reads), and refuse once the store is closed."""
    store = await SQLiteStore.open(tmp_path / "b.db")
    for at, session in ((NOW, "first"), (NOW + 1, "second")):
        ids = {"session_id": session}
        await store.remember([Sighting("web", "ref_a", "pagent", ids, at, at + DAY)])
        known = await store.recall("web", "ref_a", NOW + 2)
        assert known is not None
        assert known.vendors["pagent"].ids == {"session_id": session}
    await store.close()
    with pytest.raises(StoreUnavailable):
        await store.recall("web", "ref_a", NOW + 2)
