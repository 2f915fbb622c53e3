from __future__ import annotations

from bridge.shown import shown


def test_short_harmless_values_are_quoted_for_the_user_fixing_a_mapping() -> None:
    assert shown("XYZ") == "'XYZ'"
    assert shown(12.5) == "12.5"
    assert shown(None) == "None"


def test_anything_that_may_be_personal_data_is_described_not_quoted() -> None:
    assert shown("jane.doe@example.com") == "a str of 20 characters"
    assert shown("a long free text that someone typed") == "a str of 35 characters"
    assert shown({"email": "x"}) == "a dict of 14 characters"
