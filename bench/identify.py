"""`POST /identify/{ledger}` against a bare starlette endpoint: `python -m bench.identify`.

The same measure as `bench/run`'s ingest rounds, for beacons: wrk at 64 connections, the server
pinned to one core and wrk to another, bare (`bench/bare.py`) and `bridge serve --no-worker`
alternating for several rounds, each on a fresh SQLite store. Every beacon is distinct (its own
reference, so each is a write, none an identical repeat) and comes from its own address
(`X-Forwarded-For`, trusted for the run), so the rate limiter keeps and evicts buckets as it
would under many visitors instead of answering 429 to one. Prints each run and the ratio of
the medians; asserts nothing about time (exit 1 only when an answer was not 2xx).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import orjson

from bench.main import CONCURRENCY, Run, print_run, round_order
from bench.processes import (
    MAPPINGS,
    REPO,
    CpuWindow,
    Server,
    affinity,
    bridge_environment,
    free_port,
    run_wrk,
)

ORIGIN = "https://shop.example.com"
LEDGERS = f"""
ledgers:
  web:
    origins: ["{ORIGIN}"]
    vendors: [pagent, convert]
"""
BARE_PATH = "/webhooks/identify"
BRIDGE_PATH = "/identify/web"
LUA = """
-- bench/signed_events.lua with beacons: its pool's lines are "address<TAB>body", and each
-- request is posted from that address by an allowed page, as text/plain.
dofile(%s)
local format = wrk.format
wrk.format = function(method, path, headers, body)
   if headers == nil or headers["Stripe-Signature"] == nil then
      return format(method, path, headers, body)
   end
   headers["X-Forwarded-For"] = headers["Stripe-Signature"]
   headers["Stripe-Signature"] = nil
   headers["Content-Type"] = "text/plain;charset=UTF-8"
   headers["Origin"] = %s
   return format(method, path, headers, body)
end
"""


def beacon_pool(path: Path, count: int, addresses: int) -> Path:
    """`count` distinct beacons (pagent and Convert ids, as a page with both sends), each from
    one of `addresses` client addresses."""
    with path.open("wb") as out:
        for n in range(count):
            body = {
                "v": 1,
                "ref": f"bench_ref_{n:016d}",
                "consent": "granted",
                "ids": {
                    "pagent": {"session_id": f"s_{n}", "user_id": f"u_{n}", "conversion_id": "c"},
                    "convert": {"visitor_id": f"v_{n}", "bucketing": {"1001": "2001"}},
                },
            }
            a = n % addresses
            out.write(f"10.{a >> 16 & 255}.{a >> 8 & 255}.{a & 255}\t".encode())
            out.write(orjson.dumps(body) + b"\n")
    return path


def stored_sightings(db: Path) -> int:
    """What the bridge under test kept: each 204 must have been a write."""
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        count: int = connection.execute("SELECT count(*) FROM identity_sightings").fetchone()[0]
        return count
    finally:
        connection.close()


class IdentifyBench:
    def __init__(self, workdir: Path, duration: int, pool: int, addresses: int) -> None:
        self.workdir = workdir
        self.duration = duration
        cpus = affinity()
        self.server_cpu = cpus[0] if len(cpus) >= 2 else None
        self.client_cpu = cpus[1] if len(cpus) >= 2 else None
        self.mappings = workdir / "mappings"
        self.mappings.mkdir(parents=True, exist_ok=True)
        for path in MAPPINGS.glob("*.yaml"):
            shutil.copy(path, self.mappings / path.name)
        (self.mappings / "ledgers.yaml").write_text(LEDGERS)
        self.lua = workdir / "beacons.lua"
        self.lua.write_text(
            LUA % (json.dumps(str(REPO / "bench" / "signed_events.lua")), json.dumps(ORIGIN))
        )
        self.pool = beacon_pool(workdir / "beacons.txt", pool, addresses)

    def server(self, target: str, number: int) -> Server:
        port = free_port()
        log = self.workdir / f"{target}-{number}.log"
        if target == "bare":
            argv = [sys.executable, "-m", "bench.bare", str(port)]
            return Server("bare", argv, port=port, log=log, cpu=self.server_cpu, cwd=REPO)
        db = self.workdir / f"bridge-{number}" / "bridge.db"
        env = bridge_environment("http://127.0.0.1:9", database=db)
        env["BRIDGE_MAPPINGS_DIR"] = str(self.mappings)
        env["BRIDGE_IDENTIFY_TRUST_FORWARDED"] = "true"
        argv = [sys.executable, "-m", "bridge", "serve", "--no-worker"]
        argv += ["--host", "127.0.0.1", "--port", str(port)]
        return Server(
            target, argv, port=port, log=log, env=env, cpu=self.server_cpu, cwd=self.workdir
        )

    def measure(self, target: str, number: int) -> Run:
        run = Run(target, number, "wrk")
        path = BARE_PATH if target == "bare" else BRIDGE_PATH
        with self.server(target, number) as server:
            self.wrk(f"{server.url}{path}", 2, run)  # warm-up, not counted
            run = Run(target, number, "wrk")
            window = CpuWindow(server.pid)
            window.start()
            self.wrk(f"{server.url}{path}", self.duration, run)
            window.stop()
            run.take_cpu(window)
        return run

    def wrk(self, url: str, seconds: int, run: Run) -> None:
        argv = ["wrk", "-t1", f"-c{CONCURRENCY}", f"-d{seconds}s", "--timeout", "10s"]
        argv += ["-s", str(self.lua), url, "--", str(self.pool), "1", "-"]
        result = run_wrk(argv, self.client_cpu, seconds)
        run.requests = result["requests"]
        run.seconds = result["duration_us"] / 1e6
        run.rps = run.requests / run.seconds if run.seconds else 0.0
        run.p50_ms = result["p50_us"] / 1000
        run.p99_ms = result["p99_us"] / 1000
        run.non2xx = result["non2xx"]
        run.socket_errors = sum(result["errors"].values())
        run.wrapped = result["wrapped"] > 0
        run.sample = result["sample"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.identify", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10, help="seconds per run")
    parser.add_argument("--pool", type=int, default=300_000, help="distinct beacons")
    parser.add_argument("--addresses", type=int, default=50_000, help="distinct clients")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk not found: install it (apt-get install wrk)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-identify-") as workdir:
        bench = IdentifyBench(Path(workdir), args.duration, args.pool, args.addresses)
        runs: list[Run] = []
        for number in range(1, args.rounds + 1):
            for target in round_order(["bare", "bridge"], number):
                run = bench.measure(target, number)
                runs.append(run)
                print_run(run)
                if target == "bridge":
                    db = bench.workdir / f"bridge-{number}" / "bridge.db"
                    print(f"  kept {stored_sightings(db)} sightings (two per distinct beacon)")
    bare = statistics.median(r.rps for r in runs if r.target == "bare")
    bridge = statistics.median(r.rps for r in runs if r.target == "bridge")
    print(
        f"POST /identify at c={CONCURRENCY}: bridge {bridge:.0f} req/s, bare {bare:.0f} req/s,"
        f" ratio {bridge / bare:.2f}"
    )
    problems = [p for r in runs for p in r.problems() if "not 'accepted'" not in p]
    for problem in problems:
        print(f"problem: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
