"""Shared fixtures: a real simulator on a real uvicorn server, reset before every test; and one whose
time stands still until a test advances it."""

from __future__ import annotations

import functools
import gc
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fnmatch import fnmatch
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    # The fixtures import what they start. The xdist controller loads this file too and runs no
    # test: imported here, the simulator and httpx cost it ~0.4 s of CPU for nothing.
    import httpx

    from lynsms.clock import Clock, ManualClock
    from lynsms.simulator import Simulator

# The files that take longest (fresh processes, a browser, real-time waits), longest first. xdist
# hands out whole files (--dist loadfile, pyproject.toml) in collection order: these go first, so
# that no worker is left running one of them alone at the end. test_intercept.py stands for the
# official SDKs' files (SDK_FILES below), which travel as one unit, the longest of all.
LONG_FILES = (
    "tests/intercept/test_intercept.py",
    "tests/e2e/test_console_browser.py",
    "tests/intercept/test_proxy.py",
    "tests/harness/test_cli.py",
    "tests/harness/test_pytest_plugin.py",
    "tests/e2e/test_delivery_reports.py",
    "tests/e2e/test_replay.py",
    "tests/e2e/test_crash_recovery.py",
    "tests/simulator/test_bad_input.py",
    "tests/e2e/test_replay_external.py",
    "tests/gateway/test_adapters_vs_simulator.py",
    "tests/contract/test_node_sdks.py",
)


# The files that drive the official Python SDKs in-process. A worker's first import of them costs
# ~3.5 s of CPU (Infobip's package alone 2.2 s: it imports every API it has), so under --dist
# loadfile they go to one worker together, as one unit, instead of each worker paying it.
SDK_FILES = (
    "tests/contract/test_*_sdk.py",
    "tests/contract/test_*_sdks.py",
    "tests/contract/test_readme_snippets.py",
    "tests/intercept/test_intercept.py",
    "tests/intercept/test_readme_interception.py",
    "tests/simulator/test_scenario_outcomes.py",
)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    # -n auto: one worker more than the cores. A worker spends about a fifth of its time waiting on
    # the processes, browser and sockets its tests start; the extra one fills those gaps (2 cores,
    # benchmarks.suite_bench, 4-5 rounds each: -n 2 36.6 s, -n 3 35.1 s, -n 4 35.8 s on average).
    return (os.cpu_count() or 1) + 1


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling  # type: ignore[import-untyped]  # xdist ships no types

    @functools.cache
    def unit(path: str) -> str:  # asked for every test as it is handed out and as it finishes
        return "the official SDKs' files" if any(fnmatch(path, pattern) for pattern in SDK_FILES) else path

    class SdkFilesTogether(LoadFileScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return unit(super()._split_scope(nodeid))

    return SdkFilesTogether(config, log)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: n for n, name in enumerate(LONG_FILES)}
    # A stable sort: the other files, and the tests inside every file, keep their order.
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(LONG_FILES)))


def pytest_collection_finish(session: pytest.Session) -> None:
    # The collector's settings for a test process, after lynsms.simulator.harness.server's for a
    # serving one. What start-up and collection built (modules, test items) lives to the end: frozen,
    # no full collection walks it again. The tests and their in-process servers allocate hundreds of
    # containers a request: at a 50,000 gen-0 threshold, young collections run ~70 times less often.
    # The collector's CPU in a whole run went from ~3.4 s to ~1.6 s, for the same tests.
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


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


@contextmanager
def _served(clock: Clock) -> Iterator[tuple[str, Simulator, httpx.Client]]:
    """A simulator on a real server, and a keep-alive client for its /_sim calls."""
    import httpx

    from lynsms.simulator import Simulator, create_app
    from lynsms.simulator.harness.server import ServerThread
    from lynsms.tls import client_tls

    sim = Simulator(seed=1234, clock=clock)
    with ServerThread(create_app(sim=sim)) as server, httpx.Client(base_url=server.url, verify=client_tls()) as control:
        yield server.url, sim, control


@pytest.fixture(scope="session")
def _simulator_server() -> Iterator[RunningSimulator]:
    from lynsms.clock import SYSTEM_CLOCK

    with _served(SYSTEM_CLOCK) as served:
        yield RunningSimulator(*served)


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

    def advance_until(
        self, done: Callable[[], bool], step: float = 0.5, limit: float = 60.0, within: float = 60.0
    ) -> None:
        """Advance simulated time in ``step``s until ``done()``. Time moves only while the server is
        idle, so a loaded machine makes the test slower but never changes what it sees. ``within``
        bounds the real seconds spent waiting for the server: a failure bound, not a window."""
        moved = 0.0
        deadline = time.monotonic() + within
        while not self.settle(done, within=deadline - time.monotonic()):
            assert moved < limit, f"still not done after {limit} simulated seconds"
            self.clock.advance(step)
            moved += step

    def settle(self, done: Callable[[], bool] = lambda: False, within: float = 60.0) -> bool:
        """Wait until what fell due has run and no callback or inbound push is on the wire, or until
        ``done()``; return whether ``done()`` holds. ``within`` is a failure bound in real seconds."""
        deadline = time.monotonic() + within
        while True:
            # A request through the server's loop: the timers that fired before it have run by its answer.
            self.control.get("/_sim/health").raise_for_status()
            if done():
                return True
            if not (self.sim.deliveries.busy or self.sim.inbound.busy):
                return False
            assert time.monotonic() < deadline, "the simulator's callbacks and pushes never finished"
            time.sleep(0.002)


@pytest.fixture(scope="session")
def _clocked_server() -> Iterator[ClockedSimulator]:
    from lynsms.clock import ManualClock

    clock = ManualClock()
    with _served(clock) as served:
        yield ClockedSimulator(*served, clock)


@pytest.fixture
def clocked_simulator(_clocked_server: ClockedSimulator) -> ClockedSimulator:
    """A running simulator with empty state whose clock moves only when the test says."""
    _clocked_server.control.post("/_sim/reset").raise_for_status()
    return _clocked_server
