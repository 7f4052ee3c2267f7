"""The polling fallback: ask the provider about messages stuck in ``sent``.

A callback can be lost (a provider outage, a firewall, a wrong ``public_url``). With
``poll_after_seconds`` set, messages still ``sent`` that long after sending are polled through
their adapter's ``poll`` (Twilio's Message resource, Sinch's recipient report, Infobip's reports
then logs, ClickSend's receipt), and what comes back takes the same path as a pushed report
(``Tracker.apply``). Only final statuses are applied: a poll saying "still on its way" is no news.

Each message is polled again after ``poll_after_seconds`` x 2^polls (at most 32x), so a message
the provider never finalises is not hammered, and never after ``POLL_HORIZON`` from its sending.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Final

from lynsms.gateway.dlr import Tracker
from lynsms.gateway.providers.base import Failed, ProviderAdapter
from lynsms.gateway.providers.reports import FINAL

log = logging.getLogger("lynsms.gateway")

POLL_HORIZON: Final = 3 * 86400.0  # providers keep reports about this long (Infobip: 48-72 h)
BATCH: Final = 200  # messages looked at per round
CONCURRENCY: Final = 8  # polls in flight at once

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS poll_state (
    message_id TEXT PRIMARY KEY,
    polls INTEGER NOT NULL,
    next_poll_at REAL NOT NULL,
    last_error TEXT
);
"""


def _iso(unix: float) -> str:
    return datetime.fromtimestamp(unix, UTC).replace(microsecond=0).isoformat()


class Poller:
    def __init__(
        self,
        db: sqlite3.Connection,
        adapters: Mapping[str, ProviderAdapter],
        tracker: Tracker,
        poll_after: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.adapters = adapters
        self.tracker = tracker
        self.poll_after = poll_after
        self.clock = clock
        self.interval = min(max(poll_after / 4, 0.2), 30.0)
        db.executescript(_SCHEMA)

    async def run(self) -> None:
        while True:
            try:
                await self.poll_once()
            except Exception:
                log.exception("delivery-report polling round failed")
            await asyncio.sleep(self.interval)

    async def poll_once(self) -> int:
        """Poll the messages due now; returns how many were polled."""
        now = self.clock()
        rows = self.db.execute(
            "SELECT m.id, m.provider, m.provider_message_id, COALESCE(p.polls, 0) FROM messages m "
            "LEFT JOIN poll_state p ON p.message_id = m.id "
            "WHERE m.status = 'sent' AND m.sent_at <= ? AND m.sent_at >= ? AND m.provider_message_id IS NOT NULL "
            "AND (p.next_poll_at IS NULL OR p.next_poll_at <= ?) ORDER BY m.sent_at LIMIT ?",
            (_iso(now - self.poll_after), _iso(now - POLL_HORIZON), now, BATCH),
        ).fetchall()
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(message_id: str, provider: str, provider_message_id: str, polls: int) -> None:
            adapter = self.adapters.get(provider)
            if adapter is None:
                return
            async with gate:
                found = await adapter.poll(provider_message_id)
            error = None
            if found is None:  # this provider cannot be asked: no news
                pass
            elif isinstance(found, Failed):
                error = f"{found.reason}: {found.message}"
            else:
                final = [r for r in found if r.status in FINAL]
                if final:
                    self.tracker.apply(final, "poll")
            backoff = self.poll_after * 2 ** min(polls, 5)
            self.db.execute(
                "INSERT INTO poll_state (message_id, polls, next_poll_at, last_error) VALUES (?, 1, ?, ?) "
                "ON CONFLICT (message_id) DO UPDATE SET polls = polls + 1, next_poll_at = excluded.next_poll_at, "
                "last_error = excluded.last_error",
                (message_id, self.clock() + backoff, error),
            )

        await asyncio.gather(*(one(*row) for row in rows))
        return len(rows)
