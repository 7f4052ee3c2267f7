"""Sending: store, walk the provider chain, record every attempt, settle each message.

The same routing loop serves one message and a thousand. Each round hands every still-pending
message to the next provider of the chain, in the provider's batch size (``send_many``) or, for
providers with one request per message, with bounded concurrency. Retryable failures stay
pending for the next round; acceptance and hard failures settle the message.

Durability is per provider request, not per round: its messages are recorded as handed to the
provider before it goes out, and its answer right after it arrives (both through
``Store.complete``, grouped per event-loop turn by ``_GroupCommit``), so a provider acceptance
is on disk before the worker that received it sends anything else.
A crash or a shutdown therefore leaves uncertain only the requests in flight at that moment
(``Store.interrupt`` makes their messages ``unconfirmed``); the rest are sent with their provider
id, failed, or never handed to anyone.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from functools import partial
from typing import Any, Final, NamedTuple

from lynsms.clock import SYSTEM_CLOCK, Clock
from lynsms.gateway.config import GatewayConfig
from lynsms.gateway.models import Attempt, Message, MessageError, new_message_id, now_iso
from lynsms.gateway.pricing import CURRENCY, PriceTable, country_of
from lynsms.gateway.providers.base import Accepted, Failed, Outbound, ProviderAdapter, SendResult
from lynsms.gateway.routing import CircuitBreaker
from lynsms.gateway.segmentation import Segmentation, segment
from lynsms.gateway.store import Completion, Dispatch, Store
from lynsms.gateway.store.inbound import TwoWayRows
from lynsms.gateway.store.messages import KeyRef
from lynsms.gateway.validation import BulkRequest, Context, QuoteRequest, SendRequest, body_problems, e164_problem

log = logging.getLogger("lynsms.gateway")

# Requests in flight to one provider during a bulk: enough to hide latency, few enough not to
# trip the provider's own rate limits.
SINGLE_CONCURRENCY: Final = 16
BATCH_CONCURRENCY: Final = 4


class _GroupCommit:
    """Routing's writes, committed together at the end of the event-loop turn that made them.

    Answers that arrive together, and the hand-over of the request a worker sends next, share one
    transaction: a file store writes every commit's pages to its WAL, and one commit per answer
    and per hand-over made a 1,000-message Twilio bulk about twice as slow. A hand-over is
    awaited, so it is on disk before its request goes out; an answer is not awaited (its
    messages stay marked as handed over until it is on disk, so a crash in between leaves them
    ``unconfirmed``, never ``failed``), and ``settled`` waits for all of it."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.new: tuple[Sequence[Message], str | None, KeyRef | None] | None = None
        self.completions: list[Completion] = []
        self.dispatches: list[Dispatch] = []
        self.pending: asyncio.Future[None] | None = None

    def inserting(self, messages: Sequence[Message], api_key: str | None, key: KeyRef | None) -> None:
        """New messages, stored with the first hand-overs (a single send: two commits in all)."""
        self.new = (messages, api_key, key)
        self._schedule()

    def answered(self, completions: Sequence[Completion]) -> None:
        self.completions += completions
        self._schedule()

    async def handing_over(self, dispatches: Sequence[Dispatch]) -> None:
        self.dispatches += dispatches
        await asyncio.shield(self._schedule())

    async def settled(self) -> None:
        """Everything queued so far is on disk."""
        if self.pending is not None:
            await asyncio.shield(self.pending)

    def flush(self) -> None:
        """Write what is queued now (also when routing is cancelled: answers are never lost)."""
        pending, self.pending = self.pending, None
        new, self.new = self.new, None
        completions, self.completions = self.completions, []
        dispatches, self.dispatches = self.dispatches, []
        try:
            if new is not None:  # the first flush: nothing can have been answered yet
                assert not completions
                self.store.insert(*new, dispatches=dispatches)
            elif completions or dispatches:
                self.store.complete(completions, dispatches=dispatches)
        except Exception as exc:
            if pending is not None:
                pending.set_exception(exc)
            else:
                raise
        else:
            if pending is not None:
                pending.set_result(None)

    def _schedule(self) -> asyncio.Future[None]:
        if self.pending is None:
            loop = asyncio.get_running_loop()
            self.pending = loop.create_future()
            loop.call_soon(self.flush)
        return self.pending


class Parked(Exception):
    """A shutdown cancelled routing; ``messages`` are the request's messages as parked."""

    def __init__(self, messages: Sequence[Message]) -> None:
        super().__init__(f"routing of {len(messages)} message(s) was cut short")
        self.messages = messages


class _Result(NamedTuple):  # a tuple: a bulk makes one per recipient, and a dataclass costs ~3x more
    result: SendResult
    duration_ms: int
    at: str


class Gateway:
    def __init__(
        self,
        config: GatewayConfig,
        store: Store,
        adapters: Mapping[str, ProviderAdapter],
        breaker: CircuitBreaker,
        clock: Clock = SYSTEM_CLOCK,
        report_urls: Mapping[str, str] | None = None,
    ) -> None:
        self.clock = clock
        self.config = config
        self.store = store
        self.adapters = adapters
        self.breaker = breaker
        self.prices = PriceTable.from_config(config.providers)
        self._costs: dict[tuple[str, str | None, int], Decimal] = {}
        self.context = Context(
            providers=tuple(config.providers),
            routes={route_id: route.chain for route_id, route in config.routes.items()},
            default_chain=tuple(config.default_chain),
        )
        # Inbound messages, the opt-out list (checked on every send) and cached lookups.
        self.two_way = TwoWayRows(store.db, store.outbox, clock)
        # Where each provider is asked to send its delivery reports, token included
        # (``delivery.callback_auth``); none without a public URL.
        self._callbacks = dict(report_urls or {})

    def chain_for(self, provider: str | None, route_id: int | None, body: str = "") -> tuple[str, ...]:
        """The providers to try, without those that would refuse or truncate ``body`` (validation
        has made sure at least one is left)."""
        chain = self.context.chain(provider, route_id)
        unfit = body_problems(body, chain)
        return tuple(name for name in chain if name not in unfit) if unfit else chain

    async def send(self, request: SendRequest, api_key: str | None = None, key: KeyRef | None = None) -> Message:
        """The stored message after routing: ``sent``, or ``failed`` with its error and attempts.
        ``key``: the idempotency key it answers, stored with it."""
        message = self._new(request.to, request, segment(request.body))
        if request.to in self.two_way.opted_out:
            # Stored as failed, and no provider hears of it.
            failed = replace(message, status="failed", error=_opted_out(request.to))
            return (await self._route_or_park([failed], [], (), api_key, key)).get(failed.id, failed)
        # api_key: the key's name decides where webhooks go.
        routed = await self._route_or_park(
            [message], [message], self.chain_for(request.provider, request.route_id, request.body), api_key, key
        )
        return routed[message.id]

    async def bulk(
        self,
        request: BulkRequest,
        api_key: str | None = None,
        key: KeyRef | None = None,
        unreachable: Collection[str] = (),
    ) -> list[Message]:
        """One stored message per recipient, in request order. Invalid numbers, repeats of an
        earlier recipient, opted-out numbers and ``unreachable`` ones (a lookup said so) become
        failed messages without being sent."""
        seg = segment(request.body)
        messages: list[Message] = []
        seen: set[str] = set()
        opted_out = self.two_way.opted_out
        for to in request.recipients:
            message = self._new(to, request, seg)
            problem = e164_problem(to)
            if problem:
                error = MessageError("invalid_recipient", f"{to!r} {problem}")
            elif to in seen:
                error = MessageError("duplicate_recipient", f"{to} appears earlier in recipients; it is sent once")
            elif to in opted_out:
                error = _opted_out(to)
            elif to in unreachable:
                error = MessageError(
                    "unreachable_recipient", f"a number lookup found {to} invalid, unreachable or a landline; not sent"
                )
            else:
                error = None
            seen.add(to)
            messages.append(replace(message, status="failed", error=error) if error else message)
        queued = [m for m in messages if m.status == "queued"]
        routed = await self._route_or_park(
            messages, queued, self.chain_for(request.provider, request.route_id, request.body), api_key, key
        )
        return [routed.get(m.id, m) for m in messages]

    async def reply(self, to: str, sender: str, body: str, provider: str) -> Message:
        """Send ``body`` to ``to`` through ``provider`` only (an answer goes back the way the
        question came: the same provider and number)."""
        # Built here, not parsed from a client: nothing to validate.
        request = SendRequest.model_construct(to=to, sender=sender, body=body, provider=provider)
        message = self._new(to, request, segment(body))
        routed = await self._route_or_park([message], [message], (provider,), None, None)
        return routed[message.id]

    async def _route_or_park(
        self,
        new: Sequence[Message],
        messages: Sequence[Message],
        chain: Sequence[str],
        api_key: str | None,
        key: KeyRef | None,
    ) -> dict[str, Message]:
        """Store ``new`` (committed with the first hand-overs, before any request goes out) and
        ``_route`` those of them in ``messages``. Cancelled (a shutdown that could not wait for
        it), it parks what is left first: messages whose provider request was cut off become
        ``unconfirmed``, the ones not yet handed to a provider fail with ``interrupted``. Then
        ``Parked`` says so, with every message as stored, for the caller's answer."""
        commits = _GroupCommit(self.store)
        commits.inserting(new, api_key, key)
        try:
            routed = await self._route(messages, chain, commits)
            await commits.settled()  # the messages are stored even when none was routed
            return routed
        except asyncio.CancelledError:
            commits.flush()  # answers already received are recorded, not left uncertain
            ids = [m.id for m in new]
            self.store.interrupt(ids)
            log.warning("shutdown cut routing short; parked %d message(s)", len(ids))
            raise Parked(self.store.messages(ids)) from None

    def quote(self, request: QuoteRequest) -> dict[str, Any]:
        seg = segment(request.body)
        country = country_of(request.to) if request.to else None
        return {
            "object": "quote",
            "to": request.to,
            "country": country,
            "characters": len(request.body),
            "encoding": seg.encoding,
            "segments": seg.segments,
            "units": seg.units,
            "parts": list(seg.parts),
            "currency": CURRENCY,
            "providers": [
                {
                    "provider": name,
                    "price_per_segment": float(self.prices.price(name, country)),
                    "cost": float(self.prices.cost(name, country, seg.segments)),
                }
                for name in self.config.providers
            ],
        }

    def health(self) -> dict[str, Any]:
        return {
            "status": "ok",
            "providers": {
                name: {
                    "circuit": snap.state,
                    "consecutive_failures": snap.consecutive_failures,
                    "retry_in_seconds": snap.retry_in_seconds,
                }
                for name in self.config.providers
                for snap in [self.breaker.snapshot(name)]
            },
        }

    def _new(self, to: str, request: SendRequest | BulkRequest, seg: Segmentation) -> Message:
        now = now_iso(self.clock)
        return Message(
            id=new_message_id(),
            to=to,
            sender=request.sender,
            body=request.body,
            status="queued",
            segments=seg.segments,
            encoding=seg.encoding,
            created_at=now,
            updated_at=now,
            reference=request.reference,
            route_id=request.route_id,
            currency=CURRENCY,
        )

    def _outbound(self, message: Message, provider: str) -> Outbound:
        callback = self._callbacks.get(provider)
        return Outbound(
            message_id=message.id,
            to=message.to,
            sender=message.sender,
            body=message.body,
            reference=message.reference,
            status_callback_url=callback,
        )

    async def _route(
        self, messages: Sequence[Message], chain: Sequence[str], commits: _GroupCommit
    ) -> dict[str, Message]:
        """Route ``messages`` down ``chain``; each routed message as committed, by id.

        Built from what each request's answer committed rather than read back from the store:
        the same values, without a second query, and a bulk's items report what routing did even
        when a delivery report has moved an early item on while later requests were running."""
        pending = list(messages)
        routed: dict[str, Message] = {}
        failures: dict[str, list[str]] = {m.id: [] for m in pending}
        countries = {m.id: country_of(m.to) for m in pending}
        if not pending:
            return routed
        # The generator claims a provider (and a half-open probe slot) only when asked for the
        # next one, so breaking out early never strands a probe.
        for provider in self.breaker.walk(chain):
            retry: dict[str, Message] = {}
            request = partial(
                self._request,
                provider,
                commits=commits,
                countries=countries,
                failures=failures,
                routed=routed,
                retry=retry,
            )
            await self._dispatch(provider, pending, request)
            await commits.settled()
            pending = [retry[m.id] for m in pending if m.id in retry]  # request order, for the next round
            if not pending:
                return routed
        exhausted = [
            Completion(
                message_id=m.id,
                attempts=m.attempt_log,
                status="failed",
                at=now_iso(self.clock),
                error=MessageError(
                    "routing_exhausted",
                    "every provider in the chain failed with a retryable error (" + "; ".join(failures[m.id]) + ")",
                ),
            )
            for m in pending
        ]
        commits.answered(exhausted)
        await commits.settled()
        for message, completion in zip(pending, exhausted, strict=True):
            routed[message.id] = _applied(message, completion)
        return routed

    async def _request(
        self,
        provider: str,
        batch: Sequence[Message],
        *,
        commits: _GroupCommit,
        countries: Mapping[str, str | None],
        failures: dict[str, list[str]],
        routed: dict[str, Message],
        retry: dict[str, Message],
    ) -> None:
        """One provider request for ``batch``; each message lands in ``routed`` (settled) or
        ``retry`` (for the next provider). Its hand-over is on disk before the request goes out
        and its answer is committed right after it arrives: a crash in between leaves exactly
        this batch uncertain, nothing else."""
        costs = [self._cost(provider, countries[m.id], m.segments) for m in batch]
        at = now_iso(self.clock)
        await commits.handing_over([Dispatch(m.id, provider, at, c) for m, c in zip(batch, costs, strict=True)])
        results = await self._call(provider, [self._outbound(m, provider) for m in batch])
        now = now_iso(self.clock)
        completions: list[Completion] = []
        for message, outcome, cost in zip(batch, results, costs, strict=True):
            completion = self._settle(provider, message, outcome, cost, now)
            if completion.status is None:
                failures[message.id].append(f"{provider}: {completion.attempts[-1].reason}")
            completions.append(completion)
        commits.answered(completions)
        for message, completion in zip(batch, completions, strict=True):
            updated = _applied(message, completion)
            if completion.status is None:
                retry[updated.id] = updated
            else:
                routed[updated.id] = updated

    def _settle(self, provider: str, message: Message, outcome: _Result, cost: Decimal, now: str) -> Completion:
        result = outcome.result
        if isinstance(result, Accepted):
            self.breaker.record(provider, "accepted")
            attempt = Attempt(
                provider=provider,
                outcome="accepted",
                at=outcome.at,
                duration_ms=outcome.duration_ms,
                provider_message_id=result.provider_message_id,
            )
            return Completion(
                message_id=message.id,
                attempts=(*message.attempt_log, attempt),
                status="sent",
                provider=provider,
                provider_message_id=result.provider_message_id,
                cost=cost,
                at=now,
            )
        self.breaker.record(provider, result.kind)
        attempt = Attempt(
            provider=provider,
            outcome=result.kind,
            at=outcome.at,
            duration_ms=outcome.duration_ms,
            reason=result.reason,
            message=result.message,
            provider_code=result.provider_code,
            http_status=result.http_status,
        )
        attempts = (*message.attempt_log, attempt)
        if result.kind == "retryable":
            return Completion(message_id=message.id, attempts=attempts, at=now)
        error = MessageError(
            "provider_rejected",
            f"{provider} rejected the message: {result.message}",
            provider=provider,
            reason=result.reason,
            provider_code=result.provider_code,
        )
        return Completion(message_id=message.id, attempts=attempts, status="failed", error=error, at=now)

    def _cost(self, provider: str, country: str | None, segments: int) -> Decimal:
        # Few distinct keys (providers x countries x 1..11 segments); a bulk asks 1,000 times.
        key = (provider, country, segments)
        cost = self._costs.get(key)
        if cost is None:
            cost = self._costs[key] = self.prices.cost(provider, country, segments)
        return cost

    async def _dispatch(
        self, provider: str, pending: Sequence[Message], request: Callable[[Sequence[Message]], Awaitable[None]]
    ) -> None:
        """Run ``request`` for each provider request ``pending`` needs (one per message for a
        provider without batches, else chunks of its batch size) on a few workers. A worker
        hands over its next request in the same turn as it records the previous answer, so the
        two share a commit."""
        size = max(1, self.adapters[provider].max_batch)
        batches = iter([pending[i : i + size] for i in range(0, len(pending), size)])
        workers = min(SINGLE_CONCURRENCY if size == 1 else BATCH_CONCURRENCY, -(-len(pending) // size))

        async def worker() -> None:
            for batch in batches:  # shared: each batch is taken by exactly one worker
                await request(batch)

        if workers == 1:  # a single send: no extra task
            await worker()
            return
        await asyncio.gather(*(worker() for _ in range(workers)))

    async def _call(self, provider: str, outbound: Sequence[Outbound]) -> list[_Result]:
        """One provider request for ``outbound`` (one message, or one batch)."""
        adapter = self.adapters[provider]
        if len(outbound) == 1:
            return await _timed(self.clock, provider, lambda: _as_list(adapter.send(outbound[0])), 1)
        return await _timed(self.clock, provider, lambda: adapter.send_many(outbound), len(outbound))


def _opted_out(to: str) -> MessageError:
    return MessageError("recipient_opted_out", f"{to} opted out (replied STOP); nothing was sent")


def _applied(message: Message, completion: Completion) -> Message:
    """``message`` after ``Store.complete(..)`` recorded ``completion``."""
    attempt_log = completion.attempts
    if completion.status is None:
        return replace(message, attempt_log=attempt_log)
    now = completion.at or message.updated_at
    return replace(
        message,
        status=completion.status,
        updated_at=now,
        provider=completion.provider,
        provider_message_id=completion.provider_message_id,
        cost=completion.cost,
        error=completion.error,
        sent_at=now if completion.status == "sent" else None,
        attempt_log=attempt_log,
    )


async def _as_list(result: Awaitable[SendResult]) -> list[SendResult]:
    return [await result]


async def _timed(
    clock: Clock, provider: str, call: Callable[[], Awaitable[list[SendResult]]], expected: int
) -> list[_Result]:
    """Run one provider request; an adapter that raises or miscounts counts as a retryable failure,
    so a bug in one adapter moves traffic to the next provider instead of failing the request."""
    at = now_iso(clock)
    started = time.perf_counter()  # the request's real duration, whatever the clock says
    try:
        results: list[SendResult] = list(await call())
        if len(results) != expected:
            reason = f"adapter returned {len(results)} results for {expected} messages"
            results = [Failed(kind="retryable", reason="malformed_response", message=reason)] * expected
    except Exception as exc:
        log.exception("%s adapter raised", provider)
        failure = Failed(kind="retryable", reason="adapter_error", message=f"{type(exc).__name__}: {exc}")
        results = [failure] * expected
    duration_ms = round((time.perf_counter() - started) * 1000)
    return [_Result(result=r, duration_ms=duration_ms, at=at) for r in results]
