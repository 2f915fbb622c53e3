"""Vendors: one module per experimentation vendor. Adding one is a module plus a line here."""

from bridge.destinations.base import Destination, VendorRequest, VendorResponse
from bridge.destinations.conductrics import ConductricsDestination
from bridge.destinations.convert import ConvertDestination
from bridge.destinations.pagent import PagentDestination
from bridge.destinations.scanova import ScanovaDestination

VENDORS: dict[str, type[Destination]] = {
    PagentDestination.vendor: PagentDestination,
    ConvertDestination.vendor: ConvertDestination,
    ScanovaDestination.vendor: ScanovaDestination,
    ConductricsDestination.vendor: ConductricsDestination,
}

__all__ = ["VENDORS", "Destination", "VendorRequest", "VendorResponse"]
