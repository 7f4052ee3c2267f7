"""``lynsms gateway`` in a process of its own, for the tests whose point is what happens to a process
(killed, stopped): its URL and banner once it answers, a client on it, and the process to signal."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

from lynsms.tls import client_tls

URL = re.compile(r"LynSMS gateway\s+(http://\S+)/api")
# How long start-up and a stop may take: bounds for a loaded machine, not measurements.
WITHIN = 60.0


@dataclass
class GatewayProcess:
    url: str  # the origin; the API is under /api
    banner: list[str]  # the lines it printed first
    process: subprocess.Popen[str]
    client: httpx.Client  # keep-alive, with the API key; it also waits for the start

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=WITHIN)

    def terminate(self) -> None:
        self.process.send_signal(signal.SIGTERM)


@contextmanager
def gateway_process(*args: str, api_key: str, banner: int = 2) -> Iterator[GatewayProcess]:
    """``lynsms gateway --port 0 ARGS`` with ``api_key``, once it answers; SIGKILLed after the block
    if still running. ``banner``: how many lines it prints first (2, more with webhooks)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "lynsms.simulator.harness.cli", "gateway", "--port", "0", *args],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "LYNSMS_API_KEY": api_key, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline().strip() for _ in range(banner)]
        found = URL.search(lines[0])
        assert found, lines
        headers = {"Authorization": f"Bearer {api_key}"}
        with httpx.Client(base_url=found.group(1), headers=headers, timeout=15, verify=client_tls()) as client:
            deadline = time.monotonic() + WITHIN
            while not _answers(client):
                assert time.monotonic() < deadline and process.poll() is None, "the gateway process did not start"
                time.sleep(0.02)
            yield GatewayProcess(found.group(1), lines, process, client)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        process.wait(timeout=WITHIN)
        if process.stdout is not None:
            process.stdout.close()


def _answers(client: httpx.Client) -> bool:
    try:
        return client.get("/api/health").status_code == 200
    except httpx.TransportError:
        return False
