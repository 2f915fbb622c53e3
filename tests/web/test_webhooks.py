from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from bridge.store.base import EventFilter
from bridge.web.webhooks import webhook_source
from tests.support import stripe as s


@pytest.mark.parametrize(
    ("path", "source"),
    [
        ("/webhooks/stripe", "stripe"),
        ("/webhooks/stripe/", "stripe"),
        ("/webhooks/shopify-eu", "shopify-eu"),
        ("/webhooks/", None),
        ("/webhooks//", None),
        ("/webhooks/stripe//", None),
        ("/webhooks/stripe/extra", None),
        ("/webhooksstripe", None),
        ("/healthz", None),
    ],
)
def test_only_one_path_segment_after_webhooks_names_a_source(path: str, source: str | None) -> None:
    assert webhook_source(path) == source


async def test_a_path_below_a_source_is_not_a_webhook(client: httpx.AsyncClient) -> None:
    raw, headers = s.signed(s.event("checkout.session.completed"))
    response = await client.post("/webhooks/stripe/extra", content=raw, headers=headers)
    assert response.status_code == 404


async def test_answers_carry_their_type_length_and_request_id(client: httpx.AsyncClient) -> None:
    raw, headers = s.signed(s.event("invoice.paid"))
    response = await client.post("/webhooks/stripe", content=raw, headers=headers)
    assert response.headers["content-type"] == "application/json"
    assert int(response.headers["content-length"]) == len(response.content)
    refused = await client.post("/webhooks/stripe", content=raw, headers={"Stripe-Signature": "x"})
    assert refused.status_code == 401
    assert refused.headers["x-request-id"] != response.headers["x-request-id"]


async def test_an_unexpected_failure_is_a_500_and_is_not_swallowed(
    app: Starlette, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: Any) -> None:
        raise RuntimeError("a bug in the ingest path")

    monkeypatch.setattr(app.state.bridge.ingestor, "receive", broken)
    raw, headers = s.signed(s.event("invoice.paid"))
    with pytest.raises(RuntimeError, match="a bug in the ingest path"):
        await client.post("/webhooks/stripe", content=raw, headers=headers)

    lenient = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
        base_url="http://bridge.test",
    )
    async with lenient:
        response = await lenient.post("/webhooks/stripe", content=raw, headers=headers)
    assert response.status_code == 500
    assert response.text == "Internal Server Error"
    assert response.headers["connection"] == "close"  # the server closes it after the answer


async def test_a_sender_that_hangs_up_mid_body_stores_nothing(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    messages = iter([{"type": "http.request", "body": b"{", "more_body": True}])

    async def receive() -> dict[str, Any]:
        return next(messages, {"type": "http.disconnect"})

    sent: list[dict[str, Any]] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/webhooks/stripe",
        "headers": [(b"stripe-signature", b"t=1,v1=00")],
        "query_string": b"",
    }
    await app(scope, receive, send)
    assert sent[0]["status"] == 400
    assert await app.state.bridge.store.list_events(EventFilter(), 10) == []


async def test_webhooks_are_answered_behind_a_root_path(app: Starlette) -> None:
    raw, headers = s.signed(s.event("invoice.paid", event_id="evt_behind_a_prefix"))
    transport = httpx.ASGITransport(app=app, root_path="/bridge")
    prefixed = httpx.AsyncClient(transport=transport, base_url="http://bridge.test")
    async with prefixed, app.router.lifespan_context(app):
        response = await prefixed.post("/bridge/webhooks/stripe", content=raw, headers=headers)
    assert response.status_code == 200
    assert response.json()["event_id"] == "evt_behind_a_prefix"
