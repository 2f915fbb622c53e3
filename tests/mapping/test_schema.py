"""The mapping files' JSON Schema: shipped as generated, valid, every shipped file passes it, and
the mistakes `bridge check` refuses are flagged by an editor too."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest
import yaml

from bridge.mapping.schema import mapping_schema
from tests.support.mappings import REPO

SHIPPED = REPO / "mappings" / "bridge.schema.json"
MAPPING_FILES = sorted(
    path
    for path in (REPO / "mappings").rglob("*.y*ml")
    if "samples" not in path.parts and "tests" not in path.parts
)


def validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(SHIPPED.read_text()))


def test_the_shipped_schema_is_the_generated_one() -> None:
    generated = orjson.dumps(mapping_schema(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    assert SHIPPED.read_text() == generated.decode() + "\n", (
        "regenerate it: python -m bridge.mapping.schema > mappings/bridge.schema.json"
    )
    jsonschema.Draft202012Validator.check_schema(json.loads(SHIPPED.read_text()))


@pytest.mark.parametrize("path", MAPPING_FILES, ids=lambda path: path.name)
def test_every_shipped_mapping_file_passes_the_schema(path: Path) -> None:
    assert [e.message for e in validator().iter_errors(yaml.safe_load(path.read_text()))] == []


def flagged(document: dict[str, Any]) -> list[str]:
    return [error.message for error in validator().iter_errors(document)]


STRIPE = {"kind": "stripe", "secret": "${STRIPE_WEBHOOK_SECRET}"}
RULE = {
    "name": "paid",
    "source": "stripe",
    "destination": "pagent",
    "conversion": {"goal_id": {"const": "g"}},
}


@pytest.mark.parametrize(
    ("document", "says"),
    [
        ({"sources": {"stripe": {**STRIPE, "secret": "whsec_pasted"}}}, "whsec_pasted"),
        ({"sources": {"stripe": {**STRIPE, "tolerance": 300}}}, "tolerance"),
        ({"sources": {"stripe": {"kind": "strip", "secret": "${S}"}}}, "'strip' is not one of"),
        ({"sources": {"stripe": {"secret": "${S}"}}}, "'kind' is a required property"),
        ({"rules": [{**RULE, "destinaton": "pagent"}]}, "destinaton"),
        ({"rules": [{**RULE, "events": 7}]}, "7 is not valid"),
        ({"sourcse": {}}, "sourcse"),
        ({"sources": {"Stripe Live": STRIPE}}, "Stripe Live"),
    ],
)
def test_a_mistake_bridge_check_refuses_is_flagged_in_the_editor(
    document: dict[str, Any], says: str
) -> None:
    found = flagged(document)
    assert found, document
    assert any(says in message for message in found), found


def test_a_rules_events_and_destination_may_be_one_value_or_a_list() -> None:
    one = {**RULE, "events": "checkout.session.completed"}
    many = {**RULE, "events": ["a", "b"], "destination": ["pagent", "convert"]}
    assert flagged({"sources": {"stripe": STRIPE}, "rules": [one, many]}) == []
