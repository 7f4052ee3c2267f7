"""Scripted waits proved on a ``ManualClock`` instead of sat through: a request is sent from a thread
while the test moves the simulator's clock on, so "no answer before the scripted time, then the
answer" is checked exactly, and costs no wall-clock wait."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from typing import Any, TypeVar

T = TypeVar("T")

WITHIN = 30.0  # real seconds: a failure bound, never a window
# "Before" is checked this much before the scripted time: the clock adds steps to an epoch time, whose
# float sums are not exact.
EARLY = 0.001


def answered_after(clocked: Any, send: Callable[[], T], seconds: float, step: float = 0.05) -> T:
    """Call ``send`` (a real HTTP request to the ``clocked_simulator``) from a thread and move the
    clock on in ``step``s: assert no answer has come while less than ``seconds`` have passed on the
    clock, then move on until it comes and return it. Between steps the server settles, so what a
    timer set off (the next piece of a slow body) is scheduled before time moves again."""
    clock = clocked.clock
    before = clock.pending()
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(send)
        _until(lambda: clock.pending() > before or answer.done())
        moved = 0.0
        while True:
            clocked.settle()
            wait_for([answer], timeout=0.002)
            assert not answer.done(), f"answered after {moved:g} s on the clock, before the scripted {seconds:g} s"
            if moved >= seconds - EARLY:
                break
            leap = min(step, seconds - EARLY - moved)
            clock.advance(leap)
            moved += leap
        while not answer.done():
            assert moved < 3 * seconds + 1, f"still no answer after {moved:g} s on the clock"
            leap = 2 * EARLY if moved < seconds else step  # just past the scripted time first
            clock.advance(leap)
            moved += leap
            clocked.settle()
            wait_for([answer], timeout=0.01)
        return _result(answer)


def _result(answer: Future[T]) -> T:
    return answer.result(timeout=WITHIN)


def _until(ready: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WITHIN
    while not ready():
        assert time.monotonic() < deadline, "the request never reached the simulator's clock"
        time.sleep(0.001)
