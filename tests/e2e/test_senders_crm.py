"""CRM senders over a real socket: signed request -> bridge serve -> loopback vendor.

Each test runs the sender's shipped example mapping (mappings/examples/<sender>-to-<vendor>.yaml)
with the vendor's destination file, the vendor's base URL pointed at a loopback server, and the
sender's sample payload signed (or authenticated) the way the sender does it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import shutil
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest

from tests.support.process import BridgeProcess
from tests.support.senders import fresh
from tests.support.stripe import REPO
from tests.support.vendor import Answer, LoopbackVendor, Received

pytestmark = pytest.mark.slow

SAMPLES = REPO / "mappings" / "samples"
EXAMPLES = REPO / "mappings" / "examples"


def start(tmp_path: Path, example: str, destination: Path, env: dict[str, str]) -> BridgeProcess:
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    shutil.copy(EXAMPLES / example, mappings)
    shutil.copy(destination, mappings)
    return BridgeProcess(tmp_path, {"BRIDGE_MAPPINGS_DIR": str(mappings), **env}).start()


def post_twice(bridge: BridgeProcess, path: str, body: bytes, headers: dict[str, str]) -> None:
    """The first delivery is accepted; the sender's redelivery is a duplicate."""
    first = bridge.post(path, body, headers)
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "accepted", first.json()
    again = bridge.post(path, body, headers)
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "duplicate", again.json()


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}", "Content-Type": "application/json"}


def convert_accepts(request: Received) -> Answer:
    return Answer(200, b'{"code": 200, "message": "Tracking events accepted"}')


def convert_goal_data(request: Received) -> dict[str, object]:
    [visitor] = request.json()["visitors"]
    [_, revenue_event] = visitor["events"]
    return {item["key"]: item["value"] for item in revenue_event["data"]["goalData"]}


def test_hubspot_workflow_deal_won_reaches_convert(tmp_path: Path) -> None:
    secret = "4d1c8f0e-7b2a-4c9d-9e51-2a6f3b8c0d17"
    vendor = LoopbackVendor(convert_accepts).start()
    try:
        bridge = start(
            tmp_path,
            "hubspot-to-convert.yaml",
            EXAMPLES / "convert.yaml",
            {
                "HUBSPOT_CLIENT_SECRET": secret,
                "HUBSPOT_PUBLIC_URL": "https://bridge.example.com",
                "CONVERT_BASE_URL": vendor.url,
            },
        )
        body = (SAMPLES / "hubspot" / "workflow.deal-won.json").read_bytes()
        stamp = str(int(time.time() * 1000))
        signed = b"POST" + b"https://bridge.example.com/webhooks/hubspot" + body + stamp.encode()
        signature = base64.b64encode(hmac.new(secret.encode(), signed, hashlib.sha256).digest())
        headers = {
            "X-HubSpot-Signature-v3": signature.decode(),
            "X-HubSpot-Request-Timestamp": stamp,
            "Content-Type": "application/json",
        }
        post_twice(bridge, "/webhooks/hubspot", body, headers)
        [request] = vendor.wait_for(1, acknowledged=True)
        assert request.path == "/v1/track/10012345/10056789"
        [visitor] = request.json()["visitors"]
        assert visitor["visitorId"] == "1741943912345-0.7391"
        assert convert_goal_data(request) == {"amount": 1250.0, "transactionId": "18345678901"}
        bridge.stop()
    finally:
        vendor.stop()


def test_close_opportunity_won_reaches_pagent(tmp_path: Path) -> None:
    key = "5f2b9c1e8a7d4f3b6e0c9a1d2b3c4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5"
    vendor = LoopbackVendor().start()
    try:
        bridge = start(
            tmp_path,
            "close-to-pagent.yaml",
            REPO / "mappings" / "pagent.yaml",
            {"CLOSE_WEBHOOK_SIGNATURE_KEY": key, "PAGENT_BASE_URL": vendor.url},
        )
        body = (SAMPLES / "close" / "opportunity.updated.json").read_bytes()
        stamp = str(int(time.time()))
        digest = hmac.new(bytes.fromhex(key), stamp.encode() + body, hashlib.sha256).hexdigest()
        headers = {
            "close-sig-hash": digest,
            "close-sig-timestamp": stamp,
            "Content-Type": "application/json",
        }
        post_twice(bridge, "/webhooks/close", body, headers)
        vendor.wait_for(1, acknowledged=True)
        [event] = list(vendor.events())
        assert event["session_id"] == "sess_8f14e45fceea167a"
        assert event["user_id"] == "usr_c9f0f895fb98ab91"
        assert event["conversion_id"] == "2f1b7a3e-6d0c-4c55-9a0e-3b8f5e7d9c21"
        assert event["revenue"] == 125000
        bridge.stop()
    finally:
        vendor.stop()


def test_pipedrive_deal_won_reaches_convert(tmp_path: Path) -> None:
    vendor = LoopbackVendor(convert_accepts).start()
    try:
        bridge = start(
            tmp_path,
            "pipedrive-to-convert.yaml",
            EXAMPLES / "convert.yaml",
            {
                "PIPEDRIVE_WEBHOOK_USER": "pipedrive-hooks",
                "PIPEDRIVE_WEBHOOK_PASSWORD": "s3cret-pass",
                "CONVERT_BASE_URL": vendor.url,
            },
        )
        body = fresh("pipedrive", (SAMPLES / "pipedrive" / "change.deal.json").read_bytes())
        refused = bridge.post("/webhooks/pipedrive", body, basic("pipedrive-hooks", "wrong"))
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith("Basic ")
        post_twice(bridge, "/webhooks/pipedrive", body, basic("pipedrive-hooks", "s3cret-pass"))
        [request] = vendor.wait_for(1, acknowledged=True)
        [visitor] = request.json()["visitors"]
        assert visitor["visitorId"] == "1741943912345-0.7391"
        assert convert_goal_data(request) == {"amount": 1250.5, "transactionId": "1482"}
        bridge.stop()
    finally:
        vendor.stop()


def conductrics_credits(request: Received) -> Answer:
    items = [{"g": c["g"], "rs": [{"a": "a-pricing", "v": 1}]} for c in request.json()["commands"]]
    return Answer(200, orjson.dumps({"status": 200, "data": {"sels": {}, "items": items}}))


def test_chargebee_first_payment_reaches_conductrics(tmp_path: Path) -> None:
    vendor = LoopbackVendor(conductrics_credits).start()
    try:
        bridge = start(
            tmp_path,
            "chargebee-to-conductrics.yaml",
            EXAMPLES / "conductrics.yaml",
            {
                "CHARGEBEE_WEBHOOK_USER": "chargebee",
                "CHARGEBEE_WEBHOOK_PASSWORD": "Zq8-vN2_kL5",
                "CONDUCTRICS_API_KEY": "api-loopback",
                "CONDUCTRICS_BASE_URL": vendor.url,
            },
        )
        payload = orjson.loads(
            fresh("chargebee", (SAMPLES / "chargebee" / "payment_succeeded.json").read_bytes())
        )
        payload["occurred_at"] = int(time.time())  # inside Conductrics' credit window
        body = orjson.dumps(payload)
        missing = bridge.post("/webhooks/chargebee", body, {"Content-Type": "application/json"})
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"].startswith("Basic ")
        post_twice(bridge, "/webhooks/chargebee", body, basic("chargebee", "Zq8-vN2_kL5"))
        [request] = vendor.wait_for(1, acknowledged=True)
        url = urlsplit(request.path)
        assert url.path == "/ac-example/v3/agent-api"
        assert parse_qs(url.query)["vid"] == ["cvid-3e7a91c2d4"]
        assert request.json() == {"commands": [{"g": "g-purchase", "v": 49.0}]}
        bridge.stop()
    finally:
        vendor.stop()
