"""Every example mapping loads next to the shipped source and builds its vendor's request."""

from __future__ import annotations

import re
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


SENDER_EXAMPLES = sorted(
    path
    for path in (s.REPO / "mappings" / "examples").glob("*-to-*.yaml")
    if not path.name.startswith("stripe-to-")
)


def destination_file(example: Path) -> Path:
    vendor = example.stem.rpartition("-to-")[2]
    shipped = s.REPO / "mappings" / f"{vendor}.yaml"
    return shipped if shipped.exists() else example.with_name(f"{vendor}.yaml")


@pytest.mark.parametrize("example", SENDER_EXAMPLES, ids=lambda p: p.stem)
def test_every_sender_example_passes_check_with_its_destination_file(
    tmp_path: Path, example: Path
) -> None:
    folder = tmp_path / "mappings"
    folder.mkdir()
    shutil.copy(example, folder)
    shutil.copy(destination_file(example), folder)
    text = example.read_text() + destination_file(example).read_text()
    environ = dict.fromkeys(re.findall(r"\$\{([A-Z0-9_]+)\}", text), "ab" * 16)
    config = load_config(folder, environ)
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
