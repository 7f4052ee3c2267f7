"""Sending: store, walk the provider chain, record every attempt, settle each message.

The same routing loop serves one message and a thousand. Each round hands every still-pending
message to the next provider of the chain, in the provider's batch size (``send_many``) or, for
providers with one request per message, with bounded concurrency. Retryable failures stay
pending for the next round; acceptance and hard failures settle the message. Each round is one
store transaction, so a crash leaves every message sent with its provider id, failed, or queued
(and the next start marks queued ones ``interrupted``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any, Final, NamedTuple

from lynsms.clock import SYSTEM_CLOCK, Clock
from lynsms.gateway.config import GatewayConfig
from lynsms.gateway.models import Attempt, Message, MessageError, new_message_id, now_iso
from lynsms.gateway.pricing import CURRENCY, PriceTable, country_of
from lynsms.gateway.providers.base import Accepted, Failed, Outbound, ProviderAdapter, SendResult
from lynsms.gateway.routing import CircuitBreaker, compute_chain
from lynsms.gateway.segmentation import Segmentation, segment
from lynsms.gateway.store import Completion, Store
from lynsms.gateway.validation import BulkRequest, Context, QuoteRequest, SendRequest, e164_problem

log = logging.getLogger("lynsms.gateway")

# Requests in flight to one provider during a bulk: enough to hide latency, few enough not to
# trip the provider's own rate limits.
SINGLE_CONCURRENCY: Final = 16
BATCH_CONCURRENCY: Final = 4


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
        self.context = Context(providers=tuple(config.providers), routes=tuple(config.routes))
        # Where each provider is asked to send its delivery reports, token included
        # (``delivery.callback_auth``); none without a public URL.
        self._callbacks = dict(report_urls or {})

    def chain_for(self, provider: str | None, route_id: int | None) -> tuple[str, ...]:
        base = self.config.routes[route_id].chain if route_id is not None else self.config.default_chain
        return compute_chain(provider, base)

    async def send(self, request: SendRequest, api_key: str | None = None) -> Message:
        """The stored message after routing: ``sent``, or ``failed`` with its error and attempts."""
        message = self._new(request.to, request, segment(request.body))
        self.store.insert([message], api_key=api_key)  # the key's name decides where webhooks go
        routed = await self._route([message], self.chain_for(request.provider, request.route_id))
        return routed[message.id]

    async def bulk(self, request: BulkRequest, api_key: str | None = None) -> list[Message]:
        """One stored message per recipient, in request order. Invalid numbers and repeats of an
        earlier recipient become failed messages without being sent."""
        seg = segment(request.body)
        messages: list[Message] = []
        seen: set[str] = set()
        for to in request.recipients:
            message = self._new(to, request, seg)
            problem = e164_problem(to)
            if problem:
                error = MessageError("invalid_recipient", f"{to!r} {problem}")
            elif to in seen:
                error = MessageError("duplicate_recipient", f"{to} appears earlier in recipients; it is sent once")
            else:
                error = None
            seen.add(to)
            messages.append(replace(message, status="failed", error=error) if error else message)
        self.store.insert(messages, api_key=api_key)
        routed = await self._route(
            [m for m in messages if m.status == "queued"], self.chain_for(request.provider, request.route_id)
        )
        return [routed.get(m.id, m) for m in messages]

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

    async def _route(self, messages: Sequence[Message], chain: Sequence[str]) -> dict[str, Message]:
        """Route ``messages`` down ``chain``; each routed message as committed, by id.

        Built from what each round committed rather than read back from the store: the same
        values, without a second query, and a bulk's items report what routing did even when a
        delivery report has moved an early item on while later rounds were still running."""
        pending = list(messages)
        routed: dict[str, Message] = {}
        failures: dict[str, list[str]] = {m.id: [] for m in pending}
        countries = {m.id: country_of(m.to) for m in pending}
        if not pending:
            return routed
        # The generator claims a provider (and a half-open probe slot) only when asked for the
        # next one, so breaking out early never strands a probe.
        for provider in self.breaker.walk(chain):
            results = await self._dispatch(provider, [self._outbound(m, provider) for m in pending])
            completions: list[Completion] = []
            still_pending: list[Message] = []
            for message, outcome in zip(pending, results, strict=True):
                completion = self._settle(provider, message, outcome, countries[message.id])
                if completion.status is None:
                    failures[message.id].append(f"{provider}: {completion.attempts[-1].reason}")
                completions.append(completion)
            now = self.store.complete(completions)
            for message, completion in zip(pending, completions, strict=True):
                updated = _applied(message, completion, now)
                if completion.status is None:
                    still_pending.append(updated)
                else:
                    routed[updated.id] = updated
            pending = still_pending
            if not pending:
                return routed
        exhausted = [
            Completion(
                message_id=m.id,
                attempts=m.attempt_log,
                status="failed",
                error=MessageError(
                    "routing_exhausted",
                    "every provider in the chain failed with a retryable error (" + "; ".join(failures[m.id]) + ")",
                ),
            )
            for m in pending
        ]
        now = self.store.complete(exhausted)
        for message, completion in zip(pending, exhausted, strict=True):
            routed[message.id] = _applied(message, completion, now)
        return routed

    def _settle(self, provider: str, message: Message, outcome: _Result, country: str | None) -> Completion:
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
                cost=self._cost(provider, country, message.segments),
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
            return Completion(message_id=message.id, attempts=attempts)
        error = MessageError(
            "provider_rejected",
            f"{provider} rejected the message: {result.message}",
            provider=provider,
            reason=result.reason,
            provider_code=result.provider_code,
        )
        return Completion(message_id=message.id, attempts=attempts, status="failed", error=error)

    def _cost(self, provider: str, country: str | None, segments: int) -> Decimal:
        # Few distinct keys (providers x countries x 1..11 segments); a bulk asks 1,000 times.
        key = (provider, country, segments)
        cost = self._costs.get(key)
        if cost is None:
            cost = self._costs[key] = self.prices.cost(provider, country, segments)
        return cost

    async def _dispatch(self, provider: str, outbound: Sequence[Outbound]) -> list[_Result]:
        adapter = self.adapters[provider]
        size = max(1, adapter.max_batch)
        if len(outbound) == 1:  # a single send: no semaphore, no extra task
            return await _timed(self.clock, provider, lambda: _as_list(adapter.send(outbound[0])), 1)
        if size == 1:
            limit = asyncio.Semaphore(SINGLE_CONCURRENCY)

            async def one(message: Outbound) -> list[_Result]:
                async with limit:
                    return await _timed(self.clock, provider, lambda: _as_list(adapter.send(message)), 1)

            batches = await asyncio.gather(*(one(m) for m in outbound))
        else:
            limit = asyncio.Semaphore(BATCH_CONCURRENCY)

            async def many(chunk: Sequence[Outbound]) -> list[_Result]:
                async with limit:
                    return await _timed(self.clock, provider, lambda: adapter.send_many(chunk), len(chunk))

            chunks = [outbound[i : i + size] for i in range(0, len(outbound), size)]
            batches = await asyncio.gather(*(many(c) for c in chunks))
        return [result for batch in batches for result in batch]


def _applied(message: Message, completion: Completion, now: str) -> Message:
    """``message`` after ``Store.complete(..)`` recorded ``completion`` at ``now``."""
    attempt_log = completion.attempts
    if completion.status is None:
        return replace(message, attempt_log=attempt_log)
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
