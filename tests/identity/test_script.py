"""`GET /identify.js` as a browser and a CDN see it: the file's bytes, cacheable, versioned."""

from __future__ import annotations

import fnmatch
import gzip
import hashlib
import tomllib
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from bridge.web.identify_script import identify_script_route
from tests.support.stripe import REPO

SOURCE = REPO / "bridge" / "identity" / "identify.js"
VERSION = hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:12]
PLAIN = {"Accept-Encoding": "identity"}


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = Starlette(routes=[identify_script_route])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bridge.test") as client:
        yield client


async def test_it_serves_the_file_as_javascript_cacheable_for_an_hour(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/identify.js", headers=PLAIN)
    assert response.status_code == 200
    assert response.content == SOURCE.read_bytes()
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert response.headers["cache-control"] == "public, max-age=3600"
    assert response.headers["etag"] == f'"{VERSION}"'
    assert response.headers["vary"] == "Accept-Encoding"
    assert "content-encoding" not in response.headers


async def test_it_gzips_when_asked_and_stays_a_few_kilobytes(client: httpx.AsyncClient) -> None:
    async with client.stream("GET", "/identify.js", headers={"Accept-Encoding": "gzip"}) as answer:
        wire = b"".join([chunk async for chunk in answer.aiter_raw()])
    assert answer.headers["content-encoding"] == "gzip"
    assert answer.headers["etag"] == f'"{VERSION}-gzip"'
    assert gzip.decompress(wire) == SOURCE.read_bytes()
    assert len(wire) < 6 * 1024, "identify.js is meant to stay a few KB on the wire"


@pytest.mark.parametrize(
    ("encoding", "etag"),
    [("identity", f'"{VERSION}"'), ("gzip", f'"{VERSION}-gzip"'), ("gzip", f'W/"{VERSION}-gzip"')],
)
async def test_a_cached_copy_is_answered_with_304(
    client: httpx.AsyncClient, encoding: str, etag: str
) -> None:
    headers = {"Accept-Encoding": encoding, "If-None-Match": f'"other", {etag}'}
    response = await client.get("/identify.js", headers=headers)
    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == etag.removeprefix("W/")


async def test_an_older_copy_gets_the_current_bytes(client: httpx.AsyncClient) -> None:
    headers = {**PLAIN, "If-None-Match": '"000000000000"'}
    response = await client.get("/identify.js", headers=headers)
    assert response.status_code == 200
    assert response.content == SOURCE.read_bytes()


async def test_the_current_version_in_the_query_may_be_kept_for_a_year(
    client: httpx.AsyncClient,
) -> None:
    current = await client.get(f"/identify.js?v={VERSION}", headers=PLAIN)
    assert current.headers["cache-control"] == "public, max-age=31536000, immutable"
    stale = await client.get("/identify.js?v=000000000000", headers=PLAIN)
    assert stale.headers["cache-control"] == "public, max-age=3600"
    assert stale.content == current.content == SOURCE.read_bytes()


async def test_head_answers_the_headers_only(client: httpx.AsyncClient) -> None:
    response = await client.head("/identify.js", headers=PLAIN)
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["etag"] == f'"{VERSION}"'


def test_the_script_ships_in_the_wheel() -> None:
    """An installed bridge (the image, `pip install`) has no source tree to read it from."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["bridge"]
    assert any(fnmatch.fnmatch("identity/identify.js", pattern) for pattern in patterns)
