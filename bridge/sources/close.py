"""Close CRM webhooks: `close-sig-hash` over `close-sig-timestamp` + the raw body.

Close signs each delivery with HMAC-SHA256, keyed by the subscription's `signature_key` (returned
hex-encoded when the webhook subscription is created, and used hex-decoded), over the timestamp
header followed directly by the raw body, and sends the hex digest in `close-sig-hash`. This
is how independent public implementations verify Close webhooks (thermondo/closeio
`closeio/contrib/django/utils.py`, whose test vector the tests reproduce, citing the "Webhook
signatures" section of Close's API docs); the payload shape is from developer.close.com. The
timestamp is unix seconds; Close documents no window, so bridge applies one (300 s by default)
in both directions.

The body is `{"subscription_id", "event": {...}}`, the event being the Event Log entry: its
`id` (`ev_...`) is the dedupe id, `object_type` + "." + `action` the type
(`opportunity.updated`), `date_created` (UTC, written without a zone) the time.
"""

from __future__ import annotations

from functools import cached_property
from typing import Literal

from pydantic import Field, field_validator

from bridge.sources import signing
from bridge.sources.base import (
    InboundRequest,
    MalformedPayload,
    SignedRequest,
    VerificationFailed,
)
from bridge.sources.timestamped import SignedParts, TimestampedHmacSource, TimestampedOptions
from bridge.utilities.numbers import ascii_int
from bridge.utilities.times import sender_time
from bridge.vocabulary.model import Event
from bridge.vocabulary.secrets import Secret, SecretList

SIGNATURE_HEADER = "close-sig-hash"
TIMESTAMP_HEADER = "close-sig-timestamp"


class CloseOptions(TimestampedOptions):
    kind: Literal["close"]
    secret: SecretList = Field(
        description="The subscription's hex signature_key reference(s); several during a change."
    )

    @field_validator("secret")
    @classmethod
    def _hex_keys(cls, secrets: list[Secret]) -> list[Secret]:
        for secret in secrets:
            for value in secret.values():
                try:
                    bytes.fromhex(value)
                except ValueError:
                    raise ValueError(
                        f"${{{secret.env_var}}} must hold the hex signature_key that Close returns"
                        " when the webhook subscription is created"
                    ) from None
        return secrets


class CloseSource(TimestampedHmacSource):
    kind = "close"
    options_model = CloseOptions
    signature_encoding = "hex"
    mismatch = "close-sig-hash does not match: check the signature_key"
    headers_read = (SIGNATURE_HEADER, TIMESTAMP_HEADER)

    @cached_property
    def keys(self) -> tuple[bytes, ...]:
        """Close keys with the hex-decoded `signature_key`."""
        return tuple(bytes.fromhex(value) for ref in self.secrets for value in ref.values())

    def signed_parts(self, request: InboundRequest) -> SignedParts:
        header = (request.headers.get(SIGNATURE_HEADER) or "").strip()
        stamp = (request.headers.get(TIMESTAMP_HEADER) or "").strip()
        if not header:
            raise VerificationFailed("missing close-sig-hash header")
        if not stamp:
            raise VerificationFailed("missing close-sig-timestamp header")
        seconds = ascii_int(stamp)
        if seconds is None:
            raise VerificationFailed("close-sig-timestamp is not unix seconds")
        return SignedParts(seconds, stamp.encode() + request.body, [header])

    def sign(self, body: bytes, url: str, now: float) -> SignedRequest:
        stamp = str(int(now))
        mac = signing.digest("sha256", self.signing_key(), stamp.encode() + body)
        return SignedRequest({"close-sig-hash": mac.hex(), "close-sig-timestamp": stamp})

    def parse(self, body: bytes) -> list[Event]:
        payload = signing.json_object(body, "Close")
        event = payload.get("event")
        if not isinstance(event, dict):
            raise MalformedPayload("a Close webhook body has an 'event' object")
        event_id = signing.required_text(event.get("id"), "Close event has no 'id'")
        object_type = signing.required_text(
            event.get("object_type"), "Close event has no 'object_type'"
        )
        action = signing.required_text(event.get("action"), "Close event has no 'action'")
        occurred_at = sender_time(event.get("date_created"), unzoned_utc=True)
        return [self.event(event_id, f"{object_type}.{action}", payload, body, occurred_at)]
