"""Each vendor over a real socket: signed Stripe event -> bridge serve -> loopback vendor.

Every test runs the shipped example mapping for the vendor (mappings/examples/), copied next to
the shipped Stripe source, with the vendor's base URL pointed at a loopback server.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest

from tests.support import stripe as s
from tests.support.process import BridgeProcess
from tests.support.vendor import Answer, LoopbackVendor, Received
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

METADATA = s.sample("checkout.session.completed")["data"]["object"]["metadata"]
DAY = 86_400


def start(
    tmp_path: Path, vendor: LoopbackVendor, example: str, *args: str, extra: str = ""
) -> BridgeProcess:
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    shutil.copy(s.REPO / "mappings" / "stripe.yaml", mappings)
    examples = s.REPO / "mappings" / "examples"
    shutil.copy(examples / f"stripe-to-{example}.yaml", mappings)
    text = (examples / f"{example}.yaml").read_text()
    (mappings / f"{example}.yaml").write_text(
        text.replace("    base_url:", extra + "    base_url:", 1)
    )
    env = {
        "BRIDGE_MAPPINGS_DIR": str(mappings),
        f"{example.upper()}_BASE_URL": vendor.url,
        "SCANOVA_API_KEY": "sk_scan_loopback",
        "CONDUCTRICS_API_KEY": "api-loopback",
    }
    return BridgeProcess(tmp_path, env).start(*args)


def send(bridge: BridgeProcess, **fields: Any) -> None:
    raw, headers = s.signed(s.event("checkout.session.completed", **fields))
    response = bridge.post("/webhooks/stripe", raw, headers)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "accepted", response.json()


# Convert ---------------------------------------------------------------------------------


def convert_bot_filter(request: Received) -> Answer:
    """Convert answers 200 either way, but only ConvertAgent/ requests reach the reports."""
    return Answer(200, b'{"code": 200, "message": "Tracking events accepted"}')


def test_convert_receives_the_documented_request(tmp_path: Path) -> None:
    vendor = LoopbackVendor(convert_bot_filter).start()
    try:
        bridge = start(tmp_path, vendor, "convert")
        send(bridge, payment_intent="pi_convert_1")
        [request] = vendor.wait_for(1, acknowledged=True)
        assert request.path == "/v1/track/10012345/10056789"
        assert request.headers["user-agent"].startswith("ConvertAgent/")
        assert request.headers["content-type"] == "application/json"
        assert "authorization" not in request.headers
        bucketing = {"100127238": "1001186427"}
        assert request.json() == {
            "accountId": "10012345",
            "projectId": "10056789",
            "enrichData": True,
            "visitors": [
                {
                    "visitorId": "visitor-abc123",
                    "segments": orjson.loads(METADATA["convert_segments"]),
                    "events": [
                        {
                            "eventType": "conversion",
                            "data": {"goalId": "100037225", "bucketingData": bucketing},
                        },
                        {
                            "eventType": "conversion",
                            "data": {
                                "goalId": "100037225",
                                "bucketingData": bucketing,
                                "goalData": [
                                    {"key": "amount", "value": 24.99},
                                    {"key": "transactionId", "value": "pi_convert_1"},
                                    {"key": "customDimension1", "value": "pro"},
                                ],
                            },
                        },
                    ],
                }
            ],
        }
        bridge.stop()
    finally:
        vendor.stop()


def test_convert_batches_visitors_ten_conversions_per_request(tmp_path: Path) -> None:
    vendor = LoopbackVendor(convert_bot_filter).start()
    try:
        bridge = start(tmp_path, vendor, "convert", "--no-worker")
        for n in range(12):
            send(
                bridge,
                payment_intent=f"pi_batch_{n}",
                metadata={**METADATA, "convert_visitor_id": f"visitor-{n % 4}"},
            )
        bridge.stop()
        bridge.start()
        wait_until(
            lambda: (
                sum(len(r.json()["visitors"]) for r in vendor.acknowledged) >= 4
                and len(vendor.acknowledged) == 2
            )
        )
        sizes = sorted(
            sum(len(v["events"]) // 2 for v in r.json()["visitors"]) for r in vendor.acknowledged
        )
        assert sizes == [2, 10]  # conversions per request (each carries a goal and a revenue event)
        for request in vendor.acknowledged:
            visitor_ids = [v["visitorId"] for v in request.json()["visitors"]]
            assert len(visitor_ids) == len(set(visitor_ids))  # one entry per visitor
        bridge.stop()
    finally:
        vendor.stop()


# Scanova ---------------------------------------------------------------------------------


def test_scanova_receives_the_documented_request_with_a_stable_event_id(
    tmp_path: Path, vendor: LoopbackVendor
) -> None:
    vendor.script(Answer(503, b'{"detail": "busy"}'))
    bridge = start(tmp_path, vendor, "scanova")
    send(bridge, payment_intent="pi_scan_1")
    first, retried = vendor.wait_for(2, acknowledged=True)
    assert first.body == retried.body  # same event_id: Scanova dedupes a retry
    assert retried.path == "/server-events"
    assert retried.headers["x-api-key"] == "sk_scan_loopback"
    body = retried.json()
    assert body == {
        "site_id": "site_abc123",
        "event_name": "purchase",
        "scan_session_id": METADATA["scanova_scan_session_id"],
        "event_id": body["event_id"],
        "event_time": time.strftime(
            "%Y-%m-%dT%H:%M:%S.000Z",
            time.gmtime(s.sample("checkout.session.completed")["created"]),
        ),
        "conversion_value": {"amount": 24.99, "currency": "USD"},
        "user_identifiers": {
            "email_hash": hashlib.sha256(b"jane.doe@example.com").hexdigest(),
            "external_id": "cus_T1a2b3c4d5e6f7",
        },
        "properties": {"order_id": "cs_test_a1b2c3d4e5f6g7h8i9j0"},
    }
    bridge.stop()


def refuse_large_batches(request: Received) -> Answer:
    events = request.json()["events"]
    if len(events) > 2:
        return Answer(413, b'{"detail": "Payload too large: split into smaller batches"}')
    return Answer(200, orjson.dumps({"success": True, "accepted": len(events)}))


def test_scanova_batches_that_are_too_large_are_split_until_accepted(tmp_path: Path) -> None:
    vendor = LoopbackVendor(refuse_large_batches).start()
    try:
        bridge = start(tmp_path, vendor, "scanova", "--no-worker", extra="    batch_size: 8\n")
        for n in range(8):
            send(bridge, payment_intent=f"pi_split_{n}")
        bridge.stop()
        bridge.start()
        wait_until(
            lambda: (
                bridge.rows("SELECT status, COUNT(*) FROM deliveries GROUP BY status")
                == [("delivered", 8)]
            )
        )
        # 8 refused, then halves: 4 + 4 refused, then 2 + 2 + 2 + 2 accepted
        assert sorted(len(r.json()["events"]) for r in vendor.received) == [2, 2, 2, 2, 4, 4, 8]
        bridge.stop()
    finally:
        vendor.stop()


# Conductrics -----------------------------------------------------------------------------


def conductrics_rewards(value: float) -> object:
    def answer(request: Received) -> Answer:
        items = [
            {"g": c["g"], "rs": [{"a": "a-checkout-test", "v": value}]}
            for c in request.json()["commands"]
        ]
        return Answer(200, orjson.dumps({"status": 200, "data": {"sels": {}, "items": items}}))

    return answer


def test_conductrics_receives_the_documented_request(tmp_path: Path) -> None:
    vendor = LoopbackVendor(conductrics_rewards(24.99)).start()  # type: ignore[arg-type]
    try:
        bridge = start(tmp_path, vendor, "conductrics")
        send(bridge, created=int(time.time()))
        [request] = vendor.wait_for(1, acknowledged=True)
        url = urlsplit(request.path)
        assert url.path == "/ac-example/v3/agent-api"
        assert parse_qs(url.query) == {
            "apikey": ["api-loopback"],
            "session": ["lana-123"],
            "vid": ["lana-123"],
        }
        assert request.body == b'{"commands":[{"g":"g-purchase","v":24.99}]}'
        wait_until(lambda: bridge.rows("SELECT outcome FROM attempts") == [("delivered",)])
        bridge.stop()
    finally:
        vendor.stop()


def test_conductrics_accepting_without_credit_is_recorded_and_not_retried(tmp_path: Path) -> None:
    vendor = LoopbackVendor(conductrics_rewards(0)).start()  # type: ignore[arg-type]
    try:
        bridge = start(tmp_path, vendor, "conductrics")
        send(bridge, created=int(time.time()))
        vendor.wait_for(1, acknowledged=True)
        wait_until(lambda: bridge.rows("SELECT outcome FROM attempts") == [("not_credited",)])
        [(status, answer)] = bridge.rows("SELECT status, last_answer FROM deliveries")
        assert status == "delivered"
        assert answer.startswith("accepted but not credited")
        time.sleep(0.5)
        assert len(vendor.received) == 1
        bridge.stop()
    finally:
        vendor.stop()


def test_conductrics_is_not_sent_conversions_older_than_its_credit_window(tmp_path: Path) -> None:
    vendor = LoopbackVendor(conductrics_rewards(1)).start()  # type: ignore[arg-type]
    try:
        bridge = start(tmp_path, vendor, "conductrics")
        send(bridge, created=int(time.time()) - 4 * DAY)  # Stripe retried an old event
        wait_until(lambda: bridge.rows("SELECT status FROM deliveries") == [("dead",)])
        [(answer,)] = bridge.rows("SELECT last_answer FROM deliveries")
        assert answer == "older than Conductrics' credit window of 72 h: it would not be credited"
        assert vendor.received == []
        bridge.stop()
    finally:
        vendor.stop()
