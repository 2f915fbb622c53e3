"""`POST /identify/{ledger}`: the public endpoint browsers post beacons to, and its preflight.

Anyone can call it, so every check is made before anything costs more: the ledger must exist
(404), the page's `Origin` must be one of the ledger's origins (403, without CORS headers, so a
browser on any other page cannot read the answer), the client must be within its rate (429
with `Retry-After`), the body at most 8 KiB (413, never buffered beyond the cap) and a beacon by
the strict schema (400, one line naming the field). Only then is the store called (204, or 503
when it cannot commit).

No cookie is read or set: the visitor's reference travels in the body, and the request needs
no credentials, so it stays a CORS-simple request (`text/plain`, no preflight) for
`navigator.sendBeacon`. A preflight (`OPTIONS`, sent by `fetch` with `application/json`) is
answered for allowed origins only.

The rate is kept per client address: the socket's peer, or with `BRIDGE_IDENTIFY_TRUST_FORWARDED`
the first address of `X-Forwarded-For`. Behind a proxy every request comes from the proxy, so all
visitors would share one bucket; but trusting the header anywhere else lets each request name
its own address and escape the limit.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import orjson
from starlette.types import Receive, Scope, Send

from bridge.identity.beacon import MAX_BYTES, BeaconRefused, read_beacon
from bridge.identity.rate_limit import RateLimiter
from bridge.store.identities import Identities
from bridge.use_cases.identify import identify
from bridge.web.webhooks import BodyTooLarge, ClientGone, UndecodedCoding, framing, read_body

if TYPE_CHECKING:
    from bridge.runtime.service import Bridge

log = logging.getLogger("bridge.identify")

PREFIX = "/identify/"
_MEDIA_TYPES = (b"text/plain", b"application/json")
_PREFLIGHT = {
    "access-control-allow-methods": "POST",
    "access-control-allow-headers": "content-type",
    "access-control-max-age": "86400",
}


def identify_ledger(path: str) -> str | None:
    """The `{ledger}` of `/identify/{ledger}`, or None for any other path."""
    if not path.startswith(PREFIX):
        return None
    ledger = path[len(PREFIX) :]
    return ledger if ledger and "/" not in ledger else None


class Answer:
    """An answer decided before a byte of it is sent: the status, the headers, the reason a
    refusal is answered with, and the one it is logged with (which holds nothing sent)."""

    __slots__ = ("headers", "logged", "reason", "status")

    def __init__(
        self, status: int, reason: str | None = None, logged: str | None = None, **headers: str
    ) -> None:
        self.status = status
        self.reason = reason
        self.logged = logged or reason
        self.headers = headers


class IdentifyEndpoint:
    """Answers `/identify/{ledger}` for the `Bridge` that `bridge()` returns once started.

    The ledger comes from `scope["path_params"]`, as for webhooks. Beacons go to the bridge's
    store unless `identities` names another (tests); the rate limit is made from the bridge's
    settings at the first beacon, and kept."""

    def __init__(self, bridge: Callable[[], Bridge]) -> None:
        self._bridge = bridge
        self.identities: Callable[[], Identities] = lambda: bridge().store
        self.limiter: RateLimiter | None = None

    def _limit(self, bridge: Bridge) -> RateLimiter:
        if self.limiter is None:
            settings = bridge.settings
            self.limiter = RateLimiter(settings.identify_rate, settings.identify_burst)
        return self.limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        bridge = self._bridge()
        name = scope["path_params"]["ledger"]
        answer, cors = await self._answer(bridge, name, scope, receive)
        label = bridge.metrics.source_label(name, bridge.config.ledgers)
        bridge.metrics.identify_requests.inc(label, str(answer.status))
        if answer.status >= 400:
            log.info(
                "beacon refused",
                extra={"ledger": label, "status": answer.status, "reason": answer.logged},
            )
        headers = {**answer.headers, **cors}
        await _send(send, answer.status, headers, answer.reason)

    async def _answer(
        self, bridge: Bridge, name: str, scope: Scope, receive: Receive
    ) -> tuple[Answer, Mapping[str, str]]:
        """The answer, and the CORS headers that go with it (none for a refused origin)."""
        ledger = bridge.config.ledgers.get(name)
        if ledger is None:
            return Answer(404, "unknown ledger"), {}
        raw_headers: list[tuple[bytes, bytes]] = scope["headers"]
        origin = _header(raw_headers, b"origin")
        if origin is None or origin not in ledger.origins:
            return Answer(403, "origin not allowed"), {}
        cors = {"access-control-allow-origin": origin, "vary": "Origin"}
        if scope["method"] == "OPTIONS":
            return Answer(204, **_PREFLIGHT), cors
        trust = bridge.settings.identify_trust_forwarded
        wait = self._limit(bridge).wait(_client(scope, raw_headers, trust))
        if wait:
            return Answer(429, "rate limited", **{"retry-after": str(wait)}), cors
        media_type = _header(raw_headers, b"content-type") or ""
        if not media_type.lower().encode("latin-1").startswith(_MEDIA_TYPES):
            return Answer(400, "content-type must be text/plain or application/json"), cors
        try:
            body = await read_body(receive, framing(raw_headers), MAX_BYTES)
            beacon = read_beacon(body, ledger.vendors)
        except BodyTooLarge:
            return Answer(413, f"body larger than {MAX_BYTES} bytes"), cors
        except BeaconRefused as refused:
            return Answer(400, str(refused), f"malformed {refused.field}"), cors
        except UndecodedCoding:
            return Answer(400, "body must not be compressed or otherwise encoded"), cors
        except ClientGone:
            return Answer(400, "client gone"), cors
        now = int(time.time() * 1000)
        identified = await identify(self.identities(), name, ledger, beacon, now)
        if identified.stored:
            bridge.identity_changed()
        return Answer(identified.status, identified.reason), cors


def _client(scope: Scope, raw_headers: list[tuple[bytes, bytes]], trust_forwarded: bool) -> str:
    """Whose bucket a request takes from (see the module's docstring)."""
    if trust_forwarded:
        forwarded = _header(raw_headers, b"x-forwarded-for")
        if forwarded:
            return forwarded.partition(",")[0].strip()
    peer = scope.get("client")
    return str(peer[0]) if peer else "-"


def _header(raw_headers: list[tuple[bytes, bytes]], name: bytes) -> str | None:
    """The first value of header `name` (the server gives names in lower case)."""
    for key, value in raw_headers:
        if key == name:
            return value.decode("latin-1")
    return None


async def _send(send: Send, status: int, headers: Mapping[str, str], reason: str | None) -> None:
    """A 204 without a body, or a refusal as `{"error": reason}`."""
    body = b"" if status < 300 else orjson.dumps({"error": reason})
    raw = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]
    if status >= 300:
        raw += [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
