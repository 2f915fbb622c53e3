"""Shopify, WooCommerce and Salesforce over a real socket: signed request -> bridge serve -> vendor.

Each test runs the sender's shipped example mapping (mappings/examples/) with the destination
file it names, the vendor's base URL pointed at a loopback server.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import shutil
from pathlib import Path

import pytest

from tests.support.process import BridgeProcess
from tests.support.senders import fresh
from tests.support.stripe import REPO
from tests.support.vendor import LoopbackVendor

pytestmark = pytest.mark.slow

EXAMPLES = REPO / "mappings" / "examples"
SAMPLES = REPO / "mappings" / "samples"


def start(tmp_path: Path, example: str, destination: Path, env: dict[str, str]) -> BridgeProcess:
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    shutil.copy(EXAMPLES / f"{example}.yaml", mappings)
    shutil.copy(destination, mappings)
    return BridgeProcess(tmp_path, {"BRIDGE_MAPPINGS_DIR": str(mappings), **env}).start()


def base64_hmac(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def test_a_shopify_paid_order_reaches_scanova_once(tmp_path: Path) -> None:
    secret = "shpss_e2e_0123456789abcdef"
    vendor = LoopbackVendor().start()
    try:
        bridge = start(
            tmp_path,
            "shopify-to-scanova",
            EXAMPLES / "scanova.yaml",
            {
                "SHOPIFY_CLIENT_SECRET": secret,
                "SCANOVA_API_KEY": "sk_scan_loopback",
                "SCANOVA_BASE_URL": vendor.url,
            },
        )
        body = fresh("shopify", (SAMPLES / "shopify" / "orders-paid.json").read_bytes())
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Hmac-SHA256": base64_hmac(secret, body),
            "X-Shopify-Topic": "orders/paid",
            "X-Shopify-Event-Id": "e2e-shopify-event-1",
            "X-Shopify-Webhook-Id": "e2e-shopify-webhook-1",
        }
        first = bridge.post("/webhooks/shopify", body, headers)
        assert first.status_code == 200, first.text
        assert first.json()["status"] == "accepted", first.json()
        [received] = vendor.wait_for(1, acknowledged=True)
        sent = received.json()
        assert sent["scan_session_id"] == "550e8400-e29b-41d4-a716-446655440000"
        assert sent["event_name"] == "purchase"
        assert sent["conversion_value"] == {"amount": 24.99, "currency": "USD"}
        again = bridge.post("/webhooks/shopify", body, headers)
        assert again.json()["status"] == "duplicate", again.json()
        forged = bridge.post("/webhooks/shopify", body, {**headers, "X-Shopify-Hmac-SHA256": "x"})
        assert forged.status_code == 401
        bridge.stop()
        assert len(vendor.received) == 1
    finally:
        vendor.stop()


def test_a_woocommerce_paid_order_reaches_pagent_once(tmp_path: Path) -> None:
    secret = "wc-e2e-secret-0123456789"
    vendor = LoopbackVendor().start()
    try:
        bridge = start(
            tmp_path,
            "woocommerce-to-pagent",
            REPO / "mappings" / "pagent.yaml",
            {"WOOCOMMERCE_WEBHOOK_SECRET": secret, "PAGENT_BASE_URL": vendor.url},
        )
        ping = bridge.post(
            "/webhooks/woocommerce",
            b"webhook_id=12",
            {"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert ping.status_code == 200, ping.text
        assert bridge.rows("SELECT COUNT(*) FROM events") == [(0,)]
        body = fresh("woocommerce", (SAMPLES / "woocommerce" / "order.updated.json").read_bytes())
        headers = {
            "Content-Type": "application/json",
            "X-WC-Webhook-Topic": "order.updated",
            "X-WC-Webhook-Signature": base64_hmac(secret, body),
            "X-WC-Webhook-ID": "12",
            "X-WC-Webhook-Delivery-ID": "d41d8cd98f00b204e9800998ecf8427e",
        }
        first = bridge.post("/webhooks/woocommerce", body, headers)
        assert first.status_code == 200, first.text
        assert first.json()["status"] == "accepted", first.json()
        vendor.wait_for(1, acknowledged=True)
        [conversion] = list(vendor.events())
        assert conversion["session_id"] == "s_8f14e45fceea167a"
        assert conversion["user_id"] == "u_c9f0f895fb98ab91"
        assert conversion["conversion_id"] == "0f8fad5b-d9cb-469f-a165-70867728950e"
        assert conversion["revenue"] == 2499
        resent = {**headers, "X-WC-Webhook-Delivery-ID": "0cc175b9c0f1b6a831c399e269772661"}
        again = bridge.post("/webhooks/woocommerce", body, resent)
        assert again.json()["status"] == "duplicate", again.json()
        bridge.stop()
        assert len(vendor.received) == 1
    finally:
        vendor.stop()


def test_a_salesforce_won_opportunity_reaches_convert_once(tmp_path: Path) -> None:
    token = "sf-e2e-token-0123456789abcdef"
    vendor = LoopbackVendor().start()
    try:
        bridge = start(
            tmp_path,
            "salesforce-to-convert",
            EXAMPLES / "convert.yaml",
            {"SALESFORCE_OUTBOUND_TOKEN": token, "CONVERT_BASE_URL": vendor.url},
        )
        path = f"/webhooks/salesforce?token={token}"
        headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}
        laughs = (
            b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><x>&b;</x>'
        )
        refused = bridge.post(path, laughs, headers)
        assert refused.status_code == 400
        assert b"<faultcode>soapenv:Client</faultcode>" in refused.content
        assert bridge.rows("SELECT COUNT(*) FROM events") == [(0,)]
        body = fresh(
            "salesforce", (SAMPLES / "salesforce" / "opportunity-closed-won.xml").read_bytes()
        )
        assert bridge.post("/webhooks/salesforce?token=wrong", body, headers).status_code == 401
        first = bridge.post(path, body, headers)
        assert first.status_code == 200, first.text
        assert first.headers["content-type"].startswith("text/xml")
        assert b"<Ack>true</Ack>" in first.content
        [received] = vendor.wait_for(1, acknowledged=True)
        [visitor] = received.json()["visitors"]
        assert visitor["visitorId"] == "visitor-abc123"
        goal_data = visitor["events"][-1]["data"]["goalData"]
        assert {"key": "amount", "value": 2499} in goal_data
        assert {"key": "transactionId", "value": "0065g00000XyZ12AAB"} in goal_data
        again = bridge.post(path, body, headers)
        assert again.status_code == 200
        assert b"<Ack>true</Ack>" in again.content
        assert bridge.rows("SELECT outcome FROM events") == [("accepted",)]
        bridge.stop()
        assert len(vendor.received) == 1
    finally:
        vendor.stop()
