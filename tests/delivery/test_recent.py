"""Conversions handed from ingest to the worker in one process are the stored ones, exactly."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest

from bridge.delivery.recent import RecentConversions, decode
from bridge.mapping import load_config
from bridge.sources import InboundRequest
from bridge.store.base import NewEvent, Stored
from bridge.use_cases.ingest import Ingestor
from bridge.vocabulary.money import Money
from tests.support import stripe as s
from tests.support.conversions import conversion
from tests.support.mappings import ENVIRON

EXAMPLES = [
    s.REPO / "mappings" / "stripe-to-pagent.yaml",
    *sorted((s.REPO / "mappings" / "examples").glob("stripe-to-*.yaml")),
]
ENV = {**ENVIRON, "SCANOVA_API_KEY": "k", "CONDUCTRICS_API_KEY": "k"}


class RecordingStore:
    """Accepts every event at once and keeps what it was asked to store."""

    def __init__(self) -> None:
        self.events: list[NewEvent] = []

    async def ingest(self, events: Sequence[NewEvent]) -> list[Stored]:
        self.events.extend(events)
        return [Stored(event.outcome, len(event.deliveries)) for event in events]


def mappings_for(example: Path, folder: Path) -> Path:
    """The shipped Stripe source, `example`'s rules and the destination file beside them."""
    folder.mkdir()
    shutil.copy(s.REPO / "mappings" / "stripe.yaml", folder)
    shutil.copy(example, folder)
    shutil.copy(example.with_name(example.name.removeprefix("stripe-to-")), folder)
    return folder


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
async def test_what_ingest_keeps_is_what_the_stored_bytes_decode_to(
    tmp_path: Path, example: Path
) -> None:
    config = load_config(mappings_for(example, tmp_path / "mappings"), ENV)
    store = RecordingStore()
    recent = RecentConversions()
    ingestor = Ingestor(config, store, recent=recent)
    raw, headers = s.signed(s.sample("checkout.session.completed"))
    lowered = {k.lower(): v for k, v in headers.items()}
    reply = await ingestor.receive("stripe", InboundRequest("POST", "/", lowered, raw))
    assert reply.status == 200, reply.body
    [delivery] = store.events[0].deliveries
    assert len(recent) == 1
    kept = recent.decode(delivery.conversion)
    assert len(recent) == 0  # it was the kept object, handed over once
    decoded = decode(delivery.conversion)
    assert kept == decoded
    assert orjson.dumps(kept.to_dict()) == delivery.conversion
    destination = config.destinations[delivery.destination]
    assert _wire(destination.requests([kept])) == _wire(destination.requests([decoded]))


def _wire(requests: Sequence[Any]) -> list[tuple[str, str, bytes]]:
    return [(r.method, r.url, r.body) for r in requests]


def test_every_field_kind_survives_as_the_stored_bytes_would_decode() -> None:
    rich = conversion(
        session_id="s_1",
        goal_id="paid",
        exposure={"exp_1": "var_b"},
        vendor_fields={"segments": {"plan": ["pro", "annual"], "country": "DE"}},
        properties=[{"sku": "é-1", "qty": [1, 2]}],
        revenue=Money(1999, "EUR"),
        transaction_id="pi_1",
        consent="granted",
    )
    encoded = rich.to_json()
    recent = RecentConversions()
    recent.keep(encoded, rich)
    assert recent.decode(encoded) == decode(encoded) == rich


def test_it_holds_at_most_its_capacity_and_the_oldest_decodes_again() -> None:
    recent = RecentConversions(capacity=2)
    items = [conversion(n, session_id=f"s_{n}") for n in range(3)]
    encodings = [c.to_json() for c in items]
    for encoded, kept in zip(encodings, items, strict=True):
        recent.keep(encoded, kept)
    assert len(recent) == 2
    assert recent.decode(encodings[0]) == items[0]  # forgotten, so decoded from the bytes
    assert len(recent) == 2
    assert recent.decode(encodings[2]) is items[2]
    assert len(recent) == 1
