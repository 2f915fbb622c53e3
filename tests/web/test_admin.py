"""The admin API: off without a token, Bearer-guarded with one, same answers as the CLI."""

from __future__ import annotations

import secrets
from pathlib import Path
from urllib.parse import quote

import pytest
from pydantic import ValidationError

from bridge.cli import main
from bridge.runtime.settings import Settings
from bridge.web.app import create_app
from tests.support import stripe as s
from tests.support.app import admin_client, serving
from tests.support.senders import SENDERS, every_sender_settings

TOKEN = "adm_" + "7f3c9a1e5b2d4f60" * 2
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def admin_settings(settings: Settings) -> Settings:
    return Settings(**{**settings.model_dump(), "admin_token": TOKEN})


async def test_the_admin_api_does_not_exist_without_a_token(settings: Settings) -> None:
    app = create_app(settings, run_worker=False)
    async with serving(app), admin_client(app) as admin:
        response = await admin.get("/admin/events", headers=AUTH)
    assert response.status_code == 404


async def test_requests_without_the_right_token_are_refused(admin_settings: Settings) -> None:
    app = create_app(admin_settings, run_worker=False)
    async with serving(app), admin_client(app) as admin:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            response = await admin.get("/admin/events", headers=headers)
            assert response.status_code == 401
            assert response.headers["www-authenticate"] == "Bearer"
            assert TOKEN not in response.text


async def test_an_events_story_is_served_as_json(admin_settings: Settings) -> None:
    app = create_app(admin_settings, run_worker=False)
    async with serving(app) as client, admin_client(app) as admin:
        payload = s.event("checkout.session.completed", event_id="evt_admin")
        raw, headers = s.signed(payload)
        await client.post("/webhooks/stripe", content=raw, headers=headers)
        ignored, headers = s.signed({**payload, "id": "evt_other", "type": "customer.created"})
        await client.post("/webhooks/stripe", content=ignored, headers=headers)

        listed = await admin.get("/admin/events?outcome=accepted&since=1h", headers=AUTH)
        assert [e["event_id"] for e in listed.json()["events"]] == ["evt_admin"]
        trace = (await admin.get("/admin/events/stripe/evt_admin", headers=AUTH)).json()
        assert trace["event"]["outcome"] == "accepted"
        assert [r["rule"] for r in trace["rules"]] == ["stripe-checkout-paid"]
        [delivery] = trace["deliveries"]
        assert (delivery["destination"], delivery["status"]) == ("pagent", "pending")
        assert delivery["conversion"]["revenue"] == {"minor": 2499, "currency": "USD"}
        deliveries = await admin.get("/admin/deliveries?status=pending", headers=AUTH)
        assert [d["event_id"] for d in deliveries.json()["deliveries"]] == ["evt_admin"]


async def test_bad_queries_and_unknown_events_get_clear_answers(admin_settings: Settings) -> None:
    app = create_app(admin_settings, run_worker=False)
    async with serving(app), admin_client(app) as admin:
        missing = await admin.get("/admin/events/stripe/evt_nope", headers=AUTH)
        assert missing.status_code == 404
        assert missing.json() == {"error": "no event 'evt_nope' from source 'stripe' is stored"}
        for query in ("outcome=lost", "since=soon", "limit=0", "limit=many"):
            response = await admin.get(f"/admin/events?{query}", headers=AUTH)
            assert response.status_code == 400, query


def test_a_short_admin_token_is_refused_at_start(settings: Settings) -> None:
    with pytest.raises(ValueError, match="at least 16 characters"):
        Settings(**{**settings.model_dump(), "admin_token": "secret"})
    assert Settings(**{**settings.model_dump(), "admin_token": ""}).admin_token is None


async def test_the_admin_api_and_metrics_are_not_served_on_the_webhook_port(
    admin_settings: Settings,
) -> None:
    app = create_app(admin_settings, run_worker=False)
    async with serving(app) as public, admin_client(app) as admin:
        for path in ("/admin/events", "/admin/deliveries", "/metrics"):
            assert (await public.get(path, headers=AUTH)).status_code == 404, path
            assert (await admin.get(path, headers=AUTH)).status_code == 200, path
        assert (await admin.post("/webhooks/stripe", content=b"{}")).status_code == 404


async def test_an_event_whose_id_holds_a_slash_is_reachable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every Shopify and WooCommerce id holds one: `orders/paid:<delivery>`."""
    settings = every_sender_settings(tmp_path, monkeypatch, admin_token=TOKEN)
    shopify = SENDERS["shopify"]
    body = shopify.sample()
    signed = shopify.sign(body, shopify.now(), "http://bridge.test/webhooks/shopify")
    app = create_app(settings, run_worker=False)
    async with serving(app) as public, admin_client(app) as admin:
        answer = await public.post("/webhooks/shopify", content=body, headers=signed.headers)
        event_id = answer.json()["event_id"]
        assert event_id.startswith("orders/paid:")
        for path in (event_id, quote(event_id, safe="")):
            response = await admin.get(f"/admin/events/shopify/{path}", headers=AUTH)
            assert response.status_code == 200, path
            assert response.json()["event"]["event_id"] == event_id


@pytest.mark.parametrize(
    "token",
    [" " * 16, "\t" * 20, "a" * 16, "ab" * 16, TOKEN + "\n", TOKEN[:10] + "\x00" + TOKEN[10:]],
    ids=["blanks", "tabs", "one-character", "two-characters", "trailing-newline", "nul"],
)
def test_a_blank_or_guessable_admin_token_is_refused_at_start_without_showing_it(
    token: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if "\x00" in token:  # an environment cannot carry NUL; a .env file or a caller can
        with pytest.raises(ValidationError) as refused:
            Settings(admin_token=token)
        assert token not in str(refused.value)
        return
    monkeypatch.setenv("BRIDGE_ADMIN_TOKEN", token)
    assert main(["check"]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("error: BRIDGE_ADMIN_TOKEN: ")
    assert token.strip() == "" or token.strip() not in line


def test_a_random_admin_token_is_accepted() -> None:
    for token in (TOKEN, secrets.token_hex(32), secrets.token_urlsafe(24)):
        configured = Settings(admin_token=token).admin_token
        assert configured is not None
        assert configured.get_secret_value() == token
