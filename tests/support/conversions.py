"""Conversions and destinations built directly, for tests of one vendor module."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime
from typing import Any, TypeVar

from bridge.destinations import Destination
from bridge.vocabulary.model import Conversion, Provenance

WHEN = datetime(2026, 11, 22, 10, 0, 0, 250000, tzinfo=UTC)
WHEN_MS = calendar.timegm(WHEN.utctimetuple()) * 1000 + 250

D = TypeVar("D", bound=Destination)


def conversion(n: int = 1, **fields: Any) -> Conversion:
    """Conversion number `n` (event `evt_n`), with the given fields."""
    provenance = Provenance("stripe", f"evt_{n}", "rule", "mappings/rules.yaml", "abc123")
    return Conversion(occurred_at=fields.pop("occurred_at", WHEN), provenance=provenance, **fields)


def destination(
    kind: type[D],
    options: dict[str, Any],
    environ: dict[str, str] | None = None,
    name: str = "dest",
) -> D:
    validated = kind.options_model.model_validate(options, context={"environ": environ or {}})
    return kind(name, validated)
