"""Convert Experiences Tracking API (`POST /v1/track/{account_id}/{project_id}` or `/{sdk_key}`).

Wire facts from Convert's integration guide, its OpenAPI document and its SDKs:
- A bot filter runs before anything else: a request whose User-Agent does not start with
  `ConvertAgent/` is answered 200 and silently dropped. Every request here sends one.
- `Authorization: Bearer <secret>` only when the SDK key has a secret.
- Conversions of one visitor share one `visitors[]` entry; many visitors share a request.
- A conversion is an event `{"eventType": "conversion", "data": {"goalId", "bucketingData"}}`.
  Revenue goes the way the SDKs send it: a second conversion event of the same goal carrying
  `goalData` (`amount` as a decimal in major units, `productsCount`, `transactionId`,
  `customDimension1..5`).
- `segments`: Convert's SDKs keep only the documented keys. A key or code Convert does not
  know is left out and one written in another case or shape is normalised (`us` -> `US`), with
  a warning in the rule's result: one bad optional segment never costs the conversion. An empty
  value (the guide builds `country: ''` for an unknown country) is not sent.
- `sdk_key` is one segment of the path: percent-encoded.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal
from urllib.parse import quote

import orjson
from pydantic import Field, field_validator

from bridge import __version__
from bridge.destinations.base import (
    Adjusted,
    Destination,
    DestinationOptions,
    VendorRequest,
    shown_secret,
)
from bridge.destinations.fields import FieldError, VendorField, identifier, kind_of, whole_number
from bridge.vocabulary.model import Conversion
from bridge.vocabulary.secrets import EnvStr, Secret

USER_AGENT = f"ConvertAgent/1.0 bridge/{__version__}"

SEGMENT_CODES: dict[str, frozenset[str] | None] = {
    "browser": frozenset({"IE", "CH", "FF", "OP", "SF", "OTH"}),
    "devices": frozenset({"ALLPH", "IPH", "OTHPH", "ALLTAB", "IPAD", "OTHTAB", "DESK", "OTHDEV"}),
    "source": frozenset({"campaign", "search", "referral", "direct", "ai_tool"}),
    "visitorType": frozenset({"new", "returning"}),
    "country": None,  # ISO 3166-1 alpha-2, checked by pattern
    "campaign": None,  # free text
    "customSegments": None,  # segment ids
}
LIST_SEGMENTS = frozenset({"devices", "customSegments"})
CUSTOM_DIMENSIONS = tuple(f"customDimension{n}" for n in range(1, 6))
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_CODES_BY_FOLDED = {
    key: {code.lower(): code for code in codes}
    for key, codes in SEGMENT_CODES.items()
    if codes is not None
}
"""Per segment with codes, each code by its lower case: `ch` is `CH`, `New` is `new`."""


Segments = dict[str, str | list[str]]


def segments(value: Any) -> Segments:
    """Visitor segments as the browser knew them: segment -> a value or a list of values."""
    if not isinstance(value, dict):
        raise FieldError(f"expected an object of segment -> value, got {kind_of(value)}")
    return {str(key): _segment_value(item) for key, item in value.items()}


def _segment_value(value: Any) -> str | list[str]:
    if isinstance(value, list):
        return [identifier(item) for item in value]
    return identifier(value)


SEGMENTS = VendorField("segments", segments)
"""`visitors[].segments`, for Convert's report breakdowns."""
PRODUCTS_COUNT = VendorField("products_count", whole_number)
"""`goalData` `productsCount`."""


class ConvertOptions(DestinationOptions):
    vendor: Literal["convert"]
    account_id: EnvStr = Field(pattern=r"^\d+$")
    project_id: EnvStr = Field(pattern=r"^\d+$")
    sdk_key: EnvStr | None = None
    """Track through `/v1/track/{sdk_key}` instead of `/v1/track/{account_id}/{project_id}`."""
    sdk_key_secret: Secret | None = None
    """Only when the SDK key has a secret: sent as `Authorization: Bearer <secret>`."""
    base_url: EnvStr = "https://metrics.convertexperiments.com"
    enrich_data: bool = True
    """Let Convert fill in stored bucketing and segments; without it, `exposure` is required."""
    batch_size: int = Field(10, ge=1, le=100)
    """Conversions per request (Convert's SDKs release 10 events at a time)."""
    user_agent: str = USER_AGENT
    custom_dimensions: dict[str, str] = {}
    """`customDimensionN` -> the key in the conversion's `properties` that fills it."""

    @field_validator("user_agent")
    @classmethod
    def _bot_filter_safe(cls, value: str) -> str:
        if not value.startswith("ConvertAgent/"):
            raise ValueError(
                "must start with 'ConvertAgent/': Convert answers 200 to other user agents"
                " and drops their events"
            )
        return value

    @field_validator("custom_dimensions")
    @classmethod
    def _known_dimensions(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(CUSTOM_DIMENSIONS))
        if unknown:
            raise ValueError(
                f"unknown {', '.join(unknown)} (Convert has {', '.join(CUSTOM_DIMENSIONS)})"
            )
        return value


class ConvertDestination(Destination):
    vendor = "convert"
    options_model = ConvertOptions
    extra_fields = (SEGMENTS, PRODUCTS_COUNT)
    options: ConvertOptions

    @property
    def required_fields(self) -> frozenset[str]:
        required = {"visitor_id", "goal_id"}
        if not self.options.enrich_data:
            required.add("exposure")  # without enrichment Convert cannot attribute it
        return frozenset(required)

    @property
    def secrets(self) -> list[Secret]:
        return [self.options.sdk_key_secret] if self.options.sdk_key_secret else []

    @property
    def max_batch(self) -> int:
        return self.options.batch_size

    def validate_field(self, field: str, value: Any) -> str | Adjusted | None:
        if field == SEGMENTS.name:
            return _segments_taken(value)
        return None

    def requests(self, conversions: Sequence[Conversion]) -> list[VendorRequest]:
        size = self.max_batch
        return [
            self._request(conversions, range(start, min(start + size, len(conversions))))
            for start in range(0, len(conversions), size)
        ]

    def _request(self, conversions: Sequence[Conversion], indexes: range) -> VendorRequest:
        visitors: dict[str, dict[str, Any]] = {}
        for index in indexes:
            conversion = conversions[index]
            visitor_id = str(conversion.visitor_id)
            visitor = visitors.setdefault(visitor_id, {"visitorId": visitor_id, "events": []})
            known = _known(SEGMENTS.of(conversion))
            if known:
                visitor["segments"] = {**visitor.get("segments", {}), **known}
            visitor["events"].extend(self._events(conversion))
        body = {
            "accountId": self.options.account_id,
            "projectId": self.options.project_id,
            "enrichData": self.options.enrich_data,
            "visitors": [_ordered(visitor) for visitor in visitors.values()],
        }
        headers = {"Content-Type": "application/json", "User-Agent": self.options.user_agent}
        shown: dict[str, str] = {}
        secret = self.options.sdk_key_secret
        if secret is not None:
            headers["Authorization"] = f"Bearer {secret.reveal() or ''}"
            shown["Authorization"] = f"Bearer {shown_secret(secret)}"
        return VendorRequest(
            method="POST",
            url=self._url(),
            headers=headers,
            body=orjson.dumps(body),
            items=tuple(indexes),
            shown_headers=shown,
        )

    def _url(self) -> str:
        base = self.options.base_url.rstrip("/")
        if self.options.sdk_key:
            return f"{base}/v1/track/{quote(self.options.sdk_key, safe='')}"
        return f"{base}/v1/track/{self.options.account_id}/{self.options.project_id}"

    def _events(self, conversion: Conversion) -> list[dict[str, Any]]:
        data: dict[str, Any] = {"goalId": conversion.goal_id}
        if conversion.exposure:
            data["bucketingData"] = conversion.exposure
        events = [{"eventType": "conversion", "data": data}]
        goal_data = self._goal_data(conversion)
        if goal_data:
            events.append({"eventType": "conversion", "data": {**data, "goalData": goal_data}})
        return events

    def _goal_data(self, conversion: Conversion) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        if conversion.revenue is not None:
            amount = orjson.Fragment(conversion.revenue.major_text().encode())
            items.append({"key": "amount", "value": amount})
        products_count = PRODUCTS_COUNT.of(conversion)
        if products_count is not None:
            items.append({"key": "productsCount", "value": products_count})
        if conversion.transaction_id is not None:
            items.append({"key": "transactionId", "value": conversion.transaction_id})
        properties = conversion.properties if isinstance(conversion.properties, dict) else {}
        for dimension, key in sorted(self.options.custom_dimensions.items()):
            value = properties.get(key)
            if value is not None:
                items.append({"key": dimension, "value": _dimension(value)})
        return items


def _ordered(visitor: dict[str, Any]) -> dict[str, Any]:
    """`visitorId`, `segments`, `events`: the order of Convert's examples."""
    ordered = {"visitorId": visitor["visitorId"]}
    if "segments" in visitor:
        ordered["segments"] = visitor["segments"]
    ordered["events"] = visitor["events"]
    return ordered


def _dimension(value: Any) -> str | list[str]:
    if isinstance(value, list):
        return [str(item) for item in value]
    return str(value)


def _known(found: Segments | None) -> Segments:
    """The segments the browser knew: an empty value means unknown, and is not sent."""
    if not found:
        return {}
    return {key: value for key, value in found.items() if value not in ("", [])}


def _segments_taken(found: Any) -> str | Adjusted | None:
    """None when Convert takes `segments` as they are, else what it takes (`Adjusted`)."""
    if not isinstance(found, dict):
        return "must be an object"
    taken: dict[str, Any] = {}
    notes: list[str] = []
    for key, value in found.items():
        if key not in SEGMENT_CODES:
            known = ", ".join(SEGMENT_CODES)
            notes.append(f"Convert has no segment {key!r}: left out (known: {known})")
            continue
        kept, note = _segment(key, value)
        if kept is not None:
            taken[key] = kept
        if note:
            notes.append(note)
    return Adjusted("; ".join(notes), taken or None) if notes else None


def _segment(key: str, value: Any) -> tuple[Any, str | None]:
    """What Convert takes for segment `key` (None: nothing) and, when it is not `value`, why."""
    if value in ("", []):
        return value, None
    items = value if isinstance(value, list) else [value]
    codes = [_code(key, item) for item in items]
    kept = [code for code in codes if code is not None]
    if key in LIST_SEGMENTS:
        taken: Any = kept or None
    elif len(items) == 1:
        taken = kept[0] if kept else None
    else:
        return None, f"{key} {value!r} must be a single value: left out"
    bad = [item for item, code in zip(items, codes, strict=True) if code is None]
    if bad:
        return taken, f"{key} {bad[0]!r} is not {_expected(key)}: left out"
    return taken, None if taken == value else f"{key} {value!r} sent as {taken!r}"


def _code(key: str, item: Any) -> str | None:
    """`item` as Convert writes it for segment `key`, or None when it is not one of its values."""
    text = str(item).strip()
    if key == "country":
        code = text.upper()
        return code if _COUNTRY.match(code) else None
    codes = _CODES_BY_FOLDED.get(key)
    return text if codes is None else codes.get(text.lower())


def _expected(key: str) -> str:
    if key == "country":
        return "a two-letter ISO country code like US"
    return f"one of Convert's codes ({', '.join(sorted(SEGMENT_CODES[key] or ()))})"
