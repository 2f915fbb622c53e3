"""One change, measured: bridge packages side by side on the ingest path, in alternating rounds.

`python -m bench.ab DIR [DIR ...]` runs `bridge serve --no-worker` from each directory's
`bridge` package (`.` is this checkout; a snapshot is, for example, `git worktree add /tmp/old
HEAD~1`) with the same load as `bench/run` (wrk, c=64, distinct signed Stripe events whose ids
come in no order unless `--ids sequential`, a fresh store per run, the server pinned to its own
core), the order reversed every other round. It
prints each run, then per package the medians of req/s, p99 and CPU per request, and for each
package after the first its req/s against the first's round by round: on a machine whose speed
drifts, pairs measured a minute apart are the steadiest comparison there is. `--bare` adds
bare starlette for ratios. Nothing is asserted on speed; exit 1 only when a request was not
answered 200 `accepted`.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.main import CONCURRENCY, Bench, Options, Run, print_run, round_order
from bench.processes import REPO

BARE = "bare"


@dataclass(frozen=True)
class Package:
    label: str
    """A short name for the runs' lines and their events' ids: A, B, C, ..."""
    path: Path
    """The directory holding the `bridge` package."""


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    if len(args.directories) > 26:
        print("at most 26 packages (A to Z)", file=sys.stderr)
        return 2
    packages = [
        Package(chr(ord("A") + number), Path(directory).resolve())
        for number, directory in enumerate(args.directories)
    ]
    for package in packages:
        if not (package.path / "bridge" / "__init__.py").is_file():
            print(f"{package.path} holds no bridge package", file=sys.stderr)
            return 2
        print(f"{package.label} = {_where(package.path)}", flush=True)
    workdir = Path(tempfile.mkdtemp(prefix="bridge-ab-"))
    options = _options(args, workdir)
    runs: dict[str, list[Run]] = {p.label: [] for p in packages}
    if args.bare:
        runs[BARE] = []
    try:
        bench = Bench(options)
        with bench.vendor_server():
            _rounds(bench, options, packages, runs)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print()
    print("\n".join(summary_lines(runs, options.rounds)))
    problems = [problem for series in runs.values() for run in series for problem in run.problems()]
    for problem in problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    return 1 if problems else 0


def _rounds(
    bench: Bench, options: Options, packages: Sequence[Package], runs: dict[str, list[Run]]
) -> None:
    targets = [*(p.label for p in packages), *([BARE] if BARE in runs else [])]
    paths = {p.label: p.path for p in packages}
    client = bench.client()
    for number in range(1, options.rounds + 1):
        for target in round_order(targets, number):
            run = Run(target, number, client)
            if target == BARE:
                bench.measure_bare(run)
            else:
                bench.measure_fresh_bridge(run, worker=False, bridge_path=paths[target])
            runs[target].append(run)
            print_run(run)


def summary_lines(runs: dict[str, list[Run]], rounds: int) -> list[str]:
    """Medians per package, and each later package's req/s against the first's, per round."""
    lines = [
        f"medians over {rounds} rounds, c={CONCURRENCY}, ingest only (serve --no-worker)",
        f"{'':6} {'req/s':>8} {'p99 ms':>8} {'CPU us/req':>10} {'sys us/req':>10}",
    ]
    for target, series in runs.items():
        lines.append(
            f"{target:6} {_median(series, 'rps'):8.0f} {_median(series, 'p99_ms'):8.1f}"
            f" {_median(series, 'cpu_us_per_request'):10.0f}"
            f" {_median(series, 'sys_us_per_request'):10.0f}"
        )
    first, *others = [target for target in runs if target != BARE]
    for other in others:
        lines.append(_against(other, runs[other], first, runs[first]))
    bare = _median(runs.get(BARE, []), "rps")
    if bare:
        lines += [
            f"{t} / bare: {_median(runs[t], 'rps') / bare:.3f} by req/s" for t in runs if t != BARE
        ]
    return lines


def _against(label: str, series: Sequence[Run], base_label: str, base: Sequence[Run]) -> str:
    ratios = [run.rps / paired.rps for run, paired in zip(series, base, strict=True) if paired.rps]
    if not ratios:
        return f"{label} against {base_label}: no request answered"
    faster = sum(ratio > 1 for ratio in ratios)
    return (
        f"{label} against {base_label}: {100 * (statistics.median(ratios) - 1):+.1f} % req/s"
        f" (median of the rounds' ratios), faster in {faster} of {len(ratios)} rounds"
    )


def _median(series: Sequence[Run], name: str) -> float:
    return statistics.median(getattr(run, name) for run in series) if series else 0.0


def _where(path: Path) -> str:
    return f"{path} (this checkout)" if path == REPO.resolve() else str(path)


def _options(args: argparse.Namespace, workdir: Path) -> Options:
    return Options(
        rounds=1 if args.smoke else args.rounds,
        duration=1 if args.smoke else args.duration,
        warmup=0 if args.smoke else args.warmup,
        pool=20_000 if args.smoke else 150_000,
        rows=0,
        e2e_events=0,
        e2e_timeout=0.0,
        components=0,
        client=args.client,
        workdir=workdir,
        keep=False,
        profile=False,
        worker=False,
        smoke=args.smoke,
        bridge_path=None,
        ids=args.ids,
    )


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ab",
        description="bridge packages side by side on the ingest path (127.0.0.1 only).",
    )
    parser.add_argument(
        "directories", nargs="+", help="directories holding a bridge package; . is this checkout"
    )
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (default 5)")
    parser.add_argument("--duration", type=int, default=10, help="seconds per run (default 10)")
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured seconds (default 2)")
    parser.add_argument("--bare", action="store_true", help="add bare starlette, for ratios")
    parser.add_argument(
        "--ids",
        choices=["random", "sequential"],
        default="random",
        help="event ids in no order (default) or counting up",
    )
    parser.add_argument("--client", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--smoke", action="store_true", help="one round of a second, for CI")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main())
