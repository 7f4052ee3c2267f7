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
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import (
    AbstractAsyncContextManager,
    AbstractContextManager,
    asynccontextmanager,
    contextmanager,
    nullcontext,
)
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final, Protocol


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


CallLater = Callable[[float, Callable[[], object]], Timer]


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


def _unless_cancelled(due: _Due | _Wait) -> None:
    if not due.cancelled:
        due.callback()


# ---- fast-forward --------------------------------------------------------------------------------

# Real seconds of calm before time may skip, after something the clock cannot follow happened (a
# timer fired outside any request, a request from outside the stack answered).
SETTLE: Final = 0.02
GUARD_SETTLE: Final = 0.3  # ... before it may skip to a timeout outside any request (a runner's deadline)
# Real seconds a timer may be overdue while the stack is held (working on what the previous timer set
# off, or on a slow first import) before it fires anyway: only a backstop against a hold that
# waits for the timer itself. Work, however slow the machine, thus takes no scenario time past a
# timer: outcomes depend on the script, never on the load.
LATE: Final = 10.0


@dataclass(order=True)
class _Wait:
    at: float  # on the clock's monotonic scale
    seq: int
    callback: Callable[[], object] = field(compare=False)
    loop: asyncio.AbstractEventLoop | None = field(compare=False)  # None: called on the clock's thread
    guard: bool = field(compare=False)  # a timeout: outside any request, skipped to only after a longer calm
    clock: FastForwardClock = field(compare=False, repr=False)
    cancelled: bool = field(default=False, compare=False)
    # The request this is a wait of (``serving``): it holds the clock again from the moment the
    # wait is over (fired or cancelled), so what the wait's end sets off needs no calm to be seen.
    serving: Serving | None = field(default=None, compare=False, repr=False)
    released: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        if not self.cancelled:
            self.cancelled = True
            if self.serving is None:
                self.clock._touch()
            else:
                self.end()

    def end(self) -> None:
        """The request no longer waits on this (called with the clock's lock held, or taking it)."""
        if self.serving is not None and not self.released:
            self.released = True
            self.serving.wait(-1)

    def fire(self) -> None:
        self.end()
        if self.loop is None:
            self.callback()
        elif not self.loop.is_closed():
            self.loop.call_soon_threadsafe(_unless_cancelled, self)


class FastForwardClock:
    """Real time that skips the waiting: whenever nothing is happening on the stack, time jumps
    straight to the next timer and fires it.

    Shared by the simulator, the gateway and the replay runner of one stack (threads of one
    process), so scripted latency, report delays, timeouts, back-offs and cool-downs all keep their
    order and their proportions while the wall-clock wait shrinks to the work actually done.
    Outcomes stay those of real time because the clock knows what is happening, not merely guesses
    by a calm:

    - ``serving()``: a request a server is handling holds the clock, except while it waits on the
      clock itself (a scripted latency, a timeout around a call); when such a wait ends, fired or
      cancelled, the hold is back at once, so what the timer set off is covered without any calm;
    - ``calling()``: a request from one server of the stack to another (the gateway calling a
      provider) holds it while the request travels and while its answer travels back;
    - ``hold()`` / ``busy(clock)``: other work it cannot see: the runner checking a step's results,
      a callback or a webhook in flight; ``hand_over`` keeps an answer to the runner covered.

    Time skips only when nothing holds it, and a timer that falls due in real time while something
    holds it waits (up to ``late`` real seconds, a backstop) until that work is done, so a
    scripted latency never overtakes a timeout that fell due first, however slow the machine.
    Timers whose effects it cannot follow (fired outside any request: a delivery report's delay, a
    back-off) still get a short calm of ``settle`` real seconds before the next skip, and
    ``guard_settle`` before a timeout outside any request (the runner's deadlines). Between skips
    time runs at the real rate, so code that only reads the clock sees it move.
    """

    def __init__(self, settle: float = SETTLE, guard_settle: float = GUARD_SETTLE, late: float = LATE) -> None:
        self.settle = settle
        self.guard_settle = guard_settle
        self.late = late
        self.skipped = 0.0  # seconds of waiting skipped so far
        self._offset = 0.0
        self._waits: list[_Wait] = []
        self._seq = itertools.count()
        self._holds = 0
        self._calls: dict[str, _Call] = {}  # calling: the requests between servers of the stack
        self._handed = 0  # holds taken by hand_over, not yet handed back
        self._after_guard = False  # the last timer fired was a timeout
        self._calm_since = time.monotonic()
        self._changed = threading.Condition()
        self._closed = False
        self._driver = threading.Thread(target=self._drive, name="fast-forward clock", daemon=True)
        self._driver.start()

    def time(self) -> float:
        return time.time() + self._offset

    def monotonic(self) -> float:
        return time.monotonic() + self._offset

    def call_later(self, delay: float, callback: Callable[[], object]) -> Timer:
        return self._schedule(delay, callback, asyncio.get_running_loop(), guard=False)

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not woken.done():
                woken.set_result(None)

        timer = self._schedule(seconds, wake, asyncio.get_running_loop(), guard=False, serving=self._serving())
        try:
            await woken
        finally:
            timer.cancel()

    @asynccontextmanager
    async def timeout(self, seconds: float | None) -> AsyncIterator[None]:
        """``asyncio.timeout`` on this clock: raises ``TimeoutError`` once ``seconds`` have passed.
        A request being served waits on the clock inside it (see ``serving``)."""
        if seconds is None:
            async with asyncio.timeout(None):
                yield
            return

        serving = self._serving()

        def schedule(delay: float, expire: Callable[[], object]) -> Timer:
            return self._schedule(delay, expire, asyncio.get_running_loop(), guard=True, serving=serving)

        async with _timeout_on(schedule, seconds):
            yield

    @contextmanager
    def calling(self) -> Iterator[str]:
        """A request of the stack's to another server of the stack (a gateway calling a provider):
        the clock is held while the request travels and while its answer travels back, not while
        the callee works on it, where the callee's ``serving`` takes over. The callee learns of the
        call by the token this yields, sent in the ``CALL_HEADER``. So neither a reply nor a
        request in flight is ever overtaken by a timer, without any calm to wait out."""
        call = _Call()
        with self._changed:
            token = str(next(self._seq))
            self._calls[token] = call
            self._holds += 1
        try:
            yield token
        finally:
            with self._changed:
                del self._calls[token]
                call.over = True
                if call.travelling:
                    call.travelling = False
                    self._holds -= 1
                self._changed.notify_all()

    def serving(self, *, quiet: bool = False, call: str | None = None) -> Serving:
        """A request a server of the stack starts handling, in the task that handles it: time does
        not skip until ``Serving.done`` (its answer is on its way), except while the request (or a
        task it started) waits on this clock: a scripted latency, a timeout around a call to another
        server, which holds the clock in turn while it works. Work the clock cannot see, such as a
        slow first import, thus never lets a timeout expire early.

        Taking and releasing the hold restarts the calm, so the answer reaches its caller before
        time skips; ``quiet`` does not, for a caller that holds the clock itself while the answer
        travels (the runner, through ``hand_over``), whose polling would otherwise keep time from
        ever skipping. ``call`` is the token of a ``calling`` request: its hold passes to the
        request being served, and back to the call when the answer starts."""
        with self._changed:
            found = self._calls.get(call) if call is not None else None
            serving = Serving(self, quiet=quiet, call=found)
            if found is not None and found.travelling:
                found.travelling = False
                self._holds -= 1
        _SERVING.set(serving)
        return serving

    def _serving(self) -> Serving | None:
        """The request of this clock the running task works for, if any."""
        serving = _SERVING.get()
        return serving if serving is not None and serving.clock is self else None

    def deadline(self, seconds: float) -> Deadline:
        """For threads without an event loop: an event set once ``seconds`` have passed (a timeout).
        Cancel it when no longer waited for: a deadline left behind would be skipped to later, and
        would cost its longer calm."""
        event = Deadline()
        event.timer = self._schedule(seconds, event.set, None, guard=True)
        return event

    def sleep_blocking(self, seconds: float) -> None:
        """``time.sleep`` on this clock, for threads without an event loop."""
        event = threading.Event()
        self._schedule(seconds, event.set, None, guard=False)
        event.wait()

    @contextmanager
    def hold(self) -> Iterator[None]:
        with self._changed:
            self._holds += 1
        try:
            yield
        finally:
            with self._changed:
                self._holds -= 1
            self._touch()

    @contextmanager
    def running(self) -> Iterator[None]:
        """Inside a ``hold``: let time skip again for the block (a caller waiting on the stack)."""
        with self._changed:
            self._holds -= 1 + self._handed  # answers read while holding need no hand-over hold
            self._handed = 0
        self._touch()
        try:
            yield
        finally:
            with self._changed:
                self._holds += 1
            self.handed_back()

    def hand_over(self) -> None:
        """A server answers a caller that is ``running``: hold until the caller has the answer
        (``handed_back``), so time cannot skip while the answer travels."""
        with self._changed:
            self._holds += 1
            self._handed += 1

    def handed_back(self) -> None:
        with self._changed:
            self._holds -= self._handed
            self._handed = 0
            self._changed.notify_all()  # not a change of time's course: the calm goes on

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def _schedule(
        self,
        delay: float,
        callback: Callable[[], object],
        loop: asyncio.AbstractEventLoop | None,
        *,
        guard: bool,
        serving: Serving | None = None,
    ) -> _Wait:
        if serving is not None and not serving.active:
            serving = None  # a task the request left running: the clock cannot follow it, so the calm applies
        wait = _Wait(self.monotonic() + max(0.0, delay), next(self._seq), callback, loop, guard, self, serving=serving)
        with self._changed:
            heapq.heappush(self._waits, wait)
            if serving is not None:
                # The request waits: its hold passes to the timer. Nothing travels meanwhile, so no calm.
                serving.wait(+1)
                return wait
        self._touch()
        return wait

    def _touch(self) -> None:
        with self._changed:
            self._calm_since = time.monotonic()
            self._changed.notify_all()

    def _drive(self) -> None:
        with self._changed:
            while not self._closed:
                while self._waits and self._waits[0].cancelled:
                    heapq.heappop(self._waits)
                if not self._waits:
                    self._changed.wait()
                    continue
                first = self._waits[0]
                real = time.monotonic()
                due_in = first.at - (real + self._offset)
                if due_in <= 0 and self._holds > 0 and -due_in < self.late:
                    # Due in real time, but the stack is still working on what came before: the
                    # timer waits, so a latency never overtakes a timeout that fell due first
                    # merely because the machine is slow.
                    self._changed.wait(self.late + due_in)
                    continue
                if due_in <= 0:
                    heapq.heappop(self._waits)
                    first.fire()
                    if first.serving is None:
                        # What the callback sets off is unseen until it reaches a server: the calm.
                        self._calm_since = real
                        # A timeout cancels work on another loop: give that the longer calm too.
                        self._after_guard = first.guard
                    continue
                if self._holds <= 0:
                    # A request's own timeout needs no longer calm: its calls are held while they travel.
                    longer = (first.guard and first.serving is None) or self._after_guard
                    calm_at = self._calm_since + (self.guard_settle if longer else self.settle)
                    if real >= calm_at:
                        self._offset += due_in
                        self.skipped += due_in
                        continue
                    due_in = min(due_in, calm_at - real)
                self._changed.wait(due_in)


CALL_HEADER: Final = "LynSMS-Clock-Call"  # the token of a ``FastForwardClock.calling`` request


@dataclass
class _Call:
    travelling: bool = True  # the request, or its answer, is on its way: the call holds the clock
    over: bool = False  # the caller has the answer, or gave up


class Deadline(threading.Event):
    """``FastForwardClock.deadline``: set once its time has come, unless cancelled first."""

    timer: Timer

    def cancel(self) -> None:
        self.timer.cancel()


class Serving:
    """One request being handled (``FastForwardClock.serving``): it holds the clock while it is
    active and none of its waits on the clock is under way."""

    def __init__(self, clock: FastForwardClock, *, quiet: bool = False, call: _Call | None = None) -> None:
        self.clock = clock
        self.quiet = quiet
        self.call = call
        self._waits = 0
        self._active = True
        self._held = False
        self._update(lambda: None)

    @property
    def active(self) -> bool:
        return self._active

    def wait(self, step: int) -> None:
        """A wait on the clock begins (+1) or ends (-1) in the request's tasks."""

        def count() -> None:
            self._waits += step

        self._update(count)

    def done(self) -> None:
        """The answer is on its way, or the request ended: stop holding. Idempotent."""

        def end() -> None:
            call = self.call
            if self._active and call is not None and not call.over and not call.travelling:
                call.travelling = True  # the answer is on its way back to the caller
                self.clock._holds += 1
            self._active = False

        self._update(end)

    def _update(self, change: Callable[[], None]) -> None:
        clock = self.clock
        with clock._changed:  # reentrant: _touch takes it again
            before = self._held
            change()
            self._held = self._active and self._waits == 0
            if self._held != before:
                clock._holds += 1 if self._held else -1
                if self._held or self.call is not None:
                    # Taking a hold changes nothing that could let time skip; a call's answer
                    # travels under the call's own hold.
                    clock._changed.notify_all()
                elif not self.quiet:
                    clock._touch()  # a release is a change too: what the request set off gets the calm
                else:
                    clock._changed.notify_all()


_SERVING: ContextVar[Serving | None] = ContextVar("lynsms_clock_serving", default=None)


class Work:
    """Work a task goes on to do by itself, such as a push a request set off. Made where the task is
    created (so no moment passes unheld) and entered in the task; ``close`` it from the task's done
    callback too, in case the task is cancelled before it starts. On a fast-forward clock it holds
    time like a request being served, except while the work waits on the clock (a back-off), so
    time skips only once the work is waiting or done. Other clocks: nothing."""

    def __init__(self, clock: Clock) -> None:
        self._serving = Serving(clock) if isinstance(clock, FastForwardClock) else None
        self._token: Token[Serving | None] | None = None

    def __enter__(self) -> Work:
        if self._serving is not None:
            self._token = _SERVING.set(self._serving)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
        if self._token is not None:
            _SERVING.reset(self._token)

    def close(self) -> None:
        if self._serving is not None:
            self._serving.done()


def busy(clock: Clock) -> AbstractContextManager[object]:
    """Work the clock cannot see, such as an HTTP exchange in flight (a callback, a webhook): a
    fast-forward clock does not skip past it, so what it sets off lands before the next timer. Other
    clocks are not affected."""
    return clock.hold() if isinstance(clock, FastForwardClock) else nullcontext()


@contextmanager
def calling(clock: Clock, headers: Mapping[str, str] | None = None) -> Iterator[dict[str, str]]:
    """A request to another server of a stack on ``clock``, for the block: ``headers`` to send it
    with, which on a fast-forward clock carry the call's token (``FastForwardClock.calling``; the
    stack's servers take it off again). Other clocks: ``headers`` as they are."""
    sent = dict(headers or {})
    if not isinstance(clock, FastForwardClock):
        yield sent
        return
    with clock.calling() as token:
        yield {**sent, CALL_HEADER: token}


def timeout(clock: Clock, seconds: float | None) -> AbstractAsyncContextManager[object]:
    """``asyncio.timeout(seconds)`` measured on ``clock``."""
    if isinstance(clock, FastForwardClock):
        return clock.timeout(seconds)
    if isinstance(clock, SystemClock) or seconds is None:
        return asyncio.timeout(seconds)
    return _timeout_on(clock.call_later, seconds)


@asynccontextmanager
async def _timeout_on(
    call_later: Callable[[float, Callable[[], object]], Timer], seconds: float
) -> AsyncIterator[None]:
    async with asyncio.timeout(None) as scope:
        loop = asyncio.get_running_loop()

        def expire() -> None:
            if not scope.expired():
                scope.reschedule(loop.time())

        timer = call_later(seconds, expire)
        try:
            yield
        finally:
            timer.cancel()
