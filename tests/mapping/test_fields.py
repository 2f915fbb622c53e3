import hashlib
from datetime import UTC, datetime

import pytest

from bridge.destinations.fields import FieldError
from bridge.mapping.expressions import Constant
from bridge.mapping.fields import MAX_PROPERTIES_BYTES, ObjectMapping, coerce, compile_entry
from bridge.vocabulary.money import Money


def test_entries_are_expressions_constants_or_objects() -> None:
    assert compile_entry("data.id").search({"data": {"id": "x"}}) == "x"
    assert isinstance(compile_entry({"const": "purchase"}), Constant)
    assert compile_entry({"const": "purchase"}).search({}) == "purchase"
    assert compile_entry(3).search({}) == 3
    mapped = compile_entry({"plan": "metadata.plan", "source": {"const": "stripe"}, "gone": "nope"})
    assert isinstance(mapped, ObjectMapping)
    assert mapped.search({"metadata": {"plan": "pro"}}) == {"plan": "pro", "source": "stripe"}


@pytest.mark.parametrize("written", [None, ["a", "b"]])
def test_entries_that_say_nothing_are_errors(written: object) -> None:
    with pytest.raises(FieldError):
        compile_entry(written)


def test_empty_strings_count_as_missing() -> None:
    assert coerce("session_id", "") is None
    assert coerce("session_id", None) is None


def test_ids_accept_strings_and_integers_only() -> None:
    assert coerce("visitor_id", 12345) == "12345"
    with pytest.raises(FieldError, match="expected a string, got an object"):
        coerce("session_id", {"a": 1})
    with pytest.raises(FieldError, match="boolean"):
        coerce("user_id", True)


def test_revenue_must_name_its_unit() -> None:
    assert coerce("revenue", Money(1, "USD")) == Money(1, "USD")
    with pytest.raises(FieldError, match="money\\(\\), money_major\\(\\) or stripe_money\\(\\)"):
        coerce("revenue", 2499)


def test_times_must_be_aware() -> None:
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    assert coerce("occurred_at", moment) == moment
    with pytest.raises(FieldError, match="unix_seconds"):
        coerce("occurred_at", 1763800123)


def test_email_hash_must_be_a_sha256_digest() -> None:
    digest = hashlib.sha256(b"a@b.c").hexdigest()
    assert coerce("email_sha256", digest.upper()) == digest
    with pytest.raises(FieldError, match="sha256_email"):
        coerce("email_sha256", "jane@example.com")


def test_exposure_is_experience_to_variation() -> None:
    assert coerce("exposure", {"100": 200}) == {"100": "200"}
    with pytest.raises(FieldError):
        coerce("exposure", "100:200")


def test_properties_are_bounded_plain_json() -> None:
    assert coerce("properties", [{"a": 1}]) == [{"a": 1}]
    with pytest.raises(FieldError, match="limit"):
        coerce("properties", {"x": "y" * MAX_PROPERTIES_BYTES})
    with pytest.raises(FieldError, match="object or an array"):
        coerce("properties", "text")


def test_counts_and_consent() -> None:
    assert coerce("products_count", "3") == 3
    with pytest.raises(FieldError):
        coerce("products_count", -1)
    assert coerce("consent", "Granted") == "granted"
    with pytest.raises(FieldError, match="granted, denied, pending"):
        coerce("consent", "yes")


@pytest.mark.parametrize("text", ["in_1\x00", "\x00", "a\x07b", "line\nbreak", "tab\there", "\x7f"])
@pytest.mark.parametrize("field", ["transaction_id", "session_id", "goal_id", "event_name"])
def test_an_id_holding_a_control_character_is_invalid(field: str, text: str) -> None:
    with pytest.raises(FieldError, match="control character"):
        coerce(field, text)


def test_segment_and_exposure_values_are_ids_too() -> None:
    with pytest.raises(FieldError, match="control character"):
        coerce("exposure", {"100": "v\x00"})
    with pytest.raises(FieldError, match="control character"):
        coerce("segments", {"country": ["us", "\x00"]})


@pytest.mark.parametrize("count", ["\uff13", "\u00b2", "9" * 19, 10**19])
def test_a_count_is_ascii_digits_of_bounded_length(count: object) -> None:
    with pytest.raises(FieldError, match="whole number"):
        coerce("products_count", count)


@pytest.mark.parametrize("minor", [-1, -500])
def test_negative_revenue_is_never_a_purchase(minor: int) -> None:
    with pytest.raises(FieldError, match="negative revenue: a refund is not a purchase"):
        coerce("revenue", Money(minor, "USD"))
    assert coerce("revenue", Money(0, "USD")) == Money(0, "USD")
