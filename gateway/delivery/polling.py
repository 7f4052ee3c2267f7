"""The polling fallback: ask the provider about messages stuck in ``sent``.

A callback can be lost (a provider outage, a firewall, a wrong ``public_url``). With
``poll_after_seconds`` set, messages still ``sent`` that long after sending are polled through
their adapter's ``poll`` (Twilio's Message resource, Sinch's recipient report, Infobip's reports
then logs, ClickSend's receipt), and what comes back takes the same path as a pushed report
(``ReportApplier.apply``). Only final statuses are applied: a poll saying "still on its way" is no news.

Each message is polled again after ``poll_after_seconds`` x 2^polls (at most 32x), so a message
the provider never finalises is not hammered, and never after ``POLL_HORIZON`` from its sending.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Final

from lynsms.clock import SYSTEM_CLOCK, Clock
from lynsms.gateway.delivery.status import ReportApplier
from lynsms.gateway.providers.base import Failed, ProviderAdapter
from lynsms.gateway.providers.reports import FINAL
from lynsms.gateway.store.reports import PollDue, ReportRows

log = logging.getLogger("lynsms.gateway")

POLL_HORIZON: Final = 3 * 86400.0  # providers keep reports about this long (Infobip: 48-72 h)
BATCH: Final = 200  # messages looked at per round
CONCURRENCY: Final = 8  # polls in flight at once


def _iso(unix: float) -> str:
    return datetime.fromtimestamp(unix, UTC).replace(microsecond=0).isoformat()


class Poller:
    def __init__(
        self,
        rows: ReportRows,
        adapters: Mapping[str, ProviderAdapter],
        applier: ReportApplier,
        poll_after: float,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.rows = rows
        self.adapters = adapters
        self.applier = applier
        self.poll_after = poll_after
        self.clock = clock
        self.interval = min(max(poll_after / 4, 0.2), 30.0)

    async def run(self) -> None:
        while True:
            try:
                await self.poll_once()
            except Exception:
                log.exception("delivery-report polling round failed")
            await self.clock.sleep(self.interval)

    async def poll_once(self) -> int:
        """Poll the messages due now; returns how many were polled."""
        now = self.clock.time()
        due = self.rows.due_for_poll(_iso(now - self.poll_after), _iso(now - POLL_HORIZON), now, BATCH)
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(message: PollDue) -> None:
            adapter = self.adapters.get(message.provider)
            if adapter is None:
                return
            async with gate:
                found = await adapter.poll(message.provider_message_id)
            error = None
            if found is None:  # this provider cannot be asked: no news
                pass
            elif isinstance(found, Failed):
                error = f"{found.reason}: {found.message}"
            else:
                final = [r for r in found if r.status in FINAL]
                if final:
                    self.applier.apply(final, "poll")
            backoff = self.poll_after * 2 ** min(message.polls, 5)
            self.rows.polled(message.message_id, self.clock.time() + backoff, error)

        await asyncio.gather(*(one(message) for message in due))
        return len(due)
