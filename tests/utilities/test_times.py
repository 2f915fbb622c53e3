"""The one reader of times a peer writes (`bridge.utilities.times`): every odd time is None,
never an exception, and every time a datetime holds is read exactly."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from bridge.utilities.times import iso_moment, sender_time, unix_moment

FIRST_SECOND, LAST_SECOND = -62_135_596_800, 253_402_300_799


@pytest.mark.parametrize(
    "value",
    [
        "0001-01-01T00:00:00+05:00",
        "9999-12-31T23:59:59-23:59",
        "0001-01-01T00:00:00+23:59",
        "2026-13-45T00:00:00Z",
        "\uff12\uff10\uff12\uff16-01-01T00:00:00Z",
        "",
        10**17,
        -(10**17),
        FIRST_SECOND - 1,
        LAST_SECOND + 1,
        2**63,
        True,
        False,
        float("nan"),
        float("inf"),
        1.5,
        None,
        {"a": 1},
        [1],
    ],
)
def test_an_odd_time_is_none(value: Any) -> None:
    assert sender_time(value) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (FIRST_SECOND, datetime(1, 1, 1, tzinfo=UTC)),
        (LAST_SECOND, datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)),
        ("2026-03-04T10:15:00-05:00", datetime(2026, 3, 4, 15, 15, tzinfo=UTC)),
        ("0001-01-01T00:00:00-05:00", datetime(1, 1, 1, 5, tzinfo=UTC)),
    ],
)
def test_every_time_a_datetime_holds_is_read_exactly(value: Any, expected: datetime) -> None:
    assert sender_time(value) == expected


def test_a_time_without_a_zone_is_utc_only_where_the_sender_says_so() -> None:
    assert sender_time("2026-03-04T10:15:00") is None
    assert sender_time("2026-03-04T10:15:00", unzoned_utc=True) == datetime(
        2026, 3, 4, 10, 15, tzinfo=UTC
    )
    assert iso_moment(" 2026-03-04T10:15:00Z ") == datetime(2026, 3, 4, 10, 15, tzinfo=UTC)


def test_milliseconds_and_fractions_are_exact() -> None:
    assert sender_time(1_773_480_067_512, per_second=1000) == datetime(
        2026, 3, 14, 9, 21, 7, 512000, tzinfo=UTC
    )
    assert unix_moment(Decimal("1700000000.000001")) == datetime(
        2023, 11, 14, 22, 13, 20, 1, tzinfo=UTC
    )
    assert unix_moment(Decimal("NaN")) is None
    assert unix_moment(Decimal("1e400")) is None
