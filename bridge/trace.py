"""An event's story, for people (`bridge events show`) and machines (`--json`, admin API):
received -> verified -> rules matched or why none -> conversions -> every delivery attempt."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import orjson

from bridge.moments import format_moment
from bridge.store.base import EventTrace, EventView


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


def trace_text(trace: EventTrace) -> str:
    event = trace.event
    kept = "raw payload kept" if event.payload_kept else "raw payload erased by retention"
    lines = [
        f"event {event.event_id} from source {event.source!r} ({event.type})",
        f"  received  {format_moment(event.received_at)} ({kept})",
        "  verified  signature checked before anything was stored",
        f"  outcome   {event.outcome}" + (f": {event.reason}" if event.reason else ""),
        "  rules",
    ]
    if not trace.rules:
        lines.append("    none applies to this event type")
    for rule in trace.rules:
        reason = f" ({rule['reason']})" if rule.get("reason") else ""
        lines.append(f"    {rule['rule']}: {rule['status']}{reason}")
    lines.append("  deliveries" if trace.deliveries else "  deliveries: none")
    for delivery in trace.deliveries:
        tries = f"{delivery.attempts} attempt{'s' if delivery.attempts != 1 else ''}"
        lines.append(
            f"    #{delivery.id} -> {delivery.destination} (rule {delivery.rule}):"
            f" {delivery.status} after {tries}"
        )
        if delivery.status == "pending":
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
