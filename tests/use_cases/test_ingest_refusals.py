"""Data the store cannot keep is bad input (400), never an outage the sender retries for days."""

from __future__ import annotations

from collections.abc import Sequence

from bridge.mapping import load_config
from bridge.sources import InboundRequest
from bridge.store.base import NewEvent, Stored, StoreRefused
from bridge.use_cases.ingest import Ingestor
from tests.support import stripe as s
from tests.support.mappings import ENVIRON


class RefusingStore:
    """A store that cannot keep what it is given, as PostgreSQL refuses some text."""

    def __init__(self) -> None:
        self.offered: list[NewEvent] = []

    async def ingest(self, events: Sequence[NewEvent]) -> list[Stored]:
        self.offered.extend(events)
        raise StoreRefused("the event id holds a NUL character, which the store cannot keep")


async def test_data_the_store_refuses_is_answered_400_with_the_reason() -> None:
    store = RefusingStore()
    ingestor = Ingestor(load_config(s.REPO / "mappings", ENVIRON), store)
    raw, headers = s.signed(s.event("checkout.session.completed"))
    lowered = {name.lower(): value for name, value in headers.items()}
    reply = await ingestor.receive(
        "stripe", InboundRequest("POST", "http://bridge/webhooks/stripe", lowered, raw)
    )
    assert store.offered, "the event reached the store"
    assert reply.status == 400
    assert reply.body == {
        "error": "nothing was stored: the event id holds a NUL character, which the store "
        "cannot keep"
    }
