"""What zero-change interception costs, measured side by side against a base URL.

    python -m benchmarks.intercept_bench [--requests 200] [--blocks 20] [--seconds 5] [--rounds 5]

Targets (issue 16):
- a request through ``lynsms.intercept()`` costs < 10% more than the same request to the simulator's
  base URL (client-side time per request, sequential keep-alive requests, ``requests`` and httpx);
- through the proxy (CONNECT + TLS) the simulator's Twilio-create throughput is >= 0.5x the direct
  plain-HTTP figure, 32 keep-alive clients (``loadgen.run_load``).

One simulator process (``lynsms simulator --proxy-port 0``, the real CLI) serves both the direct and
the proxied runs; rounds alternate them so machine noise hits both alike. Next to each throughput the
simulator's CPU time per request is printed (steadier than req/s on a busy machine), and its ratio.
The load generator and the server run on separate cores where the machine has two or more.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import requests
import uvloop

import lynsms
from benchmarks.loadgen import ServerProcess, median, run_load, split_cores
from benchmarks.simulator_bench import PATH, twilio_create
from benchmarks.targets import TWILIO_ACCOUNT

REAL = "https://api.twilio.com"
FORM = {"To": "+12025550143", "From": "+12025550100", "Body": "Your code is 482194"}
AUTH = (TWILIO_ACCOUNT, "lynsms-local-auth-token")
URL = re.compile(r"http://127\.0\.0\.1:\d+")


@contextmanager
def simulator_with_proxy(data_dir: str, cores: set[int] | None) -> Iterator[tuple[ServerProcess, str, Path]]:
    """``lynsms simulator --port 0 --proxy-port 0`` in its own process: the simulator, proxy URL, CA file."""
    env = {**os.environ, "LYNSMS_DATA_DIR": data_dir, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "lynsms.simulator.harness.cli", "simulator", "--port", "0", "--proxy-port", "0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    if cores:
        os.sched_setaffinity(process.pid, cores)
    try:
        assert process.stdout is not None
        simulator = URL.search(process.stdout.readline())
        proxy = URL.search(process.stdout.readline())
        if simulator is None or proxy is None:
            raise SystemExit("the simulator with its proxy did not start")
        yield ServerProcess(simulator.group(0), process), proxy.group(0), Path(data_dir, "ca", "ca.pem")
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=15)


# ---- intercept() against a base URL ----------------------------------------------------------------


def per_request(send: Callable[[], int], count: int) -> tuple[float, float]:
    """Wall and client-CPU microseconds per request over ``count`` sequential requests. The client's
    CPU is where interception adds its work, and it moves less than wall time when other processes
    compete for the machine."""
    started, cpu = time.perf_counter(), time.process_time()
    for _ in range(count):
        if send() != 201:
            raise SystemExit("a request was not accepted")
    return (time.perf_counter() - started) / count * 1e6, (time.process_time() - cpu) / count * 1e6


def sender(library: str, url: str) -> tuple[Callable[[], int], Callable[[], None]]:
    """A keep-alive client of ``library`` that posts a Twilio create to ``url``, and its close."""
    if library == "requests":
        session = requests.Session()
        session.auth = AUTH
        return (lambda: session.post(url, data=FORM).status_code), session.close
    client = httpx.Client(auth=AUTH)
    return (lambda: client.post(url, data=FORM).status_code), client.close


def intercept_costs(simulator: str, count: int, blocks: int) -> None:
    """Per library: blocks of ``count`` requests, alternating base URL and ``intercept()``, each
    mode on its own warmed-up keep-alive client; medians of the blocks."""
    for library in ("requests", "httpx"):
        direct, direct_close = sender(library, simulator + PATH)
        real, real_close = sender(library, REAL + PATH)
        interception = lynsms.intercept(simulator=simulator)
        with interception:
            per_request(real, 100)
        per_request(direct, 100)
        base: list[tuple[float, float]] = []
        intercepted: list[tuple[float, float]] = []
        try:
            for _ in range(blocks):
                base.append(per_request(direct, count))
                with lynsms.intercept(simulator=simulator):
                    intercepted.append(per_request(real, count))
        finally:
            direct_close()
            real_close()
        wall = [median([w for w, _ in runs]) for runs in (base, intercepted)]
        cpu = [median([c for _, c in runs]) for runs in (base, intercepted)]
        print(
            f"  {library:<8} base URL {wall[0]:5.0f} us/req ({cpu[0]:4.0f} us client CPU)   "
            f"intercept() {wall[1]:5.0f} us/req ({cpu[1]:4.0f} us client CPU)   "
            f"cost {100 * (wall[1] / wall[0] - 1):+.1f}% wall, {100 * (cpu[1] / cpu[0] - 1):+.1f}% client CPU "
            "(target < +10%)",
            flush=True,
        )


# ---- the proxy against direct plain HTTP -----------------------------------------------------------


def tunnel(proxy: str, ca: Path) -> Callable[[], object]:
    """A ``loadgen`` connection opener: CONNECT api.twilio.com:443 through ``proxy``, then TLS."""
    host, port = proxy.removeprefix("http://").rsplit(":", 1)
    context = ssl.create_default_context(cafile=str(ca))

    async def connect() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"CONNECT api.twilio.com:443 HTTP/1.1\r\nHost: api.twilio.com:443\r\n\r\n")
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise SystemExit(f"the proxy refused the tunnel: {head!r}")
        await writer.start_tls(context, server_hostname="api.twilio.com")
        return reader, writer

    return connect


def proxy_throughput(
    server: ServerProcess, proxy: str, ca: Path, seconds: float, rounds: int, concurrency: int
) -> None:
    simulator = server.url
    direct_request = twilio_create(simulator)
    proxied_request = twilio_create(REAL)  # Host: api.twilio.com, as a real client sends it
    connect = tunnel(proxy, ca)
    direct: list[tuple[float, float]] = []
    proxied: list[tuple[float, float]] = []

    def load(request: bytes, via_proxy: bool, duration: float) -> tuple[float, float]:
        """Throughput, and the simulator process's CPU microseconds per request (TLS included)."""
        before = server.cpu_seconds()
        # uvloop's TLS is several times cheaper than asyncio's pure-Python one: the load generator
        # must not be what limits the proxied runs (it does the client half of every TLS record).
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            stats = runner.run(
                run_load(
                    simulator,
                    request,
                    concurrency=concurrency,
                    duration=duration,
                    expect=201,
                    connect=connect if via_proxy else None,  # type: ignore[arg-type]
                )
            )
        cpu = (server.cpu_seconds() - before) / max(1, stats.requests) * 1e6
        if stats.errors:
            raise SystemExit(f"{stats.errors} unexpected responses")
        label = "proxy + TLS" if via_proxy else "direct HTTP"
        print(f"  {label:<12} {stats.describe()}  {cpu:4.0f} us CPU/req", flush=True)
        return stats.throughput, cpu

    load(direct_request, False, 1.0)  # warm-up (and every leaf certificate issued)
    load(proxied_request, True, 1.0)
    for round_no in range(1, rounds + 1):
        print(f"round {round_no}/{rounds}")
        direct.append(load(direct_request, False, seconds))
        proxied.append(load(proxied_request, True, seconds))
    rate, direct_rate = median([r for r, _ in proxied]), median([r for r, _ in direct])
    cpu, direct_cpu = median([c for _, c in proxied]), median([c for _, c in direct])
    print(
        f"throughput: through the proxy {rate:.0f} req/s, direct {direct_rate:.0f} req/s, "
        f"ratio {rate / direct_rate:.2f} (target >= 0.50)"
    )
    print(
        f"simulator CPU per request: through the proxy {cpu:.0f} us, direct {direct_cpu:.0f} us, "
        f"ratio {direct_cpu / cpu:.2f} (the throughput ratio a saturated simulator would show)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200, help="sequential requests per intercept block")
    parser.add_argument("--blocks", type=int, default=20, help="blocks per mode for intercept()")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()

    split = split_cores()
    servers: set[int] | None = None
    if split is not None:
        generator, servers = split
        os.sched_setaffinity(0, generator)
        print(f"clients on cores {sorted(generator)}, simulator on cores {sorted(servers)}")
    with tempfile.TemporaryDirectory() as data_dir, simulator_with_proxy(data_dir, servers) as (simulator, proxy, ca):
        print(f"intercept() against a base URL, {args.blocks} x {args.requests} sequential requests per mode:")
        intercept_costs(simulator.url, args.requests, args.blocks)
        print(f"the proxy against direct plain HTTP, {args.concurrency} keep-alive clients:")
        proxy_throughput(simulator, proxy, ca, args.seconds, args.rounds, args.concurrency)


if __name__ == "__main__":
    main()
