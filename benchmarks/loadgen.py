"""A small, fast HTTP/1.1 load generator and a way to run servers in their own process.

Throughput ratios are only meaningful when every target is driven by the same generator, so all
benchmarks here use this one. It speaks raw keep-alive HTTP/1.1 over asyncio streams (much
cheaper per request than a full client library, so the server stays the bottleneck), and each
server under test runs in a separate process so the two never share a GIL.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

Connect = Callable[[], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


@dataclass(frozen=True)
class Stats:
    requests: int
    errors: int
    seconds: float
    latencies: tuple[float, ...]  # seconds, one per successful request

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    def describe(self) -> str:
        return (
            f"{self.throughput:8.0f} req/s  {self.requests} ok  {self.errors} errors  "
            f"p50 {self.percentile(50) * 1000:.2f} ms  p99 {self.percentile(99) * 1000:.2f} ms"
        )


def build_request(url: str, method: str = "GET", body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [f"{method} {target or '/'} HTTP/1.1", f"Host: {parts.netloc}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        lowered = name.strip().lower()
        if lowered == b"content-length":
            length = int(value)
        elif lowered == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status


async def run_load(
    url: str,
    request: bytes,
    *,
    concurrency: int = 32,
    duration: float | None = None,
    count: int | None = None,
    expect: int | None = None,
    connect: Connect | None = None,
) -> Stats:
    """Drive ``url`` with ``concurrency`` keep-alive connections, each sending ``request`` in a loop,
    for ``duration`` seconds or ``count`` requests in all. A response whose status is not ``expect``
    (when given), or a broken connection, counts as an error. ``connect`` opens each connection
    (default: TCP to ``url``'s host and port), e.g. a TLS tunnel through a proxy."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    opener = connect or (lambda: asyncio.open_connection(host, port))
    latencies: list[float] = []
    errors = 0
    remaining = count
    deadline = time.perf_counter() + duration if duration is not None else None

    def more() -> bool:
        nonlocal remaining
        if deadline is not None and time.perf_counter() >= deadline:
            return False
        if remaining is not None:
            if remaining <= 0:
                return False
            remaining -= 1
        return True

    async def worker() -> None:
        nonlocal errors
        reader, writer = await opener()
        try:
            while more():
                started = time.perf_counter()
                writer.write(request)
                try:
                    status = await _read_response(reader)
                except (asyncio.IncompleteReadError, ConnectionError):
                    errors += 1
                    writer.close()
                    reader, writer = await opener()
                    continue
                if expect is not None and status != expect:
                    errors += 1
                else:
                    latencies.append(time.perf_counter() - started)
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Stats(len(latencies), errors, time.perf_counter() - started, tuple(latencies))


@dataclass
class ServerProcess:
    url: str
    process: subprocess.Popen[str]

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu_seconds(self) -> float:
        """User + system CPU time the server process has used so far."""
        with open(f"/proc/{self.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def peak_rss_mb(self) -> float:
        """Peak resident set size (VmHWM) of the server process, in MB."""
        with open(f"/proc/{self.pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return float("nan")


def split_cores() -> tuple[set[int], set[int]] | None:
    """Cores for the load generator and cores for the server, or None on a one-core machine.

    Unpinned, the scheduler sometimes lets the load generator and the server share a core for a
    whole run: on the 2-core machine this bench was written on, the simulator's CPU per request
    then rose ~10% (bimodal between runs, 125 or 140 us) while the bare endpoint's did not.
    """
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        return None
    half = len(cores) // 2
    return set(cores[:half]), set(cores[half:])


@contextmanager
def server_process(target: str, *args: str, cores: set[int] | None = None) -> Iterator[ServerProcess]:
    """Run ``python -m benchmarks.targets TARGET ARGS...`` (on ``cores`` if given) and yield once
    it prints its URL."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.targets", target, *args],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    if cores:  # pinned before it serves: it prints its URL only once it is listening
        os.sched_setaffinity(process.pid, cores)
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        if not line.startswith("http"):
            raise RuntimeError(f"benchmark target {target} failed to start: {line!r}")
        yield ServerProcess(line, process)
    finally:
        process.terminate()
        process.wait(timeout=15)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)
