"""Replay: run stored raw events through the current mapping files again.

The usual case: events answered `ignored` or `unmapped` because a mapping was wrong; after the
fix, replaying them records the conversions they should have had. The bytes were verified when
they arrived, so they are parsed without verifying again. A conversion already recorded (by
the same event or another) is never recorded twice, so replaying twice delivers nothing twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from bridge.mapping.loaded import Config
from bridge.sources import SourceError
from bridge.store.base import (
    EventFilter,
    EventOutcome,
    Ingests,
    Ledger,
    Maintenance,
    RawEvent,
    Stored,
)
from bridge.store.identities import Identities
from bridge.store.rules import duplicate_reason
from bridge.use_cases.ingest import Ingestor, Plan
from bridge.vocabulary.model import Event


class ReplayStore(Ledger, Maintenance, Ingests, Protocol):
    """What a replay uses: the stored bodies, the re-recording, and the planner's store."""


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
    store: ReplayStore,
    config: Config,
    filters: Sequence[EventFilter],
    *,
    limit: int,
    dry_run: bool,
    clock: Callable[[], float] = time.time,
    identities: Identities | None = None,
) -> list[Replayed]:
    """Replay the stored events each filter selects (at most `limit` per filter), in order.

    A dry run hands the same events to the store in one rolled-back transaction, so it
    answers exactly what the replay will do, conversions already recorded included.
    `identities`: the ledger rules with `identity:` read, as they do on a webhook's arrival
    (what it knows now, which may be more than it knew then).
    """
    ingestor = Ingestor(config, store, clock=clock, identities=identities)
    raws = [raw for where in filters for raw in await store.raw_events(where, limit)]
    return await rerun(store, config, ingestor, raws, int(clock() * 1000), dry_run=dry_run)


async def rerun(
    store: ReplayStore,
    config: Config,
    ingestor: Ingestor,
    raws: Sequence[RawEvent],
    now: int,
    *,
    dry_run: bool = False,
) -> list[Replayed]:
    """Plan each stored event again under `config` and record what changed, in order. An
    event waiting for its identity waits from when it was received, not from now."""
    results: list[Replayed | None] = []
    plans: list[tuple[int, RawEvent, Plan]] = []
    for raw in raws:
        event, problem = _recover(config, raw)
        if event is None:
            results.append(Replayed(raw.source, raw.event_id, raw.outcome, None, problem))
        else:
            plan = await ingestor.plan_joined(event, now, arrived_at=raw.received_at)
            plans.append((len(results), raw, plan))
            results.append(None)
    events = [plan.event for _, _, plan in plans]
    if dry_run:
        stored = await store.replay(events, dry_run=True)
    else:
        stored = []
        for start in range(0, len(events), _CHUNK):
            stored.extend(await store.replay(events[start : start + _CHUNK]))
    for (index, raw, plan), outcome in zip(plans, stored, strict=True):
        results[index] = _replayed(raw, plan, outcome)
    return [result for result in results if result is not None]


_CHUNK = 100
"""Events per replay transaction: short enough that webhooks never wait long behind one."""


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


def _replayed(raw: RawEvent, plan: Plan, stored: Stored) -> Replayed:
    reason = plan.reason
    if stored.outcome == "duplicate":
        reason = duplicate_reason(stored.duplicate_of)
    return Replayed(
        raw.source, raw.event_id, raw.outcome, stored.outcome, reason, stored.new_deliveries
    )
