from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from bridge.destinations.base import VendorResponse
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


def test_a_redirect_is_reported_without_its_query_where_a_key_may_travel() -> None:
    where = "https://login.example/v3/agent-api?apikey=cdx%2BKEY%2Fwith&session=s1#top"
    verdict = classify_http(302, {"location": where}, "")
    assert isinstance(verdict, Dead)
    assert verdict.reason == (
        "HTTP 302 redirect to https://login.example/v3/agent-api: point base_url at the final"
        " address"
    )


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    now = datetime(2026, 11, 22, 10, 0, tzinfo=UTC).timestamp()
    later = format_datetime(datetime(2026, 11, 22, 10, 2, tzinfo=UTC), usegmt=True)
    assert retry_after_seconds("90") == 90
    assert retry_after_seconds(later, now=now) == 120
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


@pytest.mark.parametrize(
    "value",
    [
        "9" * 400,  # int() reads it, float() of it overflowed the round
        "\u00b2",  # str.isdigit() says yes, int() raised
        "\u00b9\u00b2\u00b3",
        "\uff11\uff12",
        "-5",
        "+5",
        "1.5",
        "soon",
        "Mon, 99 Foo",
        "Fri, 31 Dec 99999999999999999999 23:59:59 GMT",
    ],
)
def test_a_retry_after_in_neither_rfc_form_is_ignored_with_a_warning(
    value: str, caplog: pytest.LogCaptureFixture
) -> None:
    assert retry_after_seconds(value) is None
    [warning] = [r for r in caplog.records if r.levelname == "WARNING"]
    assert "Retry-After" in warning.getMessage()
    verdict = classify_http(503, {"retry-after": value}, "busy")
    assert verdict == Retry(reason="HTTP 503: busy", status=503, after_seconds=None)


def test_retry_after_reads_every_http_date_form_rfc_9110_names() -> None:
    now = datetime(1994, 11, 6, 8, 49, 0, tzinfo=UTC).timestamp()
    for form in (
        "Sun, 06 Nov 1994 08:49:37 GMT",  # IMF-fixdate
        "Sunday, 06-Nov-94 08:49:37 GMT",  # obsolete RFC 850
        "Sun Nov  6 08:49:37 1994",  # obsolete asctime
    ):
        assert retry_after_seconds(form, now=now) == 37
    assert retry_after_seconds(" 120 ") == 120


def test_a_vendor_answer_of_any_bytes_reads_as_text_every_store_keeps() -> None:
    answer = VendorResponse(200, {}, b'\x00{"ok": \xff}' + b"x" * 10_000)
    text = answer.text()
    assert text.startswith('\ufffd{"ok": \ufffd}xxx')
    assert len(text) == 503
