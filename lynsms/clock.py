"""The one seam for time: what the simulator and the gateway read and wait on.

Production code takes a ``Clock`` and never calls ``time.time``, ``asyncio.sleep`` or
``loop.call_later`` for anything a test would otherwise wait out (delivery delays, back-offs,
cool-downs, scheduled work). ``SystemClock`` is the real thing; ``ManualClock`` stands still until a
test calls ``advance``, which fires what fell due, in order, each on its own event loop. Servers run
their loops in other threads, so ``advance`` is thread-safe and hands each callback to its loop.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol


class Timer(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    def time(self) -> float:
        """Seconds since the epoch (wall time)."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back, for durations and deadlines."""

    async def sleep(self, seconds: float) -> None: ...

    def call_later(self, delay: float, callback: Callable[[], object]) -> Timer:
        """Run ``callback`` on the running event loop once ``delay`` seconds have passed."""


def utc_now(clock: Clock) -> datetime:
    return datetime.fromtimestamp(clock.time(), UTC)


class SystemClock:
    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def call_later(self, delay: float, callback: Callable[[], object]) -> Timer:
        return asyncio.get_running_loop().call_later(max(0.0, delay), callback)


SYSTEM_CLOCK = SystemClock()


@dataclass(order=True)
class _Due:
    at: float
    seq: int
    loop: asyncio.AbstractEventLoop = field(compare=False)
    callback: Callable[[], object] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True


class ManualClock:
    """A clock that moves only when told to. Starts at ``start`` (epoch seconds)."""

    def __init__(self, start: float = 1_767_225_600.0) -> None:  # 2026-01-01T00:00:00Z
        self._now = start
        self._origin = start
        self._due: list[_Due] = []
        self._seq = itertools.count()
        self._lock = threading.Lock()

    def time(self) -> float:
        return self._now

    def monotonic(self) -> float:
        return self._now - self._origin

    def call_later(self, delay: float, callback: Callable[[], object]) -> Timer:
        loop = asyncio.get_running_loop()
        with self._lock:
            due = _Due(self._now + max(0.0, delay), next(self._seq), loop, callback)
            heapq.heappush(self._due, due)
        return due

    async def sleep(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        woken: asyncio.Future[None] = loop.create_future()

        def wake() -> None:
            if not woken.done():
                woken.set_result(None)

        timer = self.call_later(seconds, wake)
        try:
            await woken
        finally:
            timer.cancel()

    def pending(self) -> int:
        """How many timers are still waiting (cancelled ones excluded)."""
        with self._lock:
            return sum(not due.cancelled for due in self._due)

    def advance(self, seconds: float) -> None:
        """Move time on by ``seconds``, firing every timer that falls due, earliest first."""
        if seconds < 0:
            raise ValueError("a clock does not go back")
        with self._lock:
            target = self._now + seconds
            while self._due and self._due[0].at <= target:
                due = heapq.heappop(self._due)
                if due.cancelled or due.loop.is_closed():
                    continue
                self._now = max(self._now, due.at)
                due.loop.call_soon_threadsafe(_unless_cancelled, due)
            self._now = target


def _unless_cancelled(due: _Due) -> None:
    if not due.cancelled:
        due.callback()
