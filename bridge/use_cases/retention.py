"""Retention: raw payloads may hold personal data, so they are erased after a bounded time;
finished events (and with them the dedupe keys) are deleted once senders can no longer retry;
the identity ledger forgets sightings and links past their ledger's TTL."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from bridge.store.base import Maintenance, StoreUnavailable
from bridge.store.identities import Identities

log = logging.getLogger("bridge.retention")

DAY_MS = 86_400_000


class Retained(Maintenance, Identities, Protocol):
    """What a sweep changes: the outbox's old rows and the identity ledger's expired ones."""


@dataclass(frozen=True, slots=True)
class Swept:
    """What one sweep removed."""

    payloads_cleared: int
    events_deleted: int
    identities_forgotten: int
    """Sightings and links past their `expires_at`."""


async def purge_once(
    store: Retained,
    *,
    payload_days: float,
    dedupe_days: float,
    clock: Callable[[], float] = time.time,
) -> Swept:
    now = int(clock() * 1000)
    counts = await store.purge(
        payloads_before=now - int(payload_days * DAY_MS),
        events_before=now - int(dedupe_days * DAY_MS),
    )
    swept = Swept(counts.payloads_cleared, counts.events_deleted, await store.forget_expired(now))
    if swept.payloads_cleared or swept.events_deleted or swept.identities_forgotten:
        log.info(
            "retention purge",
            extra={
                "payloads_cleared": swept.payloads_cleared,
                "events_deleted": swept.events_deleted,
                "identities_forgotten": swept.identities_forgotten,
            },
        )
    return swept


async def run_retention(
    store: Retained, *, payload_days: float, dedupe_days: float, interval_seconds: float
) -> None:
    """Purge now and then every `interval_seconds`, until cancelled."""
    while True:
        try:
            await purge_once(store, payload_days=payload_days, dedupe_days=dedupe_days)
        except StoreUnavailable as exc:
            log.warning("retention purge failed; will try again", extra={"error": str(exc)})
        await asyncio.sleep(interval_seconds)
