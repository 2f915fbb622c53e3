"""Instructions per request, counted by callgrind: a cost that machine noise does not move.

Why: on a shared machine req/s drifts more than most single changes move it, while the count
repeats within about 1.5 % (docs/benchmarks.md, "How to reproduce"). Each server (bare
starlette, and bridge `serve --no-worker` from the checkout or from `--bridge-path` snapshots)
gets `--warmup` requests, then its counters are zeroed, then `--requests` distinct signed Stripe
events at c=64 from the bench's Python load generator, then a dump: the dump's total over the
requests answered is the figure.

`--end-to-end` counts instead what one conversion costs from the webhook to the vendor: bridge
`serve` with its delivery worker and the bench's loopback vendor (`bench/vendor.py`, not under
valgrind); after the warm-up has been delivered the counters are zeroed, the events are sent,
and the dump is taken once the vendor has received every one of them. The total over the
conversions delivered is the figure that bounds end-to-end conversions per second on one core.

    python -m bench.instructions                        # bare and this checkout
    python -m bench.instructions --bridge-path /tmp/old # and a snapshot, for an A/B
    python -m bench.instructions --store DB             # bridge on a copy of a filled store
    python -m bench.instructions --end-to-end           # per conversion, ingest and delivery
    python -m bench.instructions --store-alone          # the SQLite store's ingest, per event

`--store-alone` counts the store by itself (`bench/store_ingest.py`: the store's own statements
over 1,024 and then 5,120 copies of a planned bench event, 32 to a transaction): the difference
per event is what the writer thread spends on one.

`--store` takes a store built by `bench/run` (`WORKDIR/prefill-1000000-random/bridge.db`):
bridge then runs on a copy of it, next to the same measurement on an empty store.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

from bench import events as signing
from bench import loadgen
from bench.processes import Server, bridge_environment, free_port

CONCURRENCY = 64


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__)
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--bridge-path", type=Path, action="append", default=[])
    parser.add_argument("--store", type=Path, help="also measure bridge on a copy of this store")
    parser.add_argument(
        "--end-to-end", action="store_true", help="per conversion delivered, with the worker"
    )
    parser.add_argument(
        "--store-alone", action="store_true", help="the SQLite store's ingest, per event"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bridge-instructions-") as scratch:
        work = Path(scratch)
        if args.store_alone:
            return _store_alone(work, args.bridge_path)
        if args.end_to_end:
            return _end_to_end(work, args.bridge_path, args.requests, args.warmup)
        targets = [("bare", None, ""), *(("bridge", *c) for c in _checkouts(args.bridge_path))]
        for kind, path, where in targets:
            per_request = count(kind, path, work, args.requests, args.warmup)
            print(f"{kind}{where}: {per_request:,.0f} instructions per request", flush=True)
        if args.store:
            copy = work / "filled" / "bridge.db"
            copy.parent.mkdir()
            shutil.copyfile(args.store, copy)
            rows = sqlite3.connect(copy).execute("SELECT count(*) FROM events").fetchone()[0]
            per_request = count("bridge", None, work, args.requests, args.warmup, database=copy)
            print(f"bridge, {rows:,} events stored: {per_request:,.0f} instructions per request")
    return 0


def _checkouts(bridge_paths: Sequence[Path]) -> list[tuple[Path | None, str]]:
    """This checkout, then each `--bridge-path` snapshot, with the label printed after a figure."""
    return [(None, ""), *((p.resolve(), f" ({p.resolve()})") for p in bridge_paths)]


def _end_to_end(work: Path, bridge_paths: Sequence[Path], requests: int, warmup: int) -> int:
    port = free_port()
    vendor = Server(
        "vendor", [sys.executable, "-m", "bench.vendor", str(port)], port=port, log=work / "v.log"
    )
    with vendor:
        for path, where in _checkouts(bridge_paths):
            per_conversion = count("bridge", path, work, requests, warmup, vendor_url=vendor.url)
            print(f"bridge{where}: {per_conversion:,.0f} instructions per conversion delivered")
    return 0


def _store_alone(work: Path, bridge_paths: Sequence[Path]) -> int:
    small, large = 1024, 5120
    for path, where in _checkouts(bridge_paths):
        totals = [_store_total(work, path, events) for events in (small, large)]
        per_event = (totals[1] - totals[0]) / (large - small)
        print(f"store{where}: {per_event:,.0f} instructions per event stored", flush=True)
    return 0


def _store_total(work: Path, bridge_path: Path | None, events: int) -> int:
    dump = work / f"store-{events}.callgrind"
    database = work / f"store-{events}.db"
    for leftover in work.glob(f"{database.name}*"):
        leftover.unlink()
    subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={dump}",
            *[sys.executable, "-m", "bench.store_ingest", str(database), str(events)],
        ],
        env=bridge_environment("http://127.0.0.1:9", bridge_path=bridge_path),
        cwd=work,  # not the checkout (see bridge_environment)
        check=True,
        capture_output=True,
    )
    return _summary(dump)


def count(
    kind: str,
    bridge_path: Path | None,
    work: Path,
    requests: int,
    warmup: int,
    *,
    database: Path | None = None,
    vendor_url: str | None = None,
) -> float:
    """Instructions per request answered or, given the loopback vendor's URL (bridge then runs
    its worker), per conversion delivered."""
    port = free_port()
    dump = work / f"callgrind-{port}"
    valgrind = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={dump}.%p"]
    server = Server(
        kind,
        [*valgrind, *_server_argv(kind, port, worker=vendor_url is not None)],
        port=port,
        log=work / f"{port}.log",
        env=bridge_environment(
            vendor_url or "http://127.0.0.1:9",  # never called without a worker
            database=database or work / f"{port}.db",
            bridge_path=bridge_path,
        ),
        cwd=work,  # not the checkout (see bridge_environment)
    )
    server.start(timeout=300)  # interpreted by valgrind, start-up takes a while
    try:
        signed = list(signing.signed_events(f"i{port}", warmup + requests))
        raw = [signing.http_request(event, "127.0.0.1", port) for event in signed]
        start = _delivered(vendor_url) if vendor_url else 0
        loadgen.drive("127.0.0.1", port, raw[:warmup], concurrency=CONCURRENCY, expect=None)
        if vendor_url:
            _wait_delivered(vendor_url, start + warmup)
        _control("-z", server.pid)
        done = loadgen.drive("127.0.0.1", port, raw[warmup:], concurrency=CONCURRENCY, expect=None)
        if vendor_url:
            _wait_delivered(vendor_url, start + warmup + done.requests)
        _control("-d", server.pid)
        if done.non2xx or done.errors or not done.requests:
            raise RuntimeError(f"{kind}: {done.non2xx} non-2xx, {done.errors} errors")
        return _total(work, dump.name, server.pid) / done.requests
    finally:
        server.stop()


def _server_argv(kind: str, port: int, *, worker: bool) -> list[str]:
    if kind == "bare":
        return [sys.executable, "-m", "bench.bare", str(port)]
    serve = ["serve", "--host", "127.0.0.1", "--port", str(port)]
    if not worker:
        serve.append("--no-worker")
    return [sys.executable, "-m", "bridge", *serve]


def _delivered(vendor_url: str) -> int:
    """How many conversions the loopback vendor has received."""
    count: int = httpx.get(f"{vendor_url}/count").json()["count"]
    return count


def _wait_delivered(vendor_url: str, total: int) -> None:
    deadline = time.monotonic() + 600  # the worker runs under valgrind too
    while (delivered := _delivered(vendor_url)) < total:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{delivered} of {total} conversions delivered within 600 s")
        time.sleep(0.5)


def _control(option: str, pid: int) -> None:
    subprocess.run(["callgrind_control", option, str(pid)], check=True, capture_output=True)


def _total(work: Path, prefix: str, pid: int) -> int:
    """The instruction total of the dump taken after the measured requests."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for dump in sorted(work.glob(f"{prefix}.{pid}.*")):
            total = _summary(dump)
            if total:
                return total
        time.sleep(0.2)
    raise RuntimeError("callgrind wrote no dump")


def _summary(dump: Path) -> int:
    """A callgrind dump's instruction total (0 while it is still being written)."""
    for line in dump.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
