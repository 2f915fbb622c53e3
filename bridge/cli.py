"""`bridge` command line: serve, worker, check, try, deliveries. A thin shell over the rooms."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import orjson
from pydantic import ValidationError

from bridge import __version__
from bridge.destinations import VendorRequest
from bridge.logs import configure_logging
from bridge.mapping.config import Config, load_config
from bridge.mapping.errors import MappingError
from bridge.model import RuleResult
from bridge.settings import Settings
from bridge.sources import SourceError
from bridge.store import StoreUnavailable, migrate_store, open_store
from bridge.store.base import DeliveryView


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        settings = Settings()
    except ValidationError as exc:
        for problem in exc.errors(include_url=False):
            name = "BRIDGE_" + "_".join(str(part) for part in problem["loc"]).upper()
            print(f"error: {name}: {problem['msg']}", file=sys.stderr)
        return 2
    if getattr(args, "mappings", None) is not None:
        settings.mappings_dir = args.mappings
    status: int = args.run(args, settings)
    return status


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bridge", description="Verified webhooks in, vendor-neutral conversions out."
    )
    parser.add_argument("--version", action="version", version=f"bridge {__version__}")
    commands = parser.add_subparsers(title="commands")

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

    check = commands.add_parser("check", help="validate the mapping files")
    check.add_argument("--mappings", type=Path, help="mappings directory (BRIDGE_MAPPINGS_DIR)")
    check.add_argument("--strict", action="store_true", help="treat warnings as errors")
    check.set_defaults(run=_check)

    trial = commands.add_parser(
        "try", help="show what a sample payload would become; sends nothing, stores nothing"
    )
    trial.add_argument("source", help="source name from the mapping files")
    trial.add_argument("payload", help="file with the webhook body, or - for stdin")
    trial.add_argument("--mappings", type=Path, help="mappings directory (BRIDGE_MAPPINGS_DIR)")
    trial.add_argument("--json", action="store_true", help="machine-readable output")
    trial.set_defaults(run=_try)

    deliveries = commands.add_parser("deliveries", help="inspect and retry deliveries")
    actions = deliveries.add_subparsers(title="actions")
    listing = actions.add_parser("list", help="list deliveries, newest first")
    listing.add_argument("--status", choices=["pending", "delivered", "dead"])
    listing.add_argument("--destination")
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(run=_deliveries_list)
    retry = actions.add_parser("retry", help="make deliveries due now, with a fresh max age")
    retry.add_argument("ids", nargs="*", type=int, help="delivery ids")
    retry.add_argument("--status", choices=["pending", "dead"], help="all deliveries in this state")
    retry.add_argument("--destination")
    retry.add_argument("--mappings", type=Path, help="mappings directory (BRIDGE_MAPPINGS_DIR)")
    retry.set_defaults(run=_deliveries_retry)
    return parser


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    run_worker = settings.worker_enabled and not args.no_worker
    return _run_server(settings, args.host, args.port, run_worker=run_worker, webhooks=True)


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    return _run_server(settings, args.host, args.port, run_worker=True, webhooks=False)


def _run_server(
    settings: Settings, host: str | None, port: int | None, *, run_worker: bool, webhooks: bool
) -> int:
    import uvicorn

    from bridge.app import create_app

    configure_logging(settings.log_level, settings.log_format)
    if _load_or_report(settings.mappings_dir) is None:
        return 1
    app = create_app(settings, run_worker=run_worker, webhooks=webhooks)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=host or settings.host,
            port=settings.port if port is None else port,
            log_config=None,
            access_log=False,
            server_header=False,
            timeout_graceful_shutdown=int(settings.worker_shutdown_grace_seconds) + 5,
        )
    )
    server.run()
    return 0 if server.started else 1


def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    configure_logging(settings.log_level, settings.log_format)
    try:
        version = asyncio.run(migrate_store(settings.database_url, settings.sqlite_busy_timeout_ms))
    except StoreUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"database schema is at version {version}")
    return 0


def _check(args: argparse.Namespace, settings: Settings) -> int:
    config = _load_or_report(settings.mappings_dir)
    if config is None:
        return 1
    warnings = config.warnings()
    for warning in warnings:
        print(f"warning: {warning}")
    print(
        f"ok: {len(config.files)} files, {len(config.sources)} sources, "
        f"{len(config.destinations)} destinations, {len(config.rules.rules)} rules"
        + (f", {len(warnings)} warnings" if warnings else "")
    )
    return 1 if warnings and args.strict else 0


def _try(args: argparse.Namespace, settings: Settings) -> int:
    config = _load_or_report(settings.mappings_dir)
    if config is None:
        return 1
    source = config.sources.get(args.source)
    if source is None:
        print(
            f"error: unknown source {args.source!r} (known: {', '.join(sorted(config.sources))})",
            file=sys.stderr,
        )
        return 2
    body = sys.stdin.buffer.read() if args.payload == "-" else Path(args.payload).read_bytes()
    try:
        events = source.parse(body)
    except SourceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    report = [
        _trial(config, event.source, event.event_id, event.type, config.rules.evaluate(event))
        for event in events
    ]
    if args.json:
        sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        for entry in report:
            _print_trial(entry, sys.stdout)
    return 0


def _trial(
    config: Config, source: str, event_id: str, event_type: str, results: list[RuleResult]
) -> dict[str, Any]:
    rules = []
    for result in results:
        entry: dict[str, Any] = {
            "rule": result.rule,
            "status": result.status,
            "reason": result.reason,
        }
        if result.conversion is not None:
            entry["conversion"] = result.conversion.to_dict()
            entry["requests"] = [
                {"destination": name, **_shown(request)}
                for name in result.destinations
                for request in config.destinations[name].requests([result.conversion])
            ]
        rules.append(entry)
    return {"source": source, "event_id": event_id, "type": event_type, "rules": rules}


def _shown(request: VendorRequest) -> dict[str, Any]:
    return {
        "method": request.method,
        "url": request.redacted_url(),
        "headers": request.redacted_headers(),
        "body": request.body.decode(),
    }


def _print_trial(entry: dict[str, Any], out: TextIO) -> None:
    out.write(f"event {entry['event_id']} ({entry['type']}) from source {entry['source']!r}\n")
    if not entry["rules"]:
        out.write("  no rule applies to this event type: it would be stored as ignored\n")
    for rule in entry["rules"]:
        out.write(f"\nrule {rule['rule']!r}: {rule['status']}")
        out.write(f" ({rule['reason']})\n" if rule["reason"] else "\n")
        if "conversion" in rule:
            out.write("  conversion: " + orjson.dumps(rule["conversion"]).decode() + "\n")
        for request in rule.get("requests", ()):
            out.write(f"\n  -> destination {request['destination']!r}\n")
            out.write(f"  {request['method']} {request['url']}\n")
            for name, value in request["headers"].items():
                out.write(f"  {name}: {value}\n")
            pretty = orjson.dumps(
                orjson.loads(request["body"]), option=orjson.OPT_INDENT_2
            ).decode()
            out.write("\n" + "\n".join("  " + line for line in pretty.splitlines()) + "\n")
    out.write("\n(nothing was sent or stored)\n")


def _deliveries_list(args: argparse.Namespace, settings: Settings) -> int:
    async def query() -> list[DeliveryView]:
        store = await open_store(
            settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms
        )
        try:
            return await store.list_deliveries(
                status=args.status, destination=args.destination, limit=args.limit
            )
        finally:
            await store.close()

    views = asyncio.run(query())
    if args.json:
        sys.stdout.write(
            orjson.dumps([asdict(v) for v in views], option=orjson.OPT_INDENT_2).decode() + "\n"
        )
        return 0
    if not views:
        print("no deliveries")
        return 0
    print(
        f"{'ID':>6}  {'STATUS':9}  {'DESTINATION':14}  {'TRIES':>5}  {'WHEN':20}  "
        "EVENT (RULE) / LAST ANSWER"
    )
    for v in views:
        when = _time(v.finished_at if v.finished_at else v.next_attempt_at)
        print(
            f"{v.id:>6}  {v.status:9}  {v.destination:14}  {v.attempts:>5}  {when:20}  "
            f"{v.source}:{v.event_id} ({v.rule})"
        )
        if v.last_answer:
            print(f"{'':>62}{v.last_answer[:200]}")
    return 0


def _deliveries_retry(args: argparse.Namespace, settings: Settings) -> int:
    if not args.ids and args.status is None:
        print("error: give delivery ids or --status", file=sys.stderr)
        return 2
    config = _load_or_report(settings.mappings_dir)
    if config is None:
        return 1
    names = [args.destination] if args.destination else sorted(config.destinations)

    async def retry() -> int:
        store = await open_store(
            settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms
        )
        now = int(time.time() * 1000)
        total = 0
        try:
            for name in names:
                destination = config.destinations.get(name)
                if destination is None:
                    continue
                total += await store.retry_deliveries(
                    ids=args.ids or None,
                    status=args.status,
                    destination=name,
                    now=now,
                    expires_at=now + int(destination.options.max_age_hours * 3_600_000),
                )
        finally:
            await store.close()
        return total

    try:
        count = asyncio.run(retry())
    except StoreUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{count} deliveries are due now")
    return 0


def _load_or_report(directory: Path) -> Config | None:
    try:
        return load_config(directory)
    except MappingError as exc:
        for issue in exc.issues:
            print(f"error: {issue}", file=sys.stderr)
        print(f"{len(exc.issues)} problem(s) in {directory}", file=sys.stderr)
        return None


def _time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


if __name__ == "__main__":
    raise SystemExit(main())
