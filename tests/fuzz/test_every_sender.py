"""Every sender kind, behind the real app, fed generated forgeries: 400 or 401, never more.

The app loads every shipped mapping at once (a source of each kind in the registry), and each
request carries random values in the headers those sources say they read (`headers_read`).
Nothing may be stored and nothing may fail.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.mapping import load_config
from bridge.runtime.settings import Settings
from bridge.sources import SOURCE_KINDS, Source
from bridge.web.app import create_app
from tests.support.app import serving
from tests.support.senders import shipped_mappings

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


def headers_read(sources: dict[str, Source]) -> list[str]:
    """Every header some source reads, and the one every request has."""
    return sorted(
        {name for source in sources.values() for name in source.headers_read} | {"content-type"}
    )


@dataclass
class Served:
    sources: dict[str, Source]
    client: httpx.AsyncClient
    loop: asyncio.AbstractEventLoop


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    work = tmp_path_factory.mktemp("every-sender")
    folder = work / "mappings"
    environ = shipped_mappings(folder)
    sources = load_config(folder, environ).sources
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
            yield Served(sources, client, loop)
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
@given(data=st.data(), body=BODIES)
def test_no_sender_accepts_or_fails_on_a_forgery(
    served: Served, data: st.DataObject, body: bytes
) -> None:
    source = data.draw(st.sampled_from(sorted(served.sources)))
    names = st.sampled_from(headers_read(served.sources))
    headers = data.draw(st.dictionaries(names, VALUES, max_size=8))
    raw = [(name.encode(), value.encode()) for name, value in headers.items()]
    TRIED["count"] += 1
    response = served.loop.run_until_complete(
        served.client.post(f"/webhooks/{source}", content=body, headers=raw)
    )
    if response.status_code == 200:  # only WooCommerce's unsigned creation ping, stored nowhere
        assert (source, body, response.json()["reason"]) == (
            "woocommerce",
            b"webhook_id=7",
            "nothing to record",
        )
        return
    assert response.status_code in (400, 401), (source, response.status_code, response.text)


def test_a_source_of_every_registered_kind_is_fuzzed(served: Served) -> None:
    assert {source.kind for source in served.sources.values()} == set(SOURCE_KINDS)


def test_the_headers_fuzzed_are_those_the_sources_read(served: Served) -> None:
    """Each sender's proof travels in headers it declares, so forgeries reach its check."""
    fuzzed = headers_read(served.sources)
    for proof in ("stripe-signature", "authorization", "x-hub-signature-256", "webhook-id"):
        assert proof in fuzzed
    signing = {source.kind for source in served.sources.values() if source.headers_read}
    assert signing == set(SOURCE_KINDS) - {"salesforce"}  # its token travels in the URL
