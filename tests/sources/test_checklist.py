"""What adding a sender takes, checked for every kind in the registry (CONTRIBUTING.md, "Add a
sender"): a kind registered without one of these fails here, naming what is missing."""

from __future__ import annotations

import re

import pytest

from bridge.sources import SOURCE_KINDS, Source
from tests.support.senders import DATED, SIGNERS, samples_of, shipped_sources
from tests.support.stripe import REPO

KINDS = sorted(SOURCE_KINDS)
DEFAULT_KIND = "stripe"
"""The sender of the default setup: its source is in `mappings/stripe.yaml` (with its rules in
`mappings/stripe-to-pagent.yaml`), which the end-to-end tests serve throughout."""


def module_name(kind: str) -> str:
    return kind.replace("-", "_")


def text(path: str) -> str:
    return (REPO / path).read_text()


@pytest.mark.parametrize("kind", KINDS)
def test_its_module_is_named_after_the_kind(kind: str) -> None:
    assert SOURCE_KINDS[kind].__module__ == f"bridge.sources.{module_name(kind)}"
    assert (REPO / "bridge" / "sources" / f"{module_name(kind)}.py").is_file()


@pytest.mark.parametrize("kind", KINDS)
def test_it_has_a_docs_page_with_commands_to_start_from_the_example(kind: str) -> None:
    page = REPO / "docs" / f"{kind}.md"
    assert page.is_file(), f"docs/{kind}.md is missing"
    content = page.read_text()
    assert re.match(rf"# .*\(source kind `{re.escape(kind)}`\)\n", content), "its heading"
    if kind != DEFAULT_KIND:  # tests/test_sender_docs.py runs these commands
        assert "## Start from the example" in content


@pytest.mark.parametrize("kind", KINDS)
def test_it_is_in_the_docs_lists_of_senders(kind: str) -> None:
    assert f"(docs/{kind}.md)" in text("README.md"), "README.md's list of senders"
    assert f"({kind}.md)" in text("docs/mappings.md"), "docs/mappings.md's links to sender pages"
    row = re.compile(rf"^\| `{re.escape(kind)}`", re.M)
    assert row.search(text("docs/mappings.md")), "docs/mappings.md's table of kinds"
    assert row.search(text("docs/security.md")), "docs/security.md's table of what each signs"


@pytest.mark.parametrize("kind", KINDS)
def test_it_has_an_example_mapping_and_a_sample(kind: str) -> None:
    assert list((REPO / "mappings" / "examples").glob(f"{kind}-to-*.yaml")), (
        f"mappings/examples/{kind}-to-<vendor>.yaml is missing"
    )
    assert kind in shipped_sources(), "no shipped mapping declares a source of this kind"
    assert samples_of(kind), f"mappings/samples/{kind}/ holds no sample"


@pytest.mark.parametrize("kind", KINDS)
def test_the_tests_can_sign_it(kind: str) -> None:
    assert kind in SIGNERS, "tests/support/senders.py SIGNERS has no signer for it"
    if SOURCE_KINDS[kind].replays_bounded_by_body_time:
        assert kind in DATED, "tests/support/senders.py DATED cannot date its sample"


@pytest.mark.parametrize("kind", KINDS)
def test_bridge_can_sign_it(kind: str) -> None:
    """`bridge send` signs with the kind's own `sign`; tests/sources/test_sign.py checks that
    what it signs passes the kind's `verify`."""
    assert SOURCE_KINDS[kind].sign is not Source.sign, "no sign() next to its verify"


@pytest.mark.parametrize("kind", KINDS)
def test_it_has_its_own_tests_and_an_end_to_end_test(kind: str) -> None:
    assert (REPO / "tests" / "sources" / f"test_{module_name(kind)}.py").is_file()
    if kind == DEFAULT_KIND:
        return
    end_to_end = "".join(
        path.read_text() for path in (REPO / "tests" / "e2e").glob("test_senders_*.py")
    )
    assert f"{kind}-to-" in end_to_end, "no tests/e2e/test_senders_*.py serves its example"


def test_every_sender_page_is_a_registered_kind() -> None:
    """A page for a kind that is not registered (renamed or removed) is caught too."""
    heading = re.compile(r"\(source kind `([a-z-]+)`\)")
    pages = {
        match[1]
        for page in (REPO / "docs").glob("*.md")
        if (match := heading.search(page.read_text().partition("\n")[0]))
    }
    assert pages == set(SOURCE_KINDS)
