"""Senders: one module per signature scheme. Adding one is a module plus a line here."""

from bridge.sources.base import (
    InboundRequest,
    MalformedPayload,
    Source,
    SourceError,
    VerificationFailed,
)
from bridge.sources.stripe import StripeSource

SOURCE_KINDS: dict[str, type[Source]] = {
    StripeSource.kind: StripeSource,
}

__all__ = [
    "SOURCE_KINDS",
    "InboundRequest",
    "MalformedPayload",
    "Source",
    "SourceError",
    "VerificationFailed",
]
