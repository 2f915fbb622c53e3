"""Money as an integer count of a currency's minor unit: the only way bridge holds an amount.

Exponents come from the ISO 4217 table pinned in `bridge.vocabulary.currencies`. Senders
that count in a different minor unit (Stripe's own list) rescale exactly on the way in; vendors
that want major units get an exact `Decimal` on the way out. No float is ever involved.

An amount holds at most `MAX_MINOR_UNITS` minor units either way: what the store and every
vendor's 64-bit integers carry. A larger amount is no purchase any sender reports; it is refused
where it is read, with the reason, instead of failing when it is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bridge.utilities.numbers import MAX_DIGITS, ascii_decimal, ascii_int
from bridge.utilities.safe_text import shown
from bridge.vocabulary.currencies import EXPONENTS

MAX_MINOR_UNITS = 10**MAX_DIGITS - 1
"""The largest amount, in minor units, either way: 18 digits, inside a signed 64-bit integer."""

# Decimal amounts beyond 10**30 are refused before any arithmetic, which keeps Decimal
# arithmetic on hostile input cheap.
_MAX_ADJUSTED = 30


class MoneyError(ValueError):
    """An amount or currency that cannot be represented exactly."""


def currency_exponent(code: str) -> int:
    """Number of decimals of the currency's minor unit, by ISO 4217 (USD 2, JPY 0, KWD 3)."""
    if code not in EXPONENTS:
        raise MoneyError(f"unknown currency {shown(code)} (not an ISO 4217 code)")
    exponent = EXPONENTS[code]
    if exponent is None:
        raise MoneyError(f"currency {shown(code)} has no minor unit (ISO 4217 lists it as N.A.)")
    return exponent


def normalize_currency(value: object) -> str:
    """Upper-cased ISO 4217 code, or `MoneyError` (senders such as Stripe send lower case)."""
    if not isinstance(value, str):
        raise MoneyError(f"currency must be a string, got {type(value).__name__}")
    code = value.strip().upper()
    currency_exponent(code)
    return code


@dataclass(frozen=True, slots=True)
class Money:
    """`minor` units of `currency`: Money(1999, "USD") is $19.99, Money(500, "JPY") is ¥500."""

    minor: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.minor, int) or isinstance(self.minor, bool):
            raise MoneyError(f"minor units must be an integer, got {type(self.minor).__name__}")
        if not -MAX_MINOR_UNITS <= self.minor <= MAX_MINOR_UNITS:
            raise MoneyError(
                f"amount of {shown(self.minor)} minor units is outside the range bridge keeps"
                f" (at most {MAX_DIGITS} digits)"
            )
        currency_exponent(self.currency)

    @property
    def exponent(self) -> int:
        return currency_exponent(self.currency)

    @classmethod
    def from_minor(cls, amount: object, currency: object, *, exponent: int | None = None) -> Money:
        """Money from an integer count of minor units.

        `exponent` is the sender's idea of the minor unit when it differs from ISO 4217
        (Stripe counts ISK in hundredths, ISO in whole krónur); the amount is rescaled
        exactly or refused.
        """
        code = normalize_currency(currency)
        units = _integer(amount)
        iso = currency_exponent(code)
        sender = iso if exponent is None else exponent
        if sender <= iso:
            return cls(units * 10 ** (iso - sender), code)
        factor = 10 ** (sender - iso)
        if units % factor:
            raise MoneyError(
                f"{units} in units of 10^-{sender} {code} is not a whole number of "
                f"{code} minor units (10^-{iso})"
            )
        return cls(units // factor, code)

    @classmethod
    def from_major(cls, amount: object, currency: object) -> Money:
        """Money from a decimal in major units ("19.99" USD -> 1999), exactly or not at all."""
        code = normalize_currency(currency)
        value = _decimal(amount)
        scaled = value.scaleb(currency_exponent(code))
        if scaled != scaled.to_integral_value():
            raise MoneyError(
                f"{amount} has more decimals than {code} allows ({currency_exponent(code)})"
            )
        return cls(int(scaled), code)

    def major(self) -> Decimal:
        """The amount in major units with exactly the currency's decimals: Decimal('19.99')."""
        return Decimal(self.minor).scaleb(-self.exponent)

    def major_text(self) -> str:
        """Shortest exact decimal in major units: "19.99", "12.34" for 12340 fils, "5000" yen.

        Vendors that want a JSON number get this text verbatim (`orjson.Fragment`), so the
        amount never passes through a float.
        """
        text = format(self.major(), "f")
        return text.rstrip("0").rstrip(".") if "." in text else text

    def __str__(self) -> str:
        return f"{self.major()} {self.currency}"


def _integer(amount: object) -> int:
    if isinstance(amount, bool):
        raise MoneyError("amount must be an integer count of minor units, got a boolean")
    if isinstance(amount, int):
        return amount
    units = (
        ascii_int(amount, max_digits=MAX_DIGITS + 1, signed=True)
        if isinstance(amount, str)
        else None
    )
    if units is None:
        raise MoneyError(f"amount must be an integer count of minor units, got {shown(amount)}")
    return units


def _decimal(amount: object) -> Decimal:
    if isinstance(amount, str):
        value = ascii_decimal(amount, max_digits=_MAX_ADJUSTED, signed=True)
        if value is None:
            raise MoneyError(f"amount {shown(amount)} is not a decimal number")
        return value
    if isinstance(amount, bool) or not isinstance(amount, int | Decimal):
        raise MoneyError(f"amount must be a decimal string or integer, got {shown(amount)}")
    value = Decimal(amount)
    if not value.is_finite():
        raise MoneyError(f"amount {shown(amount)} is not a finite number")
    if value != 0 and abs(value.adjusted()) > _MAX_ADJUSTED:
        raise MoneyError(f"amount {shown(amount)} is outside the range bridge keeps")
    return value
