"""The filters the SQLite store's listings and changes share."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from bridge.store.base import EventFilter

RAW_COLUMNS = "SELECT source, event_id, type, outcome, payload, received_at FROM events"
# Written with the literal the partial index `events_waiting` is defined by, so it is used.
WAITING_EVENTS = f"{RAW_COLUMNS} WHERE outcome = 'waiting_identity' ORDER BY id LIMIT ?"


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
