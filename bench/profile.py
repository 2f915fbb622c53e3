"""Where bridge spends its time under load: py-spy's collapsed stacks, summed per function.

`py-spy record --format raw --threads` writes one line per distinct stack:
`thread (tid): name;outer (file:line);...;inner (file:line) COUNT`. Here each line's samples
are credited, within its thread, once to every function on the stack (inclusive) and to its
innermost frame (self). py-spy pauses bridge for each sample (stacks read while it runs come
out truncated under uvloop), so the rate is low and the profiled run is slower than the others.
Usage: python -m bench.profile PROFILE.txt [TOP]
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

_LINE = re.compile(r":\d+\)$")


@dataclass
class Summary:
    samples: int
    threads: Counter[str]
    inclusive: Counter[str]
    own: Counter[str]

    def lines(self, top: int = 25) -> list[str]:
        """Per thread (busiest first): inclusive and self shares of that thread's samples.

        Frames on (nearly) every sample of a thread, its entry points, are left out.
        """
        total = max(self.samples, 1)
        out = [f"{self.samples} samples; py-spy counts a thread blocked in C as busy"]
        out += [f"  {100 * n / total:5.1f}%  {name}" for name, n in self.threads.most_common()]
        for thread, samples in self.threads.most_common(2):
            inclusive = [
                (name, n)
                for name, n in self.inclusive.most_common()
                if name.startswith(thread + "|") and n < 0.985 * samples
            ]
            own = [(name, n) for name, n in self.own.most_common() if name.startswith(thread + "|")]
            for title, rows in (("inclusive", inclusive), ("self", own)):
                out.append(f"{thread}, {title}, % of its samples, top {top}:")
                out += [
                    f"  {100 * n / max(samples, 1):5.1f}%  {name.partition('|')[2]}"
                    for name, n in rows[:top]
                ]
        return out


def _frame(text: str) -> str:
    """`func (path/to/file.py:123)` -> `func (to/file.py)`: lines merged, paths shortened."""
    text = _LINE.sub(")", text.strip())
    name, _, where = text.partition(" (")
    parts = where.rstrip(")").split("/")
    short = "/".join(parts[-2:]) if len(parts) > 1 else where.rstrip(")")
    return f"{name} ({short})" if where else name


def summarize(path: Path) -> Summary:
    threads: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    samples = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        thread = frames[0] if frames[0].startswith(("thread", "process")) else "?"
        functions = [_frame(f) for f in frames if not f.startswith(("thread", "process"))]
        samples += count
        label = thread.split(" ")[-1]
        threads[label] += count
        for name in set(functions):
            inclusive[f"{label}|{name}"] += count
        if functions:
            own[f"{label}|{functions[-1]}"] += count
    return Summary(samples, threads, inclusive, own)


def py_spy() -> str | None:
    """The py-spy next to this Python (the venv's), else one on PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def record_command(
    executable: str, pid: int, seconds: int, output: Path, cpu: int | None
) -> list[str]:
    argv = [
        executable,
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(seconds),
        "--rate",
        "50",
        "--threads",
        "--format",
        "raw",
        "--output",
        str(output),
    ]
    return ["taskset", "-c", str(cpu), *argv] if cpu is not None else argv


def start_recording(
    pid: int, seconds: int, output: Path, cpu: int | None, log: Path
) -> subprocess.Popen[bytes] | None:
    executable = py_spy()
    if executable is None:
        return None
    with log.open("ab") as out:
        return subprocess.Popen(
            record_command(executable, pid, seconds, output, cpu), stdout=out, stderr=out
        )


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        print(__doc__)
        return 2
    print("\n".join(summarize(Path(args[0])).lines(int(args[1]) if len(args) > 1 else 25)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
