"""An attacker's tricks against the public endpoint and the admin port: none gets in, nothing
is stored, no form of a secret is shown. Paths and framing go over a real socket, byte for
byte. The sender kinds come from the registry (`tests/support/senders.py` checks it has one
signer per kind in `SOURCE_KINDS`), so a new sender is attacked the day it lands."""

from __future__ import annotations

import base64
import logging
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from bridge.sources import SOURCE_KINDS
from bridge.vocabulary.secrets import shown_forms
from bridge.web.app import create_app
from tests.support import senders
from tests.support.app import admin_client, serving
from tests.support.raw_http import request, running
from tests.support.senders import SENDERS, Sender, Signed, every_sender_settings

TOKEN = "adm_" + "5e1b8c0d9f2a7364" * 2
OTHER_KEY = "cd" * 16
"""A key of the same shape as the real one (hex and base64 alike), that is not it."""
CREDENTIALS_ONLY = frozenset({"pipedrive", "chargebee", "salesforce"})
"""Kinds that prove the sender by a shared credential, not by a signature over the body
(docs/security.md): tampering with their body is not a forgery they can detect."""


@dataclass
class Endpoint:
    public: httpx.AsyncClient
    admin: httpx.AsyncClient
    database: Path

    def stored(self) -> int:
        with sqlite3.connect(self.database) as connection:
            count: int = connection.execute("SELECT count(*) FROM events").fetchone()[0]
            return count

    async def send(self, sender: Sender, body: bytes, signed: Signed) -> httpx.Response:
        path = f"/webhooks/{sender.source}{signed.query}"
        return await self.public.post(path, content=body, headers=signed.headers)


@pytest.fixture
async def endpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Endpoint]:
    app = create_app(every_sender_settings(tmp_path, monkeypatch, TOKEN), run_worker=False)
    async with serving(app) as public, admin_client(app) as admin:
        yield Endpoint(public, admin, tmp_path / "b.db")


@contextmanager
def signing_key(key: str) -> Iterator[None]:
    """Every signer signs with `key` instead of the configured secret."""
    real = senders.SECRET
    senders.SECRET = key
    try:
        yield
    finally:
        senders.SECRET = real


def url_of(sender: Sender) -> str:
    return f"http://bridge.test/webhooks/{sender.source}"


def test_every_sender_kind_is_attacked() -> None:
    assert set(SENDERS) == set(SOURCE_KINDS)


@pytest.mark.parametrize("kind", sorted(SENDERS))
async def test_forgeries_of_every_kind_are_refused_and_store_nothing(
    endpoint: Endpoint, kind: str
) -> None:
    sender = SENDERS[kind]
    body = sender.sample()
    with signing_key(OTHER_KEY):
        wrong_key = sender.sign(body, sender.now(), url_of(sender))
    genuine = sender.sign(body, sender.now(), url_of(sender))
    unsigned = Signed("", {k: v for k, v in genuine.headers.items() if k == "content-type"})
    tricks = {"another key": (body, wrong_key), "no credentials": (body, unsigned)}
    if kind not in CREDENTIALS_ONLY:
        tricks["body changed after signing"] = (body.replace(b"1", b"2", 1), genuine)
    if sender.per_second is not None:
        day_ago = str(int((time.time() - 86_400) * sender.per_second))
        tricks["a day old"] = (body, sender.sign(body, day_ago, url_of(sender)))
    for trick, (sent, signed) in tricks.items():
        answer = await endpoint.send(sender, sent, signed)
        assert answer.status_code in (400, 401), (trick, answer.status_code, answer.text)
        assert senders.SECRET not in answer.text
    assert endpoint.stored() == 0
    genuine_answer = await endpoint.send(sender, body, genuine)
    assert genuine_answer.status_code == 200, genuine_answer.text  # the tricks were close calls


def distinct_secrets(folder: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Give each shipped source a secret of its own, in the shape its sender uses and with the
    characters that encode differently (`+ / = , &`) where the shape allows: kind -> secret."""
    used: dict[str, str] = {}
    for path in folder.glob("*.yaml"):
        for source in (yaml.safe_load(path.read_text()).get("sources") or {}).values():
            kind = source["kind"]
            secret = SECRET_SHAPES.get(kind, f"{kind}+sec/ret=1,2&{kind[::-1]}")
            for variable in re.findall(r"\$\{([A-Z0-9_]+)\}", yaml.safe_dump(source)):
                monkeypatch.setenv(variable, secret)
            used[kind] = secret
    return used


SECRET_SHAPES = {
    "close": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
    "standard-webhooks": base64.b64encode(b"standard+webhooks/key=" * 2).decode(),
    "salesforce": "sf-outbound-token,7c1d",
}
"""Kinds whose secret has a fixed form: hex (Close), base64 (Standard Webhooks), and a URL
query value (Salesforce's token, sent as written)."""


async def test_no_form_of_any_configured_secret_reaches_a_log_or_an_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    settings = every_sender_settings(tmp_path, monkeypatch, TOKEN)
    secrets = distinct_secrets(tmp_path / "mappings", monkeypatch)
    shown: list[str] = []
    caplog.set_level(logging.DEBUG)
    app = create_app(settings, run_worker=False)
    async with serving(app) as public, admin_client(app) as admin:
        endpoint = Endpoint(public, admin, tmp_path / "b.db")
        for kind, sender in SENDERS.items():
            body = sender.sample()
            with signing_key(secrets[kind]):
                genuine = sender.sign(body, sender.now(), url_of(sender))
            with signing_key(OTHER_KEY):
                forged = sender.sign(body, sender.now(), url_of(sender))
            accepted = await endpoint.send(sender, body, genuine)
            assert accepted.status_code == 200, (kind, accepted.text)
            shown += [accepted.text, (await endpoint.send(sender, body, forged)).text]
        for path in ("/admin/events", "/admin/deliveries", "/readyz"):
            shown.append((await admin.get(path, headers={"Authorization": AUTH})).text)
    logged = [repr(vars(record)) for record in caplog.records if record.name.startswith("bridge")]
    text = "\n".join([*logged, *shown])  # every field of every bridge log record
    for name, secret in {**secrets, "admin token": TOKEN}.items():
        for form in shown_forms(secret):
            assert form not in text, (name, form)


AUTH = f"Bearer {TOKEN}"
WRONG_CREDENTIALS = [
    {},
    {"Authorization": "Bearer"},
    {"Authorization": "Bearer "},
    {"Authorization": TOKEN},
    {"Authorization": f"Bearer {TOKEN[:-1]}"},
    {"Authorization": f"Bearer {TOKEN}x"},
    {"Authorization": f"Bearer {TOKEN.upper()}"},
    {"Authorization": f"Bearer {TOKEN} {TOKEN}"},
    {"Authorization": f"Basic {base64.b64encode(TOKEN.encode()).decode()}"},
    {"Authorization": f"Basic {base64.b64encode(f'admin:{TOKEN}'.encode()).decode()}"},
    {"Authorization": f"Token {TOKEN}"},
    {"X-Admin-Token": TOKEN},
    {"Cookie": f"token={TOKEN}"},
]


@pytest.mark.parametrize(
    "headers", WRONG_CREDENTIALS, ids=[str(n) for n in range(len(WRONG_CREDENTIALS))]
)
async def test_the_admin_api_refuses_every_credential_but_the_token(
    endpoint: Endpoint, headers: dict[str, str]
) -> None:
    answer = await endpoint.admin.get("/admin/events", headers=headers)
    assert answer.status_code == 401
    assert TOKEN not in answer.text
    assert (await endpoint.admin.get(f"/admin/events?token={TOKEN}")).status_code == 401


ADMIN_PATH_TRICKS = [
    "/admin//events",
    "//admin/events",
    "/admin/./events",
    "/admin/x/../events",
    "/admin/%2e%2e/admin/events",
    "/admin/%2E/events",
    "/ADMIN/events",
    "/%61dmin/events",
    "/admin/events%00",
    "/admin/events%2f",
    "/admin/events;x",
    "/admin\\events",
    "/metrics/../admin/events",
    "http://127.0.0.1/admin/events",
]
"""Paths as an attacker writes them, sent byte for byte: a client library would remove the
dot segments before they reach the server."""
PUBLIC_PATH_TRICKS = [
    "/admin/events",
    "/metrics",
    "/webhooks/../admin/events",
    "/webhooks/%2e%2e/admin/events",
    "/webhooks/stripe/../../metrics",
    "//admin/events",
    "/./metrics",
    "http://127.0.0.1/metrics",
]


async def test_no_path_trick_reaches_the_admin_api_without_the_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running(every_sender_settings(tmp_path, monkeypatch, TOKEN)) as server:
        for path in ADMIN_PATH_TRICKS:
            connection = await server.connect(server.admin_port)
            answer = await connection.send(request("GET", path))
            assert answer.status in (400, 401, 404), (path, answer.status)
            assert b'"events"' not in answer.body, path
        allowed = await (await server.connect(server.admin_port)).send(
            request("GET", "/admin/events", headers={"Authorization": AUTH})
        )
        assert b'"events"' in allowed.body  # the tricks were close calls


async def test_the_webhook_port_serves_no_operator_page_with_any_credential(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running(every_sender_settings(tmp_path, monkeypatch, TOKEN)) as server:
        for path in PUBLIC_PATH_TRICKS:
            connection = await server.connect()
            answer = await connection.send(request("GET", path, headers={"Authorization": AUTH}))
            assert answer.status in (400, 404, 405), (path, answer.status)
            assert b'"events"' not in answer.body, path
            assert b"# HELP" not in answer.body, path


WEBHOOK = b"POST /webhooks/stripe HTTP/1.1\r\nHost: 127.0.0.1\r\n"
SMUGGLING_SHAPES = {
    "Content-Length and Transfer-Encoding": b"Content-Length: 6\r\nTransfer-Encoding: chunked"
    b"\r\n\r\n0\r\n\r\nG",
    "Transfer-Encoding and Content-Length": b"Transfer-Encoding: chunked\r\nContent-Length: 3"
    b"\r\n\r\n1\r\nG\r\n0\r\n\r\n",
    "two Content-Lengths": b"Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    "a Content-Length list": b"Content-Length: 5, 6\r\n\r\nhello!",
    "two Transfer-Encodings": b"Transfer-Encoding: chunked\r\nTransfer-Encoding: identity"
    b"\r\n\r\n0\r\n\r\n",
    "a space before the colon": b"Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
    "a coding that is not chunked": b"Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
    "chunked, then another coding": b"Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
    "a folded header": b"Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n",
    "a vertical tab": b"Transfer-Encoding:\x0bchunked\r\n\r\n0\r\n\r\n",
    "a chunk size that is no number": b"Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
    "a chunk size that overflows": b"Transfer-Encoding: chunked\r\n\r\nfffffffffffffffff1"
    b"\r\nhello\r\n0\r\n\r\n",
    "a negative chunk size": b"Transfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n",
    "a chunk without its line end": b"Transfer-Encoding: chunked\r\n\r\n5\r\nhelloX0\r\n\r\n",
    "a negative Content-Length": b"Content-Length: -1\r\n\r\n",
    "a signed Content-Length": b"Content-Length: +5\r\n\r\nhello",
    "a hex Content-Length": b"Content-Length: 0x5\r\n\r\nhello",
    "a NUL in a header": b"X-A: a\x00b\r\nContent-Length: 0\r\n\r\n",
    "a bare CR in a header": b"X-A: a\rb\r\nContent-Length: 0\r\n\r\n",
    "a space in a header name": b"X A: b\r\nContent-Length: 0\r\n\r\n",
}
WHOLE_SHAPES = {
    "bare line feeds": b"POST /webhooks/stripe HTTP/1.1\nHost: x\nContent-Length: 0\n\n",
    "Transfer-Encoding in HTTP/1.0": b"POST /webhooks/stripe HTTP/1.0\r\nHost: x\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
}
"""Ambiguous or malformed framing: a proxy and bridge could disagree on where a request ends,
and read the rest as a request of its own."""


@pytest.mark.parametrize(
    "shape", [*SMUGGLING_SHAPES, *WHOLE_SHAPES], ids=lambda shape: shape.replace(" ", "-")
)
async def test_every_smuggling_shape_is_a_400_and_nothing_after_it_is_served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shape: str
) -> None:
    head = WEBHOOK + SMUGGLING_SHAPES[shape] if shape in SMUGGLING_SHAPES else WHOLE_SHAPES[shape]
    smuggled = request("GET", "/healthz")
    async with running(every_sender_settings(tmp_path, monkeypatch, TOKEN)) as server:
        connection = await server.connect()
        answer = await connection.send(head + smuggled)
        assert answer.status == 400, (shape, answer.status, answer.body)
        assert await connection.closed(), shape  # the request behind it is never answered
    with sqlite3.connect(tmp_path / "b.db") as database:
        assert database.execute("SELECT count(*) FROM events").fetchone()[0] == 0


async def test_forwarded_headers_never_change_the_url_a_signature_covers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hubspot = SENDERS["hubspot"]
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "bridge.example"}
    path = f"/webhooks/{hubspot.source}"
    async with running(every_sender_settings(tmp_path, monkeypatch, TOKEN)) as server:
        for signed_for, status in (
            (f"https://bridge.example{path}", 401),  # what the headers claim: not read
            (f"http://127.0.0.1{path}", 200),  # the connection's scheme and Host
        ):
            body = hubspot.sample()
            signed = hubspot.sign(body, hubspot.now(), signed_for)
            sent = request("POST", path, body, {**signed.headers, **forwarded})
            answer = await (await server.connect()).send(sent)
            assert answer.status == status, (signed_for, answer.status, answer.body)
