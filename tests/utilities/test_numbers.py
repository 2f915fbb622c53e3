from __future__ import annotations

from decimal import Decimal

import pytest

from bridge.utilities.numbers import MAX_DIGITS, ascii_decimal, ascii_int


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0", 0), ("42", 42), (" 17 ", 17), ("007", 7), ("9" * MAX_DIGITS, int("9" * MAX_DIGITS))],
)
def test_ascii_digits_are_read(text: str, expected: int) -> None:
    assert ascii_int(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "\u00b2",
        "\u00b9\u00b2\u00b3",
        "\uff11\uff12\uff13",  # fullwidth
        "\u0661\u0662\u0663",  # Arabic-Indic
        "1_000",
        "+5",
        "-5",
        "1.5",
        "1e3",
        "9" * (MAX_DIGITS + 1),
    ],
)
def test_anything_else_is_none(text: str) -> None:
    assert ascii_int(text) is None


def test_a_sign_only_when_asked() -> None:
    assert ascii_int("-12", signed=True) == -12
    assert ascii_int("--12", signed=True) is None
    assert ascii_int("-", signed=True) is None


def test_the_length_bound_is_the_callers() -> None:
    assert ascii_int("12345", max_digits=4) is None
    assert ascii_int("1234", max_digits=4) == 1234


@pytest.mark.parametrize(
    ("text", "expected"),
    [("19.99", "19.99"), ("-5.00", "-5.00"), ("500", "500"), (" 0.10 ", "0.10")],
)
def test_ascii_decimals_are_read_exactly(text: str, expected: str) -> None:
    assert ascii_decimal(text, signed=True) == Decimal(expected)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\uff11\uff12\uff13",  # fullwidth: Decimal() itself would read it as 123
        "\u0661.\u0662",  # Arabic-Indic
        "NaN",
        "Infinity",
        "1e3",
        "1_000.5",
        "+1.5",
        ".5",
        "5.",
        "1.2.3",
        "-1.5",  # unsigned unless asked
        "9" * (MAX_DIGITS + 1),
        "0." + "1" * MAX_DIGITS,
    ],
)
def test_anything_else_is_not_a_decimal(text: str) -> None:
    assert ascii_decimal(text) is None
