"""Odd vendor answers over a real socket, on both stores: a 2xx is never sent again.

Each test runs the shipped mapping of a vendor (pagent's, or the example for the others) with
its base URL pointed at a loopback vendor, the real ingest and the real worker in this process,
on a SQLite file and on the PostgreSQL test server.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson
import pytest

from bridge.delivery.backoff import RetryPolicy
from bridge.delivery.worker import Worker, WorkerSettings
from bridge.mapping import load_config
from bridge.sources import InboundRequest
from bridge.store import Store, open_store
from bridge.store.base import AttemptRecord, AttemptView, StoreUnavailable
from bridge.telemetry.metrics import Metrics
from bridge.use_cases.ingest import Ingestor
from bridge.use_cases.trace import trace_text
from tests.store import conftest as store_suite
from tests.support import stripe as s
from tests.support.vendor import Answer, LoopbackVendor, Received

VENDORS = ("pagent", "convert", "scanova", "conductrics")
METADATA = s.sample("checkout.session.completed")["data"]["object"]["metadata"]
store_url = store_suite.database_url
"""The fixture of the shared store suite: each test runs on a SQLite file and on PostgreSQL."""
ODD_2XX = {
    "empty": (200, b""),
    "html": (200, b"<html><body>Thanks!</body></html>"),
    "nul and invalid utf-8": (200, b'{"ok": true}\x00\xff\xfe\x00'),
    "another json shape": (200, b'[{"id": 1}]'),
    "status that is no number": (202, b'{"status": "fine", "data": {"items": []}}'),
    "status true": (200, b'{"status": true, "data": {"items": [{"g": "x", "rs": []}]}}'),
    "items that are no goals": (200, b'{"status": 200, "data": {"items": ["g", 5]}}'),
    "rewards that are no list": (200, b'{"status": 200, "data": {"items": [{"g": "x", "rs": 5}]}}'),
    "huge": (200, b"x" * 200_000),
}


def mapping_files(vendor: str) -> list[Path]:
    if vendor == "pagent":
        return [s.REPO / "mappings" / "pagent.yaml", s.REPO / "mappings" / "stripe-to-pagent.yaml"]
    examples = s.REPO / "mappings" / "examples"
    return [examples / f"{vendor}.yaml", examples / f"stripe-to-{vendor}.yaml"]


@dataclass
class Bridge:
    store: Store
    ingestor: Ingestor
    worker: Worker
    metrics: Metrics

    async def receive(self, event_id: str, **metadata: str) -> None:
        payload = s.event(
            "checkout.session.completed",
            event_id=event_id,
            created=int(time.time()),
            payment_intent=f"pi_{event_id}",
            metadata={**METADATA, **metadata},
        )
        raw, headers = s.signed(payload)
        lowered = {k.lower(): v for k, v in headers.items()}
        reply = await self.ingestor.receive("stripe", InboundRequest("POST", "/", lowered, raw))
        assert reply.status == 200, reply.body
        assert reply.body["status"] == "accepted", reply.body

    async def states(self) -> dict[str, tuple[str, int]]:
        """event id -> (delivery status, attempts)"""
        views = await self.store.list_deliveries(status=None, destination=None, limit=10)
        return {v.event_id: (v.status, v.attempts) for v in views}

    async def attempts(self, event_id: str) -> list[AttemptView]:
        trace = await self.store.event_trace("stripe", event_id)
        assert trace is not None
        return trace.attempts


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as opened:
        yield opened


async def start(
    tmp_path: Path,
    store_url: str,
    client: httpx.AsyncClient,
    vendor: str,
    loopback: LoopbackVendor,
    settings: WorkerSettings | None = None,
    extra: str = "",
) -> Bridge:
    folder = tmp_path / "mappings"
    folder.mkdir()
    (folder / "stripe.yaml").write_bytes((s.REPO / "mappings" / "stripe.yaml").read_bytes())
    for file in mapping_files(vendor):
        text = file.read_text().replace("    base_url:", extra + "    base_url:", 1)
        (folder / file.name).write_text(text)
    environ = {
        "STRIPE_WEBHOOK_SECRET": s.SECRET,
        "PAGENT_API_KEY": "pk_loopback",
        "SCANOVA_API_KEY": "sk_scan_loopback",
        "CONDUCTRICS_API_KEY": "api-loopback",
        f"{vendor.upper()}_BASE_URL": loopback.url,
    }
    config = load_config(folder, environ)
    store = await open_store(store_url)
    metrics = Metrics()
    worker = Worker(store, config.destinations, client, settings, metrics=metrics)
    return Bridge(store, Ingestor(config, store, recent=worker.recent), worker, metrics)


@pytest.mark.parametrize("body", ODD_2XX.values(), ids=list(ODD_2XX))
@pytest.mark.parametrize("vendor", VENDORS)
async def test_a_2xx_answer_bridge_cannot_read_is_delivered_once_and_kept(
    tmp_path: Path,
    store_url: str,
    client: httpx.AsyncClient,
    vendor: str,
    body: tuple[int, bytes],
) -> None:
    status, content = body
    loopback = LoopbackVendor(lambda request: Answer(status, content)).start()
    bridge = await start(tmp_path, store_url, client, vendor, loopback)
    try:
        await bridge.receive("evt_odd_answer")
        assert await bridge.worker.run_once() == 1
        [attempt] = await bridge.attempts("evt_odd_answer")
        expected = "unverified" if vendor == "conductrics" else "delivered"
        assert (attempt.outcome, attempt.http_status) == (expected, status)
        [view] = await bridge.store.list_deliveries(status=None, destination=None, limit=10)
        assert (view.status, view.attempts) == ("delivered", 1)
        kept = attempt.answer or ""
        assert "\x00" not in kept
        assert len(kept) <= 1000
        if vendor == "conductrics":
            assert kept.startswith("unreadable answer, taken as accepted")
            assert view.last_answer == kept  # what `deliveries list` shows
        if content.startswith(b"<html>"):
            assert "Thanks!" in kept
        trace = await bridge.store.event_trace("stripe", "evt_odd_answer")
        assert trace is not None
        assert f"{expected:12} HTTP {status}" in trace_text(trace)  # `bridge events show`
        labels = {"destination": vendor, "vendor": vendor, "outcome": expected}
        assert bridge.metrics.registry.get_sample_value("bridge_deliveries_total", labels) == 1
        await asyncio.sleep(0.05)
        assert await bridge.worker.run_once() == 0
        assert len(loopback.received) == 1
    finally:
        loopback.stop()
        await bridge.store.close()


# Conductrics sends one request per visitor: one batch, several requests -------------------

FAST_RETRY = WorkerSettings(
    lease_seconds=3, retry=RetryPolicy(base_seconds=0.01, max_delay_seconds=0.02)
)
SHORT_TIMEOUT = "    timeout_seconds: 0.5\n"


def rewarding(hang_for: str | None = None) -> Callable[[Received], Answer]:
    """Conductrics crediting every goal; the first request of visitor `hang_for` hangs."""
    hung: list[str] = []

    def answer(request: Received) -> Answer:
        visitor = parse_qs(urlsplit(request.path).query)["vid"][0]
        if visitor == hang_for and not hung:
            hung.append(visitor)
            return Answer(delay=1.5)
        items = [{"g": c["g"], "rs": [{"v": 1}]} for c in request.json()["commands"]]
        return Answer(200, b'{"status": 200, "data": {"items": %s}}' % orjson.dumps(items))

    return answer


def visitors(requests: Sequence[Received]) -> list[str]:
    return sorted(parse_qs(urlsplit(r.path).query)["vid"][0] for r in requests)


async def test_one_request_of_a_batch_timing_out_resends_only_its_own_conversions(
    tmp_path: Path, store_url: str, client: httpx.AsyncClient
) -> None:
    loopback = LoopbackVendor(rewarding(hang_for="v-slow")).start()
    bridge = await start(
        tmp_path, store_url, client, "conductrics", loopback, FAST_RETRY, SHORT_TIMEOUT
    )
    try:
        for visitor in ("v-a", "v-slow", "v-b"):
            await bridge.receive(f"evt_{visitor}", conductrics_vid=visitor)
        assert await bridge.worker.run_once() == 3
        assert visitors(loopback.received) == ["v-a", "v-b", "v-slow"]
        assert await bridge.states() == {
            "evt_v-a": ("delivered", 1),
            "evt_v-b": ("delivered", 1),
            "evt_v-slow": ("pending", 1),
        }
        await asyncio.sleep(0.1)
        assert await bridge.worker.run_once() == 1
        assert visitors(loopback.received) == ["v-a", "v-b", "v-slow", "v-slow"]
        assert visitors(loopback.acknowledged) == ["v-a", "v-b", "v-slow"]  # each credited once
    finally:
        loopback.stop()
        await bridge.store.close()


async def test_a_request_whose_record_fails_does_not_undo_the_others(
    tmp_path: Path, store_url: str, client: httpx.AsyncClient
) -> None:
    loopback = LoopbackVendor(rewarding()).start()
    bridge = await start(tmp_path, store_url, client, "conductrics", loopback, FAST_RETRY)
    try:
        for visitor in ("v-a", "v-unrecorded", "v-b"):
            await bridge.receive(f"evt_{visitor}", conductrics_vid=visitor)
        views = await bridge.store.list_deliveries(status=None, destination=None, limit=10)
        [unrecorded] = [v.id for v in views if v.event_id == "evt_v-unrecorded"]
        real_record = bridge.store.record

        async def down_for_one(owner: str, attempts: Sequence[AttemptRecord]) -> None:
            if any(a.delivery_id == unrecorded for a in attempts):
                raise StoreUnavailable("connection lost")
            await real_record(owner, attempts)

        bridge.store.record = down_for_one  # type: ignore[method-assign]
        await bridge.worker.run_once()
        assert await bridge.states() == {
            "evt_v-a": ("delivered", 1),
            "evt_v-b": ("delivered", 1),
            "evt_v-unrecorded": ("pending", 0),  # its lease runs out: sent again, at least once
        }
        await asyncio.sleep(3.1)
        bridge.store.record = real_record  # type: ignore[method-assign]
        assert await bridge.worker.run_once() == 1
        assert visitors(loopback.received) == ["v-a", "v-b", "v-unrecorded", "v-unrecorded"]
    finally:
        loopback.stop()
        await bridge.store.close()
