"""How a rule's `conversion:` entries are written, and how their values become conversion fields.

An entry is an expression string, `{const: value}`, a bare number or boolean, or (for
`properties`, `exposure` and a vendor's object fields such as `segments`) a mapping of names
to entries. Each field then has one coercion: ids become strings, revenue must be `Money`
built by a money function (so the unit is always explicit), times must be aware datetimes, and
so on. A vendor's own fields are coerced as its module declares (`VendorField`). Empty strings
count as missing.

An id holding a control character (NUL, a line break, ...) is no id a vendor issued, and not
every store or vendor can keep one: the field is invalid, so the rule is `unmapped` and says
which field. A negative revenue is a refund or an error, never a purchase: invalid as well.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any

import orjson

from bridge.destinations import VENDOR_FIELDS
from bridge.destinations.fields import FieldError, identifier, kind_of
from bridge.mapping.compiled import Emitter
from bridge.mapping.expressions import Constant, Expression, compile_expression
from bridge.utilities.safe_text import shown
from bridge.vocabulary.model import CONSENT_VALUES, CONVERSION_FIELDS
from bridge.vocabulary.money import Money

MAX_PROPERTIES_BYTES = 16 * 1024


class ObjectMapping(Expression):
    """`{name: entry, ...}`: an object built field by field; absent values are left out."""

    __slots__ = ("_entries", "text")

    def __init__(self, entries: dict[str, Expression]) -> None:
        self._entries = entries
        self.text = "{" + ", ".join(f"{k}: {v.text}" for k, v in entries.items()) + "}"

    def search(self, data: Any) -> Any:
        built = {name: entry.search(data) for name, entry in self._entries.items()}
        return present(built)

    def emit(self, emitter: Emitter) -> str:
        return emitter.nested(partial(self._written, emitter), partial(super().emit, emitter))

    def _written(self, emitter: Emitter) -> str:
        built = ", ".join(
            f"{emitter.constant(name)}: {entry.emit(emitter)}"
            for name, entry in self._entries.items()
        )
        return f"{emitter.constant(present)}({{{built}}})"


def present(built: dict[str, Any]) -> dict[str, Any] | None:
    """The entries that have a value; None when none has."""
    return {name: value for name, value in built.items() if value is not None} or None


def compile_entry(value: Any) -> Expression:
    """Compile one `conversion:` entry as written in YAML (raises `ValueError` subclasses)."""
    if isinstance(value, str):
        return compile_expression(value)
    if isinstance(value, dict):
        if set(value) == {"const"}:
            return Constant(value["const"])
        return ObjectMapping({str(name): compile_entry(entry) for name, entry in value.items()})
    if isinstance(value, bool | int | float):
        return Constant(value)
    if value is None:
        raise FieldError("needs a value: an expression, or {const: ...}")
    raise FieldError(f"cannot be a {type(value).__name__}: write an expression or {{const: ...}}")


def coerce(field: str, value: Any) -> Any:
    """`value` as the type of Conversion `field`; `None` when it counts as missing."""
    if value is None or value == "":
        return None
    return COERCERS[field](value)


def _exposure(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise FieldError(
            f"expected an object of experience id -> variation id, got {kind_of(value)}"
        )
    return {str(experience): identifier(variation) for experience, variation in value.items()}


def _money(value: Any) -> Money:
    if isinstance(value, Money):
        if value.minor < 0:
            raise FieldError("negative revenue: a refund is not a purchase")
        return value
    raise FieldError(
        f"got {kind_of(value)}: revenue must come from money(), money_major() or stripe_money(),"
        " which name the unit and the currency"
    )


def _moment(value: Any) -> datetime:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value
    raise FieldError(
        f"expected a time, got {kind_of(value)}: use unix_seconds(), unix_ms() or iso_time()"
    )


def _properties(value: Any) -> dict[str, Any] | list[Any]:
    if not isinstance(value, dict | list):
        raise FieldError(f"expected an object or an array, got {kind_of(value)}")
    try:
        size = len(orjson.dumps(value))
    except TypeError:
        raise FieldError("holds a value that is not plain JSON (money or time)") from None
    if size > MAX_PROPERTIES_BYTES:
        raise FieldError(f"is {size} bytes serialised; the limit is {MAX_PROPERTIES_BYTES}")
    return value


def _consent(value: Any) -> str:
    text = identifier(value).strip().lower()
    if text not in CONSENT_VALUES:
        raise FieldError(f"expected one of {', '.join(CONSENT_VALUES)}, got {shown(value)}")
    return text


COERCERS: dict[str, Callable[[Any], Any]] = {
    **dict.fromkeys(("session_id", "user_id", "visitor_id", "goal_id"), identifier),
    **dict.fromkeys(("event_name", "transaction_id"), identifier),
    "exposure": _exposure,
    "revenue": _money,
    "occurred_at": _moment,
    "properties": _properties,
    "consent": _consent,
    **{name: declared.coerce for name, declared in VENDOR_FIELDS.items()},
}
"""Each field's coercion: the core's here, a vendor's own as its module declares it."""
assert set(COERCERS) - set(VENDOR_FIELDS) == CONVERSION_FIELDS, "a core field without coercion"
FIELD_NAMES = frozenset(COERCERS)
"""Every field a rule may map."""
