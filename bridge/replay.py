"""Replay: run stored raw events through the current mapping files again.

The usual case: events answered `ignored` or `unmapped` because a mapping was wrong; after the
fix, replaying them records the conversions they should have had. The bytes were verified when
they arrived, so they are parsed without verifying again. A conversion already recorded (by
the same event or another) is never recorded twice, so replaying twice delivers nothing twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from bridge.ingest import Ingestor, Plan
from bridge.mapping.config import Config
from bridge.model import Event
from bridge.sources import SourceError
from bridge.store.base import EventFilter, EventOutcome, RawEvent, Store


@dataclass(frozen=True, slots=True)
class Replayed:
    source: str
    event_id: str
    before: EventOutcome
    after: EventOutcome | None
    """None when the event could not be replayed (see `reason`)."""
    reason: str | None = None
    new_deliveries: int = 0


async def replay(
    store: Store,
    config: Config,
    where: EventFilter,
    *,
    limit: int,
    dry_run: bool,
    clock: Callable[[], float] = time.time,
) -> list[Replayed]:
    ingestor = Ingestor(config, store, clock=clock)
    now = int(clock() * 1000)
    results: list[Replayed] = []
    for raw in await store.raw_events(where, limit):
        event, problem = _recover(config, raw)
        if event is None:
            results.append(Replayed(raw.source, raw.event_id, raw.outcome, None, problem))
            continue
        plan = ingestor.plan(event, now)
        results.append(await _apply(store, raw, plan, dry_run))
    return results


def _recover(config: Config, raw: RawEvent) -> tuple[Event | None, str | None]:
    if raw.raw is None:
        return None, "raw payload already erased by retention"
    source = config.sources.get(raw.source)
    if source is None:
        return None, f"source {raw.source!r} is no longer in the mapping files"
    try:
        return source.restore(raw.raw, raw.event_id, raw.type), None
    except SourceError as exc:
        return None, f"stored payload no longer parses: {exc}"


async def _apply(store: Store, raw: RawEvent, plan: Plan, dry_run: bool) -> Replayed:
    planned = len(plan.event.deliveries)
    if dry_run:
        return Replayed(
            raw.source, raw.event_id, raw.outcome, plan.event.outcome, plan.reason, planned
        )
    [stored] = await store.replay([plan.event])
    reason = plan.reason
    if stored.outcome == "duplicate":
        reason = f"conversion already recorded from event {stored.duplicate_of}"
    return Replayed(
        raw.source, raw.event_id, raw.outcome, stored.outcome, reason, stored.new_deliveries
    )
