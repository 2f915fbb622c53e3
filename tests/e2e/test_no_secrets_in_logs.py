"""A whole session with failures, over real sockets: no secret and no email ever shows.

bridge logs at debug level while it refuses forgeries, maps an event that carries a customer's
email, and delivers to a vendor that echoes everything it received (the Authorization header
included) in its error answers. Then the captured log, every answer bridge gave, and what the
command line shows about the deliveries are searched for the secrets and the email, in every
form they can take (raw, percent-encoded, JSON-escaped, base64).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from bridge.vocabulary.secrets import shown_forms
from tests.support import stripe as s
from tests.support.process import BridgeProcess
from tests.support.vendor import Answer, LoopbackVendor, Received
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

API_KEY = "pk_live_9c2e7d41b8a6f053"
EMAIL = "jane.doe+vip@example.com"
ADMIN_TOKEN = "adm_5f0c1e9a7b3d2c4e6f8a"


def echoing(request: Received) -> Answer:
    """A vendor refusing the key and quoting the whole request back, headers included."""
    echoed = {"headers": request.headers, "body": request.body.decode()}
    return Answer(401, orjson.dumps(echoed))


@pytest.fixture
def echo_vendor() -> Iterator[LoopbackVendor]:
    server = LoopbackVendor(echoing).start()
    yield server
    server.stop()


def test_secrets_and_emails_never_reach_logs_answers_or_the_cli(
    tmp_path: Path, echo_vendor: LoopbackVendor
) -> None:
    vendor = echo_vendor
    vendor.script(Answer(500, b'{"error": "upstream"}'))
    bridge = BridgeProcess(
        tmp_path,
        {
            "PAGENT_BASE_URL": vendor.url,
            "PAGENT_API_KEY": API_KEY,
            "BRIDGE_ADMIN_TOKEN": ADMIN_TOKEN,
            "BRIDGE_LOG_LEVEL": "debug",
        },
    )
    answers: list[str] = []
    try:
        bridge.start()
        paid = s.event(
            "checkout.session.completed",
            event_id="evt_with_email",
            customer_details={"email": EMAIL, "name": "Jane Doe"},
            customer_email=EMAIL,
        )
        raw, headers = s.signed(paid)
        answers.append(bridge.post("/webhooks/stripe", raw, headers).text)
        forged = s.signed(paid, "whsec_attacker_guess")[1]
        answers.append(bridge.post("/webhooks/stripe", raw, forged).text)
        stale = {**headers, "Stripe-Signature": s.signature(raw, timestamp=1_600_000_000)}
        answers.append(bridge.post("/webhooks/stripe", raw, stale).text)
        no_ids = s.event("checkout.session.completed", metadata={"email": EMAIL})
        no_ids["data"]["object"]["client_reference_id"] = EMAIL
        raw_no_ids, headers_no_ids = s.signed(no_ids)
        answers.append(bridge.post("/webhooks/stripe", raw_no_ids, headers_no_ids).text)
        answers.append(bridge.post("/webhooks/stripe", b"{" + EMAIL.encode(), headers).text)
        wait_until(lambda: len(vendor.received) >= 2, timeout=30)
        wait_until(
            lambda: (
                bridge.cli("deliveries", "list", "--status", "dead").stdout.strip()
                != "no deliveries"
            ),
            timeout=30,
        )
        shown = [
            bridge.cli("deliveries", "list", "--json").stdout,
            bridge.cli("events", "show", "evt_with_email", "--json").stdout,
            bridge.cli("events", "list", "--json").stdout,
        ]
    finally:
        bridge.stop()
    assert API_KEY in vendor.received[-1].headers["authorization"]  # the echo carried it back
    logs = bridge.logs()
    assert '"message":"webhook"' in logs  # the log was captured
    assert "401" in "".join(shown)  # the vendor's answer is kept, redacted
    for secret in (s.SECRET, API_KEY, ADMIN_TOKEN, EMAIL):
        for form in shown_forms(secret):  # raw, percent-encoded, JSON-escaped, base64
            assert form not in logs, form
            for text in answers + shown:
                assert form not in text, form
