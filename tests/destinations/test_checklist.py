"""What every vendor brings with it (CONTRIBUTING.md, "Add a vendor"), checked for each kind in
`VENDORS`: a failure here names the file or section a new vendor still needs."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from bridge.destinations import VENDORS
from tests.support.mappings import REPO, example_config

KINDS = sorted(VENDORS)
DOCS_SECTIONS = (
    "## What to map",
    "## Where the ids come from in the browser",
    "## Answers",
    "## Conversion not appearing",
)


def stripe_example(kind: str) -> Path:
    """The vendor's example rules for a Stripe checkout (pagent's ship in mappings/ itself)."""
    shipped = REPO / "mappings" / f"stripe-to-{kind}.yaml"
    return shipped if shipped.exists() else REPO / "mappings" / "examples" / shipped.name


def socket_tests(kind: str) -> list[str]:
    """Tests in tests/e2e that name the vendor, in modules that run a loopback vendor."""
    found = []
    for module in sorted((REPO / "tests" / "e2e").glob("test_*.py")):
        text = module.read_text()
        if "LoopbackVendor" not in text:
            continue
        found += [
            f"{module.name}::{node.name}"
            for node in ast.walk(ast.parse(text))
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.name.startswith("test_")
            and kind in node.name.split("_")
        ]
    return found


@pytest.mark.parametrize("kind", KINDS)
def test_its_module_is_named_after_it_and_says_where_its_wire_facts_come_from(kind: str) -> None:
    destination = VENDORS[kind]
    assert destination.vendor == kind
    assert destination.__module__ == f"bridge.destinations.{kind}"
    module = importlib.import_module(destination.__module__)
    assert "Wire facts from" in (module.__doc__ or ""), "cite the vendor's documents"


@pytest.mark.parametrize("kind", KINDS)
def test_its_docs_page_has_the_sections_users_look_for(kind: str) -> None:
    page = REPO / "docs" / f"{kind}.md"
    assert page.exists(), f"add docs/{kind}.md"
    text = page.read_text()
    assert f"(vendor `{kind}`)" in text.splitlines()[0]
    for section in DOCS_SECTIONS:
        assert f"\n{section}" in text, f"docs/{kind}.md needs a section {section!r}"


@pytest.mark.parametrize("kind", KINDS)
def test_its_own_fields_are_documented_where_fields_are(kind: str) -> None:
    page = (REPO / "docs" / f"{kind}.md").read_text()
    fields = (REPO / "docs" / "mappings.md").read_text()
    for declared in VENDORS[kind].extra_fields:
        assert f"`{declared.name}`" in page, f"docs/{kind}.md: what to map for {declared.name}"
        assert f"`{declared.name}`" in fields, f"docs/mappings.md: the field {declared.name}"


@pytest.mark.parametrize("kind", KINDS)
def test_the_readme_and_the_mapping_reference_list_it(kind: str) -> None:
    assert f"(docs/{kind}.md)" in (REPO / "README.md").read_text()
    reference = (REPO / "docs" / "mappings.md").read_text()
    assert f"`{kind}`" in reference
    assert f"({kind}.md)" in reference


@pytest.mark.parametrize("kind", KINDS)
def test_its_stripe_example_loads_without_warnings_and_names_a_goal(
    kind: str, tmp_path: Path
) -> None:
    """A conversion's identity is its goal plus the transaction id: a vendor requires one."""
    example = stripe_example(kind)
    assert example.exists(), f"add mappings/examples/stripe-to-{kind}.yaml and {kind}.yaml"
    config = example_config(tmp_path, example)
    assert config.warnings() == []
    [destination] = config.destinations.values()
    assert destination.vendor == kind
    assert destination.required_fields & {"goal_id", "event_name"}


@pytest.mark.parametrize("kind", KINDS)
def test_it_has_a_unit_test_module(kind: str) -> None:
    assert (REPO / "tests" / "destinations" / f"test_{kind}.py").exists()


@pytest.mark.parametrize("kind", KINDS)
def test_it_is_tested_over_a_socket_against_a_loopback_stand_in(kind: str) -> None:
    assert socket_tests(kind), f"add a test_{kind}_... in tests/e2e over tests/support/vendor.py"
    answers = ast.parse((REPO / "tests" / "e2e" / "test_vendor_answers.py").read_text())
    [listed] = [
        ast.literal_eval(node.value)
        for node in answers.body
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "VENDORS" for t in node.targets)
    ]
    assert kind in listed, "list it in tests/e2e/test_vendor_answers.py VENDORS"
