"""Two-way SMS performance: inbound latency, the opt-out check's cost, bulk with lookup.

    python3 -m benchmarks.two_way_bench [--rate 100] [--seconds 10] [--sends 2000] [--rounds 5]

The simulator and the gateway each run in their own process (``benchmarks.targets simulator``
and ``lynsms gateway`` with ``--webhook-url``); the customer's webhook receiver is a Starlette app
on a thread here. Issue targets, measured in one run:

- inbound: ``POST /_sim/inbound`` at ``--rate`` per second (Sinch ``mo_text`` pushes) for
  ``--seconds``; latency from the POST to the receiver getting that message's
  ``message.received``: p99 < 200 ms;
- opt-out check: the gateway's CPU per single send (process CPU time / sends, 32 concurrent
  clients) against the CPU of the check itself (``to in opted_out`` on a list of 10,000 numbers,
  timed here on the same structure the gateway holds): <= 5%. For comparison the gateway's CPU per
  send is also measured with an empty list and with 10,000 opt-outs, side by side;
- bulk with lookup: a 1,000-recipient bulk routed to Twilio (one request per message) with
  ``"lookup": true`` (one Infobip ``/number/1/query`` batch; cache off) against the same bulk
  without, rounds alternating, ratio of medians: < 1.5x.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import timeit
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from benchmarks.dlr_bench import GATEWAY_URL
from benchmarks.loadgen import ServerProcess, median, server_process
from lynsms.gateway.delivery.callback_auth import CallbackAuth
from lynsms.gateway.inbound import inbound_url
from lynsms.gateway.providers.transport import Http11Transport
from lynsms.simulator.harness.server import ServerThread

KEY = "bench-two-way-key"
REPORT_SECRET = "bench-two-way-report-secret"  # so this script can build the gateway's tokened inbound URL
NUMBER = "+12025550100"
RECIPIENTS = [f"+447700900{i:03d}" for i in range(1000)]  # the UK drama range: 1,000 test mobiles


class Hooks:
    """The customer's endpoint: when each message.received (by body) arrived."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received: dict[str, float] = {}

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            event = json.loads(await request.body())
            if event["type"] == "message.received":
                with self.lock:
                    self.received.setdefault(event["data"]["body"], time.perf_counter())
            return Response(status_code=204)

        return Starlette(routes=[Route("/hooks", hook, methods=["POST"])])


def start_gateway(sim_url: str, hook_url: str, tmp: Path) -> ServerProcess:
    config = tmp / "gateway.yaml"
    config.write_text(
        f"report_secret: {REPORT_SECRET}\ntwo_way:\n  lookup_ttl_seconds: 0\n  lookup_provider: infobip\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "lynsms.simulator.harness.cli", "gateway", "--port", "0", "--db", ":memory:"]
        + ["--simulator-url", sim_url, "--webhook-url", hook_url, "--config", str(config)],
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


async def inbound_latency(sim_url: str, hooks: Hooks, rate: float, seconds: float) -> list[float]:
    count = int(rate * seconds)
    sent: dict[str, float] = {}
    # The gateway's lean transport: httpx's own pool would load this process more than the servers.
    transport = Http11Transport(max_connections=64)
    async with httpx.AsyncClient(base_url=sim_url, transport=transport, timeout=30) as client:

        async def one(i: int) -> None:
            body = f"inbound {i}"
            sent[body] = time.perf_counter()
            answer = await client.post(
                "/_sim/inbound", json={"provider": "sinch", "from": "+447700900999", "to": NUMBER, "body": body}
            )
            if answer.status_code != 202:
                raise SystemExit(f"FAILED: /_sim/inbound answered {answer.status_code} {answer.text}")

        started = time.perf_counter()
        tasks = []
        for i in range(count):  # open loop: a new inbound every 1/rate s, whatever the answers do
            delay = started + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
    deadline = time.perf_counter() + 30
    while len(hooks.received) < count and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    with hooks.lock:
        missing = count - len(hooks.received)
        latencies = sorted((hooks.received[b] - t) * 1000 for b, t in sent.items() if b in hooks.received)
    if missing:
        raise SystemExit(f"FAILED: {missing} message.received events never arrived")
    return latencies


async def cpu_per_send(gateway: ServerProcess, sends: int, recipient: str) -> float:
    headers = {"Authorization": f"Bearer {KEY}"}
    body = {"to": recipient, "from": "LynSMS", "body": "benchmark"}
    transport = Http11Transport(max_connections=32)
    async with httpx.AsyncClient(base_url=gateway.url, headers=headers, transport=transport, timeout=30) as client:
        gate = asyncio.Semaphore(32)

        async def one() -> None:
            async with gate:
                answer = await client.post("/api/v1/messages/send", json=body)
                if answer.status_code != 201:
                    raise SystemExit(f"FAILED: send answered {answer.status_code} {answer.text}")

        before = gateway.cpu_seconds()
        await asyncio.gather(*(one() for _ in range(sends)))
        return (gateway.cpu_seconds() - before) / sends * 1e6  # microseconds


def bulk_seconds(gw: httpx.Client, lookup: bool) -> float:
    body: dict[str, Any] = {"recipients": RECIPIENTS, "from": "LynSMS", "body": "Tonight only"}
    if lookup:
        body["lookup"] = True
    started = time.perf_counter()
    answer = gw.post("/api/v1/messages/bulk", json=body)
    elapsed = time.perf_counter() - started
    data = answer.json()["data"]
    if answer.status_code != 201 or data["sent"] != len(RECIPIENTS):
        raise SystemExit(f"FAILED: bulk answered {answer.status_code}: {data.get('failed')} failed")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--sends", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    hooks = Hooks()
    with tempfile.TemporaryDirectory() as tmp:
        # No delivery reports: the targets are about inbound, opt-outs and lookups, and 1,000 status
        # callbacks a bulk would compete with them for the same two cores.
        quiet = Path(tmp) / "quiet.scenario.yaml"
        quiet.write_text("name: quiet\ndefaults: {deliver: false}\n")
        run(args, hooks, Path(tmp), quiet)


def run(args: argparse.Namespace, hooks: Hooks, tmp: Path, scenario: Path) -> None:
    with ServerThread(hooks.app()) as receiver, server_process("simulator", str(scenario)) as sim:
        gateway = start_gateway(sim.url, f"{receiver.url}/hooks", tmp)
        try:
            with httpx.Client(timeout=120) as control:
                url = inbound_url(CallbackAuth(REPORT_SECRET, gateway.url), "sinch")
                registration = {"provider": "sinch", "url": url}
                control.post(f"{sim.url}/_sim/inbound/urls", json=registration).raise_for_status()
            latencies = asyncio.run(inbound_latency(sim.url, hooks, args.rate, args.seconds))
            p50, p99 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99) - 1]
            print(f"inbound -> message.received at {args.rate:g}/s, {len(latencies)} messages:")
            print(f"  p50 {p50:.1f} ms  p99 {p99:.1f} ms  max {latencies[-1]:.1f} ms   target p99 < 200 ms")

            with httpx.Client(base_url=gateway.url, headers={"Authorization": f"Bearer {KEY}"}, timeout=120) as gw:
                empty = asyncio.run(cpu_per_send(gateway, args.sends, "+12025550143"))
                for i in range(10_000):
                    gw.post("/api/v1/opt-outs", json={"number": f"+1312555{i:04d}"}).raise_for_status()
                full = asyncio.run(cpu_per_send(gateway, args.sends, "+12025550143"))
                opted_out = {f"+1312555{i:04d}" for i in range(10_000)}
                check_us = min(timeit.repeat(lambda: "+12025550143" in opted_out, number=100_000, repeat=5)) * 10
                print("opt-out check, gateway CPU per single send:")
                print(
                    f"  empty list {empty:.0f} us   10,000 opt-outs {full:.0f} us   the check itself {check_us:.3f} us"
                )
                print(f"  check / send = {check_us / full * 100:.3f}%   target <= 5%")

                without, with_lookup = [], []
                for _ in range(args.rounds):
                    without.append(bulk_seconds(gw, lookup=False))
                    with_lookup.append(bulk_seconds(gw, lookup=True))
                ratio = median(with_lookup) / median(without)
                print("1,000-recipient bulk to Twilio, lookup through Infobip's batch query (cache off):")
                print(
                    f"  without {median(without) * 1000:.0f} ms   with lookup {median(with_lookup) * 1000:.0f} ms   "
                    f"ratio {ratio:.2f}x   target < 1.5x"
                )
        finally:
            gateway.process.terminate()
            gateway.process.wait(timeout=15)


if __name__ == "__main__":
    main()
