"""The processes a benchmark run starts: servers pinned to a core, and their memory."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import orjson

from bench import events as signing

REPO = Path(__file__).resolve().parents[1]
MAPPINGS = REPO / "bench" / "mappings"


def bridge_environment(
    vendor_url: str, *, database: Path | None = None, bridge_path: Path | None = None
) -> dict[str, str]:
    """What a bridge under test runs with: the bench's mappings, its Stripe secret, the loopback
    vendor, JSON logs, and `bridge_path` (a snapshot) ahead of the checkout. Start such a process
    from a directory other than the checkout: `python -m` puts the current directory first on
    the path, which would shadow the snapshot with the checkout's own package. The admin port is
    a free one of its own: its default (the port after the public one) may be taken."""
    paths = [str(bridge_path)] if bridge_path else []
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([*paths, str(REPO)]),
        "BRIDGE_MAPPINGS_DIR": str(MAPPINGS),
        "BRIDGE_LOG_LEVEL": "info",
        "BRIDGE_LOG_FORMAT": "json",
        "STRIPE_WEBHOOK_SECRET": signing.SECRET,
        "PAGENT_API_KEY": "pk_bench_loopback",
        "PAGENT_BASE_URL": vendor_url,
        "BRIDGE_ADMIN_PORT": str(free_port()),
    }
    if database is not None:
        environment["BRIDGE_DATABASE_URL"] = f"sqlite:///{database}"
    return environment


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def pinned(argv: Sequence[str], cpu: int | None) -> list[str]:
    """`argv` run on one core with taskset (exec'd, so the pid is the program's own)."""
    return ["taskset", "-c", str(cpu), *argv] if cpu is not None else list(argv)


class Server:
    """A server process on 127.0.0.1:`port`, ready once `GET /healthz` answers 200."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        port: int,
        log: Path,
        env: Mapping[str, str] | None = None,
        cpu: int | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.port = port
        self.log = log
        self._argv = pinned(argv, cpu)
        self._env = dict(env) if env is not None else None
        self._cwd = cwd
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> Server:
        if self._process is not None and self._process.poll() is None:
            raise RuntimeError(f"{self.name} is already running")
        with self.log.open("ab") as out:
            self._process = subprocess.Popen(
                self._argv, env=self._env, cwd=self._cwd, stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self._process.returncode}; see {self.log}"
                )
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(
            f"{self.name} did not answer /healthz within {timeout:g}s; see {self.log}"
        )

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_wrk(argv: Sequence[str], cpu: int | None, seconds: int) -> dict[str, Any]:
    """Run wrk with one of the bench's Lua scripts (pinned to `cpu`) and return the figures its
    `BENCH_RESULT` line reports."""
    done = subprocess.run(
        pinned(argv, cpu), capture_output=True, text=True, timeout=seconds + 120, check=False
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH_RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result: {done.stdout}\n{done.stderr}")
    result: dict[str, Any] = orjson.loads(line.removeprefix("BENCH_RESULT "))
    return result


def rss_bytes(pid: int) -> int | None:
    """Resident set size of `pid` from /proc (None where /proc has no such process)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


class RssSampler:
    """Samples a process's RSS every `interval` seconds while in use; keeps the peak and last."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self._pid = pid
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.peak = 0
        self.last = 0

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self._interval)

    def _sample(self) -> None:
        value = rss_bytes(self._pid)
        if value is not None:
            self.last = value
            self.peak = max(self.peak, value)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


def affinity() -> list[int]:
    return sorted(os.sched_getaffinity(0))


class CpuTimes(NamedTuple):
    user: float
    system: float


def thread_cpu_times(pid: int) -> dict[str, CpuTimes]:
    """CPU seconds used so far by each thread of `pid` (`main` and `tid N`), user and system
    apart: system time is the kernel working for the thread (socket I/O, the store's writes
    and fsyncs, wake-ups), which a faster core shortens less than Python's own."""
    ticks = os.sysconf("SC_CLK_TCK")
    used: dict[str, CpuTimes] = {}
    try:
        tasks = sorted(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return used
    for task in tasks:
        try:
            fields = (task / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        name = "main" if task.name == str(pid) else f"tid {task.name}"
        used[name] = CpuTimes(int(fields[11]) / ticks, int(fields[12]) / ticks)
    return used


class CpuWindow:
    """A server's CPU seconds per thread (`thread_cpu_times`) from `start()` to `stop()`: set
    around the load itself, not around the signing of its events."""

    def __init__(self, pid: int, on_start: Callable[[], object] = lambda: None) -> None:
        self._pid = pid
        self._on_start = on_start
        self._before: dict[str, CpuTimes] = {}
        self.busy: dict[str, float] = {}
        """User + system seconds, by thread."""
        self.system: dict[str, float] = {}

    def start(self) -> None:
        self._on_start()
        self._before = thread_cpu_times(self._pid)

    def stop(self) -> None:
        after = thread_cpu_times(self._pid)
        self.busy, self.system = {}, {}
        for name, now in after.items():
            then = self._before.get(name, CpuTimes(0.0, 0.0))
            self.system[name] = now.system - then.system
            self.busy[name] = now.user - then.user + self.system[name]

    @property
    def total(self) -> float:
        """CPU seconds of all threads within the window."""
        return sum(self.busy.values())

    @property
    def system_total(self) -> float:
        """System (kernel) seconds of all threads within the window."""
        return sum(self.system.values())
