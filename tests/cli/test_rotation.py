"""`bridge check` names every secret in rotation, so one left half done is seen."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.cli import main
from tests.support.mappings import write_mappings

SHOP = """
sources:
  shop:
    kind: woocommerce
    secret:
      - ${WOOCOMMERCE_WEBHOOK_SECRET}
      - ${WOOCOMMERCE_WEBHOOK_SECRET_NEXT}
  stripe:
    kind: stripe
    secret: ${STRIPE_WEBHOOK_SECRET}
"""


def test_check_names_each_rotating_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = write_mappings(tmp_path, sources=SHOP)
    monkeypatch.setenv("WOOCOMMERCE_WEBHOOK_SECRET", "old,with,commas")
    monkeypatch.setenv("WOOCOMMERCE_WEBHOOK_SECRET_NEXT", "new")
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_new,whsec_old")
    main(["check", "--mappings", str(folder)])
    rotating = [line for line in capsys.readouterr().out.splitlines() if line.startswith("rot")]
    assert rotating == [
        "rotating: source 'shop' accepts 2 secrets: WOOCOMMERCE_WEBHOOK_SECRET,"
        " WOOCOMMERCE_WEBHOOK_SECRET_NEXT; remove the old one when done",
        "rotating: source 'stripe' accepts 2 secrets in STRIPE_WEBHOOK_SECRET; remove the old"
        " one when done",
    ]


def test_a_secret_with_commas_alone_is_no_rotation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    single = SHOP.replace("      - ${WOOCOMMERCE_WEBHOOK_SECRET_NEXT}\n", "")
    folder = write_mappings(tmp_path, sources=single)
    monkeypatch.setenv("WOOCOMMERCE_WEBHOOK_SECRET", "one,secret,with,commas")
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_only")
    main(["check", "--mappings", str(folder)])
    assert "rotating" not in capsys.readouterr().out
