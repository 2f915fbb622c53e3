"""The vendor-neutral vocabulary shared by every room: a verified `Event` in, a `Conversion` out."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

from bridge.vocabulary.money import Money

Consent = Literal["granted", "denied", "pending"]
CONSENT_VALUES: tuple[Consent, ...] = ("granted", "denied", "pending")

_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")


def has_control_character(text: str) -> bool:
    """Whether `text` holds a control character (NUL, a line break, ...): no id or event type a
    sender or vendor issues does, and not every store can keep one (PostgreSQL refuses NUL).

    The cheap `isprintable()` answers for every id a sender writes; only text it finds
    unprintable is asked of the regex (docs/benchmarks.md)."""
    return not text.isprintable() and _CONTROL_CHARACTER.search(text) is not None


# Made per webhook, so slotted and not frozen (docs/benchmarks.md); none is changed once built.
@dataclass(slots=True)
class Event:
    """One verified sender event. `event_id` is the sender's own id: the idempotency key."""

    source: str
    event_id: str
    type: str
    payload: Any
    raw: bytes
    occurred_at: datetime | None = None


@dataclass(slots=True)
class Provenance:
    """Where a conversion came from: enough to find the raw event and the rule that built it."""

    source: str
    event_id: str
    rule: str
    mapping_file: str
    mapping_version: str


@dataclass(slots=True, kw_only=True)
class Conversion:
    """What any vendor needs to credit a conversion, and nothing vendor-specific.

    Identity fields are opaque strings from the browser side: `session_id` (a session or scan
    session), `user_id` (a known user), `visitor_id` (the vendor's cookie or bucketing id).
    The goal is `goal_id` (a vendor's goal id or code) or `event_name`. Revenue is `Money` in
    minor units. `exposure` (experience -> variation) is what the browser knew, where the
    sender carries it. `consent` is the visitor's answer, for vendors that take one.

    `vendor_fields` holds, by field name, what only some vendors read (pagent's `label`,
    Convert's `segments`): each is declared, coerced and read by its vendor's module
    (`bridge/destinations/fields.py`); the core never looks inside. The stored JSON writes
    them as keys like the core's.
    """

    occurred_at: datetime
    provenance: Provenance
    session_id: str | None = None
    user_id: str | None = None
    visitor_id: str | None = None
    goal_id: str | None = None
    event_name: str | None = None
    exposure: dict[str, str] | None = None
    revenue: Money | None = None
    transaction_id: str | None = None
    properties: dict[str, Any] | list[Any] | None = None
    consent: Consent | None = None
    ids_captured_at: dict[str, int] | None = None
    """For a conversion made with the identity ledger: when the visitor's browser gave each
    vendor's ids (unix ms, by vendor), so a vendor that credits only within a time of the
    visitor's selection (Conductrics) can tell. Not mapped by rules, not sent."""
    vendor_fields: dict[str, Any] | None = None

    def dedupe_key(self) -> str:
        """The identity of this conversion across events.

        With a transaction id, one purchase counts once per goal however many sender events
        report it (Stripe sends checkout.session.completed *and* payment_intent.succeeded for one
        payment). Without one, each (event, rule) pair is its own conversion.
        """
        if self.transaction_id is not None:
            goal = self.goal_id or self.event_name or ""
            return f"txn:{goal}:{self.transaction_id}"
        p = self.provenance
        return f"evt:{p.source}:{p.event_id}:{p.rule}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, its objects and arrays copied; `from_dict` reverses it exactly."""
        data = self._orjson_ready(_DICT_STEPS)
        data["occurred_at"] = self.occurred_at.isoformat()
        extra = self.vendor_fields
        if extra:
            data.update(
                (k, _copied(v) if isinstance(v, dict | list) else v) for k, v in extra.items()
            )
        return data

    def to_json(self) -> bytes:
        """`to_dict` as the JSON bytes the store keeps, with the time written by orjson: the
        same text as `isoformat()`, without formatting it in Python on every webhook."""
        data = self._orjson_ready(_JSON_STEPS)
        extra = self.vendor_fields
        if extra:
            data.update(extra)
        return orjson.dumps(data)

    def _orjson_ready(self, steps: _Steps) -> dict[str, Any]:
        """Built field by field: `dataclasses.asdict` deep-copies every leaf, which the ingest
        path cannot afford (docs/benchmarks.md)."""
        data: dict[str, Any] = {}
        for (name, convert), value in zip(steps, _CORE_VALUES(self), strict=True):
            if value is not None:
                data[name] = value if convert is None else convert(value)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Conversion:
        """Every key that is no core field is a vendor field (`vendor_fields`), as written."""
        values = dict(data)
        extra: dict[str, Any] = {}
        for name in data:  # a loop: Python 3.11 makes a comprehension a call of its own
            if name not in _STORED_NAMES:
                extra[name] = values.pop(name)
        values["occurred_at"] = datetime.fromisoformat(values["occurred_at"]).astimezone(UTC)
        values["provenance"] = Provenance(**values["provenance"])
        if "revenue" in values:
            values["revenue"] = Money(**values["revenue"])
        return cls(**values, vendor_fields=extra or None)


_CORE_NAMES: tuple[str, ...] = tuple(
    f.name for f in fields(Conversion) if f.name != "vendor_fields"
)
_STORED_NAMES = frozenset(_CORE_NAMES)
_PROVENANCE_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Provenance))


def _copied(value: dict[str, Any] | list[Any]) -> dict[str, Any] | list[Any]:
    if isinstance(value, list):
        return list(value)
    return {k: list(v) if isinstance(v, list) else v for k, v in value.items()}


_TO_JSON: dict[str, Callable[[Any], Any]] = {
    "provenance": lambda p: {name: getattr(p, name) for name in _PROVENANCE_NAMES},
    "revenue": lambda money: {"minor": money.minor, "currency": money.currency},
}
"""How each field that is no plain JSON value is made ready for orjson."""
_Steps = tuple[tuple[str, Callable[[Any], Any] | None], ...]
_JSON_STEPS: _Steps = tuple((name, _TO_JSON.get(name)) for name in _CORE_NAMES)
_DICT_STEPS: _Steps = tuple(
    (name, _copied if name in ("exposure", "properties") else _TO_JSON.get(name))
    for name in _CORE_NAMES
)
"""As `_JSON_STEPS`, with the objects and arrays copied one level for `to_dict`'s caller."""
_CORE_VALUES = operator.attrgetter(*_CORE_NAMES)
"""Every core field's value in one call, in `_JSON_STEPS` order."""
CONVERSION_FIELDS: frozenset[str] = frozenset(
    name for name in _CORE_NAMES if name not in ("provenance", "ids_captured_at")
)
"""The core fields a rule maps; vendors declare the others (`bridge/destinations/fields.py`)."""


@dataclass(slots=True)  # not frozen: made for every event (docs/benchmarks.md)
class RuleResult:
    """What one rule made of one event: a conversion, or why not."""

    rule: str
    status: Literal["converted", "skipped", "unmapped"]
    reason: str | None = None
    conversion: Conversion | None = None
    destinations: tuple[str, ...] = field(default=())
