"""Pipedrive webhooks v2: HTTP Basic credentials, then the `meta` / `data` / `previous` body.

Pipedrive signs nothing. A webhook created with `http_auth_user` and `http_auth_password`
(Pipedrive's "Guide for Webhooks v2"; `POST /v1/webhooks`) carries them as HTTP Basic
credentials, which is what bridge checks (`bridge.sources.basic_auth`). A webhook without them
cannot be authenticated and is refused.

A v2 body is `{"meta": {...}, "data": {...}, "previous": {...} | null}`. `meta.id` is the
event's own id (a UUID, repeated on retries, which count up `meta.attempt`): the dedupe id.
The type is `meta.action` + "." + `meta.entity`, the way Pipedrive names its events
(`change.deal`, `create.person`). `meta.timestamp` is the event time. Webhooks v1 bodies
(`current`, `meta.object`) are refused with a message that says to create a v2 webhook.
"""

from __future__ import annotations

from typing import Literal

from bridge.sources import signing
from bridge.sources.base import MalformedPayload
from bridge.sources.basic_auth import BasicAuthOptions, BasicAuthSource
from bridge.utilities.times import sender_time
from bridge.vocabulary.model import Event


class PipedriveOptions(BasicAuthOptions):
    """`credentials`: the webhook's `http_auth_user` / `http_auth_password`."""

    kind: Literal["pipedrive"]


class PipedriveSource(BasicAuthSource):
    kind = "pipedrive"
    options_model = PipedriveOptions

    def parse(self, body: bytes) -> list[Event]:
        payload = signing.json_object(body, "Pipedrive")
        meta = payload.get("meta")
        if not isinstance(meta, dict):
            raise MalformedPayload("a Pipedrive webhook body has a 'meta' object")
        if "current" in payload or "object" in meta:
            raise MalformedPayload(
                "this is a Pipedrive webhooks v1 body; create the webhook with version 2.0"
            )
        event_id = signing.required_id(meta.get("id"), "Pipedrive webhook has no 'meta.id'")
        action = signing.required_text(meta.get("action"), "Pipedrive webhook has no 'meta.action'")
        entity = signing.required_text(meta.get("entity"), "Pipedrive webhook has no 'meta.entity'")
        occurred_at = sender_time(meta.get("timestamp"), unzoned_utc=True)
        return [self.event(event_id, f"{action}.{entity}", payload, body, occurred_at)]
