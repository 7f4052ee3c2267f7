"""Ctrl-C of ``lynsms up`` and ``lynsms gateway`` at various moments: does any stop print a traceback?

    python3 -m benchmarks.stop_bench [--rounds 5]

Each round stops each command once per moment: right after the banner (servers still starting),
once it answers, while a send waits on a slow provider, while a customer webhook is being
delivered to a slow receiver, and while a handset reply is being pushed to the gateway. A stop
counts as clean when the exit status is 0 and stderr has no ``Traceback`` and no ``CancelledError``.

Then, in-process: how long stopping a server thread takes (a keep-alive connection idle), with our
shutdown and with uvicorn's own, side by side (tests and replays stop hundreds of servers).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from lynsms.simulator.harness.server import Server, ServerThread

LYNSMS = [sys.executable, "-m", "lynsms.simulator.harness.cli"]
SLOW = "name: slow\nproviders:\n  twilio:\n    - latency: 3s\n"
URL = re.compile(r"(gateway|simulator)\s+(http://127\.0\.0\.1:\d+)")
SEND = {"to": "+12025550143", "from": "LynSMS", "body": "hi"}


async def _slow_receiver(request: Request) -> Response:
    import asyncio

    await asyncio.sleep(3)
    return JSONResponse({"ok": True})


def _start(args: list[str], folder: str) -> tuple[subprocess.Popen[str], dict[str, str], str]:
    env = {**os.environ, "LYNSMS_DATA_DIR": folder, "PYTHONUNBUFFERED": "1", "LYNSMS_API_KEY": "lyn_test_stop"}
    process = subprocess.Popen([*LYNSMS, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    urls: dict[str, str] = {}
    assert process.stdout is not None
    for line in process.stdout:
        found = URL.search(line)
        if found:
            urls.setdefault(found[1], found[2])
        if "API key" in line:  # after the servers' lines in both banners
            break
    return process, urls, "lyn_test_stop"


def _ready(url: str) -> None:
    for _ in range(1000):
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.01)


def _in_background(call: Callable[[], object]) -> None:
    def run() -> None:
        with contextlib.suppress(httpx.HTTPError):  # the server went away mid-request: that is the point
            call()

    threading.Thread(target=run, daemon=True).start()


def _stop(process: subprocess.Popen[str]) -> str | None:
    """SIGINT; None when the stop was clean, else what was wrong."""
    process.send_signal(signal.SIGINT)
    try:
        _, err = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        return "did not stop within 20 s"
    if process.returncode != 0 or "Traceback" in err or "CancelledError" in err:
        return f"exit {process.returncode}: {err.strip()[-1500:]}"
    return None


def one(command: str, moment: str, simulator_url: str, receiver: str, folder: str) -> str | None:
    scenario = Path(folder) / "slow.scenario.yaml"
    scenario.write_text(SLOW, "utf-8")
    if command == "up":
        args = ["up", "--gateway-port", "0", "--simulator-port", "0", "--proxy-port", "0", "--webhook-url", receiver]
        if moment == "in-flight send":
            args += ["--scenario", str(scenario)]
    else:
        args = ["gateway", "--port", "0", "--simulator-url", simulator_url, "--webhook-url", receiver]
    process, urls, key = _start(args, folder)
    gateway = urls["gateway"]
    sim = urls.get("simulator", simulator_url)
    auth = {"Authorization": f"Bearer {key}"}
    if moment != "at start-up":
        _ready(gateway + "/api/health")
    if moment == "in-flight send":
        if command == "gateway":
            httpx.put(f"{sim}/_sim/scenario", content=SLOW.encode(), timeout=10)
        _in_background(lambda: httpx.post(f"{gateway}/api/v1/messages/send", json=SEND, headers=auth, timeout=30))
        time.sleep(0.3)
    elif moment == "webhook in flight":
        httpx.post(f"{gateway}/api/v1/messages/send", json=SEND, headers=auth, timeout=30)
        time.sleep(0.3)
    elif moment == "reply being pushed":
        stop = {"provider": "twilio", "from": "+447700900123", "to": "+12025550100", "body": "STOP"}
        _in_background(lambda: httpx.post(f"{sim}/_sim/inbound", json=stop, timeout=30))
        time.sleep(0.05)
    problem = _stop(process)
    if command == "gateway":
        httpx.delete(f"{sim}/_sim/scenario", params={"all": "true"}, timeout=10)
    return problem


class _UvicornShutdown(Server):
    """Our server with uvicorn's own shutdown, for comparison."""

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await uvicorn.Server.shutdown(self, sockets)


def stop_times(rounds: int = 30) -> None:
    from lynsms.simulator import create_app

    app = create_app()
    medians = {}
    for name, server_class in (("ours", Server), ("uvicorn's", _UvicornShutdown)):
        spent = []
        for _ in range(rounds):
            thread = ServerThread(app)
            thread.server.__class__ = server_class  # same server, same config; only shutdown differs
            thread.start()
            with httpx.Client(base_url=thread.url) as client:
                client.get("/_sim/health")  # leaves a keep-alive connection open, as a test's client does
                started = time.perf_counter()
                thread.stop()
                spent.append(time.perf_counter() - started)
        medians[name] = statistics.median(spent)
        print(f"server thread stop, {name}: median {medians[name] * 1000:.1f} ms, max {max(spent) * 1000:.1f} ms")
    ratio = medians["uvicorn's"] / medians["ours"]
    print(f"  uvicorn's shutdown takes {ratio:.0f}x as long as ours")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    moments = ["at start-up", "idle", "in-flight send", "webhook in flight", "reply being pushed"]
    tally: Counter[str] = Counter()
    problems: list[str] = []
    receiver_app = Starlette(routes=[Route("/hook", _slow_receiver, methods=["POST"])])
    with tempfile.TemporaryDirectory() as folder, ServerThread(receiver_app) as receiver:
        from lynsms.simulator import create_app

        with ServerThread(create_app()) as simulator:
            for _ in range(args.rounds):
                for command in ("up", "gateway"):
                    for moment in moments:
                        if command == "gateway" and moment == "reply being pushed":
                            continue  # a gateway alone registers no inbound URL with any simulator
                        problem = one(command, moment, simulator.url, receiver.url + "/hook", folder)
                        tally["stops"] += 1
                        if problem is not None:
                            tally["unclean"] += 1
                            problems.append(f"{command} / {moment}: {problem}")
    print(
        f"Ctrl-C: {tally['stops']} stops of lynsms up / lynsms gateway at {len(moments)} moments; "
        f"{tally['unclean']} printed a traceback, failed or hung"
    )
    for problem in problems:
        print(" ", problem)
    stop_times()


if __name__ == "__main__":
    main()
