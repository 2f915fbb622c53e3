"""What a vendor receives on its socket for a signed Stripe event, through the shipped example.

In one process: the example mapping for the vendor (mappings/examples/) next to the shipped
Stripe source, the real ingest path into a SQLite file, and the delivery worker sending over
HTTP to a loopback server standing in for the vendor.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bridge.delivery.worker import Worker, WorkerSettings
from bridge.mapping import load_config
from bridge.sources import InboundRequest
from bridge.store.base import EventTrace
from bridge.store.sqlite import SQLiteStore
from bridge.use_cases.ingest import Ingestor
from bridge.use_cases.trace import trace_text
from tests.support import stripe as s
from tests.support.vendor import LoopbackVendor

METADATA = s.sample("checkout.session.completed")["data"]["object"]["metadata"]


@dataclass
class Wire:
    """The example for one vendor, taking signed Stripe events and delivering them."""

    ingestor: Ingestor
    worker: Worker
    store: SQLiteStore
    vendor: LoopbackVendor

    async def receive(self, **fields: Any) -> dict[str, Any]:
        """The webhook answer for a `checkout.session.completed` with `fields` set."""
        raw, headers = s.signed(s.event("checkout.session.completed", **fields))
        lowered = {name.lower(): value for name, value in headers.items()}
        reply = await self.ingestor.receive("stripe", InboundRequest("POST", "/", lowered, raw))
        assert reply.status == 200, reply.body
        return reply.body

    async def trace(self, event_id: str) -> EventTrace:
        trace = await self.store.event_trace("stripe", event_id)
        assert trace is not None
        return trace


@asynccontextmanager
async def wire(tmp_path: Path, vendor_name: str, options: str = "") -> AsyncIterator[Wire]:
    """`options`: YAML lines added to the example's destination entry."""
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    examples = s.REPO / "mappings" / "examples"
    shutil.copy(s.REPO / "mappings" / "stripe.yaml", mappings)
    shutil.copy(examples / f"stripe-to-{vendor_name}.yaml", mappings)
    text = (examples / f"{vendor_name}.yaml").read_text()
    (mappings / f"{vendor_name}.yaml").write_text(text + options)
    vendor = LoopbackVendor().start()
    config = load_config(
        mappings,
        {
            "STRIPE_WEBHOOK_SECRET": s.SECRET,
            "SCANOVA_API_KEY": "sk_scan_loopback",
            f"{vendor_name.upper()}_BASE_URL": vendor.url,
        },
    )
    store = await SQLiteStore.open(tmp_path / "bridge.db")
    client = httpx.AsyncClient()
    worker = Worker(store, config.destinations, client, WorkerSettings(shutdown_grace_seconds=0.2))
    try:
        yield Wire(Ingestor(config, store, recent=worker.recent), worker, store, vendor)
    finally:
        await worker.stop()
        await client.aclose()
        await store.close()
        vendor.stop()


# Scanova ---------------------------------------------------------------------------------


async def test_scanova_receives_the_scan_session_id_exactly_as_it_issued_it(
    tmp_path: Path,
) -> None:
    issued = "550E8400E29B41D4A716446655440000"
    async with wire(tmp_path, "scanova") as bridge:
        answer = await bridge.receive(metadata={**METADATA, "scanova_scan_session_id": issued})
        assert answer["status"] == "accepted", answer
        assert await bridge.worker.run_once() == 1
        [request] = bridge.vendor.received
        assert b'"scan_session_id":"550E8400E29B41D4A716446655440000"' in request.body


# Convert ---------------------------------------------------------------------------------


async def test_convert_gets_the_conversion_when_one_segment_is_bad(tmp_path: Path) -> None:
    """Convert's guide builds `country: ''` for an unknown country; a lower-case code and a key
    Convert does not know are what a browser or a mapping may hand over."""
    async with wire(tmp_path, "convert") as bridge:
        guide = '{"browser": "CH", "devices": ["DESK"], "country": "", "campaign": ""}'
        unknown_country = await bridge.receive(
            payment_intent="pi_wire_1", metadata={**METADATA, "convert_segments": guide}
        )
        assert unknown_country == {
            "status": "accepted",
            "event_id": unknown_country["event_id"],
            "deliveries": 1,
        }
        odd = '{"browser": "CH", "country": "us", "language": "en"}'
        lower_case = await bridge.receive(
            payment_intent="pi_wire_2",
            metadata={**METADATA, "convert_visitor_id": "visitor-2", "convert_segments": odd},
        )
        assert lower_case["status"] == "accepted"
        warning = (
            "destination 'convert' takes it changed: segments: country 'us' sent as 'US';"
            " Convert has no segment 'language': left out"
        )
        assert lower_case["reason"].startswith(f"rule 'stripe-checkout-convert': {warning}")
        assert await bridge.worker.run_once() == 2
        [request] = bridge.vendor.received
        assert request.path == "/v1/track/10012345/10056789"
        sent = [(v["visitorId"], v["segments"]) for v in request.json()["visitors"]]
        assert sent == [
            ("visitor-abc123", {"browser": "CH", "devices": ["DESK"]}),
            ("visitor-2", {"browser": "CH", "country": "US"}),
        ]
        shown = trace_text(await bridge.trace(lower_case["event_id"]))
        [rule_line] = [line for line in shown.splitlines() if "stripe-checkout-convert:" in line]
        assert "converted" in rule_line
        assert warning in rule_line
        assert "delivered after 1 attempt" in shown


async def test_convert_gets_the_sdk_key_as_one_segment_of_the_path(tmp_path: Path) -> None:
    async with wire(tmp_path, "convert", "    sdk_key: 10012345/10056789\n") as bridge:
        assert (await bridge.receive())["status"] == "accepted"
        assert await bridge.worker.run_once() == 1
        [request] = bridge.vendor.received
        assert request.path == "/v1/track/10012345%2F10056789"
