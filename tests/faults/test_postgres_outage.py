"""PostgreSQL stopped under traffic from three replicas: nothing lost, nothing sent twice, and
every replica serves again as soon as the database is back, without a restart.

Three real `bridge serve` processes share a PostgreSQL server of this test's own, which is
stopped (`pg_ctl stop -m fast`: every connection is cut) while senders post signed events to
the replicas in turn, as a load balancer would, and retry whatever is not answered 200, as
Stripe does. The server is started again on the same port a second later.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.faults.helpers import conversion_event, fault_mappings, report, session_id
from tests.support import own_postgres, postgres
from tests.support import stripe as s
from tests.support.process import BridgeProcess
from tests.support.vendor import LoopbackVendor
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.slow, own_postgres.needs_server_binaries]

EVENTS = 600
REPLICAS = 3
SENDERS = 12
STOP_AFTER = 150
"""Events accepted before the database is stopped."""
DOWN_SECONDS = 1.0
BACK_WITHIN_SECONDS = 2.0
"""How soon after the database is back every replica answers 200. Typically 0.1 to 0.3 s (the
figure is printed); the bound leaves room for a loaded CI machine, where a sender's retry
itself may wait for a core."""


class Traffic:
    """What the senders saw: each replica's 200s (when), and every other answer."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.accepted_at: dict[int, list[float]] = defaultdict(list)
        self.refused: Counter[int] = Counter()
        self.accepted = 0

    def answered(self, replica: int, status: int) -> None:
        with self.lock:
            if status == 200:
                self.accepted += 1
                self.accepted_at[replica].append(time.monotonic())
            else:
                self.refused[status] += 1


@pytest.fixture
def database() -> Iterator[tuple[Path, str]]:
    with own_postgres.scratch_directory() as folder:
        data = folder / "pg"
        url = own_postgres.start(data)
        try:
            yield data, url
        finally:
            own_postgres.stop(data)


@pytest.fixture
def replicas(
    tmp_path: Path, database: tuple[Path, str], vendor: LoopbackVendor
) -> Iterator[list[BridgeProcess]]:
    _, url = database
    env = {
        "BRIDGE_DATABASE_URL": url,
        "BRIDGE_MAPPINGS_DIR": str(fault_mappings(tmp_path, max_age_hours=1)),
        "PAGENT_BASE_URL": vendor.url,
        "BRIDGE_DATABASE_POOL_SIZE": "4",
        # Longer than the outage: a worker whose record waits for the database still holds
        # what it sent (a lease that runs out first means sending it again).
        "BRIDGE_WORKER_LEASE_SECONDS": "30",
    }
    processes = []
    try:
        for n in range(REPLICAS):
            workdir = tmp_path / f"replica-{n}"
            workdir.mkdir()
            processes.append(BridgeProcess(workdir, env).start())
        yield processes
    finally:
        for process in processes:
            process.stop()


def send_all(replicas: list[BridgeProcess], traffic: Traffic) -> None:
    """Every event posted to the replicas in turn until one answers 200."""
    turn = itertools.count()

    def send(n: int) -> None:
        raw, headers = s.signed(conversion_event("outage", n))
        with httpx.Client(timeout=10) as client:
            for _ in range(2000):
                replica = next(turn) % len(replicas)
                try:
                    answer = client.post(
                        f"{replicas[replica].url}/webhooks/stripe", content=raw, headers=headers
                    )
                except httpx.TransportError:
                    traffic.answered(replica, 0)
                    continue
                traffic.answered(replica, answer.status_code)
                if answer.status_code == 200:
                    return
                time.sleep(0.01)
        raise AssertionError(f"event {n} was never accepted")

    with ThreadPoolExecutor(SENDERS) as pool:
        list(pool.map(send, range(EVENTS)))


def unfinished(url: str) -> int:
    """Deliveries not yet recorded as finished (a leased one may still be sent again)."""
    return postgres.count(url, "SELECT COUNT(*) FROM deliveries")


def sessions(vendor: LoopbackVendor) -> list[str]:
    return [event["session_id"] for event in vendor.events()]


def test_a_database_outage_under_traffic_loses_nothing_and_doubles_nothing(
    database: tuple[Path, str], replicas: list[BridgeProcess], vendor: LoopbackVendor
) -> None:
    data, url = database
    traffic = Traffic()
    back: list[float] = []

    def outage() -> None:
        wait_until(lambda: traffic.accepted >= STOP_AFTER, timeout=60, interval=0.005)
        own_postgres.stop(data)
        time.sleep(DOWN_SECONDS)
        own_postgres.start(data, own_postgres.port_of(url))
        back.append(time.monotonic())

    controller = threading.Thread(target=outage)
    controller.start()
    send_all(replicas, traffic)
    controller.join()

    assert set(traffic.refused) == {503}, traffic.refused  # an outage, never a 500
    [restarted] = back
    recovered = [
        min(t for t in traffic.accepted_at[n] if t > restarted) - restarted for n in range(REPLICAS)
    ]
    assert all(process.alive() for process in replicas)  # back without a restart
    wait_until(lambda: len(set(sessions(vendor))) >= EVENTS, timeout=120)
    wait_until(lambda: unfinished(url) == 0, timeout=60)  # nothing left that could be resent
    received = Counter(sessions(vendor))
    assert set(received) == {session_id("outage", n) for n in range(EVENTS)}  # none lost
    assert set(received.values()) == {1}  # none twice
    report(
        f"PostgreSQL outage ({DOWN_SECONDS:g} s) under {REPLICAS} replicas: {EVENTS} events, "
        f"503 answered {traffic.refused[503]}, lost 0, doubled 0, back after "
        + ", ".join(f"{seconds:.3f} s" for seconds in recovered)
    )
    assert max(recovered) < BACK_WITHIN_SECONDS
