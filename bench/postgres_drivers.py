"""asyncpg or psycopg 3 for the PostgreSQL store? Time bridge's own statements with both.

Runs, against a PostgreSQL server, the statement shape the store uses to ingest (one
transaction: event row, conversion key, delivery row) with 64 concurrent requests, then claims
and records the resulting deliveries in batches of 500, and prints rows per second for each
driver. Usage: python bench/postgres_drivers.py postgresql://user@127.0.0.1:5432/db [events]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable

import asyncpg
import psycopg
from psycopg_pool import AsyncConnectionPool

SCHEMA = """
DROP TABLE IF EXISTS bench_deliveries, bench_keys, bench_events;
CREATE TABLE bench_events (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  source text NOT NULL, event_id text NOT NULL, payload bytea, UNIQUE (source, event_id));
CREATE TABLE bench_keys (destination text, dedupe_key text, event_ref bigint,
  PRIMARY KEY (destination, dedupe_key));
CREATE TABLE bench_deliveries (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event_ref bigint NOT NULL, destination text NOT NULL, conversion bytea NOT NULL,
  next_attempt_at bigint NOT NULL, lease_owner text, lease_until bigint);
CREATE INDEX ON bench_deliveries (next_attempt_at);
"""
INGEST = """
WITH ev AS (INSERT INTO bench_events (source, event_id, payload) VALUES ({0}, {1}, {2})
            ON CONFLICT DO NOTHING RETURNING id),
     k AS (INSERT INTO bench_keys SELECT 'pagent', {1}, id FROM ev ON CONFLICT DO NOTHING
           RETURNING event_ref)
INSERT INTO bench_deliveries (event_ref, destination, conversion, next_attempt_at)
SELECT event_ref, 'pagent', {3}, 0 FROM k
"""
CLAIM = """
WITH due AS (SELECT id FROM bench_deliveries WHERE next_attempt_at <= 1 AND lease_owner IS NULL
             ORDER BY next_attempt_at LIMIT 500 FOR UPDATE SKIP LOCKED)
UPDATE bench_deliveries d SET lease_owner = 'w', lease_until = 1 FROM due WHERE d.id = due.id
RETURNING d.id
"""
RECORD = "DELETE FROM bench_deliveries WHERE id = ANY({0})"
PAYLOAD = b"x" * 2000
CONVERSION = b"y" * 400


async def run_asyncpg(url: str, events: int) -> tuple[float, float]:
    pool = await asyncpg.create_pool(url, min_size=16, max_size=16)
    await pool.execute(SCHEMA)
    ingest = INGEST.format("$1", "$2", "$3", "$4")

    async def one(n: int) -> None:
        async with pool.acquire() as connection, connection.transaction():
            await connection.execute(ingest, "stripe", f"evt_{n}", PAYLOAD, CONVERSION)

    ingest_rate = await _concurrently(one, events)
    start = time.perf_counter()
    while True:
        async with pool.acquire() as connection, connection.transaction():
            ids = [row[0] for row in await connection.fetch(CLAIM)]
            if not ids:
                break
            await connection.execute(RECORD.format("$1::bigint[]"), ids)
    drain_rate = events / (time.perf_counter() - start)
    await pool.close()
    return ingest_rate, drain_rate


async def run_psycopg(url: str, events: int) -> tuple[float, float]:
    pool = AsyncConnectionPool(url, min_size=16, max_size=16, open=False)
    await pool.open()
    async with pool.connection() as connection:
        await connection.execute(SCHEMA)
    ingest = INGEST.format("%(source)s", "%(event)s", "%(payload)s", "%(conversion)s")

    async def one(n: int) -> None:
        values = {
            "source": "stripe",
            "event": f"evt_{n}",
            "payload": PAYLOAD,
            "conversion": CONVERSION,
        }
        async with pool.connection() as connection, connection.transaction():
            await connection.execute(ingest, values)

    ingest_rate = await _concurrently(one, events)
    start = time.perf_counter()
    while True:
        async with pool.connection() as connection, connection.transaction():
            rows = await (await connection.execute(CLAIM)).fetchall()
            ids = [row[0] for row in rows]
            if not ids:
                break
            await connection.execute(RECORD.format("%s"), (ids,))
    drain_rate = events / (time.perf_counter() - start)
    await pool.close()
    return ingest_rate, drain_rate


async def _concurrently(job: Callable[[int], Awaitable[None]], total: int) -> float:
    queue = iter(range(total))

    async def worker() -> None:
        for n in queue:
            await job(n)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(64)))
    return total / (time.perf_counter() - start)


def main() -> None:
    url = sys.argv[1]
    events = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
    rounds = 3
    results: dict[str, list[tuple[float, float]]] = {"asyncpg": [], "psycopg": []}
    for _ in range(rounds):  # alternate, so both see the same server state
        results["asyncpg"].append(asyncio.run(run_asyncpg(url, events)))
        results["psycopg"].append(asyncio.run(run_psycopg(url, events)))
    print(f"{events} events, 64 concurrent ingests, median of {rounds} alternating rounds")
    print(f"{'driver':10} {'ingest/s':>10} {'claim+record/s':>16}")
    for name, runs in results.items():
        ingest = statistics.median(r[0] for r in runs)
        drain = statistics.median(r[1] for r in runs)
        print(f"{name:10} {ingest:10.0f} {drain:16.0f}")
    print(f"versions: asyncpg {asyncpg.__version__}, psycopg {psycopg.__version__}")


if __name__ == "__main__":
    main()
