"""A shop page in a real browser: Debian's chromium driven by Playwright, a page on 127.0.0.1
(another port than bridge: another origin) with stand-ins of the vendors' globals and
identify.js loaded from a real `bridge serve`.

`BRIDGE_TEST_REQUIRE_BROWSER=1`, as CI sets it, makes a missing browser a failure instead of a
skip. The fixtures are registered by importing them: `from tests.support.browser import
browser_fixture`.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from bridge.store.identities import KnownIdentity
from bridge.store.sqlite import SQLiteStore
from tests.support.process import BridgeProcess, free_port

CHROMIUM = "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    if os.environ.get("BRIDGE_TEST_REQUIRE_BROWSER") == "1":
        pytest.fail(f"BRIDGE_TEST_REQUIRE_BROWSER=1 but {CHROMIUM} is missing", pytrace=False)
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)", allow_module_level=True)

from playwright.sync_api import Browser, Page, Request, sync_playwright  # noqa: E402

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

LEDGER = """
ledgers:
  web:
    origins: ["http://127.0.0.1:%(port)d"]
    vendors: [pagent, convert, conductrics, scanova]
    pagent_label: purchase
    conductrics_vid: cvid
    scanova_param: scan_session
"""
"""The ledger the page's script posts to (`LEDGER % {"port": site_port}`)."""


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


@contextmanager
def serving_pages(site: Site) -> Iterator[Site]:
    """The site's pages served on `site.port` for as long as the block runs."""

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

    server = ThreadingHTTPServer(("127.0.0.1", site.port), Pages)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(name="browser")
def browser_fixture() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(name="page")
def page_fixture(browser: Browser) -> Iterator[Page]:
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
