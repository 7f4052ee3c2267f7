"""1,000 delivery reports arriving at once: all applied, all forwarded, none lost or sent twice.

    python3 -m benchmarks.dlr_bench [--mode post|callbacks] [--count 1000] [--concurrency 100]

The gateway runs in its own process (``lynsms gateway`` with a file database and ``--webhook-url``),
the simulator in another. A 1,000-recipient bulk goes out through Infobip, then:

- ``post`` (default): the benchmark POSTs 1,000 Infobip delivery reports to the gateway's webhook
  endpoint, ``--concurrency`` at a time (the ingestion path alone, at full speed);
- ``callbacks``: the simulator delivers them itself, each as its own real callback (an
  intermediate and a final report per message, all due in the same second).

A local receiver (a Starlette app on a thread here) verifies each event's signature and counts
deliveries per event id. The script asserts every message ends ``delivered`` and every message
has exactly one ``message.sent`` and one ``message.delivered`` event, each delivered once, in that
order; it prints the times and the gateway's peak RSS (VmHWM).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from benchmarks.loadgen import ServerProcess, server_process
from lynsms.gateway.providers.transport import Http11Transport
from lynsms.gateway.signing import derive_secret, verify
from lynsms.simulator.harness.server import ServerThread

KEY = "bench-dlr-key"
SECRET = derive_secret(KEY)
GATEWAY_URL = re.compile(r"LynSMS gateway\s+(http://\S+)/api")


class Receiver:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: list[dict[str, Any]] = []
        self.bad_signatures = 0

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            body = await request.body()
            if not verify(SECRET, body, request.headers.get("lynsms-signature", "")):
                with self.lock:
                    self.bad_signatures += 1
                return Response(status_code=400)
            with self.lock:
                self.events.append(json.loads(body))
            return Response(status_code=204)

        return Starlette(routes=[Route("/hooks", hook, methods=["POST"])])

    def count(self, event_type: str) -> int:
        with self.lock:
            return sum(1 for e in self.events if e["type"] == event_type)


def start_gateway(sim_url: str, hook_url: str, db: Path, config: Path) -> ServerProcess:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lynsms.simulator.harness.cli",
            "gateway",
            "--port",
            "0",
            "--db",
            str(db),
            "--simulator-url",
            sim_url,
            "--webhook-url",
            hook_url,
            "--config",
            str(config),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "LYNSMS_API_KEY": KEY},
    )
    assert process.stdout is not None
    found = GATEWAY_URL.search(process.stdout.readline())
    if not found:
        process.kill()
        raise SystemExit("the gateway did not start")
    return ServerProcess(found.group(1), process)


def wait(check: Any, timeout: float, what: str) -> float:
    started = time.perf_counter()
    while not check():
        if time.perf_counter() - started > timeout:
            raise SystemExit(f"FAILED: timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.01)
    return time.perf_counter()


async def post_reports(gateway_url: str, message_ids: list[str], concurrency: int) -> float:
    """POST one Infobip report per message, ``concurrency`` at a time; returns the seconds taken."""
    gate = asyncio.Semaphore(concurrency)
    # The gateway's lean transport: httpx's default pool, not the gateway, would be what is measured.
    transport = Http11Transport(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=gateway_url, transport=transport, timeout=60) as client:

        async def one(message_id: str) -> None:
            result = {
                "messageId": message_id,
                "status": {"groupId": 3, "groupName": "DELIVERED", "id": 5, "name": "DELIVERED_TO_HANDSET"},
                "error": {"groupId": 0, "groupName": "OK", "id": 0, "name": "NO_ERROR"},
                "doneAt": "2026-05-12T11:34:25.000+0000",
            }
            async with gate:
                answer = await client.post("/api/v1/webhooks/infobip", json={"results": [result]})
            if answer.status_code != 200 or answer.json()["data"]["changed"] != 1:
                raise SystemExit(f"FAILED: report for {message_id} answered {answer.status_code} {answer.text}")

        started = time.perf_counter()
        await asyncio.gather(*(one(m) for m in message_ids))
        return time.perf_counter() - started


def statuses(gw: httpx.Client) -> Counter[str]:
    found: Counter[str] = Counter()
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        page = gw.get("/api/v1/messages", params=params).json()["data"]
        found.update(m["status"] for m in page["messages"])
        if not page["has_more"]:
            return found
        cursor = page["next_cursor"]


def check(receiver: Receiver, message_ids: list[str]) -> None:
    with receiver.lock:
        events = list(receiver.events)
    per_id = Counter(e["id"] for e in events)
    twice = [event_id for event_id, n in per_id.items() if n > 1]
    by_message: dict[str, list[str]] = defaultdict(list)
    for event in events:
        by_message[event["message_id"]].append(event["type"])
    wrong = {m: by_message.get(m) for m in message_ids if by_message.get(m) != ["message.sent", "message.delivered"]}
    assert not twice, f"{len(twice)} event(s) delivered more than once"
    assert not wrong, f"{len(wrong)} message(s) without exactly sent, then delivered: {list(wrong.items())[:3]}"
    assert receiver.bad_signatures == 0, f"{receiver.bad_signatures} badly signed event(s)"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=["post", "callbacks"], default="post")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=100)
    args = parser.parse_args(argv)
    receiver = Receiver()
    recipients = [f"+447700900{n:03d}" for n in range(args.count)]  # Ofcom's drama range: 1,000 numbers
    deliver = "{status: delivered, after: 1}" if args.mode == "callbacks" else "false"
    with (
        tempfile.TemporaryDirectory() as tmp,
        server_process("simulator") as sim,
        ServerThread(receiver.app()) as hooks,
    ):
        httpx.put(
            f"{sim.url}/_sim/scenario", content=f"name: dlr-bench\ndefaults:\n  deliver: {deliver}\n".encode()
        ).raise_for_status()
        config = Path(tmp) / "gateway.yaml"
        config.write_text("webhook_retry_seconds: 0.2\n")
        gateway = start_gateway(sim.url, f"{hooks.url}/hooks", Path(tmp) / "gateway.db", config)
        try:
            with httpx.Client(base_url=gateway.url, headers={"Authorization": f"Bearer {KEY}"}, timeout=120) as gw:
                wait(lambda: gw.get("/api/health").status_code == 200, 10, "the gateway")
                started = time.perf_counter()
                bulk = gw.post(
                    "/api/v1/messages/bulk",
                    json={
                        "from": "LynSMS",
                        "recipients": recipients,
                        "body": "Your code is 482194",
                        "provider": "infobip",
                    },
                )
                bulk.raise_for_status()
                message_ids = [m["id"] for m in bulk.json()["data"]["messages"] if m["status"] == "sent"]
                assert len(message_ids) == args.count, f"only {len(message_ids)} of {args.count} sent"
                sent_s = time.perf_counter() - started
                wait(lambda: receiver.count("message.sent") >= args.count, 60, "every message.sent event")
                started = time.perf_counter()
                ingest_s = (
                    asyncio.run(post_reports(gateway.url, message_ids, args.concurrency))
                    if args.mode == "post"
                    else None
                )
                done = wait(
                    lambda: receiver.count("message.delivered") >= args.count, 120, "every message.delivered event"
                )
                total_s = done - started
                time.sleep(0.5)  # room for a duplicate to show up
                final = statuses(gw)
                assert final == Counter({"delivered": args.count}), f"final statuses {dict(final)}"
                check(receiver, message_ids)
            rss = gateway.peak_rss_mb()
        finally:
            gateway.process.terminate()
            gateway.process.wait(timeout=15)
            if gateway.process.stdout is not None:
                gateway.process.stdout.close()
    print(f"mode {args.mode}: {args.count} messages via Infobip bulk in {sent_s:.2f} s")
    if ingest_s is not None:
        print(
            f"  {args.count} reports POSTed ({args.concurrency} concurrent) and applied in {ingest_s:.2f} s "
            f"({args.count / ingest_s:.0f} reports/s)"
        )
    print(
        f"  all {args.count} message.delivered events at the receiver {total_s:.2f} s after the first report "
        f"({'including the simulator delay of 1 s' if args.mode == 'callbacks' else 'end to end'})"
    )
    print(
        f"  {2 * args.count} events, each delivered exactly once, sent before delivered for every message; "
        f"gateway peak RSS {rss:.1f} MB"
    )


if __name__ == "__main__":
    main()
