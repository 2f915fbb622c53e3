"""HTTP Basic credentials, for senders that sign nothing and authenticate with a password.

`BasicAuthSource` is such a sender but for its body: subclasses give only `parse`. Pipedrive
and Chargebee put `Authorization: Basic base64(username:password)` (RFC 7617) on every
webhook when one is configured on their side; there is no body signature and no timestamp. The
credentials are compared in constant time, as a SHA-256 digest of `username:password` so that
the comparison does not depend on their lengths either. Several pairs may be configured (a new
pair next to the old one while the sender's settings are changed), and each variable may hold
comma-separated values, any of which is accepted within its pair.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from bridge.sources import signing
from bridge.sources.base import (
    InboundRequest,
    SecretNotSet,
    SignedRequest,
    Source,
    SourceOptions,
    VerificationFailed,
)
from bridge.vocabulary.model import Event
from bridge.vocabulary.secrets import Secret

AUTHORIZATION = "authorization"


class BasicCredentials(BaseModel):
    """One username and password pair, both `${VAR}` references."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    username: Secret
    password: Secret

    @property
    def usable(self) -> bool:
        return self.username.is_set and self.password.is_set

    def accepted(self) -> list[bytes]:
        """Digests of every `username:password` this pair accepts."""
        return [
            _credential_digest(user, password)
            for user in self.username.values()
            for password in self.password.values()
        ]


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, Mapping) else value


CredentialList = Annotated[list[BasicCredentials], BeforeValidator(_one_or_many)]
"""One `{username, password}` mapping or a list of them."""


def secrets_of(pairs: Sequence[BasicCredentials]) -> list[Secret]:
    return [secret for pair in pairs for secret in (pair.username, pair.password)]


def any_usable(pairs: Sequence[BasicCredentials]) -> bool:
    """A pair needs both halves: a username alone verifies nothing."""
    return any(pair.usable for pair in pairs)


def check_basic_auth(headers: Mapping[str, str], pairs: Sequence[BasicCredentials]) -> None:
    """Refuse a request whose Basic credentials match no configured pair."""
    header = (headers.get(AUTHORIZATION) or "").strip()
    if not header:
        raise VerificationFailed("missing Authorization header (HTTP Basic credentials)")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic" or not token.strip():
        raise VerificationFailed("Authorization header is not HTTP Basic credentials")
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise VerificationFailed("Authorization header is not valid base64 credentials") from None
    username, colon, password = decoded.partition(":")
    if not colon:
        raise VerificationFailed("Authorization credentials have no ':' between user and password")
    expected = [digest for pair in pairs for digest in pair.accepted()]
    if not signing.any_match(expected, [_credential_digest(username, password)]):
        raise VerificationFailed("HTTP Basic credentials do not match")


def _credential_digest(username: str, password: str) -> bytes:
    return hashlib.sha256(f"{username}:{password}".encode()).digest()


class BasicAuthOptions(SourceOptions):
    credentials: CredentialList = Field(
        min_length=1,
        description="The webhook's username / password, as ${VAR} references.",
    )


class BasicAuthSource(Source):
    """A sender proven by HTTP Basic credentials alone: nothing signed, no time, so the body's
    own time bounds replays."""

    replays_bounded_by_body_time = True
    headers_read = (AUTHORIZATION,)
    options: BasicAuthOptions

    @property
    def secrets(self) -> list[Secret]:
        return secrets_of(self.options.credentials)

    @property
    def ready(self) -> bool:
        return any_usable(self.options.credentials)

    def challenge(self) -> dict[str, str]:
        return {"WWW-Authenticate": f'Basic realm="bridge {self.kind}", charset="UTF-8"'}

    def sign(self, body: bytes, url: str, now: float) -> SignedRequest:
        """The first pair whose username and password are both set, as HTTP Basic."""
        for pair in self.options.credentials:
            if pair.usable:
                user, password = pair.username.values()[0], pair.password.values()[0]
                token = base64.b64encode(f"{user}:{password}".encode()).decode()
                return SignedRequest({"Authorization": f"Basic {token}"})
        raise SecretNotSet(self.missing_secrets())

    def verify(self, request: InboundRequest) -> list[Event]:
        check_basic_auth(request.headers, self.options.credentials)
        return self.parse(request.body)
