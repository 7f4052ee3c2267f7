"""Shared fixtures: a real simulator on a real uvicorn server, reset before every test."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from lynsms.simulator import Simulator, create_app
from lynsms.simulator.harness.server import ServerThread


@dataclass
class RunningSimulator:
    url: str
    sim: Simulator
    control: httpx.Client  # one keep-alive client for /_sim calls: a new client per call costs ~50 ms

    def journal(self) -> list[dict]:
        return self.control.get("/_sim/requests").json()["requests"]

    def messages(self, **filters: str) -> list[dict]:
        return self.control.get("/_sim/messages", params=filters).json()["messages"]


@pytest.fixture(scope="session")
def _simulator_server() -> Iterator[RunningSimulator]:
    sim = Simulator(seed=1234)
    with ServerThread(create_app(sim=sim)) as server, httpx.Client(base_url=server.url) as control:
        yield RunningSimulator(server.url, sim, control)


@pytest.fixture
def simulator(_simulator_server: RunningSimulator) -> RunningSimulator:
    """A running simulator with empty state (messages, journal, counters, scenario)."""
    _simulator_server.control.post("/_sim/reset").raise_for_status()
    return _simulator_server
