"""An event's story, for people (`bridge events show`) and machines (`--json`, admin API):
received -> verified -> rules matched or why none -> conversions -> every delivery attempt."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

import orjson

from bridge.store.base import EventTrace, EventView
from bridge.utilities.times import format_moment


def event_summary(event: EventView) -> dict[str, Any]:
    return asdict(event)


def trace_document(trace: EventTrace) -> dict[str, Any]:
    return {
        "event": event_summary(trace.event),
        "rules": trace.rules,
        "deliveries": [
            {
                **asdict(delivery),
                "conversion": orjson.loads(trace.conversions[delivery.id]),
                "attempts": [asdict(a) for a in trace.attempts if a.delivery_id == delivery.id],
            }
            for delivery in trace.deliveries
        ],
    }


def waits_for(
    waiting: Mapping[str, str] | None, destination: str, next_attempt_at: int, now_ms: int
) -> str | None:
    """What a pending delivery waits for (`PAGENT_API_KEY is not set`), said only once it is
    due: `waiting` is read with this process's environment, not the server's, and a retry the
    vendor's answer scheduled for later waits for that time, whatever this shell holds."""
    return (waiting or {}).get(destination) if next_attempt_at <= now_ms else None


def trace_text(
    trace: EventTrace, waiting: Mapping[str, str] | None = None, now_ms: int | None = None
) -> str:
    """The story in lines; `waiting` maps a destination to what its due deliveries wait for,
    said instead of a next attempt that cannot happen (`waits_for`)."""
    now = int(time.time() * 1000) if now_ms is None else now_ms
    event = trace.event
    kept = "raw payload kept" if event.payload_kept else "raw payload erased by retention"
    reason = _outcome_reason(event.reason, trace.rules)
    lines = [
        f"event {event.event_id} from source {event.source!r} ({event.type})",
        f"  received  {format_moment(event.received_at)} ({kept})",
        "  verified  signature checked before anything was stored",
        f"  outcome   {event.outcome}" + (f": {reason}" if reason else ""),
    ]
    if trace.mapping_version:
        lines.append(f"  mapping   version {trace.mapping_version} of the mapping files")
    lines.append("  rules")
    if not trace.rules:
        lines.append("    none applies to this event type")
    for rule in trace.rules:
        said = (rule.get("reason") or "").removeprefix(f"rule {rule['rule']!r}: ")
        lines.append(f"    {rule['rule']}: {rule['status']}" + (f" ({said})" if said else ""))
    lines.append("  deliveries" if trace.deliveries else "  deliveries: none")
    for delivery in trace.deliveries:
        tries = f"{delivery.attempts} attempt{'s' if delivery.attempts != 1 else ''}"
        lines.append(
            f"    #{delivery.id} -> {delivery.destination} (rule {delivery.rule}):"
            f" {delivery.status} after {tries}"
        )
        waits = waits_for(waiting, delivery.destination, delivery.next_attempt_at, now)
        if delivery.status == "pending" and waits:
            lines.append(f"      waiting: {waits}")
        elif delivery.status == "pending":
            lines.append(f"      next attempt {format_moment(delivery.next_attempt_at)}")
        for attempt in (a for a in trace.attempts if a.delivery_id == delivery.id):
            status = attempt.http_status if attempt.http_status is not None else "-"
            lines.append(
                f"      {format_moment(attempt.attempted_at)}  {attempt.outcome:12} HTTP {status}"
                f"  {attempt.duration_ms} ms  {attempt.answer or ''}".rstrip()
            )
        conversion = trace.conversions[delivery.id].decode()
        lines.append(f"      conversion {conversion}")
    return "\n".join(lines)


def _outcome_reason(reason: str | None, rules: list[dict[str, str | None]]) -> str | None:
    """The event's reason without what a rule's line below states already (the event's reason
    joins its rules' reasons with `; `, and a rule's reason may hold `; ` itself)."""
    stated = [(rule["rule"], rule["reason"]) for rule in rules if rule.get("reason")]
    rest = reason or ""
    for written in [f"rule {name!r}: {said}" for name, said in stated] + [s for _, s in stated]:
        rest = rest.replace(str(written), "")
    return "; ".join(part for part in rest.split("; ") if part.strip()) or None
