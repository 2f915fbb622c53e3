import subprocess
import sys
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.vocabulary.money import (
    MAX_MINOR_UNITS,
    Money,
    MoneyError,
    currency_exponent,
    normalize_currency,
)


@pytest.mark.parametrize(
    ("code", "exponent"), [("USD", 2), ("EUR", 2), ("JPY", 0), ("KWD", 3), ("ISK", 0), ("CLF", 4)]
)
def test_exponents_follow_iso_4217(code: str, exponent: int) -> None:
    assert currency_exponent(code) == exponent


def test_currency_codes_are_normalised_from_sender_spelling() -> None:
    assert normalize_currency(" usd ") == "USD"


@pytest.mark.parametrize("code", ["XYZ", "US", "usdollar", ""])
def test_unknown_currency_is_refused(code: str) -> None:
    with pytest.raises(MoneyError, match="unknown currency"):
        normalize_currency(code)


def test_currency_without_minor_unit_is_refused() -> None:
    with pytest.raises(MoneyError, match="no minor unit"):
        Money.from_minor(100, "XAU")


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [(2499, "usd", 2499), (5000, "jpy", 5000), (12345, "kwd", 12345), ("1999", "EUR", 1999)],
)
def test_minor_units_are_taken_as_they_are(amount: object, currency: str, minor: int) -> None:
    assert Money.from_minor(amount, currency) == Money(minor, currency.upper())


@pytest.mark.parametrize(
    ("amount", "currency", "sender_exponent", "iso_minor"),
    [
        (10000, "ISK", 2, 100),  # Stripe counts ISK in hundredths, ISO in whole kronur
        (1000, "MGA", 0, 100000),  # Stripe treats MGA as zero-decimal, ISO has 2 decimals
        (1234, "IQD", 2, 12340),  # ISO IQD has 3 decimals
    ],
)
def test_sender_minor_units_are_rescaled_exactly(
    amount: int, currency: str, sender_exponent: int, iso_minor: int
) -> None:
    money = Money.from_minor(amount, currency, exponent=sender_exponent)
    assert money == Money(iso_minor, currency)


def test_rescaling_that_would_lose_a_fraction_is_refused() -> None:
    with pytest.raises(MoneyError, match="not a whole number"):
        Money.from_minor(10050, "ISK", exponent=2)


@pytest.mark.parametrize("amount", [19.99, True, None, "19.99", "1e3", [1]])
def test_minor_units_must_be_integers(amount: object) -> None:
    with pytest.raises(MoneyError):
        Money.from_minor(amount, "USD")


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("19.99", "USD", 1999),
        ("19.9", "USD", 1990),
        ("0.10", "USD", 10),
        ("500", "JPY", 500),
        ("1.234", "KWD", 1234),
        (Decimal("7.5"), "EUR", 750),
        (3, "EUR", 300),
        ("-4.20", "EUR", -420),
    ],
)
def test_major_units_become_exact_minor_units(amount: object, currency: str, minor: int) -> None:
    assert Money.from_major(amount, currency) == Money(minor, currency)


@pytest.mark.parametrize(
    ("amount", "currency"), [("19.999", "USD"), ("5.5", "JPY"), ("1.2345", "KWD")]
)
def test_major_units_with_too_many_decimals_are_refused(amount: str, currency: str) -> None:
    with pytest.raises(MoneyError, match="more decimals"):
        Money.from_major(amount, currency)


@pytest.mark.parametrize("amount", ["abc", "NaN", "Infinity", "1e40", 19.99, None, ""])
def test_unusable_major_amounts_are_refused(amount: object) -> None:
    with pytest.raises(MoneyError):
        Money.from_major(amount, "USD")


@pytest.mark.parametrize(
    ("money", "major"),
    [
        (Money(1999, "USD"), "19.99"),
        (Money(500, "JPY"), "500"),
        (Money(1234, "KWD"), "1.234"),
        (Money(5, "USD"), "0.05"),
    ],
)
def test_major_is_an_exact_decimal_with_the_currency_decimals(money: Money, major: str) -> None:
    assert str(money.major()) == major


def test_money_refuses_floats_at_construction() -> None:
    with pytest.raises(MoneyError, match="integer"):
        Money(19.99, "USD")  # type: ignore[arg-type]


CODES = ["USD", "JPY", "KWD", "EUR", "CLF", "BHD"]


@given(minor=st.integers(min_value=-(10**15), max_value=10**15), code=st.sampled_from(CODES))
def test_major_and_minor_round_trip(minor: int, code: str) -> None:
    money = Money(minor, code)
    assert Money.from_major(str(money.major()), code) == money


@pytest.mark.parametrize(
    ("money", "text"),
    [
        (Money(2499, "USD"), "24.99"),
        (Money(1000, "USD"), "10"),
        (Money(12340, "KWD"), "12.34"),
        (Money(5000, "JPY"), "5000"),
        (Money(-5, "EUR"), "-0.05"),
        (Money(0, "USD"), "0"),
    ],
)
def test_major_text_is_the_shortest_exact_decimal(money: Money, text: str) -> None:
    assert money.major_text() == text


# Peers' text and the store's range ------------------------------------------------------


@pytest.mark.parametrize("amount", ["\uff11\uff12\uff13", "\u00b9\u00b2\u00b3", "\u0661\u0662"])
def test_digits_of_other_scripts_are_not_an_amount(amount: str) -> None:
    with pytest.raises(MoneyError, match="integer count of minor units"):
        Money.from_minor(amount, "USD")
    with pytest.raises(MoneyError, match="not a decimal number"):
        Money.from_major(amount, "USD")


@pytest.mark.parametrize(
    ("build", "amount"),
    [
        (Money.from_minor, -9223372036854775808),
        (Money.from_minor, 2**64 - 1),
        (Money.from_major, 10**19),
        (Money.from_major, "-92233720368547758.08"),
        (Money.from_minor, str(10**18)),
    ],
)
def test_amounts_the_store_cannot_carry_are_refused(build: Any, amount: object) -> None:
    with pytest.raises(MoneyError, match="outside the range"):
        build(amount, "USD")


def test_the_largest_amount_is_kept_exactly() -> None:
    assert Money.from_minor(MAX_MINOR_UNITS, "USD").minor == 10**18 - 1
    assert Money.from_minor(-MAX_MINOR_UNITS, "USD").minor == -(10**18) + 1


# The currency table is pinned data ------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "exponent"),
    [("BGN", 2), ("ANG", 2), ("XCG", 2), ("HRK", 2), ("SLL", 2), ("SLE", 2), ("VEF", 2)],
)
def test_codes_that_left_iso_4217_keep_their_exponent(code: str, exponent: int) -> None:
    assert currency_exponent(code) == exponent
    assert Money.from_minor(1999, code.lower()) == Money(1999, code)


def test_the_table_is_bridges_own_not_an_installed_packages() -> None:
    script = "import sys, bridge.vocabulary.money, bridge.mapping; print('iso4217' in sys.modules)"
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert ran.stdout.strip() == "False"
