from pathlib import Path

import orjson
import pytest

from bridge.mapping import MappingError, load_config
from bridge.vocabulary.model import Event
from tests.support import stripe as s
from tests.support.mappings import ENVIRON, PAGENT, SOURCE, write_mappings
from tests.support.stripe import REPO

RULE = """
rules:
  - name: paid
    source: stripe
    destination: pagent
    conversion:
      session_id: data.object.metadata.s
      user_id: data.object.metadata.u
      goal_id: data.object.metadata.g
"""


def problems(tmp_path: Path, **files: str) -> list[str]:
    with pytest.raises(MappingError) as failure:
        load_config(write_mappings(tmp_path, **files), ENVIRON)
    return [str(issue) for issue in failure.value.issues]


def test_the_shipped_mappings_load(monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_config(REPO / "mappings", ENVIRON)
    assert set(config.sources) == {"stripe"}
    assert set(config.destinations) == {"pagent"}
    assert [r.name for r in config.rules.rules] == [
        "stripe-checkout-paid",
        "stripe-payment-intent",
        "stripe-invoice-paid",
    ]
    assert config.warnings() == []


def test_unset_secrets_are_warnings_that_name_the_variable() -> None:
    config = load_config(REPO / "mappings", {})
    warnings = "\n".join(config.warnings())
    assert "STRIPE_WEBHOOK_SECRET is not set; webhooks to it are answered 503" in warnings
    assert "PAGENT_API_KEY is not set; deliveries to it wait" in warnings


def test_errors_name_file_line_and_field(tmp_path: Path) -> None:
    broken = """\
    rules:
      - name: paid
        source: stripe
        destination: pagent
        conversion:
          session_id: data.object.metadata.s
          user_id: data.object ==
          goal_id: data.object.metadata.g
          sesion: data.x
    """
    found = problems(tmp_path, source=SOURCE, pagent=PAGENT, rules=broken)
    folder = tmp_path / "mappings"
    assert (
        f"{folder}/rules.yaml:7: rules[0].conversion.user_id: not a valid expression"
        in "\n".join(found)
    )
    assert any(
        p.startswith(f"{folder}/rules.yaml:9: rules[0].conversion.sesion: unknown conversion field")
        for p in found
    )


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        source=SOURCE.replace("kind: stripe", "kind: strype"),
        pagent=PAGENT.replace("${PAGENT_API_KEY}", "pk_live_inline"),
        rules=RULE.replace("destination: pagent", "destination: nowhere"),
    )
    text = "\n".join(found)
    assert "source.yaml:4: sources.stripe.kind: unknown source kind 'strype' (known: " in text
    assert (
        "pagent.yaml:6: destinations.pagent.api_key: "
        "secrets must be written as an environment reference" in text
    )
    assert "rules.yaml:5: rules[0].destination: unknown destination 'nowhere'" in text
    # source 'stripe' is defined, with an error already reported: not "unknown" as well
    assert "unknown source 'stripe'" not in text


def test_a_rule_must_map_what_its_vendor_requires(tmp_path: Path) -> None:
    rule = RULE.replace("      goal_id: data.object.metadata.g\n", "")
    [problem] = problems(tmp_path, source=SOURCE, pagent=PAGENT, rules=rule)
    assert (
        "rules[0].conversion: destination 'pagent' (pagent) needs goal_id, "
        "which this rule does not map" in problem
    )


def test_names_are_unique_across_files(tmp_path: Path) -> None:
    found = problems(tmp_path, source=SOURCE, again=SOURCE, pagent=PAGENT, rules=RULE)
    assert any("source 'stripe' is already defined at" in p for p in found)


def test_vendor_options_are_validated(tmp_path: Path) -> None:
    found = problems(
        tmp_path, source=SOURCE, pagent=PAGENT + "    api: v3\n    batch_size: 500\n", rules=RULE
    )
    text = "\n".join(found)
    assert "destinations.pagent.api:" in text
    assert "destinations.pagent.batch_size: Input should be less than or equal to 100" in text


def test_an_empty_directory_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(MappingError, match="no mapping files"):
        load_config(tmp_path / "empty", {})


def test_unused_sources_and_destinations_are_pointed_out(tmp_path: Path) -> None:
    config = load_config(write_mappings(tmp_path, source=SOURCE, pagent=PAGENT), ENVIRON)
    assert config.warnings() == [
        "source 'stripe' has no rules: its events are stored as ignored",
        "destination 'pagent' is not used by any rule",
    ]


def test_a_secret_warning_points_at_the_line_of_the_secret() -> None:
    config = load_config(REPO / "mappings", {})
    assert [warning.split(": ")[0] for warning in config.warnings()] == [
        f"source 'stripe' ({REPO / 'mappings' / 'stripe.yaml'}:8)",
        f"destination 'pagent' ({REPO / 'mappings' / 'pagent.yaml'}:7)",
    ]


def test_the_hints_show_the_reference_syntax_as_it_is_written(tmp_path: Path) -> None:
    pagent = PAGENT.replace("${PAGENT_BASE_URL:-http://127.0.0.1:9}", "${PAGENT_URL}")
    source = SOURCE.replace("${STRIPE_WEBHOOK_SECRET}", "whsec_inline")
    found = "\n".join(problems(tmp_path, source=source, pagent=pagent, rules=RULE))
    assert "is not set and has no default (write ${PAGENT_URL:-value})" in found
    assert "environment reference like ${STRIPE_WEBHOOK_SECRET}, never inline" in found


def test_an_unset_secret_named_like_a_set_variable_asks_did_you_mean(tmp_path: Path) -> None:
    pagent = PAGENT.replace("${PAGENT_API_KEY}", "${PAGENT_APIKEY}")
    folder = write_mappings(tmp_path, source=SOURCE, pagent=pagent, rules=RULE)
    config = load_config(folder, ENVIRON)
    assert config.warnings() == [
        f"destination 'pagent' ({folder / 'pagent.yaml'}:6): environment variable PAGENT_APIKEY"
        " is not set (did you mean PAGENT_API_KEY? it is set); deliveries to it wait until it is"
    ]


def test_an_unset_setting_named_like_a_set_variable_asks_did_you_mean(tmp_path: Path) -> None:
    pagent = PAGENT.replace("${PAGENT_BASE_URL:-http://127.0.0.1:9}", "${PAGENT_BASEURL}")
    folder = write_mappings(tmp_path, source=SOURCE, pagent=pagent, rules=RULE)
    with pytest.raises(MappingError) as failure:
        load_config(folder, {**ENVIRON, "PAGENT_BASE_URL": "http://127.0.0.1:9"})
    found = [str(issue) for issue in failure.value.issues]
    assert len(found) == 1
    assert found[0].startswith(
        f"{tmp_path / 'mappings' / 'pagent.yaml'}:5: destinations.pagent.base_url:"
        " environment variable PAGENT_BASEURL is not set"
    )
    assert found[0].endswith("(did you mean PAGENT_BASE_URL? it is set)")


def with_events(events: str) -> str:
    return RULE.replace(
        "    destination: pagent\n", f"    events: {events}\n    destination: pagent\n"
    )


def test_an_event_type_stripe_never_sends_is_a_warning_with_the_closest_one(
    tmp_path: Path,
) -> None:
    rules = with_events("[checkout.session.completed, checkout.session.complete, refund]")
    folder = write_mappings(tmp_path, source=SOURCE, pagent=PAGENT, rules=rules)
    config = load_config(folder, ENVIRON)
    assert config.warnings() == [
        f"rule 'paid' ({folder / 'rules.yaml'}:5): stripe never sends event type"
        " 'checkout.session.complete' (did you mean 'checkout.session.completed'?)",
        f"rule 'paid' ({folder / 'rules.yaml'}:5): stripe never sends event type 'refund'",
    ]


def test_every_event_type_stripe_sends_is_known(tmp_path: Path) -> None:
    rules = with_events("[checkout.session.completed, payment_intent.succeeded, invoice.paid]")
    config = load_config(
        write_mappings(tmp_path, source=SOURCE, pagent=PAGENT, rules=rules), ENVIRON
    )
    assert config.warnings() == []


def test_an_unknown_key_lists_the_allowed_ones(tmp_path: Path) -> None:
    rules = RULE.replace("    source: stripe\n", "    source: stripe\n    label: purchase\n")
    found = problems(tmp_path, source=SOURCE + "    tolerance: 300\n", pagent=PAGENT, rules=rules)
    folder = tmp_path / "mappings"
    assert found == [
        f"{folder / 'source.yaml'}:6: sources.stripe.tolerance: unknown key"
        " (allowed: kind, secret, tolerance_seconds)",
        f"{folder / 'rules.yaml'}:5: rules[0].label: unknown key"
        " (allowed: conversion, destination, events, identity, name, source, when)",
    ]


def test_an_unknown_section_lists_the_allowed_ones(tmp_path: Path) -> None:
    found = problems(
        tmp_path, source=SOURCE, pagent=PAGENT.replace("destinations:", "destination:")
    )
    assert found == [
        f"{tmp_path / 'mappings' / 'pagent.yaml'}:2: destination: unknown key"
        " (allowed: destinations, ledgers, rules, sources)"
    ]


TWO_RULES = RULE + RULE.split("rules:\n")[1].replace("name: paid", "name: paid-again")


def test_a_broken_destination_is_not_also_unknown_to_every_rule(tmp_path: Path) -> None:
    found = problems(
        tmp_path, source=SOURCE, pagent=PAGENT + "    batch_size: 500\n", rules=TWO_RULES
    )
    assert found == [
        f"{tmp_path / 'mappings' / 'pagent.yaml'}:7: destinations.pagent.batch_size:"
        " Input should be less than or equal to 100"
    ]


def test_a_destination_file_that_is_not_yaml_is_the_only_problem(tmp_path: Path) -> None:
    found = problems(
        tmp_path, source=SOURCE, pagent="destinations:\n  pagent: [\n", rules=TWO_RULES
    )
    assert len(found) == 1
    assert found[0].startswith(f"{tmp_path / 'mappings' / 'pagent.yaml'}:3: invalid YAML")


CONVERT = """
destinations:
  convert:
    vendor: convert
    account_id: "10012345"
    project_id: "10056789"
"""
CONVERT_RULE = """
rules:
  - name: paid
    source: stripe
    events: checkout.session.completed
    destination: convert
    conversion:
      visitor_id: data.object.metadata.convert_visitor_id
      goal_id: {const: "100037225"}
      segments: {const: %s}
"""


def test_a_constant_the_vendor_takes_changed_is_a_warning_at_its_line(tmp_path: Path) -> None:
    folder = write_mappings(
        tmp_path, source=SOURCE, convert=CONVERT, rules=CONVERT_RULE % "{country: us}"
    )
    warnings = load_config(folder, ENVIRON).warnings()
    assert (
        f"rule 'paid' ({folder / 'rules.yaml'}:10): destination 'convert' takes segments changed:"
        " country 'us' sent as 'US'"
    ) in warnings


def test_a_field_no_vendor_declares_is_an_error_listing_every_field(tmp_path: Path) -> None:
    found = problems(
        tmp_path, source=SOURCE, pagent=PAGENT, rules=RULE + "      segment: {const: x}\n"
    )
    assert found == [
        f"{tmp_path / 'mappings' / 'rules.yaml'}:10: rules[0].conversion.segment: unknown"
        " conversion field (known: consent, email_sha256, event_name, exposure, external_id,"
        " goal_id, label, occurred_at, products_count, properties, revenue, segments,"
        " session_id, transaction_id, user_id, visit_id, visitor_id)"
    ]


def test_a_vendor_field_no_destination_of_the_rule_reads_is_a_warning_naming_its_vendor(
    tmp_path: Path,
) -> None:
    rules = RULE + "      segments: {browser: {const: CH}}\n      label: {const: purchase}\n"
    folder = write_mappings(tmp_path, source=SOURCE, pagent=PAGENT, rules=rules)
    config = load_config(folder, ENVIRON)
    assert config.warnings() == [
        f"rule 'paid' ({folder / 'rules.yaml'}:10): segments is read by convert; no destination"
        " of this rule (pagent) reads it, so it is sent nowhere"
    ]
    [result] = config.rules.evaluate(stripe_event({"s": "s", "u": "u", "g": "g"}))
    assert result.conversion is not None
    assert result.conversion.vendor_fields == {"segments": {"browser": "CH"}, "label": "purchase"}


def test_a_vendor_field_one_destination_of_the_rule_reads_is_no_warning(tmp_path: Path) -> None:
    rule = CONVERT_RULE.replace("destination: convert", "destination: [convert, pagent]")
    rule += "      session_id: data.object.metadata.s\n      user_id: data.object.metadata.u\n"
    rule = rule.replace('goal_id: {const: "100037225"}', "goal_id: data.object.metadata.g")
    folder = write_mappings(
        tmp_path, source=SOURCE, convert=CONVERT, pagent=PAGENT, rules=rule % "{browser: CH}"
    )
    assert load_config(folder, ENVIRON).warnings() == []


def stripe_event(metadata: dict[str, str]) -> Event:
    payload = s.event("checkout.session.completed", metadata=metadata)
    raw = orjson.dumps(payload)
    return Event("stripe", str(payload["id"]), str(payload["type"]), payload, raw)


SCANOVA = """
destinations:
  scanova:
    vendor: scanova
    site_id: site_abc123
    api_key: ${SCANOVA_API_KEY}
"""
SCANOVA_RULE = """
rules:
  - name: paid
    source: stripe
    events: checkout.session.completed
    destination: scanova
    conversion:
      session_id: {const: not-a-scan-session}
      event_name: {const: purchase}
"""


def test_a_constant_the_vendor_refuses_is_still_an_error(tmp_path: Path) -> None:
    found = problems(tmp_path, source=SOURCE, scanova=SCANOVA, rules=SCANOVA_RULE)
    assert any(
        "destination 'scanova': Scanova's scan_session_id must be a UUID" in p for p in found
    )


# What a captured or forged request could choose: bridge check says so --------------------

HEADER_CHOSEN = """
sources:
  shop:
    kind: hmac
    secret: ${STRIPE_WEBHOOK_SECRET}
    header: X-Signature
    event_id: {header: X-Event-Id}
    event_type: {header: X-Event-Name}
"""
SHOP_RULE = """
rules:
  - name: paid
    source: shop
    events: order.paid
    destination: pagent
    conversion:
      session_id: s
      user_id: u
      goal_id: {const: g}
"""


def test_a_type_and_id_read_from_unsigned_headers_are_warned_about(tmp_path: Path) -> None:
    folder = write_mappings(tmp_path, source=HEADER_CHOSEN, pagent=PAGENT, rules=SHOP_RULE)
    warnings = load_config(folder, ENVIRON).warnings()
    where = f"rule 'paid' ({folder / 'rules.yaml'}:3)"
    assert warnings == [
        f"{where}: source 'shop' takes the event type from the unsigned X-Event-Name header, so"
        " a captured delivery can be sent again as another type; add a `when` that checks a"
        " field of the signed body",
        f"{where}: the event id of source 'shop' depends on the unsigned X-Event-Id header, so a"
        " captured delivery sent again with another one is a new event; map transaction_id from"
        " a field of the signed body so it counts once",
    ]


def test_rules_that_check_the_signed_body_are_not_warned_about(tmp_path: Path) -> None:
    checked = SHOP_RULE.replace("events: order.paid", "events: order.paid\n    when: paid")
    checked += "      transaction_id: order.id\n"
    folder = write_mappings(tmp_path, source=HEADER_CHOSEN, pagent=PAGENT, rules=checked)
    assert load_config(folder, ENVIRON).warnings() == []


def test_a_shopify_rule_on_the_topic_alone_is_warned_about(tmp_path: Path) -> None:
    shopify = "sources:\n  shop:\n    kind: shopify\n    secret: ${STRIPE_WEBHOOK_SECRET}\n"
    folder = write_mappings(tmp_path, source=shopify, pagent=PAGENT, rules=SHOP_RULE)
    [type_warning, id_warning] = load_config(folder, ENVIRON).warnings()
    assert "the unsigned X-Shopify-Topic header" in type_warning
    assert "the unsigned X-Shopify-Event-Id header" in id_warning


SALESFORCE = """
sources:
  sf:
    kind: salesforce
    organization_ids: ["00D5g000004XyZaEAK"]
"""


def test_a_salesforce_source_needs_a_token_or_an_explicit_opt_out(tmp_path: Path) -> None:
    [problem] = problems(tmp_path, source=SALESFORCE)
    assert "sources.sf: Value error, set token: ${VAR}" in problem
    assert "or allow_without_token: true" in problem
    opted_out = SALESFORCE + "    allow_without_token: true\n"
    folder = write_mappings(tmp_path, source=opted_out)
    [warning, unused] = load_config(folder, ENVIRON).warnings()
    assert warning.startswith(
        f"source 'sf' ({folder / 'source.yaml'}:3): allow_without_token: anyone who knows the"
        " organization id"
    )
    assert "set token: ${VAR} and add ?token=<the same value>" in warning
    assert unused.startswith("source 'sf' has no rules")


HUBSPOT = """
sources:
  hs:
    kind: hubspot
    secret: ${STRIPE_WEBHOOK_SECRET}
"""


def test_hubspot_without_public_url_or_with_unsigned_time_versions_is_warned_about(
    tmp_path: Path,
) -> None:
    folder = write_mappings(tmp_path, source=HUBSPOT)
    [host, _] = load_config(folder, ENVIRON).warnings()
    assert "public_url is not set: the v3 signature covers the URL, whose host is" in host
    hardened = HUBSPOT + "    public_url: https://bridge.example.com\n"
    with_v1 = hardened + "    signature_versions: [v3, v1]\n"
    write_mappings(tmp_path, source=with_v1)
    [legacy, _] = load_config(folder, ENVIRON).warnings()
    assert legacy.endswith(
        "signature_versions accepts v1, which sign no time: a captured request is accepted"
        " again whenever it is sent without its v3 header; accept only v3 once the app signs"
        " with it"
    )
    write_mappings(tmp_path, source=hardened)
    [unused] = load_config(folder, ENVIRON).warnings()
    assert unused.startswith("source 'hs' has no rules")
