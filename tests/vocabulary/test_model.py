import calendar
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest

from bridge.utilities.times import unix_ms
from bridge.vocabulary.model import Conversion, Provenance
from bridge.vocabulary.money import Money

WHEN = datetime(2026, 11, 22, 10, 30, 15, 123000, tzinfo=UTC)


def conversion(event_id: str = "evt_1", rule: str = "r", **fields: Any) -> Conversion:
    provenance = Provenance("stripe", event_id, rule, "m.yaml", "abc")
    return Conversion(occurred_at=WHEN, provenance=provenance, **fields)


def test_same_transaction_and_goal_is_one_conversion_whatever_event_reported_it() -> None:
    from_checkout = conversion(event_id="evt_checkout", goal_id="g", transaction_id="pi_1")
    from_payment_intent = conversion(
        event_id="evt_pi", rule="other", goal_id="g", transaction_id="pi_1"
    )
    assert from_checkout.dedupe_key() == from_payment_intent.dedupe_key()


def test_different_goals_of_one_transaction_are_different_conversions() -> None:
    assert (
        conversion(goal_id="a", transaction_id="pi_1").dedupe_key()
        != conversion(goal_id="b", transaction_id="pi_1").dedupe_key()
    )


def test_without_transaction_each_event_and_rule_is_its_own_conversion() -> None:
    assert conversion(event_id="evt_1").dedupe_key() != conversion(event_id="evt_2").dedupe_key()
    assert conversion(rule="a").dedupe_key() != conversion(rule="b").dedupe_key()


def test_stored_form_round_trips_exactly() -> None:
    original = conversion(
        session_id="s",
        revenue=Money(1234, "KWD"),
        exposure={"100": "200"},
        properties=[{"a": 1}],
        consent="granted",
        vendor_fields={"products_count": 2, "segments": {"devices": ["DESK"]}},
    )
    assert Conversion.from_dict(original.to_dict()) == original
    assert Conversion.from_dict(orjson.loads(original.to_json())) == original
    assert "user_id" not in original.to_dict()


def test_vendor_fields_are_stored_as_keys_beside_the_core_fields() -> None:
    """The stored form is the same whichever module declares a field: flat keys."""
    stored = orjson.loads(conversion(goal_id="g", vendor_fields={"label": "purchase"}).to_json())
    assert (stored["goal_id"], stored["label"]) == ("g", "purchase")
    assert "vendor_fields" not in stored
    assert Conversion.from_dict(stored).vendor_fields == {"label": "purchase"}


def test_to_dict_copies_what_its_caller_may_change() -> None:
    original = conversion(
        properties={"tags": ["a"]}, vendor_fields={"segments": {"devices": ["DESK"]}}
    )
    shown = original.to_dict()
    shown["properties"]["tags"].append("b")
    shown["segments"]["devices"].append("IPH")
    assert original.properties == {"tags": ["a"]}
    assert original.vendor_fields == {"segments": {"devices": ["DESK"]}}


@pytest.mark.parametrize(
    "occurred_at",
    [
        WHEN,
        WHEN.replace(microsecond=0),
        WHEN.replace(microsecond=1),
        WHEN.astimezone(timezone(timedelta(hours=5, minutes=30))),
        datetime(1970, 1, 1, tzinfo=UTC),
    ],
)
def test_stored_bytes_are_the_json_of_the_stored_form(occurred_at: datetime) -> None:
    """The store keeps `to_json()`; `bridge try` and tests read `to_dict()`: one text."""
    stored = conversion(session_id="s", revenue=Money(5, "JPY"), vendor_fields={"label": "l"})
    original = replace(stored, occurred_at=occurred_at)
    assert original.to_json() == orjson.dumps(original.to_dict())
    assert Conversion.from_dict(orjson.loads(original.to_json())).occurred_at == occurred_at


def test_unix_ms_is_exact() -> None:
    assert unix_ms(WHEN) == calendar.timegm(WHEN.utctimetuple()) * 1000 + 123
