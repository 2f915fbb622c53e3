"""Every sender kind, behind the real app, fed generated forgeries: 400 or 401, never more.

The app loads every example mapping at once (each sender's source), and each request carries
random values in the headers those senders read. Nothing may be stored and nothing may fail.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import re
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.mapping import load_config
from bridge.runtime.settings import Settings
from bridge.web.app import create_app
from tests.support import stripe as s
from tests.support.app import serving

EXAMPLES = s.REPO / "mappings" / "examples"
HEADERS = [
    "stripe-signature",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "svix-id",
    "svix-timestamp",
    "svix-signature",
    "x-hubspot-signature-v3",
    "x-hubspot-request-timestamp",
    "x-hubspot-signature",
    "x-hubspot-signature-version",
    "x-shopify-hmac-sha256",
    "x-shopify-topic",
    "x-shopify-event-id",
    "paddle-signature",
    "x-signature",
    "close-sig-hash",
    "close-sig-timestamp",
    "x-wc-webhook-signature",
    "x-wc-webhook-topic",
    "authorization",
    "x-hub-signature-256",
    "content-type",
]
VALUES = st.one_of(
    st.text(alphabet=st.characters(codec="latin-1"), max_size=120),
    st.integers(-(2**63), 2**63).map(str),
    st.binary(max_size=48).map(lambda b: base64.b64encode(b).decode()),
    st.binary(max_size=48).map(lambda b: "v1," + base64.b64encode(b).decode()),
    st.binary(max_size=48).map(lambda b: "Basic " + base64.b64encode(b).decode()),
    st.builds(lambda t, h: f"ts={t};h1={h}", st.integers(0, 2**40), st.text(max_size=70)),
)
BODIES = st.one_of(
    st.binary(max_size=1024),
    st.sampled_from([b"", b"{}", b"[]", b"[{}]", b"webhook_id=7", b"<x/>", b"\xff"]),
    st.sampled_from(
        [
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><x>&b;</x>',
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>',
        ]
    ),
)
TRIED = {"count": 0}


def every_example(folder: Path) -> dict[str, str]:
    """All example mappings with their destination files; an environment naming every secret."""
    for path in EXAMPLES.glob("*.yaml"):
        if not path.name.startswith("stripe-to-"):
            shutil.copy(path, folder)
    shutil.copy(s.REPO / "mappings" / "pagent.yaml", folder)
    text = "".join(path.read_text() for path in folder.glob("*.yaml"))
    return dict.fromkeys(re.findall(r"\$\{([A-Z0-9_]+)\}", text), "ab" * 16)


@pytest.fixture(scope="module")
def sources_and_client(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[list[str], httpx.AsyncClient, asyncio.AbstractEventLoop, Path]]:
    work = tmp_path_factory.mktemp("every-sender")
    folder = work / "mappings"
    folder.mkdir()
    environ = every_example(folder)
    sources = sorted(load_config(folder, environ).sources)
    database = work / "fuzz.db"
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environ.items():
            patch.setenv(name, value)
        app = create_app(
            Settings(database_url=f"sqlite:///{database}", mappings_dir=folder),
            run_worker=False,
        )
        loop = asyncio.new_event_loop()
        stack = contextlib.AsyncExitStack()
        client = loop.run_until_complete(stack.enter_async_context(serving(app)))
        try:
            yield sources, client, loop, database
        finally:
            loop.run_until_complete(stack.aclose())
            loop.close()
    with sqlite3.connect(database) as connection:
        [(stored,)] = connection.execute("SELECT COUNT(*) FROM events").fetchall()
    print(f"\nfuzz: {TRIED['count']} forged requests over {len(sources)} senders, {stored} stored")
    assert stored == 0


@settings(
    max_examples=400,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    data=st.data(),
    headers=st.dictionaries(st.sampled_from(HEADERS), VALUES, max_size=8),
    body=BODIES,
)
def test_no_sender_accepts_or_fails_on_a_forgery(
    sources_and_client: tuple[list[str], httpx.AsyncClient, asyncio.AbstractEventLoop, Path],
    data: st.DataObject,
    headers: dict[str, str],
    body: bytes,
) -> None:
    sources, client, loop, _ = sources_and_client
    source = data.draw(st.sampled_from(sources))
    raw = [(name.encode(), value.encode()) for name, value in headers.items()]
    TRIED["count"] += 1
    response = loop.run_until_complete(
        client.post(f"/webhooks/{source}", content=body, headers=raw)
    )
    if response.status_code == 200:  # only WooCommerce's unsigned creation ping, stored nowhere
        assert (source, body, response.json()["reason"]) == (
            "woocommerce",
            b"webhook_id=7",
            "nothing to record",
        )
        return
    assert response.status_code in (400, 401), (source, response.status_code, response.text)
