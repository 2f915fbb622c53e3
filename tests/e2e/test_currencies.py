"""Revenue arrives exact in every kind of currency: a paid Stripe checkout in eleven currencies
(zero-, two- and three-decimal, those where Stripe's minor unit is not ISO 4217's, and codes
that left or joined ISO 4217) reaches pagent as the exact ISO minor units."""

from __future__ import annotations

import pytest

from tests.support import stripe as s
from tests.support.process import BridgeProcess
from tests.support.vendor import LoopbackVendor
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

# currency: (Stripe's amount_total, the ISO 4217 minor units pagent must receive)
AMOUNTS = {
    "usd": (1999, 1999),
    "eur": (4999, 4999),
    "jpy": (5000, 5000),  # zero-decimal in both
    "krw": (12000, 12000),
    "bhd": (12345, 12345),  # three-decimal in both
    "kwd": (12340, 12340),
    "huf": (250000, 250000),
    "isk": (100000, 1000),  # Stripe counts hundredths, ISO whole krónur
    "mga": (5000, 500000),  # Stripe counts whole ariary, ISO hundredths
    "bgn": (2500, 2500),  # left ISO 4217 with Bulgaria's move to the euro
    "xcg": (1234, 1234),  # the Caribbean guilder that replaced ANG
}


def test_revenue_reaches_the_vendor_exact_in_eleven_currencies(
    bridge_process: BridgeProcess, vendor: LoopbackVendor
) -> None:
    bridge_process.start()
    metadata = s.sample("checkout.session.completed")["data"]["object"]["metadata"]
    for currency, (amount, _) in AMOUNTS.items():
        event = s.event(
            "checkout.session.completed",
            event_id=f"evt_money_{currency}",
            payment_intent=f"pi_money_{currency}",
            currency=currency,
            amount_total=amount,
            metadata={**metadata, "pagent_session_id": f"s_{currency}"},
        )
        answer = bridge_process.post("/webhooks/stripe", *s.signed(event))
        assert answer.json()["status"] == "accepted", (currency, answer.text)
    wait_until(lambda: len(list(vendor.events())) >= len(AMOUNTS))
    received = {event["session_id"]: event["revenue"] for event in vendor.events()}
    assert received == {f"s_{currency}": minor for currency, (_, minor) in AMOUNTS.items()}
