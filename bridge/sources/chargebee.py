"""Chargebee webhooks: HTTP Basic credentials, then the event object.

Chargebee signs nothing. A webhook endpoint with "Protect webhook URL with basic authentication"
sends the username and password chosen there as HTTP Basic credentials, which is what bridge
checks (`bridge.sources.basic_auth`; Chargebee's own SDK checks the same way:
chargebee/chargebee-node `src/resources/webhook/auth.ts`). Chargebee's published IP addresses
are a matter for network policy, not for this module.

The body is the Event resource: `id` (`ev_...`, the dedupe id; Chargebee warns that webhooks may
be duplicated and arrive out of order), `event_type` (`payment_succeeded`, `invoice_generated`,
...), `occurred_at` (unix seconds) and `content` with the objects involved (`transaction`,
`invoice`, `subscription`, `customer`), whose amounts are integer minor units beside a
`currency_code`.
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


class ChargebeeOptions(SourceOptions):
    kind: Literal["chargebee"]
    credentials: CredentialList = Field(
        min_length=1,
        description="The webhook's basic-authentication username / password, as ${VAR}s.",
    )


class ChargebeeSource(Source):
    kind = "chargebee"
    replays_bounded_by_body_time = True
    options_model = ChargebeeOptions
    options: ChargebeeOptions

    @property
    def secrets(self) -> list[Secret]:
        return secrets_of(self.options.credentials)

    @property
    def ready(self) -> bool:
        return any_usable(self.options.credentials)

    def challenge(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Basic realm="bridge chargebee", charset="UTF-8"'}

    def verify(self, request: InboundRequest) -> list[Event]:
        check_basic_auth(request.headers, self.options.credentials)
        return self.parse(request.body)

    def parse(self, body: bytes) -> list[Event]:
        payload = signing.json_object(body, "Chargebee")
        event_id, event_type = payload.get("id"), payload.get("event_type")
        if not isinstance(event_id, str) or not event_id:
            raise MalformedPayload("Chargebee event has no 'id'")
        if not isinstance(event_type, str) or not event_type:
            raise MalformedPayload("Chargebee event has no 'event_type'")
        return [
            Event(
                source=self.name,
                event_id=event_id,
                type=event_type,
                payload=payload,
                raw=body,
                occurred_at=sender_time(payload.get("occurred_at")),
            )
        ]
