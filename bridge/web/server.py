"""The HTTP server: uvicorn on its httptools protocol (its fastest, and the one benchmarked),
listening on the webhook port and the admin port, with what a public endpoint needs and uvicorn
does not enforce: header and body deadlines, a connection cap, header count and size limits.

It extends uvicorn's `HttpToolsProtocol`, whose callbacks are not a public interface: the
version is pinned (requirements.lock) and tests/e2e/test_http_edges.py and test_slow_senders.py
exercise every limit over real sockets, so an upgrade that changes them fails there.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, cast

import orjson
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from bridge.runtime.settings import Settings

if TYPE_CHECKING:
    import uvicorn
    from starlette.types import ASGIApp, Receive, Scope, Send

    from bridge.web.app import BridgeApp

RETRY_AFTER_SECONDS = 5
"""What a request on a connection over `BRIDGE_MAX_CONNECTIONS` is told to wait."""

LINGER_SECONDS = 2.0
"""How long a refused request's remaining bytes are read (and discarded) before closing."""

_OVER_CAPACITY = orjson.dumps({"error": "too many connections; retry later"})


class CannotListen(Exception):
    """A port that cannot be listened on, named with its address and the system's reason."""


class Listeners(NamedTuple):
    public: socket.socket
    """Webhooks, /healthz and a bare /readyz: the port an Ingress routes to."""
    admin: socket.socket
    """/admin, /metrics and the detailed /readyz: for the cluster's monitoring only."""


def bind_listeners(settings: Settings) -> Listeners:
    public = _listen(settings.host, settings.port, "webhook port (BRIDGE_PORT)")
    try:
        admin = _listen(
            settings.admin_host, settings.admin_listen_port(), "admin port (BRIDGE_ADMIN_PORT)"
        )
    except CannotListen:
        public.close()
        raise
    return Listeners(public, admin)


def _listen(host: str, port: int, role: str) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
    except (OSError, OverflowError) as exc:
        listener.close()
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise CannotListen(f"cannot listen on {host}:{port}, the {role}: {reason}") from None
    return listener


def address(listener: socket.socket) -> str:
    host, port = listener.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def http_server(app: BridgeApp, settings: Settings, listeners: Listeners) -> uvicorn.Server:
    """The uvicorn server for `app` on `listeners`: `server.run(sockets=list(listeners))`."""
    import uvicorn

    admin = AdminPort(listeners.admin.getsockname()[1], app.admin)
    protocol = limited_protocol(HttpLimits.of(settings), admin)
    config = uvicorn.Config(
        app,
        http=protocol,
        ws="none",
        log_config=None,
        access_log=False,
        server_header=False,
        # The client's address is the socket's peer: bridge decides itself when to trust a
        # forwarded one (BRIDGE_IDENTIFY_TRUST_FORWARDED), never uvicorn for 127.0.0.1.
        proxy_headers=False,
        timeout_graceful_shutdown=int(settings.worker_shutdown_grace_seconds) + 5,
    )
    return uvicorn.Server(config)


@dataclass(frozen=True, slots=True)
class HttpLimits:
    header_timeout: float
    body_timeout: float
    max_connections: int
    max_headers: int
    max_header_bytes: int

    @classmethod
    def of(cls, settings: Settings) -> HttpLimits:
        return cls(
            settings.header_timeout_seconds,
            settings.body_timeout_seconds,
            settings.max_connections,
            settings.max_headers,
            settings.max_header_bytes,
        )


@dataclass(frozen=True, slots=True)
class AdminPort:
    port: int
    app: ASGIApp


IDLE, HEADERS, BODY = 0, 1, 2
"""Where a connection is: between requests (uvicorn's keep-alive timeout applies), waiting
for a request's headers (from the connection's start or the request's first byte), or for
the rest of its body."""


class HeadersTooLarge(Exception):
    """Raised in a parser callback: httptools stops, and the 400 uvicorn sends becomes a 431."""


class FaultyFraming(Exception):
    """Raised in a parser callback for framing the parser accepts but RFC 9112 calls faulty:
    httptools stops, uvicorn answers 400 and closes, and no byte of the body is read as a
    request of its own."""


class LimitedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with the limits a public endpoint needs.

    - Headers must all arrive within `header_timeout` of the connection opening (or of the
      request's first byte on a kept-alive connection), the body within `body_timeout` of the
      last header: otherwise 408 and the connection closes. Silent and trickling senders hold
      nothing for longer (uvicorn times out only idle kept-alive connections).
    - More than `max_headers` header fields, or more than `max_header_bytes` of request line
      and headers: 431, closed.
    - A connection opened while `max_connections` are open has its request answered 503 with
      `Retry-After` and is closed.
    - An HTTP/1.0 request with `Transfer-Encoding` (RFC 9112 6.1: its framing is faulty, and
      a proxy may read its body as the next request): 400, closed.
    - Connections to the admin port are answered by the admin app (and never refused as over
      capacity: monitoring keeps working during a flood).

    A request that arrives whole in one read, as webhooks do, starts no timer: a deadline is
    armed when a connection opens (cancelled by its first complete request) and when a read
    ends between a request's first byte and its last."""

    limits: ClassVar[HttpLimits]
    admin: ClassVar[AdminPort]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._phase = HEADERS
        self._timed = IDLE
        self._deadline: asyncio.TimerHandle | None = None
        self._header_count = 0
        self._header_bytes = 0
        self._unparsed = 0
        self._too_large = False
        self._transfer_coded = False
        self._refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if self.server is not None and self.server[1] == self.admin.port:
            self.app = cast("Any", self.admin.app)
        elif len(self.connections) > self.limits.max_connections:
            self.app = _over_capacity
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # the rest of a refused request, read only so that the answer arrives
        super().data_received(data)
        self._parsed(len(data))

    def _parsed(self, size: int) -> None:
        """After a read: refuse headers that grow too large, and arm the phase's deadline."""
        if self._refused:
            return
        if self._phase == HEADERS:
            self._unparsed += size
            if self._unparsed > self.limits.max_header_bytes and not self.transport.is_closing():
                self._answer_and_close(431, "request headers too large")
                return
        if self._phase != self._timed:
            self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._phase = HEADERS
        self._header_count = 0
        self._header_bytes = 0
        self._transfer_coded = False

    def on_url(self, url: bytes) -> None:
        self._header_bytes += len(url)
        if self._header_bytes > self.limits.max_header_bytes:
            self._too_large = True
            raise HeadersTooLarge
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        self._header_bytes += len(name) + len(value)
        if (
            self._header_count > self.limits.max_headers
            or self._header_bytes > self.limits.max_header_bytes
        ):
            self._too_large = True
            raise HeadersTooLarge
        # uvicorn's own on_header, inline: this runs for every header of every webhook
        name = name.lower()
        value = value.rstrip(b" \t")
        if name == b"expect" and value.lower() == b"100-continue":
            self.expect_100_continue = True
        elif name == b"transfer-encoding":
            self._transfer_coded = True
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        if self._transfer_coded and self.parser.get_http_version() == "1.0":
            raise FaultyFraming
        self._phase = BODY
        self._unparsed = 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._phase = IDLE
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        if self._too_large:
            self._answer_and_close(431, "request headers too large")
        else:
            super().send_400_response(msg)

    def _arm(self) -> None:
        """Start the deadline of the phase the connection is in (none between requests)."""
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self._timed = self._phase
        if self._phase == HEADERS:
            self._deadline = self.loop.call_later(self.limits.header_timeout, self._timed_out)
        elif self._phase == BODY:
            self._deadline = self.loop.call_later(self.limits.body_timeout, self._timed_out)

    def _timed_out(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self._phase == BODY and self.cycle is not None and self.cycle.response_started:
            self.transport.close()  # answered already (a 413 before the body): only close
        else:
            self._answer_and_close(408, "request not received in time")

    def _answer_and_close(self, status: int, message: str) -> None:
        """Answer, then close once the sender has read it.

        Closing at once while the sender is still sending (a 1 MB header) makes the kernel
        reset the connection, and a reset can destroy the answer before the sender reads it.
        So the server stops writing, discards what still comes, and closes when the sender
        does, or after `LINGER_SECONDS`."""
        body = message.encode()
        head = b"content-type: text/plain; charset=utf-8\r\nconnection: close\r\n"
        length = b"content-length: %d\r\n\r\n" % len(body)
        self.transport.write(b"".join((STATUS_LINE[status], head, length, body)))
        self._refused = True
        if self._deadline is not None:
            self._deadline.cancel()
        if not self.transport.can_write_eof():
            self.transport.close()
            return
        self.transport.write_eof()
        self._deadline = self.loop.call_later(LINGER_SECONDS, self.transport.close)


def limited_protocol(limits: HttpLimits, admin: AdminPort) -> type[LimitedHttpProtocol]:
    """The protocol class uvicorn instantiates per connection, with these settings."""
    return type("BridgeHttpProtocol", (LimitedHttpProtocol,), {"limits": limits, "admin": admin})


async def _over_capacity(scope: Scope, receive: Receive, send: Send) -> None:
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(_OVER_CAPACITY)).encode()),
        (b"retry-after", str(RETRY_AFTER_SECONDS).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": _OVER_CAPACITY})
