"""Delivery reports for accepted messages: scheduled, pushed to callbacks, kept for polling.

Each scheduled message waits in a tick's queue (one timer per 10 ms tick, however many reports are
due in it): the intermediate status ("sent", which each provider words
its own way) half-way, the final status at ``plan.after``. Every report is appended to
``message.reports`` for the polling endpoints (unless the provider has none and nobody asked for
a callback: then only the status moves on) and, when the provider says the client asked for it,
POSTed as a separate task so a slow receiver never delays the next status (real providers do not
wait either, which is why callbacks can arrive out of order). Receivers answering 5xx/429 or
unreachable are retried with exponential backoff, a bounded number of times; every attempt is a
journal entry (method ``CALLBACK``) so users see exactly what the simulator sent.

All timers and tasks are tracked: ``reset`` cancels them, ``close`` (app shutdown) cancels and awaits them and
closes the one shared HTTP client.
"""

from __future__ import annotations

import asyncio
import logging
import math
from typing import TYPE_CHECKING, Any

import httpx

from lynsms.clock import Clock, Timer
from lynsms.simulator.decision import DeliveryPlan
from lynsms.simulator.messages import DeliveryStatus, SimMessage
from lynsms.simulator.state import Journal

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


# Reports due within the same tick go out together, on one timer. Under load every accepted
# message schedules two reports; a timer (and a closure) each cost a fifth of the throughput.
TICK = 0.01

_Due = tuple["AnyProvider", SimMessage, str, DeliveryPlan]


class Deliveries:
    """Pending reports and callbacks of one simulator: they wait on ``clock`` and are journaled in ``journal``."""

    def __init__(self, journal: Journal, clock: Clock) -> None:
        self._journal = journal
        self._clock = clock
        self._due: dict[int, list[_Due]] = {}  # tick number -> reports due then, in order
        self._timers: dict[int, Timer] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._client: httpx.AsyncClient | None = None
        self._slots = asyncio.Semaphore(CALLBACK_CONCURRENCY)

    @property
    def pending(self) -> int:
        return sum(map(len, self._due.values())) + len(self._tasks)

    @property
    def in_flight(self) -> int:
        """Callbacks being sent (or waiting to retry) right now."""
        return len(self._tasks)

    def schedule(self, provider: AnyProvider, message: SimMessage, plan: DeliveryPlan) -> None:
        # A message that failed never left the provider, so it has no "sent" step.
        if plan.intermediate and plan.status != "failed":
            self._later(plan.after / 2, provider, message, INTERMEDIATE, plan)
        else:
            self._later(plan.after, provider, message, plan.status, plan)

    def reset(self) -> None:
        """Cancel every pending report and callback (``POST /_sim/reset``)."""
        for timer in self._timers.values():
            timer.cancel()
        for task in self._tasks:
            task.cancel()
        self._timers.clear()
        self._due.clear()
        self._tasks.clear()

    async def close(self) -> None:
        """Cancel pending deliveries and close the HTTP client (app shutdown)."""
        tasks = list(self._tasks)
        self.reset()
        await asyncio.gather(*tasks, return_exceptions=True)
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
        if not final:
            # Chained, not scheduled up front: equal due times would not keep their order in the heap.
            self._later(plan.after / 2, provider, message, plan.status, plan)
        if report is not None and callback is not None:
            task = asyncio.get_running_loop().create_task(self._push(provider, message, report, callback, plan))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            # trust_env off: a developer's HTTP(S)_PROXY must not swallow callbacks to 127.0.0.1.
            self._client = httpx.AsyncClient(
                timeout=CALLBACK_TIMEOUT,
                trust_env=False,
                follow_redirects=False,
                limits=httpx.Limits(
                    max_connections=CALLBACK_CONCURRENCY, max_keepalive_connections=CALLBACK_CONCURRENCY
                ),
            )
        return self._client

    async def _push(
        self, provider: AnyProvider, message: SimMessage, report: dict[str, Any], callback: Callback, plan: DeliveryPlan
    ) -> None:
        journal = self._journal
        for attempt in range(1, plan.attempts + 1):
            async with self._slots:
                entry = journal.open("CALLBACK", callback.url, provider.name)
                entry.account = message.account
                entry.message_ids = [message.id]
                entry.messages = [report]
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
                    answer = await self._http().post(callback.url, content=callback.body, headers=callback.headers)
                    entry.status = answer.status_code
                    retry = answer.status_code >= 500 or answer.status_code == 429
                    outcome["result"] = "retry" if retry else "delivered" if answer.status_code < 400 else "refused"
                except httpx.HTTPError as exc:
                    outcome.update(result="retry", error=f"{type(exc).__name__}: {exc}".rstrip(": "))
                entry.duration_ms = (self._clock.monotonic() - started) * 1000
            if retry and attempt == plan.attempts:
                outcome["result"] = "gave_up"
            entry.outcome = outcome
            if not retry or attempt == plan.attempts:
                return
            await self._clock.sleep(plan.backoff * 2 ** (attempt - 1))
