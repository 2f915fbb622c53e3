"""The SQLite store's ingest alone, as the writer thread runs it: for `python -m bench.instructions
--store-alone`, which counts this process's instructions for two event counts under callgrind.

One bench event is planned by the bench's rule (a real payload, detail and conversion), then
`COUNT` copies with their own event id and dedupe key are stored with the store's own
statements (`records.ingest_one`), 32 to a transaction like a group commit. The per-copy
Python outside the store is one `dataclasses.replace` per row, so the difference between two
counts is the store's work.
Usage: python -m bench.store_ingest DATABASE COUNT
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

from bench import events as signing
from bench.processes import MAPPINGS

GROUP = 32


def main(argv: Sequence[str] | None = None) -> int:
    database, count = (argv or sys.argv[1:])[:2]
    from bridge.mapping.config import load_config
    from bridge.store.base import Store
    from bridge.store.sqlite import connect, migrate
    from bridge.store.sqlite.records import ingest_one
    from bridge.use_cases.ingest import Ingestor

    path = Path(database)
    migrate(path)
    connection = connect(path, 5000)
    config = load_config(MAPPINGS)
    [signed] = signing.signed_events("store", 1)
    [event] = config.sources["stripe"].parse(signed.body)
    template = Ingestor(config, cast(Store, None)).plan(event, int(time.time() * 1000)).event
    [delivery] = template.deliveries
    for start in range(0, int(count), GROUP):
        connection.execute("BEGIN IMMEDIATE")
        for number in range(start, min(start + GROUP, int(count))):
            copy: Any = replace(delivery, dedupe_key=f"{delivery.dedupe_key}:{number}")
            ingest_one(connection, replace(template, event_id=f"evt_{number}", deliveries=(copy,)))
        connection.execute("COMMIT")
    connection.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
