"""`bridge test`: fixtures beside the mappings, compared with what the mappings make of them."""

from __future__ import annotations

import shutil
from pathlib import Path
from textwrap import dedent

import pytest
import yaml

from bridge.cli import main
from tests.support import stripe as s

SAMPLE = s.SAMPLES / "checkout.session.completed.json"

FIXTURE = """\
# A paid checkout counts, with its revenue.
description: the sample checkout
source: stripe
payload:
  file: ../../checkout.json
expect:
  - rules:
      stripe-checkout-paid:
        outcome: converted
        requests:
          pagent:
            fields:
              events[0].revenue: {revenue}
              events[0].label: purchase
"""


def mappings_with(tmp_path: Path, **fixtures: str) -> Path:
    """The shipped mappings copied to `tmp_path/mappings`, the sample checkout beside them and
    each fixture text in `mappings/tests/NAME.yaml`."""
    folder = tmp_path / "mappings"
    (folder / "tests").mkdir(parents=True)
    for file in (s.REPO / "mappings").glob("*.yaml"):
        shutil.copy(file, folder)
    shutil.copy(SAMPLE, tmp_path / "checkout.json")
    for name, text in fixtures.items():
        (folder / "tests" / f"{name}.yaml").write_text(dedent(text))
    return folder


def run_fixtures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], **fixtures: str
) -> tuple[Path, int, str]:
    """The fixtures written beside the shipped mappings, `bridge test` run on them: the
    folder, the exit status and what was printed."""
    folder = mappings_with(tmp_path, **fixtures)
    status = main(["test", str(folder)])
    return folder, status, capsys.readouterr().out


def test_a_fixture_that_holds_prints_ok(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = mappings_with(tmp_path, checkout=FIXTURE.format(revenue=2499))
    assert main(["test", str(folder)]) == 0
    assert capsys.readouterr().out == (
        f"ok   {folder}/tests/checkout.yaml\n1 fixture: 1 passed, 0 failed\n"
    )


def test_the_mappings_directory_is_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = mappings_with(tmp_path, checkout=FIXTURE.format(revenue=2499))
    monkeypatch.setenv("BRIDGE_MAPPINGS_DIR", str(folder))
    assert main(["test"]) == 0
    assert capsys.readouterr().out.endswith("1 fixture: 1 passed, 0 failed\n")


def test_a_fixture_that_fails_prints_a_diff_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = mappings_with(
        tmp_path, checkout=FIXTURE.format(revenue=2500), good=FIXTURE.format(revenue=2499)
    )
    assert main(["test", str(folder)]) == 1
    assert capsys.readouterr().out == dedent(f"""\
        FAIL {folder}/tests/checkout.yaml
        --- expected
        +++ actual
        @@ -5,5 +5,5 @@
               requests:
                 pagent:
                   fields:
        -            events[0].revenue: 2500
        +            events[0].revenue: 2499
                     events[0].label: purchase
        ok   {folder}/tests/good.yaml
        2 fixtures: 1 passed, 1 failed
        """)


def test_the_whole_body_and_the_reason_are_compared(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    unpaid = """\
        source: stripe
        payload:
          json:
            id: evt_unpaid
            type: checkout.session.completed
            created: 1763800123
            data: {object: {payment_status: unpaid, mode: payment}}
        expect:
          - type: checkout.session.completed
            rules:
              stripe-checkout-paid: {outcome: skipped, reason: "{reason}"}
        """
    folder = mappings_with(
        tmp_path,
        holds=unpaid.replace("{reason}", "is false"),
        wrong=unpaid.replace("{reason}", "is true"),
    )
    assert main(["test", str(folder)]) == 1
    out = capsys.readouterr().out
    assert f"ok   {folder}/tests/holds.yaml\n" in out
    assert f"FAIL {folder}/tests/wrong.yaml\n" in out
    assert "-      reason: is true\n" in out
    assert "+      reason: when `data.object.payment_status != 'unpaid'" in out


def test_update_writes_the_current_output_and_keeps_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = mappings_with(tmp_path, checkout=FIXTURE.format(revenue=2500))
    path = folder / "tests" / "checkout.yaml"
    assert main(["test", str(folder), "--update"]) == 0
    assert capsys.readouterr().out == (
        f"updated {path}\n1 fixture: 0 passed, 0 failed, 1 updated\n"
    )
    text = path.read_text()
    assert text.startswith("# A paid checkout counts, with its revenue.\n")
    assert "events[0].revenue: 2499\n" in text
    assert yaml.safe_load(text)["description"] == "the sample checkout"
    assert main(["test", str(folder)]) == 0
    assert capsys.readouterr().out.endswith("1 fixture: 1 passed, 0 failed\n")


def test_update_fills_an_empty_expectation_with_the_whole_request(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = mappings_with(tmp_path, new="source: stripe\npayload: {file: ../../checkout.json}\n")
    assert main(["test", str(folder), "--update"]) == 0
    written = yaml.safe_load((folder / "tests" / "new.yaml").read_text())
    [event] = written["expect"]
    assert event["type"] == "checkout.session.completed"
    request = event["rules"]["stripe-checkout-paid"]["requests"]["pagent"]
    assert request["body"]["events"][0]["revenue"] == 2499
    capsys.readouterr()
    assert main(["test", str(folder)]) == 0


def test_each_bad_fixture_file_gets_one_error_line_with_its_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, status, out = run_fixtures(
        tmp_path,
        capsys,
        typo="source: stripe\npayload:\n  file: ../../checkout.json\nexpects: []\n",
        gone="source: stripe\npayload:\n  file: nowhere.json\n",
        two_bodies="source: stripe\npayload: {file: a.json, text: '{}'}\n",
        unknown_source="source: shop\npayload: {text: '{}'}\n",
        bad_yaml="source: [stripe\n",
        not_json="source: stripe\npayload: {text: 'not json'}\n",
        no_mapping="source: stripe\nmappings: [stripe.yaml, gone.yaml]\npayload: {text: '{}'}\n",
    )
    tests = folder / "tests"
    assert status == 1
    assert [line for line in out.splitlines() if not line.startswith("error:")] == [
        *(
            f"FAIL {tests}/{name}.yaml"
            for name in (
                *("bad_yaml", "gone", "no_mapping", "not_json"),
                *("two_bodies", "typo", "unknown_source"),
            )
        ),
        "7 fixtures: 0 passed, 7 failed",
    ]
    assert [line for line in out.splitlines() if line.startswith("error:")] == [
        f"error: {tests}/bad_yaml.yaml:2: invalid YAML: expected ',' or ']', but got"
        " '<stream end>'",
        f"error: {tests}/gone.yaml:3: payload.file: cannot read {tests}/nowhere.json:"
        " No such file or directory",
        f"error: {tests}/no_mapping.yaml:2: mappings[1]: no mapping file {folder}/gone.yaml",
        f"error: {tests}/not_json.yaml: payload: body is not valid JSON: invalid"
        " literal, expected 'null': line 1 column 1 (char 0)",
        f"error: {tests}/two_bodies.yaml:2: payload: give exactly one of"
        " file, json or text (given: ['file', 'text'])",
        f"error: {tests}/typo.yaml:4: expects: unknown key (allowed: description,"
        " expect, headers, mappings, payload, source)",
        f"error: {tests}/unknown_source.yaml:1: source: unknown source 'shop' (stripe)",
    ]


def test_a_directory_without_fixtures_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["test", str(tmp_path)]) == 1
    assert capsys.readouterr().err == (
        f"error: no fixtures in {tmp_path}/tests (write them as tests/*.yaml)\n"
    )


def test_headers_reach_the_source_that_reads_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "mappings"
    (folder / "tests").mkdir(parents=True)
    fixture = s.REPO / "mappings" / "examples" / "tests" / "shopify-to-scanova-topic-header.yaml"
    text = fixture.read_text().replace("orders/paid\n", "orders/create\n", 1)
    text = text.replace("../../samples", str(s.REPO / "mappings" / "samples"))
    text = text.replace(
        "[shopify-to-scanova.yaml, scanova.yaml]",
        "["
        + ", ".join(
            str(s.REPO / "mappings" / "examples" / name)
            for name in ("shopify-to-scanova.yaml", "scanova.yaml")
        )
        + "]",
    )
    (folder / "tests" / "topic.yaml").write_text(text)
    assert main(["test", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "-- type: orders/paid\n" in out
    assert "+- type: orders/create\n" in out


def fixtures_in(folder: Path) -> list[dict[str, object]]:
    return [yaml.safe_load(path.read_text()) for path in sorted(folder.glob("tests/*.yaml"))]


def expected_rules(fixtures: list[dict[str, object]]) -> set[str]:
    return {
        rule
        for fixture in fixtures
        for event in fixture.get("expect") or []  # type: ignore[attr-defined]
        for rule in event.get("rules") or {}
    }


def rules_of(files: list[Path]) -> set[str]:
    return {
        rule["name"]
        for file in files
        for rule in yaml.safe_load(file.read_text()).get("rules") or []
    }


def test_every_shipped_and_example_rule_has_a_fixture() -> None:
    shipped = s.REPO / "mappings"
    examples = shipped / "examples"
    assert rules_of(sorted(shipped.glob("*.yaml"))) <= expected_rules(fixtures_in(shipped))
    example_fixtures = fixtures_in(examples)
    assert rules_of(sorted(examples.glob("*.yaml"))) <= expected_rules(example_fixtures)
    named = {name for fixture in example_fixtures for name in fixture["mappings"]}  # type: ignore[attr-defined]
    assert {path.name for path in examples.glob("*.yaml")} <= named


@pytest.mark.parametrize("folder", ["mappings", "mappings/examples"])
def test_the_shipped_fixtures_pass(folder: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test", str(s.REPO / folder)]) == 0, capsys.readouterr().out
    assert "FAIL" not in capsys.readouterr().out
