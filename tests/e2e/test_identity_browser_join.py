"""The whole join in a real browser: the shop's page loads identify.js from a real `bridge
serve`, the beacon stores the visitor's ids and the Payment Link carries the reference; Stripe's
signed webhooks then reach a loopback pagent with exactly the ids the page gave, the checkout
by its reference and the renewal by the customer the checkout linked."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Browser

from tests.support import stripe as s
from tests.support.browser import (
    LEDGER,
    Site,
    beacons,
    browser_fixture,  # noqa: F401 (registers the fixture)
    recall,
    serving_pages,
    settle,
    wait_for,
)
from tests.support.mappings import PAGENT, SOURCE, write_mappings
from tests.support.process import BridgeProcess, free_port
from tests.support.vendor import LoopbackVendor

pytestmark = pytest.mark.slow

CUSTOMER = "cus_Tb9rowserJoin1"

RULES = """
rules:
  - name: payment-link
    source: stripe
    events: [checkout.session.completed]
    destination: pagent
    identity:
      ledger: web
      key: data.object.client_reference_id || data.object.customer
      link: data.object.customer
    conversion:
      session_id: identity.pagent.session_id
      user_id: identity.pagent.user_id
      goal_id: identity.pagent.conversion_id
      revenue: stripe_money(data.object.amount_total, data.object.currency)
  - name: renewal
    source: stripe
    events: [invoice.paid]
    destination: pagent
    identity:
      ledger: web
      key: data.object.customer
    conversion:
      session_id: identity.pagent.session_id
      user_id: identity.pagent.user_id
      goal_id: identity.pagent.conversion_id
      revenue: stripe_money(data.object.amount_paid, data.object.currency)
"""

PAGENT_IDS = ("session_id", "user_id", "conversion_id")
"""What the ledger keeps of `_pgnt.variables(label)` and pagent's events carry."""


@pytest.fixture
def shop(tmp_path: Path, vendor: LoopbackVendor) -> Iterator[tuple[Site, BridgeProcess]]:
    """The shop's pages and the bridge they load identify.js from, delivering to `vendor`."""
    port = free_port()
    mappings = write_mappings(
        tmp_path, source=SOURCE, pagent=PAGENT, ledgers=LEDGER % {"port": port}, rules=RULES
    )
    env = {"BRIDGE_MAPPINGS_DIR": str(mappings), "PAGENT_BASE_URL": vendor.url}
    bridge = BridgeProcess(tmp_path, env).start()
    try:
        with serving_pages(Site(bridge.url, port)) as site:
            yield site, bridge
    finally:
        bridge.stop()


def stripe_sends(bridge: BridgeProcess, event_type: str, **fields: Any) -> None:
    """A Stripe-signed `event_type` (the shipped sample with `fields`) that bridge accepts."""
    event = s.event(event_type, created=int(time.time()), metadata={}, **fields)
    answer = bridge.post("/webhooks/stripe", *s.signed(event))
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "accepted", answer.json()


def test_the_ids_the_page_gave_reach_pagent_for_the_checkout_and_the_renewal(
    shop: tuple[Site, BridgeProcess], browser: Browser, vendor: LoopbackVendor
) -> None:
    site, bridge = shop
    page = browser.new_page()
    seen = beacons(page)
    page.goto(f"http://127.0.0.1:{site.port}/shop")
    wait_for(page, seen, 1)
    settle(page)
    variables = page.evaluate("window._pgnt.variables('purchase')")
    given = {name: variables[name] for name in PAGENT_IDS}

    # The beacon stored the ids under the reference the Payment Link now carries.
    ref = parse_qs(urlsplit(page.get_attribute("#pay", "href") or "").query)["client_reference_id"][
        0
    ]
    assert ref == page.evaluate("window.bridge.ref()")
    known = recall(bridge, ref)
    assert known is not None
    assert dict(known.vendors["pagent"].ids) == given

    # Stripe's checkout of that Payment Link: the reference and the visitor's customer.
    stripe_sends(bridge, "checkout.session.completed", client_reference_id=ref, customer=CUSTOMER)
    vendor.wait_for(1, acknowledged=True)
    [checkout] = vendor.events()
    assert {name: checkout[name] for name in PAGENT_IDS} == given
    assert checkout["revenue"] == 2499

    # A month later the renewal names only the customer, which the checkout linked.
    stripe_sends(bridge, "invoice.paid", customer=CUSTOMER)
    vendor.wait_for(2, acknowledged=True)
    checkout_again, renewal = vendor.events()
    assert checkout_again == checkout
    assert {name: renewal[name] for name in PAGENT_IDS} == given
    assert renewal["revenue"] == 1990
    page.close()
