"""Shared fixtures: a real simulator on a real uvicorn server, reset before every test; and one whose
time stands still until a test advances it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from lynsms.clock import ManualClock
from lynsms.simulator import Simulator, create_app
from lynsms.simulator.harness.server import ServerThread


@dataclass
class RunningSimulator:
    url: str
    sim: Simulator
    control: httpx.Client  # one keep-alive client for /_sim calls: a new client per call costs ~50 ms

    def journal(self) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = self.control.get("/_sim/requests").json()["requests"]
        return entries

    def messages(self, **filters: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.control.get("/_sim/messages", params=filters).json()["messages"]
        return found


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


@dataclass
class ClockedSimulator(RunningSimulator):
    """A running simulator on a ``ManualClock``: deliveries, retries and scripted waits happen when
    the test advances time, not when the wall clock gets there."""

    clock: ManualClock

    def advance_until(self, done: Callable[[], bool], step: float = 0.5, limit: float = 60.0) -> None:
        """Advance simulated time in ``step``s until ``done()``; each step leaves the server's loop a
        moment of real time to run what fell due (callbacks are real HTTP)."""
        moved = 0.0
        while not done():
            assert moved < limit, f"still not done after {limit} simulated seconds"
            self.clock.advance(step)
            moved += step
            # Let what fell due run, and the callbacks it started land, before time moves on.
            time.sleep(0.005)
            settle = time.monotonic() + 1.0
            while self.sim.deliveries.in_flight and not done() and time.monotonic() < settle:
                time.sleep(0.002)


@pytest.fixture(scope="session")
def _clocked_server() -> Iterator[ClockedSimulator]:
    clock = ManualClock()
    sim = Simulator(seed=1234, clock=clock)
    with ServerThread(create_app(sim=sim)) as server, httpx.Client(base_url=server.url) as control:
        yield ClockedSimulator(server.url, sim, control, clock)


@pytest.fixture
def clocked_simulator(_clocked_server: ClockedSimulator) -> ClockedSimulator:
    """A running simulator with empty state whose clock moves only when the test says."""
    _clocked_server.control.post("/_sim/reset").raise_for_status()
    return _clocked_server
