"""What delivery reports and polling read and write: messages found by provider id, their status
moves and ``delivery_report`` events, reports parked for messages not yet known, and poll state.

Callers (``delivery.status``, ``delivery.polling``) hold the transaction (``store.db.transaction``).

Parked reports are keyed by what they name (``match_key``: the provider id, or ``"{batch}:"`` for
a Sinch report covering a whole batch). The store method that records provider ids calls
``recorded`` with them: an indexed look-up, none at all while nothing is parked for that
provider, whose matches go to the ``listener`` (``delivery.status``) to be applied. Nothing polls.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from lynsms.gateway.store.outbox import OutboxRows


@dataclass(frozen=True)
class ParkedReport:
    seq: int
    provider: str
    source: str
    report: dict[str, Any]
    received_at: float


def match_key(provider_message_id: str | None, batch_id: str | None) -> str:
    """What a report names: a message's provider id, or every id of a Sinch batch (``"{batch}:"``)."""
    return provider_message_id if provider_message_id is not None else f"{batch_id}:"


def _keys(provider_message_id: str) -> tuple[str, ...]:
    """The keys a report naming this message would be parked under."""
    batch, colon, _ = provider_message_id.partition(":")
    return (provider_message_id, f"{batch}:") if colon else (provider_message_id,)


@dataclass(frozen=True)
class PollDue:
    message_id: str
    provider: str
    provider_message_id: str
    polls: int


class ReportRows:
    def __init__(self, db: sqlite3.Connection, outbox: OutboxRows) -> None:
        self.db = db
        self.outbox = outbox
        # Parked reports per provider, kept as they come and go: the cap, and no look-up when none.
        self.parked_counts: Counter[str] = Counter(
            dict(self.db.execute("SELECT provider, COUNT(*) FROM parked_reports GROUP BY provider").fetchall())
        )
        # Told of parked reports whose message just got its provider id (``delivery.status``).
        self.listener: Callable[[list[ParkedReport]], None] | None = None

    # ---- messages, by the id their provider gave them ------------------------------------------

    def targets(self, provider: str, provider_message_id: str | None, batch_id: str | None) -> list[tuple[str, str]]:
        """``(message id, status)`` of the messages a report names."""
        if provider_message_id is not None:
            rows = self.db.execute(
                "SELECT id, status FROM messages WHERE provider=? AND provider_message_id=?",
                (provider, provider_message_id),
            )
        else:  # a Sinch batch report covering every recipient: ids are "{batch_id}:+E164"
            prefix = f"{batch_id}:"
            rows = self.db.execute(
                "SELECT id, status FROM messages WHERE provider=? AND provider_message_id >= ? "
                "AND provider_message_id < ?",
                (provider, prefix, prefix[:-1] + ";"),
            )
        return [(str(mid), str(status)) for mid, status in rows]

    def move(
        self, message_id: str, current: str, new: str, error_code: str | None, error_json: str | None, now: str
    ) -> bool:
        """Move the message from ``current`` to ``new`` and announce it; False (nothing done) if
        anything moved it meanwhile."""
        moved = self.db.execute(
            "UPDATE messages SET status=?, error_code=?, error_json=?, updated_at=? WHERE id=? AND status=?",
            (new, error_code, error_json, now, message_id, current),
        ).rowcount
        if moved:
            self.outbox.enqueue([message_id])
        return bool(moved)

    def record(self, message_id: str, status: str, now: str, detail: dict[str, Any]) -> None:
        self.db.execute(
            "INSERT INTO events (message_id, type, status, at, detail_json) VALUES (?, 'delivery_report', ?, ?, ?)",
            (message_id, status, now, json.dumps(detail)),
        )

    # ---- parked reports ------------------------------------------------------------------------

    def park(self, source: str, report: dict[str, Any], now: float) -> None:
        provider = str(report["provider"])
        self.db.execute(
            "INSERT INTO parked_reports (source, report_json, received_at, provider, match_key) VALUES (?,?,?,?,?)",
            (source, json.dumps(report), now, provider, match_key(report["provider_message_id"], report["batch_id"])),
        )
        self.parked_counts[provider] += 1

    def parked_count(self) -> int:
        return self.parked_counts.total()

    def recorded(self, ids: Sequence[tuple[str, str]]) -> None:
        """``(provider, provider id)`` pairs were just recorded: hand the reports parked for them
        to the listener."""
        wanted = [(provider, key) for provider, pmid in ids if self.parked_counts[provider] for key in _keys(pmid)]
        if not wanted or self.listener is None:
            return
        found: list[ParkedReport] = []
        for provider, key in wanted:
            rows = self.db.execute(
                "SELECT seq, provider, source, report_json, received_at FROM parked_reports "
                "WHERE provider=? AND match_key=? ORDER BY seq",
                (provider, key),
            )
            found += [ParkedReport(seq, p, source, json.loads(text), at) for seq, p, source, text, at in rows]
        if found:
            self.listener(sorted(found, key=lambda entry: entry.seq))

    def unpark(self, entries: Sequence[ParkedReport]) -> None:
        self.db.executemany("DELETE FROM parked_reports WHERE seq=?", [(entry.seq,) for entry in entries])
        self.parked_counts.subtract(entry.provider for entry in entries)

    def expire(self, before: float) -> Counter[str]:
        """Delete reports parked before ``before``; how many per provider."""
        gone: Counter[str] = Counter(
            dict(
                self.db.execute(
                    "SELECT provider, COUNT(*) FROM parked_reports WHERE received_at < ? GROUP BY provider", (before,)
                ).fetchall()
            )
        )
        if gone:
            self.db.execute("DELETE FROM parked_reports WHERE received_at < ?", (before,))
            self.parked_counts.subtract(gone)
        return gone

    # ---- polling -------------------------------------------------------------------------------

    def due_for_poll(self, sent_before: str, sent_after: str, now: float, limit: int) -> list[PollDue]:
        """Messages still ``sent``, sent between the two times, whose next poll is due."""
        rows = self.db.execute(
            "SELECT m.id, m.provider, m.provider_message_id, COALESCE(p.polls, 0) FROM messages m "
            "LEFT JOIN poll_state p ON p.message_id = m.id "
            "WHERE m.status = 'sent' AND m.sent_at <= ? AND m.sent_at >= ? AND m.provider_message_id IS NOT NULL "
            "AND (p.next_poll_at IS NULL OR p.next_poll_at <= ?) ORDER BY m.sent_at LIMIT ?",
            (sent_before, sent_after, now, limit),
        ).fetchall()
        return [PollDue(*row) for row in rows]

    def polled(self, message_id: str, next_poll_at: float, error: str | None) -> None:
        self.db.execute(
            "INSERT INTO poll_state (message_id, polls, next_poll_at, last_error) VALUES (?, 1, ?, ?) "
            "ON CONFLICT (message_id) DO UPDATE SET polls = polls + 1, next_poll_at = excluded.next_poll_at, "
            "last_error = excluded.last_error",
            (message_id, next_poll_at, error),
        )
