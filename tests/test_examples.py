"""Every example mapping loads next to the shipped source and builds its vendor's request."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.sources.stripe import StripeSource
from tests.support import stripe as s
from tests.support.mappings import example_config

EXAMPLES = sorted((s.REPO / "mappings" / "examples").glob("stripe-to-*.yaml"))


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_example_is_valid_and_converts_the_sample_checkout(tmp_path: Path, example: Path) -> None:
    config = example_config(tmp_path, example)
    assert config.warnings() == []
    source = config.sources["stripe"]
    assert isinstance(source, StripeSource)
    [event] = source.parse(s.body(s.sample("checkout.session.completed")))
    [result] = config.rules.evaluate(event)
    assert result.status == "converted", result.reason
    [destination] = result.destinations
    assert destination.split("-")[0] in example.stem
    assert config.destinations[destination].requests([result.conversion])  # type: ignore[list-item]


def test_there_is_an_example_for_every_vendor_but_the_default_one() -> None:
    from bridge.destinations import VENDORS

    assert {p.stem.removeprefix("stripe-to-") for p in EXAMPLES} == set(VENDORS) - {"pagent"}


SENDER_EXAMPLES = sorted(
    path
    for path in (s.REPO / "mappings" / "examples").glob("*-to-*.yaml")
    if not path.name.startswith("stripe-to-")
)


@pytest.mark.parametrize("example", SENDER_EXAMPLES, ids=lambda p: p.stem)
def test_every_sender_example_passes_check_with_its_destination_file(
    tmp_path: Path, example: Path
) -> None:
    config = example_config(tmp_path, example)
    assert config.warnings() == []
    assert config.rules.rules, "an example must have rules"
    assert all(rule.destinations for rule in config.rules.rules)


def test_every_sender_has_an_example_a_sample_and_a_docs_page() -> None:
    from bridge.sources import SOURCE_KINDS

    senders = {p.stem.rpartition("-to-")[0] for p in SENDER_EXAMPLES} | {"stripe"}
    assert senders == set(SOURCE_KINDS)
    for kind in SOURCE_KINDS:
        assert (s.REPO / "docs" / f"{kind}.md").exists(), kind
        assert any((s.REPO / "mappings" / "samples" / kind).iterdir()), kind
