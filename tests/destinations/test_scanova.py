import hashlib
import uuid

import orjson
import pytest

from bridge.destinations.base import VendorResponse
from bridge.destinations.scanova import ScanovaDestination, event_name
from bridge.destinations.verdicts import Dead, Delivered, Retry
from bridge.vocabulary.money import Money
from tests.support.conversions import conversion, destination

SESSION = "550e8400-e29b-41d4-a716-446655440000"
OPTIONS = {
    "vendor": "scanova",
    "site_id": "site_abc123",
    "api_key": "${SCANOVA_API_KEY}",
    "base_url": "http://127.0.0.1:9",
}


def scanova(name: str = "scanova", **options: object) -> ScanovaDestination:
    return destination(
        ScanovaDestination, {**OPTIONS, **options}, {"SCANOVA_API_KEY": "sk_scan_1"}, name
    )


def test_one_event_is_exactly_the_documented_shape() -> None:
    email_hash = hashlib.sha256(b"jane@example.com").hexdigest()
    source = conversion(
        session_id=SESSION,
        event_name="Purchase",
        revenue=Money(9999, "USD"),
        transaction_id="pi_1",
        vendor_fields={"email_sha256": email_hash, "external_id": "user_12345"},
        properties={"order_id": "order_789"},
        consent="granted",
    )
    [request] = scanova().requests([source])
    assert request.url == "http://127.0.0.1:9/server-events"
    assert request.headers["X-API-Key"] == "sk_scan_1"
    assert request.redacted_headers()["X-API-Key"] == "${SCANOVA_API_KEY}"
    body = orjson.loads(request.body)
    assert body == {
        "site_id": "site_abc123",
        "event_name": "purchase",
        "scan_session_id": SESSION,
        "event_id": body["event_id"],
        "event_time": "2026-11-22T10:00:00.250Z",
        "conversion_value": {"amount": 99.99, "currency": "USD"},
        "user_identifiers": {"email_hash": email_hash, "external_id": "user_12345"},
        "properties": {"order_id": "order_789"},
        "consent": "granted",
    }
    assert uuid.UUID(body["event_id"]).version == 5


@pytest.mark.parametrize(
    "issued",
    [SESSION.upper(), SESSION.replace("-", ""), SESSION.replace("-", "").upper()],
)
def test_the_scan_session_id_is_sent_exactly_as_scanova_issued_it(issued: str) -> None:
    assert scanova().validate_field("session_id", issued) is None
    [request] = scanova().requests([conversion(session_id=issued, event_name="purchase")])
    assert orjson.loads(request.body)["scan_session_id"] == issued


def test_the_event_id_is_the_same_on_every_retry_and_differs_per_conversion() -> None:
    first = scanova().event(
        conversion(1, session_id=SESSION, event_name="purchase", transaction_id="pi_1")
    )
    again = scanova().event(
        conversion(1, session_id=SESSION, event_name="purchase", transaction_id="pi_1")
    )
    other = scanova().event(
        conversion(2, session_id=SESSION, event_name="purchase", transaction_id="pi_2")
    )
    elsewhere = scanova("scanova-eu").event(
        conversion(1, session_id=SESSION, event_name="purchase", transaction_id="pi_1")
    )
    assert first["event_id"] == again["event_id"]
    assert len({first["event_id"], other["event_id"], elsewhere["event_id"]}) == 3


@pytest.mark.parametrize(
    ("given", "sent"),
    [("Purchase Completed!", "purchase_completed"), ("sign-up", "sign_up"), ("LEAD", "lead")],
)
def test_event_names_are_normalised_as_scanova_does(given: str, sent: str) -> None:
    assert event_name(given) == sent


@pytest.mark.parametrize(
    ("money", "amount"),
    [
        (Money(2499, "USD"), b"24.99"),
        (Money(5000, "JPY"), b"5000"),
        (Money(12340, "KWD"), b"12.34"),
    ],
)
def test_amount_is_a_decimal_number_in_major_units(money: Money, amount: bytes) -> None:
    [request] = scanova().requests(
        [conversion(session_id=SESSION, event_name="purchase", revenue=money)]
    )
    assert (
        b'"conversion_value":{"amount":'
        + amount
        + b',"currency":"'
        + money.currency.encode()
        + b'"}'
        in request.body
    )


def test_batches_go_to_the_batch_endpoint() -> None:
    requests = scanova(batch_size=3).requests(
        [conversion(n, session_id=SESSION, event_name="purchase") for n in range(7)]
    )
    assert {r.url for r in requests} == {"http://127.0.0.1:9/server-events/batch"}
    assert [len(orjson.loads(r.body)["events"]) for r in requests] == [3, 3, 1]
    assert requests[2].items == (6,)


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("session_id", "not-a-uuid", "must be a UUID"),
        ("session_id", "{" + SESSION + "}", "must be a UUID"),
        ("session_id", "550e8400e29b41d4a716-4466-5544-0000", "must be a UUID"),
        ("session_id", SESSION, None),
        ("event_name", "!!!", "1 to 64"),
        ("properties", {"blob": "x" * 11000}, "at most 10240 bytes"),
        ("properties", {"buyer": "Jane <jane.doe@example.com>"}, "raw email"),
        ("properties", {"order": "o_1"}, None),
    ],
)
def test_values_scanova_would_refuse_are_caught_before_sending(
    field: str, value: object, problem: str | None
) -> None:
    found = scanova().validate_field(field, value)
    assert (found is None) if problem is None else (problem in (found or ""))


def classify(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> object:
    destination_ = scanova(batch_size=5)
    [request] = destination_.requests(
        [conversion(n, session_id=SESSION, event_name="p") for n in range(2)]
    )
    verdicts = destination_.classify(request, VendorResponse(status, headers or {}, body))
    assert len(verdicts) == 2
    return verdicts[0]


def test_answers_follow_scanovas_documented_meanings() -> None:
    assert isinstance(classify(200, b'{"event_id": "x", "status": "accepted"}'), Delivered)
    assert classify(429) == Retry("HTTP 429", 429, 60.0)  # Scanova: 60 s without Retry-After
    assert classify(429, headers={"retry-after": "5"}) == Retry("HTTP 429", 429, 5.0)
    too_large = classify(413)
    assert isinstance(too_large, Dead)
    assert too_large.split  # split the batch and retry the halves
    invalid = classify(422, b'{"detail":[{"loc":["body","event_name"],"msg":"field required"}]}')
    assert isinstance(invalid, Dead)
    assert (
        invalid.reason
        == 'HTTP 422: {"detail":[{"loc":["body","event_name"],"msg":"field required"}]}'
    )
    assert isinstance(classify(503), Retry)
