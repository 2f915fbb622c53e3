from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from bridge.cli import main
from bridge.identity.config import LedgerConfig, exact_origin
from bridge.mapping import MappingError, load_config
from tests.identity.ledgers import LEDGERS, ORIGIN, ledger_mappings
from tests.support.mappings import ENVIRON


@pytest.mark.parametrize(
    ("written", "origin"),
    [
        ("https://shop.example.com", "https://shop.example.com"),
        ("HTTPS://Shop.Example.COM", "https://shop.example.com"),
        ("https://shop.example.com:443", "https://shop.example.com"),
        ("https://shop.example.com:8443", "https://shop.example.com:8443"),
        ("http://localhost:8000", "http://localhost:8000"),
        ("http://127.0.0.1", "http://127.0.0.1"),
    ],
)
def test_an_origin_is_kept_as_a_browser_sends_it(written: str, origin: str) -> None:
    assert exact_origin(written) == origin


@pytest.mark.parametrize(
    ("written", "problem"),
    [
        ("https://shop.example.com/", "no path"),
        ("https://shop.example.com/checkout", "no path"),
        ("https://shop.example.com?x=1", "no path"),
        ("http://shop.example.com", "plain http is allowed only for localhost and 127.0.0.1"),
        ("https://*.example.com", "no '*'"),
        ("*", "scheme://host"),
        ("null", "scheme://host"),
        ("shop.example.com", "scheme://host"),
        ("ftp://shop.example.com", "scheme://host"),
        ("https://user@shop.example.com", "no user"),
        ("https://shop.example.com:0", "port"),
        ("https://shop.example.com:99999", "port"),
        ("https://shop.example.com:https", "port"),
        ("https://shop example.com", "no spaces"),
        ("https://shop.example.com\x00", "control characters"),
    ],
)
def test_anything_but_an_exact_origin_is_refused(written: str, problem: str) -> None:
    with pytest.raises(ValueError, match="origin") as refused:
        exact_origin(written)
    assert problem in str(refused.value)


def test_a_ledger_has_defaults_for_all_but_its_origins_and_vendors() -> None:
    ledger = LedgerConfig.model_validate({"origins": [ORIGIN], "vendors": ["scanova"]})
    assert ledger.ttl_days == 90
    assert ledger.ttl_ms == 90 * 86_400_000
    assert ledger.require_consent is False
    assert ledger.forms == []
    assert ledger.pagent_label is None


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"vendors": ["pagent"]}, "origins"),
        ({"origins": [], "vendors": ["pagent"]}, "origins"),
        ({"origins": [ORIGIN]}, "vendors"),
        ({"origins": [ORIGIN], "vendors": []}, "vendors"),
        ({"origins": [ORIGIN], "vendors": ["optimizely"]}, "unknown vendor"),
        ({"origins": [ORIGIN], "vendors": ["pagent", "pagent"]}, "listed once"),
        ({"origins": [ORIGIN], "vendors": ["pagent"], "ttl_days": 0}, "ttl_days"),
        ({"origins": [ORIGIN], "vendors": ["pagent"], "ttl_days": 401}, "ttl_days"),
        ({"origins": [ORIGIN], "vendors": ["pagent"], "colour": "red"}, "colour"),
        (
            {"origins": [ORIGIN], "vendors": ["pagent"], "conductrics_vid": "cvid"},
            "conductrics_vid is set but conductrics is not in vendors",
        ),
        ({"origins": [ORIGIN], "vendors": ["scanova"], "scanova_param": "a b"}, "scanova_param"),
        ({"origins": [ORIGIN], "vendors": ["pagent"], "forms": ["form\n"]}, "forms"),
    ],
)
def test_a_ledger_refuses_what_it_cannot_mean(options: dict[str, object], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        LedgerConfig.model_validate(options)


def test_ledgers_load_from_the_mapping_files(tmp_path: Path) -> None:
    config = load_config(ledger_mappings(tmp_path), ENVIRON)
    assert set(config.ledgers) == {"web", "strict"}
    web = config.ledgers["web"]
    assert web.origins == [ORIGIN, "http://localhost:8000"]
    assert web.vendors == ["pagent", "convert"]
    assert web.pagent_label == "purchase"
    assert config.ledgers["strict"].require_consent is True
    assert config.origins["ledger:web"].endswith("ledgers.yaml:3")


def test_a_ledger_error_names_file_line_and_field(tmp_path: Path) -> None:
    broken = """
    ledgers:
      web:
        origins: ["https://shop.example.com/"]
        vendors: [pagent]
        ttl_days: 1000
    """
    folder = ledger_mappings(tmp_path, broken)
    with pytest.raises(MappingError) as failure:
        load_config(folder, ENVIRON)
    found = [str(issue) for issue in failure.value.issues]
    where = folder / "ledgers.yaml"
    assert found == [
        f"{where}:4: ledgers.web.origins[0]: Value error, an origin has no path,"
        " not even '/' (scheme://host[:port])",
        f"{where}:6: ledgers.web.ttl_days: Input should be less than or equal to 400",
    ]


def test_an_unknown_ledger_key_lists_the_allowed_ones(tmp_path: Path) -> None:
    folder = ledger_mappings(tmp_path, LEDGERS.replace("ttl_days: 30", "ttl: 30"))
    with pytest.raises(MappingError) as failure:
        load_config(folder, ENVIRON)
    assert [str(issue) for issue in failure.value.issues] == [
        f"{folder / 'ledgers.yaml'}:11: ledgers.strict.ttl: unknown key (allowed: conductrics_vid,"
        " email_pepper, forms, origins, pagent_label, require_consent, scanova_param, ttl_days,"
        " vendors, wait_minutes)"
    ]


def test_a_ledger_name_is_defined_once_across_files(tmp_path: Path) -> None:
    folder = ledger_mappings(tmp_path)
    (folder / "more.yaml").write_text(LEDGERS)
    with pytest.raises(MappingError) as failure:
        load_config(folder, ENVIRON)
    found = "\n".join(str(issue) for issue in failure.value.issues)
    assert f"ledger 'web' is already defined at {folder / 'ledgers.yaml'}:3" in found
    assert f"ledger 'strict' is already defined at {folder / 'ledgers.yaml'}:7" in found


def test_check_lists_the_ledgers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)
    assert main(["check", "--mappings", str(ledger_mappings(tmp_path))]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "ledger 'web': POST /identify/web from https://shop.example.com, http://localhost:8000;"
        " vendors pagent, convert; kept 90 days",
        "ledger 'strict': POST /identify/strict from https://shop.example.com; vendors pagent;"
        " kept 30 days; consent required",
        "ok: 4 files, 1 sources, 1 destinations, 3 rules, 2 ledgers",
    ]
