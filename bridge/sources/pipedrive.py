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

from pydantic import Field

from bridge.sources import signing
from bridge.sources.base import InboundRequest, MalformedPayload, Source, SourceOptions
from bridge.sources.basic_auth import CredentialList, any_usable, check_basic_auth, secrets_of
from bridge.utilities.times import sender_time
from bridge.vocabulary.model import Event
from bridge.vocabulary.secrets import Secret


class PipedriveOptions(SourceOptions):
    kind: Literal["pipedrive"]
    credentials: CredentialList = Field(
        min_length=1,
        description="The webhook's http_auth_user / http_auth_password, as ${VAR} references.",
    )


class PipedriveSource(Source):
    kind = "pipedrive"
    replays_bounded_by_body_time = True
    options_model = PipedriveOptions
    options: PipedriveOptions

    @property
    def secrets(self) -> list[Secret]:
        return secrets_of(self.options.credentials)

    @property
    def ready(self) -> bool:
        return any_usable(self.options.credentials)

    def challenge(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Basic realm="bridge pipedrive", charset="UTF-8"'}

    def verify(self, request: InboundRequest) -> list[Event]:
        check_basic_auth(request.headers, self.options.credentials)
        return self.parse(request.body)

    def parse(self, body: bytes) -> list[Event]:
        payload = signing.json_object(body, "Pipedrive")
        meta = payload.get("meta")
        if not isinstance(meta, dict):
            raise MalformedPayload("a Pipedrive webhook body has a 'meta' object")
        if "current" in payload or "object" in meta:
            raise MalformedPayload(
                "this is a Pipedrive webhooks v1 body; create the webhook with version 2.0"
            )
        event_id = meta.get("id")
        if isinstance(event_id, bool) or not isinstance(event_id, str | int) or event_id == "":
            raise MalformedPayload("Pipedrive webhook has no 'meta.id'")
        action, entity = meta.get("action"), meta.get("entity")
        if not isinstance(action, str) or not action:
            raise MalformedPayload("Pipedrive webhook has no 'meta.action'")
        if not isinstance(entity, str) or not entity:
            raise MalformedPayload("Pipedrive webhook has no 'meta.entity'")
        return [
            Event(
                source=self.name,
                event_id=str(event_id),
                type=f"{action}.{entity}",
                payload=payload,
                raw=body,
                occurred_at=sender_time(meta.get("timestamp"), unzoned_utc=True),
            )
        ]
