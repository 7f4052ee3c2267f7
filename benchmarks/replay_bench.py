"""Scenario replay: how long the library takes, whether fast-forward stays exact under load, how it scales.

    python3 -m benchmarks.replay_bench [library|flaky|generated|startup|all] [--runs 20] [--count 300]

- ``library``: ``lynsms scenario run scenarios/`` fast-forwarded and in real time, alternated for
  three rounds; medians of the wall time of the whole command (target: fast-forward < 3 s).
- ``flaky``: the library replayed ``--runs`` times in a row (fast-forward) while another process
  burns one core; every run must pass (target: no failure).
- ``generated``: ``--count`` scenarios made from the library's files (each kind repeated, renamed),
  replayed as two shards (``--shard 1/2`` and ``--shard 2/2``) in parallel processes, checking that
  every scenario ran in exactly one shard; then the same files as pytest items with ``-n 2``, the
  test extras' unrelated pytest plugins left out (target: < 30 s wall on 2 cores, each way).
- ``startup``: a fresh stack (simulator + gateway servers) per scenario vs the shared bench (a fresh
  gateway mounted per scenario); the pytest session fixtures' start; ``lynsms up`` until both
  servers answer (target: < 1 s).

Each command runs in its own process, as a user or a CI job runs it.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

from benchmarks.cpu import children_cpu

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = ROOT / "scenarios"
LYNSMS = [sys.executable, "-m", "lynsms.simulator.harness.cli"]
# The test extras' own pytest plugins (hypothesis, schemathesis, faker... ~1.5 s of imports per
# process): a project replaying scenarios need not have them, and they are not the harness's cost.
OTHER_PLUGINS = [
    arg for name in ("asyncio", "anyio", "faker", "hypothesispytest", "schemathesis") for arg in ("-p", f"no:{name}")
]


def replay(*arguments: str) -> tuple[float, int, str]:
    started = time.monotonic()
    done = subprocess.run(
        [*LYNSMS, "scenario", "run", *arguments], check=False, capture_output=True, text=True, cwd=ROOT
    )
    return time.monotonic() - started, done.returncode, done.stdout + done.stderr


def library(rounds: int = 3) -> None:
    timings: dict[str, list[float]] = {"fast-forward": [], "real time": []}
    cpu: dict[str, list[float]] = {"fast-forward": [], "real time": []}
    for _ in range(rounds):
        for mode, extra in (("fast-forward", ()), ("real time", ("--real-time",))):
            before = children_cpu()
            seconds, code, out = replay(str(LIBRARY), *extra)
            if code != 0:
                raise SystemExit(f"library replay failed ({mode}):\n{out}")
            timings[mode].append(seconds)
            cpu[mode].append(children_cpu() - before)
    fast, real = (statistics.median(timings[m]) for m in ("fast-forward", "real time"))
    print(f"machine load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(
        f"library ({len(list(LIBRARY.glob('*.scenario.yaml')))} scenarios), wall of the whole command, "
        f"median of {rounds}:"
    )
    print(
        f"  fast-forward {fast:.2f} s   real time {real:.2f} s   ratio {real / fast:.1f}x   target < 3 s: "
        f"{'met' if fast < 3 else 'MISSED'}"
    )
    print(
        f"  CPU of the whole command: fast-forward {statistics.median(cpu['fast-forward']):.2f} s, "
        f"real time {statistics.median(cpu['real time']):.2f} s (steadier than wall time on a busy machine)"
    )


def _burn(stop: multiprocessing.synchronize.Event) -> None:
    while not stop.is_set():
        sum(range(10_000))


def flaky(runs: int) -> None:
    stop = multiprocessing.Event()
    burner = multiprocessing.Process(target=_burn, args=(stop,), daemon=True)
    burner.start()
    failures: list[str] = []
    walls: list[float] = []
    try:
        for run in range(1, runs + 1):
            seconds, code, out = replay(str(LIBRARY))
            walls.append(seconds)
            if code != 0:
                failures.append(f"run {run}:\n{out}")
    finally:
        stop.set()
        burner.join()
    print(
        f"flakiness: {runs} fast-forward library replays with one core burnt by another process: "
        f"{runs - len(failures)} passed, {len(failures)} failed; wall {min(walls):.2f}-{max(walls):.2f} s "
        f"(median {statistics.median(walls):.2f} s)"
    )
    for failure in failures:
        print(failure)


def generate(folder: Path, count: int) -> list[str]:
    sources = sorted(LIBRARY.glob("*.scenario.yaml"))
    names: list[str] = []
    for index in range(count):
        source = sources[index % len(sources)]
        name = f"{source.name.removesuffix('.scenario.yaml')}-{index:03d}"
        text = re.sub(r"^name: .*$", f"name: {name}", source.read_text("utf-8"), count=1, flags=re.M)
        (folder / f"{name}.scenario.yaml").write_text(text, "utf-8")
        names.append(name)
    return names


def generated(count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        names = generate(Path(tmp), count)
        started = time.monotonic()
        shards = [
            subprocess.Popen(
                [*LYNSMS, "scenario", "run", tmp, "--shard", f"{k}/2"], stdout=subprocess.PIPE, text=True, cwd=ROOT
            )
            for k in (1, 2)
        ]
        outputs = [shard.communicate()[0] for shard in shards]
        wall = time.monotonic() - started
        started = time.monotonic()
        under_pytest = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-n", "2", "-p", "no:cacheprovider", *OTHER_PLUGINS, tmp],
            capture_output=True,
            text=True,
            cwd=tmp,
            check=False,
        )
        pytest_wall = time.monotonic() - started
    ran = Counter(m for out in outputs for m in re.findall(r"^[✓✗] (\S+)", out, flags=re.M))
    once = all(ran[name] == 1 for name in names) and len(ran) == len(names)
    passed = all(shard.returncode == 0 for shard in shards)
    print(
        f"generated library: {count} scenarios as 2 shards in parallel on {os.cpu_count()} cores: {wall:.2f} s wall; "
        f"every scenario in exactly one shard: {once}; all passed: {passed}; target < 30 s: "
        f"{'met' if wall < 30 and once and passed else 'MISSED'}"
    )
    tail = under_pytest.stdout.strip().splitlines()[-1:] or ["(no output)"]
    print(
        f"  the same {count} as pytest items, pytest -n 2: {pytest_wall:.2f} s wall ({tail[0]}); target < 30 s: "
        f"{'met' if pytest_wall < 30 and under_pytest.returncode == 0 else 'MISSED'}"
    )
    if not passed:
        for out in outputs:
            print("\n".join(line for line in out.splitlines() if line.startswith(("✗", "  FAILED"))))


def startup(rounds: int = 10) -> None:
    from lynsms.simulator.harness.replay import CHECKS, run_scenario, start_stack
    from lynsms.simulator.harness.replay.stack import Bench
    from lynsms.simulator.scenario import load

    scenario = load(LIBRARY / "twilio-503-outage.scenario.yaml", checks=CHECKS)
    fresh: list[float] = []
    shared: list[float] = []
    for _ in range(rounds):
        started = time.monotonic()
        with start_stack(scenario) as stack:
            assert run_scenario(scenario, stack).passed
        fresh.append(time.monotonic() - started)
    bench_started = time.monotonic()
    with Bench() as bench:
        bench_start = time.monotonic() - bench_started
        for _ in range(rounds):
            started = time.monotonic()
            with bench.stack(scenario) as stack:
                assert run_scenario(scenario, stack).passed
            shared.append(time.monotonic() - started)
    print(
        "startup: one scenario on a fresh stack (servers started and stopped) "
        f"{statistics.median(fresh) * 1000:.0f} ms; "
        f"on the shared bench (fresh gateway mounted) {statistics.median(shared) * 1000:.0f} ms; "
        f"starting the bench (session fixtures: simulator + gateway host) {bench_start * 1000:.0f} ms"
    )
    readies = [_up_ready() for _ in range(3)]
    print(
        f"lynsms up: ready (both servers answer) in {statistics.median(readies):.2f} s median of 3 "
        f"(target < 1 s: {'met' if max(readies) < 1 else 'MISSED'})"
    )


def _up_ready() -> float:
    with tempfile.TemporaryDirectory():
        started = time.monotonic()
        process = subprocess.Popen(
            [
                shutil.which("lynsms") or sys.executable,
                *([] if shutil.which("lynsms") else LYNSMS[1:]),
                "up",
                "--gateway-port",
                "0",
                "--simulator-port",
                "0",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            assert process.stdout is not None
            urls: dict[str, str] = {}
            for line in process.stdout:
                found = re.match(r"\s+(gateway|simulator)\s+(http://\S+)", line)
                if found:
                    urls[found[1]] = found[2].removesuffix("/api")
                if len(urls) == 2:
                    break
            with httpx.Client(trust_env=False) as client:
                for url in (urls["gateway"] + "/api/health", urls["simulator"] + "/_sim/health"):
                    while True:
                        try:
                            if client.get(url).status_code == 200:
                                break
                        except httpx.TransportError:
                            time.sleep(0.005)
            return time.monotonic() - started
        finally:
            process.terminate()
            process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", nargs="?", default="all", choices=["library", "flaky", "generated", "startup", "all"])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--count", type=int, default=300)
    args = parser.parse_args()
    if args.what in ("library", "all"):
        library()
    if args.what in ("startup", "all"):
        startup()
    if args.what in ("generated", "all"):
        generated(args.count)
    if args.what in ("flaky", "all"):
        flaky(args.runs)


if __name__ == "__main__":
    main()
