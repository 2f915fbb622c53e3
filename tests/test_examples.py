"""Every example mapping loads next to the shipped source and builds its vendor's request."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.mapping import Config
from bridge.sources.stripe import StripeSource
from bridge.vocabulary.model import RuleResult
from bridge.vocabulary.money import Money
from tests.support import stripe as s
from tests.support.mappings import example_config

EXAMPLES = sorted((s.REPO / "mappings" / "examples").glob("stripe-to-*.yaml"))
SHIPPED_STRIPE = [s.REPO / "mappings" / "stripe-to-pagent.yaml", *EXAMPLES]


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

    senders = {
        p.stem.rpartition("-to-")[0] for p in SENDER_EXAMPLES if not p.stem.startswith("identity-")
    } | {"stripe"}
    assert senders == set(SOURCE_KINDS)
    for kind in SOURCE_KINDS:
        assert (s.REPO / "docs" / f"{kind}.md").exists(), kind
        assert any((s.REPO / "mappings" / "samples" / kind).iterdir()), kind


def evaluate(config: Config, sample: str) -> list[RuleResult]:
    [event] = config.sources["stripe"].parse(s.body(s.sample(sample)))
    return config.rules.evaluate(event)


def outcome(config: Config, sample: str) -> tuple[str, Money | None]:
    [result] = evaluate(config, sample)
    assert result.status != "unmapped", result.reason
    return result.status, result.conversion.revenue if result.conversion else None


def test_every_stripe_sample_has_the_outcome_docs_stripe_md_states(tmp_path: Path) -> None:
    config = example_config(tmp_path, s.REPO / "mappings" / "stripe-to-pagent.yaml")
    expected = {
        "checkout.session.completed": ("converted", Money(2499, "USD")),
        "checkout.session.completed-100-percent-coupon": ("converted", Money(0, "USD")),
        "checkout.session.async_payment_succeeded": ("converted", Money(4900, "EUR")),
        "payment_intent.succeeded": ("converted", Money(5000, "JPY")),
        "payment_intent.succeeded-subscription-create-acacia": ("skipped", None),
        "payment_intent.succeeded-subscription-renewal": ("skipped", None),
        "invoice.paid": ("converted", Money(1990, "EUR")),
        "invoice.paid-trial-start": ("converted", Money(0, "EUR")),
        "invoice.paid-trial-first-charge": ("skipped", None),
        "invoice.paid-renewal": ("skipped", None),
    }
    joined = {  # a Payment Link carries no pagent ids: docs/identity.md, "Three setups"
        "checkout.session.completed-payment-link",
        "checkout.session.completed-payment-link-subscription",
    }
    assert set(expected) | joined == {path.stem for path in s.SAMPLES.glob("*.json")}
    assert {sample: outcome(config, sample) for sample in expected} == expected


@pytest.mark.parametrize("mapping", SHIPPED_STRIPE, ids=lambda p: p.stem)
@pytest.mark.parametrize(
    "sample",
    [
        "payment_intent.succeeded-subscription-renewal",  # API 2025-03-31.basil and later
        "payment_intent.succeeded-subscription-create-acacia",  # before: names its invoice
    ],
)
def test_a_subscription_payment_intent_is_never_a_conversion_nor_unmapped(
    tmp_path: Path, mapping: Path, sample: str
) -> None:
    results = evaluate(example_config(tmp_path, mapping), sample)
    assert {result.status for result in results} <= {"skipped"}


@pytest.mark.parametrize(
    ("example", "expected"),
    [
        ("stripe-to-convert", ("converted", Money(0, "USD"))),
        ("stripe-to-scanova", ("converted", Money(0, "USD"))),
        ("stripe-to-conductrics", ("skipped", None)),  # Conductrics credits no value of 0
    ],
)
def test_a_checkout_that_needs_no_payment_counts_where_the_vendor_credits_it(
    tmp_path: Path, example: str, expected: tuple[str, Money | None]
) -> None:
    config = example_config(tmp_path, s.REPO / "mappings" / "examples" / f"{example}.yaml")
    assert outcome(config, "checkout.session.completed-100-percent-coupon") == expected


@pytest.mark.parametrize("mapping", SHIPPED_STRIPE, ids=lambda p: p.stem)
def test_a_setup_mode_checkout_is_not_a_purchase(tmp_path: Path, mapping: Path) -> None:
    config = example_config(tmp_path, mapping)
    setup = s.event(
        "checkout.session.completed",
        mode="setup",
        payment_status="no_payment_required",
        amount_total=None,
        payment_intent=None,
    )
    [event] = config.sources["stripe"].parse(s.body(setup))
    assert [result.status for result in config.rules.evaluate(event)] == ["skipped"]
