"""What the store forgets, so a long-running gateway does not grow for ever: the oldest messages
beyond a count (with their events, webhook events and poll state), and idempotency keys past
their lifetime (Stripe keeps keys 24 hours). Each call does at most ``BATCH`` rows, so it stays a
few milliseconds on the event loop; the caller repeats while a batch comes back full."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import Final

from lynsms.clock import Clock
from lynsms.gateway.store.db import transaction

BATCH: Final = 2000


def iso_ago(clock: Clock, seconds: float) -> str:
    """``seconds`` before now, written as the store writes times (``models.now_iso``)."""
    return datetime.fromtimestamp(int(clock.time() - seconds), UTC).isoformat()


class Retention:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def keep_newest(self, count: int) -> int:
        """Delete the oldest messages beyond the newest ``count``; how many went."""
        (newest,) = self.db.execute("SELECT MAX(seq) FROM messages").fetchone()
        if newest is None or newest <= count:
            return 0
        with transaction(self.db):
            ids = [
                (mid,)
                for (mid,) in self.db.execute(
                    "SELECT id FROM messages WHERE seq <= ? ORDER BY seq LIMIT ?", (newest - count, BATCH)
                )
            ]
            for table in ("events", "webhook_outbox", "poll_state"):  # events first: they reference messages
                self.db.executemany(f"DELETE FROM {table} WHERE message_id = ?", ids)
            self.db.executemany("DELETE FROM messages WHERE id = ?", ids)
        return len(ids)

    def expire_keys(self, before: str) -> int:
        """Delete answered idempotency keys created before ``before`` (ISO 8601, as stored)."""
        with transaction(self.db):
            return self.db.execute(
                "DELETE FROM idempotency_keys WHERE rowid IN (SELECT rowid FROM idempotency_keys "
                "WHERE created_at < ? AND state IN ('done', 'interrupted') LIMIT ?)",
                (before, BATCH),
            ).rowcount
