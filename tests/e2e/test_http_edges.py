"""The edges of HTTP over a real socket: the server `bridge serve` runs, in this process.

Requests are written byte for byte (no client library smooths them over), so what is tested
is what a sender, a scanner or a broken proxy would get: the answer, its headers, and whether
the connection is closed or still answers.
"""

from __future__ import annotations

import gzip
from typing import Any

import pytest
from pydantic import SecretStr

from bridge.runtime.settings import Settings
from bridge.store.base import EventFilter
from tests.support import stripe as s
from tests.support.raw_http import request, running

pytestmark = pytest.mark.slow

TOKEN = "adm_" + "3e9d0c1b7a5f4e26" * 2


def signed_webhook(event_id: str | None = None) -> tuple[bytes, dict[str, str]]:
    return s.signed(s.event("checkout.session.completed", event_id=event_id))


async def test_a_500_says_connection_close_and_the_server_then_closes_it(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: Any) -> None:
        raise RuntimeError("a bug")

    async with running(settings) as server:
        bridge = server.app.state.bridge
        monkeypatch.setattr(bridge.ingestor, "receive", broken)
        monkeypatch.setattr(bridge, "readiness", broken)
        raw, headers = signed_webhook()
        for sent in (request("POST", "/webhooks/stripe", raw, headers), request("GET", "/readyz")):
            connection = await server.connect()
            answer = await connection.send(sent)
            assert answer.status == 500
            assert answer.headers["connection"] == "close"
            assert await connection.closed()
        monkeypatch.undo()
        connection = await server.connect()  # a sender's retry on a new connection is answered
        assert (
            await connection.send(request("POST", "/webhooks/stripe", raw, headers))
        ).status == 200
        connection.close()


async def test_refusals_keep_the_connection_for_the_next_request(settings: Settings) -> None:
    async with running(settings) as server:
        connection = await server.connect()
        raw, headers = signed_webhook()
        forged = {**headers, "Stripe-Signature": s.signature(raw, "whsec_someone_else")}
        assert (
            await connection.send(request("POST", "/webhooks/stripe", raw, forged))
        ).status == 401
        assert (
            await connection.send(request("POST", "/webhooks/stripe", b"x" * 5000))
        ).status == 413
        assert (
            await connection.send(request("POST", "/webhooks/stripe", raw, headers))
        ).status == 200
        connection.close()


@pytest.mark.parametrize(
    "headers",
    [
        {f"X-Filler-{n}": "x" for n in range(2000)},
        {"X-Large": "x" * 1024 * 1024},
        {"X-Large": "x" * 20_000},
    ],
    ids=["2000-headers", "1-MB-header", "20-KB-header"],
)
async def test_headers_over_the_limits_get_431_and_the_connection_closes(
    settings: Settings, headers: dict[str, str]
) -> None:
    async with running(settings) as server:
        raw, signature = signed_webhook()
        connection = await server.connect()
        sent = request("POST", "/webhooks/stripe", raw, {**signature, **headers})
        answer = await connection.send(sent)
        assert answer.status == 431
        assert answer.headers["connection"] == "close"
        assert await connection.closed()
        assert await server.app.state.bridge.store.list_events(EventFilter(), 10) == []


async def test_a_long_url_is_refused_like_a_large_header(settings: Settings) -> None:
    async with running(settings) as server:
        connection = await server.connect()
        answer = await connection.send(request("GET", "/healthz?" + "q" * 20_000))
        assert answer.status == 431


async def test_headers_within_the_limits_are_served(settings: Settings) -> None:
    async with running(settings) as server:
        raw, signature = signed_webhook()
        filler = {f"X-Filler-{n}": "x" * 100 for n in range(80)}
        connection = await server.connect()
        sent = request("POST", "/webhooks/stripe", raw, {**signature, **filler})
        assert (await connection.send(sent)).status == 200
        connection.close()


async def test_a_transfer_coding_bridge_does_not_decode_is_refused_before_verification(
    settings: Settings,
) -> None:
    raw, headers = signed_webhook()
    packed = gzip.compress(raw)
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(packed), packed)
    coded = {**headers, "Transfer-Encoding": "gzip, chunked"}
    async with running(settings) as server:
        connection = await server.connect()
        sent = b"POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\n"
        sent += "".join(f"{k}: {v}\r\n" for k, v in coded.items()).encode() + b"\r\n" + chunked
        answer = await connection.send(sent)
        assert answer.status == 400
        assert answer.body == b'{"error":"transfer coding \'gzip, chunked\' is not supported"}'
        assert await server.app.state.bridge.store.list_events(EventFilter(), 10) == []
        plain = b"%x\r\n%s\r\n0\r\n\r\n" % (len(raw), raw)
        sent = b"POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        sent += "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode() + b"\r\n" + plain
        assert (await connection.send(sent)).status == 200
        connection.close()


async def test_operators_pages_are_on_the_admin_port_only(settings: Settings) -> None:
    admin_settings = settings.model_copy(update={"admin_token": SecretStr(TOKEN)})
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with running(admin_settings) as server:
        public = await server.connect()
        admin = await server.connect(server.admin_port)
        for path in ("/metrics", "/admin/events", "/admin/deliveries"):
            assert (await public.send(request("GET", path, headers=auth))).status == 404, path
            assert (await admin.send(request("GET", path, headers=auth))).status == 200, path
        bare = await public.send(request("GET", "/readyz"))
        assert bare.body == b'{"status":"ready"}'
        detail = await admin.send(request("GET", "/readyz"))
        assert b'"sources":["stripe"]' in detail.body
        raw, headers = signed_webhook()
        sent = request("POST", "/webhooks/stripe", raw, headers)
        assert (await admin.send(sent)).status == 404
        public.close()
        admin.close()
