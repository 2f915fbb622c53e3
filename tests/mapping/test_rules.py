from datetime import UTC, datetime
from pathlib import Path

from bridge.model import Event
from bridge.money import Money
from tests.support import stripe as s
from tests.support.mappings import config_with_rules

RULES = """
rules:
  - name: paid
    source: stripe
    events: [checkout.session.completed]
    when: data.object.payment_status == 'paid'
    destination: pagent
    conversion:
      session_id: data.object.metadata.pagent_session_id
      user_id: data.object.metadata.pagent_user_id
      goal_id: data.object.metadata.pagent_conversion_id
      revenue: stripe_money(data.object.amount_total, data.object.currency)
      transaction_id: data.object.payment_intent
"""


def stripe_event(payload: dict[str, object]) -> Event:
    return Event(
        "stripe",
        str(payload["id"]),
        str(payload["type"]),
        payload,
        b"{}",
        datetime.fromtimestamp(payload["created"], UTC),
    )  # type: ignore[arg-type]


def evaluate(tmp_path: Path, payload: dict[str, object], rules: str = RULES) -> list:  # type: ignore[type-arg]
    return config_with_rules(tmp_path, rules).rules.evaluate(stripe_event(payload))


def test_a_matching_rule_builds_the_conversion(tmp_path: Path) -> None:
    [result] = evaluate(tmp_path, s.event("checkout.session.completed", event_id="evt_a"))
    assert result.status == "converted"
    assert result.destinations == ("pagent",)
    conversion = result.conversion
    assert conversion.session_id == "s_8f14e45fceea167a"
    assert conversion.revenue == Money(2499, "USD")
    assert conversion.transaction_id == "pi_3SAbCdEfGhIjKlMn0x1y2z3a"
    assert conversion.provenance.event_id == "evt_a"
    assert conversion.provenance.rule == "paid"
    assert conversion.occurred_at == datetime.fromtimestamp(
        1763800123, UTC
    )  # defaults to the event time


def test_a_false_filter_skips_with_the_reason(tmp_path: Path) -> None:
    [result] = evaluate(tmp_path, s.event("checkout.session.completed", payment_status="unpaid"))
    assert result.status == "skipped"
    assert result.reason == "when `data.object.payment_status == 'paid'` is false"


def test_rules_for_other_event_types_do_not_apply(tmp_path: Path) -> None:
    assert evaluate(tmp_path, s.event("invoice.paid")) == []


def test_every_missing_required_field_is_named(tmp_path: Path) -> None:
    [result] = evaluate(tmp_path, s.event("checkout.session.completed", metadata={}))
    assert result.status == "unmapped"
    assert (
        "session_id is missing (`data.object.metadata.pagent_session_id` gave nothing)"
        in result.reason
    )
    assert "user_id is missing" in result.reason
    assert "goal_id is missing" in result.reason
    assert result.conversion is None


def test_an_unknown_currency_is_unmapped_never_sent_wrong(tmp_path: Path) -> None:
    [result] = evaluate(tmp_path, s.event("checkout.session.completed", currency="xts"))
    assert result.status == "unmapped"
    assert "revenue: currency 'XTS' has no minor unit" in result.reason


def test_a_missing_optional_field_is_left_out(tmp_path: Path) -> None:
    [result] = evaluate(tmp_path, s.event("checkout.session.completed", payment_intent=None))
    assert result.status == "converted"
    assert result.conversion.transaction_id is None
