"""The web app: two surfaces of one process, each served on its own port.

The webhook port (`BridgeApp`) answers senders, browsers and probes: `POST /webhooks/{source}`
and `/identify/{ledger}` on their own plain endpoints, `/healthz`, and `/readyz` with a bare
status. The admin port (`app.admin`) answers operators: `/metrics`, the admin API, and
`/readyz` with the detail (source and destination names, missing variables). A NetworkPolicy
can separate ports but not paths, so nothing an operator reads is reachable on the port the
Ingress exposes.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Lifespan, Receive, Scope, Send

from bridge.runtime.service import Bridge
from bridge.runtime.settings import Settings
from bridge.telemetry import metrics
from bridge.telemetry.logs import flush_logs
from bridge.web.admin import admin_routes
from bridge.web.identify import IdentifyEndpoint, identify_ledger
from bridge.web.identify_script import identify_script_route
from bridge.web.webhooks import WebhookEndpoint, webhook_source


def json_response(body: dict[str, Any], status: int = 200, **headers: str) -> Response:
    return Response(orjson.dumps(body), status, headers=headers, media_type="application/json")


async def internal_error(request: Request, exc: Exception) -> Response:
    """starlette's bare 500, saying that the connection closes: the server closes it after an
    unexpected error, and a sender must not wait on it for its next request."""
    return Response("Internal Server Error", 500, headers={"connection": "close"})


class BridgeApp(Starlette):
    """The webhook port. Starlette, except that webhook POSTs and beacons go straight to their
    endpoints (see webhook_endpoint); `admin` is the admin port's app, sharing this app's state.
    Without `webhooks` (a worker process) neither is served."""

    def __init__(
        self,
        routes: list[BaseRoute],
        admin: list[BaseRoute],
        lifespan: Lifespan[Any],
        webhooks: bool,
    ) -> None:
        self.webhooks = WebhookEndpoint(lambda: self.state.bridge) if webhooks else None
        self.identify = IdentifyEndpoint(lambda: self.state.bridge) if webhooks else None
        if self.webhooks is not None:
            routes = [*routes, Route("/webhooks/{source}", self.webhooks, methods=["POST"])]
        if self.identify is not None:
            methods = ["POST", "OPTIONS"]
            routes = [*routes, Route("/identify/{ledger}", self.identify, methods=methods)]
            routes.append(identify_script_route)
        super().__init__(
            routes=routes, lifespan=lifespan, exception_handlers={Exception: internal_error}
        )
        self.admin = Starlette(routes=admin, exception_handlers={Exception: internal_error})
        self.admin.state = self.state
        for app in (self, self.admin):
            app.router.redirect_slashes = False  # senders do not follow a 307

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.webhooks is not None and scope["type"] == "http" and scope["method"] == "POST":
            source = webhook_source(scope["path"])
            if source is not None:
                scope["path_params"] = {"source": source}  # what starlette's route would set
                await self.webhooks(scope, receive, send)
                return
        if self.identify is not None and scope["type"] == "http":
            ledger = identify_ledger(scope["path"])
            if ledger is not None and scope["method"] in ("POST", "OPTIONS"):
                scope["path_params"] = {"ledger": ledger}
                await self.identify(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


async def healthz(request: Request) -> Response:
    return json_response({"status": "ok"})


async def readyz(request: Request) -> Response:
    """A bare status for anyone who can reach the webhook port."""
    bridge: Bridge = request.app.state.bridge
    ready, _ = await bridge.readiness()
    return json_response({"status": "ready" if ready else "not ready"}, 200 if ready else 503)


async def readyz_detail(request: Request) -> Response:
    """The status with what it depends on, for operators on the admin port."""
    bridge: Bridge = request.app.state.bridge
    ready, detail = await bridge.readiness()
    return json_response(
        {"status": "ready" if ready else "not ready", **detail}, 200 if ready else 503
    )


async def metrics_page(request: Request) -> Response:
    bridge: Bridge = request.app.state.bridge
    return Response(await bridge.metrics_page(), media_type=metrics.CONTENT_TYPE)


def _reload_on_hangup(bridge: Bridge) -> bool:
    """SIGHUP reloads the mapping files (`bridge.reload`); False where no handler can be set
    (not the main thread, or no signals on this platform)."""
    loop = asyncio.get_running_loop()
    pending: set[asyncio.Task[bool]] = set()

    def reload() -> None:
        task = loop.create_task(bridge.reload("SIGHUP"))
        pending.add(task)  # held until done: the loop keeps only weak references to tasks
        task.add_done_callback(pending.discard)

    try:
        loop.add_signal_handler(signal.SIGHUP, reload)
    except (NotImplementedError, RuntimeError, ValueError):
        return False
    return True


def create_app(
    settings: Settings | None = None, *, run_worker: bool | None = None, webhooks: bool = True
) -> BridgeApp:
    """The ASGI app of the webhook port, with the admin port's as `.admin`; `run_worker`
    overrides `BRIDGE_WORKER_ENABLED`.

    Without `webhooks` it is a worker process that still answers health and readiness probes.
    """
    settings = settings or Settings()
    with_worker = settings.worker_enabled if run_worker is None else run_worker

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        bridge = await Bridge.start(settings, run_worker=with_worker)
        app.state.bridge = bridge
        hangup = _reload_on_hangup(bridge)
        try:
            yield
        finally:
            if hangup:
                asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
            await bridge.close()
            flush_logs()

    public: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
    ]
    admin: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz_detail, methods=["GET"]),
    ]
    if settings.metrics_enabled:
        admin.append(Route("/metrics", metrics_page, methods=["GET"]))
    if settings.admin_token is not None:
        admin.extend(admin_routes(settings.admin_token.get_secret_value(), json_response))
    return BridgeApp(public, admin, lifespan, webhooks)
