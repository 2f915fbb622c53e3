"""What every sender module provides: prove a request genuine, then turn it into `Event`s.

A source never knows vendors, rules or storage. `verify` authenticates the raw bytes first and
only then parses; `parse` alone exists for `bridge try` and replay, where the bytes are already
trusted. `SignedSource` is what every sender that signs with a shared secret has in common.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property
from typing import Any, ClassVar

import orjson
from pydantic import BaseModel, ConfigDict, Field

from bridge.vocabulary.model import Event, has_control_character
from bridge.vocabulary.secrets import Secret, SecretList


class SourceError(Exception):
    """A request a source refuses. `status` is what the sender is answered."""

    status: ClassVar[int] = 400


class VerificationFailed(SourceError):
    """Missing, wrong or stale signature: 401, nothing stored."""

    status = 401


class MalformedPayload(SourceError):
    """Authentic (or not checkable) but unusable body: 400, nothing stored."""

    status = 400


class SecretNotSet(SourceError):
    """`bridge send` cannot sign: none of the source's secrets is set (the message names them)."""

    def __init__(self, variables: Sequence[str]) -> None:
        named = ", ".join(variables) or "its secret"
        super().__init__(f"{named} {'is' if len(variables) <= 1 else 'are'} not set")


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """What a sender adds to the body it posts: headers, and for Salesforce a query (its token)."""

    headers: dict[str, str]
    query: dict[str, str] = field(default_factory=dict)


class InboundRequest:
    """The parts of an HTTP request a signature scheme may cover, exactly as received.

    `url` may be given as a function: building it costs more than most schemes' whole check,
    and only the few that sign the URL ask for it.
    """

    __slots__ = ("_url", "body", "headers", "method")

    def __init__(
        self, method: str, url: str | Callable[[], str], headers: Mapping[str, str], body: bytes
    ) -> None:
        self.method = method
        self._url = url
        self.headers = headers
        self.body = body

    @property
    def url(self) -> str:
        if callable(self._url):
            self._url = self._url()
        return self._url


class SourceOptions(BaseModel):
    """Settings every source kind shares; each kind extends it with its own."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    kind: str


class Source(ABC):
    kind: ClassVar[str]
    options_model: ClassVar[type[SourceOptions]]
    replays_bounded_by_body_time: ClassVar[bool] = False
    """True for senders whose signature covers no time (or not always): the event time their
    module reads from the signed body (`Event.occurred_at`) is what bounds a replay."""

    def __init__(self, name: str, options: SourceOptions) -> None:
        self.name = name
        self.options = options

    @property
    @abstractmethod
    def secrets(self) -> list[Secret]:
        """The secret references this source verifies with."""

    def missing_secrets(self) -> list[str]:
        """Environment variables named by this source that are not set."""
        return [secret.env_var for secret in self.secrets if not secret.is_set]

    @cached_property
    def ready(self) -> bool:
        """True when at least one secret is available to verify with (secrets are read once,
        when the mappings load, so this is asked for every webhook but computed once)."""
        return any(secret.is_set for secret in self.secrets)

    @abstractmethod
    def verify(self, request: InboundRequest) -> list[Event]:
        """Authenticate the request and return its events, or raise a `SourceError`.

        An empty list is a genuine request that carries nothing to record (a sender's ping).
        """

    @abstractmethod
    def parse(self, body: bytes) -> list[Event]:
        """Events of an already trusted body (no authentication)."""

    @abstractmethod
    def sign(self, body: bytes, url: str, now: float) -> SignedRequest:
        """What the sender would add to `body` posted to `url` at `now` (unix seconds), signed
        with the first secret that is set: `bridge send` posts it, and it passes `verify`.
        Each kind signs next to where it verifies; tests/sources/test_checklist.py checks it."""

    def signing_value(self) -> str:
        """The first value of the first secret that is set, else `SecretNotSet` naming them."""
        for secret in self.secrets:
            if secret.values():
                return secret.values()[0]
        raise SecretNotSet(self.missing_secrets())

    def parse_received(self, body: bytes, headers: Mapping[str, str]) -> list[Event]:
        """Events of a trusted body received with `headers` (a fixture's, in `bridge test`):
        `parse`, for the senders whose events read nothing from a header."""
        return self.parse(body)

    @property
    def headers_read(self) -> tuple[str, ...]:
        """Every request header this source reads, lower-case: whatever is sent there reaches
        its check or its parse (the fuzz suite sends hostile values in each)."""
        return ()

    @property
    def event_type_header(self) -> str | None:
        """The request header the event type is read from, if any. Headers are not signed:
        whoever holds one genuine delivery can send it again under another type."""
        return None

    @property
    def event_id_header(self) -> str | None:
        """The request header the dedupe id is read from, if any (unsigned, as above): a copy
        sent again with another value there is a new event."""
        return None

    def body_time(self, event: Event) -> datetime | None:
        """The event's own time as the signed body writes it, for senders whose signature covers
        no time: a delivery older than the dedupe window could otherwise be replayed as new once
        its dedupe id is purged, so ingest refuses it. None: the signature bounds replays with a
        signed timestamp, or the body carries no time."""
        return event.occurred_at if self.replays_bounded_by_body_time else None

    def warnings(self) -> list[str]:
        """What these settings leave open to a forged or replayed request (`bridge check`)."""
        return []

    def restore(self, body: bytes, event_id: str, event_type: str) -> Event:
        """A stored event again, from its verified bytes and the id and type recorded with them.

        Replay needs this: senders that put the id (or type) in headers, which are not stored,
        give a body that alone yields another id; the stored row keeps the verified values.
        """
        events = self.parse(body)
        for event in events:
            if event.event_id == event_id:
                return event
        if len(events) == 1:
            return replace(events[0], event_id=event_id, type=event_type)
        raise MalformedPayload(f"stored payload does not contain event {event_id!r}")

    def challenge(self) -> dict[str, str]:
        """Headers sent with a 401 (HTTP Basic senders name their scheme in `WWW-Authenticate`)."""
        return {}

    def render(self, status: int, answer: dict[str, Any]) -> tuple[bytes, str]:
        """The response body and media type the sender expects (JSON unless it needs more)."""
        return orjson.dumps(answer), "application/json"

    def event(
        self,
        event_id: str,
        event_type: str,
        payload: Any,
        raw: bytes,
        occurred_at: datetime | None = None,
    ) -> Event:
        """An event of this source: what each sender's parse ends with."""
        return Event(
            source=self.name,
            event_id=event_id,
            type=event_type,
            payload=payload,
            raw=raw,
            occurred_at=occurred_at,
        )


class SignedOptions(SourceOptions):
    """Settings of a sender that signs with a shared secret."""

    secret: SecretList = Field(
        description="Signing secret reference(s); a variable may hold several, comma-separated."
    )


class SignedSource(Source):
    """A sender that signs with shared secrets: the `secret` option, each value an HMAC key."""

    options: SignedOptions

    @property
    def secrets(self) -> list[Secret]:
        return self.options.secret

    @cached_property
    def keys(self) -> tuple[bytes, ...]:
        """Every HMAC key, worked out once as `ready` is (secrets are read when the mappings
        load): each value's UTF-8 bytes, unless the sender derives its keys otherwise."""
        return tuple(value.encode() for secret in self.secrets for value in secret.values())

    def signing_key(self) -> bytes:
        """The HMAC key `sign` uses: the first of `keys`, else `SecretNotSet` naming them."""
        if not self.keys:
            raise SecretNotSet(self.missing_secrets())
        return self.keys[0]


def refuse_control_characters(events: Sequence[Event]) -> None:
    """Refuse events whose id or type holds a control character, naming the field.

    Every sender's events pass here before anything is stored, so that no store is asked to keep
    what one of them cannot (PostgreSQL refuses NUL in text), and both stores answer alike.
    """
    for event in events:
        if has_control_character(event.event_id):
            raise MalformedPayload("the event id holds a control character such as NUL")
        if has_control_character(event.type):
            raise MalformedPayload("the event type holds a control character such as NUL")
