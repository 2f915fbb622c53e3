"""The outbox's rules, written once for every dialect: each store runs its own SQL and asks
these functions what the rows it touched mean.

Where a duplicate is decided, what a replay records, the reason a duplicate is given, how a
row reads as a view, and how retention deletes in chunks: one answer each, here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import orjson

from bridge.store.base import (
    AttemptView,
    DeliveryView,
    EventOutcome,
    EventTrace,
    EventView,
    NewEvent,
    Stored,
    StoreRefused,
)
from bridge.store.identity_rules import check_links

PURGE_CHUNK = 1000
"""Rows per retention statement: short transactions, so ingest never waits long behind one."""


def check_storable(events: Sequence[NewEvent]) -> None:
    """Raise `StoreRefused` when one of `events` holds text no store keeps.

    PostgreSQL's text refuses the NUL character; SQLite would keep it. Both stores refuse it,
    so an event behaves the same on either. Values a sender controls are refused earlier,
    by name (at parse, or as an `unmapped` field); this is the last line.
    """
    for event in events:
        if "\x00" in event.event_id:
            raise StoreRefused("the event id holds a NUL character, which the store cannot keep")
        if "\x00" in event.type:
            raise StoreRefused("the event type holds a NUL character, which the store cannot keep")
        for delivery in event.deliveries:
            if "\x00" in delivery.dedupe_key:
                raise StoreRefused(
                    "a conversion's key holds a NUL character, which the store cannot keep"
                )
        check_links(event.links)


def ingested(event: NewEvent, created: int | None, first_recorded_by: str | None = None) -> Stored:
    """What ingesting `event` made of it: the duplicate decision.

    `created` is None when the event's row was not inserted (its (source, event id) was stored
    before): a duplicate that creates nothing. An event whose deliveries all existed already
    (`created` 0) is a duplicate of `first_recorded_by`, the event that recorded one first.
    """
    if created is None:
        return Stored("duplicate", 0)
    if created == 0 and event.deliveries and event.outcome != "waiting_identity":
        return Stored("duplicate", 0, first_recorded_by)
    return Stored(event.outcome, created, first_recorded_by)


def replayed(
    event: NewEvent, has_deliveries: bool, created: int, first_recorded_by: str | None
) -> Stored:
    """What replaying a stored `event` records: `waiting_identity` while one of its rules
    waits, else `accepted` once it has any delivery (new or from before), a duplicate when its
    conversions were all recorded by others, else the outcome its rules give now."""
    outcome: EventOutcome
    if event.outcome == "waiting_identity":
        outcome = "waiting_identity"  # one rule still waits, whatever the others recorded
    elif has_deliveries:
        outcome = "accepted"
    elif event.deliveries:
        outcome = "duplicate"
    else:
        outcome = event.outcome
    return Stored(outcome, created, first_recorded_by)


def duplicate_reason(first_recorded_by: str | None) -> str:
    return f"conversion already recorded from event {first_recorded_by}"


def kept_detail(event: NewEvent, stored: Stored) -> bytes:
    """The detail JSON the event's row keeps: its own, with a duplicate's reason when
    `stored` says it is one."""
    if stored.outcome != "duplicate":
        return event.detail
    detail = orjson.loads(event.detail)
    detail["reason"] = duplicate_reason(stored.duplicate_of)
    return orjson.dumps(detail)


def event_view(row: Sequence[Any]) -> EventView:
    """An event from (source, event_id, type, received_at, outcome, detail, payload kept)."""
    source, event_id, event_type, received_at, outcome, detail, kept = row
    reason = orjson.loads(detail)["reason"]
    return EventView(source, event_id, event_type, received_at, outcome, reason, bool(kept))


def event_trace(
    event: Sequence[Any], deliveries: Sequence[Sequence[Any]], attempts: Sequence[Sequence[Any]]
) -> EventTrace:
    """A trace from the event's row (its id, then `event_view`'s columns), its deliveries'
    rows (`DeliveryView`'s columns, then the conversion) and its attempts' rows."""
    detail = orjson.loads(event[6])
    return EventTrace(
        event=event_view(event[1:]),
        rules=detail["rules"],
        deliveries=[DeliveryView(*d[:-1]) for d in deliveries],
        conversions={d[0]: d[-1] for d in deliveries},
        attempts=[AttemptView(*a) for a in attempts],
        mapping_version=detail.get("mapping"),
    )


async def in_chunks(delete_chunk: Callable[[int], Awaitable[int]]) -> int:
    """Run `delete_chunk(PURGE_CHUNK)` (it affects at most that many rows and says how many)
    until a chunk comes back short; returns the total."""
    total = 0
    while True:
        count = await delete_chunk(PURGE_CHUNK)
        total += count
        if count < PURGE_CHUNK:
            return total
