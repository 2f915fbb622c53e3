"""bridge's benchmark, one command: `bench/run` (or `python -m bench`). See docs/benchmarks.md.

Measures, on 127.0.0.1 with the server pinned to one core and the load generator to another:
1. ingest: a bare starlette endpoint under uvicorn (the stack's limit) and `bridge serve`
   (Stripe source, one rule, SQLite with fsync at every commit), alternating, several rounds,
   driven by wrk with distinct, correctly signed Stripe events, their ids in no order (as most
   senders' are; `--ids sequential` counts them up); req/s, p50, p99, and the ratio;
2. the same load on a store that already holds `--rows` events (1 M by default);
3. end to end: a bounded number of events through bridge to a loopback pagent, with the
   conversions delivered per second and the delay from each 2xx to the vendor's receipt;
4. bridge's resident memory under each load; optionally a py-spy profile (`--profile`).
No result is asserted against a time: the exit status is 1 only when bridge answered something
other than 200 `accepted`, dropped connections, or did not deliver every conversion.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx

from bench import events as signing
from bench import loadgen, prefill, profile
from bench.processes import (
    REPO,
    CpuWindow,
    RssSampler,
    Server,
    affinity,
    bridge_environment,
    free_port,
    pinned,
    rss_bytes,
    run_wrk,
)

BENCH = REPO / "bench"
LUA = BENCH / "signed_events.lua"
CONCURRENCY = 64
BARE_EXPECT = '"status":"ok"'
BRIDGE_EXPECT = '"status":"accepted"'


@dataclass
class Run:
    """One load against one server."""

    target: str
    round: int
    client: str
    requests: int = 0
    seconds: float = 0.0
    rps: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    non2xx: int = 0
    unexpected: int = 0
    """2xx answers without the expected body (`accepted` for bridge)."""
    socket_errors: int = 0
    wrapped: bool = False
    """The pool of distinct events ran out, so later requests repeated events (duplicates)."""
    rows_before: int = 0
    rss_peak_mb: float = 0.0
    rss_idle_mb: float = 0.0
    cpu_pct: float = 0.0
    """The server's CPU time over the load's own duration (100 = its whole core)."""
    cpu_us_per_request: float = 0.0
    """Server CPU per answered request: steadier than req/s on a machine that is busy."""
    sys_us_per_request: float = 0.0
    """The part of `cpu_us_per_request` spent in the kernel."""
    sample: str = ""

    def take_cpu(self, window: CpuWindow) -> None:
        """The run's CPU figures from the window around its load."""
        if self.requests:
            self.cpu_us_per_request = 1e6 * window.total / self.requests
            self.sys_us_per_request = 1e6 * window.system_total / self.requests
        self.cpu_pct = 100 * self.share(window.total)

    def share(self, cpu_seconds: float) -> float:
        """`cpu_seconds` as a share of the load's duration: the time wrk reports, not the time
        around it, in which wrk reads its pool of events and the server waits."""
        return cpu_seconds / self.seconds if self.seconds else 0.0

    def problems(self) -> list[str]:
        found = []
        if self.non2xx:
            found.append(f"{self.non2xx} non-2xx answers")
        if self.unexpected and not self.wrapped:
            found.append(f"{self.unexpected} 2xx answers not 'accepted'")
        if self.socket_errors:
            found.append(f"{self.socket_errors} socket errors")
        if self.requests == 0:
            found.append("no request completed")
        return [f"{self.target} round {self.round}: {p} ({self.sample})" for p in found]


@dataclass
class EndToEnd:
    events: int
    accepted: int = 0
    delivered: int = 0
    vendor_requests: int = 0
    ingest_rps: float = 0.0
    conversions_per_s: float = 0.0
    """Delivered conversions / (last arrival at the vendor - start of the load)."""
    delivery_rate_per_s: float = 0.0
    """Delivered conversions / (last arrival - first arrival): the worker's own pace."""
    delay_p50_ms: float = 0.0
    delay_p99_ms: float = 0.0
    delay_max_ms: float = 0.0
    drain_s: float = 0.0
    """From the last 2xx to the last arrival."""
    rss_peak_mb: float = 0.0
    missing: int = 0


@dataclass
class Options:
    rounds: int
    duration: int
    warmup: int
    pool: int
    rows: int
    e2e_events: int
    e2e_timeout: float
    components: int
    """Events for the stage-by-stage CPU breakdown (`bench/components.py`)."""
    client: str
    workdir: Path
    keep: bool
    profile: bool
    worker: bool
    smoke: bool
    bridge_path: Path | None
    """A directory holding a `bridge` package to measure instead of the installed one."""
    ids: signing.Ids = "random"
    """The order of the events' ids (`bench/events.py`)."""


@dataclass
class Report:
    machine: dict[str, Any]
    options: dict[str, Any]
    runs: list[Run] = field(default_factory=list)
    end_to_end: EndToEnd | None = None
    components: dict[str, float] = field(default_factory=dict)
    """Microseconds of CPU per event (per conversion for the worker), by stage."""
    prefill_seconds: float = 0.0
    profile: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


class Bench:
    def __init__(self, options: Options) -> None:
        self.o = options
        self.token = secrets.token_hex(3)
        cpus = affinity()
        self.server_cpu: int | None = cpus[0] if len(cpus) >= 2 else None
        self.client_cpu: int | None = cpus[1] if len(cpus) >= 2 else None
        if self.client_cpu is not None:
            os.sched_setaffinity(0, {self.client_cpu})  # this process and wrk: the client core
        self.logs = options.workdir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.pool = options.pool
        self.vendor: Server | None = None

    # -- servers -----------------------------------------------------------------------------

    def bridge_env(self, db: Path, bridge_path: Path | None = None) -> dict[str, str]:
        """`bridge_path`: the package to run, when not the options' (`--bridge-path`)."""
        assert self.vendor is not None
        path = bridge_path or self.o.bridge_path
        return bridge_environment(self.vendor.url, database=db, bridge_path=path)

    def bridge(
        self, name: str, db: Path, *, worker: bool, bridge_path: Path | None = None
    ) -> Server:
        """`bridge serve`; without `worker`, ingest only (`--no-worker`)."""
        port = free_port()
        argv = [sys.executable, "-m", "bridge", "serve", "--host", "127.0.0.1", "--port", str(port)]
        if not worker:
            argv.append("--no-worker")
        return Server(
            name,
            argv,
            port=port,
            log=self.logs / f"{name}.log",
            env=self.bridge_env(db, bridge_path),
            cpu=self.server_cpu,
            cwd=self.o.workdir,
        )

    def bare(self) -> Server:
        port = free_port()
        return Server(
            "bare",
            [sys.executable, "-m", "bench.bare", str(port)],
            port=port,
            log=self.logs / "bare.log",
            cpu=self.server_cpu,
            cwd=REPO,
        )

    def vendor_server(self) -> Server:
        """The loopback vendor, not started yet (`with` starts and stops it)."""
        port = free_port()
        self.vendor = Server(
            "vendor",
            [sys.executable, "-m", "bench.vendor", str(port)],
            port=port,
            log=self.logs / "vendor.log",
            cpu=self.client_cpu,
            cwd=REPO,
        )
        return self.vendor

    # -- load --------------------------------------------------------------------------------

    def load(
        self,
        server: Server,
        prefix: str,
        count: int,
        seconds: int,
        expect: str,
        run: Run,
        window: CpuWindow | None = None,
    ) -> None:
        """Drive `server` for `seconds` with `count` distinct events named by `prefix`.

        wrk goes round the pool again when it is used up (and says so); the Python client
        stops instead, except against the bare endpoint, where repeats change nothing.
        `window` is started once the events are signed, as the load begins, and stopped as it
        ends: signing them takes seconds, in which the server is idle.
        """
        window = window or CpuWindow(server.pid)
        if run.client == "wrk":
            path = self.o.workdir / f"pool-{prefix}.txt"
            pool = signing.write_pool(path, prefix, count, self.o.ids)
            argv = [
                "wrk",
                "-t1",
                f"-c{CONCURRENCY}",
                f"-d{seconds}s",
                "--timeout",
                "10s",
                "-s",
                str(LUA),
                f"{server.url}{signing.PATH}",
                "--",
                str(pool),
                "1",
                expect,
            ]
            window.start()
            try:
                result = run_wrk(argv, self.client_cpu, seconds)
            finally:
                window.stop()
                pool.unlink()
            run.requests = result["requests"]
            run.seconds = result["duration_us"] / 1e6
            run.p50_ms = result["p50_us"] / 1000
            run.p99_ms = result["p99_us"] / 1000
            run.non2xx = result["non2xx"]
            run.unexpected = result["unexpected"]
            run.socket_errors = sum(result["errors"].values())
            run.wrapped = result["wrapped"] > 0
            run.sample = result["sample"]
        else:
            requests = [
                signing.http_request(e, "127.0.0.1", server.port)
                for e in signing.signed_events(prefix, count, ids=self.o.ids)
            ]
            window.start()
            got = loadgen.drive(
                "127.0.0.1",
                server.port,
                requests,
                concurrency=CONCURRENCY,
                duration=seconds,
                expect=expect.encode(),
                repeat=expect == BARE_EXPECT,
            )
            window.stop()
            run.requests = got.requests
            run.seconds = got.duration_s
            run.p50_ms = loadgen.percentile(got.latencies_s, 50) * 1000
            run.p99_ms = loadgen.percentile(got.latencies_s, 99) * 1000
            run.non2xx = got.non2xx
            run.unexpected = got.unexpected
            run.socket_errors = got.errors
            run.wrapped = got.requests >= count and expect != BARE_EXPECT
            run.sample = got.sample
        run.rps = run.requests / run.seconds if run.seconds else 0.0

    def measure(self, server: Server, run: Run, expect: str, is_bridge: bool) -> Run:
        prefix = f"{self.token}r{run.round}{run.target.replace('-', '')}"
        if self.o.warmup:
            warm = Run(run.target, run.round, run.client)
            self.load(server, f"{prefix}w", self.pool // 4, self.o.warmup, expect, warm)
        run.rss_idle_mb = _mb(_rss(server.pid))
        window = CpuWindow(server.pid)
        with RssSampler(server.pid) as rss:
            self.load(server, prefix, self.pool, self.o.duration, expect, run, window)
        run.take_cpu(window)
        run.rss_peak_mb = _mb(rss.peak)
        if is_bridge and run.rps * self.o.duration * 1.3 > self.pool:
            self.pool = int(run.rps * self.o.duration * 1.6)  # keep every event distinct
        return run

    def measure_bare(self, run: Run) -> None:
        with self.bare() as server:
            self.measure(server, run, BARE_EXPECT, False)

    def measure_fresh_bridge(
        self, run: Run, *, worker: bool, bridge_path: Path | None = None
    ) -> None:
        """`run` against bridge on a new, empty store, removed afterwards."""
        db = self.o.workdir / f"empty-{run.target}-{run.round}" / "bridge.db"
        name = f"{run.target}-r{run.round}"
        with self.bridge(name, db, worker=worker, bridge_path=bridge_path) as server:
            self.measure(server, run, BRIDGE_EXPECT, True)
        shutil.rmtree(db.parent, ignore_errors=True)

    def client(self) -> str:
        if self.o.client != "auto":
            return self.o.client
        return "wrk" if shutil.which("wrk") else "python"

    # -- phases ------------------------------------------------------------------------------

    def rounds(self, report: Report, prefilled: Path | None) -> None:
        client = self.client()
        targets = ["bare", "bridge", *(["bridge-worker"] if self.o.worker else [])]
        targets += ["bridge-1m"] if prefilled else []
        for number in range(1, self.o.rounds + 1):
            for target in round_order(targets, number):
                run = Run(target, number, client)
                if target == "bare":
                    self.measure_bare(run)
                elif target in ("bridge", "bridge-worker"):
                    self.measure_fresh_bridge(run, worker=target == "bridge-worker")
                else:
                    assert prefilled is not None
                    run.rows_before = prefill.count_rows(prefilled)
                    with self.bridge(f"bridge-1m-r{number}", prefilled, worker=False) as server:
                        self.measure(server, run, BRIDGE_EXPECT, True)
                report.runs.append(run)
                report.problems += run.problems()
                print_run(run)

    def end_to_end(self) -> EndToEnd:
        assert self.vendor is not None
        result = EndToEnd(self.o.e2e_events)
        httpx.post(f"{self.vendor.url}/reset", timeout=10)
        prefix = f"{self.token}e2e"
        batch = list(signing.signed_events(prefix, self.o.e2e_events, ids=self.o.ids))
        db = self.o.workdir / "e2e" / "bridge.db"
        with self.bridge("bridge-e2e", db, worker=True) as server, RssSampler(server.pid) as rss:
            requests = [signing.http_request(e, "127.0.0.1", server.port) for e in batch]
            started = time.time()
            got = loadgen.drive(
                "127.0.0.1",
                server.port,
                requests,
                concurrency=CONCURRENCY,
                expect=BRIDGE_EXPECT.encode(),
            )
            result.accepted = len(got.answered_at)
            result.ingest_rps = got.requests / got.duration_s if got.duration_s else 0.0
            deadline = time.monotonic() + self.o.e2e_timeout
            count = 0
            while time.monotonic() < deadline:
                count = httpx.get(f"{self.vendor.url}/count", timeout=10).json()["count"]
                if count >= result.accepted:
                    break
                time.sleep(0.05)
            seen = httpx.get(f"{self.vendor.url}/arrivals", timeout=60).json()
        result.rss_peak_mb = _mb(rss.peak)
        shutil.rmtree(db.parent, ignore_errors=True)
        arrivals: dict[str, float] = seen["arrivals"]
        result.delivered = len(arrivals)
        result.vendor_requests = seen["requests"]
        delays = [
            arrivals[batch[index].session_id] - answered
            for index, answered in got.answered_at.items()
            if batch[index].session_id in arrivals
        ]
        result.missing = result.accepted - len(delays)
        if arrivals:
            last, first = max(arrivals.values()), min(arrivals.values())
            result.conversions_per_s = len(arrivals) / (last - started)
            result.delivery_rate_per_s = len(arrivals) / (last - first) if last > first else 0.0
            if got.answered_at:
                result.drain_s = last - max(got.answered_at.values())
        result.delay_p50_ms = loadgen.percentile(delays, 50) * 1000
        result.delay_p99_ms = loadgen.percentile(delays, 99) * 1000
        result.delay_max_ms = max(delays, default=0.0) * 1000
        return result

    def components(self) -> dict[str, float]:
        """`bench/components.py` in its own process, pinned to the server's core."""
        assert self.vendor is not None
        argv = [sys.executable, "-m", "bench.components", "--vendor", self.vendor.url]
        argv += ["--workdir", str(self.o.workdir / "components"), "--events"]
        argv.append(str(self.o.components))
        done = subprocess.run(
            pinned(argv, self.server_cpu),
            cwd=self.o.workdir,  # not the checkout (see bridge_environment)
            env=bridge_environment(self.vendor.url, bridge_path=self.o.bridge_path),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"bench.components exited {done.returncode}: {done.stderr[-2000:]}")
        stages: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
        return stages

    def profile(self) -> list[str]:
        """py-spy on a bridge under the same load; the run itself is not counted."""
        output = self.o.workdir / "profile.txt"
        db = self.o.workdir / "profile" / "bridge.db"
        client = self.client()
        with self.bridge("bridge-profile", db, worker=self.o.worker) as server:
            if profile.py_spy() is None:
                return ["py-spy not found: install it into the venv (pip install py-spy)"]
            recorder: subprocess.Popen[bytes] | None = None

            def record() -> None:  # as the load begins: py-spy records for its duration
                nonlocal recorder
                recorder = profile.start_recording(
                    server.pid, self.o.duration, output, self.client_cpu, self.logs / "py-spy.log"
                )

            run = Run("bridge-profile", 0, client)
            window = CpuWindow(server.pid, on_start=record)
            prefix = f"{self.token}prof"
            self.load(server, prefix, self.pool, self.o.duration, BRIDGE_EXPECT, run, window)
            if recorder is not None:
                recorder.wait(60)
        shutil.rmtree(db.parent, ignore_errors=True)
        if not output.exists():
            return [f"py-spy recorded nothing; see {self.logs / 'py-spy.log'}"]
        kept = REPO / "bench" / "results" / f"profile-{time.strftime('%Y%m%d-%H%M%S')}.txt"
        kept.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(output, kept)
        header = f"profile of bridge at {run.rps:.0f} req/s (py-spy, raw stacks in {kept})"
        run.take_cpu(window)
        cpu = [
            f"bridge's CPU during the load: {run.cpu_pct:.0f}% of its core,"
            f" {run.cpu_us_per_request:.0f} us per request, by thread (of which system):"
        ]
        cpu += [
            f"  {100 * run.share(seconds):5.1f}%  ({100 * run.share(window.system[name]):4.1f}%)"
            f"  {name}"
            for name, seconds in sorted(window.busy.items(), key=lambda item: -item[1])
            if seconds > 0
        ]
        return [header, *cpu, *profile.summarize(output).lines()]


def main(argv: Sequence[str] | None = None) -> int:
    options = _options(argv)
    report = Report(
        machine=machine_facts(options.workdir, options.bridge_path), options=_shown(options)
    )
    print("machine: " + ", ".join(f"{k}={v}" for k, v in report.machine.items()), flush=True)
    print("options: " + ", ".join(f"{k}={v}" for k, v in report.options.items()), flush=True)
    bench = Bench(options)
    try:
        with bench.vendor_server():
            prefilled = None
            if options.rows:
                prefilled = options.workdir / f"prefill-{options.rows}-{options.ids}" / "bridge.db"
                if not prefilled.exists():
                    prefilled.parent.mkdir(parents=True, exist_ok=True)
                    env = bench.bridge_env(prefilled)
                    report.prefill_seconds = prefill.prefill(
                        prefilled, options.rows, env, REPO, options.ids
                    )
                    print(f"prefilled {options.rows} events in {report.prefill_seconds:.1f}s")
            _phase(report, "ingest rounds", lambda: bench.rounds(report, prefilled))
            if options.e2e_events:
                _phase(report, "end to end", lambda: _end_to_end(bench, report))
            if options.components:
                _phase(
                    report, "components", lambda: setattr(report, "components", bench.components())
                )
            if options.profile:
                _phase(report, "profile", lambda: setattr(report, "profile", bench.profile()))
    finally:
        if not options.keep:
            shutil.rmtree(options.workdir, ignore_errors=True)
    report.machine["load_average_end"] = _load_average()
    print()
    print("\n".join(summary_lines(report)))
    saved = _save(report)
    print(f"\nresults: {saved}")
    for problem in report.problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    return 1 if report.problems else 0


def round_order(targets: Sequence[str], number: int) -> list[str]:
    """The targets in the order round `number` runs them: reversed every other round, so that
    neither side always runs first after a pause or last into a slower phase."""
    return list(targets) if number % 2 else list(reversed(targets))


def _phase(report: Report, name: str, run: Callable[[], object]) -> None:
    """Run one phase; a failure is reported and the later phases still run."""
    try:
        run()
    except (RuntimeError, OSError, httpx.HTTPError, subprocess.SubprocessError) as exc:
        report.problems.append(f"{name} failed: {exc}")
        print(f"{name} failed: {exc}", file=sys.stderr, flush=True)


def _end_to_end(bench: Bench, report: Report) -> None:
    e2e = report.end_to_end = bench.end_to_end()
    if e2e.missing or e2e.accepted < e2e.events:
        report.problems.append(
            f"end to end: {e2e.accepted} of {e2e.events} accepted,"
            f" {e2e.missing} not delivered within {bench.o.e2e_timeout:g}s"
        )


def summary_lines(report: Report) -> list[str]:
    lines = [f"summary: medians over {report.options['rounds']} rounds, c={CONCURRENCY}"]
    lines.append(
        f"{'target':14} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}"
        f" {'not acc.':>8} {'RSS MB':>7} {'CPU %':>6} {'CPU us/req':>10} {'sys us/req':>10}"
    )
    medians: dict[str, float] = {}
    cpu: dict[str, float] = {}
    for target in ("bare", "bridge", "bridge-worker", "bridge-1m"):
        runs = [r for r in report.runs if r.target == target]
        if not runs:
            continue
        rps = statistics.median(r.rps for r in runs)
        medians[target] = rps
        lines.append(
            f"{target:14} {rps:8.0f} {statistics.median(r.p50_ms for r in runs):8.1f}"
            f" {statistics.median(r.p99_ms for r in runs):8.1f}"
            f" {sum(r.non2xx for r in runs):8d} {sum(r.unexpected for r in runs):8d}"
            f" {max(r.rss_peak_mb for r in runs):7.0f}"
            f" {statistics.median(r.cpu_pct for r in runs):6.0f}"
            f" {statistics.median(r.cpu_us_per_request for r in runs):10.0f}"
            f" {statistics.median(r.sys_us_per_request for r in runs):10.0f}"
        )
        cpu[target] = statistics.median(r.cpu_us_per_request for r in runs)
    for target, meaning in (("bridge", "ingest only"), ("bridge-worker", "worker in the server")):
        if medians.get("bare") and medians.get(target) and cpu.get(target):
            lines.append(
                f"ratio {target} / bare ({meaning}): {medians[target] / medians['bare']:.3f}"
                f" by req/s, {cpu['bare'] / cpu[target]:.3f} by CPU per request"
            )
    if medians.get("bridge") and "bridge-1m" in medians:
        rows = max(r.rows_before for r in report.runs if r.target == "bridge-1m")
        lines.append(
            f"ratio bridge with {rows} rows stored / empty store:"
            f" {medians['bridge-1m'] / medians['bridge']:.3f}"
        )
    if any(r.wrapped for r in report.runs if r.target != "bare"):
        lines.append("note: a bridge run used up its distinct events; raise --pool")
    e2e = report.end_to_end
    if e2e is not None:
        lines.append(
            f"end to end: {e2e.delivered} of {e2e.events} conversions delivered,"
            f" {e2e.conversions_per_s:.0f} conversions/s from first request to last delivery"
            f" (worker pace {e2e.delivery_rate_per_s:.0f}/s, ingest {e2e.ingest_rps:.0f} req/s,"
            f" {e2e.vendor_requests} vendor requests)"
        )
        lines.append(
            f"  delay 2xx -> vendor: p50 {e2e.delay_p50_ms:.0f} ms, p99 {e2e.delay_p99_ms:.0f} ms,"
            f" max {e2e.delay_max_ms:.0f} ms; drain after last 2xx {e2e.drain_s:.2f}s;"
            f" RSS peak {e2e.rss_peak_mb:.0f} MB"
        )
    if report.components:
        lines.append("CPU per event by stage (one process, one core; bench/components.py):")
        lines += [f"  {micros:8.1f} us  {stage}" for stage, micros in report.components.items()]
    lines += report.profile
    return lines


def machine_facts(workdir: Path, bridge_path: Path | None) -> dict[str, Any]:
    cpu = _cpuinfo()
    facts: dict[str, Any] = {
        "cpu": cpu.get("model name") or platform.processor() or "unknown",
        "cpu_id": _cpu_identity(cpu),
        "caches": _caches(),
        "cores": os.cpu_count(),
        "usable_cores": len(affinity()),
        "kernel": platform.release(),
        "os": _os_name(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "filesystem": _filesystem(workdir),
        "wrk": _wrk_version(),
        "load_average_start": _load_average(),
        "commit": _git_commit(),
        "bridge": str(bridge_path / "bridge") if bridge_path else str(REPO / "bridge"),
    }
    for package in ("uvicorn", "starlette", "uvloop", "httptools", "orjson", "pydantic"):
        try:
            facts[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            facts[package] = "not installed"
    return facts


def _cpuinfo() -> dict[str, str]:
    """The first processor's fields in `/proc/cpuinfo` (empty where there is none)."""
    fields: dict[str, str] = {}
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return fields
    for line in text.split("\n\n", 1)[0].splitlines():
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return fields


def _cpu_identity(cpu: dict[str, str]) -> str:
    """Family, model and stepping: a VM may name its CPU only "AMD EPYC", and generations
    that share the name differ by a factor of two in this bench."""
    keys = [key for key in ("cpu family", "model", "stepping") if key in cpu]
    return " ".join(f"{key} {cpu[key]}" for key in keys) or "unknown"


def _caches() -> str:
    """The first core's data and unified caches, as the kernel reports them."""
    found = []
    for index in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        try:
            level = (index / "level").read_text().strip()
            kind = (index / "type").read_text().strip()
            size = (index / "size").read_text().strip()
        except OSError:
            continue
        if kind != "Instruction":
            found.append(f"L{level} {size}")
    return ", ".join(found) or "unknown"


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return platform.system()


def _filesystem(path: Path) -> str:
    done = subprocess.run(
        ["df", "--output=fstype,source", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    rows = done.stdout.split("\n")
    return " ".join(rows[1].split()) if len(rows) > 1 else "unknown"


def _wrk_version() -> str:
    if not shutil.which("wrk"):
        return "not installed"
    done = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    first = (done.stdout or done.stderr).splitlines()
    return first[0].split(" Copyright")[0] if first else "unknown"


def _git_commit() -> str:
    done = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or "unknown"


def _load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _rss(pid: int) -> int:
    return rss_bytes(pid) or 0


def _mb(value: int) -> float:
    return value / (1024 * 1024)


def print_run(run: Run) -> None:
    extra = f" rows={run.rows_before}" if run.rows_before else ""
    print(
        f"round {run.round} {run.target:13} {run.rps:8.0f} req/s  p50 {run.p50_ms:6.1f} ms"
        f"  p99 {run.p99_ms:6.1f} ms  n={run.requests} non-2xx={run.non2xx}"
        f" not-accepted={run.unexpected} errors={run.socket_errors}"
        f" cpu={run.cpu_pct:.0f}% {run.cpu_us_per_request:.0f}us/req"
        f" (sys {run.sys_us_per_request:.0f})"
        f" rss={run.rss_idle_mb:.0f}->{run.rss_peak_mb:.0f}MB{extra}",
        flush=True,
    )


def _save(report: Report) -> Path:
    folder = BENCH / "results"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    body = asdict(report)
    path.write_text(json.dumps(body, indent=2, default=str) + "\n")
    return path


def _shown(options: Options) -> dict[str, Any]:
    shown = asdict(options)
    shown["workdir"] = str(options.workdir)
    return shown


def _options(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        prog="bench/run", description="bridge's ingest and end to end benchmark (127.0.0.1 only)."
    )
    parser.add_argument("--smoke", action="store_true", help="tiny counts, finishes in seconds")
    parser.add_argument("--rounds", type=int, help="alternating rounds (default 5)")
    parser.add_argument("--duration", type=int, help="seconds of load per run (default 10)")
    parser.add_argument("--warmup", type=int, help="seconds of unmeasured load first (default 2)")
    parser.add_argument("--pool", type=int, help="distinct events per run (default 150000; grows)")
    parser.add_argument("--rows", type=int, help="events already stored (default 1000000; 0 skips)")
    parser.add_argument("--e2e-events", type=int, help="end to end events (default 20000; 0 skips)")
    parser.add_argument(
        "--components", type=int, help="events for the stage-by-stage CPU (default 20000; 0 skips)"
    )
    parser.add_argument("--client", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument(
        "--no-worker",
        action="store_true",
        help="leave out the rounds of bridge with its delivery worker (and profile without it)",
    )
    parser.add_argument("--profile", action="store_true", help="add a py-spy profile of bridge")
    parser.add_argument("--workdir", type=Path, help="keep data here (reuses a prefilled store)")
    parser.add_argument(
        "--ids",
        choices=["sequential", "random"],
        default="random",
        help="event and PaymentIntent ids in no order, as most senders' are (default), or counting"
        " up",
    )
    parser.add_argument(
        "--bridge-path",
        type=Path,
        help="directory with a bridge package to measure (a snapshot or an experiment)",
    )
    args = parser.parse_args(argv)
    smoke = args.smoke
    defaults: Mapping[str, int] = (
        {
            "rounds": 1,
            "duration": 2,
            "warmup": 0,
            "pool": 40_000,
            "rows": 2000,
            "e2e_events": 500,
            "components": 300,
        }
        if smoke
        else {
            "rounds": 5,
            "duration": 10,
            "warmup": 2,
            "pool": 150_000,
            "rows": 1_000_000,
            "e2e_events": 20_000,
            "components": 20_000,
        }
    )

    def pick(name: str) -> int:
        value = getattr(args, name)
        return defaults[name] if value is None else int(value)

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bridge-bench-"))
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    return Options(
        rounds=max(1, pick("rounds")),
        duration=max(1, pick("duration")),
        warmup=max(0, pick("warmup")),
        pool=max(100, pick("pool")),
        rows=max(0, pick("rows")),
        e2e_events=max(0, pick("e2e_events")),
        e2e_timeout=15.0 if smoke else 180.0,
        components=max(0, pick("components")),
        client=args.client,
        workdir=workdir,
        keep=args.workdir is not None,
        profile=args.profile,
        worker=not args.no_worker,
        smoke=smoke,
        bridge_path=args.bridge_path.resolve() if args.bridge_path else None,
        ids=args.ids,
    )
