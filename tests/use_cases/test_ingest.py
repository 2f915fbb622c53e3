from __future__ import annotations

import gc
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest

from bridge.mapping import load_config
from bridge.sources import InboundRequest
from bridge.sources.stripe import StripeSource
from bridge.store.base import Ingests, NewEvent, Stored
from bridge.store.sqlite import SQLiteStore
from bridge.use_cases.ingest import Ingestor, Reply
from tests.support import stripe as s
from tests.support.mappings import ENVIRON, example_config
from tests.support.outbox import HeldDelivery, HeldEvent, MemoryOutbox
from tests.support.senders import SENDERS


class Harness:
    """The use case on the in-memory outbox, or on `store` when one is given."""

    def __init__(self, store: Ingests | None = None, environ: dict[str, str] = ENVIRON) -> None:
        self.outbox = MemoryOutbox()
        self.wakes = 0
        config = load_config(s.REPO / "mappings", environ)
        self.ingestor = Ingestor(config, store or self.outbox, on_new_deliveries=self._wake)

    def _wake(self) -> None:
        self.wakes += 1

    async def send(
        self,
        payload: dict[str, Any] | bytes,
        headers: dict[str, str] | None = None,
        source: str = "stripe",
    ) -> Reply:
        if isinstance(payload, bytes):
            raw, signed = payload, {"Stripe-Signature": s.signature(payload)}
        else:
            raw, signed = s.signed(payload)
        lowered = {k.lower(): v for k, v in (signed if headers is None else headers).items()}
        return await self.ingestor.receive(
            source, InboundRequest("POST", f"http://b/webhooks/{source}", lowered, raw)
        )

    @property
    def events(self) -> list[HeldEvent]:
        return list(self.outbox.events.values())

    @property
    def deliveries(self) -> list[HeldDelivery]:
        return list(self.outbox.deliveries.values())


@pytest.fixture
def harness() -> Harness:
    return Harness()


async def test_a_paid_checkout_is_accepted_and_stored_with_its_delivery(harness: Harness) -> None:
    payload = s.event("checkout.session.completed", event_id="evt_paid")
    reply = await harness.send(payload)
    assert (reply.status, reply.body) == (
        200,
        {"status": "accepted", "event_id": "evt_paid", "deliveries": 1},
    )
    assert [(e.outcome, e.event.raw) for e in harness.events] == [("accepted", s.body(payload))]
    [delivery] = harness.deliveries
    [planned] = harness.events[0].event.deliveries
    assert (delivery.destination, planned.rule) == ("pagent", "stripe-checkout-paid")
    assert orjson.loads(delivery.conversion)["revenue"] == {"minor": 2499, "currency": "USD"}
    assert harness.wakes == 1


@pytest.mark.parametrize(
    "event_type",
    ["checkout.session.async_payment_succeeded", "payment_intent.succeeded", "invoice.paid"],
)
async def test_every_shipped_example_event_converts(harness: Harness, event_type: str) -> None:
    reply = await harness.send(s.event(event_type))
    assert reply.body["status"] == "accepted", reply.body


async def test_an_event_no_rule_wants_is_ignored_but_kept_for_replay(harness: Harness) -> None:
    payload = {
        "id": "evt_customer",
        "object": "event",
        "type": "customer.created",
        "created": 1763800000,
        "data": {"object": {}},
    }
    reply = await harness.send(payload)
    assert reply.body == {
        "status": "ignored",
        "event_id": "evt_customer",
        "reason": "no rule for 'stripe' events of type 'customer.created'",
    }
    assert [(e.outcome, e.event.raw is not None) for e in harness.events] == [("ignored", True)]
    assert harness.wakes == 0


async def test_an_unpaid_checkout_is_ignored_with_the_filter_that_said_no(harness: Harness) -> None:
    reply = await harness.send(s.event("checkout.session.completed", payment_status="unpaid"))
    assert reply.body["status"] == "ignored"
    assert reply.body["reason"] == (
        "rule 'stripe-checkout-paid': when"
        " `data.object.payment_status != 'unpaid' && data.object.mode != 'setup'` is false"
    )


async def test_missing_ids_are_unmapped_with_the_reason_and_kept(harness: Harness) -> None:
    reply = await harness.send(
        s.event("checkout.session.completed", event_id="evt_noids", metadata={})
    )
    assert reply.status == 200
    assert reply.body["status"] == "unmapped"
    assert "user_id is missing" in reply.body["reason"]
    assert "goal_id is missing" in reply.body["reason"]
    [event] = harness.events
    assert event.outcome == "unmapped"
    assert orjson.loads(event.detail)["rules"][0]["status"] == "unmapped"
    assert harness.deliveries == []


async def test_an_unknown_currency_is_unmapped_never_sent(harness: Harness) -> None:
    reply = await harness.send(s.event("checkout.session.completed", currency="xyz"))
    assert reply.body["status"] == "unmapped"
    assert "unknown currency 'XYZ'" in reply.body["reason"]
    assert harness.deliveries == []


async def test_a_redelivery_is_a_duplicate(harness: Harness) -> None:
    payload = s.event("checkout.session.completed", event_id="evt_twice")
    await harness.send(payload)
    reply = await harness.send(payload)
    assert reply.body == {
        "status": "duplicate",
        "event_id": "evt_twice",
        "reason": "event already received",
    }
    assert len(harness.deliveries) == 1
    assert harness.wakes == 1


async def test_one_payment_reported_by_two_events_counts_once(harness: Harness) -> None:
    checkout = s.event(
        "checkout.session.completed", event_id="evt_checkout", payment_intent="pi_shared"
    )
    payment = s.event("payment_intent.succeeded", event_id="evt_pi", id="pi_shared")
    await harness.send(checkout)
    reply = await harness.send(payment)
    assert reply.body == {
        "status": "duplicate",
        "event_id": "evt_pi",
        "reason": "conversion already recorded from event evt_checkout",
    }
    assert len(harness.deliveries) == 1


async def test_requests_that_are_not_genuine_store_nothing(harness: Harness) -> None:
    raw, headers = s.signed(s.event("checkout.session.completed"), secret="whsec_wrong")
    assert (await harness.send(raw, headers)).status == 401
    assert (await harness.send(raw, {})).status == 401
    assert (await harness.send(b"{broken")).status == 400
    assert harness.events == []


async def test_an_unknown_source_is_404(harness: Harness) -> None:
    reply = await harness.send(s.event("invoice.paid"), source="paypal")
    assert (reply.status, reply.body) == (404, {"error": "unknown source 'paypal'"})


async def test_a_source_without_its_secret_asks_the_sender_to_retry() -> None:
    waiting = Harness(environ={"PAGENT_API_KEY": "pk"})
    reply = await waiting.send(s.event("invoice.paid"))
    assert reply.status == 503
    assert reply.body == {
        "error": "source 'stripe' cannot verify webhooks yet: STRIPE_WEBHOOK_SECRET not set"
    }
    assert waiting.events == []


async def test_a_store_that_cannot_commit_answers_503(tmp_path: Path) -> None:
    store = await SQLiteStore.open(tmp_path / "b.db")
    await store.close()
    reply = await Harness(store).send(s.event("checkout.session.completed"))
    assert reply.status == 503
    assert reply.body == {"error": "storage unavailable, nothing was stored; retry later"}


async def test_a_webhook_waiting_for_its_commit_no_longer_holds_its_parsed_event() -> None:
    """Up to 64 webhooks wait for each group commit; each holding its parsed event (about 10 KB
    of objects for a 2 KB body) cost 7 to 10 % more CPU per request (docs/benchmarks.md)."""

    class Probe:
        """A store that looks, while the commit is pending, for the parsed event's dict."""

        def __init__(self) -> None:
            self.held: list[dict[str, Any]] = []

        async def ingest(self, events: Sequence[NewEvent]) -> list[Stored]:
            alive = gc.get_objects()
            self.held = [o for o in alive if type(o) is dict and o.get("id") == "evt_held"]
            return [Stored(event.outcome, len(event.deliveries)) for event in events]

    probe = Probe()
    harness = Harness(probe)
    # sent as bytes, so that no dict of the test's own has the id
    reply = await harness.send(s.body(s.event("checkout.session.completed", event_id="evt_held")))
    assert (reply.status, reply.body["status"]) == (200, "accepted")
    assert probe.held == []


# A verified request never gets a 500 -----------------------------------------------------


async def test_an_unforeseen_failure_parsing_a_verified_body_is_a_400_that_says_why(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def overflowing(self: object, body: bytes) -> list[object]:
        raise OverflowError("date value out of range: 0001-01-01T00:00:00+05:00")

    monkeypatch.setattr(StripeSource, "parse", overflowing)
    with caplog.at_level(logging.INFO, logger="bridge.ingest"):
        reply = await harness.send(s.event("checkout.session.completed", event_id="evt_odd"))
    assert reply.status == 400
    assert reply.body == {
        "error": "the request could not be read (OverflowError); nothing was stored"
    }
    assert harness.events == []
    [record] = [r for r in caplog.records if r.getMessage() == "webhook could not be read"]
    assert (record.levelno, record.__dict__["error_type"]) == (logging.ERROR, "OverflowError")
    assert "0001" not in str(record.__dict__)


@pytest.mark.parametrize(("field", "name"), [("id", "event id"), ("type", "event type")])
async def test_an_event_id_or_type_with_a_nul_is_refused_naming_the_field(
    harness: Harness, field: str, name: str
) -> None:
    payload = s.event("checkout.session.completed")
    payload[field] = payload[field] + "\x00"
    reply = await harness.send(payload)
    assert (reply.status, reply.body) == (
        400,
        {"error": f"the {name} holds a control character such as NUL"},
    )
    assert harness.events == []


async def test_a_body_nested_too_deeply_is_a_400_that_says_so(harness: Harness) -> None:
    raw = s.body(s.event("checkout.session.completed", metadata={"deep": "__x__"}))
    raw = raw.replace(b'"__x__"', b"[" * 1000 + b"]" * 1000)
    reply = await harness.send(raw)
    assert (reply.status, reply.body) == (400, {"error": "body is nested deeper than 64 levels"})
    assert harness.events == []


async def test_an_unmapped_webhook_is_a_warning(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="bridge.ingest"):
        reply = await harness.send(s.event("checkout.session.completed", currency="xyz"))
    assert reply.body["status"] == "unmapped"
    [record] = [r for r in caplog.records if r.getMessage() == "webhook"]
    assert record.levelno == logging.WARNING


async def test_an_accepted_webhook_stays_an_info_line(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="bridge.ingest"):
        reply = await harness.send(s.event("checkout.session.completed"))
    assert reply.body["status"] == "accepted"
    [record] = [r for r in caplog.records if r.getMessage() == "webhook"]
    assert record.levelno == logging.INFO


# Amounts: what the store cannot carry, and what is no purchase ---------------------------


async def send_example(tmp_path: Path, kind: str, body: bytes) -> tuple[Reply, MemoryOutbox]:
    """`body`, signed for real, to the shipped example mapping of sender `kind`."""
    sender = SENDERS[kind]
    [example] = (s.REPO / "mappings" / "examples").glob(f"{kind}-to-*.yaml")
    config = example_config(tmp_path, example)
    outbox = MemoryOutbox()
    url = f"http://b/webhooks/{sender.source}"
    signed = sender.sign(body, sender.now(), url)
    request = InboundRequest("POST", url + signed.query, signed.headers, body)
    return await Ingestor(config, outbox).receive(sender.source, request), outbox


@pytest.mark.parametrize(
    ("kind", "path", "value", "reason"),
    [
        ("shopify", ["total_price"], "-5.00", "negative revenue: a refund is not a purchase"),
        ("shopify", ["total_price"], -9223372036854775808, "outside the range bridge keeps"),
        ("pipedrive", ["data", "value"], 10**19, "outside the range bridge keeps"),
        ("shopify", ["total_price"], "\uff11\uff12\uff13", "not a decimal number"),
    ],
)
async def test_an_amount_that_is_no_purchase_is_unmapped_with_the_reason(
    tmp_path: Path, kind: str, path: list[str], value: object, reason: str
) -> None:
    document = orjson.loads(SENDERS[kind].sample())
    target = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    reply, outbox = await send_example(tmp_path, kind, orjson.dumps(document))
    assert reply.status == 200
    assert reply.body["status"] == "unmapped"
    assert reason in reply.body["reason"]
    assert [event.outcome for event in outbox.events.values()] == ["unmapped"]


async def test_the_shopify_example_still_converts_a_positive_total(tmp_path: Path) -> None:
    reply, outbox = await send_example(tmp_path, "shopify", SENDERS["shopify"].sample())
    assert (reply.status, reply.body["status"]) == (200, "accepted")
    assert len(outbox.deliveries) == 1
