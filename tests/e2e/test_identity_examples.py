"""The three identity examples as a user deploys them, over real sockets: the example copied
next to its shipped files, `bridge serve` on a real SQLite file, the visitor's beacon to
`POST /identify/{ledger}`, then the sender's signed webhook (a sample of
`mappings/samples/`), and exactly what the loopback vendor receives."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson
import pytest
import yaml

from tests.support import stripe as s
from tests.support.process import BridgeProcess
from tests.support.senders import SECRET, SIGNERS
from tests.support.vendor import Answer, LoopbackVendor, Received

pytestmark = pytest.mark.slow

MAPPINGS = s.REPO / "mappings"
EXAMPLES = MAPPINGS / "examples"
PUBLIC_URL = "https://bridge.example.com"

SETUPS = {
    "identity-payment-link-to-pagent": [MAPPINGS / "stripe.yaml", MAPPINGS / "pagent.yaml"],
    "identity-hubspot-form-to-convert": [EXAMPLES / "convert.yaml"],
    "identity-renewal-to-conductrics": [MAPPINGS / "stripe.yaml", EXAMPLES / "conductrics.yaml"],
}
"""Each example and the shipped files its comment says to copy beside it."""

SECRETS = {
    "HUBSPOT_CLIENT_SECRET": SECRET,
    "HUBSPOT_PUBLIC_URL": PUBLIC_URL,
    "CONDUCTRICS_API_KEY": "api-loopback",
}

PAGENT_IDS = {
    "session_id": "s_3c59dc048e885024",
    "user_id": "u_a87ff679a2f3e71d",
    "conversion_id": "0f8fad5b-d9cb-469f-a165-70867728950e",
}
CONVERT_IDS = {"visitor_id": "1741943912345-0.7391", "bucketing": {"100127238": "1001186427"}}


def deploy(tmp_path: Path, example: str, env: dict[str, str]) -> BridgeProcess:
    """`bridge serve` with the example and its files in its mappings directory."""
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    for path in (EXAMPLES / f"{example}.yaml", *SETUPS[example]):
        shutil.copy(path, mappings)
    return BridgeProcess(tmp_path, {"BRIDGE_MAPPINGS_DIR": str(mappings), **SECRETS, **env})


def beacon(bridge: BridgeProcess, ledger: str, origin: str, ref: str, ids: Any) -> None:
    """What identify.js posts from the visitor's page (a `sendBeacon` body)."""
    body = orjson.dumps({"v": 1, "ref": ref, "ids": ids})
    headers = {"Origin": origin, "Content-Type": "text/plain;charset=UTF-8"}
    answer = bridge.post(f"/identify/{ledger}", body, headers)
    assert answer.status_code == 204, answer.text


def accepted(answer: httpx.Response) -> None:
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "accepted", answer.json()


def stripe_sends(bridge: BridgeProcess, sample: str, **fields: Any) -> dict[str, Any]:
    """The sample as Stripe sends it now, signed; returns the event."""
    event = s.event(sample, created=int(time.time()), **fields)
    accepted(bridge.post("/webhooks/stripe", *s.signed(event)))
    return event


def reference(sample: str) -> str:
    """The reference the sample's checkout carries (what the Payment Link added)."""
    ref: str = s.sample(sample)["data"]["object"]["client_reference_id"]
    return ref


@pytest.mark.parametrize("example", SETUPS)
def test_the_example_passes_bridge_check_without_a_warning(tmp_path: Path, example: str) -> None:
    checked = deploy(tmp_path, example, {}).cli("check")
    assert checked.returncode == 0, checked.stderr
    assert "warning" not in checked.stdout + checked.stderr
    assert checked.stdout.splitlines()[-1].startswith("ok: ")


def test_docs_identity_md_shows_each_example_as_it_is() -> None:
    """The "Three setups" section's mappings are the example files, comments aside."""
    page = (s.REPO / "docs" / "identity.md").read_text()
    section = page.split("\n## Three setups\n", 1)[1].split("\n## ", 1)[0]
    shown = [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", section, re.S)]
    assert shown == [yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text()) for name in SETUPS]


def test_a_payment_link_checkout_reaches_pagent_with_the_visitors_ids(
    tmp_path: Path, vendor: LoopbackVendor
) -> None:
    bridge = deploy(tmp_path, "identity-payment-link-to-pagent", {"PAGENT_BASE_URL": vendor.url})
    sample = "checkout.session.completed-payment-link"
    try:
        bridge.start()
        beacon(bridge, "web", "https://shop.example.com", reference(sample), {"pagent": PAGENT_IDS})
        paid = stripe_sends(bridge, sample)
        vendor.wait_for(1, acknowledged=True)
        # A checkout your own code created carries pagent's session itself: that one wins.
        own = stripe_sends(
            bridge,
            sample,
            payment_intent="pi_3SAbOwnCheckout0000000001",
            metadata={"pagent_session_id": "s_from_metadata"},
        )
        [first, second] = vendor.wait_for(2, acknowledged=True)
        assert first.path == second.path == "/v1/conversions"
        purchase = {**PAGENT_IDS, "label": "purchase", "revenue": 3900}
        assert [first.json(), second.json()] == [
            {"events": [{**purchase, "time": paid["created"] * 1000}]},
            {
                "events": [
                    {**purchase, "session_id": "s_from_metadata", "time": own["created"] * 1000}
                ]
            },
        ]
    finally:
        bridge.stop()


def test_a_hubspot_form_submission_reaches_convert_with_the_visitors_bucketing(
    tmp_path: Path,
) -> None:
    vendor = LoopbackVendor(convert_accepts).start()
    bridge = deploy(tmp_path, "identity-hubspot-form-to-convert", {"CONVERT_BASE_URL": vendor.url})
    try:
        bridge.start()
        body = (MAPPINGS / "samples" / "hubspot" / "workflow.form-submitted.json").read_bytes()
        ref = orjson.loads(body)["bridge_ref"]
        beacon(bridge, "leads", "https://www.example.com", ref, {"convert": CONVERT_IDS})
        stamp = str(int(time.time() * 1000))
        signed = SIGNERS["hubspot"].sign(body, stamp, f"{PUBLIC_URL}/webhooks/hubspot-forms")
        headers = {**signed.headers, "content-type": "application/json"}
        accepted(bridge.post("/webhooks/hubspot-forms", body, headers))
        [request] = vendor.wait_for(1, acknowledged=True)
        assert request.path == "/v1/track/10012345/10056789"
        assert request.json() == {
            "accountId": "10012345",
            "projectId": "10056789",
            "enrichData": True,
            "visitors": [
                {
                    "visitorId": "1741943912345-0.7391",
                    "events": [
                        {
                            "eventType": "conversion",
                            "data": {
                                "goalId": "100037226",
                                "bucketingData": {"100127238": "1001186427"},
                            },
                        }
                    ],
                }
            ],
        }
    finally:
        bridge.stop()
        vendor.stop()


def test_a_renewal_naming_only_the_customer_reaches_conductrics_through_the_first_checkout(
    tmp_path: Path,
) -> None:
    vendor = LoopbackVendor(conductrics_credits).start()
    env = {"CONDUCTRICS_BASE_URL": vendor.url}
    bridge = deploy(tmp_path, "identity-renewal-to-conductrics", env)
    sample = "checkout.session.completed-payment-link-subscription"
    try:
        bridge.start()
        ids = {"conductrics": {"vid": "lana-123"}}
        beacon(bridge, "subscribers", "https://shop.example.com", reference(sample), ids)
        first = stripe_sends(bridge, sample)
        vendor.wait_for(1, acknowledged=True)  # a month before the renewal
        renewal = stripe_sends(bridge, "invoice.paid-renewal")
        assert "client_reference_id" not in renewal["data"]["object"]
        assert renewal["data"]["object"]["customer"] == first["data"]["object"]["customer"]
        requests = vendor.wait_for(2, acknowledged=True)
        goals = "/ac-example/v3/agent-api"
        visitor = {"apikey": ["api-loopback"], "session": ["lana-123"], "vid": ["lana-123"]}
        called = [(urlsplit(r.path), r.body) for r in requests]
        assert [(url.path, parse_qs(url.query), body) for url, body in called] == [
            (goals, visitor, b'{"commands":[{"g":"g-subscribe","v":19.9}]}'),
            (goals, visitor, b'{"commands":[{"g":"g-renewal","v":19.9}]}'),
        ]
    finally:
        bridge.stop()
        vendor.stop()


def convert_accepts(request: Received) -> Answer:
    return Answer(200, b'{"code": 200, "message": "Tracking events accepted"}')


def conductrics_credits(request: Received) -> Answer:
    """Conductrics' answer crediting each goal of the request."""
    goals = [command["g"] for command in request.json()["commands"]]
    items = [{"g": goal, "rs": [{"a": "a-subscription-test", "v": 1}]} for goal in goals]
    return Answer(200, orjson.dumps({"status": 200, "data": {"sels": {}, "items": items}}))
