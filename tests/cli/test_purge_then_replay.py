"""Purging delivered conversions, then replaying their events: nothing is queued twice, and a
dry run answers what the replay then does. Through the commands, on both stores."""

from __future__ import annotations

import asyncio
import io
import time

import orjson
import pytest

from bridge.cli import main
from bridge.mapping import load_config
from bridge.store import open_store
from bridge.store.base import AttemptRecord
from bridge.use_cases.ingest import Ingestor
from tests.support import stripe as s
from tests.support.mappings import ENVIRON


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    url: str = (
        f"sqlite:///{request.getfixturevalue('environment')}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    monkeypatch.setenv("BRIDGE_DATABASE_URL", url)
    return url


async def deliver_checkouts(url: str, *event_ids: str) -> None:
    """Each event received through the shipped mappings, and its delivery answered 200."""
    store = await open_store(url)
    try:
        ingestor = Ingestor(load_config(s.REPO / "mappings", ENVIRON), store)
        for index, event_id in enumerate(event_ids):
            paid = s.event(
                "checkout.session.completed", event_id=event_id, payment_intent=f"pi_{index}"
            )
            reply = await ingestor.receive("stripe", s.inbound(paid))
            assert reply.body["status"] == "accepted"
        claimed = await store.claim("w", now_ms(), 10, 60_000, ["pagent"])
        done = [AttemptRecord(d.id, "delivered", now_ms(), 3, http_status=200) for d in claimed]
        await store.record("w", done)
    finally:
        await store.close()


def now_ms() -> int:
    return int(time.time() * 1000)


def run_json(capsys: pytest.CaptureFixture[str], *command: str) -> list[dict[str, object]]:
    capsys.readouterr()
    assert main([*command, "--json"]) == 0
    document: list[dict[str, object]] = orjson.loads(capsys.readouterr().out)
    return document


def test_replay_after_a_purge_queues_nothing_and_the_dry_run_said_so(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(deliver_checkouts(database_url, "evt_a", "evt_b"))
    assert main(["deliveries", "purge", "--status", "delivered", "--yes"]) == 0
    assert capsys.readouterr().out.startswith("2 finished deliveries purged")
    assert run_json(capsys, "deliveries", "list") == []

    planned = run_json(capsys, "replay", "evt_a", "evt_b", "--dry-run")
    replayed = run_json(capsys, "replay", "evt_a", "evt_b")
    assert [(r["after"], r["new_deliveries"]) for r in planned] == [("accepted", 0)] * 2
    assert [(r["after"], r["new_deliveries"], r["reason"]) for r in replayed] == [
        (r["after"], r["new_deliveries"], r["reason"]) for r in planned
    ]
    assert run_json(capsys, "deliveries", "list") == []


def test_a_dry_run_counts_a_purchase_two_events_report_once(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(deliver_checkouts(database_url, "evt_a"))
    planned = run_json(capsys, "replay", "evt_a", "--dry-run")
    assert [(r["after"], r["new_deliveries"]) for r in planned] == [("accepted", 0)]
    capsys.readouterr()
    assert main(["replay", "evt_a", "--dry-run"]) == 0
    assert "0 deliveries planned" in capsys.readouterr().out


def test_purge_asks_first_and_says_what_it_keeps(
    database_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    asyncio.run(deliver_checkouts(database_url, "evt_a"))
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))  # not a terminal: never assumed
    assert main(["deliveries", "purge", "--status", "delivered"]) == 2
    err = capsys.readouterr().err
    assert "identity is kept" in err
    assert "nothing purged" in err
    assert len(run_json(capsys, "deliveries", "list")) == 1
