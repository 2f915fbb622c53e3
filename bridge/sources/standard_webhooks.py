"""Standard Webhooks (and Svix, which it grew from), the scheme of the `standardwebhooks` library.

Spec 1.0.0 (github.com/standard-webhooks/standard-webhooks, spec/standard-webhooks.md): the
sender signs `"{webhook-id}.{webhook-timestamp}.{body}"` with HMAC-SHA256 keyed by the base64
after `whsec_`, and sends `webhook-signature: v1,<base64>`, a space-separated list while it
rotates its secret (other versions such as `v1a` are skipped). Svix sends the same values as
`svix-id`, `svix-timestamp`, `svix-signature`. The library decodes the secret; the signature is
computed here over the raw bytes with the GIL held (`bridge.sources.signing`: the library's
`sign` lets go of it for bodies of 2 KB or more, which breaks up the store's group commits), and
tests check it equals the library's `sign`. The comparison is constant-time over every (secret,
signature) pair, and the window is checked both ways here, with the libraries' five minutes as
the default tolerance (the library hard-codes it, so it cannot check a configured one itself).
The dedupe id is `webhook-id`, which the spec keeps the same on every retry. The body is
conventionally `{"type", "timestamp", "data"}`; where the type and the time live are options.
"""

from __future__ import annotations

import binascii
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cached_property
from typing import Literal

from pydantic import Field, field_validator
from standardwebhooks.webhooks import (
    EmptyWebhookSecretError,
    Webhook,
)

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

HEADERS = ("id", "timestamp", "signature")
PREFIXES = ("webhook-", "svix-")
_MAX_TIMESTAMP_DIGITS = 12


class StandardWebhooksOptions(TimestampedOptions):
    kind: Literal["standard-webhooks"]
    secret: SecretList = Field(
        description="`whsec_...` secret reference(s); a variable may hold several, comma-separated."
    )
    event_type: str = Field("type", min_length=1)
    """Dotted path to the event type in the body."""
    occurred_at: str | None = "timestamp"
    """Dotted path to the time the event happened (ISO 8601 with a zone, or unix seconds)."""

    @field_validator("secret")
    @classmethod
    def _usable(cls, secrets: list[Secret]) -> list[Secret]:
        """A secret the library cannot decode would refuse every webhook: say so at load time."""
        for secret in secrets:
            for value in secret.values():
                if _key(value) is None:
                    raise ValueError(
                        f"{secret.env_var} holds a value that is not a whsec_ secret"
                        " (base64 after the prefix)"
                    )
        return secrets


class StandardWebhooksSource(TimestampedHmacSource):
    kind = "standard-webhooks"
    options_model = StandardWebhooksOptions
    options: StandardWebhooksOptions
    signature_encoding = "base64"
    mismatch = "no signature in the webhook-signature header matches"
    headers_read = tuple(prefix + name for prefix in PREFIXES for name in HEADERS)

    @cached_property
    def keys(self) -> tuple[bytes, ...]:
        """The keys as the library derives them from the secrets (the base64 after `whsec_`)."""
        derived = (_key(value) for ref in self.secrets for value in ref.values())
        return tuple(key for key in derived if key is not None)

    def signed_parts(self, request: InboundRequest) -> SignedParts:
        headers = _signed_headers(request.headers)
        if len(headers) != len(HEADERS):
            raise VerificationFailed(
                "missing webhook-id, webhook-timestamp or webhook-signature header"
            )
        message_id, stamp = headers["id"], headers["timestamp"]
        timestamp = ascii_int(stamp, max_digits=_MAX_TIMESTAMP_DIGITS)
        if timestamp is None:
            raise VerificationFailed("webhook-timestamp is not a unix time in seconds")
        provided = _v1_signatures(headers["signature"])
        if not provided:
            raise VerificationFailed("no v1 signature in the webhook-signature header")
        try:
            request.body.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedPayload("body is not UTF-8, so it cannot be verified") from None
        signed = f"{message_id}.{timestamp}.".encode() + request.body
        return SignedParts(timestamp, signed, provided, event_id=message_id)

    def sign(self, body: bytes, url: str, now: float) -> SignedRequest:
        """Signed by the `standardwebhooks` library, under a fresh `webhook-id` (a new message)."""
        message_id = f"msg_{uuid.uuid4().hex}"
        moment = datetime.fromtimestamp(int(now), UTC)
        signature = Webhook(self.signing_value()).sign(message_id, moment, body)
        headers = {"webhook-id": message_id, "webhook-timestamp": str(int(now))}
        return SignedRequest({**headers, "webhook-signature": signature})

    def verify(self, request: InboundRequest) -> list[Event]:
        parts = self.authenticate(request)
        return self._events(request.body, parts.event_id or signing.body_digest(request.body))

    def parse(self, body: bytes) -> list[Event]:
        """Without headers there is no webhook-id: a payload file is identified by its hash."""
        return self._events(body, signing.body_digest(body))

    def _events(self, raw: bytes, event_id: str) -> list[Event]:
        payload = signing.json_object(raw, "Standard Webhooks")
        event_type = signing.required_text(
            signing.value_at(payload, self.options.event_type),
            f"no event type at {self.options.event_type!r}",
        )
        occurred_at = sender_time(signing.value_at(payload, self.options.occurred_at))
        return [self.event(event_id, event_type, payload, raw, occurred_at)]


def _signed_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """`id`, `timestamp` and `signature` from `webhook-*` headers, or from `svix-*` ones."""
    found: dict[str, str] = {}
    for name in HEADERS:
        for prefix in PREFIXES:
            value = (headers.get(prefix + name) or "").strip()
            if value:
                found[name] = value
                break
    return found


def _v1_signatures(header: str) -> list[str]:
    """Every `v1,<base64>` of the space-separated list; other versions are not ours to check."""
    return [
        signature
        for version, _, signature in (item.partition(",") for item in header.split())
        if version == "v1" and signature
    ]


def _key(secret: str) -> bytes | None:
    """The HMAC key as the library derives it from the secret (the base64 after `whsec_`)."""
    try:
        return Webhook(secret)._whsecret
    except (EmptyWebhookSecretError, binascii.Error, ValueError):
        return None
