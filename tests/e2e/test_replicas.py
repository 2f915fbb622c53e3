"""Many replicas on one PostgreSQL: nothing lost, nothing sent twice, even when one is killed."""

from __future__ import annotations

import asyncio
import itertools
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import stripe as s
from tests.support.process import BridgeProcess
from tests.support.vendor import LoopbackVendor
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

EVENTS = 3000
REPLICAS = 3


def mappings(tmp_path: Path, vendor: str) -> Path:
    folder = tmp_path / "mappings"
    folder.mkdir()
    shutil.copy(s.REPO / "mappings" / "stripe.yaml", folder)
    if vendor == "pagent":
        shutil.copy(s.REPO / "mappings" / "pagent.yaml", folder)
        shutil.copy(s.REPO / "mappings" / "stripe-to-pagent.yaml", folder)
    else:
        examples = s.REPO / "mappings" / "examples"
        shutil.copy(examples / "stripe-to-scanova.yaml", folder)
        text = (examples / "scanova.yaml").read_text()
        (folder / "scanova.yaml").write_text(
            text.replace("    base_url:", "    batch_size: 50\n    base_url:")
        )
    return folder


@pytest.fixture
def replicas(
    tmp_path: Path, postgres_url: str, vendor: LoopbackVendor, request: pytest.FixtureRequest
) -> Iterator[list[BridgeProcess]]:
    target: str = request.param
    env = {
        "BRIDGE_DATABASE_URL": postgres_url,
        "BRIDGE_MAPPINGS_DIR": str(mappings(tmp_path, target)),
        "PAGENT_BASE_URL": vendor.url,
        "SCANOVA_BASE_URL": vendor.url,
        "SCANOVA_API_KEY": "sk_scan_loopback",
        "BRIDGE_DATABASE_POOL_SIZE": "8",
    }
    processes = []
    for n in range(REPLICAS):
        workdir = tmp_path / f"replica-{n}"
        workdir.mkdir()
        processes.append(BridgeProcess(workdir, env).start())
    yield processes
    for process in processes:
        process.stop()


def signed_events() -> list[tuple[bytes, dict[str, str]]]:
    built = []
    for n in range(EVENTS):
        metadata = {
            **s.sample("checkout.session.completed")["data"]["object"]["metadata"],
            "pagent_session_id": f"s_{n}",
        }
        built.append(
            s.signed(
                s.event(
                    "checkout.session.completed",
                    event_id=f"evt_r_{n}",
                    payment_intent=f"pi_r_{n}",
                    metadata=metadata,
                )
            )
        )
    return built


async def spread(replicas: list[BridgeProcess], kill_after: int | None = None) -> int:
    """Send every event to the replicas in turn, as a load balancer would; a replica that does
    not answer is skipped and the event goes to the next one. Returns how many got a 200."""
    events = signed_events()
    live = list(replicas)
    turn = itertools.count()
    accepted = 0
    sent = 0
    lock = asyncio.Lock()

    async def deliver(client: httpx.AsyncClient, raw: bytes, headers: dict[str, str]) -> None:
        nonlocal accepted, sent
        for _ in range(10):
            replica = live[next(turn) % len(live)]
            try:
                response = await client.post(
                    f"{replica.url}/webhooks/stripe", content=raw, headers=headers
                )
            except httpx.TransportError:
                continue  # that replica is gone: the balancer tries another
            if response.status_code == 200:
                async with lock:
                    accepted += 1
                    sent += 1
                    if kill_after is not None and sent == kill_after:
                        victim = live.pop(1)
                        await asyncio.to_thread(victim.kill)
                return
        raise AssertionError("no replica accepted an event")

    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=48)) as client:
        queue = iter(events)

        async def sender() -> None:
            for raw, headers in queue:
                await deliver(client, raw, headers)

        await asyncio.gather(*(sender() for _ in range(48)))
    return accepted


@pytest.mark.parametrize("replicas", ["pagent"], indirect=True)
def test_every_conversion_arrives_exactly_once_across_replicas(
    replicas: list[BridgeProcess], vendor: LoopbackVendor
) -> None:
    assert asyncio.run(spread(replicas)) == EVENTS
    wait_until(lambda: len(list(vendor.events())) >= EVENTS, timeout=120)
    sessions = Counter(event["session_id"] for event in vendor.events())
    assert len(sessions) == EVENTS
    assert set(sessions.values()) == {1}  # none twice


@pytest.mark.parametrize("replicas", ["scanova"], indirect=True)
def test_a_replica_killed_mid_run_loses_nothing(
    replicas: list[BridgeProcess], vendor: LoopbackVendor
) -> None:
    accepted = asyncio.run(spread(replicas, kill_after=EVENTS // 2))
    assert accepted == EVENTS

    def event_ids() -> Counter[str]:
        return Counter(e["event_id"] for r in vendor.acknowledged for e in r.json()["events"])

    wait_until(lambda: len(event_ids()) >= EVENTS, timeout=120)
    counts = event_ids()
    assert len(counts) == EVENTS  # every accepted conversion reached the vendor
    resent = sum(n - 1 for n in counts.values())
    # A batch in flight when the replica died may be sent again once its lease expires; Scanova
    # counts an event_id once, so such a resend is harmless. Report it, bound it.
    print(f"\nconversions resent after the kill (deduplicated by Scanova's event_id): {resent}")
    assert resent <= 8 * 50  # at most the batches the killed replica had in flight
