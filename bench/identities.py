"""The identity ledger's write path alone: `remember` on a SQLite store, 64 beacons at a time.

Each beacon is one `remember` of two vendors' ids (pagent's three ids, Convert's visitor with
its bucketing) under a new reference, as `POST /identify` stores it; 64 run concurrently, so
the writer's group commit shares each fsync among them. Prints beacons per second, wall µs per
beacon and the average group. The store's file is made in a temporary folder on the disk
`--dir` names (the default: the system's temporary folder; fsync costs what that disk costs).
Usage: python -m bench.identities [--beacons 20000] [--concurrency 64] [--dir PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bridge.store.identities import Sighting
from bridge.store.sqlite import SQLiteStore

TTL_MS = 90 * 86_400_000
PAGENT = {"session_id": "s_8f2c1e", "user_id": "u_51a9d0", "conversion_id": "c_77e0b3"}
CONVERT = {"visitor_id": "1700000000000-0.12345", "bucketing": {"100234": "200567"}}


def beacon(number: int, now: int) -> list[Sighting]:
    ref = f"ref_{number:024d}"
    return [
        Sighting("web", ref, "pagent", PAGENT, now, now + TTL_MS),
        Sighting("web", ref, "convert", CONVERT, now, now + TTL_MS),
    ]


async def measure(folder: Path, beacons: int, concurrency: int) -> tuple[float, float]:
    """(seconds for `beacons`, average beacons per commit)."""
    store = await SQLiteStore.open(folder / "identities.db")
    try:
        numbers = iter(range(beacons))
        now = int(time.time() * 1000)

        async def sender() -> None:
            for number in numbers:
                await store.remember(beacon(number, now))

        started = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        return elapsed, store.writer.jobs / max(store.writer.commits, 1)
    finally:
        await store.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--beacons", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        elapsed, group = asyncio.run(measure(Path(folder), args.beacons, args.concurrency))
    print(
        f"remember: {args.beacons} beacons at c={args.concurrency}: "
        f"{args.beacons / elapsed:,.0f} beacons/s, {elapsed / args.beacons * 1e6:.1f} µs per "
        f"beacon, {group:.1f} beacons per commit"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
