"""Fields a vendor adds to a conversion, and the kinds of value every conversion field takes.

`Conversion` holds what any vendor reads. A value only some vendors read (pagent's `label`,
Convert's `segments`) is no attribute of it: the vendor module declares it as a `VendorField`
in its destination's `extra_fields`, the mapping loader takes it from a rule's `conversion:`
entries like any field, coerced the declared way, and the conversion carries it in
`vendor_fields`, by name. The vendor reads it back with `FIELD.of(conversion)`, typed. A new
vendor adds fields here, never to the core. In the stored JSON such a field is a key like the
core's, so what is stored reads the same whichever module declares a field.

The value kinds (`identifier`, `whole_number`, `sha256_hex`) are shared with the core's fields
(`bridge/mapping/fields.py`): one id is checked one way wherever it goes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from bridge.utilities.numbers import ascii_int
from bridge.utilities.safe_text import shown
from bridge.vocabulary.model import CONVERSION_FIELDS, Conversion, has_control_character
from bridge.vocabulary.money import MAX_MINOR_UNITS, Money

T = TypeVar("T")
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


class FieldError(ValueError):
    """A value a conversion field cannot take."""


@dataclass(frozen=True, slots=True)
class VendorField(Generic[T]):
    """A conversion field some vendors read and the core does not.

    `coerce` turns what a rule's entry found into the field's value, or raises `FieldError`
    with why not (the rule is then `unmapped`, naming the field). Its value must be plain JSON
    (text, numbers, lists and objects of them): the stored conversion keeps it as it is and
    reads it back without asking the vendor. A field a second vendor reads in the same meaning
    moves to the core (the stored JSON is flat, so stored deliveries read the same).
    """

    name: str
    coerce: Callable[[Any], T]

    def of(self, conversion: Conversion) -> T | None:
        """This field's value in `conversion`, or None when the rule did not map it."""
        values = conversion.vendor_fields
        return None if values is None else values.get(self.name)


def declared_fields(
    kinds: Iterable[tuple[str, tuple[VendorField[Any], ...]]],
) -> dict[str, VendorField[Any]]:
    """Every vendor field by name, from each vendor's `extra_fields`.

    One name is one field, declared by one vendor, and never a core field."""
    declarations: dict[str, VendorField[Any]] = {}
    for vendor, extra_fields in kinds:
        for declared in extra_fields:
            if declared.name in CONVERSION_FIELDS:
                raise TypeError(f"{vendor} declares {declared.name!r}, a core conversion field")
            if declared.name in declarations:
                raise TypeError(
                    f"{vendor} declares {declared.name!r} again: a field two vendors read "
                    "belongs in the core (bridge/vocabulary/model.py)"
                )
            declarations[declared.name] = declared
    return declarations


def identifier(value: Any) -> str:
    """An id as text: a string without control characters, or a whole number."""
    if isinstance(value, str):
        if has_control_character(value):
            raise FieldError("holds a control character, which no id contains")
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise FieldError(f"expected a string, got {kind_of(value)}")


def sha256_hex(value: Any) -> str:
    text = identifier(value).lower()
    if not _SHA256_HEX.match(text):
        raise FieldError("expected a sha256 hex digest: use sha256_email(...) on the address")
    return text


def whole_number(value: Any) -> int:
    """A count: 0 or more, from an integer or ASCII digits, at most 18 digits."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_MINOR_UNITS:
        return value
    count = ascii_int(value) if isinstance(value, str) else None
    if count is not None:
        return count
    raise FieldError(f"expected a whole number >= 0, got {shown(value)}")


def kind_of(value: Any) -> str:
    """What `value` is, in the words of an error message."""
    if isinstance(value, Money):
        return "money"
    if isinstance(value, datetime):
        return "a time"
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if type(value) in names:
        return names[type(value)]
    return "a number" if isinstance(value, int | float) else type(value).__name__
