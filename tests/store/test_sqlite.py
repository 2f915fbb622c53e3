"""What is particular to the SQLite store: durability settings, migrations, group commit."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from bridge.store import StoreUnavailable
from bridge.store.migrations import migrations
from bridge.store.sqlite import SQLiteStore, connect, migrate, sqlite_path
from bridge.store.sqlite.migrate import statements
from bridge.store.sqlite.records import INSERT_DELIVERY, INSERT_EVENT
from bridge.store.sqlite.schema import SCHEMA
from tests.store.conftest import new_event


def test_connections_use_wal_and_fsync_every_commit(tmp_path: Path) -> None:
    connection = connect(tmp_path / "b.db", 1000)
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert connection.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert connection.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_a_new_store_has_pages_that_hold_a_whole_webhook(tmp_path: Path) -> None:
    """A 6 KB body (a Stripe event with its line items) would spill onto an overflow page with
    SQLite's default 4 KiB pages: two WAL frames for one webhook instead of one."""
    path = tmp_path / "b.db"
    migrate(path)
    connection = connect(path, 1000)
    assert connection.execute("PRAGMA page_size").fetchone()[0] == 8192
    event = new_event("evt_big", ("pagent", "k"))
    body = b'{"id": "evt_big", "padding": "' + b"x" * 6000 + b'"}'
    before = _pages_in_use(connection)
    connection.execute(INSERT_EVENT, ("stripe", "evt_big", event.type, 0, "accepted", b"{}", body))
    assert _pages_in_use(connection) == before  # no overflow page


def _pages_in_use(connection: sqlite3.Connection) -> int:
    pages = connection.execute("PRAGMA page_count").fetchone()[0]
    free = connection.execute("PRAGMA freelist_count").fetchone()[0]
    return int(pages - free)


async def test_an_existing_store_keeps_its_page_size(tmp_path: Path) -> None:
    """The page size of a store in WAL mode cannot change: opening an older one must not try."""
    path = tmp_path / "b.db"
    old = sqlite3.connect(path)
    old.execute("PRAGMA page_size = 4096")
    old.execute("PRAGMA journal_mode = WAL")
    old.close()
    store = await SQLiteStore.open(path)
    try:
        [stored] = await store.ingest([new_event("evt_1", ("pagent", "k_1"))])
        assert stored.outcome == "accepted"
    finally:
        await store.close()
    connection = connect(path, 1000)
    assert connection.execute("PRAGMA page_size").fetchone()[0] == 4096
    assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert connection.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 1


def test_migrations_are_versioned_and_applied_once(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "b.db"
    assert migrate(path) == 5
    assert migrate(path) == 5
    rows = sqlite3.connect(path).execute("SELECT version, name FROM schema_migrations").fetchall()
    assert rows == [
        (1, "initial"),
        (2, "checks_without_in_lists"),
        (3, "purged_deliveries_keep_their_key"),
        (4, "identities"),
        (5, "waiting_identity"),
    ]


def test_a_migrated_store_has_the_schema_its_schema_file_shows(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    migrate(path)
    rows = connect(path, 1000).execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL")
    assert sorted(_normalized(sql) for (sql,) in rows) == sorted(
        _normalized(statement) for statement in statements(SCHEMA)
    )


def _normalized(sql: str) -> str:
    """The statement with its spacing and final semicolon left out."""
    text = " ".join(sql.removesuffix(";").split())
    return text.replace("( ", "(").replace(" )", ")").replace(" ,", ",").replace(" (", "(")


async def test_a_version_1_store_keeps_its_rows_and_its_checks(tmp_path: Path) -> None:
    """Version 2 rewrites the tables' CHECK constraints in place (SQLite cannot alter them)."""
    path = tmp_path / "b.db"
    _create_at_version_1(path)
    store = await SQLiteStore.open(path)
    try:
        [stored] = await store.ingest([new_event("evt_new", ("pagent", "k_new"))])
        assert stored.outcome == "accepted"
    finally:
        await store.close()
    connection = connect(path, 1000)
    assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert connection.execute("SELECT event_id, outcome FROM events ORDER BY id").fetchall() == [
        ("evt_old", "accepted"),
        ("evt_new", "accepted"),
    ]
    assert connection.execute("SELECT status FROM deliveries").fetchall() == [("pending",)] * 2
    with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint failed: outcome"):
        connection.execute("UPDATE events SET outcome = 'lost'")
    with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint failed: status"):
        connection.execute("UPDATE deliveries SET status = 'sent'")


def test_ingest_statements_build_no_temporary_tables(tmp_path: Path) -> None:
    """Each one (RETURNING, an IN list in a CHECK) would be a b-tree made and dropped per
    stored row (docs/benchmarks.md, "the store's statements")."""
    path = tmp_path / "b.db"
    migrate(path)
    connection = connect(path, 1000)
    for sql, count in ((INSERT_EVENT, 7), (INSERT_DELIVERY, 8)):
        program = [row[1] for row in connection.execute(f"EXPLAIN {sql}", (None,) * count)]
        assert "OpenEphemeral" not in program, sql


def _create_at_version_1(path: Path) -> None:
    [initial, *_] = migrations("sqlite")
    connection = connect(path, 1000)
    connection.execute(
        "CREATE TABLE schema_migrations "
        "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)"
    )
    connection.executescript(initial.sql)
    connection.execute("INSERT INTO schema_migrations VALUES (1, 'initial', 0)")
    connection.execute(
        "INSERT INTO events (id, source, event_id, type, received_at, outcome, detail) "
        "VALUES (1, 'stripe', 'evt_old', 't', 0, 'accepted', x'7b7d')"
    )
    connection.execute(
        "INSERT INTO deliveries (event_ref, rule, destination, dedupe_key, conversion, created_at, "
        "expires_at, next_attempt_at) VALUES (1, 'r', 'pagent', 'k_old', x'7b7d', 0, 1, 0)"
    )
    connection.close()


@pytest.mark.parametrize(
    ("url", "path"),
    [("sqlite:///data/b.db", "data/b.db"), ("sqlite:////var/lib/b.db", "/var/lib/b.db")],
)
def test_sqlite_urls(url: str, path: str) -> None:
    assert sqlite_path(url) == Path(path)


async def test_concurrent_requests_share_commits(tmp_path: Path) -> None:
    store = await SQLiteStore.open(tmp_path / "b.db")
    try:
        results = await asyncio.gather(
            *(store.ingest([new_event(f"evt_{n}", ("pagent", f"k{n}"))]) for n in range(200))
        )
        assert all(r[0].outcome == "accepted" for r in results)
        assert store.writer.jobs == 200
        assert store.writer.commits < 200  # several requests per fsync
    finally:
        await store.close()


async def test_one_jobs_failure_never_touches_another_jobs_rows(tmp_path: Path) -> None:
    store = await SQLiteStore.open(tmp_path / "b.db")
    try:

        def failing(connection: sqlite3.Connection) -> None:
            connection.execute(
                "INSERT INTO events (source, event_id, type, received_at, outcome, detail)"
                " VALUES ('s', 'doomed', 't', 0, 'ignored', x'')"
            )
            raise RuntimeError("this request fails after writing")

        outcomes = await asyncio.gather(
            store.ingest([new_event("evt_before")]),
            store.writer.run(failing),
            store.ingest([new_event("evt_after")]),
            return_exceptions=True,
        )
        assert isinstance(outcomes[1], RuntimeError)
        assert store.writer.commits == 1  # all three ran in the same group
        rows = (
            sqlite3.connect(tmp_path / "b.db")
            .execute("SELECT event_id FROM events ORDER BY id")
            .fetchall()
        )
        assert rows == [("evt_before",), ("evt_after",)]
    finally:
        await store.close()


async def test_when_the_disk_is_full_nothing_is_reported_stored_that_is_not(tmp_path: Path) -> None:
    store = await SQLiteStore.open(tmp_path / "b.db")
    try:
        pages = await store.writer.run(lambda c: c.execute("PRAGMA page_count").fetchone()[0])
        await store.writer.run(lambda c: c.execute(f"PRAGMA max_page_count = {pages + 3}"))
        big = b"x" * 200_000
        outcomes = await asyncio.gather(
            *(
                store.ingest(
                    [new_event(f"evt_{n}", ("pagent", f"k{n}"), raw=big if n % 3 == 0 else b"{}")]
                )
                for n in range(30)
            ),
            return_exceptions=True,
        )
        failures = [o for o in outcomes if isinstance(o, BaseException)]
        assert failures
        assert all(isinstance(f, StoreUnavailable) for f in failures)
        stored = {f"evt_{n}" for n, o in enumerate(outcomes) if not isinstance(o, BaseException)}
        rows = {
            r[0] for r in sqlite3.connect(tmp_path / "b.db").execute("SELECT event_id FROM events")
        }
        assert rows == stored  # every success is on disk, every failure left nothing
    finally:
        await store.close()


async def test_slow_writes_never_block_the_event_loop(tmp_path: Path) -> None:
    store = await SQLiteStore.open(tmp_path / "b.db")
    try:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        counting = asyncio.create_task(ticker())
        await store.writer.run(lambda c: time.sleep(0.3))  # a stalled fsync
        counting.cancel()
        assert ticks >= 15
    finally:
        await store.close()


def test_one_store_answers_on_whichever_event_loop_asks(tmp_path: Path) -> None:
    """A store outlives the loop that opened it: a later loop, in the same thread or another,
    gets its answers on itself, not on a loop that has stopped."""
    store = asyncio.run(SQLiteStore.open(tmp_path / "b.db"))
    try:

        async def ingest(event_id: str) -> str:
            [stored] = await asyncio.wait_for(
                store.ingest([new_event(event_id, ("pagent", event_id))]), timeout=10
            )
            return stored.outcome

        assert asyncio.run(ingest("evt_first_loop")) == "accepted"
        assert asyncio.run(ingest("evt_second_loop")) == "accepted"
        outcomes: list[str] = []
        elsewhere = threading.Thread(target=lambda: outcomes.append(asyncio.run(ingest("evt_t"))))
        elsewhere.start()
        elsewhere.join(15)
        assert outcomes == ["accepted"]
        assert asyncio.run(ingest("evt_first_loop")) == "duplicate"
    finally:
        asyncio.run(store.close())


async def test_a_closed_store_refuses_work_as_unavailable(tmp_path: Path) -> None:
    store = await SQLiteStore.open(tmp_path / "b.db")
    await store.close()
    with pytest.raises(StoreUnavailable):
        await store.ingest([new_event()])


async def test_a_locked_database_is_unavailable_not_a_crash(tmp_path: Path) -> None:
    store = await SQLiteStore.open(tmp_path / "b.db", busy_timeout_ms=100)
    blocker = sqlite3.connect(tmp_path / "b.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreUnavailable, match="locked"):
            await store.ingest([new_event()])
    finally:
        blocker.execute("ROLLBACK")
        await store.close()
