"""Senders that sign a timestamp with the body: HMAC-SHA256 over both, the time then checked.

Paddle, Close, Standard Webhooks and HubSpot (v3) sign this way. Each states where its
timestamp and signatures travel and how the signed message is laid out (`signed_parts`); here
the signatures are compared in constant time against every key, and the timestamp must be within
`tolerance_seconds` of now, in the past or in the future, once the signature matched. Stripe
signs the same way, but the `stripe` library has the last word on its header; the generic
`hmac` kind takes all of it from options.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from pydantic import Field

from bridge.sources import signing
from bridge.sources.base import InboundRequest, SignedOptions, SignedSource, VerificationFailed
from bridge.vocabulary.model import Event


class TimestampedOptions(SignedOptions):
    tolerance_seconds: int = Field(300, ge=1, le=86_400)
    """How far the signed timestamp may be from now, either way."""


@dataclass(frozen=True, slots=True)
class SignedParts:
    """What a request says it signed, read from its headers before anything is checked."""

    seconds: float
    """The signed timestamp, in unix seconds."""
    message: bytes
    """The bytes the sender signed: the raw body, never re-encoded, with the timestamp."""
    signatures: Sequence[str]
    """Every signature the request carries, as text in `signature_encoding`."""
    event_id: str | None = None
    """The dedupe id, where the signature covers one."""


class TimestampedHmacSource(SignedSource):
    options: TimestampedOptions
    signature_encoding: ClassVar[signing.Encoding]
    mismatch: ClassVar[str]
    """The refusal when no signature matches: which secret to check."""

    def __init__(self, name: str, options: TimestampedOptions) -> None:
        super().__init__(name, options)
        self.clock: Callable[[], float] = time.time

    @abstractmethod
    def signed_parts(self, request: InboundRequest) -> SignedParts:
        """The timestamp, message and signatures of `request`, or `VerificationFailed` when its
        headers do not carry them."""

    def verify(self, request: InboundRequest) -> list[Event]:
        self.authenticate(request)
        return self.parse(request.body)

    def authenticate(self, request: InboundRequest) -> SignedParts:
        """Refuse a request no key signed, or signed outside the tolerance; else its parts."""
        parts = self.signed_parts(request)
        expected = [signing.digest("sha256", key, parts.message) for key in self.keys]
        encoding = self.signature_encoding
        provided = (signing.decode_signature(text, encoding) for text in parts.signatures)
        if not signing.any_match(expected, provided):
            raise VerificationFailed(self.refusal(request))
        signing.check_window(parts.seconds, self.options.tolerance_seconds, now=self.clock())
        return parts

    def refusal(self, request: InboundRequest) -> str:
        """Why a request whose signatures match no key is refused."""
        return self.mismatch
