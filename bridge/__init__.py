"""bridge: verified webhooks in, vendor-neutral conversions out."""

__version__ = "0.1.0"
