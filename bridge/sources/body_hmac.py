"""Senders that sign the raw body alone: one HMAC-SHA256 in a header, keyed by a shared secret.

Shopify, WooCommerce and Lemon Squeezy sign this way; each states its header, the digest's
encoding and what to check when it does not match, and reads its event from the body (and, for
Shopify and WooCommerce, from headers the signature does not cover). Nothing in such a signature
is time-bound, so the body's own time bounds replays once the dedupe id is purged.

Where the topic or ids travel in headers, which are not stored, each event keeps them next to the
body in a small JSON envelope (`enveloped`): replaying a stored event then gives back the same
id and topic.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import orjson

from bridge.sources import signing
from bridge.sources.base import InboundRequest, SignedRequest, SignedSource, VerificationFailed
from bridge.vocabulary.model import Event


class BodyHmacSource(SignedSource):
    replays_bounded_by_body_time = True
    signature_header: ClassVar[str]
    """The header's name as the sender's docs write it (refusals name it)."""
    signature_headers: ClassVar[tuple[str, ...]]
    """Its spellings as received, lower-case; the first one present with a value is read."""
    signature_encoding: ClassVar[signing.Encoding]
    mismatch: ClassVar[str]
    """The refusal when no signature matches: which secret to check, where the sender shows it."""

    def verify(self, request: InboundRequest) -> list[Event]:
        self.check_signature(request.headers, request.body)
        return self.parse(request.body)

    def check_signature(self, headers: Mapping[str, str], body: bytes) -> None:
        """Refuse a body no configured secret signed, comparing in constant time."""
        provided = [(headers.get(name) or "").strip() for name in self.signature_headers]
        if not any(provided):
            raise VerificationFailed(f"missing {self.signature_header} header")
        expected = [signing.digest("sha256", key, body) for key in self.keys]
        encoding = self.signature_encoding
        signatures = [signing.decode_signature(text, encoding) for text in provided if text]
        if not signing.any_match(expected, signatures):
            raise VerificationFailed(self.mismatch)

    def sign(self, body: bytes, url: str, now: float) -> SignedRequest:
        """The body's HMAC in the signature header, with what `announced` adds."""
        mac = signing.digest("sha256", self.signing_key(), body)
        signature = {self.signature_header: signing.encoded(mac, self.signature_encoding)}
        return SignedRequest({**signature, **self.announced(body)})

    def announced(self, body: bytes) -> dict[str, str]:
        """Unsigned headers the sender sends beside the signature (topic, event id)."""
        return {}


def enveloped(envelope: str, headers: dict[str, Any], body: bytes) -> bytes:
    """The bytes stored for an event: the verified body with the header values it was read with."""
    return orjson.dumps({envelope: headers, "body": body.decode()})


def opened(
    document: dict[str, Any], envelope: str, sender: str
) -> tuple[dict[str, Any], bytes, dict[str, Any]] | None:
    """The header values, body and payload of a stored event; None for a plain body."""
    stored = document.get(envelope)
    if not isinstance(stored, dict) or not isinstance(document.get("body"), str):
        return None
    raw = document["body"].encode()
    return stored, raw, signing.json_object(raw, sender)
