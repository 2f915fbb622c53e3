"""The join over real sockets: a visitor's beacon to `bridge serve` and a Stripe-signed checkout
carrying its reference, in either order, and the captured ids reach a loopback pagent; a beacon
that never comes leaves the checkout unmapped, and beacons bridge refuses store nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.support import stripe as s
from tests.support.mappings import PAGENT, SOURCE, write_mappings
from tests.support.process import BridgeProcess
from tests.support.vendor import LoopbackVendor
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

REF = "Zk3v9QmT2xLr8WbN4cYp1A"
SHOP = "https://shop.example.com"
BEACON_HEADERS = {"Origin": SHOP, "Content-Type": "text/plain;charset=UTF-8"}
IDS = {
    "session_id": "pg-session-1",
    "user_id": "pg-user-1",
    "conversion_id": "0f8fad5b-d9cb-469f-a165-70867728950e",
}

LEDGER = f"""
ledgers:
  web:
    origins: ["{SHOP}"]
    vendors: [pagent]
    wait_minutes: %(wait_minutes)s
"""

RULES = """
rules:
  - name: payment-link
    source: stripe
    events: [checkout.session.completed]
    destination: pagent
    identity:
      ledger: web
      key: data.object.client_reference_id
    conversion:
      session_id: data.object.metadata.session_id || identity.pagent.session_id
      user_id: identity.pagent.user_id
      goal_id: identity.pagent.conversion_id
      revenue: stripe_money(data.object.amount_total, data.object.currency)
"""


ADMIN_TOKEN = "adm_3e1f0a9c8b7d6e5f4a3b"


def serve(
    tmp_path: Path, vendor: LoopbackVendor, env: dict[str, str], *, wait_minutes: float = 15
) -> BridgeProcess:
    """`bridge serve` with the Payment Link rule, delivering to `vendor` (not started yet)."""
    ledger = LEDGER % {"wait_minutes": wait_minutes}
    mappings = write_mappings(tmp_path, source=SOURCE, pagent=PAGENT, ledger=ledger, rules=RULES)
    return BridgeProcess(
        tmp_path,
        {
            "BRIDGE_MAPPINGS_DIR": str(mappings),
            "PAGENT_BASE_URL": vendor.url,
            "BRIDGE_ADMIN_TOKEN": ADMIN_TOKEN,
            **env,
        },
    )


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest) -> dict[str, str]:
    """The store `bridge serve` keeps its events and ledger in: its own SQLite file, or a fresh
    schema on the PostgreSQL test server."""
    if request.param == "sqlite":
        return {}
    return {"BRIDGE_DATABASE_URL": request.getfixturevalue("postgres_url")}


@pytest.fixture
def stopped() -> Iterator[list[BridgeProcess]]:
    """Processes the test started, stopped when it ends whatever happened."""
    processes: list[BridgeProcess] = []
    yield processes
    for process in processes:
        process.stop()


def post_beacon(bridge: BridgeProcess, ref: str = REF) -> None:
    """What identify.js posts from the visitor's page (a `sendBeacon` body)."""
    beacon = orjson.dumps({"v": 1, "ref": ref, "ids": {"pagent": IDS}})
    answer = bridge.post("/identify/web", beacon, BEACON_HEADERS)
    assert answer.status_code == 204, answer.text


def checkout(bridge: BridgeProcess, expected_status: str) -> str:
    """Stripe's signed `checkout.session.completed` of the Payment Link carrying `REF`; bridge
    answers 200 with `expected_status`. Returns the event's id."""
    payload = s.event("checkout.session.completed", client_reference_id=REF, metadata={})
    answer = bridge.post("/webhooks/stripe", *s.signed(payload))
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == expected_status, answer.json()
    event_id: str = payload["id"]
    return event_id


def outcome(bridge: BridgeProcess, event_id: str) -> str:
    """The event's outcome as the admin API tells it (either store)."""
    answer = httpx.get(
        f"{bridge.admin_url}/admin/events/stripe/{event_id}",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    stored: str = answer.json()["event"]["outcome"]
    return stored


def shown(bridge: BridgeProcess, event_id: str) -> dict[str, Any]:
    """`bridge events show EVENT_ID --json`, as an operator reads the event's story."""
    result = bridge.cli("events", "show", event_id, "--json")
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = orjson.loads(result.stdout)
    return document


def streamed(bridge: BridgeProcess, body: bytes) -> httpx.Response:
    """`body` posted in chunks, without a Content-Length: bridge must count what it reads."""
    chunks = (body[start : start + 1024] for start in range(0, len(body), 1024))
    return httpx.post(f"{bridge.url}/identify/web", content=chunks, headers=BEACON_HEADERS)


def test_a_payment_link_checkout_reaches_pagent_with_the_ids_the_browser_gave(
    tmp_path: Path, vendor: LoopbackVendor, stopped: list[BridgeProcess]
) -> None:
    bridge = serve(tmp_path, vendor, {})
    stopped.append(bridge.start())
    post_beacon(bridge)
    checkout(bridge, "accepted")

    vendor.wait_for(1, acknowledged=True)
    [event] = vendor.events()
    assert (event["session_id"], event["user_id"], event["conversion_id"]) == (
        "pg-session-1",
        "pg-user-1",
        "0f8fad5b-d9cb-469f-a165-70867728950e",
    )


def test_a_webhook_before_its_beacon_waits_and_the_beacon_wakes_it_at_once(
    tmp_path: Path, vendor: LoopbackVendor, database: dict[str, str], stopped: list[BridgeProcess]
) -> None:
    """The recheck is a minute: only the beacon's wake can deliver within seconds."""
    bridge = serve(tmp_path, vendor, {"BRIDGE_IDENTITY_RECHECK_SECONDS": "60", **database})
    stopped.append(bridge.start())
    event_id = checkout(bridge, "waiting_identity")
    waiting = shown(bridge, event_id)  # the CLI's start-up is time enough to see nothing leave
    assert waiting["event"]["outcome"] == "waiting_identity"
    assert waiting["deliveries"] == []
    assert vendor.received == []

    beaconed = time.monotonic()
    post_beacon(bridge)
    vendor.wait_for(1, timeout=10, acknowledged=True)
    assert time.monotonic() - beaconed < 10  # far below the 60 s recheck
    [event] = vendor.events()
    assert {name: event[name] for name in IDS} == IDS
    assert outcome(bridge, event_id) == "accepted"
    [rule] = shown(bridge, event_id)["rules"]
    assert rule["identity"]["ref"] == REF


def test_a_beacon_that_never_comes_leaves_the_checkout_unmapped_naming_its_key(
    tmp_path: Path, vendor: LoopbackVendor, database: dict[str, str], stopped: list[BridgeProcess]
) -> None:
    recheck = {"BRIDGE_IDENTITY_RECHECK_SECONDS": "0.5", **database}
    bridge = serve(tmp_path, vendor, recheck, wait_minutes=0.05)
    stopped.append(bridge.start())
    event_id = checkout(bridge, "waiting_identity")

    wait_until(lambda: outcome(bridge, event_id) == "unmapped", timeout=20)
    story = shown(bridge, event_id)
    assert story["event"]["outcome"] == "unmapped"
    reason = story["event"]["reason"]
    assert REF in reason
    assert "ledger 'web' within 0.05 minutes" in reason
    assert story["deliveries"] == []

    # A beacon after the wait changes nothing: the event stays unmapped, pagent gets nothing.
    post_beacon(bridge)
    deadline = time.monotonic() + 1.5  # three recheck passes
    while time.monotonic() < deadline:
        assert outcome(bridge, event_id) == "unmapped"
        time.sleep(0.1)
    assert shown(bridge, event_id)["deliveries"] == []
    assert vendor.received == []


def test_beacons_bridge_refuses_over_a_real_socket_store_nothing(
    tmp_path: Path, vendor: LoopbackVendor, stopped: list[BridgeProcess]
) -> None:
    """Oversized (declared or streamed), malformed and flooding beacons to a real process.
    (A wrong origin: tests/web/test_identify.py and the browser tests.)"""
    bridge = serve(tmp_path, vendor, {"BRIDGE_IDENTIFY_BURST": "6", "BRIDGE_IDENTIFY_RATE": "0.01"})
    stopped.append(bridge.start())

    def beacon(ref: str) -> bytes:
        return orjson.dumps({"v": 1, "ref": ref, "ids": {"pagent": IDS}})

    oversized = beacon("o" * 22)[:-1] + b" " * (9 * 1024) + b"}"
    assert bridge.post("/identify/web", oversized, BEACON_HEADERS).status_code == 413
    assert streamed(bridge, oversized).status_code == 413
    malformed = beacon("m" * 22).replace(b'"v":1', b'"v":1,"cookie":"x"')
    refused = bridge.post("/identify/web", malformed, BEACON_HEADERS)
    assert (refused.status_code, refused.json()) == (
        400,
        {"error": "unknown key 'cookie' (allowed: consent, ids, ref, v)"},
    )
    refused = bridge.post("/identify/web", b"not json", BEACON_HEADERS)
    assert (refused.status_code, refused.json()) == (400, {"error": "body is not JSON (UTF-8)"})
    assert bridge.rows("SELECT count(*) FROM identity_sightings") == [(0,)]

    refs = [f"flood{n:02d}".ljust(22, "x") for n in range(8)]
    statuses = [
        bridge.post("/identify/web", beacon(ref), BEACON_HEADERS).status_code for ref in refs
    ]
    # The four refused beacons above took four of the six the burst allows.
    assert statuses == [204] * 2 + [429] * 6
    stored = bridge.rows("SELECT ref FROM identity_sightings ORDER BY ref")
    assert stored == [(ref,) for ref in refs[:2]]
