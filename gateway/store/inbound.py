"""The two-way tables: inbound messages, the opt-out list and cached number lookups.

Their customer events (``message.received``, ``recipient.opted_out``, ``recipient.opted_in``) go
through the same ``webhook_outbox`` as message events, written in the transaction of the change
they announce, with their body built at once: an inbound message or an opt-out never changes
afterwards, so there is nothing to snapshot. The outbox delivers one event per ordering key at a
time; an inbound message and the opt-out it causes share the inbound id, so ``message.received``
always arrives before ``recipient.opted_out``.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from lynsms.clock import Clock
from lynsms.gateway.store.db import transaction
from lynsms.gateway.store.outbox import OutboxRows

SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS inbound_messages (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    provider TEXT NOT NULL,
    provider_message_id TEXT,
    from_number TEXT NOT NULL,
    to_number TEXT NOT NULL,
    body TEXT NOT NULL,
    keyword TEXT,
    received_at TEXT NOT NULL,
    UNIQUE (provider, provider_message_id)
);
CREATE INDEX IF NOT EXISTS inbound_from ON inbound_messages (from_number, seq);
CREATE INDEX IF NOT EXISTS inbound_to ON inbound_messages (to_number, seq);
CREATE TABLE IF NOT EXISTS opt_outs (
    number TEXT PRIMARY KEY,
    source TEXT NOT NULL,  -- keyword | api
    keyword TEXT,
    inbound_id TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS lookup_cache (
    provider TEXT NOT NULL,
    number TEXT NOT NULL,
    result_json TEXT NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (provider, number)
);
"""

_EVENT: Final = (
    "INSERT INTO webhook_outbox (id, message_id, type, api_key, snapshot_json, body, created_at, next_attempt_at) "
    "VALUES (?, ?, ?, ?, '{}', ?, ?, ?)"
)


@dataclass(frozen=True)
class InboundMessage:
    id: str
    provider: str
    provider_message_id: str | None
    sender: str
    to: str
    body: str
    keyword: str | None
    received_at: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "inbound_message",
            "provider": self.provider,
            "provider_message_id": self.provider_message_id,
            "from": self.sender,
            "to": self.to,
            "body": self.body,
            "keyword": self.keyword,
            "received_at": self.received_at,
        }


@dataclass(frozen=True)
class OptOut:
    number: str
    source: str
    keyword: str | None
    inbound_id: str | None
    created_at: str

    def to_json(self) -> dict[str, Any]:
        return {
            "object": "opt_out",
            "number": self.number,
            "source": self.source,
            "keyword": self.keyword,
            "inbound_id": self.inbound_id,
            "created_at": self.created_at,
        }


@dataclass(frozen=True)
class Event:
    """A customer event to add with a change: its type, ordering key and ``data``."""

    type: str
    key: str
    data: dict[str, Any]


class TwoWayRows:
    def __init__(self, db: sqlite3.Connection, outbox: OutboxRows, clock: Clock) -> None:
        self.db = db
        self.outbox = outbox
        self.clock = clock
        db.executescript(SCHEMA)
        # Every send asks; a set answers in ~50 ns where SQLite takes microseconds.
        self.opted_out: set[str] = {row[0] for row in db.execute("SELECT number FROM opt_outs")}

    # ---- inbound messages ------------------------------------------------------------------------

    def add_inbound(self, message: InboundMessage, events: Sequence[Event]) -> bool:
        """Store ``message`` with its events; False when the provider already delivered it (a retry)."""
        with transaction(self.db):
            try:
                self.db.execute(
                    "INSERT INTO inbound_messages (id, provider, provider_message_id, from_number, to_number, body, "
                    "keyword, received_at) VALUES (?,?,?,?,?,?,?,?)",
                    (
                        message.id,
                        message.provider,
                        message.provider_message_id,
                        message.sender,
                        message.to,
                        message.body,
                        message.keyword,
                        message.received_at,
                    ),
                )
            except sqlite3.IntegrityError:
                return False
            self._events(events)
        return True

    def inbound_page(
        self, limit: int, before_seq: int | None, sender: str | None, to: str | None
    ) -> tuple[list[InboundMessage], int | None]:
        where, args = ["1=1"], []
        for column, value in (("from_number", sender), ("to_number", to)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if before_seq is not None:
            where.append("seq < ?")
            args.append(str(before_seq))
        rows = self.db.execute(
            "SELECT seq, id, provider, provider_message_id, from_number, to_number, body, keyword, received_at "
            f"FROM inbound_messages WHERE {' AND '.join(where)} ORDER BY seq DESC LIMIT ?",
            (*args, limit + 1),
        ).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        return [InboundMessage(*row[1:]) for row in rows], (rows[-1][0] if more and rows else None)

    # ---- opt-outs ----------------------------------------------------------------------------------

    def opt_out(self, entry: OptOut, events: Sequence[Event]) -> bool:
        """Add ``entry``; False (and no event) when the number was already opted out."""
        if entry.number in self.opted_out:
            return False
        with transaction(self.db):
            self.db.execute(
                "INSERT INTO opt_outs (number, source, keyword, inbound_id, created_at) VALUES (?,?,?,?,?)",
                (entry.number, entry.source, entry.keyword, entry.inbound_id, entry.created_at),
            )
            self._events(events)
        self.opted_out.add(entry.number)
        return True

    def opt_in(self, number: str, events: Sequence[Event]) -> bool:
        """Remove ``number``; False (and no event) when it was not opted out."""
        if number not in self.opted_out:
            return False
        with transaction(self.db):
            self.db.execute("DELETE FROM opt_outs WHERE number = ?", (number,))
            self._events(events)
        self.opted_out.discard(number)
        return True

    def opt_outs(self) -> list[OptOut]:
        rows = self.db.execute(
            "SELECT number, source, keyword, inbound_id, created_at FROM opt_outs ORDER BY created_at DESC, number"
        ).fetchall()
        return [OptOut(*row) for row in rows]

    def opt_out_of(self, number: str) -> OptOut | None:
        row = self.db.execute(
            "SELECT number, source, keyword, inbound_id, created_at FROM opt_outs WHERE number = ?", (number,)
        ).fetchone()
        return OptOut(*row) if row else None

    # ---- lookup cache ------------------------------------------------------------------------------

    def cached_lookups(self, provider: str, numbers: Sequence[str]) -> dict[str, dict[str, Any]]:
        if not numbers:
            return {}
        now = self.clock.time()
        found: dict[str, dict[str, Any]] = {}
        for at in range(0, len(numbers), 500):  # SQLite's variable limit
            chunk = list(numbers[at : at + 500])
            rows = self.db.execute(
                f"SELECT number, result_json FROM lookup_cache WHERE provider = ? AND expires_at > ? "
                f"AND number IN ({','.join('?' * len(chunk))})",
                (provider, now, *chunk),
            ).fetchall()
            found.update((number, json.loads(text)) for number, text in rows)
        return found

    def cache_lookups(self, provider: str, results: Sequence[dict[str, Any]], ttl: float) -> None:
        if ttl <= 0 or not results:
            return
        expires = self.clock.time() + ttl
        with transaction(self.db):
            self.db.executemany(
                "INSERT OR REPLACE INTO lookup_cache (provider, number, result_json, expires_at) VALUES (?,?,?,?)",
                [(provider, r["number"], json.dumps(r), expires) for r in results],
            )

    # ---- events ------------------------------------------------------------------------------------

    def _events(self, events: Sequence[Event]) -> None:
        listener = self.outbox.listener
        if listener is None or not events:
            return
        # Events of no API key go to the global webhook; without one, to the first key that has one.
        api_key = None if listener.key_names is None else next(iter(listener.key_names), None)
        now = self.clock.time()
        rows = []
        for event in events:
            event_id = f"evt_{secrets.token_hex(12)}"
            body = {
                "id": event_id,
                "object": "event",
                "type": event.type,
                "created_at": datetime.fromtimestamp(int(now), UTC).isoformat(),
                "data": event.data,
            }
            payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
            rows.append((event_id, event.key, event.type, api_key, payload, now, now))
        self.db.executemany(_EVENT, rows)
        self.outbox.woken()
