"""Stripe webhooks: `Stripe-Signature` checked with the `stripe` library over the raw bytes.

Stripe signs `"{t}.{body}"` with HMAC-SHA256 keyed by the whole `whsec_...` string. During a
secret roll Stripe sends one `v1=` per active secret, and we may hold several secrets ourselves,
so any (secret, signature) pair that matches is enough. The library only rejects timestamps that
are too old; a timestamp further in the future than the tolerance is refused here as well.
Stripe's dedupe id is the event id (`evt_...`).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, Literal

import orjson
import stripe
from pydantic import Field

from bridge.model import Event
from bridge.secrets import Secret, SecretList
from bridge.sources.base import (
    InboundRequest,
    MalformedPayload,
    Source,
    SourceOptions,
    VerificationFailed,
)

SIGNATURE_HEADER = "stripe-signature"

# Stripe's own minor-unit conventions (docs.stripe.com/currencies). Everything else is
# two-decimal in Stripe's API, including ISK, which ISO 4217 counts in whole krónur.
STRIPE_ZERO_DECIMAL = frozenset(
    [
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "JPY",
        "KMF",
        "KRW",
        "MGA",
        "PYG",
        "RWF",
        "UGX",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    ]
)
STRIPE_THREE_DECIMAL = frozenset(["BHD", "JOD", "KWD", "OMR", "TND"])


def stripe_exponent(currency: str) -> int:
    """Decimals Stripe uses for `currency` in API amounts (which can differ from ISO 4217)."""
    code = currency.upper()
    if code in STRIPE_ZERO_DECIMAL:
        return 0
    if code in STRIPE_THREE_DECIMAL:
        return 3
    return 2


class StripeOptions(SourceOptions):
    kind: Literal["stripe"]
    secret: SecretList = Field(
        description="Signing secret reference(s); a variable may hold several, comma-separated."
    )
    tolerance_seconds: int = Field(300, ge=1, le=86_400)


class StripeSource(Source):
    kind = "stripe"
    options_model = StripeOptions
    options: StripeOptions

    @property
    def secrets(self) -> list[Secret]:
        return self.options.secret

    @cached_property
    def _secret_values(self) -> tuple[str, ...]:
        """Every secret's values, read once (as `ready` is: secrets are read when mappings load)."""
        return tuple(value for ref in self.secrets for value in ref.values())

    def verify(self, request: InboundRequest) -> list[Event]:
        header = request.headers.get(SIGNATURE_HEADER)
        if not header:
            raise VerificationFailed("missing Stripe-Signature header")
        if not header.isascii():  # Stripe's comparison would raise on it
            raise VerificationFailed("Stripe-Signature header is not ASCII")
        try:
            text = request.body.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedPayload("body is not UTF-8, so it cannot be a Stripe event") from None
        self._check_signature(text, header)
        return self.parse(request.body)

    def _check_signature(self, text: str, header: str) -> None:
        tolerance = self.options.tolerance_seconds
        failures: list[str] = []
        for secret in self._secret_values:
            try:
                stripe.WebhookSignature.verify_header(text, header, secret, tolerance=tolerance)
            except stripe.SignatureVerificationError as exc:
                failures.append(exc.user_message or "signature verification failed")
                continue
            _refuse_future_timestamp(header, tolerance)
            return
        raise VerificationFailed(_most_telling(failures))

    def parse(self, body: bytes) -> list[Event]:
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise MalformedPayload(f"body is not valid JSON: {exc}") from None
        if not isinstance(payload, dict):
            raise MalformedPayload("a Stripe event is a JSON object")
        event_id, event_type = payload.get("id"), payload.get("type")
        if not isinstance(event_id, str) or not event_id:
            raise MalformedPayload("Stripe event has no 'id'")
        if not isinstance(event_type, str) or not event_type:
            raise MalformedPayload("Stripe event has no 'type'")
        return [
            Event(
                source=self.name,
                event_id=event_id,
                type=event_type,
                payload=payload,
                raw=body,
                occurred_at=_created(payload.get("created")),
            )
        ]


def _refuse_future_timestamp(header: str, tolerance: int) -> None:
    """The library accepts any future `t=`; one from the far future is a replay risk. The
    timestamp is the one the library checked: the first item whose key is exactly `t`."""
    for item in header.split(","):
        if item.startswith("t="):
            value = item[2:].partition("=")[0]
            if value.isdigit() and int(value) > time.time() + tolerance:
                raise VerificationFailed(f"Timestamp outside the tolerance zone ({int(value)})")
            return


def _most_telling(failures: list[str]) -> str:
    """With several secrets, a stale-but-valid signature explains more than a mismatch."""
    for message in failures:
        if "tolerance" in message:
            return message
    return failures[0] if failures else "no webhook secret is available to verify with"


def _created(value: Any) -> datetime | None:
    """`created` is unix seconds on snapshot events and ISO 8601 on thin (v2) events."""
    try:
        if isinstance(value, int) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, UTC)
        if isinstance(value, str):
            return datetime.fromisoformat(value).astimezone(UTC)
    except (OverflowError, OSError, ValueError):  # outside what a datetime can hold
        return None
    return None
