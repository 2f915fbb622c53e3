"""Where a webhook's CPU goes, stage by stage, measured in one process on one core.

The HTTP runs give the totals; this gives the parts, with the same mapping, secret and events:
the Stripe check, parsing, the rules, the stored plan, the log line, the whole ingest use case
with a store that answers at once, the durable store alone (64 requests at a time, group
commit, fsync), and the delivery worker alone (claim, decode, send to the loopback vendor,
record). `python -m bench.components --vendor URL --workdir DIR` prints one JSON object;
`bench/run` runs it pinned to the server's core and prints the table.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

import httpx
import orjson
from starlette.datastructures import Headers

from bench import events as signing
from bench.join import measure_join
from bench.processes import MAPPINGS, bridge_environment

CONCURRENCY = 64
T = TypeVar("T")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--vendor", required=True, help="the loopback vendor's base URL")
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--events", type=int, default=20_000)
    args = parser.parse_args(argv)
    os.environ.update(bridge_environment(args.vendor))
    args.workdir.mkdir(parents=True, exist_ok=True)
    _log_like_the_server(args.workdir / "components.log")
    stages = _run_like_the_server(measure(args.vendor, args.workdir, args.events))
    print(orjson.dumps(stages).decode())
    return 0


def _run_like_the_server(main: Coroutine[Any, Any, T]) -> T:
    """On uvloop when it is installed, as `bridge serve` runs (uvicorn's `loop="auto"`)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def _log_like_the_server(path: Path) -> None:
    from bridge.telemetry.logs import configure_logging

    configure_logging("info", "json")
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(path.open("a", encoding="utf-8"))


async def measure(vendor: str, workdir: Path, count: int) -> dict[str, float]:
    """Microseconds of CPU per event (per conversion for the worker), by stage."""
    from bridge.mapping.config import load_config
    from bridge.sources import InboundRequest
    from bridge.store.base import Store
    from bridge.telemetry.logs import info_line
    from bridge.telemetry.metrics import Metrics
    from bridge.use_cases.ingest import Ingestor

    config = load_config(MAPPINGS)
    source = config.sources["stripe"]
    signed = list(signing.signed_events(f"c{os.getpid()}", count))
    requests = [
        InboundRequest(
            "POST",
            f"http://127.0.0.1{signing.PATH}",
            Headers(raw=[(b"stripe-signature", e.signature.encode())]),
            e.body,
        )
        for e in signed
    ]
    events = [source.parse(e.body)[0] for e in signed]
    now = int(time.time() * 1000)
    instant = cast(Store, _InstantStore())  # only `ingest` is called
    planner = Ingestor(config, instant)
    ingestor = Ingestor(config, instant, metrics=Metrics())
    log = logging.getLogger("bridge.ingest")
    fields = {"source": "stripe", "request_id": "r", "status": 200, "outcome": "accepted"}

    stages = {
        "verify (Stripe check and parse)": _per_item(requests, source.verify),
        "parse": _per_item(signed, lambda e: source.parse(e.body)),
        "rules": _per_item(events, config.rules.evaluate),
        "plan (rules, detail, conversion JSON, delivery rows)": _per_item(
            events, lambda e: planner.plan(e, now)
        ),
        "log line": _per_item(events, lambda e: info_line(log, "webhook", {**fields})),
    }
    started = time.process_time()
    for request in requests:
        await ingestor.receive("stripe", request, "r")
    stages["ingest use case, store answering at once"] = _micros(started, len(requests))
    plans = [planner.plan(event, now).event for event in events]
    stages["store: ingest, 64 at a time, fsync per group"] = await _store(workdir, plans)
    stages["worker: claim, decode, send, record, per conversion"] = await _worker(
        workdir, events, config, vendor, handed_over=False
    )
    stages["worker, conversions handed over by ingest in the same process"] = await _worker(
        workdir, events, config, vendor, handed_over=True
    )
    parsed = [source.parse(e.body)[0] for e in signed]  # the join sets its reference on each
    stages.update(await measure_join(workdir, parsed, dict(os.environ)))
    return stages


class _InstantStore:
    """Answers every ingest as accepted at once: the use case without storage."""

    def __init__(self) -> None:
        from bridge.store.base import Stored  # imported here, not on every measured request

        self._stored = Stored

    async def ingest(self, events: Sequence[Any]) -> list[Any]:
        return [self._stored(event.outcome, len(event.deliveries)) for event in events]


def _per_item(items: Sequence[Any], work: Callable[[Any], object]) -> float:
    started = time.process_time()
    for item in items:
        work(item)
    return _micros(started, len(items))


def _micros(started: float, count: int) -> float:
    return round((time.process_time() - started) / max(count, 1) * 1e6, 1)


async def _store(workdir: Path, plans: Sequence[Any]) -> float:
    from bridge.store.sqlite import SQLiteStore

    path = workdir / "components-store.db"
    _remove(path)
    store = await SQLiteStore.open(path)
    pending = iter(plans)

    async def sender() -> None:
        for plan in pending:
            await store.ingest([plan])

    try:
        started = time.process_time()
        await asyncio.gather(*(sender() for _ in range(CONCURRENCY)))
        return _micros(started, len(plans))
    finally:
        await store.close()
        _remove(path)


async def _worker(
    workdir: Path, events: Sequence[Any], config: Any, vendor: str, *, handed_over: bool
) -> float:
    """The worker alone, on events stored beforehand. `handed_over`: planned by an ingestor that
    leaves its conversions to this worker, as `bridge serve` does, with room for all of them (in
    a server, ingest and delivery take turns, so few wait); otherwise every conversion is
    decoded from the store, as in a `bridge worker` of its own."""
    from bridge.delivery.recent import RecentConversions
    from bridge.delivery.worker import Worker
    from bridge.runtime.service import vendor_client, worker_settings
    from bridge.runtime.settings import Settings
    from bridge.store.base import Store
    from bridge.store.sqlite import SQLiteStore
    from bridge.telemetry.metrics import Metrics
    from bridge.use_cases.ingest import Ingestor

    path = workdir / "components-worker.db"
    _remove(path)
    store = await SQLiteStore.open(path)
    settings = Settings(database_url=f"sqlite:///{path}", mappings_dir=MAPPINGS)
    client = vendor_client(settings)
    worker = Worker(
        store, config.destinations, client, worker_settings(settings), metrics=Metrics()
    )
    recent = worker.recent = RecentConversions(capacity=len(events))
    planner = Ingestor(config, cast(Store, _InstantStore()), recent=recent if handed_over else None)
    now = int(time.time() * 1000)
    plans = [planner.plan(event, now).event for event in events]
    async with httpx.AsyncClient(base_url=vendor) as control:
        await control.post("/reset")
        for start in range(0, len(plans), 500):
            await store.ingest(plans[start : start + 500])
        started = time.process_time()
        worker.start()
        try:
            await _until_delivered(control, len(plans))
            return _micros(started, len(plans))
        finally:
            await worker.stop()
            await client.aclose()
            await store.close()
            _remove(path)


async def _until_delivered(control: httpx.AsyncClient, count: int) -> None:
    """Polls the vendor: it is another process, so there is nothing to wait on here."""
    delivered = 0
    while delivered < count:
        await asyncio.sleep(0.02)
        delivered = (await control.get("/count")).json()["count"]


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())
