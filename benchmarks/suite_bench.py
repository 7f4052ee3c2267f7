"""The test suite's own cost: wall time, CPU, and where both go, for one or more xdist worker counts.

    python3 -m benchmarks.suite_bench [--workers 2,4] [--top 15] [pytest args...]

Each worker count runs the README's test command (``python3 -m pytest -q``) once, in rotating order
when there are several rounds, with ``benchmarks.suite_profile`` loaded into every worker. Reported
per run: pytest's own wall time, the CPU of every process the run started (workers, the servers and
sessions the tests start, browsers), the CPU each worker spent starting up and collecting, and the
files that cost most wall time and CPU (target: the suite within 35 s wall on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

from benchmarks.cpu import children_cpu

ROOT = Path(__file__).resolve().parent.parent


def run_suite(workers: str, extra: list[str], top: int) -> float:
    with tempfile.TemporaryDirectory(prefix="suite-bench-") as folder:
        before = children_cpu()
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-n", workers, "-p", "benchmarks.suite_profile", *extra],
            cwd=ROOT,
            env={**os.environ, "LYNSMS_SUITE_PROFILE": folder},
            capture_output=True,
            text=True,
            check=False,
        )
        cpu = children_cpu() - before
        summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-400:]
        seconds = re.search(r"in ([0-9.]+)s", summary)
        wall = float(seconds.group(1)) if seconds else float("nan")
        records = [json.loads(line) for path in Path(folder).glob("*.jsonl") for line in path.open()]
    print(f"\n-n {workers}: {summary}")
    print(f"  wall {wall:.1f} s, CPU of every process {cpu:.1f} s ({cpu / wall:.2f} cores busy on average)")
    starts = sorted(r["cpu"] for r in records if r["kind"] == "start")
    print(f"  worker start-up and collection, CPU each: {', '.join(f'{s:.2f} s' for s in starts)}")
    worker_cpu = sorted(r["cpu"] for r in records if r["kind"] == "worker")
    controller = sum(r["cpu"] for r in records if r["kind"] == "controller")
    each = ", ".join(f"{w:.1f} s" for w in worker_cpu)
    print(f"  CPU of each worker in all (its tests' subprocesses included): {each}")
    print(
        f"  CPU of the controller: {controller:.1f} s; of processes left running to the end: "
        f"{cpu - sum(worker_cpu) - controller:.1f} s"
    )
    print_timeline(records)
    files: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
    for record in records:
        if record["kind"] == "test":
            entry = files[record["file"]]
            entry[0] += record["wall"]
            entry[1] += record["cpu"]
            entry[2] += 1
    for label, column in (("wall", 0), ("CPU", 1)):
        print(f"  files with the most {label} (wall s, CPU s, tests):")
        for name, (spent, used, count) in sorted(files.items(), key=lambda kv: -kv[1][column])[:top]:
            print(f"    {spent:6.2f} {used:6.2f} {int(count):5d}  {name}")
    print("  tests with the most CPU (wall s, CPU s):")
    tests = sorted((r for r in records if r["kind"] == "test"), key=lambda r: -r["cpu"])
    for record in tests[:top]:
        print(f"    {record['wall']:6.2f} {record['cpu']:6.2f}  {record['test']}")
    if done.returncode != 0:
        print(done.stdout[-3000:], done.stderr[-2000:], sep="\n")
    return wall


def print_timeline(records: list[dict[str, Any]]) -> None:
    """When each worker ran its first and its last test, from the session's start: a worker that ends
    long before the others is a core left idle (a long file handed out late, or too few workers)."""
    zero = min((r["began"] for r in records if r["kind"] == "session"), default=None)
    tests = [r for r in records if r["kind"] == "test"]
    if zero is None or not tests:
        return
    spans: dict[str, list[float]] = defaultdict(lambda: [float("inf"), 0.0])
    for record in tests:
        span = spans[record["worker"]]
        span[0] = min(span[0], record["began"] - zero)
        span[1] = max(span[1], record["began"] + record["wall"] - zero)
    last = max(end for _, end in spans.values())
    print("  workers' first and last test, seconds from the session's start (idle at the end):")
    for worker, (first, end) in sorted(spans.items()):
        print(f"    {worker}: {first:5.1f} to {end:5.1f} ({last - end:4.1f} s idle)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="auto", help="comma-separated xdist worker counts (default: auto)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--top", type=int, default=12)
    args, extra = parser.parse_known_args()
    counts = args.workers.split(",")
    walls: dict[str, list[float]] = defaultdict(list)
    for round_ in range(args.rounds):
        order = counts[round_ % len(counts) :] + counts[: round_ % len(counts)]
        for workers in order:
            walls[workers].append(run_suite(workers, extra, args.top))
    print("\nsummary (pytest wall per round):")
    for workers, seen in walls.items():
        print(f"  -n {workers}: {', '.join(f'{w:.1f} s' for w in seen)}")


if __name__ == "__main__":
    main()
