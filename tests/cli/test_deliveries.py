from __future__ import annotations

import asyncio
import time
from pathlib import Path

import orjson
import pytest

from bridge.cli import main
from bridge.store.base import AttemptRecord
from bridge.store.sqlite import SQLiteStore
from bridge.utilities.times import format_moment
from tests.store.conftest import HOUR, NOW, new_event


async def store_dead_delivery(database: Path) -> None:
    """A delivery pagent refused for good, and one still pending."""
    store = await SQLiteStore.open(database)
    await store.ingest([new_event("evt_dead", ("pagent", "k1"))])
    [claimed] = await store.claim("w", NOW, 10, 1000, ["pagent"])
    answer = 'HTTP 400: {"error":"bad revenue"}'
    await store.record(
        "w", [AttemptRecord(claimed.id, "dead", NOW, 3, http_status=400, answer=answer)]
    )
    await store.ingest([new_event("evt_waiting", ("pagent", "k2"))])
    await store.close()


def test_dead_deliveries_are_listed_with_the_vendor_answer_and_can_be_retried(
    environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(store_dead_delivery(environment))
    assert main(["deliveries", "list", "--status", "dead", "--json"]) == 0
    [dead] = orjson.loads(capsys.readouterr().out)
    assert (dead["event_id"], dead["last_answer"]) == (
        "evt_dead",
        'HTTP 400: {"error":"bad revenue"}',
    )
    assert main(["deliveries", "list", "--status", "dead"]) == 0
    assert 'HTTP 400: {"error":"bad revenue"}' in capsys.readouterr().out
    assert main(["deliveries", "retry", "--status", "dead"]) == 0
    assert capsys.readouterr().out == "1 deliveries are due now\n"
    assert main(["deliveries", "list", "--status", "pending", "--json"]) == 0
    pending = orjson.loads(capsys.readouterr().out)
    assert [d["event_id"] for d in pending] == ["evt_waiting", "evt_dead"]


def test_retry_needs_ids_or_a_status(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["deliveries", "retry"]) == 2


def test_purge_forgets_dead_letters_but_never_pending_deliveries(
    environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(store_dead_delivery(environment))
    assert main(["deliveries", "purge"]) == 2
    assert main(["deliveries", "list", "--status", "pending", "--json"]) == 0
    [pending] = orjson.loads(capsys.readouterr().out)
    assert main(["deliveries", "purge", str(pending["id"]), "--yes"]) == 0
    assert capsys.readouterr().out.startswith("0 finished deliveries purged")
    assert main(["deliveries", "purge", "--status", "dead", "--yes"]) == 0
    assert capsys.readouterr().out.startswith("1 finished deliveries purged")
    assert main(["deliveries", "list", "--json"]) == 0
    assert [d["event_id"] for d in orjson.loads(capsys.readouterr().out)] == ["evt_waiting"]


def test_a_delivery_waiting_for_an_unset_secret_says_so(
    environment: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(store_dead_delivery(environment))
    monkeypatch.delenv("PAGENT_API_KEY")
    assert main(["deliveries", "list", "--status", "pending"]) == 0
    [header, row, reason] = capsys.readouterr().out.splitlines()
    assert header.split()[-1] == "ANSWER"
    assert row.split()[:5] == ["2", "pending", "pagent", "0", "waiting"]
    assert reason.strip() == "waiting: PAGENT_API_KEY is not set"


def test_deliveries_are_listed_when_the_mappings_cannot_be_loaded(
    environment: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    asyncio.run(store_dead_delivery(environment))
    monkeypatch.setenv("BRIDGE_MAPPINGS_DIR", str(tmp_path / "gone"))
    assert main(["deliveries", "list", "--status", "pending"]) == 0
    [header, row] = capsys.readouterr().out.splitlines()
    assert header.split()[-1] == "ANSWER"
    assert row.split()[:4] == ["2", "pending", "pagent", "0"]


def test_a_long_vendor_answer_is_cut_with_an_ellipsis(
    environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async def refused_at_length() -> None:
        store = await SQLiteStore.open(environment)
        await store.ingest([new_event("evt_long", ("pagent", "k1"))])
        [claimed] = await store.claim("w", NOW, 10, 1000, ["pagent"])
        answer = "HTTP 400: " + "x" * 300
        await store.record(
            "w", [AttemptRecord(claimed.id, "dead", NOW, 3, http_status=400, answer=answer)]
        )
        await store.close()

    asyncio.run(refused_at_length())
    assert main(["deliveries", "list"]) == 0
    answer = capsys.readouterr().out.splitlines()[-1].strip()
    assert answer == "HTTP 400: " + "x" * 189 + "…"


def test_a_retry_the_vendor_scheduled_is_not_said_to_wait_for_a_secret(
    environment: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A shell without the key (the quickstart's second terminal) cannot see the server's
    environment: a delivery the vendor answered 503, due again later, shows that answer and
    when it is tried again, not a wait for a secret the server may well have."""
    retry_at = int(time.time() * 1000) + HOUR

    async def answered_503() -> None:
        store = await SQLiteStore.open(environment)
        await store.ingest([new_event("evt_busy", ("pagent", "k1"))])
        [claimed] = await store.claim("w", NOW, 10, 1000, ["pagent"])
        busy = AttemptRecord(
            claimed.id,
            "pending",
            NOW,
            3,
            next_attempt_at=retry_at,
            http_status=503,
            answer="HTTP 503: busy",
        )
        await store.record("w", [busy])
        await store.close()

    asyncio.run(answered_503())
    monkeypatch.delenv("PAGENT_API_KEY")
    assert main(["deliveries", "list", "--status", "pending"]) == 0
    [_, row, answer] = capsys.readouterr().out.splitlines()
    assert format_moment(retry_at) in row
    assert answer.strip() == "HTTP 503: busy"
    assert main(["events", "show", "evt_busy"]) == 0
    shown = capsys.readouterr().out
    assert f"      next attempt {format_moment(retry_at)}\n" in shown
    assert "waiting:" not in shown
