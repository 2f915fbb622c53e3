from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from bridge.destinations.verdicts import Dead, Delivered, Retry, classify_http, retry_after_seconds


def test_success_is_delivered_with_the_answer() -> None:
    assert classify_http(202, {}, '{"accepted":1}') == Delivered(
        status=202, answer='{"accepted":1}'
    )


def test_retryable_answers_keep_the_vendor_message_and_retry_after() -> None:
    verdict = classify_http(429, {"retry-after": "12"}, "slow down")
    assert verdict == Retry(reason="HTTP 429: slow down", status=429, after_seconds=12.0)


@pytest.mark.parametrize("status", [400, 413, 422])
def test_body_refusals_may_be_one_items_fault(status: int) -> None:
    verdict = classify_http(status, {}, "bad field")
    assert isinstance(verdict, Dead)
    assert verdict.split


@pytest.mark.parametrize("status", [401, 403, 404])
def test_auth_and_routing_refusals_are_permanent_for_the_whole_batch(status: int) -> None:
    verdict = classify_http(status, {}, "")
    assert isinstance(verdict, Dead)
    assert not verdict.split
    assert verdict.reason == f"HTTP {status}"


def test_redirects_are_permanent_and_say_where_to() -> None:
    verdict = classify_http(301, {"location": "https://new.example/v1"}, "")
    assert isinstance(verdict, Dead)
    assert "https://new.example/v1" in verdict.reason


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    now = datetime(2026, 11, 22, 10, 0, tzinfo=UTC).timestamp()
    later = format_datetime(datetime(2026, 11, 22, 10, 2, tzinfo=UTC), usegmt=True)
    assert retry_after_seconds("90") == 90
    assert retry_after_seconds(later, now=now) == 120
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None
