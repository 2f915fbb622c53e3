"""Scanova server events (`POST /server-events`, `POST /server-events/batch`).

Wire facts from Scanova's API reference and guides: `X-API-Key` auth; `site_id`, `event_name`
(Scanova lower-cases it and replaces other characters with `_`: we do the same first, so a
retried event dedupes), `scan_session_id` (a UUID from the QR scan redirect; without it nothing
can be attributed; it is Scanova's own id, so it is sent exactly as the redirect wrote it, in
its case and with or without hyphens), `event_id` (Scanova dedupes on it: ours is a UUID
derived from the conversion's identity, the same on every retry), `event_time` (ISO 8601),
`conversion_value {amount (decimal major units), currency}`, `user_identifiers {email_hash,
external_id}` (never a raw email), `properties` (at most 10 KB serialised), `consent`.
Answers: 413 means "split into smaller batches"; 429 carries `Retry-After` (Scanova suggests
60 s without one); 422 is a validation error, permanent, its field errors kept.
The batch endpoint's body is `{"events": [...]}` of the same event objects; Scanova's public
reference does not spell it out, so the single-event endpoint is the default.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from typing import Any, Literal

import orjson
from pydantic import Field

from bridge.destinations.base import (
    DEFAULT_USER_AGENT,
    Destination,
    DestinationOptions,
    VendorRequest,
    VendorResponse,
    shown_secret,
)
from bridge.destinations.fields import VendorField, identifier, sha256_hex
from bridge.destinations.verdicts import Retry, Verdict, classify_http
from bridge.vocabulary.model import Conversion
from bridge.vocabulary.secrets import EnvStr, Secret

EXTERNAL_ID = VendorField("external_id", identifier)
"""Your own id of the user (`user_identifiers.external_id`)."""
EMAIL_SHA256 = VendorField("email_sha256", sha256_hex)
"""The user's email, hashed by `sha256_email()` (`user_identifiers.email_hash`)."""

MAX_PROPERTIES_BYTES = 10 * 1024
NO_RETRY_AFTER_SECONDS = 60.0
EVENT_ID_NAMESPACE = uuid.UUID("6f1c3a52-9b7e-5d40-8c2a-5ca70a5e0e01")
_NOT_NAME = re.compile(r"[^a-z0-9]+")
_EMAIL = re.compile(r"[^@\s\"']+@[^@\s\"']+\.[A-Za-z]{2,}")
_UUID = re.compile(
    r"[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE
)
"""A UUID as an id is written: 32 hex digits, or hyphenated 8-4-4-4-12, in either case."""


class ScanovaOptions(DestinationOptions):
    vendor: Literal["scanova"]
    base_url: EnvStr = "https://track.scanova.io"
    site_id: EnvStr = Field(min_length=1, max_length=64)
    api_key: Secret
    batch_size: int = Field(1, ge=1, le=1000)
    """1 sends each event to /server-events; more sends batches to /server-events/batch."""


class ScanovaDestination(Destination):
    vendor = "scanova"
    options_model = ScanovaOptions
    extra_fields = (EXTERNAL_ID, EMAIL_SHA256)
    options: ScanovaOptions

    @property
    def required_fields(self) -> frozenset[str]:
        return frozenset({"session_id", "event_name"})

    @property
    def secrets(self) -> list[Secret]:
        return [self.options.api_key]

    @property
    def max_batch(self) -> int:
        return self.options.batch_size

    def validate_field(self, field: str, value: Any) -> str | None:
        if field == "session_id" and not _UUID.fullmatch(str(value)):
            return "Scanova's scan_session_id must be a UUID (from the QR scan redirect)"
        if field == "event_name" and not 1 <= len(event_name(value)) <= 64:
            return "Scanova's event_name must have 1 to 64 letters, digits or underscores"
        if field == "properties":
            serialised = orjson.dumps(value)
            if len(serialised) > MAX_PROPERTIES_BYTES:
                return (
                    f"Scanova accepts at most {MAX_PROPERTIES_BYTES} bytes of properties,"
                    f" got {len(serialised)}"
                )
            if _EMAIL.search(serialised.decode()):
                return "Scanova refuses raw email addresses in properties: hash them (sha256_email)"
        return None

    def requests(self, conversions: Sequence[Conversion]) -> list[VendorRequest]:
        if self.options.batch_size == 1:
            return [
                self._request("/server-events", self.event(c), (i,))
                for i, c in enumerate(conversions)
            ]
        size = self.options.batch_size
        return [
            self._request(
                "/server-events/batch",
                {"events": [self.event(c) for c in conversions[start : start + size]]},
                tuple(range(start, min(start + size, len(conversions)))),
            )
            for start in range(0, len(conversions), size)
        ]

    def event(self, conversion: Conversion) -> dict[str, Any]:
        event: dict[str, Any] = {
            "site_id": self.options.site_id,
            "event_name": event_name(conversion.event_name or ""),
            "scan_session_id": conversion.session_id,
            "event_id": str(
                uuid.uuid5(EVENT_ID_NAMESPACE, f"{self.name}:{conversion.dedupe_key()}")
            ),
            "event_time": conversion.occurred_at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        }
        if conversion.revenue is not None:
            event["conversion_value"] = {
                "amount": orjson.Fragment(conversion.revenue.major_text().encode()),
                "currency": conversion.revenue.currency,
            }
        identifiers = {
            "email_hash": EMAIL_SHA256.of(conversion),
            "external_id": EXTERNAL_ID.of(conversion),
        }
        identifiers = {key: value for key, value in identifiers.items() if value is not None}
        if identifiers:
            event["user_identifiers"] = identifiers
        if conversion.properties is not None:
            event["properties"] = conversion.properties
        if conversion.consent is not None:
            event["consent"] = conversion.consent
        return event

    def _request(self, path: str, body: dict[str, Any], items: tuple[int, ...]) -> VendorRequest:
        key = self.options.api_key
        return VendorRequest(
            method="POST",
            url=self.options.base_url.rstrip("/") + path,
            headers={
                "X-API-Key": key.reveal() or "",
                "Content-Type": "application/json",
                "User-Agent": DEFAULT_USER_AGENT,
            },
            body=orjson.dumps(body),
            items=items,
            shown_headers={"X-API-Key": shown_secret(key)},
        )

    def classify(self, request: VendorRequest, response: VendorResponse) -> list[Verdict]:
        verdict = classify_http(response.status, response.headers, response.text())
        if response.status == 429 and isinstance(verdict, Retry) and verdict.after_seconds is None:
            verdict = Retry(verdict.reason, verdict.status, NO_RETRY_AFTER_SECONDS)
        return [verdict] * len(request.items)


def event_name(value: Any) -> str:
    """Scanova's own normalisation: lower case, runs of other characters become `_`."""
    return _NOT_NAME.sub("_", str(value).lower()).strip("_")
