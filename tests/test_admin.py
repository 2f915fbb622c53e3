"""The admin API: off without a token, Bearer-guarded with one, same answers as the CLI."""

from __future__ import annotations

import httpx
import pytest

from bridge.app import create_app
from bridge.settings import Settings
from tests.support import stripe as s
from tests.support.app import serving

TOKEN = "adm_" + "7f3c9a1e5b2d4f60" * 2
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def admin_settings(settings: Settings) -> Settings:
    return Settings(**{**settings.model_dump(), "admin_token": TOKEN})


async def test_the_admin_api_does_not_exist_without_a_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/admin/events", headers=AUTH)
    assert response.status_code == 404


async def test_requests_without_the_right_token_are_refused(admin_settings: Settings) -> None:
    async with serving(create_app(admin_settings, run_worker=False)) as client:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            response = await client.get("/admin/events", headers=headers)
            assert response.status_code == 401
            assert response.headers["www-authenticate"] == "Bearer"
            assert TOKEN not in response.text


async def test_an_events_story_is_served_as_json(admin_settings: Settings) -> None:
    async with serving(create_app(admin_settings, run_worker=False)) as client:
        payload = s.event("checkout.session.completed", event_id="evt_admin")
        raw, headers = s.signed(payload)
        await client.post("/webhooks/stripe", content=raw, headers=headers)
        ignored, headers = s.signed({**payload, "id": "evt_other", "type": "customer.created"})
        await client.post("/webhooks/stripe", content=ignored, headers=headers)

        listed = await client.get("/admin/events?outcome=accepted&since=1h", headers=AUTH)
        assert [e["event_id"] for e in listed.json()["events"]] == ["evt_admin"]
        trace = (await client.get("/admin/events/stripe/evt_admin", headers=AUTH)).json()
        assert trace["event"]["outcome"] == "accepted"
        assert [r["rule"] for r in trace["rules"]] == ["stripe-checkout-paid"]
        [delivery] = trace["deliveries"]
        assert (delivery["destination"], delivery["status"]) == ("pagent", "pending")
        assert delivery["conversion"]["revenue"] == {"minor": 2499, "currency": "USD"}
        deliveries = await client.get("/admin/deliveries?status=pending", headers=AUTH)
        assert [d["event_id"] for d in deliveries.json()["deliveries"]] == ["evt_admin"]


async def test_bad_queries_and_unknown_events_get_clear_answers(admin_settings: Settings) -> None:
    async with serving(create_app(admin_settings, run_worker=False)) as client:
        missing = await client.get("/admin/events/stripe/evt_nope", headers=AUTH)
        assert missing.status_code == 404
        assert missing.json() == {"error": "no event 'evt_nope' from source 'stripe' is stored"}
        for query in ("outcome=lost", "since=soon", "limit=0", "limit=many"):
            response = await client.get(f"/admin/events?{query}", headers=AUTH)
            assert response.status_code == 400, query


def test_a_short_admin_token_is_refused_at_start(settings: Settings) -> None:
    with pytest.raises(ValueError, match="at least 16 characters"):
        Settings(**{**settings.model_dump(), "admin_token": "secret"})
    assert Settings(**{**settings.model_dump(), "admin_token": ""}).admin_token is None
