"""Lemon Squeezy webhooks: `X-Signature` = hex(HMAC-SHA256(signing secret, raw body)).

From docs.lemonsqueezy.com ("Signing requests", "Webhook requests"): the signing secret is the
6 to 40 characters chosen when the webhook is created; `X-Event-Name` repeats the event name
that the signed body carries in `meta.event_name`; custom checkout data arrives in
`meta.custom_data`. Nothing in the signature is time-bound, and Lemon Squeezy documents no event
id, while it retries a failed delivery three times with the same body.

The dedupe id is therefore built from the signed body: event name, resource type, resource id
and the resource's `updated_at` (`order_created:orders:1:2026-03-04T10:15:00.000000Z`, prefixed
`test:` in test mode). A retry or a manual resend has the same one; two events about the same
object differ in name or in `updated_at`. A body without those parts falls back to its sha256.
`meta.webhook_id`, seen in some payloads, is not used: its meaning (per webhook, per event or per
delivery attempt) is not documented, and each reading would either merge distinct events or
miss retries.
"""

from __future__ import annotations

from typing import Any, Literal

from bridge.sources import signing
from bridge.sources.base import SignedOptions
from bridge.sources.body_hmac import BodyHmacSource
from bridge.utilities.times import sender_time
from bridge.vocabulary.model import Event

SIGNATURE_HEADER = "x-signature"


class LemonSqueezyOptions(SignedOptions):
    """`secret`: the webhook's signing secret(s); several while it is changed."""

    kind: Literal["lemonsqueezy"]


class LemonSqueezySource(BodyHmacSource):
    kind = "lemonsqueezy"
    options_model = LemonSqueezyOptions
    signature_header = "X-Signature"
    signature_headers = (SIGNATURE_HEADER,)
    signature_encoding = "hex"
    mismatch = "X-Signature does not match the body: check the signing secret"
    headers_read = signature_headers

    def announced(self, body: bytes) -> dict[str, str]:
        """`X-Event-Name` repeats the signed `meta.event_name`, as Lemon Squeezy sends it."""
        name = signing.value_at(signing.json_body(body), "meta.event_name")
        return {"X-Event-Name": name} if isinstance(name, str) else {}

    def parse(self, body: bytes) -> list[Event]:
        payload = signing.json_object(body, "Lemon Squeezy")
        meta = payload.get("meta")
        event_name = signing.required_text(
            meta.get("event_name") if isinstance(meta, dict) else None,
            "Lemon Squeezy webhook has no 'meta.event_name'",
        )
        data = payload.get("data")
        attributes = data.get("attributes") if isinstance(data, dict) else None
        attributes = attributes if isinstance(attributes, dict) else {}
        # ISO 8601 in UTC (`2026-03-04T10:15:00.000000Z`)
        occurred_at = sender_time(attributes.get("updated_at"), unzoned_utc=True) or sender_time(
            attributes.get("created_at"), unzoned_utc=True
        )
        return [self.event(dedupe_id(payload, body), event_name, payload, body, occurred_at)]


def dedupe_id(payload: dict[str, Any], body: bytes) -> str:
    """`[test:]event_name:data.type:data.id:data.attributes.updated_at`, else the body's sha256."""
    meta, data = payload.get("meta") or {}, payload.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("attributes"), dict):
        return signing.body_digest(body)
    parts = [meta.get("event_name"), data.get("type"), data.get("id")]
    parts.append(data["attributes"].get("updated_at"))
    if not all(isinstance(part, str | int) and part != "" for part in parts):
        return signing.body_digest(body)
    key = ":".join(str(part) for part in parts)
    return f"test:{key}" if meta.get("test_mode") is True else key
