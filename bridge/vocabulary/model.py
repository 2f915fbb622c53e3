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

    `isprintable()` (a fifth of the regex's cost) is True for every id and type a sender
    writes, and False for every control character; only then is the regex asked."""
    return not text.isprintable() and _CONTROL_CHARACTER.search(text) is not None


# `Event`, `Provenance` and `Conversion` are made for every webhook: slotted but not frozen, as in
# bridge/store/base.py (a frozen dataclass sets each field through object.__setattr__, which
# made building a Conversion cost three times as much). Nothing mutates them once built.
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

    Identity fields are opaque strings from the browser side (pagent session/user ids, Convert
    visitor id, Scanova scan session, Conductrics session). Raw emails never get here: only
    `email_sha256`. Revenue is `Money` in minor units. `exposure` (experience -> variation) and
    `segments` (visitor attributes for report breakdowns) are what the browser knew, where the
    sender carries it.
    """

    occurred_at: datetime
    provenance: Provenance
    session_id: str | None = None
    user_id: str | None = None
    visit_id: str | None = None
    visitor_id: str | None = None
    external_id: str | None = None
    email_sha256: str | None = None
    goal_id: str | None = None
    label: str | None = None
    event_name: str | None = None
    exposure: dict[str, str] | None = None
    segments: dict[str, str | list[str]] | None = None
    revenue: Money | None = None
    transaction_id: str | None = None
    products_count: int | None = None
    properties: dict[str, Any] | list[Any] | None = None
    consent: Consent | None = None

    def dedupe_key(self) -> str:
        """The identity of this conversion across events.

        With a transaction id, one purchase counts once per goal however many sender events
        report it (Stripe sends checkout.session.completed *and* payment_intent.succeeded for one
        payment). Without one, each (event, rule) pair is its own conversion.
        """
        if self.transaction_id is not None:
            goal = self.goal_id or self.event_name or self.label or ""
            return f"txn:{goal}:{self.transaction_id}"
        p = self.provenance
        return f"evt:{p.source}:{p.event_id}:{p.rule}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; `from_dict` reverses it exactly."""
        data = self._orjson_ready()
        data["occurred_at"] = self.occurred_at.isoformat()
        return data

    def to_json(self) -> bytes:
        """`to_dict` as the JSON bytes the store keeps, with the time written by orjson: the
        same text as `isoformat()`, without formatting it in Python on every webhook."""
        return orjson.dumps(self._orjson_ready())

    def _orjson_ready(self) -> dict[str, Any]:
        """Built field by field: `dataclasses.asdict` deep-copies every leaf (datetimes included),
        which cost a tenth of the ingest path. Only the fields below need converting; nested
        dicts and lists are copied one level, which is all a JSON-ready view needs (their values
        are strings or plain JSON)."""
        data: dict[str, Any] = {}
        for (name, convert), value in zip(_JSON_STEPS, _ALL_FIELDS(self), strict=True):
            if value is not None:
                data[name] = value if convert is None else convert(value)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Conversion:
        values = dict(data)
        values["occurred_at"] = datetime.fromisoformat(values["occurred_at"]).astimezone(UTC)
        values["provenance"] = Provenance(**values["provenance"])
        if "revenue" in values:
            values["revenue"] = Money(**values["revenue"])
        return cls(**values)


_CONVERSION_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Conversion))
_PROVENANCE_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Provenance))


def _copied(value: dict[str, Any] | list[Any]) -> dict[str, Any] | list[Any]:
    if isinstance(value, list):
        return list(value)
    return {k: list(v) if isinstance(v, list) else v for k, v in value.items()}


_TO_JSON: dict[str, Callable[[Any], Any]] = {
    "provenance": lambda p: {name: getattr(p, name) for name in _PROVENANCE_NAMES},
    "revenue": lambda money: {"minor": money.minor, "currency": money.currency},
    "exposure": _copied,
    "segments": _copied,
    "properties": _copied,
}
"""How each non-string field is made ready for orjson (everything else is kept as it is)."""
_JSON_STEPS = tuple((name, _TO_JSON.get(name)) for name in _CONVERSION_NAMES)
_ALL_FIELDS = operator.attrgetter(*_CONVERSION_NAMES)
"""Every field's value in one call, in `_JSON_STEPS` order."""
CONVERSION_FIELDS: frozenset[str] = frozenset(
    f.name for f in fields(Conversion) if f.name != "provenance"
)


@dataclass(slots=True)  # not frozen: made for every event, see bridge/store/base.py
class RuleResult:
    """What one rule made of one event: a conversion, or why not."""

    rule: str
    status: Literal["converted", "skipped", "unmapped"]
    reason: str | None = None
    conversion: Conversion | None = None
    destinations: tuple[str, ...] = field(default=())
