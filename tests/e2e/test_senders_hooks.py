"""Standard Webhooks, Paddle, Lemon Squeezy and generic HMAC senders over a real socket.

Each test runs `bridge serve` with the sender's shipped example mapping and the destination file
it names, signs the shipped sample the way the sender does (plain `hmac`, independently of the
module under test), and checks what the loopback vendor receives; a redelivery is `duplicate`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest

from tests.support.process import BridgeProcess
from tests.support.senders import fresh
from tests.support.vendor import Answer, LoopbackVendor, Received

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "mappings" / "examples"
SAMPLES = REPO / "mappings" / "samples"
PAGENT_IDS = {
    "session_id": "s_8f14e45fceea167a",
    "user_id": "u_c9f0f895fb98ab91",
    "conversion_id": "0f8fad5b-d9cb-469f-a165-70867728950e",
}


def serve(
    tmp_path: Path, example: str, destination: Path, vendor: LoopbackVendor, env: dict[str, str]
) -> BridgeProcess:
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    shutil.copy(EXAMPLES / example, mappings)
    shutil.copy(destination, mappings)
    vendor_env = f"{destination.stem.upper()}_BASE_URL"
    return BridgeProcess(
        tmp_path, {"BRIDGE_MAPPINGS_DIR": str(mappings), vendor_env: vendor.url, **env}
    ).start()


def post_twice(bridge: BridgeProcess, path: str, body: bytes, headers: dict[str, str]) -> str:
    """Send, expect `accepted`; send the same delivery again, expect `duplicate`."""
    first = bridge.post(path, body, headers)
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "accepted", first.json()
    again = bridge.post(path, body, headers)
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "duplicate", again.json()
    event_id: str = first.json()["event_id"]
    return event_id


def test_standard_webhooks_to_pagent(tmp_path: Path, vendor: LoopbackVendor) -> None:
    secret = "whsec_" + base64.b64encode(b"e2e-standard-webhooks-secret-32b").decode()
    bridge = serve(
        tmp_path,
        "standard-webhooks-to-pagent.yaml",
        REPO / "mappings" / "pagent.yaml",
        vendor,
        {"STANDARD_WEBHOOKS_SECRET": secret},
    )
    body = (SAMPLES / "standard-webhooks" / "order.paid.json").read_bytes()
    stamp = str(int(time.time()))
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"msg_e2e_1.{stamp}.".encode() + body, hashlib.sha256).digest()
    headers = {
        "webhook-id": "msg_e2e_1",
        "webhook-timestamp": stamp,
        "webhook-signature": "v1," + base64.b64encode(digest).decode(),
        "content-type": "application/json",
    }
    assert post_twice(bridge, "/webhooks/orders", body, headers) == "msg_e2e_1"
    [received] = vendor.wait_for(1, acknowledged=True)
    assert received.path == "/v1/conversions"
    occurred = datetime(2026, 3, 4, 10, 15, tzinfo=UTC)
    assert received.json() == {
        "events": [
            {
                **PAGENT_IDS,
                "label": "purchase",
                "revenue": 4900,
                "time": int(occurred.timestamp()) * 1000,
            }
        ]
    }
    bridge.stop()


def conductrics_credits(request: Received) -> Answer:
    items = [
        {"g": c["g"], "rs": [{"a": "a-1", "v": c.get("v", 1)}]} for c in request.json()["commands"]
    ]
    return Answer(200, orjson.dumps({"status": 200, "data": {"sels": {}, "items": items}}))


def test_paddle_to_conductrics(tmp_path: Path) -> None:
    vendor = LoopbackVendor(conductrics_credits).start()
    try:
        secret = "pdl_ntfset_01e2e000000000000000000000_e2eSecretKeyForPaddle0123456789"
        bridge = serve(
            tmp_path,
            "paddle-to-conductrics.yaml",
            EXAMPLES / "conductrics.yaml",
            vendor,
            {"PADDLE_WEBHOOK_SECRET": secret, "CONDUCTRICS_API_KEY": "api-loopback"},
        )
        payload = orjson.loads((SAMPLES / "paddle" / "transaction.completed.json").read_bytes())
        payload["occurred_at"] = datetime.now(UTC).isoformat()  # inside Conductrics' window
        body = orjson.dumps(payload)
        stamp = int(time.time())
        h1 = hmac.new(secret.encode(), f"{stamp}:".encode() + body, hashlib.sha256).hexdigest()
        headers = {"paddle-signature": f"ts={stamp};h1={h1}", "content-type": "application/json"}
        event_id = post_twice(bridge, "/webhooks/paddle", body, headers)
        assert event_id == "evt_01hv8x2a7b8c9d0e1f2g3h4j5k"
        [received] = vendor.wait_for(1, acknowledged=True)
        url = urlsplit(received.path)
        assert url.path == "/ac-example/v3/agent-api"
        assert parse_qs(url.query) == {
            "apikey": ["api-loopback"],
            "session": ["lana-123"],
            "vid": ["lana-123"],
        }
        assert received.body == b'{"commands":[{"g":"g-purchase","v":326.62}]}'
        bridge.stop()
    finally:
        vendor.stop()


def test_lemonsqueezy_to_scanova(tmp_path: Path, vendor: LoopbackVendor) -> None:
    secret = "ls-e2e-signing-secret"
    bridge = serve(
        tmp_path,
        "lemonsqueezy-to-scanova.yaml",
        EXAMPLES / "scanova.yaml",
        vendor,
        {"LEMONSQUEEZY_WEBHOOK_SECRET": secret, "SCANOVA_API_KEY": "sk_scan_loopback"},
    )
    body = fresh("lemonsqueezy", (SAMPLES / "lemonsqueezy" / "order_created.json").read_bytes())
    headers = {
        "x-signature": hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(),
        "x-event-name": "order_created",
        "content-type": "application/json",
    }
    event_id = post_twice(bridge, "/webhooks/lemonsqueezy", body, headers)
    updated_at = orjson.loads(body)["data"]["attributes"]["updated_at"]
    assert event_id == f"order_created:orders:1847362:{updated_at}"
    [received] = vendor.wait_for(1, acknowledged=True)
    assert received.path == "/server-events"
    sent = received.json()
    assert sent["scan_session_id"] == "550e8400-e29b-41d4-a716-446655440000"
    assert sent["event_name"] == "purchase"
    assert sent["conversion_value"] == {"amount": 31.9, "currency": "USD"}
    assert sent["user_identifiers"] == {
        "email_hash": hashlib.sha256(b"jane.doe@example.com").hexdigest(),
        "external_id": "2938475",
    }
    bridge.stop()


def test_generic_hmac_to_pagent(tmp_path: Path, vendor: LoopbackVendor) -> None:
    secret = "shop-e2e-secret"
    bridge = serve(
        tmp_path,
        "hmac-to-pagent.yaml",
        REPO / "mappings" / "pagent.yaml",
        vendor,
        {"SHOP_WEBHOOK_SECRET": secret},
    )
    body = fresh("hmac", (SAMPLES / "hmac" / "order.completed.json").read_bytes())
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {"x-hub-signature-256": f"sha256={signature}", "content-type": "application/json"}
    assert post_twice(bridge, "/webhooks/shop", body, headers) == "evt_0c3f7a9e21b84d6a"
    [received] = vendor.wait_for(1, acknowledged=True)
    occurred = datetime.fromisoformat(orjson.loads(body)["created_at"])
    assert received.json() == {
        "events": [
            {
                **PAGENT_IDS,
                "label": "purchase",
                "revenue": 4990,
                "time": int(occurred.timestamp() * 1000),
            }
        ]
    }
    refused = bridge.post("/webhooks/shop", body, {"x-hub-signature-256": "sha256=" + "0" * 64})
    assert refused.status_code == 401
    bridge.stop()
