"""An attacker's tricks against the public endpoint and the admin port: none gets in, nothing
is stored. The sender kinds come from the registry (`tests/support/senders.py` checks it has
one signer per kind in `SOURCE_KINDS`), so a new sender is attacked the day it lands."""

from __future__ import annotations

import base64
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bridge.sources import SOURCE_KINDS
from bridge.web.app import create_app
from tests.support import senders
from tests.support.app import admin_client, serving
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


@pytest.mark.parametrize(
    "path",
    [
        "/admin//events",
        "//admin/events",
        "/admin/./events",
        "/admin/x/../events",
        "/admin/%2e%2e/admin/events",
        "/ADMIN/events",
        "/%61dmin/events",
        "/admin/events%00",
        "/metrics/../admin/events",
    ],
)
async def test_no_path_trick_reaches_the_admin_api_without_the_token(
    endpoint: Endpoint, path: str
) -> None:
    answer = await endpoint.admin.get(path)
    assert answer.status_code in (401, 404), (path, answer.status_code)
    assert '"events"' not in answer.text


@pytest.mark.parametrize("path", ["/admin/events", "/metrics", "/webhooks/../admin/events"])
async def test_the_webhook_port_serves_no_operator_page_with_any_credential(
    endpoint: Endpoint, path: str
) -> None:
    answer = await endpoint.public.get(path, headers={"Authorization": AUTH})
    assert answer.status_code in (404, 405)
    assert (await endpoint.admin.get("/admin/events", headers={"Authorization": AUTH})).is_success
