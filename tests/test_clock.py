"""The fast-forward clock: timers fire in deadline order, time skips only when nothing is happening."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from functools import partial

import pytest

from lynsms.clock import FastForwardClock, ManualClock, timeout

# Calms shorter than the product's (0.02 s; 0.3 s before a timeout outside any request): the same
# mechanism, but "many times the calm", which a test waits out to show time did not skip, costs
# little wall time.
SETTLE = 0.005
GUARD_SETTLE = 0.02
MANY_CALMS = 10 * SETTLE


@pytest.fixture
def clock() -> Iterator[FastForwardClock]:
    clock = FastForwardClock(settle=SETTLE, guard_settle=GUARD_SETTLE)
    yield clock
    clock.close()


def test_a_long_sleep_skips_to_its_end_and_the_clock_shows_the_time_passed(clock: FastForwardClock) -> None:
    wall = time.monotonic()
    start = clock.monotonic()
    asyncio.run(clock.sleep(3600))
    assert clock.monotonic() - start >= 3600
    assert time.monotonic() - wall < 60  # an hour of scenario time did not pass on the wall


def test_timers_fire_in_deadline_order_whatever_order_they_were_set_in(clock: FastForwardClock) -> None:
    fired: list[float] = []

    async def main() -> None:
        done = asyncio.Event()
        for delay in (3.0, 1.0, 2.0, 0.5):
            clock.call_later(delay, partial(fired.append, delay))
        clock.call_later(4.0, done.set)
        await done.wait()

    asyncio.run(main())
    assert fired == [0.5, 1.0, 2.0, 3.0]


def test_a_cancelled_timer_never_fires(clock: FastForwardClock) -> None:
    fired: list[str] = []

    async def main() -> None:
        clock.call_later(1.0, lambda: fired.append("cancelled")).cancel()
        await clock.sleep(2.0)

    asyncio.run(main())
    assert fired == []


def test_a_timeout_gives_up_on_a_slower_answer_and_waits_for_a_faster_one(clock: FastForwardClock) -> None:
    async def answer(after: float) -> str:
        await clock.sleep(after)
        return "answer"

    async def call(after: float) -> str:
        try:
            async with clock.timeout(0.25):
                return await answer(after)
        except TimeoutError:
            return "timed out"

    assert asyncio.run(call(0.28)) == "timed out"
    assert asyncio.run(call(0.06)) == "answer"


def test_time_does_not_skip_while_held(clock: FastForwardClock) -> None:
    fired = threading.Event()

    async def main() -> None:
        clock.call_later(30.0, fired.set)
        await asyncio.sleep(MANY_CALMS)  # many times the calm that would let time skip

    with clock.hold():
        asyncio.run(main())
        assert not fired.is_set()


def test_a_request_being_served_holds_time_until_its_answer_starts(clock: FastForwardClock) -> None:
    fired = threading.Event()

    async def main() -> None:
        serving = clock.serving()
        clock.call_later(30.0, fired.set)
        time.sleep(MANY_CALMS)  # work the clock cannot see, many times the calm that would let time skip
        await asyncio.sleep(MANY_CALMS)
        assert not fired.is_set()
        serving.done()
        await asyncio.to_thread(fired.wait, 30)

    asyncio.run(main())
    assert fired.is_set()


def test_a_request_waiting_on_the_clock_lets_time_skip(clock: FastForwardClock) -> None:
    async def main() -> str:
        clock.serving()
        await clock.sleep(3600)  # a scripted latency
        try:
            async with clock.timeout(60):  # a call to another server that never answers
                await asyncio.gather(asyncio.Event().wait())
        except TimeoutError:
            return "timed out"
        return "answered"

    wall = time.monotonic()
    assert asyncio.run(main()) == "timed out"
    assert time.monotonic() - wall < 30


def test_waits_from_a_thread_without_a_loop_skip_too(clock: FastForwardClock) -> None:
    start = clock.monotonic()
    clock.sleep_blocking(120)
    deadline = clock.deadline(60)
    assert deadline.wait(30)
    assert clock.monotonic() - start >= 180


def test_timeout_on_a_manual_clock_expires_when_the_clock_is_advanced() -> None:
    manual = ManualClock()

    async def main() -> str:
        async def advance() -> None:
            await asyncio.sleep(0.01)
            manual.advance(5)

        mover = asyncio.ensure_future(advance())
        try:
            async with timeout(manual, 5):
                await asyncio.Event().wait()
        except TimeoutError:
            return "timed out"
        finally:
            await mover
        return "never"

    assert asyncio.run(main()) == "timed out"


def test_a_timer_due_while_the_stack_is_held_waits_for_the_hold_to_end(clock: FastForwardClock) -> None:
    # A latency falling due in real time must not overtake the work a timeout before it set off,
    # however slow the machine is to do that work.
    fired = threading.Event()

    async def main() -> None:
        with clock.hold():
            clock.call_later(0.01, fired.set)
            await asyncio.sleep(MANY_CALMS)  # the timer is long overdue (due after 0.01 s)
            assert not fired.is_set()
        await asyncio.to_thread(fired.wait, 30)

    asyncio.run(main())
    assert fired.is_set()


def test_an_overdue_timer_fires_after_the_late_backstop_even_if_held() -> None:
    clock = FastForwardClock(settle=SETTLE, guard_settle=GUARD_SETTLE, late=0.05)
    try:
        fired = threading.Event()

        async def main() -> None:
            with clock.hold():
                clock.call_later(0.01, fired.set)
                await asyncio.to_thread(fired.wait, 30)

        asyncio.run(main())
        assert fired.is_set()
    finally:
        clock.close()


def test_a_call_holds_time_until_the_server_it_calls_takes_it_over(clock: FastForwardClock) -> None:
    fired = threading.Event()

    async def main() -> None:
        clock.call_later(30.0, fired.set)
        with clock.calling() as token:
            await asyncio.sleep(MANY_CALMS)  # the request travels: many times the calm
            assert not fired.is_set()

            async def callee() -> None:
                clock.serving(call=token)
                await clock.sleep(60)  # waits on the clock: the call no longer holds it

            await asyncio.create_task(callee())
        assert fired.is_set()

    asyncio.run(main())


def test_a_cancelled_deadline_never_passes(clock: FastForwardClock) -> None:
    deadline = clock.deadline(1)
    deadline.cancel()  # the runner's wait ended first
    clock.sleep_blocking(5)
    assert not deadline.is_set()
