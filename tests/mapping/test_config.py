from pathlib import Path

import pytest

from bridge.mapping import MappingError, load_config
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
    assert "rules[0].source: unknown source 'stripe'" in text


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
