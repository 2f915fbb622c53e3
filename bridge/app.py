"""The web app: a thin shell that reads bounded bodies and hands them to the ingest use case."""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from bridge import metrics
from bridge.admin import admin_routes
from bridge.logs import flush_logs
from bridge.service import Bridge
from bridge.settings import Settings
from bridge.sources import InboundRequest

_ID_PREFIX = os.urandom(8).hex()
_ID_COUNTER = itertools.count(1)
"""Request ids: a random per-process prefix and a counter (uuid4 cost 5% of the ingest path)."""


class BodyTooLarge(Exception):
    pass


def json_response(body: dict[str, Any], status: int = 200, **headers: str) -> Response:
    return Response(orjson.dumps(body), status, headers=headers, media_type="application/json")


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refusing more than `limit` bytes without reading them all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


async def receive_webhook(request: Request) -> Response:
    bridge: Bridge = request.app.state.bridge
    request_id = f"{_ID_PREFIX}{next(_ID_COUNTER):016x}"
    limit = bridge.settings.max_body_bytes
    try:
        body = await read_body(request, limit)
    except BodyTooLarge:
        source = request.path_params["source"]
        label = bridge.metrics.source_label(source, bridge.config.sources)
        bridge.metrics.webhook_requests.labels(label, "413").inc()
        return json_response({"error": f"body larger than {limit} bytes"}, 413)
    except ClientDisconnect:
        return Response(status_code=400)
    inbound = InboundRequest(request.method, lambda: str(request.url), request.headers, body)
    reply = await bridge.ingestor.receive(request.path_params["source"], inbound, request_id)
    return Response(
        reply.content,
        reply.status,
        headers={**reply.headers, "x-request-id": request_id},
        media_type=reply.media_type,
    )


async def healthz(request: Request) -> Response:
    return json_response({"status": "ok"})


async def readyz(request: Request) -> Response:
    bridge: Bridge = request.app.state.bridge
    ready, detail = await bridge.readiness()
    return json_response(
        {"status": "ready" if ready else "not ready", **detail}, 200 if ready else 503
    )


async def metrics_page(request: Request) -> Response:
    bridge: Bridge = request.app.state.bridge
    return Response(await bridge.metrics_page(), media_type=metrics.CONTENT_TYPE)


def create_app(
    settings: Settings | None = None, *, run_worker: bool | None = None, webhooks: bool = True
) -> Starlette:
    """The ASGI app; `run_worker` overrides `BRIDGE_WORKER_ENABLED`.

    Without `webhooks` it is a worker process that still answers health and readiness probes.
    """
    settings = settings or Settings()
    with_worker = settings.worker_enabled if run_worker is None else run_worker

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        bridge = await Bridge.start(settings, run_worker=with_worker)
        app.state.bridge = bridge
        try:
            yield
        finally:
            await bridge.close()
            flush_logs()

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
    ]
    if settings.metrics_enabled:
        routes.append(Route("/metrics", metrics_page, methods=["GET"]))
    if settings.admin_token is not None:
        routes.extend(admin_routes(settings.admin_token.get_secret_value(), json_response))
    if webhooks:
        routes.append(Route("/webhooks/{source}", receive_webhook, methods=["POST"]))
    return Starlette(routes=routes, lifespan=lifespan)
