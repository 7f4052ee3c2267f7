"""``HttpAdapter``: ``send`` and ``send_many`` written once for every provider adapter.

A provider module subclasses it with its wire: ``post`` (one request for a batch) and ``parse``
(one result per message); ``batch_key`` when some messages cannot share a request; ``poll`` and
``register_report_url`` when the provider offers them. The request and error mechanics are
``providers/http.py``.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Hashable, Sequence
from datetime import datetime, timedelta
from typing import ClassVar, Final

import httpx

from lynsms.gateway.providers import http
from lynsms.gateway.providers.base import Failed, Outbound, ProviderSettings, SendResult
from lynsms.gateway.providers.reports import Report

# Requests in flight at once for one ``send_many``: hides latency without tripping rate limits.
CONCURRENCY: Final = 16
# Hard reasons that belong to one recipient, not to the request: a batch failing with one of these
# is split until each failure is pinned on its own recipient (sender and body are shared, so
# invalid_sender, body_too_long, auth_failed... fail every part alike and are not split).
RECIPIENT_REASONS: Final = frozenset({"invalid_number", "unsubscribed"})
# Reconciliation looks this far before the attempt's time: the provider's clock and ours differ,
# and the attempt's time is rounded to the second.
CLOCK_SLACK: Final = timedelta(minutes=2)


class HttpAdapter(ABC):
    """``send`` and ``send_many`` for every provider: split the messages into requests (at most
    ``max_batch`` each, one per ``batch_key``), run them with bounded concurrency, and hand each a
    list of results in message order. A request that fails as a whole fails each of its messages
    with the same reason, unless the reason belongs to one recipient (``RECIPIENT_REASONS``)."""

    name: str
    # The most recipients one request of this provider may carry.
    limit: ClassVar[int]

    def __init__(self, settings: ProviderSettings, transport: httpx.AsyncBaseTransport) -> None:
        self.settings = settings
        self.wire = http.Wire(transport, settings.timeout)
        self.base_url = settings.base_url.rstrip("/")
        self.max_batch = max(1, min(settings.max_batch, self.limit))

    def credential(self, key: str) -> str:
        value = self.settings.credentials.get(key)
        if not value:
            raise ValueError(f"{self.name}: credentials need {key!r}")
        return value

    async def send(self, message: Outbound) -> SendResult:
        # send_many without its task per request: one message is one request.
        return (await self._request([message], asyncio.Semaphore(1)))[0]

    async def send_many(self, messages: Sequence[Outbound]) -> list[SendResult]:
        results: list[SendResult | None] = [None] * len(messages)
        gate = asyncio.Semaphore(CONCURRENCY)

        async def run(indices: list[int]) -> None:
            batch = [messages[i] for i in indices]
            for i, result in zip(indices, await self._request(batch, gate), strict=True):
                results[i] = result

        await asyncio.gather(*(run(indices) for indices in self._split(messages)))
        done = [r for r in results if r is not None]
        assert len(done) == len(messages)  # every index belongs to exactly one request
        return done

    def batch_key(self, message: Outbound) -> Hashable:
        """Messages with different keys never share a request (e.g. a batch-level callback URL)."""
        return None

    async def poll(self, provider_message_id: str) -> list[Report] | Failed | None:
        """A provider whose reports can be fetched overrides this (see ``fetch_reports``)."""
        return None

    async def register_report_url(self, url: str) -> Failed | None:
        """A provider that takes no callback URL per message overrides this."""
        return None

    async def find(self, messages: Sequence[Outbound], since: datetime) -> list[list[str]] | Failed | None:
        """A provider whose sent messages can be looked up overrides this (or ``find_one``)."""
        found: list[list[str]] = []
        for message in messages:
            one = await self.find_one(message, since)
            if one is None or isinstance(one, Failed):
                return one
            found.append(one)
        return found

    async def find_one(self, message: Outbound, since: datetime) -> list[str] | Failed | None:
        """``find`` for a provider that is asked one message at a time."""
        return None

    def _split(self, messages: Sequence[Outbound]) -> list[list[int]]:
        groups: dict[Hashable, list[int]] = {}
        for i, message in enumerate(messages):
            groups.setdefault(self.batch_key(message), []).append(i)
        return [g[at : at + self.max_batch] for g in groups.values() for at in range(0, len(g), self.max_batch)]

    async def _request(self, batch: list[Outbound], gate: asyncio.Semaphore) -> list[SendResult]:
        async with gate:
            reply = await self.post(batch)
        if isinstance(reply, Failed):
            if len(batch) > 1 and reply.reason in RECIPIENT_REASONS:
                # One recipient can sink a whole batch (Sinch refuses a batch holding one bad
                # number). The provider took none of it, so halving the batch until the culprits
                # stand alone is safe, and costs about 2 log2(n) requests per bad recipient.
                half = len(batch) // 2
                left, right = await asyncio.gather(self._request(batch[:half], gate), self._request(batch[half:], gate))
                return left + right
            return [reply] * len(batch)
        try:
            results = self.parse(reply, batch)
        except http.Malformed as exc:
            return [http.malformed(f"HTTP {reply.status} answer not understood: {exc}", reply.status)] * len(batch)
        if len(results) != len(batch):
            raise AssertionError(f"{self.name}.parse returned {len(results)} results for {len(batch)}")
        return results

    @abstractmethod
    async def post(self, batch: list[Outbound]) -> http.Reply | Failed:
        """Send one request carrying ``batch`` (at most ``max_batch`` messages, same ``batch_key``)."""

    @abstractmethod
    def parse(self, reply: http.Reply, batch: list[Outbound]) -> list[SendResult]:
        """One result per message of ``batch``, in order; raise ``http.Malformed`` for a wrong shape."""
