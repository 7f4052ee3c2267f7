"""The ``webhook_outbox`` table: customer events, written in the same transaction as the status
change they announce, read back by the delivery worker (``delivery.outbox``).

Whichever store method moves a message to sent, delivered, undelivered or failed (routing, a
delivery report, a poll, crash recovery) calls ``OutboxRows.enqueue`` for it before committing:
an event exists exactly when its change does, and never without it.

The queue stays cheap however long it gets (a receiver down for days):

- Only a message's oldest pending event (its *head*) is ever due: a later one is written with
  ``next_attempt_at = WAITING`` and released when the one before it settles. So "what is due"
  and "when is the next one due" are ranges of the ``webhook_outbox_due`` index, never a scan
  of the pending set.
- ``maintain`` (a few times a minute) deletes settled events (delivered, or failed: the dead
  letters) after the retention, and fails the oldest pending events beyond the cap.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from lynsms.clock import Clock
from lynsms.gateway.store.db import transaction

# The statuses a customer hears about (queued is not news).
ANNOUNCED: Final = frozenset({"sent", "delivered", "undelivered", "failed"})
# next_attempt_at of an event waiting behind an earlier pending event of its message: never due
# until released (a number, not NULL: the column is NOT NULL in databases already out there).
WAITING: Final = 1e18
# Rows one maintenance step deletes or fails at most: each step stays a few milliseconds.
MAINTAIN_BATCH: Final = 2000

# The event as of now: its message's columns that can change later; the body shows them as they were.
_ENQUEUE: Final = (
    "INSERT INTO webhook_outbox (id, message_id, type, api_key, snapshot_json, created_at, next_attempt_at) "
    "SELECT ?, id, 'message.' || status, api_key, json_object('status', status, 'error_json', error_json, "
    "'provider', provider, 'provider_message_id', provider_message_id, 'cost', cost, 'sent_at', sent_at, "
    "'updated_at', updated_at), ?, "
    f"CASE WHEN EXISTS (SELECT 1 FROM webhook_outbox e WHERE e.message_id = messages.id AND e.state = 'pending') "
    f"THEN {WAITING} ELSE ? END FROM messages "
    "WHERE id = ? AND status IN ('sent', 'delivered', 'undelivered', 'failed') "
    "AND (? OR api_key IN (SELECT value FROM json_each(?)))"
)
_ROW_COLUMNS: Final = "o.seq, o.id, o.message_id, o.type, o.api_key, o.snapshot_json, o.body, o.attempts, o.created_at"
# Only a message's oldest pending event may go: its later events wait behind it. (Heads are the
# only rows with a due time; this also guards rows written before ``WAITING`` existed.)
_HEAD: Final = (
    "o.state = 'pending' AND NOT EXISTS (SELECT 1 FROM webhook_outbox e "
    "WHERE e.message_id = o.message_id AND e.state = 'pending' AND e.seq < o.seq)"
)
# The oldest pending event of the message ``?`` becomes due at ``?`` (its predecessor settled).
_RELEASE: Final = (
    "UPDATE webhook_outbox SET next_attempt_at = ? WHERE seq = "
    "(SELECT MIN(seq) FROM webhook_outbox WHERE message_id = ? AND state = 'pending') AND next_attempt_at >= ?"
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
        """Up to ``limit`` heads due by ``now``, soonest first, read along the due index."""
        skip, seqs = _busy(busy)
        rows = self.db.execute(
            f"SELECT {_ROW_COLUMNS} FROM webhook_outbox o INDEXED BY webhook_outbox_due "
            f"WHERE o.state = 'pending' AND o.next_attempt_at <= ? AND {_HEAD}{skip} "
            "ORDER BY o.next_attempt_at LIMIT ?",
            (now, *seqs, limit),
        ).fetchall()
        return [OutboxRow(*row) for row in rows]

    def next_due(self, busy: Sequence[int]) -> float | None:
        """When the next head not in ``busy`` is due: the first entry of the due index."""
        skip, seqs = _busy(busy)
        row = self.db.execute(
            "SELECT o.next_attempt_at FROM webhook_outbox o INDEXED BY webhook_outbox_due "
            f"WHERE o.state = 'pending' AND o.next_attempt_at < ?{skip} ORDER BY o.next_attempt_at LIMIT 1",
            (WAITING, *seqs),
        ).fetchone()
        return None if row is None else float(row[0])

    def sequence(self, row: OutboxRow) -> int:
        """The event's place among its message's events, from 1."""
        (sequence,) = self.db.execute(
            "SELECT COUNT(*) FROM webhook_outbox WHERE message_id=? AND seq<=?", (row.message_id, row.seq)
        ).fetchone()
        return int(sequence)

    def freeze(self, row: OutboxRow, body: bytes) -> None:
        self.db.execute("UPDATE webhook_outbox SET body=? WHERE seq=?", (body, row.seq))

    # A settled event and the release of its successor commit together: a crash between them
    # would leave the successor waiting for ever.

    def delivered(self, row: OutboxRow, attempts: int, now: float, status: int | None, url: str | None) -> None:
        with transaction(self.db):
            self.db.execute(
                "UPDATE webhook_outbox SET state='delivered', attempts=?, last_attempt_at=?, last_status=?, "
                "last_error=NULL, delivered_at=?, url=? WHERE seq=? AND state='pending'",
                (attempts, now, status, now, url, row.seq),
            )
            self._settled(row.message_id, now=now)

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
        with transaction(self.db):
            self.db.execute(
                "UPDATE webhook_outbox SET state=?, attempts=?, last_attempt_at=?, last_status=?, last_error=?, "
                "next_attempt_at=?, url=? WHERE seq=? AND state='pending'",
                (state, attempts, now, status, error, next_at, url, row.seq),
            )
            if state != "pending":
                self._settled(row.message_id, now=now)

    def given_up(self, row: OutboxRow, why: str, now: float) -> None:
        with transaction(self.db):
            self.db.execute(
                "UPDATE webhook_outbox SET state='failed', last_error=?, last_attempt_at=? "
                "WHERE seq=? AND state='pending'",
                (why, now, row.seq),
            )
            self._settled(row.message_id, now=now)

    def _settled(self, *message_ids: str, now: float) -> None:
        """Release the next event of each message whose head just settled (inside a transaction)."""
        self.db.executemany(_RELEASE, [(now, mid, WAITING) for mid in message_ids])
        self.woken()

    # ---- retention and the cap -----------------------------------------------------------------

    def maintain(self, now: float, retention: float, max_pending: int) -> tuple[int, int]:
        """Delete events settled more than ``retention`` seconds ago and fail the oldest pending
        events beyond ``max_pending``, at most ``MAINTAIN_BATCH`` of each; ``(pruned, dropped)``."""
        with transaction(self.db):
            pruned = self.db.execute(
                "DELETE FROM webhook_outbox WHERE seq IN (SELECT seq FROM webhook_outbox INDEXED BY "
                "webhook_outbox_settled WHERE state <> 'pending' AND last_attempt_at < ? LIMIT ?)",
                (now - retention, MAINTAIN_BATCH),
            ).rowcount
            excess = min(self.pending() - max_pending, MAINTAIN_BATCH)
            dropped: list[str] = []
            if excess > 0:
                oldest = self.db.execute(
                    "SELECT seq, message_id FROM webhook_outbox WHERE state = 'pending' ORDER BY seq LIMIT ?", (excess,)
                ).fetchall()
                why = f"dropped: more than {max_pending} events were waiting for delivery (webhook_max_pending)"
                self.db.executemany(
                    "UPDATE webhook_outbox SET state='failed', last_error=?, last_attempt_at=? WHERE seq=?",
                    [(why, now, seq) for seq, _ in oldest],
                )
                dropped = [mid for _, mid in oldest]
                self._settled(*dropped, now=now)
        return pruned, len(dropped)

    def deliveries(self, message_id: str) -> list[DeliveryRecord]:
        rows = self.db.execute(
            "SELECT snapshot_json, id, type, state, attempts, created_at, next_attempt_at, last_attempt_at, "
            "last_status, last_error, delivered_at, url FROM webhook_outbox WHERE message_id=? ORDER BY seq",
            (message_id,),
        ).fetchall()
        return [DeliveryRecord(json.loads(snapshot), *rest) for snapshot, *rest in rows]

    def pending(self) -> int:
        (count,) = self.db.execute(
            "SELECT COUNT(*) FROM webhook_outbox INDEXED BY webhook_outbox_due WHERE state = 'pending'"
        ).fetchone()
        return int(count)

    def counts(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT state, COUNT(*) FROM webhook_outbox GROUP BY state").fetchall())


def _busy(seqs: Sequence[int]) -> tuple[str, list[int]]:
    busy = list(seqs)
    return (f" AND o.seq NOT IN ({','.join('?' * len(busy))})" if busy else ""), busy
