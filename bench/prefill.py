"""Fill a SQLite store with finished history, fast, for the "1 M rows already stored" runs.

The schema comes from bridge itself (`bridge migrate`); the rows are written with direct SQL in
large transactions without journal or fsync (this is set-up, not the measured path). Each event
is shaped like what bridge stores for the benchmark's events: the raw body (inside the payload
retention), its detail, one delivered pagent delivery and the attempt that delivered it. Its
event ids and PaymentIntents are in the order the measured events' are (`--ids`), so those land
among the stored keys as they would in a store that has seen the same sender.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import orjson

from bench.events import Ids, id_part, signed_events

_CHUNK = 50_000
_DETAIL = orjson.dumps(
    {
        "reason": None,
        "rules": [{"rule": "stripe-checkout-paid", "status": "converted", "reason": None}],
    }
)


def migrate(env: Mapping[str, str], cwd: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "bridge", "migrate"],
        env=dict(env),
        cwd=cwd,
        check=True,
        capture_output=True,
        timeout=120,
    )


def prefill(path: Path, rows: int, env: Mapping[str, str], cwd: Path, ids: Ids = "random") -> float:
    """Migrate `path` with `bridge migrate`, then add `rows` events; returns the seconds taken."""
    started = time.perf_counter()
    migrate(env, cwd)
    template = next(signed_events("prefill", 1)).body
    now = int(time.time() * 1000)
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode = OFF")
        connection.execute("PRAGMA synchronous = OFF")
        connection.execute("PRAGMA cache_size = -262144")
        first = connection.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0] + 1
        for start in range(first, first + rows, _CHUNK):
            stop = min(start + _CHUNK, first + rows)
            connection.execute("BEGIN")
            connection.executemany(
                "INSERT INTO events (id, source, event_id, type, received_at, outcome, detail,"
                " payload) VALUES (?, 'stripe', ?, 'checkout.session.completed', ?, 'accepted',"
                " ?, ?)",
                _events(start, stop, now, template, ids),
            )
            connection.executemany(
                "INSERT INTO deliveries (id, event_ref, rule, destination, dedupe_key, conversion,"
                " status, attempts, created_at, expires_at, next_attempt_at, last_status,"
                " last_answer, finished_at) VALUES (?, ?, 'stripe-checkout-paid', 'pagent', ?, ?,"
                " 'delivered', 1, ?, ?, ?, 200, '{\"accepted\": 1}', ?)",
                _deliveries(start, stop, now, ids),
            )
            connection.executemany(
                "INSERT INTO attempts (delivery_ref, attempted_at, duration_ms, http_status,"
                " outcome, answer) VALUES (?, ?, 3, 200, 'delivered', '{\"accepted\": 1}')",
                ((n, now - (first + rows - n)) for n in range(start, stop)),
            )
            connection.execute("COMMIT")
        connection.execute("PRAGMA journal_mode = WAL")
    finally:
        connection.close()
    return time.perf_counter() - started


def _events(
    start: int, stop: int, now: int, template: bytes, ids: Ids
) -> Iterator[tuple[object, ...]]:
    for n in range(start, stop):
        yield (n, f"evt_{id_part('prefill', n, ids)}", now - 3_600_000, _DETAIL, template)


def _deliveries(start: int, stop: int, now: int, ids: Ids) -> Iterator[tuple[object, ...]]:
    for n in range(start, stop):
        key_part = id_part("prefill", n, ids)
        conversion = orjson.dumps(
            {
                "occurred_at": "2026-01-01T00:00:00+00:00",
                "provenance": {
                    "source": "stripe",
                    "event_id": f"evt_{key_part}",
                    "rule": "stripe-checkout-paid",
                    "mapping_file": "bench/mappings/stripe-to-pagent.yaml",
                    "mapping_version": "prefill",
                },
                "session_id": f"s_prefill_{n:09d}",
                "user_id": "u_c9f0f895fb98ab91",
                "visit_id": "v_45c48cce2e2d7fbd",
                "goal_id": "0f8fad5b-d9cb-469f-a165-70867728950e",
                "label": "purchase",
                "revenue": {"minor": 2499, "currency": "USD"},
                "transaction_id": f"pi_{key_part}",
            }
        )
        key = f"txn:0f8fad5b-d9cb-469f-a165-70867728950e:pi_{key_part}"
        created = now - 3_600_000
        yield (n, n, key, conversion, created, created + 72 * 3_600_000, created, created + 5)


def count_rows(path: Path) -> int:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(connection.execute("SELECT COUNT(*) FROM events").fetchone()[0])
    finally:
        connection.close()
