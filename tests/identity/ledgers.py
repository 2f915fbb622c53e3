"""Mapping folders with the shipped files and a `ledgers:` file, for the identity tests."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from textwrap import dedent

from tests.support.mappings import REPO

ORIGIN = "https://shop.example.com"
OTHER_ORIGIN = "https://evil.example.net"
REF = "r_0123456789abcdefghijAB"

LEDGERS = f"""
ledgers:
  web:
    origins: ["{ORIGIN}", "http://localhost:8000"]
    vendors: [pagent, convert]
    pagent_label: purchase
  strict:
    origins: ["{ORIGIN}"]
    vendors: [pagent]
    require_consent: true
    ttl_days: 30
"""


def ledger_mappings(directory: Path, ledgers: str = LEDGERS) -> Path:
    """The shipped mapping files plus `ledgers.yaml`, in `directory/mappings`."""
    folder = directory / "mappings"
    folder.mkdir(exist_ok=True)
    for path in (REPO / "mappings").glob("*.yaml"):
        shutil.copy(path, folder / path.name)
    (folder / "ledgers.yaml").write_text(dedent(ledgers))
    return folder


def beacon(**ids: Mapping[str, object]) -> dict[str, object]:
    """A well-formed beacon body for `REF` (pagent ids unless others are given)."""
    return {
        "v": 1,
        "ref": REF,
        "ids": ids or {"pagent": {"session_id": "s_1", "user_id": "u_1", "conversion_id": "c_1"}},
    }
