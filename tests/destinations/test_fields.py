"""A vendor's own fields: one name is one field, never a core one, read back typed."""

from __future__ import annotations

import pytest

from bridge.destinations import VENDOR_FIELDS, VENDORS
from bridge.destinations.convert import PRODUCTS_COUNT
from bridge.destinations.fields import VendorField, declared_fields, identifier, whole_number
from bridge.vocabulary.model import CONVERSION_FIELDS
from tests.support.conversions import conversion


def test_every_vendor_field_is_registered_under_its_name_and_none_is_a_core_field() -> None:
    declared = {f.name: f for kind in VENDORS.values() for f in kind.extra_fields}
    assert declared == VENDOR_FIELDS
    assert not set(VENDOR_FIELDS) & CONVERSION_FIELDS


def test_a_field_two_vendors_read_belongs_in_the_core() -> None:
    with pytest.raises(TypeError, match="two vendors read belongs in the core"):
        declared_fields([("convert", (PRODUCTS_COUNT,)), ("ga4", (PRODUCTS_COUNT,))])


def test_a_second_meaning_under_one_name_is_refused() -> None:
    other = VendorField("products_count", identifier)
    with pytest.raises(TypeError, match="ga4 declares 'products_count' again"):
        declared_fields([("convert", (PRODUCTS_COUNT,)), ("ga4", (other,))])


def test_a_core_field_cannot_be_declared_by_a_vendor() -> None:
    with pytest.raises(TypeError, match="'goal_id', a core conversion field"):
        declared_fields([("ga4", (VendorField("goal_id", identifier),))])


def test_a_field_is_read_back_as_mapped_or_none() -> None:
    count = VendorField("products_count", whole_number)
    assert count.of(conversion(vendor_fields={"products_count": 3})) == 3
    assert count.of(conversion(vendor_fields={"label": "x"})) is None
    assert count.of(conversion()) is None
