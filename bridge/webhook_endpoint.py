"""`POST /webhooks/{source}` as a plain ASGI app, the one path every webhook takes.

Starlette's router, its two exception middlewares and its `Request`/`Response` objects cost more
CPU per request than the rest of the HTTP stack (measured: about 50 µs of 250 on the ingest
path). The app calls this endpoint directly for webhook POSTs and keeps starlette for everything
else, so the answers are the same either way: the body is read up to the size limit, the ingest
use case decides, and an unexpected failure is a 500 that is logged and leaves nothing half-sent.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from bridge.ingest import Reply
from bridge.sources import InboundRequest

if TYPE_CHECKING:
    from bridge.service import Bridge

PREFIX = "/webhooks/"

_ID_PREFIX = os.urandom(8).hex()
_ID_COUNTER = itertools.count(1)
"""Request ids: a random per-process prefix and a counter (uuid4 cost 5% of the ingest path)."""


class BodyTooLarge(Exception):
    pass


class ClientGone(Exception):
    """The sender hung up before its body arrived."""


def webhook_source(path: str) -> str | None:
    """The `{source}` of `/webhooks/{source}`, or None for any other path."""
    if not path.startswith(PREFIX):
        return None
    source = path[len(PREFIX) :]
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
            await _send(send, 500, b"Internal Server Error", "text/plain; charset=utf-8", {})
            raise
        await _send(send, reply.status, reply.content, reply.media_type, reply.headers, request_id)

    async def _reply(self, scope: Scope, receive: Receive, request_id: str) -> Reply:
        """The whole answer, decided before a byte of it is sent."""
        bridge = self._bridge()
        source = scope["path_params"]["source"]
        headers = Headers(scope=scope)
        limit = bridge.settings.max_body_bytes
        try:
            body = await read_body(receive, headers, limit)
        except BodyTooLarge:
            label = bridge.metrics.source_label(source, bridge.config.sources)
            bridge.metrics.webhook_requests.inc(label, "413")
            return Reply.json(413, {"error": f"body larger than {limit} bytes"})
        except ClientGone:
            return Reply(400, {}, b"", "text/plain")
        inbound = InboundRequest(scope["method"], lambda: str(Request(scope).url), headers, body)
        return await bridge.ingestor.receive(source, inbound, request_id)


async def read_body(receive: Receive, headers: Headers, limit: int) -> bytes:
    """The raw body, refusing more than `limit` bytes without reading them all."""
    declared = headers.get("content-length")
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
