"""A rule's `identity:`: the ledger's ids read as `identity.<vendor>.<field>`, checked at load."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.mapping import Config, MappingError, load_config
from bridge.store.identities import CapturedIds, KnownIdentity
from bridge.vocabulary.model import Event
from tests.support.identity_mappings import JOINED, LEDGER
from tests.support.mappings import ENVIRON, PAGENT, SOURCE, write_mappings

PLAIN = """
rules:
  - name: plain
    source: stripe
    destination: pagent
    conversion:
      session_id: data.object.metadata.session_id
      user_id: data.object.metadata.user_id
      goal_id: {const: purchase}
"""

KNOWN = KnownIdentity(
    ledger="web",
    ref="ref_visitor_0123456789ab",
    vendors={
        "pagent": CapturedIds({"session_id": "sess-captured", "user_id": "user-7"}, 1_000),
    },
    via="ref",
)


def loaded(tmp_path: Path, rules: str, ledger: str = LEDGER) -> Config:
    tmp_path.mkdir(exist_ok=True)
    folder = write_mappings(tmp_path, source=SOURCE, pagent=PAGENT, ledger=ledger, rules=rules)
    return load_config(folder, ENVIRON)


def problems(tmp_path: Path, rules: str, ledger: str = LEDGER) -> list[str]:
    with pytest.raises(MappingError) as failure:
        loaded(tmp_path, rules, ledger)
    return [str(issue) for issue in failure.value.issues]


def checkout(metadata: dict[str, str], reference: str | None = "ref_visitor_0123456789ab") -> Event:
    payload = {
        "id": "evt_1",
        "type": "checkout.session.completed",
        "data": {
            "object": {
                "client_reference_id": reference,
                "customer": "cus_42",
                "metadata": metadata,
            }
        },
    }
    return Event("stripe", "evt_1", "checkout.session.completed", payload, b"{}")


def test_entries_read_the_ledgers_ids(tmp_path: Path) -> None:
    [rule] = loaded(tmp_path, JOINED).rules.rules
    result = rule.evaluate(checkout({}), KNOWN)
    assert result.status == "converted"
    assert result.conversion is not None
    assert (result.conversion.session_id, result.conversion.user_id) == ("sess-captured", "user-7")


def test_the_payloads_id_wins_where_the_rule_writes_it_first(tmp_path: Path) -> None:
    [rule] = loaded(tmp_path, JOINED).rules.rules
    result = rule.evaluate(checkout({"session_id": "sess-from-stripe"}), KNOWN)
    assert result.conversion is not None
    assert result.conversion.session_id == "sess-from-stripe"
    assert result.conversion.user_id == "user-7"


def test_without_a_known_identity_the_fields_it_gives_are_missing(tmp_path: Path) -> None:
    [rule] = loaded(tmp_path, JOINED).rules.rules
    result = rule.evaluate(checkout({}))
    assert result.status == "unmapped"
    assert "session_id is missing" in (result.reason or "")


def test_the_payload_is_not_changed(tmp_path: Path) -> None:
    [rule] = loaded(tmp_path, JOINED).rules.rules
    event = checkout({})
    rule.evaluate(event, KNOWN)
    assert "identity" not in event.payload


def test_a_payloads_own_identity_key_is_not_read_as_the_ledgers(tmp_path: Path) -> None:
    [rule] = loaded(tmp_path, JOINED).rules.rules
    event = checkout({})
    event.payload["identity"] = {"pagent": {"session_id": "forged", "user_id": "forged"}}
    assert rule.evaluate(event).status == "unmapped"


def test_a_rule_without_identity_reads_the_payload_alone(tmp_path: Path) -> None:
    [rule] = loaded(tmp_path, PLAIN).rules.rules
    event = checkout({"session_id": "s", "user_id": "u"})
    assert rule.identity is None
    assert rule.identity_key(event) is None
    result = rule.evaluate(event, KNOWN)
    assert result.conversion is not None
    assert result.conversion.session_id == "s"


def test_the_key_is_the_reference_or_else_the_customer(tmp_path: Path) -> None:
    [rule] = loaded(tmp_path, JOINED).rules.rules
    assert rule.identity_key(checkout({})) == "ref_visitor_0123456789ab"
    assert rule.identity_key(checkout({}, reference=None)) == "cus_42"


def test_an_event_without_a_key_has_none(tmp_path: Path) -> None:
    [rule] = loaded(tmp_path, JOINED).rules.rules
    event = Event("stripe", "evt_2", "checkout.session.completed", {"data": {}}, b"{}")
    assert rule.identity_key(event) is None


def test_only_sources_with_identity_rules_are_joined(tmp_path: Path) -> None:
    assert loaded(tmp_path / "joined", JOINED).rules.joined_sources == {"stripe"}
    assert loaded(tmp_path / "plain", PLAIN).rules.joined_sources == frozenset()


def test_an_unknown_ledger_is_an_error_with_its_line(tmp_path: Path) -> None:
    found = problems(tmp_path, JOINED.replace("ledger: web", "ledger: shop"))
    assert found == [
        f"{tmp_path / 'mappings' / 'rules.yaml'}:8: rules[0].identity.ledger:"
        " unknown ledger 'shop' (known: web)"
    ]


def test_a_vendor_the_ledger_does_not_capture_is_an_error(tmp_path: Path) -> None:
    rules = JOINED.replace("identity.pagent.user_id", "identity.convert.visitor_id")
    found = problems(tmp_path, rules)
    assert found == [
        f"{tmp_path / 'mappings' / 'rules.yaml'}:12: rules[0].conversion.user_id:"
        " identity.convert.visitor_id: ledger 'web' does not capture convert (it captures pagent)"
    ]


def test_a_field_the_vendor_does_not_give_is_an_error(tmp_path: Path) -> None:
    rules = JOINED.replace("identity.pagent.session_id", "identity.pagent.visit_id")
    found = problems(tmp_path, rules)
    assert found == [
        f"{tmp_path / 'mappings' / 'rules.yaml'}:11: rules[0].conversion.session_id:"
        " identity.pagent.visit_id: pagent gives no visit_id"
        " (it gives session_id, user_id, conversion_id)"
    ]


def test_identity_paths_in_a_rule_without_identity_are_an_error(tmp_path: Path) -> None:
    rules = PLAIN.replace("data.object.metadata.user_id", "identity.pagent.user_id")
    found = problems(tmp_path, rules)
    assert found == [
        f"{tmp_path / 'mappings' / 'rules.yaml'}:8: rules[0].conversion.user_id:"
        " reads identity, but the rule has no identity: (name the ledger and the key the"
        " webhook carries)"
    ]


def test_identity_paths_inside_an_object_entry_are_checked(tmp_path: Path) -> None:
    rules = JOINED.replace(
        "goal_id: {const: purchase}",
        "goal_id: {const: purchase}\n      properties: {visitor: identity.scanova.session_id}",
    )
    found = problems(tmp_path, rules)
    assert len(found) == 1
    assert "identity.scanova.session_id: ledger 'web' does not capture scanova" in found[0]


def test_an_unknown_key_in_identity_is_an_error(tmp_path: Path) -> None:
    rules = JOINED.replace("ledger: web", "ledger: web\n      keys: data.object.customer")
    [found] = problems(tmp_path, rules)
    assert "rules[0].identity.keys: unknown key" in found
