from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest

from bridge.destinations.base import VendorResponse
from bridge.destinations.conductrics import NOT_CREDITED, ConductricsDestination
from bridge.destinations.verdicts import Delivered, Retry
from bridge.vocabulary.money import Money
from tests.support.conversions import WHEN, WHEN_MS, conversion, destination

OPTIONS = {
    "vendor": "conductrics",
    "owner": "ac-xyz",
    "api_key": "${CONDUCTRICS_API_KEY}",
    "base_url": "http://127.0.0.1:9",
}
KEY = "api-1234567890"


def conductrics(**options: object) -> ConductricsDestination:
    return destination(ConductricsDestination, {**OPTIONS, **options}, {"CONDUCTRICS_API_KEY": KEY})


def test_goals_of_one_session_share_a_request() -> None:
    requests = conductrics().requests(
        [
            conversion(1, visitor_id="lana-123", goal_id="g-purchase", revenue=Money(1999, "USD")),
            conversion(2, visitor_id="bob-9", goal_id="g-purchase"),
            conversion(3, visitor_id="lana-123", goal_id="g-upsell", revenue=Money(500, "USD")),
        ]
    )
    assert [r.items for r in requests] == [(0, 2), (1,)]
    first = requests[0]
    url = urlsplit(first.url)
    assert (url.scheme, url.netloc, url.path) == ("http", "127.0.0.1:9", "/ac-xyz/v3/agent-api")
    assert parse_qs(url.query) == {"apikey": [KEY], "session": ["lana-123"], "vid": ["lana-123"]}
    assert orjson.loads(first.body) == {
        "commands": [{"g": "g-purchase", "v": 19.99}, {"g": "g-upsell", "v": 5}]
    }
    assert orjson.loads(requests[1].body) == {"commands": [{"g": "g-purchase", "v": 1}]}


def test_an_explicit_session_is_used_with_the_visitor_id() -> None:
    [request] = conductrics().requests(
        [conversion(visitor_id="vid-1", session_id="sess-1", goal_id="g")]
    )
    assert parse_qs(urlsplit(request.url).query)["session"] == ["sess-1"]


@pytest.mark.parametrize(
    ("money", "value"),
    [
        (Money(2499, "USD"), b"24.99"),
        (Money(5000, "JPY"), b"5000"),
        (Money(12340, "KWD"), b"12.34"),
    ],
)
def test_value_is_a_decimal_number_in_major_units(money: Money, value: bytes) -> None:
    [request] = conductrics().requests([conversion(visitor_id="v", goal_id="g", revenue=money)])
    assert request.body == b'{"commands":[{"g":"g","v":' + value + b"}]}"


def test_the_api_key_never_shows() -> None:
    destination_ = conductrics()
    [request] = destination_.requests([conversion(visitor_id="v", goal_id="g")])
    assert KEY not in request.redacted_url()
    assert "apikey=${CONDUCTRICS_API_KEY}" in request.redacted_url()
    assert (
        destination_.redact(f"GET {request.url} failed")
        == f"GET {request.url.replace(KEY, '***')} failed"
    )


def answer(*credited: float) -> bytes:
    items = [
        {"g": f"g{n}", "rs": [{"a": "a-agent", "v": value}]} for n, value in enumerate(credited)
    ]
    return orjson.dumps({"status": 200, "data": {"sels": {}, "items": items}})


def verdicts_for(body: bytes, status: int = 200, goals: int = 2) -> list[object]:
    destination_ = conductrics()
    [request] = destination_.requests(
        [conversion(n, visitor_id="v", goal_id=f"g{n}") for n in range(goals)]
    )
    return destination_.classify(request, VendorResponse(status, {}, body))  # type: ignore[return-value]


def test_each_goal_reports_whether_it_was_credited() -> None:
    credited, ignored = verdicts_for(answer(19.99, 0))
    assert isinstance(credited, Delivered)
    assert credited.credited
    assert ignored == Delivered(200, NOT_CREDITED, credited=False)  # accepted, final, not retried


def test_a_goal_without_any_reward_entry_was_not_credited() -> None:
    body = orjson.dumps({"status": 200, "data": {"items": [{"g": "g0", "rs": []}]}})
    [verdict] = verdicts_for(body, goals=1)
    assert verdict == Delivered(200, NOT_CREDITED, credited=False)


def test_errors_inside_a_200_are_retried_and_unreadable_answers_are_unverified() -> None:
    assert all(isinstance(v, Retry) for v in verdicts_for(b'{"status": 503, "err": "busy"}'))
    assert all(isinstance(v, Retry) for v in verdicts_for(b"", status=502))
    unread = verdicts_for(b"<html>gateway</html>")
    assert all(isinstance(v, Delivered) and v.outcome == "unverified" for v in unread)


def test_conversions_outside_the_credit_window_are_not_sent() -> None:
    destination_ = conductrics()
    fresh = conversion(visitor_id="v", goal_id="g", occurred_at=WHEN)
    assert (
        destination_.unsendable(fresh, WHEN_MS + int(timedelta(hours=71).total_seconds() * 1000))
        is None
    )
    reason = destination_.unsendable(
        fresh, WHEN_MS + int(timedelta(hours=73).total_seconds() * 1000)
    )
    assert reason == "older than Conductrics' credit window of 72 h: it would not be credited"


def test_the_credit_window_counts_from_when_the_ledger_captured_the_vid() -> None:
    """A renewal made today with a vid the browser gave 80 h ago: Conductrics would not credit
    it, whatever the conversion's own time."""
    hour = 3_600_000
    captured = conversion(
        visitor_id="v",
        goal_id="g",
        occurred_at=WHEN,
        ids_captured_at={"conductrics": WHEN_MS - 80 * hour, "pagent": WHEN_MS},
    )
    reason = conductrics().unsendable(captured, WHEN_MS + hour)
    assert reason == (
        "the visitor's vid was captured 81 h ago, past Conductrics' credit window of 72 h from"
        " the selection: it would not be credited"
    )
    recent = conversion(
        visitor_id="v", goal_id="g", ids_captured_at={"conductrics": WHEN_MS - 70 * hour}
    )
    assert conductrics().unsendable(recent, WHEN_MS + hour) is None
