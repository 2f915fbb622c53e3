"""Domain functions added to JMESPath for mapping files.

Each takes `null` to `null`, so a field that is absent in one payload stays absent instead of
raising; a present but wrong value raises `FunctionError` (or, from the money functions,
`MoneyError`) with a message meant for the user; the expression reports either as the reason
the event is `unmapped`.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
from jmespath import functions

from bridge.utilities.nesting import TOO_DEEP, json_too_deep
from bridge.utilities.numbers import ascii_decimal
from bridge.utilities.safe_text import shown
from bridge.utilities.times import iso_moment, unix_moment
from bridge.vocabulary.currencies import stripe_exponent
from bridge.vocabulary.money import Money


class FunctionError(ValueError):
    """A mapping function given a value it cannot use."""


# JMESPath argument specs ("types" per argument); null is accepted everywhere.
_AMOUNT: Any = {"types": ["number", "string", "null"]}
_TEXT: Any = {"types": ["string", "null"]}
_TIMESTAMP: Any = {"types": ["number", "string", "null"]}
_ANY_SCALAR: Any = {"types": ["string", "number", "null"]}


class BridgeFunctions(functions.Functions):
    """JMESPath's built-ins plus money, hashing, time and small string helpers."""

    @functions.signature(_AMOUNT, _TEXT)
    def _func_money(self, amount: Any, currency: Any) -> Money | None:
        """`amount` is already an integer count of ISO 4217 minor units (cents, yen, fils)."""
        if amount is None or currency is None:
            return None
        return Money.from_minor(_no_float(amount, "money"), currency)

    @functions.signature(_AMOUNT, _TEXT)
    def _func_money_major(self, amount: Any, currency: Any) -> Money | None:
        """`amount` is a decimal in major units ("19.99" USD): converted exactly or refused."""
        if amount is None or currency is None:
            return None
        value = Decimal(repr(amount)) if isinstance(amount, float) else amount
        return Money.from_major(value, currency)

    @functions.signature(_AMOUNT, _TEXT)
    def _func_stripe_money(self, amount: Any, currency: Any) -> Money | None:
        """A Stripe API amount: minor units by Stripe's own zero-/three-decimal lists."""
        if amount is None or currency is None:
            return None
        return Money.from_minor(
            _no_float(amount, "stripe_money"), currency, exponent=stripe_exponent(str(currency))
        )

    @functions.signature(_TEXT)
    def _func_sha256_email(self, email: Any) -> str | None:
        """sha256 hex of the trimmed, lower-cased address: the form vendors match on."""
        if email is None:
            return None
        normalized = email.strip().lower()
        if "@" not in normalized:
            raise FunctionError("sha256_email() needs an email address")
        return hashlib.sha256(normalized.encode()).hexdigest()

    @functions.signature(_ANY_SCALAR)
    def _func_sha256(self, value: Any) -> str | None:
        if value is None:
            return None
        return hashlib.sha256(str(value).encode()).hexdigest()

    @functions.signature(_TIMESTAMP)
    def _func_unix_seconds(self, value: Any) -> datetime | None:
        return _from_unix(value, 1, "unix_seconds")

    @functions.signature(_TIMESTAMP)
    def _func_unix_ms(self, value: Any) -> datetime | None:
        return _from_unix(value, 1000, "unix_ms")

    @functions.signature(_TEXT)
    def _func_iso_time(self, value: Any) -> datetime | None:
        """An ISO 8601 time with an offset or `Z`; one without a zone is ambiguous, so refused."""
        if value is None:
            return None
        moment = iso_moment(value)
        if moment is None:
            if iso_moment(value, unzoned_utc=True) is not None:
                raise FunctionError(f"iso_time(): {shown(value)} has no time zone")
            raise FunctionError(
                f"iso_time(): {shown(value)} is not an ISO 8601 time in the range of years 1-9999"
            )
        return moment

    @functions.signature(_TEXT)
    def _func_json_parse(self, value: Any) -> Any:
        """A JSON document carried in a string field (metadata values are strings)."""
        if value is None:
            return None
        try:
            document = orjson.loads(value)
        except orjson.JSONDecodeError:
            raise FunctionError("json_parse(): the text is not valid JSON") from None
        if json_too_deep(value.encode(), document):
            raise FunctionError(f"json_parse(): the document is {TOO_DEEP}")
        return document

    @functions.signature(_TEXT)
    def _func_lower(self, value: Any) -> str | None:
        return None if value is None else str(value).lower()

    @functions.signature(_TEXT)
    def _func_upper(self, value: Any) -> str | None:
        return None if value is None else str(value).upper()

    @functions.signature(_TEXT)
    def _func_trim(self, value: Any) -> str | None:
        return None if value is None else str(value).strip()


FUNCTION_NAMES = frozenset(BridgeFunctions.FUNCTION_TABLE)
MONEY_FUNCTIONS = frozenset({"money", "money_major", "stripe_money"})


def _no_float(amount: Any, name: str) -> Any:
    if isinstance(amount, float):
        raise FunctionError(
            f"{name}() needs an integer count of minor units, got {shown(amount)}"
            " (use money_major() for decimal amounts)"
        )
    return amount


def _from_unix(value: Any, per_second: int, name: str) -> datetime | None:
    if value is None:
        return None
    count: int | Decimal | None
    if isinstance(value, int) and not isinstance(value, bool):
        count = value  # the usual case, exact without Decimal
    elif isinstance(value, float):
        count = Decimal(repr(value))
    else:
        count = ascii_decimal(value, signed=True)
    moment = None if count is None else unix_moment(count, per_second)
    if moment is None:
        raise FunctionError(f"{name}(): {shown(value)} is not a timestamp in years 1-9999")
    return moment
