"""Events waiting for their identity: planned again until the beacon comes or the wait ends.

A webhook whose visitor's beacon has not reached the ledger yet is stored `waiting_identity`
(`joins.py`). A loop beside the delivery worker plans the waiting events again every few
seconds, and at once when a beacon changes the ledger: with the identity known the event is
`accepted` and its conversions are queued; past the ledger's `wait_minutes` it is `unmapped`,
saying which identity never came. Each pass is a replay of those events, so a conversion is
never recorded twice, whichever replica settles an event first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

import orjson

from bridge.mapping.loaded import Config
from bridge.store.base import NewEvent, RawEvent, StoreUnavailable
from bridge.store.identities import Identities
from bridge.telemetry.metrics import Metrics
from bridge.use_cases.ingest import Ingestor
from bridge.use_cases.replay import Replayed, ReplayStore, rerun

log = logging.getLogger("bridge.identity")

BATCH = 200
"""Waiting events planned per pass, oldest first: a pass stays short, the next takes the rest."""


def given_up_event(raw: RawEvent, problem: str, now: int) -> NewEvent:
    """The record that ends a wait no plan can end: `unmapped`, with why it was not planned."""
    reason = f"waited for its identity but could not be planned again: {problem}"
    detail = orjson.dumps({"reason": reason, "rules": []})
    return NewEvent(raw.source, raw.event_id, raw.type, now, "unmapped", detail, b"")


class WaitingEvents:
    """The loop that settles waiting events; `wake()` starts a pass now (a beacon arrived)."""

    def __init__(
        self,
        store: ReplayStore,
        config: Config,
        identities: Identities,
        *,
        interval_seconds: float,
        on_new_deliveries: Callable[[], None] = lambda: None,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._identities = identities
        self._interval = interval_seconds
        self._on_new_deliveries = on_new_deliveries
        self._metrics = metrics
        self._clock = clock
        self._woken = asyncio.Event()
        self.use(config)

    def use(self, config: Config) -> None:
        """Plan with these mapping files from the next pass on (they were reloaded)."""
        self._config = config
        self._ingestor = Ingestor(
            config, self._store, identities=self._identities, clock=self._clock
        )

    def wake(self) -> None:
        self._woken.set()

    async def run(self) -> None:
        while True:
            try:
                await self.settle()
            except StoreUnavailable as exc:
                log.warning("waiting events not settled", extra={"error": str(exc)})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), self._interval)
            self._woken.clear()

    async def settle(self) -> list[Replayed]:
        """One pass: every waiting event (up to `BATCH`) planned again; what became of each."""
        raws = await self._store.waiting_events(BATCH)
        if not raws:
            return []
        now = int(self._clock() * 1000)
        results = await rerun(self._store, self._config, self._ingestor, raws, now)
        stuck = {(r.source, r.event_id): r for r in results if r.after is None}
        if stuck:  # its source left the mappings, or its body is gone: it can wait no more
            given_up = [
                given_up_event(raw, stuck[raw.source, raw.event_id].reason or "", now)
                for raw in raws
                if (raw.source, raw.event_id) in stuck
            ]
            await self._store.replay(given_up)
        settled = [r for r in results if r.after != "waiting_identity"]
        if any(r.new_deliveries for r in settled):
            self._on_new_deliveries()
        for result in settled:
            self._report(result)
        return settled

    def _report(self, result: Replayed) -> None:
        ended = "arrived" if result.after in ("accepted", "duplicate") else "expired"
        line = {
            "source": result.source,
            "event_id": result.event_id,
            "outcome": result.after,
            "reason": result.reason,
        }
        if ended == "arrived":
            log.info("identity arrived: event mapped again", extra=line)
        else:
            log.warning("identity never arrived", extra=line)
        if self._metrics is not None:
            source = self._metrics.source_label(result.source, self._config.sources)
            self._metrics.identity_waits.labels(source, ended).inc()
