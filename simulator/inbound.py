"""Handsets that reply: inbound SMS pushed to the URL each provider was told, and kept for pulling.

    POST /_sim/inbound ──> Inbound.receive ── finds the registration (provider, account, number)
                              ├── stores the InboundMessage (pull APIs read it)
                              └── push task ── the provider's own webhook (``providers/<name>/inbound.py``)
                                                ├── 2xx: delivered
                                                └── 5xx/429/unreachable: retried on the provider's schedule

Registrations come from the providers' own APIs where they have one (Twilio IncomingPhoneNumbers
``SmsUrl``, ClickSend inbound automation rules) or from ``POST /_sim/inbound/urls`` (any provider,
per account). They are configuration, like a startup scenario: ``POST /_sim/reset`` forgets the
inbound messages and pending pushes but keeps the registrations (``DELETE /_sim/inbound/urls``
clears them). Scenarios script replies (``replies:``: a handset answers some time after a message
to it is delivered) and push failures (``inbound: {fail: N}``); see ``scenario.twoway``.

Every push attempt is a journal entry (method ``INBOUND``), so tests and the console see what went out.
"""

from __future__ import annotations

import asyncio
import importlib
import itertools
import logging
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any, Final, Protocol

import httpx
from starlette.routing import Route

from lynsms.clock import Clock, utc_now
from lynsms.gateway.providers.names import PROVIDER_NAMES, ProviderName
from lynsms.simulator.http import outbound_client
from lynsms.simulator.messages import SimMessage
from lynsms.simulator.providers.base import Callback

if TYPE_CHECKING:
    from lynsms.simulator.engine import Engine
    from lynsms.simulator.lookup import LookupRule
    from lynsms.simulator.providers.base import Provider
    from lynsms.simulator.scenario.twoway import InboundFaults, Reply
    from lynsms.simulator.state import SimState

log = logging.getLogger("lynsms.simulator")

MAX_INBOUND: Final = 10_000  # kept for the pull APIs and the console; the oldest go first
PUSH_TIMEOUT: Final = 5.0
PUSH_CONCURRENCY: Final = 32  # pushes in flight at once; more wait for a connection


@dataclass(frozen=True, slots=True)
class Retry:
    """How a provider retries an inbound push that failed: ``attempts`` in all, waiting ``backoff``
    seconds before the second, doubled before each later one; ``on_status`` says which answers
    count as failures worth retrying (connection errors and timeouts always are)."""

    attempts: int
    backoff: float
    on_status: Callable[[int], bool] = lambda status: status >= 500 or status == 429


@dataclass(slots=True)
class Registration:
    """Where a provider pushes inbound messages for ``account`` (None: any) to ``number`` (None: any)."""

    id: str
    provider: ProviderName
    url: str
    account: str | None = None
    number: str | None = None
    secret: str = ""  # what signs the push (Twilio: the account's auth token)
    source: str = "control"  # control | twilio:IncomingPhoneNumbers | clicksend:automations
    webhook_type: str = "post"  # ClickSend rules push a form ("post") or JSON ("json")

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "provider": self.provider,
            "url": self.url,
            "account": self.account,
            "number": self.number,
            "source": self.source,
            "signed": bool(self.secret),
        }


@dataclass(slots=True)
class InboundMessage:
    id: str  # in the provider's id format
    provider: ProviderName
    account: str
    sender: str  # the handset, E.164
    to: str  # the account's number (or short code / sender id)
    body: str
    received_at: datetime
    segments: int
    url: str | None
    delivery: str = "queued"  # queued | delivered | refused | gave_up
    attempts: list[dict[str, Any]] = field(default_factory=list)
    pulled: bool = False  # read: Infobip hands each message out once; ClickSend lists it until marked read

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "provider": self.provider,
            "account": self.account,
            "from": self.sender,
            "to": self.to,
            "body": self.body,
            "segments": self.segments,
            "received_at": self.received_at.isoformat(),
            "url": self.url,
            "delivery": self.delivery,
            "attempts": self.attempts,
        }


class InboundWire(Protocol):
    """What ``providers/<name>/inbound.py`` exports as ``WIRE``: the provider's inbound format."""

    retry: Retry

    def message_id(self, sim: Inbound) -> str: ...

    def push(self, message: InboundMessage, registration: Registration) -> Callback: ...

    def routes(self, provider: Provider[Any], sim: Inbound) -> list[Route]: ...


@cache
def wire(name: ProviderName) -> InboundWire:
    found: InboundWire = importlib.import_module(f"lynsms.simulator.providers.{name}.inbound").WIRE
    return found


class NoInboundUrl(LookupError):
    pass


class Inbound:
    """The inbound side of one simulator: registrations, messages, pending pushes."""

    def __init__(self, state: SimState, clock: Clock, engine: Engine) -> None:
        self.state = state
        self.clock = clock
        self.engine = engine
        self.registrations: list[Registration] = []
        # Provider resources behind registrations (Twilio numbers, ClickSend rules), by kind then id.
        self.resources: dict[str, dict[str, dict[str, Any]]] = {}
        self.messages: deque[InboundMessage] = deque(maxlen=MAX_INBOUND)
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()
        self._timers: list[Any] = []
        self._client: httpx.AsyncClient | None = None
        self.listeners: list[Callable[[InboundMessage], None]] = []  # e.g. the console's event stream

    # ---- registrations -------------------------------------------------------------------------

    def register(
        self,
        provider: ProviderName,
        url: str,
        *,
        account: str | None = None,
        number: str | None = None,
        secret: str = "",
        source: str = "control",
        registration_id: str | None = None,
        webhook_type: str = "post",
    ) -> Registration:
        """Add (or replace: same provider, account and number) where inbound messages go."""
        self.registrations = [
            r
            for r in self.registrations
            if not (r.provider == provider and r.account == account and _same(r.number, number))
        ]
        found = Registration(
            registration_id or f"ir_{next(self._ids)}", provider, url, account, number, secret, source, webhook_type
        )
        self.registrations.append(found)
        return found

    def unregister(self, registration_id: str) -> bool:
        before = len(self.registrations)
        self.registrations = [r for r in self.registrations if r.id != registration_id]
        return len(self.registrations) < before

    def clear_registrations(self, provider: str | None = None) -> int:
        """Forget the registrations (of one provider, or all) and the provider resources behind them
        (Twilio numbers, ClickSend rules), so the provider's API never lists a rule that no longer routes."""
        before = len(self.registrations)
        self.registrations = [r for r in self.registrations if provider is not None and r.provider != provider]
        for kind in [k for k in self.resources if provider is None or k.startswith(f"{provider}:")]:
            del self.resources[kind]
        return before - len(self.registrations)

    def registration_for(self, provider: str, account: str | None, to: str) -> Registration | None:
        """The most specific registration: the number's own, else the account's, else any."""
        candidates = [
            r
            for r in self.registrations
            if r.provider == provider and (account is None or r.account in (None, account))
        ]
        ranked = sorted(candidates, key=lambda r: (r.number is None, r.account is None))
        for registration in ranked:
            if registration.number is None or _same(registration.number, to):
                return registration
        return None

    # ---- messages ------------------------------------------------------------------------------

    def receive(self, provider: Provider[Any], sender: str, to: str, body: str, account: str | None) -> InboundMessage:
        """A handset sends ``body`` from ``sender`` to ``to``: store it and push it. Raises
        ``NoInboundUrl`` when nobody told the provider where its inbound messages go."""
        from lynsms.gateway.segmentation import segment

        registration = self.registration_for(provider.name, account, to)
        if registration is None:
            raise NoInboundUrl(
                f"no inbound URL is registered for {provider.name}" + (f" account {account}" if account else "")
            )
        wire_format = wire(provider.name)
        message = InboundMessage(
            id=wire_format.message_id(self),
            provider=provider.name,
            account=account or registration.account or "",
            sender=sender,
            to=to,
            body=body,
            received_at=utc_now(self.clock),
            segments=segment(body).segments,
            url=registration.url,
        )
        self.messages.append(message)
        for listener in self.listeners:
            listener(message)
        task = asyncio.get_running_loop().create_task(self._push(provider.name, message, registration))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return message

    def of(self, provider: str, account: str | None = None) -> Iterator[InboundMessage]:
        """``provider``'s inbound messages, oldest first; with ``account``, only those it may read."""
        return (m for m in self.messages if m.provider == provider and (account is None or m.account in ("", account)))

    # ---- scripted replies ----------------------------------------------------------------------

    def delivered(self, provider: Provider[Any], message: SimMessage) -> None:
        """A message reached its handset: any scripted reply is scheduled."""
        for reply in self._replies():
            if reply.matches(message.to):
                sender = message.to if message.to.startswith("+") else "+" + message.to
                to = message.submission.sender or ""

                def answer(reply: Reply = reply, sender: str = sender, to: str = to) -> None:
                    try:
                        self.receive(provider, sender, to, reply.body, message.account)
                    except NoInboundUrl:
                        log.warning("%s: scripted reply from %s dropped: no inbound URL", provider.name, sender)

                self._timers.append(self.clock.call_later(reply.after, answer))
                return

    def lookup_rules(self) -> list[LookupRule]:
        return [rule for loaded in self.engine.loaded() for rule in loaded.scenario.twoway.lookups]

    def _replies(self) -> list[Reply]:
        return [reply for loaded in self.engine.loaded() for reply in loaded.scenario.twoway.replies]

    def _faults(self) -> InboundFaults | None:
        return next(
            (loaded.scenario.twoway.inbound for loaded in self.engine.loaded() if loaded.scenario.twoway.inbound), None
        )

    # ---- lifecycle -----------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget messages and pending pushes; registrations stay (see the module docstring)."""
        for task in self._tasks:
            task.cancel()
        for timer in self._timers:
            timer.cancel()
        self._tasks.clear()
        self._timers.clear()
        self.messages.clear()

    async def close(self) -> None:
        tasks = list(self._tasks)
        self.reset()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # ---- pushing -------------------------------------------------------------------------------

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = outbound_client(PUSH_CONCURRENCY, PUSH_TIMEOUT)
        return self._client

    async def _push(self, provider: ProviderName, message: InboundMessage, registration: Registration) -> None:
        wire_format = wire(provider)
        retry = wire_format.retry
        faults = self._faults()
        backoff = faults.backoff if faults is not None and faults.backoff is not None else retry.backoff
        callback = wire_format.push(message, registration)
        journal = self.state.journal
        for attempt in range(1, retry.attempts + 1):
            entry = journal.open("INBOUND", callback.url, provider)
            entry.account = message.account
            entry.message_ids = [message.id]
            entry.messages = [message.to_json() | {"wire": callback.body.decode("utf-8", "replace")}]
            outcome: dict[str, Any] = {"kind": "inbound", "attempt": attempt, "attempts": retry.attempts}
            started = self.clock.monotonic()
            status: int | None = None
            retryable = True
            if faults is not None and attempt <= faults.fail:
                status = faults.status
                outcome["scripted"] = f"attempt {attempt} of {faults.fail} scripted to fail"
                retryable = retry.on_status(status)
            else:
                try:
                    answer = await self._http().post(callback.url, content=callback.body, headers=callback.headers)
                    status = answer.status_code
                    retryable = retry.on_status(status)
                except httpx.HTTPError as exc:
                    outcome["error"] = f"{type(exc).__name__}: {exc}".rstrip(": ")
            entry.status = status
            entry.duration_ms = (self.clock.monotonic() - started) * 1000
            ok = status is not None and 200 <= status < 300
            result = (
                "delivered"
                if ok
                else "retry"
                if retryable and attempt < retry.attempts
                else "gave_up"
                if retryable
                else "refused"
            )
            outcome["result"] = result
            entry.outcome = outcome
            message.attempts.append(
                {"attempt": attempt, "status": status, "result": result, "at": utc_now(self.clock).isoformat()}
            )
            if result != "retry":
                message.delivery = result
                return
            await self.clock.sleep(backoff * 2 ** (attempt - 1))


def routes(providers: dict[ProviderName, Provider[Any]], sim: Inbound) -> list[Route]:
    """Each provider's inbound endpoints: its pull API and its way of registering a URL."""
    found: list[Route] = []
    for name in PROVIDER_NAMES:
        found.extend(wire(name).routes(providers[name], sim))
    return found


def _same(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return a is b
    return a.lstrip("+") == b.lstrip("+")
