from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from bridge.app import create_app
from bridge.settings import Settings
from tests.support import stripe as s
from tests.support.app import serving


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


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["store"] == "ok"
    assert ready.json()["mappings"] == {
        "files": 3,
        "sources": ["stripe"],
        "destinations": ["pagent"],
        "rules": 3,
    }
    assert ready.json()["warnings"] == []


async def test_readiness_reports_a_secret_that_is_not_set(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PAGENT_API_KEY")
    async with serving(create_app(settings, run_worker=False)) as client:
        ready = await client.get("/readyz")
    assert ready.status_code == 200
    [warning] = ready.json()["warnings"]
    assert "PAGENT_API_KEY is not set; deliveries to it wait until it is" in warning


async def test_readiness_fails_when_the_store_does_not_answer(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await app.state.bridge.store.close()
    ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["store"].startswith("unavailable")
