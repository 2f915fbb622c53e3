"""The join over real sockets: a browser's beacon to `bridge serve`, then a Stripe-signed checkout
carrying its reference, and the captured ids reach a loopback pagent."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from tests.support import stripe as s
from tests.support.mappings import PAGENT, SOURCE, write_mappings
from tests.support.process import BridgeProcess
from tests.support.vendor import LoopbackVendor

pytestmark = pytest.mark.slow

REF = "Zk3v9QmT2xLr8WbN4cYp1A"
SHOP = "https://shop.example.com"

MAPPINGS = {
    "source": SOURCE,
    "pagent": PAGENT,
    "ledger": f"""
    ledgers:
      web:
        origins: ["{SHOP}"]
        vendors: [pagent]
    """,
    "rules": """
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
    """,
}


def test_a_payment_link_checkout_reaches_pagent_with_the_ids_the_browser_gave(
    tmp_path: Path, vendor: LoopbackVendor
) -> None:
    mappings = write_mappings(tmp_path, **MAPPINGS)
    bridge = BridgeProcess(
        tmp_path, {"BRIDGE_MAPPINGS_DIR": str(mappings), "PAGENT_BASE_URL": vendor.url}
    )
    try:
        bridge.start()
        ids = {
            "session_id": "pg-session-1",
            "user_id": "pg-user-1",
            "conversion_id": "0f8fad5b-d9cb-469f-a165-70867728950e",
        }
        beacon = orjson.dumps({"v": 1, "ref": REF, "ids": {"pagent": ids}})
        headers = {"Origin": SHOP, "Content-Type": "text/plain;charset=UTF-8"}
        assert bridge.post("/identify/web", beacon, headers).status_code == 204

        payload = s.event("checkout.session.completed", client_reference_id=REF, metadata={})
        raw, signed = s.signed(payload)
        answer = bridge.post("/webhooks/stripe", raw, signed)
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "accepted"

        vendor.wait_for(1, acknowledged=True)
        [event] = vendor.events()
        assert (event["session_id"], event["user_id"], event["conversion_id"]) == (
            "pg-session-1",
            "pg-user-1",
            "0f8fad5b-d9cb-469f-a165-70867728950e",
        )
    finally:
        bridge.stop()
