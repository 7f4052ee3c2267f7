"""Delivery reports for accepted messages: scheduled, pushed to callbacks, kept for polling.

Each scheduled message waits in a tick's queue (one timer per 10 ms tick, however many reports are
due in it): the intermediate status ("sent", which each provider words
its own way) half-way, the final status at ``plan.after``. Every report is appended to
``message.reports`` for the polling endpoints (unless the provider has none and nobody asked for
a callback: then only the status moves on) and, when the provider says the client asked for it,
queued for a callback, so a slow receiver never delays the next status (real providers do not
wait either, which is why callbacks can arrive out of order).

Callbacks keep pace and stay bounded:

    report due ──> callback queue (at most max_queued) ──> CALLBACK_CONCURRENCY workers ──POST──> receiver
                      │ full: the new callback is dropped,                    │ 5xx / 429 / unreachable:
                      │ journaled (result "dropped")                          └── re-queued after backoff,
                                                                                  a bounded number of times

A simulator driven flat out would otherwise accept messages faster than it can report on them,
and every report would arrive later than scripted: so while more than ``BEHIND`` callbacks wait,
send requests wait too (``keep_up``), and the send rate settles where callbacks keep pace.

The workers share one pool of keep-alive connections (the same lean HTTP/1.1 transport the
gateway uses: httpx's own pool cost more CPU per callback than everything else a report takes),
and a callback waiting for its retry holds no worker. Every attempt is a journal entry (method
``CALLBACK``) so users see exactly what the simulator sent, or that it dropped a callback.

All timers and workers are tracked: ``reset`` cancels them, ``close`` (app shutdown) cancels and
awaits them and closes the one shared HTTP client.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from lynsms.clock import Clock, Timer, calling
from lynsms.simulator.decision import DeliveryPlan
from lynsms.simulator.http import outbound_client
from lynsms.simulator.messages import DeliveryStatus, SimMessage
from lynsms.simulator.state import Journal, JournalEntry

if TYPE_CHECKING:
    from lynsms.simulator.providers.base import Callback, Provider

    AnyProvider = Provider[Any]

log = logging.getLogger("lynsms.simulator")

INTERMEDIATE = "sent"  # the generic word; each provider's delivery_report maps it (Dispatched, ENROUTE...)
CALLBACK_TIMEOUT = 5.0
# Callbacks in flight at once. A burst of reports (1,000 messages delivered in the same second) must
# queue here: handing them all to the HTTP pool at once made it thrash and starved the event loop,
# so the simulator stopped answering its own API.
CALLBACK_CONCURRENCY = 32
# Callbacks waiting for a worker at most (about 1 KB each); beyond, new ones are dropped.
MAX_QUEUED_CALLBACKS = 20_000
# Beyond this many waiting callbacks, new send requests wait (``keep_up``) until half have gone.
BEHIND = CALLBACK_CONCURRENCY * 2


# Reports due within the same tick go out together, on one timer. Under load every accepted
# message schedules two reports; a timer (and a closure) each cost a fifth of the throughput.
TICK = 0.01

_Due = tuple["AnyProvider", SimMessage, str, DeliveryPlan]


@dataclass(slots=True)
class _Push:
    """One callback to make: its ``attempt`` (from 1) of at most ``plan.attempts``."""

    provider: AnyProvider
    message: SimMessage
    report: dict[str, Any]
    callback: Callback
    plan: DeliveryPlan
    attempt: int = 1


class Deliveries:
    """Pending reports and callbacks of one simulator: they wait on ``clock`` and are journaled in ``journal``."""

    def __init__(self, journal: Journal, clock: Clock, max_queued: int = MAX_QUEUED_CALLBACKS) -> None:
        self._journal = journal
        self._clock = clock
        self._due: dict[int, list[_Due]] = {}  # tick number -> reports due then, in order
        self._timers: dict[int, Timer] = {}
        self._queue: deque[_Push] = deque()
        self.max_queued = max_queued
        self._retries: dict[int, Timer] = {}  # by a number of their own: some timers are unhashable
        self._retry_seq = 0
        self._workers: set[asyncio.Task[None]] = set()
        self._sending = 0
        self.dropped = 0  # callbacks dropped because the queue was full, since the last reset
        self._caught_up = asyncio.Event()
        self._caught_up.set()
        self._client: httpx.AsyncClient | None = None
        # Told when a message reaches its handset (scripted replies start there).
        self.on_delivered: list[Callable[[AnyProvider, SimMessage], None]] = []

    @property
    def pending(self) -> int:
        return sum(map(len, self._due.values())) + self.in_flight

    @property
    def in_flight(self) -> int:
        """Callbacks queued, being sent or waiting to retry right now."""
        return len(self._queue) + self._sending + len(self._retries)

    @property
    def busy(self) -> int:
        """Callbacks queued or being sent right now: work that needs no clock to move on (a test on
        a manual clock waits for it before it advances time)."""
        return len(self._queue) + self._sending

    async def keep_up(self) -> None:
        """Return once the callback queue is not behind (at once, nearly always)."""
        if not self._caught_up.is_set():
            await self._caught_up.wait()

    def schedule(self, provider: AnyProvider, message: SimMessage, plan: DeliveryPlan) -> None:
        lead = provider.lead_status(message)
        if lead is not None:  # a step inside the provider, reported at once, before anything scripted
            self._later(0.0, provider, message, lead, plan)
        # A message that failed never left the provider, so it has no "sent" step.
        if plan.intermediate and plan.status != "failed":
            self._later(plan.after / 2, provider, message, INTERMEDIATE, plan)
        else:
            self._later(plan.after, provider, message, plan.status, plan)

    def reset(self) -> None:
        """Cancel every pending report and callback (``POST /_sim/reset``)."""
        for timer in [*self._timers.values(), *self._retries.values()]:
            timer.cancel()
        for task in self._workers:
            task.cancel()
        self._timers.clear()
        self._due.clear()
        self._queue.clear()
        self._retries.clear()
        self._workers.clear()
        # _sending is left to the cancelled workers: each takes its send off as it unwinds. Zeroed
        # here, those would take it below zero, and a test or a replay waiting for the simulator to
        # be idle would wait for ever.
        self.dropped = 0
        self._caught_up.set()

    async def close(self) -> None:
        """Cancel pending deliveries and close the HTTP client (app shutdown)."""
        workers = list(self._workers)
        self.reset()
        await asyncio.gather(*workers, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _later(
        self, delay: float, provider: AnyProvider, message: SimMessage, status: DeliveryStatus | str, plan: DeliveryPlan
    ) -> None:
        now = self._clock.monotonic()
        tick = math.ceil((now + delay) / TICK)
        due = self._due.get(tick)
        if due is None:
            due = self._due[tick] = []
            self._timers[tick] = self._clock.call_later(tick * TICK - now, lambda: self._fire(tick))
        due.append((provider, message, status, plan))

    def _fire(self, tick: int) -> None:
        self._timers.pop(tick, None)
        for provider, message, status, plan in self._due.pop(tick, ()):
            self._report(provider, message, status, plan)

    def _report(
        self, provider: AnyProvider, message: SimMessage, status: DeliveryStatus | str, plan: DeliveryPlan
    ) -> None:
        final = status == plan.status
        if final or status == INTERMEDIATE:  # a lead status is the provider's own, not a delivery step
            message.delivery = status
        try:
            report = provider.delivery_report(message, status, plan.error_code if final else None)
            callback = None
            if report is not None:
                message.reports.append(report)
                callback = provider.callback(message, report)
        except Exception:
            log.exception("%s: cannot report %s for %s", provider.name, status, message.id)
            return
        if final and status == "delivered":
            for listener in self.on_delivered:
                listener(provider, message)
        if status == INTERMEDIATE and not final:
            # Chained, not scheduled up front: equal due times would not keep their order in the heap.
            self._later(plan.after / 2, provider, message, plan.status, plan)
        if report is not None and callback is not None:
            self._enqueue(_Push(provider, message, report, callback, plan))

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = outbound_client(CALLBACK_CONCURRENCY, CALLBACK_TIMEOUT)
        return self._client

    def _enqueue(self, push: _Push) -> None:
        if len(self._queue) >= self.max_queued:
            self._drop(push)
            return
        self._queue.append(push)
        if len(self._queue) > BEHIND:
            self._caught_up.clear()
        if len(self._workers) < CALLBACK_CONCURRENCY:
            worker = asyncio.get_running_loop().create_task(self._work())
            self._workers.add(worker)
            worker.add_done_callback(self._workers.discard)

    def _drop(self, push: _Push) -> None:
        """The drop policy, in the journal: a full queue refuses the newest callback."""
        self.dropped += 1
        entry = self._entry(push)
        entry.outcome = {
            "kind": "callback",
            "attempt": push.attempt,
            "attempts": push.plan.attempts,
            "result": "dropped",
            "error": f"{self.max_queued} callbacks were already waiting to be sent",
        }
        if self.dropped == 1 or self.dropped % 1000 == 0:
            log.warning("callback queue full (%d waiting): %d callback(s) dropped", self.max_queued, self.dropped)

    def _entry(self, push: _Push) -> JournalEntry:
        entry = self._journal.open("CALLBACK", push.callback.url, push.provider.name)
        entry.account = push.message.account
        entry.message_ids = [push.message.id]
        entry.messages = [push.report]
        return entry

    async def _work(self) -> None:
        """Send queued callbacks one after another until the queue is empty."""
        while self._queue:
            push = self._queue.popleft()
            if len(self._queue) <= BEHIND // 2:
                self._caught_up.set()
            self._sending += 1
            try:
                retry = await self._send(push)
            finally:
                self._sending -= 1
            if retry:
                self._retry(push)

    def _retry(self, push: _Push) -> None:
        self._retry_seq += 1
        number = self._retry_seq

        def again() -> None:
            self._retries.pop(number, None)
            push.attempt += 1
            self._enqueue(push)

        self._retries[number] = self._clock.call_later(push.plan.backoff * 2 ** (push.attempt - 1), again)

    async def _send(self, push: _Push) -> bool:
        """One attempt, journaled; True when it should be retried."""
        entry = self._entry(push)
        plan, attempt = push.plan, push.attempt
        # Visible in the journal while the receiver is still answering.
        outcome: dict[str, Any] = {
            "kind": "callback",
            "attempt": attempt,
            "attempts": plan.attempts,
            "result": "in_flight",
        }
        entry.outcome = outcome
        started = self._clock.monotonic()
        retry = True
        try:
            # Fast-forwarded time waits for the receiver's answer (and its work, when it is the stack's).
            with calling(self._clock, push.callback.headers) as headers:
                answer = await self._http().post(push.callback.url, content=push.callback.body, headers=headers)
            entry.status = answer.status_code
            retry = answer.status_code >= 500 or answer.status_code == 429
            outcome["result"] = "retry" if retry else "delivered" if answer.status_code < 400 else "refused"
        except httpx.HTTPError as exc:
            outcome.update(result="retry", error=f"{type(exc).__name__}: {exc}".rstrip(": "))
        entry.duration_ms = (self._clock.monotonic() - started) * 1000
        if retry and attempt == plan.attempts:
            outcome["result"] = "gave_up"
        entry.outcome = outcome
        return retry and attempt < plan.attempts
