"""The filters and row readers the SQLite store's listings share."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import orjson

from bridge.store.base import EventFilter, EventView


def event_filter(where: EventFilter) -> tuple[str, list[Any]]:
    clauses: list[str] = ["1 = 1"]
    params: list[Any] = []
    for column, value, operator in (
        ("source", where.source, "="),
        ("outcome", where.outcome, "="),
        ("event_id", where.event_id, "="),
        ("received_at", where.since, ">="),
        ("received_at", where.until, "<"),
    ):
        if value is not None:
            clauses.append(f"{column} {operator} ?")
            params.append(value)
    return " AND ".join(clauses), params


def event_view(row: Sequence[Any]) -> EventView:
    source, event_id, event_type, received_at, outcome, detail, kept = row
    return EventView(
        source,
        event_id,
        event_type,
        received_at,
        outcome,
        orjson.loads(detail)["reason"],
        bool(kept),
    )


def delivery_filter(
    ids: Collection[int] | None, status: str | None, destination: str | None
) -> tuple[str, list[Any]]:
    clauses: list[str] = ["d.purged_at IS NULL"]
    params: list[Any] = []
    if ids is not None:
        chosen = list(ids)
        clauses.append(f"d.id IN ({','.join('?' * len(chosen))})" if chosen else "0 = 1")
        params.extend(chosen)
    if status is not None:
        clauses.append("d.status = ?")
        params.append(status)
    if destination is not None:
        clauses.append("d.destination = ?")
        params.append(destination)
    return " AND ".join(clauses), params
