"""Any other signed JSON webhook: an HMAC of the body, or of a template around it, set by options.

Most senders sign one of a few ways, and each is a handful of options rather than a module:
the raw body (GitHub `X-Hub-Signature-256: sha256=<hex>`, Lemon Squeezy `X-Signature: <hex>`,
Typeform `Typeform-Signature: sha256=<base64>`), or a timestamp and the body (Calendly
`Calendly-Webhook-Signature: t=<unix>,v1=<hex>` over `"{t}.{body}"`). A header may carry several
signatures separated by commas, semicolons or spaces (neither hex nor base64 contains them);
any configured secret matching any of them is enough. A signed timestamp is checked both ways
against `tolerance_seconds`. Senders without an event id are deduplicated on the body's sha256.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from collections.abc import Iterator, Mapping
from datetime import datetime
from functools import cached_property
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bridge.sources import signing
from bridge.sources.base import (
    InboundRequest,
    MalformedPayload,
    SignedRequest,
    SignedSource,
    VerificationFailed,
)
from bridge.sources.timestamped import TimestampedOptions
from bridge.utilities.numbers import ascii_int
from bridge.utilities.times import sender_time
from bridge.vocabulary.model import Event

_SEPARATORS = re.compile(r"[,;\s]+")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_PLACEHOLDERS = frozenset({"body", "timestamp"})
_MAX_TIMESTAMP_DIGITS = 16  # milliseconds until the year 318857: anything longer is not a time


class FromHeader(BaseModel):
    """`{header: X-Event-Name}`: a value read from a request header."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    header: str = Field(min_length=1)


class Constant(BaseModel):
    """`{const: order_created}`: the same value for every request."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    const: str = Field(min_length=1)


class HmacOptions(TimestampedOptions):
    kind: Literal["hmac"]
    key_encoding: Literal["text", "hex", "base64"] = "text"
    """How the secret is turned into the HMAC key: its UTF-8 bytes, or decoded from hex/base64."""
    header: str = Field(min_length=1)
    """The request header holding the signature(s)."""
    algorithm: signing.Algorithm = "sha256"
    encoding: signing.Encoding = "hex"
    prefix: str = ""
    """Text before each signature, such as `sha256=`; a signature without it matches nothing."""
    signature_key: str | None = None
    """When the header is `key=value` items (`t=..,v1=..`), the key of the signatures (`v1`)."""
    signed: str = "body"
    """What is signed: `body`, or a template of `{body}` and `{timestamp}`: `{timestamp}.{body}`."""
    timestamp_header: str | None = None
    """The header holding the signed timestamp (with `{timestamp}` in `signed`)."""
    timestamp_key: str | None = None
    """Or the key of the timestamp item in the signature header (`t`)."""
    timestamp_unit: Literal["seconds", "milliseconds"] = "seconds"
    event_id: str | FromHeader | None = None
    """Dedupe id: a dotted path into the body, `{header: ...}`, or nothing for the body's sha256."""
    event_type: str | FromHeader | Constant
    """Event type the rules match on: a dotted path, `{header: ...}` or `{const: ...}`."""
    occurred_at: str | None = None
    """Dotted path to the event time: ISO 8601 with a zone, or unix seconds."""

    @field_validator("prefix")
    @classmethod
    def _no_separator(cls, value: str) -> str:
        if _SEPARATORS.search(value):
            raise ValueError("a prefix cannot contain commas, semicolons or spaces")
        return value

    @field_validator("signed")
    @classmethod
    def _template(cls, value: str) -> str:
        if value == "body":
            return value
        names = _PLACEHOLDER.findall(value)
        unknown = sorted(set(names) - _PLACEHOLDERS)
        if unknown:
            raise ValueError(
                f"unknown placeholder {{{unknown[0]}}}: use {{body}} and {{timestamp}}"
            )
        if names.count("body") != 1:
            raise ValueError("the template must contain {body} exactly once")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        signs_timestamp = "{timestamp}" in self.signed
        sources = [s for s in (self.timestamp_header, self.timestamp_key) if s]
        if signs_timestamp and len(sources) != 1:
            raise ValueError(
                "{timestamp} in `signed` needs exactly one of timestamp_header or timestamp_key"
            )
        if sources and not signs_timestamp:
            raise ValueError(
                "a timestamp that is not part of `signed` proves nothing:"
                " add {timestamp} to the template or remove the timestamp option"
            )
        if self.timestamp_key and not self.signature_key:
            raise ValueError("timestamp_key reads a `key=value` header: set signature_key too")
        for secret in self.secret:
            for value in secret.values():
                if _key(value, self.key_encoding) is None:
                    raise ValueError(
                        f"{secret.env_var} holds a value that is not {self.key_encoding}"
                    )
        return self


class HmacSource(SignedSource):
    kind = "hmac"
    options_model = HmacOptions
    options: HmacOptions

    @cached_property
    def keys(self) -> tuple[bytes, ...]:
        """Each secret's UTF-8 bytes, or its bytes decoded from hex or base64 (`key_encoding`)."""
        decoded = (_key(v, self.options.key_encoding) for ref in self.secrets for v in ref.values())
        return tuple(key for key in decoded if key is not None)

    @property
    def headers_read(self) -> tuple[str, ...]:
        """The signature's header, and those the options name for the timestamp, id and type."""
        options = self.options
        named = (options.header, options.timestamp_header, self.event_id_header)
        return tuple(name.lower() for name in (*named, self.event_type_header) if name)

    def verify(self, request: InboundRequest) -> list[Event]:
        options = self.options
        header = request.headers.get(options.header.lower())
        if not header:
            raise VerificationFailed(f"missing {options.header} header")
        items = [item for item in _SEPARATORS.split(header.strip()) if item]
        signatures = list(self._signatures(items))
        if not signatures:
            raise VerificationFailed(f"no signature found in the {options.header} header")
        timestamp = self._timestamp(request.headers, items)
        message = self._message(request.body, timestamp)
        expected = [signing.digest(options.algorithm, key, message) for key in self.keys]
        provided = (signing.decode_signature(text, options.encoding) for text in signatures)
        if not signing.any_match(expected, provided):
            raise VerificationFailed(f"no signature in the {options.header} header matches")
        if timestamp is not None:
            scale = 1000 if options.timestamp_unit == "milliseconds" else 1
            signing.check_window(int(timestamp) / scale, options.tolerance_seconds)
        return self._events(request.body, request.headers)

    def sign(self, body: bytes, url: str, now: float) -> SignedRequest:
        """The signature as the options lay it out, a fresh id where the id is a header; a type
        read from a header is left to the caller (`bridge send --header`)."""
        options = self.options
        stamp = None
        if "{timestamp}" in options.signed:
            stamp = str(int(now * 1000) if options.timestamp_unit == "milliseconds" else int(now))
        mac = signing.digest(options.algorithm, self.signing_key(), self._message(body, stamp))
        signature = options.prefix + signing.encoded(mac, options.encoding)
        if options.signature_key:
            signature = f"{options.signature_key}={signature}"
        if options.timestamp_key:
            signature = f"{options.timestamp_key}={stamp},{signature}"
        headers = {options.header: signature}
        if options.timestamp_header and stamp is not None:
            headers[options.timestamp_header] = stamp
        if isinstance(options.event_id, FromHeader):
            headers[options.event_id.header] = str(uuid.uuid4())
        return SignedRequest(headers)

    @property
    def event_type_header(self) -> str | None:
        spec = self.options.event_type
        return spec.header if isinstance(spec, FromHeader) else None

    @property
    def event_id_header(self) -> str | None:
        spec = self.options.event_id
        return spec.header if isinstance(spec, FromHeader) else None

    def body_time(self, event: Event) -> datetime | None:
        """`occurred_at` (read from the body) when no timestamp is signed."""
        return None if "{timestamp}" in self.options.signed else event.occurred_at

    def parse(self, body: bytes) -> list[Event]:
        return self._events(body, None)

    def restore(self, body: bytes, event_id: str, event_type: str) -> Event:
        """Rebuild the headers the id and type were read from, as they were verified."""
        headers: dict[str, str] = {}
        if isinstance(self.options.event_id, FromHeader):
            headers[self.options.event_id.header.lower()] = event_id
        if isinstance(self.options.event_type, FromHeader):
            headers[self.options.event_type.header.lower()] = event_type
        if not headers:
            return super().restore(body, event_id, event_type)
        [event] = self._events(body, headers)
        return event

    def _signatures(self, items: list[str]) -> Iterator[str]:
        key, prefix = self.options.signature_key, self.options.prefix
        for item in items:
            if key is not None:
                name, _, item = item.partition("=")
                if name != key:
                    continue
            if item.startswith(prefix) and len(item) > len(prefix):
                yield item[len(prefix) :]

    def _timestamp(self, headers: Mapping[str, str], items: list[str]) -> str | None:
        options = self.options
        if options.timestamp_header:
            value = headers.get(options.timestamp_header.lower())
            where = f"the {options.timestamp_header} header"
        elif options.timestamp_key:
            found = [
                v for k, _, v in (i.partition("=") for i in items) if k == options.timestamp_key
            ]
            value = found[0] if len(found) == 1 else None
            where = f"{options.timestamp_key}= in the {options.header} header"
        else:
            return None
        if not value:
            raise VerificationFailed(f"missing timestamp ({where})")
        if ascii_int(value, max_digits=_MAX_TIMESTAMP_DIGITS) is None:
            raise VerificationFailed(f"timestamp in {where} is not a unix time")
        return value

    def _message(self, body: bytes, timestamp: str | None) -> bytes:
        """The bytes the sender signed: the raw body, never re-encoded, inside the template."""
        if self.options.signed == "body":
            return body
        before, after = self.options.signed.split("{body}")
        stamp = timestamp or ""
        return (
            before.replace("{timestamp}", stamp).encode()
            + body
            + after.replace("{timestamp}", stamp).encode()
        )

    def _events(self, raw: bytes, headers: Mapping[str, str] | None) -> list[Event]:
        payload = signing.json_object(raw, self.name)
        event_id = self._event_id(raw, payload, headers)
        event_type = self._event_type(payload, headers)
        occurred_at = sender_time(signing.value_at(payload, self.options.occurred_at))
        return [self.event(event_id, event_type, payload, raw, occurred_at)]

    def _event_id(self, raw: bytes, payload: Any, headers: Mapping[str, str] | None) -> str:
        spec = self.options.event_id
        if spec is None or (isinstance(spec, FromHeader) and headers is None):
            return signing.body_digest(raw)
        if isinstance(spec, FromHeader):
            return _required_header(headers or {}, spec.header, "event id")
        return signing.required_id(signing.value_at(payload, spec), f"no event id at {spec!r}")

    def _event_type(self, payload: Any, headers: Mapping[str, str] | None) -> str:
        spec = self.options.event_type
        if isinstance(spec, Constant):
            return spec.const
        if isinstance(spec, FromHeader):
            if headers is None:
                raise MalformedPayload(
                    f"the event type comes from the {spec.header} header, which a payload file"
                    " does not have; to try a payload, set event_type to a path or a constant"
                )
            return _required_header(headers, spec.header, "event type")
        return signing.required_id(signing.value_at(payload, spec), f"no event type at {spec!r}")


def _key(secret: str, encoding: str) -> bytes | None:
    if encoding == "text":
        return secret.encode()
    try:
        return (
            bytes.fromhex(secret) if encoding == "hex" else base64.b64decode(secret, validate=True)
        )
    except (ValueError, binascii.Error):
        return None


def _required_header(headers: Mapping[str, str], name: str, what: str) -> str:
    value = headers.get(name.lower())
    if not value:
        raise MalformedPayload(f"missing {name} header (the {what})")
    return value
