"""Gateway performance: send throughput against the simulator's own, bulk against sequential sends,
and peak RSS during bulks.

    python -m benchmarks.gateway_bench [--seconds 5] [--rounds 3] [--bulk-rounds 3] [--db memory|file|PATH]
                                       [--callbacks] [--profile FILE]

Issue targets (all measured in one run, one simulator process and one gateway process pointed at
it, the load generator in this process):
- single sends through gateway -> simulator over real HTTP, 32 concurrent clients: throughput
  >= 0.35x the simulator's direct Twilio-create throughput with the in-memory store, >= 0.27x with
  a file store (``--db file``); rounds alternate the two so machine noise hits both alike, and
  the ratio is of medians;
- a 1,000-recipient bulk routed to a batch-capable provider (Sinch) takes < 10% of the time of
  1,000 sequential single sends (one after another on one connection) through the same gateway;
  routed to Twilio (one request per message), < 40%;
- gateway peak RSS (VmHWM) during ten consecutive 1,000-recipient bulks < 250 MB, measured on a
  fresh gateway process so earlier phases do not count.

The gateway's database is in memory by default, as ``lynsms up`` and ``lynsms gateway`` run it;
``--db file`` uses a WAL file in a temporary directory (two commits per send, each written to
the WAL: the message with its hand-over to the provider, then the provider's answer). Next to each
throughput the servers' CPU time per request is printed: unlike req/s, it hardly moves when
other processes compete for the machine.

Nothing is pinned to a core here (``simulator_bench`` pins): three processes share two cores, and
the gateway path needs the gateway and the simulator running at once.

By default the gateway has no ``public_url``, so it asks for no delivery reports and the simulator
sends no callbacks: both sides of the throughput ratio then do the same work. ``--callbacks``
makes the gateway send its own URL, as ``lynsms up`` does, so every accepted message also costs
the callbacks the simulator POSTs back a moment later.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from benchmarks.loadgen import ServerProcess, build_request, median, run_load, server_process
from benchmarks.simulator_bench import twilio_create

API_KEY = "bench-key"
SINGLE = {"to": "+12025550143", "from": "LynSMS", "body": "Your code is 482194", "provider": "twilio"}
# 1,000 distinct numbers phonenumbers calls valid (not the reserved fiction ranges, which skip the
# phonenumbers parse). The gateway caches what it learnt about a number, so the timed bulks (after
# a warm-up bulk) find every recipient known, as the single sends find theirs; FIRST_SIGHT are
# numbers it has never seen, for one more bulk that pays the parsing.
RECIPIENTS = [f"+1202555{n:04d}" for n in range(1000, 2000)]
FIRST_SIGHT = [f"+1202555{n:04d}" for n in range(2000, 3000)]


def gateway_request(url: str, path: str, payload: Mapping[str, object]) -> bytes:
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {API_KEY}"}
    return build_request(url + path, "POST", body, headers)


def send_request(url: str) -> bytes:
    return gateway_request(url, "/api/v1/messages/send", SINGLE)


def bulk_request(url: str, provider: str, recipients: list[str] = RECIPIENTS) -> bytes:
    payload = {"recipients": recipients, "from": "LynSMS", "body": "Your code is 482194", "provider": provider}
    return gateway_request(url, "/api/v1/messages/bulk", payload)


@dataclass(frozen=True)
class Stack:
    simulator: ServerProcess
    gateway: ServerProcess


@contextmanager
def stack(db: str, callbacks: bool, profile: str | None = None) -> Iterator[Stack]:
    with tempfile.TemporaryDirectory(prefix="lynsms-bench-") as tmp:
        db_path = {"memory": ":memory:", "file": os.path.join(tmp, "gateway.db")}.get(db, db)
        options = ["--db", db_path] + (["--callbacks"] if callbacks else [])
        if profile:  # benchmarks.targets: a cProfile of the gateway process, written on exit
            options += ["--profile", profile]
        with (
            server_process("simulator") as simulator,
            server_process("gateway", simulator.url, API_KEY, *options) as gateway,
        ):
            yield Stack(simulator, gateway)


def load(server: ServerProcess, request: bytes, expect: int, **kwargs: float | int) -> tuple[float, float]:
    """Throughput, and the server's CPU microseconds per request."""
    before = server.cpu_seconds()
    stats = asyncio.run(run_load(server.url, request, expect=expect, **kwargs))  # type: ignore[arg-type]
    if stats.errors:
        raise SystemExit(f"{server.url}: {stats.errors} unexpected responses")
    return stats.throughput, (server.cpu_seconds() - before) / max(1, stats.requests) * 1e6


def throughput(stack: Stack, seconds: float, rounds: int, concurrency: int) -> tuple[float, float]:
    direct_request = twilio_create(stack.simulator.url)
    gateway_send = send_request(stack.gateway.url)
    load(stack.simulator, direct_request, 201, concurrency=concurrency, duration=1.0)  # warm-up
    load(stack.gateway, gateway_send, 201, concurrency=concurrency, duration=1.0)
    direct: list[float] = []
    through: list[float] = []
    for round_no in range(1, rounds + 1):
        rate, sim_cpu = load(stack.simulator, direct_request, 201, concurrency=concurrency, duration=seconds)
        direct.append(rate)
        rate, gw_cpu = load(stack.gateway, gateway_send, 201, concurrency=concurrency, duration=seconds)
        through.append(rate)
        print(
            f"  round {round_no}/{rounds}: simulator direct {direct[-1]:6.0f} req/s ({sim_cpu:4.0f} us CPU/req)   "
            f"gateway send {through[-1]:6.0f} req/s ({gw_cpu:4.0f} us gateway CPU/req)",
            flush=True,
        )
    return median(direct), median(through)


def timed(url: str, request: bytes, expect: int, count: int) -> float:
    started = time.perf_counter()
    stats = asyncio.run(run_load(url, request, concurrency=1, count=count, expect=expect))
    elapsed = time.perf_counter() - started
    if stats.errors:
        raise SystemExit(f"{url}: {stats.errors} unexpected responses")
    return elapsed


async def check_bulk(url: str, request: bytes) -> None:
    """One bulk, read in full: every recipient must have been sent (a timing of failures is no timing)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
    )
    result = json.loads(await reader.readexactly(length))["data"]
    writer.close()
    if result["sent"] != len(RECIPIENTS):
        raise SystemExit(f"bulk sent {result['sent']} of {len(RECIPIENTS)}: {result['messages'][0]}")


def bulks(stack: Stack, rounds: int) -> tuple[float, float, float, float]:
    url = stack.gateway.url
    single, sinch, twilio = send_request(url), bulk_request(url, "sinch"), bulk_request(url, "twilio")
    asyncio.run(check_bulk(url, sinch))
    asyncio.run(check_bulk(url, twilio))
    sequential: list[float] = []
    batch: list[float] = []
    one_by_one: list[float] = []
    for round_no in range(1, rounds + 1):
        sequential.append(timed(url, single, 201, len(RECIPIENTS)))
        batch.append(timed(url, sinch, 201, 1))
        one_by_one.append(timed(url, twilio, 201, 1))
        print(
            f"  round {round_no}/{rounds}: 1,000 sequential sends {sequential[-1] * 1000:7.0f} ms   "
            f"bulk via sinch {batch[-1] * 1000:6.0f} ms   bulk via twilio {one_by_one[-1] * 1000:6.0f} ms",
            flush=True,
        )
    first_sight = timed(url, bulk_request(url, "sinch", FIRST_SIGHT), 201, 1)
    print(
        f"  bulk via sinch to {len(FIRST_SIGHT):,} numbers never seen before: {first_sight * 1000:.0f} ms", flush=True
    )
    return median(sequential), median(batch), median(one_by_one), first_sight


def peak_rss(stack: Stack, count: int) -> float:
    """``count`` bulks one after another, alternating Sinch (batched) and Twilio (one request each)."""
    url = stack.gateway.url
    requests = [bulk_request(url, "sinch"), bulk_request(url, "twilio")]
    for i in range(count):
        asyncio.run(check_bulk(url, requests[i % 2]))
    return stack.gateway.peak_rss_mb()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--bulk-rounds", type=int, default=3)
    parser.add_argument("--rss-bulks", type=int, default=10)
    parser.add_argument(
        "--db", default="memory", help="gateway database: memory (default), file (a temp file) or a path"
    )
    parser.add_argument("--callbacks", action="store_true", help="have the simulator POST delivery reports back")
    parser.add_argument("--profile", metavar="FILE", help="write a cProfile of the (first) gateway process to FILE")
    args = parser.parse_args()

    print(f"single-send throughput, {args.concurrency} connections, {args.seconds:g} s per measurement")
    with stack(args.db, args.callbacks, args.profile) as running:
        direct, through = throughput(running, args.seconds, args.rounds, args.concurrency)
        print(f"bulk against sequential sends ({len(RECIPIENTS)} recipients)")
        sequential, sinch, twilio, first_sight = bulks(running, args.bulk_rounds)
    print(f"peak RSS over {args.rss_bulks} consecutive {len(RECIPIENTS)}-recipient bulks (fresh gateway)")
    with stack(args.db, args.callbacks) as running:
        rss = peak_rss(running, args.rss_bulks)

    print()
    target = 0.35 if args.db == "memory" else 0.27  # a file store writes every commit to its WAL
    print(
        f"throughput: gateway send {through:.0f} req/s ({args.db} store), simulator direct {direct:.0f} req/s, "
        f"ratio {through / direct:.2f} (target >= {target})"
    )
    print(
        f"bulk via sinch: {sinch * 1000:.0f} ms = {sinch / sequential:.1%} of {sequential * 1000:.0f} ms "
        f"for 1,000 sequential sends (target < 10%)"
    )
    print(
        f"bulk via twilio: {twilio * 1000:.0f} ms = {twilio / sequential:.1%} of {sequential * 1000:.0f} ms "
        f"(target < 40%)"
    )
    print(
        f"bulk via sinch to never-seen numbers: {first_sight * 1000:.0f} ms = {first_sight / sequential:.1%} "
        f"(information: each new number is parsed once)"
    )
    print(f"gateway peak RSS: {rss:.1f} MB (target < 250 MB)")


if __name__ == "__main__":
    main()
