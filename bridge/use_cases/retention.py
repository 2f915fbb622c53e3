"""Retention: raw payloads may hold personal data, so they are erased after a bounded time;
finished events (and with them the dedupe keys) are deleted once senders can no longer retry."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from bridge.store.base import Maintenance, PurgeCounts, StoreUnavailable

log = logging.getLogger("bridge.retention")

DAY_MS = 86_400_000


async def purge_once(
    store: Maintenance,
    *,
    payload_days: float,
    dedupe_days: float,
    clock: Callable[[], float] = time.time,
) -> PurgeCounts:
    now = int(clock() * 1000)
    counts = await store.purge(
        payloads_before=now - int(payload_days * DAY_MS),
        events_before=now - int(dedupe_days * DAY_MS),
    )
    if counts.payloads_cleared or counts.events_deleted:
        log.info(
            "retention purge",
            extra={
                "payloads_cleared": counts.payloads_cleared,
                "events_deleted": counts.events_deleted,
            },
        )
    return counts


async def run_retention(
    store: Maintenance, *, payload_days: float, dedupe_days: float, interval_seconds: float
) -> None:
    """Purge now and then every `interval_seconds`, until cancelled."""
    while True:
        try:
            await purge_once(store, payload_days=payload_days, dedupe_days=dedupe_days)
        except StoreUnavailable as exc:
            log.warning("retention purge failed; will try again", extra={"error": str(exc)})
        await asyncio.sleep(interval_seconds)
