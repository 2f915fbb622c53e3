"""Slow and silent senders against a real `bridge serve`: nothing is held open for long.

The deadlines are set small (a second) so that each test is bounded by a few seconds; what is
asserted is that every connection is answered and closed by then, whatever its sender does.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from tests.support import stripe as s
from tests.support.process import BridgeProcess

pytestmark = pytest.mark.slow

DEADLINES = {"BRIDGE_HEADER_TIMEOUT_SECONDS": "1", "BRIDGE_BODY_TIMEOUT_SECONDS": "1"}
BOUND = 8.0
"""Longer than any deadline above plus scheduling slack; far shorter than 'forever'."""


async def trickle(port: int, first: bytes, drip: bytes) -> bytes:
    """Send `first`, then one byte of `drip` every 0.1 s; everything the server sent back."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    received = bytearray()

    async def drip_bytes() -> None:
        writer.write(first)
        for byte in drip:
            await asyncio.sleep(0.1)
            writer.write(bytes([byte]))
            await writer.drain()

    sender = asyncio.create_task(drip_bytes())
    try:
        while chunk := await reader.read(65536):
            received += chunk
    except ConnectionResetError:
        pass
    finally:
        sender.cancel()
        writer.close()
    return bytes(received)


async def test_silent_and_trickling_senders_are_answered_408_and_closed(
    tmp_path: Path,
) -> None:
    bridge = BridgeProcess(tmp_path, DEADLINES).start()
    try:
        raw, headers = s.signed(s.event("checkout.session.completed"))
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        started = f"POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\n{head}".encode()
        full_head = started + b"Content-Length: %d\r\n\r\n" % len(raw)
        kinds = {
            "silent": (b"", b""),
            "headers": (started, b"X-Slow: " + b"a" * 200),
            "body": (full_head, raw),
        }
        began = time.monotonic()
        answers = await asyncio.wait_for(
            asyncio.gather(
                *(
                    trickle(bridge.port, first, drip)
                    for first, drip in kinds.values()
                    for _ in range(20)
                )
            ),
            BOUND,
        )
        assert time.monotonic() - began < BOUND
        for kind, answered in zip([k for k in kinds for _ in range(20)], answers, strict=True):
            assert answered.startswith(b"HTTP/1.1 408 "), kind
        # the server is not worn out: the next sender is answered at once
        async with httpx.AsyncClient(base_url=bridge.url, timeout=BOUND) as client:
            answer = await client.post("/webhooks/stripe", content=raw, headers=headers)
        assert answer.json()["status"] == "accepted"
    finally:
        bridge.stop()


async def test_connections_over_the_limit_are_answered_503_with_retry_after(
    tmp_path: Path,
) -> None:
    bridge = BridgeProcess(tmp_path, {**DEADLINES, "BRIDGE_MAX_CONNECTIONS": "10"}).start()
    try:
        held = [await asyncio.open_connection("127.0.0.1", bridge.port) for _ in range(10)]
        await asyncio.sleep(0.1)  # the server has accepted them
        async with httpx.AsyncClient(base_url=bridge.url, timeout=BOUND) as client:
            refused = await client.get("/healthz")
            assert refused.status_code == 503
            assert refused.headers["retry-after"] == "5"
            assert refused.headers["connection"] == "close"
            for _, writer in held:
                writer.close()
            await asyncio.sleep(0.2)
            assert (await client.get("/healthz")).status_code == 200
    finally:
        bridge.stop()
