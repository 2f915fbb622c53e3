import hashlib
from datetime import UTC, datetime

import pytest

from bridge.mapping.expressions import EvaluationError, compile_expression
from bridge.vocabulary.money import Money


def value(text: str, payload: object = None) -> object:
    return compile_expression(text).search(payload or {})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("money(`1999`, 'usd')", Money(1999, "USD")),
        ("money('500', 'JPY')", Money(500, "JPY")),
        ("money_major('19.99', 'USD')", Money(1999, "USD")),
        (
            "money_major(`19.99`, 'USD')",
            Money(1999, "USD"),
        ),  # a JSON number, read by its decimal form
        ("money_major('1.234', 'KWD')", Money(1234, "KWD")),
        ("stripe_money(`5000`, 'jpy')", Money(5000, "JPY")),
        ("stripe_money(`12340`, 'kwd')", Money(12340, "KWD")),
        ("stripe_money(`10000`, 'isk')", Money(100, "ISK")),
        ("stripe_money(`1000`, 'mga')", Money(100000, "MGA")),
    ],
)
def test_money_functions(text: str, expected: Money) -> None:
    assert value(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("money(`19.99`, 'USD')", "integer count of minor units"),
        ("money_major('19.999', 'USD')", "more decimals"),
        ("stripe_money(`10050`, 'isk')", "not a whole number"),
        ("money(missing, 'ZZZ')", None),
    ],
)
def test_money_functions_refuse_what_they_cannot_represent(text: str, message: str | None) -> None:
    if message is None:  # a literal unknown currency is already refused at load
        with pytest.raises(ValueError, match="unknown currency"):
            value(text)
        return
    with pytest.raises(EvaluationError, match=message):
        value(text)


def test_absent_inputs_give_absent_results() -> None:
    assert value("money(amount, currency)", {"currency": "USD"}) is None
    assert value("sha256_email(email)") is None
    assert value("unix_seconds(created)") is None


def test_sha256_email_normalises_before_hashing() -> None:
    expected = hashlib.sha256(b"jane.doe@example.com").hexdigest()
    assert value("sha256_email(email)", {"email": "  Jane.Doe@Example.COM "}) == expected


def test_sha256_email_refuses_what_is_not_an_address() -> None:
    with pytest.raises(EvaluationError, match="email address"):
        value("sha256_email('nobody')")


def test_unix_times_are_exact_and_utc() -> None:
    assert value("unix_seconds(`1763800123`)") == datetime(2025, 11, 22, 8, 28, 43, tzinfo=UTC)
    assert value("unix_ms(`1763800123456`)") == datetime(
        2025, 11, 22, 8, 28, 43, 456000, tzinfo=UTC
    )
    assert value("unix_seconds('1763800123')") == datetime(2025, 11, 22, 8, 28, 43, tzinfo=UTC)


def test_iso_time_needs_a_zone() -> None:
    assert value("iso_time('2026-11-22T10:00:00Z')") == datetime(2026, 11, 22, 10, tzinfo=UTC)
    assert value("iso_time('2026-11-22T12:00:00+02:00')") == datetime(2026, 11, 22, 10, tzinfo=UTC)
    with pytest.raises(EvaluationError, match="no time zone"):
        value("iso_time('2026-11-22T10:00:00')")


def test_string_helpers() -> None:
    assert value("lower('ABC')") == "abc"
    assert value("upper('abc')") == "ABC"
    assert value("trim('  x ')") == "x"


def test_json_parse_reads_json_carried_in_a_string() -> None:
    carried = {"metadata": {"bucketing": '{"100127238": "1001186427"}'}}
    assert value("json_parse(metadata.bucketing)", carried) == {"100127238": "1001186427"}
    assert value("json_parse(metadata.missing)", carried) is None
    with pytest.raises(EvaluationError, match="not valid JSON"):
        value("json_parse('{oops')")


@pytest.mark.parametrize(
    "text",
    [
        "unix_seconds(`100000000000000000`)",
        "unix_seconds(`-100000000000000000`)",
        "unix_ms(`253402300800000`)",
        "unix_seconds('\uff11\uff12\uff13')",
        "unix_seconds('NaN')",
        "unix_seconds('Infinity')",
        "unix_seconds(`1e308`)",
        "iso_time('0001-01-01T00:00:00+05:00')",
        "iso_time('9999-12-31T23:59:59-23:59')",
        "iso_time('2026-13-45T00:00:00Z')",
    ],
)
def test_times_out_of_range_are_refused_with_a_reason(text: str) -> None:
    with pytest.raises(EvaluationError, match=r"not a timestamp|not an ISO 8601 time|range"):
        value(text)


def test_a_unix_time_written_as_ascii_text_is_read() -> None:
    assert value("unix_seconds('1700000000')") == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert value("unix_seconds('1700000000.5')") == datetime(
        2023, 11, 14, 22, 13, 20, 500000, tzinfo=UTC
    )


@pytest.mark.parametrize(
    "text", ["money('\uff11\uff12\uff13', 'USD')", "money_major('\uff11\uff12.5', 'USD')"]
)
def test_money_is_read_from_ascii_digits_only(text: str) -> None:
    with pytest.raises(EvaluationError, match=r"minor units|decimal number"):
        value(text)


def test_json_parse_refuses_a_document_nested_too_deeply() -> None:
    deep = "[" * 100 + "]" * 100
    with pytest.raises(EvaluationError, match="nested deeper than 64 levels"):
        value("json_parse(text)", {"text": deep})
    assert value("json_parse(text)", {"text": "[[1]]"}) == [[1]]


@pytest.mark.parametrize(
    ("currency", "minor"), [("bgn", 1999), ("ang", 1999), ("xcg", 1999), ("hrk", 1999)]
)
def test_stripe_money_reads_currencies_that_left_iso_4217(currency: str, minor: int) -> None:
    assert value(f"stripe_money(`1999`, '{currency}')") == Money(minor, currency.upper())
