"""`/identify/{ledger}` through the real app: answers, CORS, limits, and what is stored."""

from __future__ import annotations

import gzip
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import orjson
import pytest

from bridge.identity.beacon import MAX_BYTES
from bridge.runtime.settings import Settings
from bridge.store.identities import KnownIdentity
from bridge.web.app import BridgeApp, create_app
from bridge.web.identify import identify_ledger
from tests.identity.ledgers import ORIGIN, OTHER_ORIGIN, REF, beacon, ledger_mappings
from tests.support.app import admin_client, serving
from tests.support.identities import MemoryIdentities
from tests.support.mappings import ENVIRON
from tests.support.process import BridgeProcess

PLAIN = {"content-type": "text/plain;charset=UTF-8", "origin": ORIGIN}
BODY = orjson.dumps(beacon())


def settings_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **overrides: object) -> Settings:
    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'b.db'}",
        mappings_dir=ledger_mappings(tmp_path),
        **overrides,  # type: ignore[arg-type]
    )


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> BridgeApp:
    return create_app(settings_for(tmp_path, monkeypatch), run_worker=False)


@pytest.fixture
def memory(app: BridgeApp) -> MemoryIdentities:
    """The beacons' store: a ledger in memory instead of the app's SQLite file."""
    held = MemoryIdentities()
    assert app.identify is not None
    app.identify.identities = lambda: held
    return held


@pytest.fixture
async def client(app: BridgeApp) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(app) as client:
        yield client


async def recall(app: BridgeApp, ledger: str = "web", ref: str = REF) -> KnownIdentity | None:
    return await app.state.bridge.store.recall(ledger, ref, int(time.time() * 1000))  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("path", "ledger"),
    [
        ("/identify/web", "web"),
        ("/identify/", None),
        ("/identify/web/", None),
        ("/identify/web/x", None),
        ("/identify.js", None),
        ("/identifyweb", None),
    ],
)
def test_only_one_path_segment_after_identify_names_a_ledger(path: str, ledger: str | None) -> None:
    assert identify_ledger(path) == ledger


async def test_a_beacon_from_an_allowed_origin_is_stored_and_answered_204(
    client: httpx.AsyncClient, app: BridgeApp
) -> None:
    response = await client.post("/identify/web", content=BODY, headers=PLAIN)
    assert response.status_code == 204
    assert response.content == b""
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert response.headers["vary"] == "Origin"
    assert "set-cookie" not in response.headers
    known = await recall(app)  # the real SQLite store
    assert known is not None
    assert dict(known.vendors["pagent"].ids) == beacon()["ids"]["pagent"]  # type: ignore[index]
    captured = known.vendors["pagent"].captured_at
    assert abs(captured - time.time() * 1000) < 60_000


async def test_a_json_beacon_is_stored_in_memory_too(
    client: httpx.AsyncClient, memory: MemoryIdentities
) -> None:
    ids = {"convert": {"visitor_id": "v_1", "bucketing": {"100": "200"}}}
    headers = {**PLAIN, "content-type": "application/json"}
    response = await client.post(
        "/identify/web", content=orjson.dumps(beacon(**ids)), headers=headers
    )
    assert response.status_code == 204
    [(key, sighting)] = memory.sightings.items()
    assert key == ("web", REF, "convert")
    assert sighting.ids == ids["convert"]
    assert sighting.expires_at - sighting.captured_at == 90 * 86_400_000


async def test_an_identical_repeat_is_answered_alike_and_writes_nothing(
    client: httpx.AsyncClient, memory: MemoryIdentities
) -> None:
    first = await client.post("/identify/web", content=BODY, headers=PLAIN)
    kept = dict(memory.sightings)
    again = await client.post("/identify/web", content=BODY, headers=PLAIN)
    assert (first.status_code, again.status_code) == (204, 204)
    assert memory.sightings == kept


@pytest.mark.parametrize(
    "headers",
    [
        {"content-type": "text/plain", "origin": OTHER_ORIGIN},
        {"content-type": "text/plain", "origin": ORIGIN + "/"},
        {"content-type": "text/plain", "origin": "null"},
        {"content-type": "text/plain", "origin": "http://shop.example.com"},
        {"content-type": "text/plain"},
    ],
    ids=["other", "with-slash", "null", "http", "missing"],
)
async def test_an_origin_not_allowed_is_403_without_cors_headers_and_stores_nothing(
    client: httpx.AsyncClient, memory: MemoryIdentities, headers: dict[str, str]
) -> None:
    response = await client.post("/identify/web", content=BODY, headers=headers)
    assert response.status_code == 403
    assert response.json() == {"error": "origin not allowed"}
    assert not any(name.startswith("access-control-") for name in response.headers)
    assert memory.sightings == {}


async def test_an_unknown_ledger_is_404(
    client: httpx.AsyncClient, memory: MemoryIdentities
) -> None:
    response = await client.post("/identify/shop", content=BODY, headers=PLAIN)
    assert response.status_code == 404
    assert "access-control-allow-origin" not in response.headers
    assert memory.sightings == {}


async def test_a_body_over_8_kib_is_413_and_stores_nothing(
    client: httpx.AsyncClient, memory: MemoryIdentities
) -> None:
    padded = beacon(pagent={"session_id": "s" * 200}, convert={"segments": {}})
    oversized = orjson.dumps(padded)[:-1] + b" " * (9 * 1024) + b"}"
    response = await client.post("/identify/web", content=oversized, headers=PLAIN)
    assert response.status_code == 413
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert memory.sightings == {}


async def test_a_body_over_the_cap_is_refused_without_being_read_whole(
    app: BridgeApp, memory: MemoryIdentities
) -> None:
    """Chunks keep coming; the endpoint stops reading at the first one past 8 KiB."""
    read = 0

    async def receive() -> dict[str, object]:
        nonlocal read
        read += 1024
        return {"type": "http.request", "body": b" " * 1024, "more_body": True}

    sent: list[dict[str, object]] = []

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/identify/web",
        "headers": [(b"origin", ORIGIN.encode()), (b"content-type", b"text/plain")],
        "client": ("203.0.113.9", 5000),
    }
    async with serving(app):
        await app(scope, receive, send)  # type: ignore[arg-type]
    assert sent[0]["status"] == 413
    assert read <= MAX_BYTES + 1024
    assert memory.sightings == {}


async def test_a_declared_length_over_the_cap_is_refused_before_reading(
    client: httpx.AsyncClient, memory: MemoryIdentities
) -> None:
    headers = {**PLAIN, "content-length": str(MAX_BYTES + 1)}
    response = await client.post("/identify/web", content=b"x" * (MAX_BYTES + 1), headers=headers)
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"not json", "body is not JSON (UTF-8)"),
        (b"[1, 2]", "body must be a JSON object, not an array"),
        (
            orjson.dumps({**beacon(), "cookie": "x"}),
            "unknown key 'cookie' (allowed: consent, ids, ref, v)",
        ),
        (
            orjson.dumps(beacon(scanova={"session_id": "x"})),
            "ids.scanova: this ledger does not take scanova ids",
        ),
    ],
)
async def test_a_malformed_beacon_is_400_with_a_one_line_reason(
    client: httpx.AsyncClient, memory: MemoryIdentities, body: bytes, error: str
) -> None:
    response = await client.post("/identify/web", content=body, headers=PLAIN)
    assert response.status_code == 400
    assert response.json() == {"error": error}
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert memory.sightings == {}


async def test_another_content_type_is_400(
    client: httpx.AsyncClient, memory: MemoryIdentities
) -> None:
    headers = {**PLAIN, "content-type": "application/x-www-form-urlencoded"}
    response = await client.post("/identify/web", content=BODY, headers=headers)
    assert response.status_code == 400
    assert memory.sightings == {}


async def test_an_encoded_body_is_400(client: httpx.AsyncClient, memory: MemoryIdentities) -> None:
    headers = {**PLAIN, "content-encoding": "gzip"}
    response = await client.post("/identify/web", content=gzip.compress(BODY), headers=headers)
    assert response.status_code == 400
    assert response.json() == {"error": "body must not be compressed or otherwise encoded"}
    assert memory.sightings == {}


async def test_other_methods_are_405(client: httpx.AsyncClient) -> None:
    response = await client.get("/identify/web", headers={"origin": ORIGIN})
    assert response.status_code == 405


async def test_a_flooding_client_gets_429_while_another_still_gets_204(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_for(tmp_path, monkeypatch, identify_rate=0.5, identify_burst=3)
    app = create_app(settings, run_worker=False)
    memory = MemoryIdentities()
    assert app.identify is not None
    app.identify.identities = lambda: memory
    flooder = httpx.ASGITransport(app=app, client=("198.51.100.7", 40000))
    visitor = httpx.ASGITransport(app=app, client=("203.0.113.20", 40000))
    async with (
        serving(app),
        httpx.AsyncClient(transport=flooder, base_url="http://bridge.test") as flood,
        httpx.AsyncClient(transport=visitor, base_url="http://bridge.test") as other,
    ):
        answers = [
            (await flood.post("/identify/web", content=BODY, headers=PLAIN)) for _ in range(10)
        ]
        assert [a.status_code for a in answers] == [204] * 3 + [429] * 7
        assert answers[-1].headers["retry-after"] == "2"
        assert answers[-1].json() == {"error": "rate limited"}
        other_body = orjson.dumps({**beacon(), "ref": "z" * 22})
        assert (
            await other.post("/identify/web", content=other_body, headers=PLAIN)
        ).status_code == 204
    assert {key[1] for key in memory.sightings} == {REF, "z" * 22}


async def test_x_forwarded_for_names_the_client_only_when_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def statuses(trusted: bool) -> list[int]:
        settings = settings_for(
            tmp_path, monkeypatch, identify_burst=1, identify_trust_forwarded=trusted
        )
        app = create_app(settings, run_worker=False)
        assert app.identify is not None
        app.identify.identities = MemoryIdentities
        async with serving(app) as client:
            return [
                (
                    await client.post(
                        "/identify/web",
                        content=BODY,
                        headers={**PLAIN, "x-forwarded-for": f"192.0.2.{n}, 10.0.0.1"},
                    )
                ).status_code
                for n in range(3)
            ]

    assert await statuses(trusted=False) == [204, 429, 429]  # one peer: one bucket
    assert await statuses(trusted=True) == [204, 204, 204]  # each first hop its own


async def test_consent_not_granted_stores_nothing_when_the_ledger_requires_it(
    client: httpx.AsyncClient, memory: MemoryIdentities
) -> None:
    for consent in ("denied", "pending", None):
        body = beacon() if consent is None else {**beacon(), "consent": consent}
        response = await client.post("/identify/strict", content=orjson.dumps(body), headers=PLAIN)
        assert response.status_code == 204
    assert memory.sightings == {}
    granted = orjson.dumps({**beacon(), "consent": "granted"})
    assert (
        await client.post("/identify/strict", content=granted, headers=PLAIN)
    ).status_code == 204
    [sighting] = memory.sightings.values()
    assert sighting.ledger == "strict"
    assert sighting.expires_at - sighting.captured_at == 30 * 86_400_000


async def test_a_beacon_that_denies_consent_stores_nothing_on_any_ledger(
    client: httpx.AsyncClient, memory: MemoryIdentities
) -> None:
    denied = orjson.dumps({**beacon(), "consent": "denied"})
    assert (await client.post("/identify/web", content=denied, headers=PLAIN)).status_code == 204
    assert memory.sightings == {}


async def test_a_preflight_is_answered_for_allowed_origins_only(
    client: httpx.AsyncClient, memory: MemoryIdentities
) -> None:
    asked = {
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type",
    }
    allowed = await client.options("/identify/web", headers={**asked, "origin": ORIGIN})
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    assert allowed.headers["access-control-allow-methods"] == "POST"
    assert allowed.headers["access-control-allow-headers"] == "content-type"
    assert allowed.headers["vary"] == "Origin"
    refused = await client.options("/identify/web", headers={**asked, "origin": OTHER_ORIGIN})
    assert refused.status_code == 403
    assert not any(name.startswith("access-control-") for name in refused.headers)
    unknown = await client.options("/identify/shop", headers={**asked, "origin": ORIGIN})
    assert unknown.status_code == 404
    assert memory.sightings == {}


async def test_the_store_unavailable_is_503(client: httpx.AsyncClient, app: BridgeApp) -> None:
    from bridge.store.base import StoreUnavailable

    class Down(MemoryIdentities):
        async def remember(self, sightings: object) -> int:
            raise StoreUnavailable("disk full")

    assert app.identify is not None
    app.identify.identities = Down
    response = await client.post("/identify/web", content=BODY, headers=PLAIN)
    assert response.status_code == 503
    assert response.json() == {"error": "store unavailable"}


async def test_answers_are_counted_by_ledger_and_status_with_bounded_labels(
    client: httpx.AsyncClient, app: BridgeApp, memory: MemoryIdentities
) -> None:
    await client.post("/identify/web", content=BODY, headers=PLAIN)
    await client.post("/identify/web", content=b"{}", headers=PLAIN)
    for n in range(5):
        await client.post(f"/identify/scan-{n}", content=BODY, headers=PLAIN)
    async with admin_client(app) as admin:
        page = (await admin.get("/metrics")).text
    assert 'bridge_identify_requests_total{ledger="web",status="204"} 1.0' in page
    assert 'bridge_identify_requests_total{ledger="web",status="400"} 1.0' in page
    assert 'bridge_identify_requests_total{ledger="(unknown)",status="404"} 5.0' in page
    assert "scan-" not in page


async def test_a_refused_beacon_is_logged_without_its_values(
    client: httpx.AsyncClient, memory: MemoryIdentities, caplog: pytest.LogCaptureFixture
) -> None:
    hostile = {**beacon(), "ref": "secret-looking-value-" + "q" * 30 + "!"}
    with caplog.at_level(logging.INFO, logger="bridge.identify"):
        await client.post("/identify/web", content=orjson.dumps(hostile), headers=PLAIN)
        await client.post("/identify/web", content=BODY, headers={**PLAIN, "origin": OTHER_ORIGIN})
    lines = [r for r in caplog.records if r.name == "bridge.identify"]
    assert [(r.getMessage(), r.status, r.reason) for r in lines] == [  # type: ignore[attr-defined]
        ("beacon refused", 400, "malformed ref"),
        ("beacon refused", 403, "origin not allowed"),
    ]
    assert "secret-looking" not in caplog.text
    assert OTHER_ORIGIN not in caplog.text


async def test_cookies_are_never_read(client: httpx.AsyncClient, memory: MemoryIdentities) -> None:
    headers = {**PLAIN, "cookie": "bridge_ref=" + "c" * 30}
    response = await client.post("/identify/web", content=BODY, headers=headers)
    assert response.status_code == 204
    assert {key[1] for key in memory.sightings} == {REF}
    assert "set-cookie" not in response.headers


def test_a_beacon_over_a_real_socket_is_stored(tmp_path: Path) -> None:
    process = BridgeProcess(tmp_path, {"BRIDGE_MAPPINGS_DIR": str(ledger_mappings(tmp_path))})
    try:
        process.start("--no-worker")
        response = process.post("/identify/web", BODY, PLAIN)
        assert response.status_code == 204
        assert response.headers["access-control-allow-origin"] == ORIGIN
        refused = process.post("/identify/web", BODY, {**PLAIN, "origin": OTHER_ORIGIN})
        assert refused.status_code == 403
    finally:
        process.stop()
    rows = process.rows("SELECT ledger, ref, vendor FROM identity_sightings")
    assert rows == [("web", REF, "pagent")]


def test_a_forwarded_address_is_not_trusted_unless_configured(tmp_path: Path) -> None:
    """Over a real socket from 127.0.0.1: the server does not take X-Forwarded-For as the
    client on its own, so forged hops cannot each get a fresh rate-limit bucket."""
    process = BridgeProcess(
        tmp_path,
        {
            "BRIDGE_MAPPINGS_DIR": str(ledger_mappings(tmp_path)),
            "BRIDGE_IDENTIFY_BURST": "1",
            "BRIDGE_IDENTIFY_RATE": "0.01",
        },
    )
    try:
        process.start("--no-worker")
        statuses = [
            process.post(
                "/identify/web", BODY, {**PLAIN, "x-forwarded-for": f"192.0.2.{n}"}
            ).status_code
            for n in range(3)
        ]
    finally:
        process.stop()
    assert statuses == [204, 429, 429]
