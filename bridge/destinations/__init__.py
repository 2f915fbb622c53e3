"""Vendors: one module per experimentation vendor. Adding one is a module plus a line here."""

from bridge.destinations.base import Destination, VendorRequest, VendorResponse
from bridge.destinations.pagent import PagentDestination

VENDORS: dict[str, type[Destination]] = {
    PagentDestination.vendor: PagentDestination,
}

__all__ = ["VENDORS", "Destination", "VendorRequest", "VendorResponse"]
