"""identify.js in a real browser: a page on one origin loads it from a real `bridge serve` on
another, with stand-ins of the vendors' globals, and the ids reach the SQLite ledger.

Debian's chromium, driven by Playwright (`BRIDGE_TEST_REQUIRE_BROWSER=1`, as CI sets it, makes a
missing browser a failure instead of a skip).
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from bridge.store.identities import KnownIdentity
from bridge.store.sqlite import SQLiteStore
from tests.support.mappings import write_mappings
from tests.support.process import BridgeProcess, free_port

CHROMIUM = "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    if os.environ.get("BRIDGE_TEST_REQUIRE_BROWSER") == "1":
        pytest.fail(f"BRIDGE_TEST_REQUIRE_BROWSER=1 but {CHROMIUM} is missing", pytrace=False)
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)", allow_module_level=True)

from playwright.sync_api import Browser, Page, Request, sync_playwright  # noqa: E402

pytestmark = pytest.mark.slow

PAYMENT_LINK = "https://buy.stripe.com/test_123?prefilled_email=a%40b.c"

# The vendors as their snippets leave them: pagent's global at once, Convert's a moment later
# (it runs the `_conv_q` listeners once experiences are evaluated), a Conductrics vid cookie.
PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>shop</title>
<script>
  document.cookie = "cvid=cond-vid-42; Path=/";
  window._pgnt = {variables: function (label) {
    return {session_id: "%(session)s", user_id: "pg-user-1", visit_id: "v-1",
            conversion_id: label === "purchase" ? "goal-uuid-1" : null};
  }};
  window._conv_q = window._conv_q || [];
  setTimeout(function () {
    window.convert = {getCurrentVisitorData: function () {
      return {visitorId: "cv-visitor-1",
              bucketing: [{experienceId: 100127238, variationId: "1001186427"}],
              segments: {browser: "CH", devices: ["DESK"], visitorType: "new", country: "",
                         campaign: "spring\\u00a0sale"}};  // a no-break space: not printable
    }};
    window._conv_q.forEach(function (item) {
      if (item.what === "addListener" && item.params.event === "snippet.experiences_evaluated") {
        item.params.handler();
      }
    });
    window.convertEvaluated = true;
  }, 300);
  setTimeout(function () {  // a link rendered late, as single-page apps do
    var late = document.createElement("a");
    late.id = "late"; late.href = "https://buy.stripe.com/test_late"; late.textContent = "Later";
    document.body.appendChild(late);
  }, 500);
</script>
<script src="%(bridge)s/identify.js" data-ledger="web"
        data-vendors="pagent,convert,conductrics,scanova" data-pagent-label="purchase"
        data-conductrics-vid="cvid" data-scanova-param="scan_session" data-forms="form.signup"
        async></script>
</head><body>
<a id="pay" href="%(link)s">Pay</a>
<form class="signup"><input name="email"></form>
</body></html>
"""


@dataclass
class Site:
    """The shop's pages on 127.0.0.1 (another port than bridge: another origin)."""

    bridge: str
    port: int = field(default_factory=free_port)
    session: str = "pg-session-1"

    def page(self, path: str) -> bytes:
        """`/pending`: the page of a site whose consent banner is not answered yet."""
        values = {"bridge": self.bridge, "link": PAYMENT_LINK, "session": self.session}
        page = PAGE % values
        if path == "/pending":
            page = page.replace('data-ledger="web"', 'data-ledger="web" data-consent="pending"')
        return page.encode()


@pytest.fixture
def site_and_bridge(tmp_path: Path) -> Iterator[tuple[Site, BridgeProcess]]:
    port = free_port()
    mappings = write_mappings(
        tmp_path,
        ledgers=f"""
        ledgers:
          web:
            origins: ["http://127.0.0.1:{port}"]
            vendors: [pagent, convert, conductrics, scanova]
            pagent_label: purchase
            conductrics_vid: cvid
            scanova_param: scan_session
        """,
    )
    bridge = BridgeProcess(tmp_path, {"BRIDGE_MAPPINGS_DIR": str(mappings)}).start()
    site = Site(bridge.url, port)

    class Pages(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = site.page(urlsplit(self.path).path)
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Pages)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site, bridge
    finally:
        server.shutdown()
        server.server_close()
        bridge.stop()


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    page = browser.new_page()
    yield page
    page.close()


# Keeps a copy of each beacon's body for the test: the browser's network events leave out a
# Blob body. The beacon itself still goes out through the real sendBeacon.
BEACON_SPY = """
window.beaconBodies = [];
var realSendBeacon = navigator.sendBeacon.bind(navigator);
navigator.sendBeacon = function (url, data) {
  data.text().then(function (text) { window.beaconBodies.push(JSON.parse(text)); });
  return realSendBeacon(url, data);
};
"""


def bodies(page: Page) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = page.evaluate("window.beaconBodies")
    return found


def beacons(page: Page) -> list[Request]:
    """Every beacon the page sends from now on, as the browser finished or failed it (and
    their bodies in `bodies(page)`)."""
    page.add_init_script(BEACON_SPY)
    seen: list[Request] = []

    def record(request: Request) -> None:
        if "/identify/" in request.url:
            seen.append(request)

    page.on("requestfinished", record)
    page.on("requestfailed", record)
    return seen


def wait_for(page: Page, seen: list[Request], count: int) -> None:
    deadline = time.monotonic() + 15
    while len(seen) < count and time.monotonic() < deadline:
        page.wait_for_timeout(50)  # lets Playwright deliver the browser's events
    assert len(seen) >= count, f"{len(seen)} beacons, expected {count}"


def settle(page: Page) -> None:
    """Wait until every stand-in vendor has run, then long enough for a beacon to leave."""
    page.wait_for_function("window.convertEvaluated === true")
    page.wait_for_timeout(800)


def recall(bridge: BridgeProcess, ref: str) -> KnownIdentity | None:
    """What the ledger holds for `ref`, read back through the store the process wrote."""

    async def read() -> KnownIdentity | None:
        store = await SQLiteStore.open(bridge.db)
        try:
            return await store.recall("web", ref, int(time.time() * 1000))
        finally:
            await store.close()

    # A thread of its own: Playwright's sync API keeps an event loop running in this one.
    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(asyncio.run, read()).result()


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
