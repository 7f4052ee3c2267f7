"""What delivery reports and polling read and write: messages found by provider id, their status
moves and ``delivery_report`` events, reports parked for messages not yet known, and poll state.

Callers (``delivery.status``, ``delivery.polling``) hold the transaction (``store.db.transaction``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lynsms.gateway.store.outbox import OutboxRows


@dataclass(frozen=True)
class ParkedReport:
    seq: int
    source: str
    report: dict[str, Any]
    received_at: float


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
        self.db.execute(
            "INSERT INTO parked_reports (source, report_json, received_at) VALUES (?,?,?)",
            (source, json.dumps(report), now),
        )

    def parked_count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM parked_reports").fetchone()[0])

    def parked(self) -> list[ParkedReport]:
        rows = self.db.execute("SELECT seq, source, report_json, received_at FROM parked_reports ORDER BY seq")
        return [ParkedReport(seq, source, json.loads(text), received_at) for seq, source, text, received_at in rows]

    def unpark(self, seqs: Sequence[int]) -> None:
        self.db.executemany("DELETE FROM parked_reports WHERE seq=?", [(seq,) for seq in seqs])

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
