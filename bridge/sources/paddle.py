"""Paddle Billing webhooks: `Paddle-Signature: ts=<unix>;h1=<hex>` over `"{ts}:{raw body}"`.

From Paddle's docs (developer.paddle.com/webhooks/signature-verification) and its SDKs
(PaddleHQ/paddle-python-sdk `paddle_billing/Notifications/PaddleSignature.py`, `Verifier.py`):
the signature is hex HMAC-SHA256 keyed by the notification destination's secret key
(`pdl_ntfset_...`, used as UTF-8 text), and there is one `h1=` per active key while a key is
rotated. The SDKs allow 5 seconds between `ts` and now and check only the past; here the window is
checked both ways and is an option, since a Paddle retry carries a fresh `ts` but a queue in
front of bridge adds its own delay. The dedupe id is `event_id` (`evt_...`), the same on every
delivery of an event; `notification_id` (`ntf_...`) differs per destination and is not used.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from bridge.sources import signing
from bridge.sources.base import InboundRequest, SignedRequest, VerificationFailed
from bridge.sources.timestamped import SignedParts, TimestampedHmacSource, TimestampedOptions
from bridge.utilities.numbers import ascii_int
from bridge.utilities.times import sender_time
from bridge.vocabulary.model import Event
from bridge.vocabulary.secrets import SecretList

SIGNATURE_HEADER = "paddle-signature"
_MAX_TIMESTAMP_DIGITS = 12


class PaddleOptions(TimestampedOptions):
    kind: Literal["paddle"]
    secret: SecretList = Field(
        description="Secret key reference(s) of the notification destination (`pdl_ntfset_...`)."
    )
    tolerance_seconds: int = Field(5, ge=1, le=86_400)
    """How far `ts` may be from now, either way. Paddle's SDKs use 5 seconds."""


class PaddleSource(TimestampedHmacSource):
    kind = "paddle"
    options_model = PaddleOptions
    signature_encoding = "hex"
    mismatch = "no h1 signature in Paddle-Signature matches: check the destination's secret key"
    headers_read = (SIGNATURE_HEADER,)

    def signed_parts(self, request: InboundRequest) -> SignedParts:
        header = request.headers.get(SIGNATURE_HEADER)
        if not header:
            raise VerificationFailed("missing Paddle-Signature header")
        timestamp, seconds, signatures = parse_signature_header(header)
        return SignedParts(seconds, timestamp.encode() + b":" + request.body, signatures)

    def sign(self, body: bytes, url: str, now: float) -> SignedRequest:
        stamp = str(int(now))
        mac = signing.digest("sha256", self.signing_key(), stamp.encode() + b":" + body)
        return SignedRequest({"Paddle-Signature": f"ts={stamp};h1={mac.hex()}"})

    def parse(self, body: bytes) -> list[Event]:
        payload = signing.json_object(body, "Paddle")
        event_id = signing.required_text(
            payload.get("event_id"), "Paddle notification has no 'event_id'"
        )
        event_type = signing.required_text(
            payload.get("event_type"), "Paddle notification has no 'event_type'"
        )
        occurred_at = sender_time(payload.get("occurred_at"))
        return [self.event(event_id, event_type, payload, body, occurred_at)]


def parse_signature_header(header: str) -> tuple[str, int, list[str]]:
    """`ts` (as sent and as unix seconds) and every `h1` of a `Paddle-Signature` header; other
    keys are ignored."""
    timestamps: list[str] = []
    signatures: list[str] = []
    for item in header.split(";"):
        key, _, value = item.strip().partition("=")
        if key == "ts":
            timestamps.append(value.strip())
        elif key == "h1" and value.strip():
            signatures.append(value.strip())
    if len(timestamps) != 1:
        raise VerificationFailed("Paddle-Signature needs exactly one ts=")
    timestamp = timestamps[0]
    seconds = ascii_int(timestamp, max_digits=_MAX_TIMESTAMP_DIGITS)
    if seconds is None:
        raise VerificationFailed("ts= in Paddle-Signature is not a unix time")
    if not signatures:
        raise VerificationFailed("no h1= signature in Paddle-Signature")
    return timestamp, seconds, signatures
