from __future__ import annotations

from bridge.utilities.safe_text import shown


def test_short_harmless_values_are_quoted_for_the_user_fixing_a_mapping() -> None:
    assert shown("XYZ") == "'XYZ'"
    assert shown(12.5) == "12.5"
    assert shown(None) == "None"


def test_anything_that_may_be_personal_data_is_described_not_quoted() -> None:
    assert shown("jane.doe@example.com") == "a str of 20 characters"
    assert shown("a long free text that someone typed") == "a str of 35 characters"
    assert shown({"email": "x"}) == "a dict of 1 items"


def test_a_deeply_nested_value_is_described_without_walking_it() -> None:
    nested: list[object] = []
    for _ in range(5000):
        nested = [nested]
    assert shown(nested) == "a list of 1 items"
    assert shown({"a": nested}) == "a dict of 1 items"


def test_a_number_too_long_to_print_is_described_by_its_size() -> None:
    assert shown(10**5000) == "a number of 5001 digits"
    assert shown(-(10**30)) == "a number of 31 digits"
