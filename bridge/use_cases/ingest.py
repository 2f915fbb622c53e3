"""Receiving a webhook: verify -> map -> store durably -> answer. Independent of the web framework.

The answer follows the semantics senders and users rely on: 200 only once the event and its
deliveries are committed (`accepted`, `ignored`, `unmapped` with the reason, `duplicate`); 401 or
400 with nothing stored when the request is not genuine or not usable; 404 for an unknown source;
503 when we cannot verify or cannot commit, so the sender retries.

A verified body that a sender's module fails on in a way it did not foresee is still the
sender's request, not an outage: it is answered 400 with the exception's type (never a 500,
which the sender would retry for days), and logged as an error with the type and the line it
was raised at, and no value from the request.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from bridge.delivery.recent import RecentConversions
from bridge.mapping.loaded import Config
from bridge.sources import (
    InboundRequest,
    Source,
    SourceError,
    VerificationFailed,
    refuse_control_characters,
)
from bridge.store.base import (
    Ingests,
    NewDelivery,
    NewEvent,
    Stored,
    StoreRefused,
    StoreUnavailable,
)
from bridge.store.identities import Identities, KnownIdentity, Link
from bridge.store.rules import duplicate_reason
from bridge.telemetry.logs import info_line
from bridge.telemetry.metrics import Metrics
from bridge.use_cases.joins import Joins, joined_rules
from bridge.utilities.safe_text import clipped
from bridge.utilities.times import format_moment, unix_ms
from bridge.vocabulary.model import Event, RuleResult

log = logging.getLogger("bridge.ingest")

REPLAY_MARGIN_DAYS = 1.0


@dataclass(slots=True)  # not frozen: see bridge/store/base.py
class Reply:
    status: int
    body: dict[str, Any]
    content: bytes = b""
    """The bytes to send: `body` rendered the way the sender expects."""
    media_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, body: dict[str, Any], source: Source | None = None) -> Reply:
        if source is None:
            return cls(status, body, orjson.dumps(body))
        content, media_type = source.render(status, body)
        headers = source.challenge() if status == 401 else {}
        return cls(status, body, content, media_type, headers)


@dataclass(slots=True)  # not frozen: see bridge/store/base.py
class Plan:
    """An event as it will be stored, with the one-line reason for its outcome."""

    event: NewEvent
    reason: str | None
    results: Sequence[RuleResult] = ()


class Ingestor:
    def __init__(
        self,
        config: Config,
        store: Ingests,
        *,
        on_new_deliveries: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.time,
        metrics: Metrics | None = None,
        recent: RecentConversions | None = None,
        dedupe_retention_days: float | None = None,
        identities: Identities | None = None,
    ) -> None:
        """`recent`: the worker's, when one runs in this process: the conversions planned here
        are left in it, so the worker need not decode them from the store again.

        `dedupe_retention_days`: how long the store keeps dedupe ids
        (`BRIDGE_DEDUPE_RETENTION_DAYS`): a delivery whose signed body is older than that (less
        a day) is refused (`refuse_stale`). None: no such check, for tools and tests that feed
        recorded samples.

        `identities`: the ledger the rules with `identity:` read; without it they find nothing
        known."""
        self._config = config
        self._replay_window_ms = (
            None if dedupe_retention_days is None else replay_window_ms(dedupe_retention_days)
        )
        self._max_age_ms = {
            name: int(destination.options.max_age_hours * 3_600_000)
            for name, destination in config.destinations.items()
        }
        self._recent = recent
        self._store = store
        self._on_new_deliveries = on_new_deliveries
        self._clock = clock
        self._metrics = metrics
        self._identities = identities
        self._joined = config.rules.joined_sources
        self._joins = Joins(config)
        self._version = config.version

    async def receive(
        self, source_name: str, request: InboundRequest, request_id: str = ""
    ) -> Reply:
        started = time.perf_counter()
        reply, committed = await self._receive(source_name, request, request_id)
        if self._metrics is not None:
            self._count(self._metrics, source_name, reply, committed, started)
        return reply

    async def _receive(
        self, source_name: str, request: InboundRequest, request_id: str
    ) -> tuple[Reply, list[tuple[Plan, Stored]]]:
        """The answer, with the plans it committed (none unless the answer is 200)."""
        context = {"source": source_name, "request_id": request_id}
        source = self._config.sources.get(source_name)
        if source is None:
            shown_name = clipped(source_name)
            log.info(
                "webhook for unknown source", extra={**context, "source": shown_name, "status": 404}
            )
            return Reply.json(404, {"error": f"unknown source {shown_name}"}), []
        if not source.ready:
            missing = ", ".join(source.missing_secrets())
            log.error(
                "webhook cannot be verified: secret not set", extra={**context, "missing": missing}
            )
            answer = {
                "error": f"source {source_name!r} cannot verify webhooks yet: {missing} not set"
            }
            return Reply.json(503, answer, source), []
        now = int(self._clock() * 1000)
        try:
            events = source.verify(request)
            refuse_control_characters(events)
            if self._replay_window_ms is not None:
                refuse_stale(source, events, now - self._replay_window_ms)
        except SourceError as exc:
            log.warning(
                "webhook rejected", extra={**context, "status": exc.status, "reason": str(exc)}
            )
            return Reply.json(exc.status, {"error": str(exc)}, source), []
        except Exception as exc:  # the last resort; each cause found is fixed where it lives
            return _unreadable(source, exc, context), []
        if not events:
            log.info("webhook with nothing to record", extra={**context, "status": 200})
            return Reply.json(200, {"status": "ok", "reason": "nothing to record"}, source), []
        if source_name in self._joined:
            try:
                planned = [await self.plan_joined(event, now) for event in events]
            except StoreUnavailable as exc:
                log.error("identity not read", extra={**context, "status": 503, "error": str(exc)})
                answer = {"error": "storage unavailable, nothing was stored; retry later"}
                return Reply.json(503, answer, source), []
        else:
            planned = [self.plan(event, now) for event in events]
        # Freed before the commit is awaited, so the next parse reuses memory still in the CPU's
        # cache instead of every request in flight holding its payload (docs/benchmarks.md).
        del events
        try:
            stored = await self._store.ingest([plan.event for plan in planned])
        except StoreUnavailable as exc:
            log.error("webhook not stored", extra={**context, "status": 503, "error": str(exc)})
            answer = {"error": "storage unavailable, nothing was stored; retry later"}
            return Reply.json(503, answer, source), []
        except StoreRefused as exc:
            log.warning(
                "webhook not storable", extra={**context, "status": 400, "reason": str(exc)}
            )
            answer = {"error": f"nothing was stored: {exc}"}
            return Reply.json(400, answer, source), []
        if any(result.new_deliveries for result in stored):
            self._on_new_deliveries()
        committed = list(zip(planned, stored, strict=True))
        answers = [_answer(plan, result) for plan, result in committed]
        for answer in answers:
            line = {**context, **answer, "outcome": answer["status"], "status": 200}
            if answer["status"] == "unmapped":  # a conversion that will not reach the vendor
                log.warning("webhook", extra=line)
            else:
                info_line(log, "webhook", line)
        body = answers[0] if len(answers) == 1 else {"events": answers}
        return Reply.json(200, body, source), committed

    def _count(
        self,
        metrics: Metrics,
        source_name: str,
        reply: Reply,
        committed: Sequence[tuple[Plan, Stored]],
        started: float,
    ) -> None:
        source = metrics.source_label(source_name, self._config.sources)
        metrics.webhook_requests.inc(source, str(reply.status))
        metrics.ingest_seconds.observe(time.perf_counter() - started, source)
        if reply.status == 401:
            metrics.signature_failures.inc(source)
        for plan, stored in committed:
            metrics.events.inc(source, stored.outcome)
            if stored.outcome == "duplicate":
                continue
            for result in plan.results:
                metrics.rule_results.inc(source, result.rule, result.status)

    async def plan_joined(self, event: Event, now: int, arrived_at: int | None = None) -> Plan:
        """`plan`, with what the ledger knows when the event's source has rules with
        `identity:` (the lookup is skipped for every other source: no cost on their path)."""
        if event.source not in self._joined:
            return self.plan(event, now)
        return self.plan(event, now, await self._recall(event, now), arrived_at)

    async def _recall(self, event: Event, now: int) -> dict[str, KnownIdentity | None]:
        """Per rule with `identity:` that applies to the event, what its ledger knows for the
        key the event carries (each ledger and key looked up once)."""
        recalled: dict[str, KnownIdentity | None] = {}
        found: dict[tuple[str, str], KnownIdentity | None] = {}
        for rule in self._config.rules.joining(event):
            key = rule.identity_key(event)
            if rule.identity is None or key is None or self._identities is None:
                recalled[rule.name] = None
                continue
            lookup = (rule.identity.ledger, key)
            if lookup not in found:
                found[lookup] = await self._identities.recall(*lookup, now)
            recalled[rule.name] = found[lookup]
        return recalled

    def plan(
        self,
        event: Event,
        now: int,
        identities: Mapping[str, KnownIdentity | None] | None = None,
        arrived_at: int | None = None,
    ) -> Plan:
        """What storing `event` means under the current mapping files; `identities`: per rule
        with `identity:`, what the ledger knows for its key (`_recall`); `arrived_at`: when the
        event was received, for one that waits for its identity (default: now)."""
        results = self._config.rules.evaluate(event, identities)
        links: tuple[Link, ...] = ()
        waiting: list[str] = []
        if identities is not None:
            judged = [
                self._joins.judge(event, result, identities, arrived_at or now, now)
                for result in results
            ]
            results = [result for result, _ in judged]
            waiting = [why for _, why in judged if why]
            links = self._joins.links(event, results, identities, now)
        deliveries = tuple(self._deliveries(results, now))
        outcome, reason = summarize(event, results)
        if waiting:
            outcome, reason = "waiting_identity", "; ".join(waiting)
        detail = {
            "reason": reason,
            "rules": [{"rule": r.rule, "status": r.status, "reason": r.reason} for r in results]
            if identities is None
            else joined_rules(results, identities),
            "mapping": self._version,
        }
        stored = NewEvent(
            source=event.source,
            event_id=event.event_id,
            type=event.type,
            received_at=now,
            outcome=outcome,
            detail=orjson.dumps(detail),
            raw=event.raw,
            deliveries=deliveries,
            links=links,
        )
        return Plan(stored, reason, results)

    def _deliveries(self, results: Sequence[RuleResult], now: int) -> list[NewDelivery]:
        deliveries = []
        for result in results:
            conversion = result.conversion
            if conversion is None:
                continue
            encoded = conversion.to_json()
            if self._recent is not None:
                self._recent.keep(encoded, conversion)
            key = conversion.dedupe_key()
            for name in result.destinations:
                deliveries.append(
                    NewDelivery(name, result.rule, key, encoded, now + self._max_age_ms[name])
                )
        return deliveries


def replay_window_ms(dedupe_retention_days: float) -> int:
    """How old a body's own time may be: the dedupe window less a day, so that a delivery of
    that age still finds its dedupe id however the sender's clock and retention's hourly runs
    fall (no sender retries for longer than 3 days)."""
    return int((dedupe_retention_days - REPLAY_MARGIN_DAYS) * 86_400_000)


def refuse_stale(source: Source, events: Sequence[Event], oldest_ms: int) -> None:
    """Refuse a delivery whose signed body is older than the replay window (`Source.body_time`):
    its dedupe id may be purged already, so storing it could count a captured copy again."""
    for event in events:
        moment = source.body_time(event)
        if moment is not None and moment.timestamp() * 1000 < oldest_ms:  # a fifth of unix_ms
            raise VerificationFailed(
                f"the event's own time ({format_moment(unix_ms(moment))}) is older than"
                f" {format_moment(oldest_ms)}: a delivery this old is refused as a possible"
                " replay (docs/security.md)"
            )


def summarize(event: Event, results: Sequence[RuleResult]) -> tuple[Any, str | None]:
    """The event's outcome and a one-line reason, from its rules' results."""
    converted = [r for r in results if r.status == "converted"]
    unmapped = [r.reason or r.rule for r in results if r.status == "unmapped"]
    if converted:
        refused = [r.reason for r in converted if r.reason]
        return "accepted", "; ".join(unmapped + refused) or None
    if unmapped:
        return "unmapped", "; ".join(unmapped)
    if results:
        return "ignored", "; ".join(f"rule {r.rule!r}: {r.reason}" for r in results)
    return "ignored", f"no rule for {event.source!r} events of type {event.type!r}"


def _unreadable(source: Source, exc: Exception, context: dict[str, str]) -> Reply:
    """The 400 for a request its sender's module failed on unforeseen, logged for a fix."""
    kind = type(exc).__name__
    frames = traceback.extract_tb(exc.__traceback__)
    where = f"{frames[-1].filename.rpartition('/')[2]}:{frames[-1].lineno}" if frames else ""
    log.error(
        "webhook could not be read",
        extra={**context, "status": 400, "error_type": kind, "raised_at": where},
    )
    answer = {"error": f"the request could not be read ({kind}); nothing was stored"}
    return Reply.json(400, answer, source)


def _answer(plan: Plan, stored: Stored) -> dict[str, Any]:
    answer: dict[str, Any] = {"status": stored.outcome, "event_id": plan.event.event_id}
    if stored.outcome == "accepted":
        answer["deliveries"] = stored.new_deliveries
    if stored.outcome == "duplicate":
        answer["reason"] = (
            duplicate_reason(stored.duplicate_of)
            if stored.duplicate_of
            else "event already received"
        )
    elif plan.reason:
        answer["reason"] = plan.reason
    return answer
