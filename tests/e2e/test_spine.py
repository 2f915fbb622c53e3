"""The whole path over real sockets: signed Stripe webhook -> bridge serve -> loopback pagent."""

from __future__ import annotations

import time

import httpx
import orjson
import pytest

from tests.support import stripe as s
from tests.support.process import BridgeProcess
from tests.support.vendor import Answer, LoopbackVendor
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow


def send(
    bridge: BridgeProcess, payload: dict[str, object], secret: str = s.SECRET
) -> dict[str, object]:
    raw, headers = s.signed(payload, secret)
    response = bridge.post("/webhooks/stripe", raw, headers)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def deliveries(bridge: BridgeProcess, *args: str) -> list[dict[str, object]]:
    result = bridge.cli("deliveries", "list", "--json", *args)
    assert result.returncode == 0, result.stderr
    listed: list[dict[str, object]] = orjson.loads(result.stdout)
    return listed


def test_a_paid_checkout_reaches_pagent_exactly_as_documented(
    bridge_process: BridgeProcess, vendor: LoopbackVendor
) -> None:
    bridge_process.start()
    payload = s.event("checkout.session.completed", event_id="evt_e2e_checkout")
    assert send(bridge_process, payload) == {
        "status": "accepted",
        "event_id": "evt_e2e_checkout",
        "deliveries": 1,
    }
    [received] = vendor.wait_for(1, acknowledged=True)
    assert received.method == "POST"
    assert received.path == "/v1/conversions"
    assert received.headers["authorization"] == "Bearer pk_test_loopback"
    assert received.headers["content-type"] == "application/json"
    assert received.json() == {
        "events": [
            {
                "session_id": "s_8f14e45fceea167a",
                "user_id": "u_c9f0f895fb98ab91",
                "conversion_id": "0f8fad5b-d9cb-469f-a165-70867728950e",
                "label": "purchase",
                "revenue": 2499,
                "time": payload["created"] * 1000,
            }
        ]
    }
    [delivery] = wait_until(lambda: deliveries(bridge_process, "--status", "delivered"))
    assert (delivery["event_id"], delivery["attempts"], delivery["last_status"]) == (
        "evt_e2e_checkout",
        1,
        200,
    )


def test_the_same_event_delivered_twice_reaches_pagent_once(
    bridge_process: BridgeProcess, vendor: LoopbackVendor
) -> None:
    bridge_process.start()
    payload = s.event("checkout.session.completed", event_id="evt_e2e_twice")
    assert send(bridge_process, payload)["status"] == "accepted"
    assert send(bridge_process, payload)["status"] == "duplicate"
    # Stripe also reports the same payment as payment_intent.succeeded: still one conversion.
    payment = s.event("payment_intent.succeeded", id=payload["data"]["object"]["payment_intent"])
    assert send(bridge_process, payment)["status"] == "duplicate"
    vendor.wait_for(1, acknowledged=True)
    time.sleep(0.5)  # several worker polls: nothing more may arrive
    assert len(list(vendor.events())) == 1


@pytest.mark.parametrize(
    "case", ["wrong secret", "tampered body", "stale timestamp", "missing header"]
)
def test_requests_that_are_not_genuine_get_401_and_store_nothing(
    bridge_process: BridgeProcess, vendor: LoopbackVendor, case: str
) -> None:
    bridge_process.start()
    raw = s.body(s.event("checkout.session.completed"))
    headers = {"Stripe-Signature": s.signature(raw)}
    if case == "wrong secret":
        headers["Stripe-Signature"] = s.signature(raw, "whsec_not_ours")
    elif case == "tampered body":
        raw = raw.replace(b"2499", b"9999")
    elif case == "stale timestamp":
        headers["Stripe-Signature"] = s.signature(raw, s.SECRET, int(time.time()) - 301)
    else:
        headers = {}
    response = bridge_process.post("/webhooks/stripe", raw, headers)
    assert response.status_code == 401
    assert bridge_process.rows("SELECT COUNT(*) FROM events") == [(0,)]
    assert vendor.received == []


def test_pagent_failing_twice_then_succeeding_gets_the_conversion_once(
    bridge_process: BridgeProcess, vendor: LoopbackVendor
) -> None:
    vendor.script(Answer(500, b'{"error": "internal"}'), Answer(500, b'{"error": "internal"}'))
    bridge_process.start()
    send(bridge_process, s.event("checkout.session.completed", event_id="evt_e2e_flaky"))
    [delivery] = wait_until(lambda: deliveries(bridge_process, "--status", "delivered"))
    assert delivery["attempts"] == 3
    time.sleep(0.5)  # several worker polls: a delivered conversion is never sent again
    first, second, third = (r.json() for r in vendor.received[:3])
    assert len(vendor.received) == 3
    assert first == second == third  # the same conversion, answered 500, 500, then 200


def test_pagent_refusing_a_conversion_leaves_it_dead_with_pagents_message(
    bridge_process: BridgeProcess, vendor: LoopbackVendor
) -> None:
    vendor.script(Answer(400, b'{"error": "conversion_id is not a configured goal"}'))
    bridge_process.start()
    send(bridge_process, s.event("checkout.session.completed", event_id="evt_e2e_refused"))
    [dead] = wait_until(lambda: deliveries(bridge_process, "--status", "dead"))
    assert dead["last_answer"] == 'HTTP 400: {"error": "conversion_id is not a configured goal"}'
    time.sleep(0.5)
    assert len(vendor.received) == 1  # a 400 is never retried


@pytest.mark.parametrize(
    ("currency", "stripe_amount", "pagent_revenue"),
    [("jpy", 5000, 5000), ("kwd", 12340, 12340), ("usd", 2499, 2499)],
)
def test_amounts_reach_pagent_in_the_currencys_minor_units(
    bridge_process: BridgeProcess,
    vendor: LoopbackVendor,
    currency: str,
    stripe_amount: int,
    pagent_revenue: int,
) -> None:
    bridge_process.start()
    send(
        bridge_process,
        s.event("checkout.session.completed", currency=currency, amount_total=stripe_amount),
    )
    vendor.wait_for(1, acknowledged=True)
    assert [e["revenue"] for e in vendor.events()] == [pagent_revenue]


def test_an_unknown_currency_is_recorded_unmapped_and_never_sent(
    bridge_process: BridgeProcess, vendor: LoopbackVendor
) -> None:
    bridge_process.start()
    body = send(
        bridge_process,
        s.event("checkout.session.completed", event_id="evt_e2e_xyz", currency="xyz"),
    )
    assert body["status"] == "unmapped"
    assert "unknown currency 'XYZ'" in str(body["reason"])
    assert bridge_process.rows("SELECT outcome FROM events WHERE event_id = 'evt_e2e_xyz'") == [
        ("unmapped",)
    ]
    time.sleep(0.3)
    assert vendor.received == []


def test_a_missing_vendor_key_makes_deliveries_wait_not_vanish(
    bridge_process: BridgeProcess, vendor: LoopbackVendor
) -> None:
    bridge_process.env.pop("PAGENT_API_KEY")
    bridge_process.start()
    ready = bridge_process.cli("check")
    assert "PAGENT_API_KEY is not set" in ready.stdout
    send(bridge_process, s.event("checkout.session.completed", event_id="evt_e2e_wait"))
    readiness = httpx.get(f"{bridge_process.admin_url}/readyz").json()
    assert any("PAGENT_API_KEY" in w for w in readiness["warnings"])
    time.sleep(0.5)
    assert vendor.received == []
    bridge_process.stop()
    bridge_process.env["PAGENT_API_KEY"] = "pk_test_loopback"
    bridge_process.start()
    vendor.wait_for(1, acknowledged=True)
