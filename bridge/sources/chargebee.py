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

from bridge.sources import signing
from bridge.sources.basic_auth import BasicAuthOptions, BasicAuthSource
from bridge.utilities.times import sender_time
from bridge.vocabulary.model import Event


class ChargebeeOptions(BasicAuthOptions):
    """`credentials`: the username / password of "Protect webhook URL with basic authentication"."""

    kind: Literal["chargebee"]


class ChargebeeSource(BasicAuthSource):
    kind = "chargebee"
    options_model = ChargebeeOptions

    def parse(self, body: bytes) -> list[Event]:
        payload = signing.json_object(body, "Chargebee")
        event_id = signing.required_text(payload.get("id"), "Chargebee event has no 'id'")
        event_type = signing.required_text(
            payload.get("event_type"), "Chargebee event has no 'event_type'"
        )
        occurred_at = sender_time(payload.get("occurred_at"))
        return [self.event(event_id, event_type, payload, body, occurred_at)]
