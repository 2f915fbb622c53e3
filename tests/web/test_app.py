from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bridge.runtime.settings import Settings
from bridge.store.base import EventFilter
from bridge.web.app import BridgeApp, create_app
from tests.support import stripe as s
from tests.support.app import admin_client, serving


async def test_a_signed_webhook_is_accepted_with_a_request_id(client: httpx.AsyncClient) -> None:
    raw, headers = s.signed(s.event("checkout.session.completed", event_id="evt_app"))
    response = await client.post("/webhooks/stripe", content=raw, headers=headers)
    assert response.status_code == 200
    assert response.json() == {"status": "accepted", "event_id": "evt_app", "deliveries": 1}
    assert len(response.headers["x-request-id"]) == 32


async def test_a_body_over_the_limit_is_refused_before_it_is_read(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/webhooks/stripe", content=b"x" * 5000, headers={"Stripe-Signature": "t=1,v1=0"}
    )
    assert response.status_code == 413
    assert response.json() == {"error": "body larger than 4096 bytes"}


async def test_a_streamed_body_over_the_limit_is_cut_off(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"x" * 1000

    response = await client.post(
        "/webhooks/stripe", content=chunks(), headers={"Stripe-Signature": "t=1,v1=0"}
    )
    assert response.status_code == 413


async def test_unknown_sources_and_wrong_methods(client: httpx.AsyncClient) -> None:
    assert (await client.post("/webhooks/nope", content=b"{}")).status_code == 404
    assert (await client.get("/webhooks/stripe")).status_code == 405


async def test_a_trailing_slash_is_the_same_webhook(client: httpx.AsyncClient) -> None:
    """Senders do not follow redirects: a URL entered with a slash must not answer 307."""
    raw, headers = s.signed(s.event("checkout.session.completed", event_id="evt_slash"))
    response = await client.post("/webhooks/stripe/", content=raw, headers=headers)
    assert response.status_code == 200
    assert response.json()["event_id"] == "evt_slash"
    assert (await client.get("/healthz/")).status_code == 404


@pytest.mark.parametrize("coding", ["gzip", "br", "deflate, gzip"])
async def test_a_content_coding_bridge_does_not_decode_is_refused_before_verification(
    app: BridgeApp, client: httpx.AsyncClient, coding: str
) -> None:
    raw, headers = s.signed(s.event("checkout.session.completed"))
    response = await client.post(
        "/webhooks/stripe", content=raw, headers={**headers, "Content-Encoding": coding}
    )
    assert response.status_code == 415
    assert response.json() == {"error": f"content coding {coding!r} is not supported"}
    assert response.headers["accept-encoding"] == "identity"
    assert await app.state.bridge.store.list_events(EventFilter(), 10) == []
    identity = {**headers, "Content-Encoding": "identity"}
    assert (await client.post("/webhooks/stripe", content=raw, headers=identity)).status_code == 200


async def test_health_and_readiness(app: BridgeApp, client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    public = await client.get("/readyz")
    assert public.status_code == 200
    assert public.json() == {"status": "ready"}
    async with admin_client(app) as admin:
        ready = await admin.get("/readyz")
        assert (await admin.get("/healthz")).json() == {"status": "ok"}
    assert ready.status_code == 200
    assert ready.json()["store"] == "ok"
    mappings = ready.json()["mappings"]
    assert mappings.pop("version") == app.state.bridge.config.version
    assert mappings == {
        "reload_problem": None,
        "files": 3,
        "sources": ["stripe"],
        "destinations": ["pagent"],
        "rules": 3,
    }
    assert ready.json()["warnings"] == []


async def test_readiness_reports_a_secret_that_is_not_set_on_the_admin_port_only(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PAGENT_API_KEY")
    app = create_app(settings, run_worker=False)
    async with serving(app) as client, admin_client(app) as admin:
        public = await client.get("/readyz")
        ready = await admin.get("/readyz")
    assert "PAGENT_API_KEY" not in public.text
    assert ready.status_code == 200
    [warning] = ready.json()["warnings"]
    assert "PAGENT_API_KEY is not set; deliveries to it wait until it is" in warning


async def test_readiness_fails_when_the_store_does_not_answer(
    app: BridgeApp, client: httpx.AsyncClient
) -> None:
    await app.state.bridge.store.close()
    public = await client.get("/readyz")
    assert public.status_code == 503
    assert public.json() == {"status": "not ready"}
    async with admin_client(app) as admin:
        ready = await admin.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["store"].startswith("unavailable")


async def test_readiness_flags_a_salesforce_source_without_a_token_on_the_admin_port_only(
    settings: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "mappings"
    shutil.copytree(s.REPO / "mappings", folder)
    (folder / "salesforce.yaml").write_text(
        "sources:\n  salesforce:\n    kind: salesforce\n"
        '    organization_ids: ["00D5g000004XyZaEAK"]\n    allow_without_token: true\n'
    )
    app = create_app(settings.model_copy(update={"mappings_dir": folder}), run_worker=False)
    async with serving(app) as client, admin_client(app) as admin:
        public = await client.get("/readyz")
        ready = await admin.get("/readyz")
    assert public.json() == {"status": "ready"}
    flagged = [w for w in ready.json()["warnings"] if "allow_without_token" in w]
    assert len(flagged) == 1
    assert flagged[0].startswith(f"source 'salesforce' ({folder / 'salesforce.yaml'}:2)")
    assert "anyone who knows the organization id" in flagged[0]
