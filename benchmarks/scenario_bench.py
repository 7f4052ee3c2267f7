"""What a loaded scenario costs, and whether held (timed-out) requests slow anyone else down.

    python -m benchmarks.scenario_bench [--seconds 5] [--rounds 3] [--held 200]

Issue targets:
- Twilio-create throughput with a 20-rule scenario loaded >= 0.8x the throughput with none, both
  measured in the same run with the same load generator at 32 concurrent connections (rounds
  alternate the two targets so machine noise hits both alike). The 20 rules never match the
  benchmark request, so every request walks all of them: the worst case for matching.
- 200 concurrent requests held by a ``timeout`` fault do not slow other requests: p99 of normal
  requests while they are held, against p99 on the same server with nothing held.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from benchmarks import simulator_bench
from benchmarks.loadgen import Stats, build_request, median, run_load, server_process
from benchmarks.simulator_bench import PATH, twilio_create
from benchmarks.targets import TWILIO_ACCOUNT

# Twenty rules of every condition kind, none matching the benchmark's US number and body.
TWENTY_RULES = [
    {"match": {"to": "+44*"}, "http_error": 503},
    {"match": {"to": "/^\\+33[67]/"}, "reject": "invalid_number"},
    {"match": {"to": ["+4915*", "+4916*", "+4917*"]}, "http_error": 500},
    {"match": {"country": "GB"}, "fault": "connection_reset"},
    {"match": {"country": ["FR", "DE", "ES"]}, "reject": "unsubscribed"},
    {"match": {"from": "InfoSMS"}, "reject": "invalid_sender"},
    {"match": {"from": "/^\\+44/"}, "http_error": 429},
    {"match": {"body": "STOP"}, "reject": "unsubscribed"},
    {"match": {"body": "/^URGENT:/"}, "fault": "timeout"},
    {"match": {"body": ["lottery", "winner"]}, "reject": "invalid_sender"},
    {"match": {"to": "+12025550199"}, "reject": "invalid_number"},
    {"match": {"to": "+1202555019*", "body": "x"}, "http_error": 503},
    {"match": {"calls": 1_000_000_000}, "http_error": 500},
    {"match": {"calls": ">999999999"}, "http_error": 503},
    {"match": {"to": "+61*"}, "latency": 0.1},
    {"match": {"to": "/^\\+81/"}, "fault": "malformed_body"},
    {"match": {"country": "JP"}, "fault": "slow_body"},
    {"match": {"to": "+1312*"}, "probability": 0.5, "http_error": 500},
    {"match": {"body": "/\\bblocked\\b/"}, "reject": "auth_failed"},
    {"match": {"to": "+4420*"}, "times": 3, "http_error": 503},
]
HOLD = {"match": {"body": "hang"}, "fault": {"kind": "timeout", "seconds": 60}}


def write(scenario: dict[str, object], folder: Path, name: str) -> str:
    path = folder / f"{name}.json"
    path.write_text(json.dumps(scenario))
    return str(path)


def throughput(target_args: tuple[str, ...], label: str, seconds: float, concurrency: int) -> float:
    rate, _cpu = simulator_bench.throughput("simulator", seconds, concurrency, *target_args, label=label)
    return rate


def hanging_request(url: str) -> bytes:
    body = urlencode({"To": "+12025550143", "From": "+12025550100", "Body": "hang"}).encode()
    return build_request(url + PATH, "POST", body, twilio_headers())


def twilio_headers() -> dict[str, str]:
    # The same credentials simulator_bench uses; only the body differs.
    auth = base64.b64encode(f"{TWILIO_ACCOUNT}:lynsms-local-auth-token".encode()).decode()
    return {"Content-Type": "application/x-www-form-urlencoded", "Authorization": f"Basic {auth}"}


async def _hold(url: str, held: int) -> None:
    """Open ``held`` connections whose requests hit the timeout fault, say so, and keep them."""
    parts = urlsplit(url)
    connections = []
    for _ in range(held):
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        writer.write(hanging_request(url))
        connections.append((reader, writer))
    await asyncio.sleep(0.5)  # let every held request reach its fault
    print(sum(1 for reader, _ in connections if not reader.at_eof()), flush=True)  # still unanswered
    await asyncio.sleep(3600)


async def held_while_measuring(
    url: str, held: int, seconds: float, concurrency: int
) -> tuple[Stats, Stats, Stats, int]:
    """p99 of normal requests with nothing held, with ``held`` requests parked on a timeout, and after.

    The held connections live in a separate process: kept in the load generator's own event loop,
    they slowed the generator itself, which read as a slower server."""
    normal = twilio_create(url)
    await run_load(url, normal, concurrency=concurrency, duration=1.0, expect=201)  # warm-up
    quiet = await run_load(url, normal, concurrency=concurrency, duration=seconds, expect=201)
    holder = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.scenario_bench", "--hold", url, "--held", str(held)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    try:
        assert holder.stdout is not None
        answer = holder.stdout.readline().strip()
        if not answer.isdigit():
            raise SystemExit("the holder process failed to open its connections")
        still_held = int(answer)
        busy = await run_load(url, normal, concurrency=concurrency, duration=seconds, expect=201)
    finally:
        holder.kill()
        holder.wait()
    # Measured again once released: the spread between the two quiet runs is the machine's noise.
    after = await run_load(url, normal, concurrency=concurrency, duration=seconds, expect=201)
    return quiet, busy, after, still_held


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--held", type=int, default=200)
    parser.add_argument("--hold", metavar="URL", help=argparse.SUPPRESS)  # the holder process's own mode
    args = parser.parse_args()
    if args.hold:
        asyncio.run(_hold(args.hold, args.held))
        return

    with tempfile.TemporaryDirectory() as folder:
        rules = write(
            {"name": "twenty-rules", "seed": 1, "providers": {"twilio": TWENTY_RULES}}, Path(folder), "twenty"
        )
        hold = write({"name": "hold", "seed": 1, "providers": {"twilio": [HOLD]}}, Path(folder), "hold")

        none: list[float] = []
        loaded: list[float] = []
        for round_no in range(1, args.rounds + 1):
            print(f"round {round_no}/{args.rounds}")
            none.append(throughput((), "no scenario", args.seconds, args.concurrency))
            loaded.append(throughput((rules,), "20-rule scenario", args.seconds, args.concurrency))
        ratio = median(loaded) / median(none)
        print(
            f"throughput: 20-rule scenario {median(loaded):.0f} req/s, no scenario {median(none):.0f} req/s, "
            f"ratio {ratio:.2f} (target >= 0.80)"
        )

        with server_process("simulator", hold) as server:
            quiet, busy, after, still_held = asyncio.run(held_while_measuring(server.url, args.held, args.seconds, 8))
        print(f"normal requests, nothing held:       {quiet.describe()}")
        print(f"normal requests, {still_held} held timeouts: {busy.describe()}")
        print(f"normal requests, released again:     {after.describe()}")
        unheld = max(quiet.percentile(99), after.percentile(99))
        print(
            f"p99 with {args.held} held: {busy.percentile(99) * 1000:.2f} ms vs {unheld * 1000:.2f} ms without "
            f"(ratio {busy.percentile(99) / unheld:.2f}; target: not slowed)"
        )


if __name__ == "__main__":
    main()
