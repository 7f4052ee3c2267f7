"""Simulator throughput against a bare Starlette endpoint, and peak RSS after many requests.

    python -m benchmarks.simulator_bench [--seconds 5] [--rounds 3] [--rss-requests 100000]

Issue targets: full simulator (journal on) >= 0.6x the bare endpoint's Twilio-create throughput
at 32 concurrent connections; peak RSS after 100,000 requests < 200 MB. Rounds alternate the two
targets so machine noise hits both alike.

The load generator and the servers run on separate cores (``loadgen.split_cores``). Next to each
throughput the server's CPU time per request is printed, and the ratio of those (bare /
simulator) at the end: it hardly moves when something else competes for the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
from urllib.parse import urlencode

from benchmarks.loadgen import build_request, median, run_load, server_process, split_cores
from benchmarks.targets import TWILIO_ACCOUNT

PATH = f"/2010-04-01/Accounts/{TWILIO_ACCOUNT}/Messages.json"


def twilio_create(url: str) -> bytes:
    body = urlencode({"To": "+12025550143", "From": "+12025550100", "Body": "Your code is 482194"}).encode()
    auth = base64.b64encode(f"{TWILIO_ACCOUNT}:lynsms-local-auth-token".encode()).decode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Authorization": f"Basic {auth}"}
    return build_request(url + PATH, "POST", body, headers)


def throughput(
    target: str,
    seconds: float,
    concurrency: int,
    *target_args: str,
    label: str | None = None,
    cores: set[int] | None = None,
) -> tuple[float, float]:
    """Twilio-create throughput of ``target`` (started with ``target_args``, on ``cores``) after a
    1 s warm-up, and the server's CPU microseconds per request meanwhile."""
    label = label or target
    with server_process(target, *target_args, cores=cores) as server:
        request = twilio_create(server.url)
        asyncio.run(run_load(server.url, request, concurrency=concurrency, duration=1.0, expect=201))  # warm-up
        before = server.cpu_seconds()
        stats = asyncio.run(run_load(server.url, request, concurrency=concurrency, duration=seconds, expect=201))
        cpu = (server.cpu_seconds() - before) / max(1, stats.requests) * 1e6
        print(f"  {label:<16} {stats.describe()}  {cpu:4.0f} us CPU/req", flush=True)
        if stats.errors:
            raise SystemExit(f"{label}: {stats.errors} unexpected responses")
        return stats.throughput, cpu


def peak_rss(requests: int, concurrency: int) -> float:
    with server_process("simulator") as server:
        request = twilio_create(server.url)
        stats = asyncio.run(run_load(server.url, request, concurrency=concurrency, count=requests, expect=201))
        rss = server.peak_rss_mb()
        print(f"  simulator after {stats.requests} requests ({stats.errors} errors): peak RSS {rss:.1f} MB")
        return rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rss-requests", type=int, default=100_000)
    args = parser.parse_args()

    split = split_cores()
    servers: set[int] | None = None
    if split is not None:
        generator, servers = split
        os.sched_setaffinity(0, generator)
        print(f"load generator on cores {sorted(generator)}, servers on cores {sorted(servers)}")
    bare: list[tuple[float, float]] = []
    full: list[tuple[float, float]] = []
    for round_no in range(1, args.rounds + 1):
        print(f"round {round_no}/{args.rounds}")
        bare.append(throughput("bare", args.seconds, args.concurrency, cores=servers))
        full.append(throughput("simulator", args.seconds, args.concurrency, cores=servers))
    rate, bare_rate = median([r for r, _ in full]), median([r for r, _ in bare])
    cpu, bare_cpu = median([c for _, c in full]), median([c for _, c in bare])
    print(
        f"throughput: simulator {rate:.0f} req/s, bare Starlette {bare_rate:.0f} req/s, "
        f"ratio {rate / bare_rate:.2f} (target >= 0.60)"
    )
    print(f"CPU per request: simulator {cpu:.0f} us, bare Starlette {bare_cpu:.0f} us, ratio {bare_cpu / cpu:.2f}")
    rss = peak_rss(args.rss_requests, args.concurrency)
    print(f"peak RSS after {args.rss_requests} requests: {rss:.1f} MB (target < 200 MB)")


if __name__ == "__main__":
    main()
