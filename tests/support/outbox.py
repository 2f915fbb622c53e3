"""An outbox held in memory, for unit tests that need ingest and delivery but not a database.

It keeps the real stores' rules (`bridge.store.rules`): an event once per (source, event id), a
conversion once per (destination, dedupe key), leases that only their owner records or
releases. `tests/store/test_outbox.py` holds it to the same behaviour as both real stores.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from bridge.store.base import (
    AttemptRecord,
    AttemptView,
    ClaimedDelivery,
    DeliveryStatus,
    EventOutcome,
    NewEvent,
    Stored,
)
from bridge.store.rules import check_storable, ingested, kept_detail


@dataclass(slots=True)
class HeldEvent:
    event: NewEvent
    outcome: EventOutcome
    detail: bytes


@dataclass(slots=True)
class HeldDelivery:
    id: int
    source: str
    event_id: str
    destination: str
    dedupe_key: str
    conversion: bytes
    created_at: int
    expires_at: int
    next_attempt_at: int
    status: DeliveryStatus = "pending"
    attempts: int = 0
    lease_owner: str | None = None
    lease_until: int | None = None
    last_status: int | None = None
    last_answer: str | None = None
    finished_at: int | None = None


class MemoryOutbox:
    """`Outbox` in dicts; `events`, `deliveries` and `attempts` are there to be read by tests."""

    def __init__(self) -> None:
        self.events: dict[tuple[str, str], HeldEvent] = {}
        self.deliveries: dict[int, HeldDelivery] = {}
        self.attempts: list[AttemptView] = []
        self._first_recorded_by: dict[tuple[str, str], str] = {}

    async def ingest(self, events: Sequence[NewEvent]) -> list[Stored]:
        check_storable(events)
        return [self._ingest_one(event) for event in events]

    async def claim(
        self, owner: str, now: int, limit: int, lease_ms: int, destinations: Collection[str]
    ) -> list[ClaimedDelivery]:
        due = sorted(
            (
                d
                for d in self.deliveries.values()
                if d.status == "pending"
                and d.next_attempt_at <= now
                and (d.lease_until is None or d.lease_until <= now)
                and d.destination in destinations
            ),
            key=lambda d: (d.next_attempt_at, d.id),
        )[:limit]
        for delivery in due:
            delivery.lease_owner, delivery.lease_until = owner, now + lease_ms
        return [
            ClaimedDelivery(
                d.id,
                d.destination,
                d.conversion,
                d.attempts,
                d.created_at,
                d.expires_at,
                d.source,
                d.event_id,
            )
            for d in sorted(due, key=lambda d: d.id)
        ]

    async def record(self, owner: str, attempts: Sequence[AttemptRecord]) -> None:
        for attempt in attempts:
            delivery = self.deliveries.get(attempt.delivery_id)
            if delivery is None or delivery.lease_owner != owner:
                continue
            answer = attempt.kept_answer
            self.attempts.append(
                AttemptView(
                    delivery.id,
                    attempt.attempted_at,
                    attempt.duration_ms,
                    attempt.http_status,
                    attempt.label,
                    answer,
                )
            )
            delivery.status = attempt.status
            delivery.attempts += 1
            if attempt.next_attempt_at is not None:
                delivery.next_attempt_at = attempt.next_attempt_at
            delivery.last_status, delivery.last_answer = attempt.http_status, answer
            delivery.finished_at = attempt.attempted_at if attempt.status != "pending" else None
            if attempt.finishes:
                delivery.lease_owner = delivery.lease_until = None

    async def release(self, owner: str, ids: Collection[int]) -> None:
        for delivery_id in ids:
            delivery = self.deliveries.get(delivery_id)
            if delivery is not None and delivery.lease_owner == owner:
                delivery.lease_owner = delivery.lease_until = None

    def _ingest_one(self, event: NewEvent) -> Stored:
        key = (event.source, event.event_id)
        if key in self.events:
            return ingested(event, None)
        created, first_recorded_by = 0, None
        for planned in event.deliveries:
            conversion = (planned.destination, planned.dedupe_key)
            if conversion in self._first_recorded_by:
                first_recorded_by = first_recorded_by or self._first_recorded_by[conversion]
                continue
            self._first_recorded_by[conversion] = event.event_id
            delivery_id = len(self.deliveries) + 1
            self.deliveries[delivery_id] = HeldDelivery(
                delivery_id,
                event.source,
                event.event_id,
                planned.destination,
                planned.dedupe_key,
                planned.conversion,
                event.received_at,
                planned.expires_at,
                event.received_at,
            )
            created += 1
        stored = ingested(event, created, first_recorded_by)
        self.events[key] = HeldEvent(event, stored.outcome, kept_detail(event, stored))
        return stored
