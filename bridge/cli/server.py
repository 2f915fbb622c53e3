"""Long-running processes and their set-up: `serve`, `worker`, `migrate`.

Each server process listens on two ports (bridge/web/server.py): webhooks and probes on one;
the admin API, metrics and detailed readiness on the other (bridge/web/app.py).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
from typing import TYPE_CHECKING

from pydantic import ValidationError

from bridge.cli.common import fail, load_or_report
from bridge.runtime.settings import Settings
from bridge.store import StoreUnavailable, migrate_store
from bridge.telemetry.logs import configure_logging

if TYPE_CHECKING:
    from bridge.cli.common import Commands

log = logging.getLogger("bridge")

GC_FIRST_THRESHOLD = 20_000
"""Container allocations (net) between runs of the cyclic garbage collector's youngest
generation; Python's default is 700."""


def _tune_garbage_collector() -> None:
    """Collect cyclic garbage less often.

    A webhook allocates a few hundred containers, so at Python's default the collector ran every
    few requests, re-examining every request in flight and whatever the worker held
    (docs/benchmarks.md, "The levers").
    Reference counting still frees everything not in a cycle at once, so the higher threshold
    holds back only cyclic garbage (about 7 MB more resident under load)."""
    gc.set_threshold(GC_FIRST_THRESHOLD, *gc.get_threshold()[1:])


def add_commands(commands: Commands) -> None:
    serve = commands.add_parser("serve", help="run the webhook endpoint (and the delivery worker)")
    serve.add_argument("--host", help="listen address (BRIDGE_HOST)")
    serve.add_argument("--port", type=int, help="listen port (BRIDGE_PORT)")
    serve.add_argument("--no-worker", action="store_true", help="do not deliver in this process")
    serve.set_defaults(run=_serve)

    worker = commands.add_parser(
        "worker", help="run only the delivery worker (with /healthz and /readyz for probes)"
    )
    worker.add_argument("--host", help="listen address for probes (BRIDGE_HOST)")
    worker.add_argument("--port", type=int, help="listen port for probes (BRIDGE_PORT)")
    worker.set_defaults(run=_worker)

    migrate = commands.add_parser("migrate", help="apply database schema migrations and exit")
    migrate.set_defaults(run=_migrate)


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    run_worker = settings.worker_enabled and not args.no_worker
    return _run_server(settings, args.host, args.port, run_worker=run_worker, webhooks=True)


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    return _run_server(settings, args.host, args.port, run_worker=True, webhooks=False)


def _run_server(
    settings: Settings, host: str | None, port: int | None, *, run_worker: bool, webhooks: bool
) -> int:
    from bridge.web.app import create_app
    from bridge.web.server import CannotListen, address, bind_listeners, http_server

    configure_logging(settings.log_level, settings.log_format)
    settings = settings.model_copy()
    for flag, value in (("host", host), ("port", port)):
        try:
            if value is not None:
                setattr(settings, flag, value)  # checked as its BRIDGE_ variable is
        except ValidationError as exc:
            return fail(f"--{flag}: {exc.errors(include_url=False)[0]['msg']}", 2)
    if load_or_report(settings.mappings_dir) is None:
        return 1
    try:
        listeners = bind_listeners(settings)
    except CannotListen as exc:
        return fail(str(exc))
    app = create_app(settings, run_worker=run_worker, webhooks=webhooks)
    server = http_server(app, settings, listeners)
    log.info(
        "listening",
        extra={"webhooks": address(listeners.public), "admin": address(listeners.admin)},
    )
    _tune_garbage_collector()
    server.run(sockets=list(listeners))
    return 0 if server.started else 1


def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    configure_logging(settings.log_level, settings.log_format)
    try:
        version = asyncio.run(migrate_store(settings.database_url, settings.sqlite_busy_timeout_ms))
    except StoreUnavailable as exc:
        return fail(str(exc))
    print(f"database schema is at version {version}")
    return 0
