"""Shopify webhooks: `X-Shopify-Hmac-Sha256` over the raw bytes, in either header spelling.

Shopify signs the raw body with HMAC-SHA256 keyed by the app's client secret (webhooks created
in the shop admin are signed with the key shown there) and sends it base64-encoded
(Shopify/shopify-app-js `lib/webhooks/validate.ts`, `lib/utils/hmac-validator.ts`). Deliveries
of the newer Events system carry un-prefixed names (`shopify-hmac-sha256`, `shopify-topic`,
`shopify-event-id`, ...) next to the `X-Shopify-*` ones (`lib/webhooks/header-names.ts`); both
spellings are read. Several secrets may be configured, so the old and the new app secret both
verify while one is rotated (Shopify needs up to an hour to sign with a new secret).

Nothing in the signature is time-bound: a captured delivery verifies forever. The dedupe id
stops a replay: `X-Shopify-Event-Id`, which Shopify keeps on every duplicate of an event
(shopify.dev, "Ignore duplicate webhooks"); without it `X-Shopify-Webhook-Id`, then the body's
sha256. It is scoped by topic, since one shop event may be delivered under several topics. The
event type is the topic header (`orders/paid`). Topic and ids are headers, which the signature
does not cover: rules check signed body fields (`financial_status`), and the body's own time
(`updated_at`) bounds replays once the dedupe id is purged (`body_time`).

Topic and ids travel in headers, so each event keeps them next to the body in a small JSON
envelope: replaying a stored event then gives back the same id and topic.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

import orjson
from pydantic import Field

from bridge.sources import signing
from bridge.sources.base import (
    InboundRequest,
    MalformedPayload,
    Source,
    SourceOptions,
    VerificationFailed,
)
from bridge.utilities.times import sender_time
from bridge.vocabulary.model import Event
from bridge.vocabulary.secrets import Secret, SecretList

HMAC_HEADERS = ("x-shopify-hmac-sha256", "shopify-hmac-sha256")
TOPIC_HEADERS = ("x-shopify-topic", "shopify-topic")
EVENT_ID_HEADERS = ("x-shopify-event-id", "shopify-event-id")
WEBHOOK_ID_HEADERS = ("x-shopify-webhook-id", "shopify-webhook-id")
TRIGGERED_AT_HEADERS = ("x-shopify-triggered-at", "shopify-triggered-at")
ENVELOPE = "bridge.shopify/1"
"""Marks a stored event (headers kept with the body) apart from a plain body for `bridge try`."""


class ShopifyOptions(SourceOptions):
    kind: Literal["shopify"]
    secret: SecretList = Field(
        description="App client secret reference(s); a variable may hold new,old during rotation."
    )
    try_topic: str = Field("orders/paid", min_length=1)
    """The topic `bridge try` assumes: a body file does not carry the topic header."""


class ShopifySource(Source):
    kind = "shopify"
    replays_bounded_by_body_time = True
    options_model = ShopifyOptions
    options: ShopifyOptions

    @property
    def secrets(self) -> list[Secret]:
        return self.options.secret

    def verify(self, request: InboundRequest) -> list[Event]:
        headers = {name.lower(): value for name, value in request.headers.items()}
        provided = [headers.get(name, "").strip() for name in HMAC_HEADERS]
        if not any(provided):
            raise VerificationFailed("missing X-Shopify-Hmac-Sha256 header")
        keys = [value.encode() for ref in self.secrets for value in ref.values()]
        expected = [signing.digest("sha256", key, request.body) for key in keys]
        signatures = [signing.decode_signature(text, "base64") for text in provided if text]
        if not signing.any_match(expected, signatures):
            raise VerificationFailed(
                "X-Shopify-Hmac-Sha256 does not match the body: check the app's client secret"
                " (webhooks created in the shop admin are signed with the key shown there)"
            )
        topic = first_header(headers, TOPIC_HEADERS)
        if topic is None:
            raise MalformedPayload("missing X-Shopify-Topic header")
        payload = signing.json_object(request.body, "Shopify")
        delivery = (
            first_header(headers, EVENT_ID_HEADERS)
            or first_header(headers, WEBHOOK_ID_HEADERS)
            or signing.body_digest(request.body)
        )
        triggered_at = first_header(headers, TRIGGERED_AT_HEADERS)
        return [self._event(f"{topic}:{delivery}", topic, payload, request.body, triggered_at)]

    @property
    def event_type_header(self) -> str:
        return "X-Shopify-Topic"

    @property
    def event_id_header(self) -> str:
        return "X-Shopify-Event-Id"

    def body_time(self, event: Event) -> datetime | None:
        """`updated_at` of the signed body; `X-Shopify-Triggered-At` is a header, not signed."""
        return _signed_time(event.payload)

    def parse(self, body: bytes) -> list[Event]:
        document = signing.json_object(body, "Shopify")
        stored = document.get(ENVELOPE)
        if isinstance(stored, dict) and isinstance(document.get("body"), str):
            raw = document["body"].encode()
            payload = signing.json_object(raw, "Shopify")
            return [
                self._event(
                    str(stored.get("event_id")),
                    str(stored.get("topic")),
                    payload,
                    raw,
                    stored.get("triggered_at"),
                )
            ]
        topic = self.options.try_topic
        return [self._event(f"{topic}:{signing.body_digest(body)}", topic, document, body)]

    def _event(
        self,
        event_id: str,
        topic: str,
        payload: dict[str, Any],
        body: bytes,
        triggered_at: str | None = None,
    ) -> Event:
        # Shopify times are ISO 8601 with an offset (`2026-03-04T10:15:00-05:00`).
        occurred = sender_time(triggered_at) or _signed_time(payload)
        envelope = {
            ENVELOPE: {"event_id": event_id, "topic": topic, "triggered_at": triggered_at},
            "body": body.decode(),
        }
        return Event(
            source=self.name,
            event_id=event_id,
            type=topic,
            payload=payload,
            raw=orjson.dumps(envelope),
            occurred_at=occurred,
        )


def _signed_time(payload: dict[str, Any]) -> datetime | None:
    return sender_time(payload.get("updated_at")) or sender_time(payload.get("created_at"))


def first_header(headers: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    """The first of `names` present with a non-blank value, stripped."""
    for name in names:
        value = (headers.get(name) or "").strip()
        if value:
            return value
    return None
