import calendar
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from bridge.destinations.base import VendorResponse
from bridge.destinations.pagent import PagentDestination, PagentOptions
from bridge.destinations.verdicts import Dead, Delivered, Retry
from bridge.vocabulary.model import Conversion, Provenance
from bridge.vocabulary.money import Money

WHEN = datetime(2026, 11, 22, 10, 0, 0, 250000, tzinfo=UTC)
WHEN_MS = calendar.timegm(WHEN.utctimetuple()) * 1000 + 250


def pagent(
    api: str = "v1", key: str | None = "pk_live_secret", **options: object
) -> PagentDestination:
    environ = {"PAGENT_API_KEY": key} if key else {}
    validated = PagentOptions.model_validate(
        {
            "vendor": "pagent",
            "api": api,
            "api_key": "${PAGENT_API_KEY}",
            "base_url": "http://127.0.0.1:9/",
            **options,
        },
        context={"environ": environ},
    )
    return PagentDestination("pagent", validated)


def conversion(n: int = 1, **fields: Any) -> Conversion:
    values: dict[str, Any] = {
        "session_id": f"s_{n}",
        "user_id": f"u_{n}",
        "goal_id": "goal-uuid",
        **fields,
    }
    provenance = Provenance("stripe", f"evt_{n}", "r", "f", "v")
    return Conversion(occurred_at=WHEN, provenance=provenance, **values)


def test_v1_body_is_exactly_the_documented_shape() -> None:
    [request] = pagent().requests(
        [
            conversion(
                vendor_fields={"label": "purchase"},
                revenue=Money(2499, "USD"),
                properties={"plan": "pro"},
            )
        ]
    )
    assert request.method == "POST"
    assert request.url == "http://127.0.0.1:9/v1/conversions"
    assert request.headers["Authorization"] == "Bearer pk_live_secret"
    assert request.headers["Content-Type"] == "application/json"
    assert orjson.loads(request.body) == {
        "events": [
            {
                "session_id": "s_1",
                "user_id": "u_1",
                "conversion_id": "goal-uuid",
                "label": "purchase",
                "revenue": 2499,
                "properties": {"plan": "pro"},
                "time": WHEN_MS,
            }
        ]
    }


def test_optional_fields_are_omitted_not_sent_as_null() -> None:
    [request] = pagent().requests([conversion()])
    assert orjson.loads(request.body) == {
        "events": [
            {"session_id": "s_1", "user_id": "u_1", "conversion_id": "goal-uuid", "time": WHEN_MS}
        ]
    }


@pytest.mark.parametrize(
    ("money", "revenue"),
    [(Money(5000, "JPY"), 5000), (Money(12340, "KWD"), 12340), (Money(1999, "USD"), 1999)],
)
def test_revenue_is_an_integer_in_minor_units(money: Money, revenue: int) -> None:
    [request] = pagent().requests([conversion(revenue=money)])
    assert orjson.loads(request.body)["events"][0]["revenue"] == revenue


def test_v2_sends_one_request_per_conversion_with_session_data() -> None:
    requests = pagent("v2").requests(
        [conversion(1, vendor_fields={"visit_id": "v_1", "label": "purchase"}), conversion(2)]
    )
    assert [r.url for r in requests] == ["http://127.0.0.1:9/v2/conversions"] * 2
    assert [r.items for r in requests] == [(0,), (1,)]
    assert orjson.loads(requests[0].body) == {
        "session_data": {
            "session_id": "s_1",
            "user_id": "u_1",
            "visit_id": "v_1",
            "conversion_id": "goal-uuid",
        },
        "label": "purchase",
        "time": WHEN_MS,
    }
    assert "visit_id" not in orjson.loads(requests[1].body)["session_data"]


def test_v2_bulk_batches_session_data_events() -> None:
    [request] = pagent("v2-bulk").requests(
        [conversion(1), conversion(2, properties=[{"sku": "a"}])]
    )
    assert request.url == "http://127.0.0.1:9/v2/conversions/bulk"
    body = orjson.loads(request.body)
    assert [e["session_data"]["session_id"] for e in body["events"]] == ["s_1", "s_2"]
    assert body["events"][1]["properties"] == [{"sku": "a"}]


def test_batches_never_exceed_pagents_limit_of_100() -> None:
    requests = pagent().requests([conversion(n) for n in range(250)])
    assert [len(orjson.loads(r.body)["events"]) for r in requests] == [100, 100, 50]
    assert requests[2].items == tuple(range(200, 250))


def test_the_key_is_masked_when_shown() -> None:
    [request] = pagent().requests([conversion()])
    assert request.redacted_headers()["Authorization"] == "Bearer ${PAGENT_API_KEY}"
    assert "pk_live_secret" not in str(request.redacted_headers())


def test_a_destination_without_its_key_waits() -> None:
    unset = pagent(key=None)
    assert not unset.ready
    assert unset.missing_secrets() == ["PAGENT_API_KEY"]
    [request] = unset.requests([conversion()])
    assert request.redacted_headers()["Authorization"] == "Bearer ${PAGENT_API_KEY} (not set)"


@pytest.mark.parametrize(
    ("status", "headers", "verdict"),
    [
        (200, {}, Delivered),
        (500, {}, Retry),
        (503, {}, Retry),
        (429, {"retry-after": "30"}, Retry),
        (408, {}, Retry),
        (400, {}, Dead),
        (401, {}, Dead),
    ],
)
def test_answers_are_classified_per_pagent_guidance(
    status: int, headers: dict[str, str], verdict: type
) -> None:
    destination = pagent()
    [request] = destination.requests([conversion(1), conversion(2)])
    verdicts = destination.classify(request, VendorResponse(status, headers, b'{"error": "bad"}'))
    assert len(verdicts) == 2
    assert all(isinstance(v, verdict) for v in verdicts)
