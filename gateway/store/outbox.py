"""The ``webhook_outbox`` table: customer events, written in the same transaction as the status
change they announce, read back by the delivery worker (``delivery.outbox``).

Whichever store method moves a message to sent, delivered, undelivered or failed (routing, a
delivery report, a poll, crash recovery) calls ``OutboxRows.enqueue`` for it before committing:
an event exists exactly when its change does, and never without it.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from lynsms.clock import Clock

# The statuses a customer hears about (queued is not news).
ANNOUNCED: Final = frozenset({"sent", "delivered", "undelivered", "failed"})

# The event as of now: its message's columns that can change later; the body shows them as they were.
_ENQUEUE: Final = (
    "INSERT INTO webhook_outbox (id, message_id, type, api_key, snapshot_json, created_at, next_attempt_at) "
    "SELECT ?, id, 'message.' || status, api_key, json_object('status', status, 'error_json', error_json, "
    "'provider', provider, 'provider_message_id', provider_message_id, 'cost', cost, 'sent_at', sent_at, "
    "'updated_at', updated_at), ?, ? FROM messages "
    "WHERE id = ? AND status IN ('sent', 'delivered', 'undelivered', 'failed') "
    "AND (? OR api_key IN (SELECT value FROM json_each(?)))"
)
_ROW_COLUMNS: Final = "o.seq, o.id, o.message_id, o.type, o.api_key, o.snapshot_json, o.body, o.attempts, o.created_at"
# Only a message's oldest pending event may go: its later events wait behind it.
_HEAD: Final = (
    "o.state = 'pending' AND NOT EXISTS (SELECT 1 FROM webhook_outbox e "
    "WHERE e.message_id = o.message_id AND e.state = 'pending' AND e.seq < o.seq)"
)


@dataclass(frozen=True)
class Listener:
    """Who wants events: every API key (``key_names`` None) or the named ones; ``wake`` is told
    when rows were added."""

    key_names: tuple[str, ...] | None
    wake: Callable[[], None]


@dataclass(frozen=True)
class OutboxRow:
    seq: int
    id: str
    message_id: str
    type: str
    api_key: str | None
    snapshot_json: str
    body: bytes | None
    attempts: int
    created_at: float


@dataclass(frozen=True)
class DeliveryRecord:
    """One event's delivery so far, for the message's events endpoint."""

    snapshot: dict[str, Any]
    event_id: str
    event_type: str
    state: str
    attempts: int
    created_at: float
    next_attempt_at: float
    last_attempt_at: float | None
    last_status: int | None
    last_error: str | None
    delivered_at: float | None
    url: str | None


class OutboxRows:
    def __init__(self, db: sqlite3.Connection, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self.listener: Listener | None = None  # None: nobody is listening, no events are kept

    def enqueue_statement(self, message_ids: Sequence[str]) -> tuple[str, list[tuple[Any, ...]]]:
        """The ``(sql, rows)`` that adds one event per message whose status is announced, for the
        caller to run inside its transaction, after the change."""
        listener = self.listener
        if listener is None:
            return _ENQUEUE, []
        now = self.clock.time()
        every = listener.key_names is None
        names = json.dumps(list(listener.key_names or ()))
        return _ENQUEUE, [(f"evt_{secrets.token_hex(12)}", now, now, mid, every, names) for mid in message_ids]

    def enqueue(self, message_ids: Sequence[str]) -> None:
        """Add the events of ``message_ids``' current statuses (inside the caller's transaction)."""
        sql, rows = self.enqueue_statement(message_ids)
        if rows:
            self.db.executemany(sql, rows)
            self.woken()

    def woken(self) -> None:
        if self.listener is not None:
            self.listener.wake()

    # ---- the delivery worker's reads and writes ------------------------------------------------

    def due(self, now: float, limit: int, busy: Sequence[int]) -> list[OutboxRow]:
        skip, seqs = _busy(busy)
        rows = self.db.execute(
            f"SELECT {_ROW_COLUMNS} FROM webhook_outbox o WHERE o.next_attempt_at <= ? AND {_HEAD}{skip} "
            "ORDER BY o.next_attempt_at, o.seq LIMIT ?",
            (now, *seqs, limit),
        ).fetchall()
        return [OutboxRow(*row) for row in rows]

    def next_due(self, busy: Sequence[int]) -> float | None:
        skip, seqs = _busy(busy)
        (next_at,) = self.db.execute(
            f"SELECT MIN(o.next_attempt_at) FROM webhook_outbox o WHERE {_HEAD}{skip}", seqs
        ).fetchone()
        return None if next_at is None else float(next_at)

    def sequence(self, row: OutboxRow) -> int:
        """The event's place among its message's events, from 1."""
        (sequence,) = self.db.execute(
            "SELECT COUNT(*) FROM webhook_outbox WHERE message_id=? AND seq<=?", (row.message_id, row.seq)
        ).fetchone()
        return int(sequence)

    def freeze(self, row: OutboxRow, body: bytes) -> None:
        self.db.execute("UPDATE webhook_outbox SET body=? WHERE seq=?", (body, row.seq))

    def delivered(self, row: OutboxRow, attempts: int, now: float, status: int | None, url: str | None) -> None:
        self.db.execute(
            "UPDATE webhook_outbox SET state='delivered', attempts=?, last_attempt_at=?, last_status=?, "
            "last_error=NULL, delivered_at=?, url=? WHERE seq=?",
            (attempts, now, status, now, url, row.seq),
        )

    def attempted(
        self,
        row: OutboxRow,
        *,
        state: str,
        attempts: int,
        now: float,
        status: int | None,
        error: str,
        next_at: float,
        url: str | None,
    ) -> None:
        self.db.execute(
            "UPDATE webhook_outbox SET state=?, attempts=?, last_attempt_at=?, last_status=?, last_error=?, "
            "next_attempt_at=?, url=? WHERE seq=?",
            (state, attempts, now, status, error, next_at, url, row.seq),
        )

    def given_up(self, row: OutboxRow, why: str, now: float) -> None:
        self.db.execute(
            "UPDATE webhook_outbox SET state='failed', last_error=?, last_attempt_at=? WHERE seq=?", (why, now, row.seq)
        )

    def deliveries(self, message_id: str) -> list[DeliveryRecord]:
        rows = self.db.execute(
            "SELECT snapshot_json, id, type, state, attempts, created_at, next_attempt_at, last_attempt_at, "
            "last_status, last_error, delivered_at, url FROM webhook_outbox WHERE message_id=? ORDER BY seq",
            (message_id,),
        ).fetchall()
        return [DeliveryRecord(json.loads(snapshot), *rest) for snapshot, *rest in rows]

    def counts(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT state, COUNT(*) FROM webhook_outbox GROUP BY state").fetchall())


def _busy(seqs: Sequence[int]) -> tuple[str, list[int]]:
    busy = list(seqs)
    return (f" AND o.seq NOT IN ({','.join('?' * len(busy))})" if busy else ""), busy
