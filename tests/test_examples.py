"""Every example mapping loads next to the shipped source and builds its vendor's request."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bridge.mapping import load_config
from bridge.sources.stripe import StripeSource
from tests.support import stripe as s
from tests.support.mappings import ENVIRON

EXAMPLES = sorted((s.REPO / "mappings" / "examples").glob("stripe-to-*.yaml"))
ENV = {**ENVIRON, "SCANOVA_API_KEY": "k", "CONDUCTRICS_API_KEY": "k"}


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_example_is_valid_and_converts_the_sample_checkout(tmp_path: Path, example: Path) -> None:
    folder = tmp_path / "mappings"
    folder.mkdir()
    shutil.copy(s.REPO / "mappings" / "stripe.yaml", folder)
    shutil.copy(example, folder)
    shutil.copy(example.with_name(example.name.removeprefix("stripe-to-")), folder)
    config = load_config(folder, ENV)
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
