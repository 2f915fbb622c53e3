"""Vendors: one module per experimentation vendor. Adding one is a module plus a line here."""

from typing import Any

from bridge.destinations.base import Destination, VendorRequest, VendorResponse
from bridge.destinations.conductrics import ConductricsDestination
from bridge.destinations.convert import ConvertDestination
from bridge.destinations.fields import VendorField, declared_fields
from bridge.destinations.pagent import PagentDestination
from bridge.destinations.scanova import ScanovaDestination

VENDORS: dict[str, type[Destination]] = {
    PagentDestination.vendor: PagentDestination,
    ConvertDestination.vendor: ConvertDestination,
    ScanovaDestination.vendor: ScanovaDestination,
    ConductricsDestination.vendor: ConductricsDestination,
}

VENDOR_FIELDS: dict[str, VendorField[Any]] = declared_fields(
    (vendor, kind.extra_fields) for vendor, kind in VENDORS.items()
)
"""Every conversion field some vendor adds to the core, by name."""

__all__ = ["VENDORS", "VENDOR_FIELDS", "Destination", "VendorRequest", "VendorResponse"]
