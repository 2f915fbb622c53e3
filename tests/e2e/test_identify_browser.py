"""identify.js in a real browser: a page on one origin loads it from a real `bridge serve` on
another, with stand-ins of the vendors' globals, and the ids reach the SQLite ledger.

Debian's chromium, driven by Playwright (`BRIDGE_TEST_REQUIRE_BROWSER=1`, as CI sets it, makes a
missing browser a failure instead of a skip).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Browser, Page

from tests.support.browser import (
    LEDGER,
    Site,
    beacons,
    bodies,
    browser_fixture,  # noqa: F401 (registers the fixture)
    page_fixture,  # noqa: F401 (registers the fixture)
    recall,
    serving_pages,
    settle,
    wait_for,
)
from tests.support.mappings import write_mappings
from tests.support.process import BridgeProcess, free_port

pytestmark = pytest.mark.slow


@pytest.fixture
def site_and_bridge(tmp_path: Path) -> Iterator[tuple[Site, BridgeProcess]]:
    port = free_port()
    mappings = write_mappings(tmp_path, ledgers=LEDGER % {"port": port})
    bridge = BridgeProcess(tmp_path, {"BRIDGE_MAPPINGS_DIR": str(mappings)}).start()
    try:
        with serving_pages(Site(bridge.url, port)) as site:
            yield site, bridge
    finally:
        bridge.stop()


def test_the_browser_posts_the_ids_and_the_payment_link_carries_the_reference(
    site_and_bridge: tuple[Site, BridgeProcess], browser: Browser
) -> None:
    site, bridge = site_and_bridge
    context = browser.new_context()
    page = context.new_page()
    seen = beacons(page)
    page.goto(f"http://127.0.0.1:{site.port}/shop?scan_session=scan-1")  # from a QR code
    wait_for(page, seen, 1)

    ref = page.evaluate("window.bridge.ref()")
    assert isinstance(ref, str)
    assert len(ref) >= 22
    assert set(ref) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert {"name": "bridge_ref", "value": ref} in [
        {"name": c.get("name"), "value": c.get("value")} for c in context.cookies()
    ]

    link = urlsplit(page.get_attribute("#pay", "href") or "")
    assert (link.netloc, link.path) == ("buy.stripe.com", "/test_123")
    assert parse_qs(link.query) == {"prefilled_email": ["a@b.c"], "client_reference_id": [ref]}
    page.wait_for_selector("#late")
    page.wait_for_function(
        "document.querySelector('#late').href.indexOf('client_reference_id=') > 0"
    )
    late = urlsplit(page.get_attribute("#late", "href") or "")
    assert parse_qs(late.query) == {"client_reference_id": [ref]}
    assert page.input_value("form.signup input[name=bridge_ref]") == ref

    beacon = seen[0]
    response = beacon.response()
    assert response is not None
    assert response.status == 204
    assert beacon.method == "POST"
    assert beacon.header_value("origin") == f"http://127.0.0.1:{site.port}"
    assert [body["ref"] for body in bodies(page)] == [ref]

    known = recall(bridge, ref)
    assert known is not None
    assert {vendor: dict(captured.ids) for vendor, captured in known.vendors.items()} == {
        "pagent": {
            "session_id": "pg-session-1",
            "user_id": "pg-user-1",
            "conversion_id": "goal-uuid-1",
        },
        "convert": {
            "visitor_id": "cv-visitor-1",
            "bucketing": {"100127238": "1001186427"},
            "segments": {"browser": "CH", "devices": "DESK", "visitorType": "new"},
        },
        "conductrics": {"vid": "cond-vid-42"},
        "scanova": {"session_id": "scan-1"},
    }

    # The same visitor again with the same ids (the scan's parameter was on the first page
    # only): the ledger has them, nothing is posted.
    again = context.new_page()
    seen_again = beacons(again)
    again.goto(f"http://127.0.0.1:{site.port}/shop")
    settle(again)
    assert seen_again == []
    assert again.evaluate("window.bridge.ref()") == ref

    # A new pagent session: only what changed is posted.
    site.session = "pg-session-2"
    changed = context.new_page()
    seen_changed = beacons(changed)
    changed.goto(f"http://127.0.0.1:{site.port}/shop")
    wait_for(changed, seen_changed, 1)
    settle(changed)
    assert len(seen_changed) == 1
    assert [list(body["ids"]) for body in bodies(changed)] == [["pagent"]]
    known = recall(bridge, ref)
    assert known is not None
    assert known.vendors["pagent"].ids["session_id"] == "pg-session-2"
    assert known.vendors["convert"].ids["visitor_id"] == "cv-visitor-1"
    context.close()


def test_a_page_on_an_origin_the_ledger_does_not_list_stores_nothing(
    site_and_bridge: tuple[Site, BridgeProcess], page: Page
) -> None:
    site, bridge = site_and_bridge
    seen = beacons(page)
    page.goto(f"http://localhost:{site.port}/shop")  # same server, an origin not allowed
    wait_for(page, seen, 1)
    ref = page.evaluate("window.bridge.ref()")
    response = seen[0].response()
    assert response is not None
    assert response.status == 403
    assert recall(bridge, ref) is None
    assert bridge.rows("SELECT count(*) FROM identity_sightings") == [(0,)]


def test_consent_pending_posts_nothing_until_granted_and_denied_forgets_the_reference(
    site_and_bridge: tuple[Site, BridgeProcess], page: Page
) -> None:
    seen = beacons(page)
    # The site's consent banner has not been answered yet when the script loads.
    site, bridge = site_and_bridge
    page.goto(f"http://127.0.0.1:{site.port}/pending")
    settle(page)
    assert seen == []
    assert page.evaluate("window.bridge.ref()") is None
    assert "client_reference_id" not in (page.get_attribute("#pay", "href") or "")

    page.evaluate("window.bridge.identify({consent: 'granted'})")
    wait_for(page, seen, 1)
    ref = page.evaluate("window.bridge.ref()")
    assert [body["consent"] for body in bodies(page)] == ["granted"]
    assert recall(bridge, ref) is not None
    assert "bridge_ref=" in page.evaluate("document.cookie")

    # The visitor withdraws consent: the browser keeps no reference and posts nothing more.
    page.evaluate("window.bridge.identify({consent: 'denied', pagentLabel: 'signup'})")
    page.wait_for_timeout(500)
    assert page.evaluate("window.bridge.ref()") is None
    assert "bridge_ref" not in page.evaluate("document.cookie + Object.keys(localStorage)")
    assert len(seen) == 1
