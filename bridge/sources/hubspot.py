"""HubSpot webhooks: request signatures v3 (and v2 or v1 when enabled) over the raw bytes.

Wire facts, from HubSpot's request-validation docs and HubSpot/hubspot-api-python
(`hubspot/utils/signature.py`):

- v3: `X-HubSpot-Signature-v3` is base64(HMAC-SHA256(app client secret, method + URI + body +
  timestamp)); `X-HubSpot-Request-Timestamp` is unix milliseconds, and HubSpot says to refuse
  requests older than five minutes (refused here in the future as well). The URI is the full URL
  HubSpot called, query included, with %3A %2F %3F %40 %21 %24 %27 %28 %29 %2A %2C %3B decoded.
  Behind a proxy or ingress, the URL bridge sees is not that one: `public_url` restores it.
- v2: `X-HubSpot-Signature` with `X-HubSpot-Signature-Version: v2` is hex(SHA-256(secret +
  method + URI + body)); v1 is hex(SHA-256(secret + body)). Neither has a timestamp, so neither
  protects against replays; they are accepted only when configured, and only on requests that
  carry no v3 signature (HubSpot sends the older ones next to v3: v3 then decides alone).

Webhooks API subscriptions post a JSON array of events, each its own `Event` (its own bytes,
type `subscriptionType`, time `occurredAt`). HubSpot does not promise `eventId` is unique, so
the dedupe id joins portalId, subscriptionId, eventId, objectId, occurredAt and propertyName
(never `attemptNumber`, which changes on every retry). Workflow "Send a webhook" actions post
one JSON object: the record's chosen properties.
"""

from __future__ import annotations

import re
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import orjson
from pydantic import Field, field_validator

from bridge.sources import signing
from bridge.sources.base import (
    InboundRequest,
    MalformedPayload,
    SignedRequest,
    VerificationFailed,
)
from bridge.sources.timestamped import SignedParts, TimestampedHmacSource, TimestampedOptions
from bridge.utilities.numbers import ascii_int
from bridge.utilities.safe_text import clipped
from bridge.utilities.times import sender_time
from bridge.vocabulary.model import Event
from bridge.vocabulary.secrets import EnvStr, SecretList

SignatureVersion = Literal["v1", "v2", "v3"]

V3_SIGNATURE = "x-hubspot-signature-v3"
V3_TIMESTAMP = "x-hubspot-request-timestamp"
LEGACY_SIGNATURE = "x-hubspot-signature"
LEGACY_VERSION = "x-hubspot-signature-version"

# The characters HubSpot decodes in the URI before signing v3 requests.
_V3_DECODED = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}
_V3_ENCODED = re.compile("|".join(_V3_DECODED), re.IGNORECASE)
_DEDUPE_FIELDS = ("portalId", "subscriptionId", "eventId", "objectId", "occurredAt", "propertyName")


class HubSpotOptions(TimestampedOptions):
    kind: Literal["hubspot"]
    secret: SecretList = Field(
        description="The app's client secret reference(s); a variable may hold several."
    )
    signature_versions: list[SignatureVersion] = Field(default=["v3"], min_length=1)
    public_url: EnvStr = ""
    """Scheme and host (and path prefix) HubSpot calls, when a proxy changes them."""
    workflow_event_type: str = Field("workflow.webhook", min_length=1)
    workflow_id_path: str = ""
    """Dotted path of a workflow body's dedupe id; empty: the body's sha256."""

    @field_validator("public_url")
    @classmethod
    def _absolute_base(cls, value: str) -> str:
        value = value.strip()
        if not value:
            return ""
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(
                "public_url must be an absolute URL such as https://bridge.example.com"
            )
        if parts.query or parts.fragment:
            raise ValueError("public_url takes no query or fragment, only scheme, host and path")
        return value.rstrip("/")


class HubSpotSource(TimestampedHmacSource):
    kind = "hubspot"
    replays_bounded_by_body_time = True
    options_model = HubSpotOptions
    options: HubSpotOptions
    signature_encoding = "base64"
    headers_read = (V3_SIGNATURE, V3_TIMESTAMP, LEGACY_SIGNATURE, LEGACY_VERSION)

    def warnings(self) -> list[str]:
        found = []
        accepted = self.options.signature_versions
        if "v3" in accepted and not self.options.public_url:
            found.append(
                "public_url is not set: the v3 signature covers the URL, whose host is then"
                " taken from the request's Host header; set public_url to the URL HubSpot"
                " calls (https://bridge.example.com)"
            )
        legacy = [version for version in accepted if version != "v3"]
        if legacy:
            found.append(
                f"signature_versions accepts {', '.join(legacy)}, which sign no time: a captured"
                " request is accepted again whenever it is sent"
                + (" without its v3 header" if "v3" in accepted else "")
                + "; accept only v3 once the app signs with it"
            )
        return found

    def verify(self, request: InboundRequest) -> list[Event]:
        self._authenticate(request)
        return self.parse(request.body)

    def signed_url(self, url: str) -> str:
        """The URL HubSpot called, as bridge saw it at `url` (see `public_url`)."""
        base = self.options.public_url
        if not base:
            return url
        public, seen = urlsplit(base), urlsplit(url)
        return urlunsplit((public.scheme, public.netloc, public.path + seen.path, seen.query, ""))

    def _authenticate(self, request: InboundRequest) -> None:
        """v3 decides when it is accepted and present; v1/v2 only stand in for a missing v3."""
        accepted = self.options.signature_versions
        headers = request.headers
        if "v3" in accepted and headers.get(V3_SIGNATURE):
            self.authenticate(request)
            return
        legacy = (headers.get(LEGACY_VERSION) or "").strip().lower()
        if legacy in ("v1", "v2") and legacy in accepted and headers.get(LEGACY_SIGNATURE):
            self._check_legacy(request, legacy)
            return
        raise VerificationFailed(_missing_signature(accepted, legacy))

    def signed_parts(self, request: InboundRequest) -> SignedParts:
        """v3: method, URI, body and timestamp (unix milliseconds)."""
        stamp = (request.headers.get(V3_TIMESTAMP) or "").strip()
        if not stamp:
            raise VerificationFailed("missing X-HubSpot-Request-Timestamp header")
        milliseconds = ascii_int(stamp)
        if milliseconds is None:
            raise VerificationFailed("X-HubSpot-Request-Timestamp is not unix milliseconds")
        uri = v3_uri(self.signed_url(request.url))
        message = request.method.upper().encode() + uri.encode() + request.body + stamp.encode()
        return SignedParts(milliseconds / 1000, message, [request.headers[V3_SIGNATURE]])

    def refusal(self, request: InboundRequest) -> str:
        uri = v3_uri(self.signed_url(request.url))
        return (
            f"X-HubSpot-Signature-v3 does not match a request to {clipped(uri)}: check the"
            " client secret, and set public_url if HubSpot calls bridge through a proxy"
        )

    def sign(self, body: bytes, url: str, now: float) -> SignedRequest:
        """v3 for a request to `url` (as `public_url` turns it into the URL HubSpot calls);
        v2, else v1, when the source accepts no v3."""
        key, uri = self.signing_key(), self.signed_url(url)
        if "v3" in self.options.signature_versions:
            stamp = str(int(now * 1000))
            message = b"POST" + v3_uri(uri).encode() + body + stamp.encode()
            mac = signing.encoded(signing.digest("sha256", key, message), "base64")
            return SignedRequest(
                {"X-HubSpot-Signature-v3": mac, "X-HubSpot-Request-Timestamp": stamp}
            )
        version = "v2" if "v2" in self.options.signature_versions else "v1"
        signed = (b"POST" + uri.encode() + body) if version == "v2" else body
        digest = signing.sha256(key + signed).hex()
        return SignedRequest(
            {"X-HubSpot-Signature": digest, "X-HubSpot-Signature-Version": version}
        )

    def _check_legacy(self, request: InboundRequest, version: str) -> None:
        if version == "v2":
            uri = self.signed_url(request.url)
            signed = request.method.upper().encode() + uri.encode() + request.body
        else:
            signed = request.body
        expected = [signing.sha256(key + signed) for key in self.keys]
        provided = signing.decode_signature(request.headers[LEGACY_SIGNATURE], "hex")
        if not signing.any_match(expected, [provided]):
            raise VerificationFailed(f"X-HubSpot-Signature ({version}) does not match the body")

    def parse(self, body: bytes) -> list[Event]:
        payload = signing.json_body(body)
        if isinstance(payload, list):
            return [self._subscription_event(item, index) for index, item in enumerate(payload)]
        if isinstance(payload, dict):
            return [self._workflow_event(payload, body)]
        raise MalformedPayload("a HubSpot webhook body is a JSON array of events or one object")

    def _subscription_event(self, item: Any, index: int) -> Event:
        if not isinstance(item, dict):
            raise MalformedPayload(f"HubSpot event {index} is not a JSON object")
        event_type = signing.required_text(
            item.get("subscriptionType"), f"HubSpot event {index} has no 'subscriptionType'"
        )
        if item.get("eventId") is None:
            raise MalformedPayload(f"HubSpot event {index} has no 'eventId'")
        occurred_at = sender_time(item.get("occurredAt"), per_second=1000)
        return self.event(
            subscription_event_id(item), event_type, item, orjson.dumps(item), occurred_at
        )

    def _workflow_event(self, payload: dict[str, Any], body: bytes) -> Event:
        path = self.options.workflow_id_path
        event_id = (
            signing.required_id(
                _lookup(payload, path), f"HubSpot workflow body has no '{path}' (workflow_id_path)"
            )
            if path
            else signing.body_digest(body)
        )
        return self.event(event_id, self.options.workflow_event_type, payload, body)


def v3_uri(url: str) -> str:
    """The URI as HubSpot signs it: a fixed set of percent-escapes decoded, nothing else."""
    return _V3_ENCODED.sub(lambda match: _V3_DECODED[match.group(0).upper()], url)


def subscription_event_id(item: dict[str, Any]) -> str:
    """portalId:subscriptionId:eventId:objectId:occurredAt:propertyName (absent parts empty)."""
    return ":".join("" if item.get(key) is None else str(item[key]) for key in _DEDUPE_FIELDS)


def _missing_signature(accepted: list[SignatureVersion], legacy: str) -> str:
    versions = ", ".join(accepted)
    if "v3" in accepted:
        message = "missing X-HubSpot-Signature-v3 header"
    else:
        message = f"missing X-HubSpot-Signature header of an accepted version ({versions})"
    if legacy and legacy not in accepted:
        named = legacy if legacy in ("v1", "v2") else clipped(legacy)
        message += f"; the request is signed {named}, which signature_versions ({versions}) omits"
    return message


def _lookup(payload: Any, path: str) -> Any:
    value = payload
    for segment in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(segment)
    return value
