"""The delivery worker: lease due deliveries, send them, record each outcome.

Leases make it safe to run several workers (or to crash): a claimed delivery belongs to one
worker until its lease ends; a worker that dies simply lets the lease run out and another picks
the delivery up. Delivery is therefore at-least-once: a crash between the vendor's 200 and our
commit re-sends, which is why destinations send a stable dedupe key where the vendor has one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

from bridge.delivery.backoff import RetryPolicy
from bridge.delivery.exchange import Exchange
from bridge.delivery.recent import RecentConversions
from bridge.destinations import Destination, VendorRequest
from bridge.destinations.verdicts import Dead, Delivered, Verdict
from bridge.store.base import (
    AttemptRecord,
    ClaimedDelivery,
    Outbox,
    StoreRefused,
    StoreUnavailable,
)
from bridge.telemetry.metrics import Metrics
from bridge.vocabulary.model import Conversion

log = logging.getLogger("bridge.delivery")

ANSWER_REFUSED = "(the vendor's answer could not be stored)"


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    poll_interval_seconds: float = 1.0
    claim_limit: int = 500
    lease_seconds: float = 60.0
    concurrency: int = 8
    """Vendor requests in flight at once."""
    shutdown_grace_seconds: float = 10.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Worker:
    def __init__(
        self,
        store: Outbox,
        destinations: Mapping[str, Destination],
        client: httpx.AsyncClient,
        settings: WorkerSettings | None = None,
        *,
        clock: Callable[[], float] = time.time,
        rng: Callable[[], float] = random.random,
        metrics: Metrics | None = None,
    ) -> None:
        self.owner = worker_id()
        self._metrics = metrics
        self._store = store
        self._destinations = destinations
        self._settings = settings or WorkerSettings()
        self._clock = clock
        self._rng = rng
        self._exchange = Exchange(
            client, self._settings.concurrency, metrics=metrics, now_ms=self._now_ms
        )
        self._wakeup = asyncio.Event()
        self._stopping = asyncio.Event()
        self._leased: set[int] = set()
        self._task: asyncio.Task[None] | None = None
        self.recent = RecentConversions()
        """For an ingestor in the same process to leave its conversions in (`keep`)."""

    def use(self, destinations: Mapping[str, Destination]) -> None:
        """Deliver with these destinations from the next round on (the mapping files were
        reloaded); a round in flight finishes with the ones it started with."""
        self._destinations = destinations

    def wake(self) -> None:
        """New deliveries were committed: look now instead of at the next poll."""
        self._wakeup.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="bridge-delivery-worker")

    async def stop(self) -> None:
        """Finish in-flight sends within the grace period, then hand back unfinished leases."""
        self._stopping.set()
        self._wakeup.set()
        task, self._task = self._task, None
        if task is not None and not task.done():
            try:
                await asyncio.wait_for(asyncio.shield(task), self._settings.shutdown_grace_seconds)
            except TimeoutError:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        if self._leased:
            leased = sorted(self._leased)
            try:
                await self._store.release(self.owner, leased)
                log.info("released unfinished leases", extra={"deliveries": len(leased)})
            except StoreUnavailable as exc:
                log.warning(
                    "could not release leases; they expire on their own", extra={"error": str(exc)}
                )
            self._leased.clear()

    async def run(self) -> None:
        while not self._stopping.is_set():
            self._wakeup.clear()
            try:
                handled = await self.run_once()
            except StoreUnavailable as exc:
                log.warning("store unavailable, delivery paused", extra={"error": str(exc)})
                handled = 0
            except Exception:
                # A bug must not stop delivery for good: leases of this round run out and
                # the deliveries are tried again.
                log.exception("delivery round failed; retrying after the poll interval")
                handled = 0
            if handled >= self._settings.claim_limit:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self._settings.poll_interval_seconds)

    async def run_once(self) -> int:
        """Claim one round of due deliveries and attempt them; returns how many were claimed."""
        ready = [name for name, destination in self._destinations.items() if destination.ready]
        now = self._now_ms()
        lease_ms = int(self._settings.lease_seconds * 1000)
        claimed = await self._store.claim(
            self.owner, now, self._settings.claim_limit, lease_ms, ready
        )
        if not claimed:
            return 0
        self._leased.update(d.id for d in claimed)
        records = await self._attempt(claimed, now, lease_ends=now + lease_ms)
        self._leased.difference_update(d.id for d in claimed)
        if self._metrics is not None:
            self._count(self._metrics, claimed, records)
        return len(claimed)

    async def _record(self, records: Sequence[AttemptRecord], lease_ends: int) -> bool:
        """Record the attempts; False when they could not be (their leases run out, and they
        are sent again). The vendor already has these conversions and a lost record means
        sending them again, so a store briefly unavailable (locked, busy) is waited for, and
        a record refused for its data (a vendor's answer the store cannot keep) is made again
        at once without the answer: one odd answer neither stalls the round nor is resent."""
        delay = 0.1
        while True:
            try:
                await self._store.record(self.owner, records)
                return True
            except StoreRefused as exc:
                if all(record.answer == ANSWER_REFUSED for record in records):
                    log.error(
                        "the store refused delivery attempts; they will be sent again",
                        extra={"deliveries": len(records), "error": str(exc)},
                    )
                    return False
                log.warning(
                    "the store refused a vendor answer; recording the attempts without it",
                    extra={"deliveries": len(records), "error": str(exc)},
                )
                records = [replace(record, answer=ANSWER_REFUSED) for record in records]
            except StoreUnavailable as exc:
                if self._now_ms() + delay * 1000 >= lease_ends - 1000:
                    log.error(
                        "could not record delivery attempts; their leases run out and they"
                        " will be sent again",
                        extra={"deliveries": len(records), "error": str(exc)},
                    )
                    return False
                log.warning("could not record delivery attempts yet; retrying")
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _count(
        self,
        metrics: Metrics,
        claimed: Sequence[ClaimedDelivery],
        records: Sequence[AttemptRecord],
    ) -> None:
        names = {delivery.id: delivery.destination for delivery in claimed}
        tally = Counter((names[record.delivery_id], record.label) for record in records)
        for (name, label), count in tally.items():
            metrics.deliveries.labels(name, self._destinations[name].vendor, label).inc(count)

    async def _attempt(
        self, claimed: Sequence[ClaimedDelivery], now: int, lease_ends: int
    ) -> list[AttemptRecord]:
        """Send every batch and record each request's outcome as soon as it is known, so a
        crash loses (and later resends) at most the requests in flight, not the whole round.
        Returns the records the store took."""
        records: list[AttemptRecord] = []
        by_destination: dict[str, list[tuple[ClaimedDelivery, Conversion]]] = defaultdict(list)
        for delivery in claimed:
            destination = self._destinations[delivery.destination]
            conversion = self.recent.decode(delivery.conversion)
            refusal = (
                "max age reached before it could be sent"
                if now >= delivery.expires_at
                else destination.unsendable(conversion, now)
            )
            if refusal:
                records.append(self._give_up(delivery, now, refusal))
            else:
                by_destination[delivery.destination].append((delivery, conversion))
        if records and not await self._record(records, lease_ends):
            records = []

        batches: list[Coroutine[Any, Any, list[AttemptRecord]]] = []
        for name, pending in by_destination.items():
            destination = self._destinations[name]
            size = destination.max_batch
            batches.extend(
                self._send_batch(destination, pending[start : start + size], lease_ends)
                for start in range(0, len(pending), size)
            )
        results = await asyncio.gather(*batches, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
            records.extend(result)
        return records

    async def _send_batch(
        self,
        destination: Destination,
        batch: Sequence[tuple[ClaimedDelivery, Conversion]],
        lease_ends: int,
        earlier: int = 0,
    ) -> list[AttemptRecord]:
        """Send `batch` in the vendor's requests; `earlier`: attempts each of its deliveries
        made in this lease already (refused batches it was split from)."""
        requests = destination.requests([conversion for _, conversion in batch])
        sends = [
            self._send_request(destination, request, batch, lease_ends, earlier)
            for request in requests
        ]
        return [record for recorded in await asyncio.gather(*sends) for record in recorded]

    async def _send_request(
        self,
        destination: Destination,
        request: VendorRequest,
        batch: Sequence[tuple[ClaimedDelivery, Conversion]],
        lease_ends: int,
        earlier: int,
    ) -> list[AttemptRecord]:
        """One request, recorded on its own: a record that fails costs only its conversions."""
        verdicts, attempted_at, duration_ms = await self._exchange.send(destination, request)
        items = [batch[index] for index in request.items]
        refusal = next((v for v in verdicts if isinstance(v, Dead) and v.split), None)
        if refusal is not None and len(items) > 1:
            # The refusal may be one conversion's fault (or the batch's size): send each half
            # on its own, recursively, so good conversions get through. The refused request
            # was an attempt of each of them; its halves follow within the same lease.
            refused = [
                AttemptRecord(
                    delivery.id,
                    "pending",
                    attempted_at,
                    duration_ms,
                    http_status=refusal.status,
                    answer=refusal.reason,
                    outcome="split",
                )
                for delivery, _ in items
            ]
            if not await self._record(refused, lease_ends):
                return []
            middle = len(items) // 2
            halves = [
                self._send_batch(destination, part, lease_ends, earlier + 1)
                for part in (items[:middle], items[middle:])
            ]
            return refused + [record for half in await asyncio.gather(*halves) for record in half]
        records = [
            self._outcome(delivery, verdict, attempted_at, duration_ms, earlier)
            for (delivery, _), verdict in zip(items, verdicts, strict=True)
        ]
        return records if await self._record(records, lease_ends) else []

    def _outcome(
        self,
        delivery: ClaimedDelivery,
        verdict: Verdict,
        attempted_at: int,
        duration_ms: int,
        earlier: int,
    ) -> AttemptRecord:
        if isinstance(verdict, Delivered):
            return AttemptRecord(
                delivery.id,
                "delivered",
                attempted_at,
                duration_ms,
                http_status=verdict.status,
                answer=verdict.answer,
                outcome=verdict.outcome,
            )
        if isinstance(verdict, Dead):
            return self._give_up(
                delivery,
                attempted_at,
                verdict.reason,
                http_status=verdict.status,
                duration_ms=duration_ms,
            )
        failures = delivery.attempts + earlier + 1
        delay = self._settings.retry.after(failures, verdict.after_seconds, self._rng)
        # From when the answer came: a slow vendor gets the whole delay it asked for.
        next_attempt_at = attempted_at + duration_ms + int(delay * 1000)
        if next_attempt_at >= delivery.expires_at:
            return self._give_up(
                delivery,
                attempted_at,
                f"max age reached after {failures} attempts; last: {verdict.reason}",
                http_status=verdict.status,
                duration_ms=duration_ms,
            )
        return AttemptRecord(
            delivery.id,
            "pending",
            attempted_at,
            duration_ms,
            next_attempt_at=next_attempt_at,
            http_status=verdict.status,
            answer=verdict.reason,
        )

    @staticmethod
    def _give_up(
        delivery: ClaimedDelivery,
        now: int,
        reason: str,
        *,
        http_status: int | None = None,
        duration_ms: int = 0,
    ) -> AttemptRecord:
        """The dead letter, logged with what a person needs to find it: event and delivery."""
        log.error(
            "delivery dead",
            extra={
                "delivery": delivery.id,
                "source": delivery.source,
                "event_id": delivery.event_id,
                "destination": delivery.destination,
                "status": http_status,
                "reason": reason,
            },
        )
        return AttemptRecord(
            delivery.id, "dead", now, duration_ms, http_status=http_status, answer=reason
        )

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)
