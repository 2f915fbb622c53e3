from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from bridge.cli import main
from tests.support import stripe as s
from tests.support.mappings import ENVIRON

SAMPLE = str(s.SAMPLES / "checkout.session.completed.json")


def test_check_passes_on_the_shipped_mappings(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check"]) == 0
    assert capsys.readouterr().out == "ok: 3 files, 1 sources, 1 destinations, 3 rules\n"


def test_check_reports_secrets_not_set(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("PAGENT_API_KEY")
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert "warning: destination 'pagent' (" in out
    assert "PAGENT_API_KEY is not set" in out
    assert out.endswith("ok: 3 files, 1 sources, 1 destinations, 3 rules, 1 warning\n")


def test_check_strict_says_that_it_failed_and_why(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("PAGENT_API_KEY")
    assert main(["check", "--strict"]) == 1
    captured = capsys.readouterr()
    assert "ok:" not in captured.out
    assert captured.out.startswith("warning: destination 'pagent' (")
    assert captured.err == (
        "error: 1 warning, and --strict treats warnings as errors"
        " (3 files, 1 sources, 1 destinations, 3 rules)\n"
    )


def test_check_fails_with_file_line_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    for path in (s.REPO / "mappings").glob("*.yaml"):
        (folder / path.name).write_text(path.read_text())
    rules = folder / "stripe-to-pagent.yaml"
    rules.write_text(
        rules.read_text().replace(
            "stripe_money(data.object.amount_total",
            "stripe_money(data.object.amount_total, 'usd', 'extra'",
            1,
        )
    )
    assert main(["check", "--mappings", str(folder)]) == 1
    err = capsys.readouterr().err
    assert f"error: {rules}:" in err
    assert "rules[0].conversion.revenue: stripe_money() takes 2 arguments, got 4" in err
    assert err.strip().endswith(f"1 problem(s) in {folder}")


def test_try_shows_the_rule_and_the_exact_request_without_the_secret(
    environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["try", "stripe", SAMPLE]) == 0
    out = capsys.readouterr().out
    assert "rule 'stripe-checkout-paid': converted" in out
    assert "POST https://ingest.pagent.ai/v1/conversions" in out
    assert "Authorization: Bearer ${PAGENT_API_KEY}" in out
    assert ENVIRON["PAGENT_API_KEY"] not in out
    assert '"revenue": 2499' in out
    assert "(nothing was sent or stored)" in out
    assert not environment.exists()


def test_try_json_carries_the_exact_body(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["try", "stripe", SAMPLE, "--json"]) == 0
    [report] = orjson.loads(capsys.readouterr().out)
    [rule] = report["rules"]
    [request] = rule["requests"]
    assert request["body"] == (
        '{"events":[{"session_id":"s_8f14e45fceea167a","user_id":"u_c9f0f895fb98ab91",'
        '"conversion_id":"0f8fad5b-d9cb-469f-a165-70867728950e","label":"purchase",'
        '"revenue":2499,"time":1763800123000}]}'
    )


def test_try_explains_events_that_no_rule_takes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sample = tmp_path / "customer.json"
    sample.write_bytes(b'{"id": "evt_c", "type": "customer.created", "data": {"object": {}}}')
    assert main(["try", "stripe", str(sample)]) == 0
    assert "no rule applies to this event type" in capsys.readouterr().out


def test_try_refuses_unknown_sources_and_unusable_payloads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["try", "paypal", SAMPLE]) == 2
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    assert main(["try", "stripe", str(broken)]) == 1
    assert "not valid JSON" in capsys.readouterr().err


def test_bad_settings_are_named_by_their_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BRIDGE_PORT", "eighty")
    assert main(["check"]) == 2
    assert "error: BRIDGE_PORT: Input should be a valid integer" in capsys.readouterr().err
