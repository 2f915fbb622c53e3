"""A bounded HTTP/1.1 load generator in Python, for when wrk is missing and for end to end runs.

`concurrency` keep-alive connections each send the next pre-built request as soon as the
previous answer is read, until every request was sent or `duration` ran out. It records, per
request, the latency and the wall-clock moment its answer arrived (for the end to end delay).
It speaks only what the bench needs (Content-Length bodies, keep-alive), over raw asyncio
streams on uvloop when installed: a full client such as httpx would become the bottleneck
long before bridge does.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class LoadResult:
    requests: int = 0
    duration_s: float = 0.0
    non2xx: int = 0
    unexpected: int = 0
    errors: int = 0
    sample: str = ""
    """The first unexpected answer, for the report."""
    latencies_s: list[float] = field(default_factory=list)
    answered_at: dict[int, float] = field(default_factory=dict)
    """Request index -> unix time its last 2xx answer was read."""


async def _drive(
    host: str,
    port: int,
    requests: Sequence[bytes],
    concurrency: int,
    duration: float | None,
    expect: bytes | None,
    repeat: bool,
) -> LoadResult:
    result = LoadResult()
    queue = itertools.cycle(range(len(requests))) if repeat else iter(range(len(requests)))
    start = time.perf_counter()
    deadline = start + duration if duration else None

    def note(text: str) -> None:
        if not result.sample:
            result.sample = text[:200]

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for index in queue:
                if deadline is not None and time.perf_counter() >= deadline:
                    return
                sent = time.perf_counter()
                writer.write(requests[index])
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head[9:12])
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                body = await reader.readexactly(length) if length else b""
                result.latencies_s.append(time.perf_counter() - sent)
                result.requests += 1
                if not 200 <= status < 300:
                    result.non2xx += 1
                    note(f"{status} {body.decode(errors='replace')}")
                elif expect is not None and expect not in body:
                    result.unexpected += 1
                    note(f"{status} {body.decode(errors='replace')}")
                else:
                    result.answered_at[index] = time.time()
        except (OSError, asyncio.IncompleteReadError) as exc:
            result.errors += 1
            note(f"connection error: {exc!r}")
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(concurrency)))
    result.duration_s = time.perf_counter() - start
    return result


def drive(
    host: str,
    port: int,
    requests: Sequence[bytes],
    *,
    concurrency: int = 64,
    duration: float | None = None,
    expect: bytes | None = None,
    repeat: bool = False,
) -> LoadResult:
    """Send `requests` (each once, or round and round with `repeat`) until done or `duration`.

    With `repeat` a `duration` is required: it is what ends the load.
    """
    if repeat and not duration:
        raise ValueError("repeat needs a duration")
    try:
        import uvloop
    except ImportError:
        return asyncio.run(_drive(host, port, requests, concurrency, duration, expect, repeat))
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(_drive(host, port, requests, concurrency, duration, expect, repeat))


def percentile(values: Sequence[float], q: float) -> float:
    """The `q`-th percentile (0-100) by nearest rank; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]
