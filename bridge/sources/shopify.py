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
envelope (`bridge.sources.body_hmac`): replaying a stored event then gives back the same id and
topic.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from bridge.sources import signing
from bridge.sources.base import InboundRequest, MalformedPayload, SignedOptions
from bridge.sources.body_hmac import BodyHmacSource, enveloped, opened
from bridge.utilities.times import sender_time
from bridge.vocabulary.model import Event

HMAC_HEADERS = ("x-shopify-hmac-sha256", "shopify-hmac-sha256")
TOPIC_HEADERS = ("x-shopify-topic", "shopify-topic")
EVENT_ID_HEADERS = ("x-shopify-event-id", "shopify-event-id")
WEBHOOK_ID_HEADERS = ("x-shopify-webhook-id", "shopify-webhook-id")
TRIGGERED_AT_HEADERS = ("x-shopify-triggered-at", "shopify-triggered-at")
ENVELOPE = "bridge.shopify/1"
"""Marks a stored event (headers kept with the body) apart from a plain body for `bridge try`."""


class ShopifyOptions(SignedOptions):
    """`secret`: the app's client secret(s); a variable may hold new,old during rotation."""

    kind: Literal["shopify"]
    try_topic: str = Field("orders/paid", min_length=1)
    """The topic `bridge try` assumes: a body file does not carry the topic header."""


class ShopifySource(BodyHmacSource):
    kind = "shopify"
    options_model = ShopifyOptions
    options: ShopifyOptions
    signature_header = "X-Shopify-Hmac-Sha256"
    signature_headers = HMAC_HEADERS
    signature_encoding = "base64"
    mismatch = (
        "X-Shopify-Hmac-Sha256 does not match the body: check the app's client secret"
        " (webhooks created in the shop admin are signed with the key shown there)"
    )
    event_type_header = "X-Shopify-Topic"
    event_id_header = "X-Shopify-Event-Id"
    headers_read = (
        *HMAC_HEADERS,
        *TOPIC_HEADERS,
        *EVENT_ID_HEADERS,
        *WEBHOOK_ID_HEADERS,
        *TRIGGERED_AT_HEADERS,
    )

    def verify(self, request: InboundRequest) -> list[Event]:
        headers = {name.lower(): value for name, value in request.headers.items()}
        self.check_signature(headers, request.body)
        return self._received(headers, request.body)

    def parse_received(self, body: bytes, headers: Mapping[str, str]) -> list[Event]:
        lowered = {name.lower(): value for name, value in headers.items()}
        if first_header(lowered, TOPIC_HEADERS) is None:
            return self.parse(body)
        return self._received(lowered, body)

    def _received(self, headers: dict[str, str], body: bytes) -> list[Event]:
        topic = first_header(headers, TOPIC_HEADERS)
        if topic is None:
            raise MalformedPayload("missing X-Shopify-Topic header")
        payload = signing.json_object(body, "Shopify")
        delivery = (
            first_header(headers, EVENT_ID_HEADERS)
            or first_header(headers, WEBHOOK_ID_HEADERS)
            or signing.body_digest(body)
        )
        triggered_at = first_header(headers, TRIGGERED_AT_HEADERS)
        return [self._event(f"{topic}:{delivery}", topic, payload, body, triggered_at)]

    def announced(self, body: bytes) -> dict[str, str]:
        """`try_topic` as the topic and a fresh event id, as a new delivery would carry."""
        return {"X-Shopify-Topic": self.options.try_topic, "X-Shopify-Event-Id": str(uuid.uuid4())}

    def body_time(self, event: Event) -> datetime | None:
        """`updated_at` of the signed body; `X-Shopify-Triggered-At` is a header, not signed."""
        return _signed_time(event.payload)

    def parse(self, body: bytes) -> list[Event]:
        document = signing.json_object(body, "Shopify")
        stored = opened(document, ENVELOPE, "Shopify")
        if stored is not None:
            headers, raw, payload = stored
            event_id, topic = str(headers.get("event_id")), str(headers.get("topic"))
            return [self._event(event_id, topic, payload, raw, headers.get("triggered_at"))]
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
        headers = {"event_id": event_id, "topic": topic, "triggered_at": triggered_at}
        return self.event(event_id, topic, payload, enveloped(ENVELOPE, headers, body), occurred)


def _signed_time(payload: dict[str, Any]) -> datetime | None:
    return sender_time(payload.get("updated_at")) or sender_time(payload.get("created_at"))


def first_header(headers: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    """The first of `names` present with a non-blank value, stripped."""
    for name in names:
        value = (headers.get(name) or "").strip()
        if value:
            return value
    return None
