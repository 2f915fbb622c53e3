"""`POST /webhooks/{source}` as a plain ASGI app, the one path every webhook takes.

Starlette's router, its two exception middlewares and its `Request`/`Response` objects cost more
CPU per request than the rest of the HTTP stack (docs/benchmarks.md, "The levers"). The app
calls this endpoint directly for webhook POSTs and keeps starlette for everything else, so the
answers are the same either way: the body is read up to the size limit, the ingest use case
decides, and an unexpected failure is a 500 that is logged, leaves nothing half-sent,
and says `Connection: close` (the server closes the connection after it).

A body is taken as the bytes it is: a content coding (`Content-Encoding: gzip`) or a transfer
coding other than chunked (`Transfer-Encoding: gzip, chunked`) is refused before verification,
since bridge decodes neither. How long a body may take to arrive is the server's deadline
(`BRIDGE_BODY_TIMEOUT_SECONDS`, bridge/cli/server.py), not this endpoint's.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import orjson
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from bridge.sources import InboundRequest
from bridge.use_cases.ingest import Reply

if TYPE_CHECKING:
    from bridge.runtime.service import Bridge

PREFIX = "/webhooks/"

_ID_PREFIX = os.urandom(8).hex()
_ID_COUNTER = itertools.count(1)
"""Request ids: a random per-process prefix and a counter (uuid4 cost 5% of the ingest path)."""


CLOSE = {"connection": "close"}


class BodyTooLarge(Exception):
    pass


class ClientGone(Exception):
    """The sender hung up before its body arrived."""


def webhook_source(path: str) -> str | None:
    """The `{source}` of `/webhooks/{source}` (or `/webhooks/{source}/`: a sender does not
    follow a redirect to the other spelling), or None for any other path."""
    if not path.startswith(PREFIX):
        return None
    source = path[len(PREFIX) : -1 if path[-1] == "/" else None]
    return source if source and "/" not in source else None


class WebhookEndpoint:
    """Answers webhook POSTs for the `Bridge` that `bridge()` returns once the app has started.

    The source comes from `scope["path_params"]`: set by the app's shortcut, or by starlette's
    route when a root path is in front."""

    def __init__(self, bridge: Callable[[], Bridge]) -> None:
        self._bridge = bridge

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = f"{_ID_PREFIX}{next(_ID_COUNTER):016x}"
        try:
            reply = await self._reply(scope, receive, request_id)
        except Exception:  # the same bare 500 starlette gives; uvicorn logs the traceback
            await _send(send, 500, b"Internal Server Error", "text/plain; charset=utf-8", CLOSE)
            raise
        await _send(send, reply.status, reply.content, reply.media_type, reply.headers, request_id)

    async def _reply(self, scope: Scope, receive: Receive, request_id: str) -> Reply:
        """The whole answer, decided before a byte of it is sent."""
        bridge = self._bridge()
        source = scope["path_params"]["source"]
        raw_headers: list[tuple[bytes, bytes]] = scope["headers"]
        limit = bridge.settings.max_body_bytes
        try:
            declared = framing(raw_headers)
            body = await read_body(receive, declared, limit)
        except UndecodedCoding as refusal:
            _count(bridge, source, refusal.reply.status)
            return refusal.reply
        except BodyTooLarge:
            _count(bridge, source, 413)
            return Reply.json(413, {"error": f"body larger than {limit} bytes"})
        except ClientGone:
            return Reply(400, {}, b"", "text/plain")
        headers = Headers(raw=raw_headers)
        inbound = InboundRequest(scope["method"], lambda: str(Request(scope).url), headers, body)
        return await bridge.ingestor.receive(source, inbound, request_id)


class UndecodedCoding(Exception):
    """The body is encoded in a way bridge does not decode: `reply` says which."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply


def framing(raw_headers: list[tuple[bytes, bytes]]) -> bytes | None:
    """The declared Content-Length, after refusing codings bridge would read as plain bytes.

    One pass over the raw headers (the server gives their names in lower case), on the path
    every webhook takes."""
    declared = None
    for name, value in raw_headers:
        if name == b"content-length":
            declared = value
        elif name == b"transfer-encoding" and value.lower() != b"chunked":
            error = {"error": f"transfer coding {value.decode('latin-1')!r} is not supported"}
            raise UndecodedCoding(Reply.json(400, error))
        elif name == b"content-encoding" and value.lower() != b"identity":
            error = {"error": f"content coding {value.decode('latin-1')!r} is not supported"}
            raise UndecodedCoding(
                Reply(415, error, orjson.dumps(error), headers={"accept-encoding": "identity"})
            )
    return declared


def _count(bridge: Bridge, source: str, status: int) -> None:
    label = bridge.metrics.source_label(source, bridge.config.sources)
    bridge.metrics.webhook_requests.inc(label, str(status))


async def read_body(receive: Receive, declared: bytes | None, limit: int) -> bytes:
    """The raw body, refusing more than `limit` bytes without reading them all."""
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _send(
    send: Send,
    status: int,
    body: bytes,
    media_type: str,
    headers: Mapping[str, str],
    request_id: str | None = None,
) -> None:
    raw = [
        (b"content-length", str(len(body)).encode()),
        (b"content-type", media_type.encode("latin-1")),
    ]
    if request_id is not None:  # every answer but the bare 500 names its request
        raw.append((b"x-request-id", request_id.encode()))
    if headers:
        raw += (
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in headers.items()
        )
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
