"""WooCommerce webhooks: `X-WC-Webhook-Signature` = base64(HMAC-SHA256(secret, raw body)).

From woocommerce/woocommerce `plugins/woocommerce/includes/class-wc-webhook.php`: `deliver()`
signs the JSON body with the webhook's secret after `wp_specialchars_decode(..., ENT_QUOTES)`
(so a secret saved with `&` is keyed as `&`, whether it was stored as `&amp;` or not; both
forms are tried) and sends the topic (`order.updated`) in `X-WC-Webhook-Topic`.
`deliver_ping()` posts an unsigned form body `webhook_id=<id>` when a webhook is saved and needs
exactly 200: it is answered with nothing stored. WooCommerce never retries a delivery; it
disables the webhook after more than five failures in a row.

`X-WC-Webhook-Delivery-ID` is `wp_hash(webhook id . current unix second)`: it changes between
two sends of the same order and is shared by different orders sent in the same second, so it
cannot be the dedupe id. The dedupe id is the topic, the resource id and the sha256 of the body:
the body is rebuilt from the order when it is sent, so the same order state is the same id,
and any change (status, `date_modified`) is a new event.

The topic travels in a header, so each event keeps it next to the body in a small JSON envelope
(`bridge.sources.body_hmac`): replaying a stored event then gives back the same id and topic.
The signature does not cover that header: rules check the signed order (`status`,
`date_paid_gmt`), and the order's own `date_modified_gmt` bounds replays once the dedupe id is
purged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cached_property
from typing import Any, Literal

from pydantic import Field

from bridge.sources import signing
from bridge.sources.base import InboundRequest, MalformedPayload, SignedOptions
from bridge.sources.body_hmac import BodyHmacSource, enveloped, opened
from bridge.utilities.times import sender_time
from bridge.vocabulary.model import Event

SIGNATURE_HEADER = "x-wc-webhook-signature"
TOPIC_HEADER = "x-wc-webhook-topic"
RESOURCE_HEADER = "x-wc-webhook-resource"
EVENT_HEADER = "x-wc-webhook-event"
PING = re.compile(rb"webhook_id=\d+")
ENVELOPE = "bridge.woocommerce/1"
"""Marks a stored event (topic kept with the body) apart from a plain body for `bridge try`."""

# What WordPress's wp_specialchars_decode(..., ENT_QUOTES) turns back into characters.
_SPECIAL_CHARS = {
    "&amp;": "&",
    "&#038;": "&",
    "&#x26;": "&",
    "&lt;": "<",
    "&#060;": "<",
    "&gt;": ">",
    "&#062;": ">",
    "&quot;": '"',
    "&#034;": '"',
    "&#x22;": '"',
    "&#039;": "'",
    "&#x27;": "'",
}
_SPECIAL_CHAR = re.compile("|".join(re.escape(entity) for entity in _SPECIAL_CHARS), re.I)


class WooCommerceOptions(SignedOptions):
    """`secret`: the webhook's secret(s); a variable may hold new,old during rotation."""

    kind: Literal["woocommerce"]
    try_topic: str = Field("order.updated", min_length=1)
    """The topic `bridge try` assumes: a body file does not carry the topic header."""


class WooCommerceSource(BodyHmacSource):
    kind = "woocommerce"
    options_model = WooCommerceOptions
    options: WooCommerceOptions
    signature_header = "X-WC-Webhook-Signature"
    signature_headers = (SIGNATURE_HEADER,)
    signature_encoding = "base64"
    mismatch = (
        "X-WC-Webhook-Signature does not match the body: check the webhook's secret"
        " (WooCommerce > Settings > Advanced > Webhooks)"
    )
    event_type_header = "X-WC-Webhook-Topic"
    event_id_header = "X-WC-Webhook-Topic"  # the dedupe id starts with the topic
    headers_read = (SIGNATURE_HEADER, TOPIC_HEADER, RESOURCE_HEADER, EVENT_HEADER)

    def verify(self, request: InboundRequest) -> list[Event]:
        headers = {name.lower(): value.strip() for name, value in request.headers.items()}
        if not headers.get(SIGNATURE_HEADER) and PING.fullmatch(request.body.strip()):
            return []  # the unsigned ping WooCommerce sends when a webhook is saved
        self.check_signature(headers, request.body)
        topic = headers.get(TOPIC_HEADER) or _topic_from(headers)
        if not topic:
            raise MalformedPayload("missing X-WC-Webhook-Topic header")
        return [self._event(topic, signing.json_object(request.body, "WooCommerce"), request.body)]

    def parse_received(self, body: bytes, headers: Mapping[str, str]) -> list[Event]:
        lowered = {name.lower(): value.strip() for name, value in headers.items()}
        topic = lowered.get(TOPIC_HEADER) or _topic_from(lowered)
        if not topic:
            return self.parse(body)
        return [self._event(topic, signing.json_object(body, "WooCommerce"), body)]

    def parse(self, body: bytes) -> list[Event]:
        document = signing.json_object(body, "WooCommerce")
        stored = opened(document, ENVELOPE, "WooCommerce")
        if stored is not None:
            headers, raw, payload = stored
            return [self._event(str(headers.get("topic")), payload, raw)]
        return [self._event(self.options.try_topic, document, body)]

    def announced(self, body: bytes) -> dict[str, str]:
        """`try_topic` as the topic: a payload file does not say which it was sent under."""
        return {"X-WC-Webhook-Topic": self.options.try_topic}

    @cached_property
    def keys(self) -> tuple[bytes, ...]:
        """Each secret as saved and as WordPress decodes it (`&amp;` keyed as `&`)."""
        keys: list[bytes] = []
        for value in (value for ref in self.secrets for value in ref.values()):
            for key in (value, _SPECIAL_CHAR.sub(lambda m: _SPECIAL_CHARS[m[0].lower()], value)):
                if key.encode() not in keys:
                    keys.append(key.encode())
        return tuple(keys)

    def _event(self, topic: str, payload: dict[str, Any], body: bytes) -> Event:
        resource_id = payload.get("id")
        digest = signing.body_digest(body)
        event_id = f"{topic}:{resource_id}:{digest}" if resource_id is not None else digest
        # REST API `*_gmt` times are ISO 8601 in UTC without an offset (`2026-03-04T10:15:00`).
        occurred = sender_time(payload.get("date_modified_gmt"), unzoned_utc=True) or sender_time(
            payload.get("date_created_gmt"), unzoned_utc=True
        )
        raw = enveloped(ENVELOPE, {"topic": topic}, body)
        return self.event(event_id, topic, payload, raw, occurred)


def _topic_from(headers: dict[str, str]) -> str:
    """`order.updated` from `X-WC-Webhook-Resource` and `-Event` when the topic is filtered out."""
    resource, event = headers.get(RESOURCE_HEADER), headers.get(EVENT_HEADER)
    return f"{resource}.{event}" if resource and event else ""
