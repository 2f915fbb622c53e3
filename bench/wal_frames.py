"""Pages written to SQLite's log per stored event, by the order of the events' ids.

Why: with ids in no order each event lands on a page of its own in each unique index, and the
log takes every changed page whole; this count shows it without the machine's noise
(docs/benchmarks.md, "The levers"). The bench's rule plans one event; copies of it with their
own event id and dedupe key are stored with the store's own statements (`records.ingest_one`),
`--group` to a transaction like a group commit, without fsync and with checkpoints held back,
so the log's length at the end is every frame written.

    python -m bench.wal_frames                          # ids in no order, a fresh store
    python -m bench.wal_frames --ids sequential
    python -m bench.wal_frames --store WORKDIR/prefill-1000000-random/bridge.db   # changes it
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

from bench import events as signing
from bench.processes import MAPPINGS


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    os.environ.setdefault("PAGENT_API_KEY", "pk_bench_loopback")
    os.environ.setdefault("PAGENT_BASE_URL", "http://127.0.0.1:9")
    with tempfile.TemporaryDirectory(prefix="bridge-wal-frames-") as scratch:
        database = args.store or Path(scratch) / "bridge.db"
        frames, cpu = _store(database, args.events, args.group, args.ids)
    print(
        f"ids {args.ids}, {args.events} events in groups of {args.group}:"
        f" {frames / args.events:.2f} WAL frames and {1e6 * cpu / args.events:.1f} us of CPU"
        " per event"
    )
    return 0


def _store(database: Path, count: int, group: int, ids: signing.Ids) -> tuple[int, float]:
    """(frames written, CPU seconds) for `count` events stored in `database`."""
    from bridge.mapping.config import load_config
    from bridge.store.base import Store
    from bridge.store.sqlite import connect, migrate
    from bridge.store.sqlite.records import ingest_one
    from bridge.use_cases.ingest import Ingestor

    migrate(database)
    connection = connect(database, 5000)
    connection.execute("PRAGMA synchronous = OFF")
    connection.execute("PRAGMA wal_autocheckpoint = 0")
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    config = load_config(MAPPINGS)
    [signed] = signing.signed_events("frames", 1)
    [event] = config.sources["stripe"].parse(signed.body)
    template = Ingestor(config, cast(Store, None)).plan(event, int(time.time() * 1000)).event
    [delivery] = template.deliveries
    identity = delivery.dedupe_key.rsplit(":", 1)[0]
    prefix = f"w{os.getpid()}x{time.time_ns()}"
    started = _cpu_seconds()
    for start in range(0, count, group):
        connection.execute("BEGIN IMMEDIATE")
        for number in range(start, min(start + group, count)):
            part = signing.id_part(prefix, number, ids)
            copy: Any = replace(delivery, dedupe_key=f"{identity}:pi_{part}")
            ingest_one(connection, replace(template, event_id=f"evt_{part}", deliveries=(copy,)))
        connection.execute("COMMIT")
    cpu = _cpu_seconds() - started
    frames = int(connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1])
    connection.close()
    return frames, cpu


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.wal_frames", description=__doc__)
    parser.add_argument("--events", type=int, default=20_000, help="events stored (20000)")
    parser.add_argument("--group", type=int, default=25, help="events per commit (25)")
    parser.add_argument("--ids", choices=["random", "sequential"], default="random")
    parser.add_argument("--store", type=Path, help="a store to add them to (default: a new one)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main())
