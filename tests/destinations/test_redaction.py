"""A vendor's answer never carries a destination's secret into a log line or the store, in any
form the secret takes: raw, percent-encoded (a redirect's query), JSON-escaped, base64."""

from __future__ import annotations

import base64
import logging
import re
from pathlib import Path
from urllib.parse import quote, quote_plus

import httpx
import orjson
import pytest

from bridge.delivery.worker import Worker
from bridge.destinations.conductrics import ConductricsDestination
from bridge.store.base import NewDelivery, NewEvent
from bridge.store.sqlite import SQLiteStore
from tests.support.conversions import conversion, destination
from tests.support.vendor import Answer, LoopbackVendor

KEY = "cdx+KEY/with=special&chars"
FORMS = [
    KEY,
    quote(KEY, safe=""),
    re.sub("%[0-9A-F]{2}", lambda escape: escape.group().lower(), quote(KEY, safe="")),
    quote_plus(KEY, safe=""),
    orjson.dumps(KEY).decode()[1:-1],
    base64.b64encode(KEY.encode()).decode(),
]


def conductrics(base_url: str) -> ConductricsDestination:
    options = {
        "vendor": "conductrics",
        "owner": "ac-xyz",
        "api_key": "${CONDUCTRICS_API_KEY}",
        "base_url": base_url,
    }
    return destination(ConductricsDestination, options, {"CONDUCTRICS_API_KEY": KEY})


@pytest.mark.parametrize("form", FORMS)
def test_every_form_of_a_secret_is_masked(form: str) -> None:
    shown = conductrics("http://127.0.0.1:9").redact(f"answer: {form} (end)")
    assert shown == "answer: *** (end)"


async def test_a_redirect_that_echoes_the_key_stores_and_logs_no_form_of_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    echo = " ".join(FORMS)
    vendor = LoopbackVendor(
        lambda _: Answer(
            302,
            body=orjson.dumps({"echo": echo}),
            headers={"Location": f"https://login.example/?next=%2F&apikey={quote(KEY, safe='')}"},
        )
    ).start()
    store = await SQLiteStore.open(tmp_path / "b.db")
    target = conductrics(vendor.url)
    sent = conversion(1, visitor_id="lana-123", goal_id="g-purchase")
    delivery = NewDelivery("dest", "rule", "k1", sent.to_json(), 2_000_000_000_000)
    event = NewEvent(
        "stripe",
        "evt_1",
        "t",
        1_795_000_000_000,
        "accepted",
        b'{"reason":null,"rules":[]}',
        b"{}",
        (delivery,),
    )
    try:
        await store.ingest([event])
        async with httpx.AsyncClient() as client:
            worker = Worker(store, {"dest": target}, client, clock=lambda: 1_795_000_000.0)
            with caplog.at_level(logging.INFO):
                assert await worker.run_once() == 1
        [view] = await store.list_deliveries(status=None, destination=None, limit=10)
        trace = await store.event_trace("stripe", "evt_1")
    finally:
        await store.close()
        vendor.stop()
    assert trace is not None
    # bridge's own lines, with every extra field (httpx's request lines are off: logs.py)
    logged = [str(vars(r)) for r in caplog.records if r.name.startswith("bridge")]
    kept = [view.last_answer or "", *(a.answer or "" for a in trace.attempts), *logged]
    assert "302" in kept[0]
    for text in kept:
        for form in FORMS:
            assert form not in text, f"{form!r} in {text!r}"
