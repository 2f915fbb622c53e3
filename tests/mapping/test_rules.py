from datetime import UTC, datetime
from pathlib import Path

from bridge.destinations.convert import SEGMENTS
from bridge.mapping import load_config
from bridge.vocabulary.model import Event, RuleResult
from bridge.vocabulary.money import Money
from tests.support import stripe as s
from tests.support.mappings import ENVIRON, SOURCE, config_with_rules, write_mappings

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
        datetime.fromtimestamp(payload["created"], UTC),  # type: ignore[arg-type]
    )


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


CONVERT_RULES = """
destinations:
  convert:
    vendor: convert
    account_id: "10012345"
    project_id: "10056789"
rules:
  - name: paid
    source: stripe
    events: [checkout.session.completed]
    destination: convert
    conversion:
      visitor_id: data.object.metadata.convert_visitor_id
      goal_id: {const: "100037225"}
      segments: json_parse(data.object.metadata.convert_segments)
"""


def convert_result(tmp_path: Path, segments: str) -> RuleResult:
    """What the Convert rule makes of a checkout whose metadata carries `segments`."""
    rules = load_config(write_mappings(tmp_path, source=SOURCE, rules=CONVERT_RULES), ENVIRON)
    metadata = {"convert_visitor_id": "visitor-1", "convert_segments": segments}
    payload = s.event("checkout.session.completed", metadata=metadata)
    [result] = rules.rules.evaluate(stripe_event(payload))
    return result


def test_a_segment_the_vendor_takes_changed_converts_with_a_warning(tmp_path: Path) -> None:
    result = convert_result(tmp_path, '{"browser": "CH", "country": "us", "language": "en"}')
    assert result.status == "converted"
    assert result.destinations == ("convert",)
    assert result.conversion is not None
    assert SEGMENTS.of(result.conversion) == {"browser": "CH", "country": "US"}
    assert result.reason == (
        "rule 'paid': destination 'convert' takes it changed: segments: country 'us' sent as"
        " 'US'; Convert has no segment 'language': left out (known: browser, devices, source,"
        " visitorType, country, campaign, customSegments)"
    )


def test_a_field_left_out_by_the_vendor_is_not_in_the_conversion(tmp_path: Path) -> None:
    result = convert_result(tmp_path, '{"browser": "Chrome"}')
    assert result.status == "converted"
    assert result.conversion is not None
    assert SEGMENTS.of(result.conversion) is None
    assert "browser 'Chrome' is not one of Convert's codes" in (result.reason or "")
