"""Stripe webhooks: `Stripe-Signature` checked over the raw bytes, as the `stripe` library does.

Stripe signs `"{t}.{body}"` with HMAC-SHA256 keyed by the whole `whsec_...` string. During a
secret roll Stripe sends one `v1=` per active secret, and we may hold several secrets ourselves,
so any (secret, signature) pair that matches is enough. The library only rejects timestamps that
are too old; a timestamp further in the future than the tolerance is refused here as well.
Stripe's dedupe id is the event id (`evt_...`).

A genuine event is accepted by one HMAC over the bytes, reading the header exactly as
`stripe.WebhookSignature.verify_header` reads it (tests/sources/test_stripe.py checks the two
agree on generated headers). The library costs twice as much per webhook (it decodes, formats
and encodes the body again), and for a body of 2 KB or more it hashes with the GIL let go,
which breaks up the store's group commits (`bridge.sources.signing`). Anything the fast check
does not accept goes to the library, whose verdict and message stand.
"""

from __future__ import annotations

import hmac
import time
from functools import cached_property
from typing import Literal

import stripe

from bridge.sources import signing
from bridge.sources.base import (
    InboundRequest,
    MalformedPayload,
    SignedRequest,
    SignedSource,
    VerificationFailed,
)
from bridge.sources.timestamped import TimestampedOptions
from bridge.utilities.safe_text import clipped
from bridge.utilities.times import sender_time
from bridge.vocabulary.model import Event

SIGNATURE_HEADER = "stripe-signature"


class StripeOptions(TimestampedOptions):
    kind: Literal["stripe"]


class StripeSource(SignedSource):
    kind = "stripe"
    options_model = StripeOptions
    options: StripeOptions
    headers_read = (SIGNATURE_HEADER,)

    @cached_property
    def _secret_values(self) -> tuple[str, ...]:
        """Every secret's values, read once (as `ready` is: secrets are read when mappings load)."""
        return tuple(value for ref in self.secrets for value in ref.values())

    @cached_property
    def keys(self) -> tuple[bytes, ...]:
        """The HMAC keys: each secret as UTF-8, leaving out blank ones as the library does."""
        return tuple(v.encode() for v in self._secret_values if v.strip(" \t\r\n\f\v"))

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
        if not self._genuine(request.body, header):
            self._check_signature(text, header)
        return self.parse(request.body)

    def sign(self, body: bytes, url: str, now: float) -> SignedRequest:
        """`Stripe-Signature` as the `stripe` library's own helper writes it."""
        secret = self.signing_value()
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedPayload("body is not UTF-8, so it cannot be a Stripe event") from None
        header = stripe.WebhookSignature.generate_signature_header(text, secret, timestamp=int(now))
        return SignedRequest({"Stripe-Signature": header})

    def _genuine(self, body: bytes, header: str) -> bool:
        """True when a `v1` signature matches and the timestamp is within the tolerance."""
        signed = _read_signature_header(header)
        if signed is None:
            return False
        timestamp, signatures = signed
        tolerance, now = self.options.tolerance_seconds, time.time()
        if not signatures or not now - tolerance <= timestamp <= now + tolerance:
            return False
        message = b"%d." % timestamp + body
        for key in self.keys:
            expected = signing.digest("sha256", key, message).hex()
            if any(hmac.compare_digest(expected, signature) for signature in signatures):
                return True
        return False

    def _check_signature(self, text: str, header: str) -> None:
        """The library's verdict on what `_genuine` did not accept, with its own message."""
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
        payload = signing.json_object(body, "Stripe")
        event_id = signing.required_text(payload.get("id"), "Stripe event has no 'id'")
        event_type = signing.required_text(payload.get("type"), "Stripe event has no 'type'")
        return [
            self.event(event_id, event_type, payload, body, sender_time(payload.get("created")))
        ]


def _read_signature_header(header: str) -> tuple[int, list[str]] | None:
    """The timestamp and `v1` signatures of `Stripe-Signature`, read as the library reads them
    (`WebhookSignature._get_timestamp_and_signatures`): the first item keyed `t`, every item
    keyed `v1`. None where the library could not read it."""
    try:
        items = [item.split("=", 2) for item in header.split(",")]
        stamps = [item[1] for item in items if item[0] == "t"]  # every `t` needs a value
        timestamp = int(stamps[0])
        signatures = [item[1] for item in items if item[0] == "v1"]
    except (IndexError, ValueError):
        return None
    return timestamp, signatures


def _refuse_future_timestamp(header: str, tolerance: int) -> None:
    """The library accepts any future `t=`; one from the far future is a replay risk. The
    timestamp is the one the library checked."""
    signed = _read_signature_header(header)
    if signed is not None and signed[0] > time.time() + tolerance:
        raise VerificationFailed(
            f"Timestamp outside the tolerance zone ({clipped(str(signed[0]))})"
        )


def _most_telling(failures: list[str]) -> str:
    """With several secrets, a stale-but-valid signature explains more than a mismatch."""
    for message in failures:
        if "tolerance" in message:
            return message
    return failures[0] if failures else "no webhook secret is available to verify with"
