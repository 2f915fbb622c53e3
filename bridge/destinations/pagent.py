"""pagent server-side conversions (`/v1/conversions`, `/v2/conversions`, `/v2/conversions/bulk`).

Wire facts from pagent's documentation: Bearer API key; 1 to 100 events per batch request;
`conversion_id` is the goal UUID from `_pgnt.variables()`; `revenue` is an integer in the
currency's minor unit (cents); `time` is unix milliseconds; `properties` is an object or an array.
pagent has no currency field and no documented dedupe key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import orjson
from pydantic import Field

from bridge.destinations.base import (
    DEFAULT_USER_AGENT,
    Destination,
    DestinationOptions,
    VendorRequest,
    shown_secret,
)
from bridge.destinations.fields import VendorField, identifier
from bridge.utilities.times import unix_ms
from bridge.vocabulary.model import Conversion
from bridge.vocabulary.secrets import EnvStr, Secret

PAGENT_BATCH_LIMIT = 100

VISIT_ID = VendorField("visit_id", identifier)
"""The visit of pagent's session (v2's `session_data.visit_id`)."""
LABEL = VendorField("label", identifier)
"""The goal's label, as named in pagent (`label`)."""

PATHS = {
    "v1": "/v1/conversions",
    "v2": "/v2/conversions",
    "v2-bulk": "/v2/conversions/bulk",
}


class PagentOptions(DestinationOptions):
    vendor: Literal["pagent"]
    api: Literal["v1", "v2", "v2-bulk"] = "v1"
    base_url: EnvStr = "https://ingest.pagent.ai"
    api_key: Secret
    batch_size: int = Field(PAGENT_BATCH_LIMIT, ge=1, le=PAGENT_BATCH_LIMIT)


class PagentDestination(Destination):
    vendor = "pagent"
    options_model = PagentOptions
    extra_fields = (VISIT_ID, LABEL)
    options: PagentOptions

    @property
    def required_fields(self) -> frozenset[str]:
        return frozenset({"session_id", "user_id", "goal_id"})

    @property
    def secrets(self) -> list[Secret]:
        return [self.options.api_key]

    @property
    def max_batch(self) -> int:
        return 1 if self.options.api == "v2" else self.options.batch_size

    def requests(self, conversions: Sequence[Conversion]) -> list[VendorRequest]:
        api = self.options.api
        if api == "v2":
            return [self._request(_v2_event(c), (index,)) for index, c in enumerate(conversions)]
        encode = _v1_event if api == "v1" else _v2_event
        size = self.max_batch
        return [
            self._request(
                {"events": [encode(c) for c in conversions[start : start + size]]},
                tuple(range(start, min(start + size, len(conversions)))),
            )
            for start in range(0, len(conversions), size)
        ]

    def _request(self, body: dict[str, Any], items: tuple[int, ...]) -> VendorRequest:
        key = self.options.api_key
        return VendorRequest(
            method="POST",
            url=self.options.base_url.rstrip("/") + PATHS[self.options.api],
            headers={
                "Authorization": f"Bearer {key.reveal() or ''}",
                "Content-Type": "application/json",
                "User-Agent": DEFAULT_USER_AGENT,
            },
            body=orjson.dumps(body),
            items=items,
            shown_headers={"Authorization": f"Bearer {shown_secret(key)}"},
        )


def _v1_event(conversion: Conversion) -> dict[str, Any]:
    event: dict[str, Any] = {
        "session_id": conversion.session_id,
        "user_id": conversion.user_id,
        "conversion_id": conversion.goal_id,
    }
    event.update(_details(conversion))
    return event


def _v2_event(conversion: Conversion) -> dict[str, Any]:
    session: dict[str, Any] = {
        "session_id": conversion.session_id,
        "user_id": conversion.user_id,
    }
    visit_id = VISIT_ID.of(conversion)
    if visit_id is not None:
        session["visit_id"] = visit_id
    session["conversion_id"] = conversion.goal_id
    return {"session_data": session, **_details(conversion)}


def _details(conversion: Conversion) -> dict[str, Any]:
    details: dict[str, Any] = {}
    label = LABEL.of(conversion)
    if label is not None:
        details["label"] = label
    if conversion.revenue is not None:
        details["revenue"] = conversion.revenue.minor
    if conversion.properties is not None:
        details["properties"] = conversion.properties
    details["time"] = unix_ms(conversion.occurred_at)
    return details
