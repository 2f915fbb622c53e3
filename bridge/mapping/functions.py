"""Domain functions added to JMESPath for mapping files.

Each takes `null` to `null`, so a field that is absent in one payload stays absent instead of
raising; a present but wrong value raises `FunctionError` (or, from the money functions,
`MoneyError`) with a message meant for the user; the expression reports either as the reason
the event is `unmapped`.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
from jmespath import functions

from bridge.model import EPOCH
from bridge.money import Money
from bridge.shown import shown
from bridge.sources.stripe import stripe_exponent


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
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise FunctionError(f"iso_time(): {shown(value)} is not an ISO 8601 time") from None
        if moment.tzinfo is None:
            raise FunctionError(f"iso_time(): {shown(value)} has no time zone")
        try:
            return moment.astimezone(UTC)
        except OverflowError:
            raise FunctionError("iso_time(): outside the range of representable times") from None

    @functions.signature(_TEXT)
    def _func_json_parse(self, value: Any) -> Any:
        """A JSON document carried in a string field (metadata values are strings)."""
        if value is None:
            return None
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            raise FunctionError("json_parse(): the text is not valid JSON") from None

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
    try:
        if isinstance(value, int):  # the usual case, exact without Decimal
            return EPOCH + timedelta(microseconds=value * (1_000_000 // per_second))
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        return EPOCH + timedelta(microseconds=int(number * 1_000_000 / per_second))
    except (ArithmeticError, ValueError, OverflowError):
        raise FunctionError(f"{name}(): {shown(value)} is not a timestamp") from None
