"""Bounded queues under load: the customer-webhook backlog and the simulator's callback queue.

    python -m benchmarks.queue_bench outbox [--pending 40000] [--idle-seconds 10] [--sends 2000]
    python -m benchmarks.queue_bench callbacks [--seconds 60] [--after 1] [--concurrency 32]

``outbox``: a gateway whose database holds ``--pending`` customer events for a receiver that is
down (half of them heads already in back-off, half waiting behind them, as a dead receiver
leaves them) against the same gateway on an empty database, both posting to a dead webhook URL.
Prints each one's CPU while idle (target: < 2% of a core with the backlog) and the p50 of
``--sends`` single sends, one at a time (target: the backlog's p50 within 20% of the empty one's).

``callbacks``: the simulator at its full rate (``--concurrency`` keep-alive connections sending
Infobip messages for ``--seconds``), every message asking for a delivery callback ``--after``
seconds later. A receiver in its own process notes how late each report arrives against its
scripted time (``sentAt`` + after, from the report itself). Prints the lateness (target: every
report within 2 s), callbacks received vs messages accepted (and dropped, from the journal), and
the simulator's peak RSS (target: < 200 MB).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import httpx

from benchmarks.loadgen import ServerProcess, build_request, run_load, server_process

KEY = "bench-queue-key"


def dead_url() -> str:
    """A URL nothing listens on (a port bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hooks"


# ---- outbox --------------------------------------------------------------------------------------


def backlog(path: str, pending: int) -> None:
    """``pending`` events for a dead receiver: each message's ``message.sent`` already failed and
    waits out a back-off spread over the next hour; its ``message.delivered`` waits behind it."""
    from lynsms.gateway.models import Message, now_iso
    from lynsms.gateway.store import Completion, Store
    from lynsms.gateway.store.outbox import Listener

    store = Store(path)
    store.outbox.listener = Listener(None, lambda: None)
    now = now_iso()
    messages = [
        Message(
            id=f"msg_{n:025d}",
            to="+12025550143",
            sender="LynSMS",
            body="hi",
            status="queued",
            segments=1,
            encoding="GSM-7",
            created_at=now,
            updated_at=now,
        )
        for n in range(pending // 2)
    ]
    store.insert(messages, api_key="bench")
    store.complete(
        [Completion(m.id, (), "sent", "twilio", f"SM{n:032d}", Decimal("0.05")) for n, m in enumerate(messages)]
    )
    for m in messages:
        store.reports.move(m.id, "sent", "delivered", None, None, now)
    started = time.time()
    heads = store.outbox.due(started, pending, [])
    for i, row in enumerate(heads):
        store.outbox.attempted(
            row,
            state="pending",
            attempts=8,
            now=started,
            status=None,
            error="connection error: ConnectError",
            next_at=started + 60 + 3540 * i / len(heads),
            url=None,
        )
    counts = store.outbox.counts()
    store.close()
    print(f"  backlog: {counts}", flush=True)


def send_request(url: str) -> bytes:
    body = json.dumps({"to": "+12025550143", "from": "LynSMS", "body": "Your code is 482194"}).encode()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"}
    return build_request(url + "/api/v1/messages/send", "POST", body, headers)


def outbox(args: argparse.Namespace) -> None:
    folder = Path(tempfile.mkdtemp(prefix="queue-bench-"))
    full, empty = str(folder / "backlog.db"), str(folder / "empty.db")
    backlog(full, args.pending)
    hook = dead_url()
    with server_process("simulator") as sim:
        results = {}
        for label, db in (("empty", empty), ("backlog", full)):
            with server_process("gateway", sim.url, KEY, "--db", db, "--webhook-url", hook) as gw:
                time.sleep(2.0)  # start-up done, due events (none) sent
                before, wall = gw.cpu_seconds(), time.monotonic()
                time.sleep(args.idle_seconds)
                idle = (gw.cpu_seconds() - before) / (time.monotonic() - wall) * 100
                request = send_request(gw.url)
                asyncio.run(run_load(gw.url, request, concurrency=1, count=200, expect=201))  # warm-up
                stats = asyncio.run(run_load(gw.url, request, concurrency=1, count=args.sends, expect=201))
                p50 = stats.percentile(50) * 1000
                results[label] = (idle, p50)
                print(f"  {label:<8} idle CPU {idle:5.2f}% of a core   send p50 {p50:.2f} ms ({stats.describe()})")
    idle, p50 = results["backlog"]
    ratio = p50 / results["empty"][1]
    print(
        f"with {args.pending} pending: idle CPU {idle:.2f}% (target < 2%), "
        f"send p50 x{ratio:.2f} of normal (target <= 1.2)"
    )


# ---- callbacks -----------------------------------------------------------------------------------


async def receive(after: float) -> None:
    """A minimal HTTP/1.1 receiver (cheaper than any framework, so lateness is the simulator's):
    POST = one Infobip report; GET = the lateness figures so far, as JSON."""
    late: list[float] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                body = await reader.readexactly(length) if length else b""
                if head.startswith(b"GET"):
                    ordered = sorted(late)
                    answer = json.dumps(
                        {
                            "received": len(ordered),
                            "p50": ordered[len(ordered) // 2] if ordered else None,
                            "p99": ordered[int(len(ordered) * 0.99)] if ordered else None,
                            "max": ordered[-1] if ordered else None,
                            "over_2s": sum(1 for value in ordered if value > 2.0),
                        }
                    ).encode()
                else:
                    now = time.time()
                    for result in json.loads(body)["results"]:
                        sent = datetime.strptime(result["sentAt"], "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
                        late.append(now - (sent + after))
                    answer = b""
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(answer), answer))
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    print(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
    await server.serve_forever()


@contextmanager
def receiver(after: float) -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.queue_bench", "receiver", "--after", str(after)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    try:
        assert process.stdout is not None
        yield process.stdout.readline().strip()
    finally:
        process.terminate()
        process.wait(timeout=10)


def infobip_send(sim_url: str, hook_url: str) -> bytes:
    body = json.dumps(
        {
            "messages": [
                {
                    "sender": "LynSMS",
                    "destinations": [{"to": "+12025550143"}],
                    "content": {"text": "Your code is 482194"},
                    "webhooks": {"delivery": {"url": hook_url}, "contentType": "application/json"},
                }
            ]
        }
    ).encode()
    headers = {"Content-Type": "application/json", "Authorization": "App lynsms-local-api-key"}
    return build_request(sim_url + "/sms/3/messages", "POST", body, headers)


def callbacks(args: argparse.Namespace) -> None:
    folder = Path(tempfile.mkdtemp(prefix="queue-bench-"))
    scenario = folder / "deliver.scenario.yaml"
    scenario.write_text(f"name: bench-callbacks\ndefaults:\n  deliver: {{status: delivered, after: {args.after}}}\n")
    with receiver(args.after) as hook, server_process("simulator", str(scenario)) as sim:
        request = infobip_send(sim.url, hook + "/dlr")
        stats = asyncio.run(run_load(sim.url, request, concurrency=args.concurrency, duration=args.seconds, expect=200))
        print(f"  sends: {stats.describe()}", flush=True)
        wait_for_callbacks(sim, hook, stats.requests, args.after)
        figures = httpx.get(hook).json()
        dropped = dropped_callbacks(sim)
        rss = sim.peak_rss_mb()
    print(
        f"  callbacks: {figures['received']} of {stats.requests} messages received, {dropped} dropped (journal)\n"
        f"  lateness vs scripted time: p50 {figures['p50']:.3f} s  p99 {figures['p99']:.3f} s  "
        f"max {figures['max']:.3f} s  over 2 s: {figures['over_2s']}\n"
        f"  simulator peak RSS {rss:.0f} MB\n"
        f"{args.seconds:.0f} s at {stats.throughput:.0f} sends/s: max lateness {figures['max']:.2f} s (target <= 2), "
        f"RSS {rss:.0f} MB (target < 200)"
    )


def wait_for_callbacks(sim: ServerProcess, hook: str, expected: int, after: float) -> None:
    deadline = time.monotonic() + after + 120
    last, still = -1, time.monotonic()
    while time.monotonic() < deadline:
        received = httpx.get(hook).json()["received"] + dropped_callbacks(sim)
        if received >= expected:
            return
        if received != last:
            last, still = received, time.monotonic()
        elif time.monotonic() - still > 10:
            return  # nothing more is coming
        time.sleep(0.5)


def dropped_callbacks(sim: ServerProcess) -> int:
    """Drops the journal shows (it keeps the newest 10,000 entries: a lower bound on a long run)."""
    entries = httpx.get(sim.url + "/_sim/requests", params={"limit": 100_000}).json()["requests"]
    return sum(1 for e in entries if e["method"] == "CALLBACK" and (e.get("outcome") or {}).get("result") == "dropped")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    box = commands.add_parser("outbox")
    box.add_argument("--pending", type=int, default=40_000)
    box.add_argument("--idle-seconds", type=float, default=10.0)
    box.add_argument("--sends", type=int, default=2000)
    calls = commands.add_parser("callbacks")
    calls.add_argument("--seconds", type=float, default=60.0)
    calls.add_argument("--after", type=float, default=1.0)
    calls.add_argument("--concurrency", type=int, default=32)
    hook = commands.add_parser("receiver")
    hook.add_argument("--after", type=float, required=True)
    args = parser.parse_args(argv)
    if args.command == "outbox":
        outbox(args)
    elif args.command == "callbacks":
        callbacks(args)
    else:
        asyncio.run(receive(args.after))


if __name__ == "__main__":
    main()
