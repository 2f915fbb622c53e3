"""Read-only admin API: the same answers as `bridge events` and `bridge deliveries`, over HTTP.

Off unless `BRIDGE_ADMIN_TOKEN` is set (the routes then do not exist: 404). Every request must
carry `Authorization: Bearer <token>`, compared in constant time; anything else is 401 and is
never told whether the token was close.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any, get_args

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bridge.runtime.service import Bridge
from bridge.store.base import DeliveryStatus, EventFilter, EventOutcome, StoreUnavailable
from bridge.use_cases.trace import event_summary, trace_document
from bridge.utilities.times import parse_moment

Handler = Callable[[Request], Awaitable[Response]]
JsonResponse = Callable[..., Response]

MAX_LIMIT = 1000


class BadQuery(ValueError):
    """A query parameter the admin API cannot use: 400 with the reason."""


def admin_routes(token: str, json_response: JsonResponse) -> list[Route]:
    expected = f"Bearer {token}".encode()

    def guarded(handler: Callable[[Request, Bridge], Awaitable[Any]]) -> Handler:
        async def endpoint(request: Request) -> Response:
            given = request.headers.get("authorization", "").encode()
            if not hmac.compare_digest(given, expected):
                return json_response(
                    {"error": "admin token missing or wrong"}, 401, **{"www-authenticate": "Bearer"}
                )
            try:
                return json_response(await handler(request, request.app.state.bridge))
            except BadQuery as exc:
                return json_response({"error": str(exc)}, 400)
            except LookupError as exc:
                return json_response({"error": exc.args[0]}, 404)
            except StoreUnavailable as exc:
                return json_response({"error": f"storage unavailable: {exc}"}, 503)

        return endpoint

    return [
        Route("/admin/events", guarded(list_events), methods=["GET"]),
        Route("/admin/events/{source}/{event_id:path}", guarded(show_event), methods=["GET"]),
        Route("/admin/deliveries", guarded(list_deliveries), methods=["GET"]),
    ]


async def list_events(request: Request, bridge: Bridge) -> dict[str, Any]:
    query = request.query_params
    now = int(time.time() * 1000)
    where = EventFilter(
        source=query.get("source"),
        outcome=_choice(query.get("outcome"), get_args(EventOutcome), "outcome"),
        since=_moment(query.get("since"), now, "since"),
        until=_moment(query.get("until"), now, "until"),
    )
    events = await bridge.store.list_events(where, _limit(query.get("limit")))
    return {"events": [event_summary(event) for event in events]}


async def show_event(request: Request, bridge: Bridge) -> dict[str, Any]:
    source, event_id = request.path_params["source"], request.path_params["event_id"]
    trace = await bridge.store.event_trace(source, event_id)
    if trace is None:
        raise LookupError(f"no event {event_id!r} from source {source!r} is stored")
    return trace_document(trace)


async def list_deliveries(request: Request, bridge: Bridge) -> dict[str, Any]:
    query = request.query_params
    views = await bridge.store.list_deliveries(
        status=_choice(query.get("status"), get_args(DeliveryStatus), "status"),
        destination=query.get("destination"),
        limit=_limit(query.get("limit")),
    )
    return {"deliveries": [asdict(view) for view in views]}


def _choice(value: str | None, allowed: tuple[str, ...], name: str) -> Any:
    if value is not None and value not in allowed:
        raise BadQuery(f"{name} must be one of {', '.join(allowed)}")
    return value


def _moment(value: str | None, now: int, name: str) -> int | None:
    if value is None:
        return None
    try:
        return parse_moment(value, now)
    except ValueError as exc:
        raise BadQuery(f"{name}: {exc}") from None


def _limit(value: str | None) -> int:
    if value is None:
        return 100
    if not value.isdigit() or not 1 <= int(value) <= MAX_LIMIT:
        raise BadQuery(f"limit must be a whole number from 1 to {MAX_LIMIT}")
    return int(value)
