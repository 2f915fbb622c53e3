"""Generated hostile requests against the real app: never a 5xx, never a stored event.

Every request here is unverifiable (forged, stale, unsigned, garbled, for a source that does
not exist, or with a correct signature over a body that is not an event), so after the whole
run the SQLite file must hold no event at all. The run prints how many cases were tried.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import sqlite3
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.runtime.settings import Settings
from bridge.web.app import create_app
from tests.support import stripe as s
from tests.support.app import serving
from tests.support.mappings import ENVIRON

LIMIT = 64 * 1024
CASES = {"tried": 0}
PROFILE = settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz") / "fuzz.db"


@dataclass
class Client:
    """The app over ASGI, driven from synchronous hypothesis tests on one event loop."""

    loop: asyncio.AbstractEventLoop
    http: httpx.AsyncClient

    def request(
        self,
        method: str,
        path: str,
        body: bytes | Iterable[bytes],
        headers: list[tuple[bytes, bytes]],
    ) -> httpx.Response:
        content = body if isinstance(body, bytes) else _stream(body)
        request = self.http.request(method, path, content=content, headers=headers)
        return self.loop.run_until_complete(request)


async def _stream(chunks: Iterable[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


@pytest.fixture(scope="module")
def client(database: Path) -> Iterator[Client]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in ENVIRON.items():
            patch.setenv(name, value)
        settings_ = Settings(
            database_url=f"sqlite:///{database}",
            mappings_dir=s.REPO / "mappings",
            max_body_bytes=LIMIT,
        )
        loop = asyncio.new_event_loop()
        stack = contextlib.AsyncExitStack()
        app = create_app(settings_, run_worker=False)
        http = loop.run_until_complete(stack.enter_async_context(serving(app)))
        try:
            yield Client(loop, http)
        finally:
            loop.run_until_complete(stack.aclose())
            loop.close()
    with sqlite3.connect(database) as connection:
        [(stored,)] = connection.execute("SELECT COUNT(*) FROM events").fetchall()
    print(f"\nfuzz: {CASES['tried']} hostile requests tried, {stored} events stored")
    assert stored == 0


def sign(body: bytes, timestamp: int, secret: str = s.SECRET) -> str:
    """Stripe's scheme over arbitrary bytes (its library only signs text)."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def answer(
    client: Client,
    method: str,
    path: str,
    body: bytes | Iterable[bytes],
    headers: dict[str, str],
) -> int:
    """Headers go as raw latin-1 bytes, the way a hostile client can send them."""
    CASES["tried"] += 1
    raw = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]
    response = client.request(method, path, body, raw)
    assert response.status_code < 500, (response.status_code, response.text)
    assert s.SECRET not in response.text
    return response.status_code


BODIES = st.one_of(
    st.binary(max_size=2048),
    st.text(max_size=512).map(str.encode),
    st.sampled_from([b"", b"{", b"[]", b"null", b'{"id": 1}', b'{"type": "x"}', b"\xff\xfe{}"]),
    st.builds(lambda n: b'{"a":' * n + b"1" + b"}" * n, st.integers(1, 3000)),  # deep nesting
)
SIGNATURES = st.one_of(
    st.text(max_size=300),
    st.builds(lambda t, h: f"t={t},v1={h}", st.integers(-(2**40), 2**40), st.text(max_size=80)),
    st.just(""),
)
CONTENT_TYPES = st.sampled_from(
    ["application/json", "text/plain", "application/x-www-form-urlencoded", "", "a/b; c=\x7f"]
)


@PROFILE
@given(body=BODIES, signature=SIGNATURES, content_type=CONTENT_TYPES)
def test_forged_signatures_are_refused_with_401_or_400(
    client: Client, body: bytes, signature: str, content_type: str
) -> None:
    headers = {"stripe-signature": signature.encode("utf-8").decode("latin-1")}
    if content_type:
        headers["content-type"] = content_type
    assert answer(client, "POST", "/webhooks/stripe", body, headers) in (400, 401)


@PROFILE
@given(body=BODIES, age=st.integers(301, 10 * 365 * 86400), future=st.booleans())
def test_replayed_signatures_outside_the_window_are_refused(
    client: Client, body: bytes, age: int, future: bool
) -> None:
    moment = int(time.time()) + (age + 60 if future else -age)
    headers = {"stripe-signature": sign(body, moment)}
    assert answer(client, "POST", "/webhooks/stripe", body, headers) in (400, 401)


@PROFILE
@given(body=BODIES)
def test_a_correct_signature_over_a_body_that_is_no_event_is_400(
    client: Client, body: bytes
) -> None:
    headers = {"stripe-signature": sign(body, int(time.time()))}
    status = answer(client, "POST", "/webhooks/stripe", body, headers)
    assert status == 400


@PROFILE
@given(
    source=st.text(
        alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="/?#%"),
        max_size=40,
    ),
    method=st.sampled_from(["POST", "GET", "PUT", "DELETE", "PATCH", "OPTIONS"]),
)
def test_unknown_sources_odd_paths_and_methods_never_fail(
    client: Client, source: str, method: str
) -> None:
    status = answer(client, method, f"/webhooks/{source}", b"{}", {})
    assert status in (400, 401, 404, 405)


@PROFILE
@given(size=st.integers(LIMIT + 1, 4 * LIMIT), declared=st.booleans())
def test_bodies_over_the_limit_get_413_unread(client: Client, size: int, declared: bool) -> None:
    body = b"x" * size
    headers = {"stripe-signature": sign(body, int(time.time()))}
    sent = body if declared else [body[i : i + 8192] for i in range(0, size, 8192)]
    assert answer(client, "POST", "/webhooks/stripe", sent, headers) == 413


@PROFILE
@given(
    count=st.integers(1, 200),
    value=st.text(alphabet=st.characters(codec="latin-1"), max_size=4096),
)
def test_many_and_huge_headers_are_handled(client: Client, count: int, value: str) -> None:
    headers = {f"x-noise-{i}": value for i in range(count)}
    headers["stripe-signature"] = value
    assert answer(client, "POST", "/webhooks/stripe", b"{}", headers) in (400, 401)
