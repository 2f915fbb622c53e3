"""The benchmark's events: ids in no order by default (most senders' ids are not sequential),
counting up on request, and the 1 M-row store filled in the same order as the load."""

from __future__ import annotations

import orjson

from bench.events import Ids, signed_events
from bench.prefill import _events


def event_ids(count: int, ids: Ids = "random") -> list[str]:
    return [orjson.loads(event.body)["id"] for event in signed_events("order", count, ids=ids)]


def test_event_ids_come_in_no_order_by_default_and_never_repeat() -> None:
    ids = event_ids(200)
    assert len(set(ids)) == 200
    assert ids != sorted(ids)


def test_sequential_ids_count_up() -> None:
    ids = event_ids(200, "sequential")
    assert ids == sorted(ids)
    assert len(set(ids)) == 200


def test_the_same_event_gets_the_same_id_in_every_run() -> None:
    """The A/B compares two servers on the same events."""
    assert event_ids(50) == event_ids(50)


def prefilled_ids(ids: Ids) -> list[object]:
    return [row[1] for row in _events(0, 100, 0, b"{}", ids)]


def test_prefill_stores_ids_in_the_order_the_load_uses() -> None:
    in_no_order = prefilled_ids("random")
    assert in_no_order != sorted(in_no_order, key=str)
    counting_up = prefilled_ids("sequential")
    assert counting_up == sorted(counting_up, key=str)
