"""``Store``: the gateway's SQLite database (stdlib ``sqlite3``); here messages, their events and
idempotency keys, with the outbox (``store.outbox``) and what reports touch (``store.reports``)
beside it. Tables: ``store.schema``; connection and the one transaction helper: ``store.db``.

Crash safety for routing: messages are committed as ``queued`` *before* any provider is called,
and every routing round commits its attempts and final states in one transaction. At startup,
messages still ``queued`` from a previous run are marked failed with ``interrupted`` (resending
them could send an SMS twice), and idempotency keys left in flight answer ``interrupted``.

One row per message carries its routing history: its attempts (``attempts_json``) and the times
of its states. The history the events endpoint shows (queued, each attempt, sent or failed) is
read back from that row, so a send writes one row and updates it once; the ``events`` table
holds what happens after routing, the provider's delivery reports.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final, Literal

import orjson

from lynsms.clock import SYSTEM_CLOCK, Clock
from lynsms.gateway.errors import Interrupted
from lynsms.gateway.models import Attempt, Event, Message, MessageError, now_iso
from lynsms.gateway.store.db import connect, transaction
from lynsms.gateway.store.outbox import ANNOUNCED, OutboxRows
from lynsms.gateway.store.reports import ReportRows
from lynsms.gateway.store.retention import Retention, iso_ago
from lynsms.gateway.store.secrets import InstallationSecrets

_COLUMNS = (
    "id, to_number, sender, body, reference, route_id, status, provider, provider_message_id, cost, currency, "
    "segments, encoding, error_json, created_at, sent_at, updated_at, attempts_json, seq"
)


DEFAULT_KEY_LIFETIME: Final = 86400.0  # Stripe's 24 hours


class StoreFormatError(RuntimeError):
    """The database file is in a format this gateway does not read."""


@dataclass(frozen=True)
class Completion:
    """A message after one routing round: all its attempts so far, and its final state if reached."""

    message_id: str
    attempts: tuple[Attempt, ...]
    status: Literal["sent", "failed"] | None = None  # None: still queued, more providers to try
    provider: str | None = None
    provider_message_id: str | None = None
    cost: Decimal = Decimal("0")
    error: MessageError | None = None


@dataclass(frozen=True)
class Claim:
    state: Literal["new", "replay", "mismatch", "in_progress"]
    status_code: int | None = None
    response: dict[str, Any] | None = None


def _error_json(error: MessageError | None) -> str | None:
    return orjson.dumps(error.to_json()).decode() if error else None


def _attempts_json(attempts: Sequence[Attempt]) -> str:
    # orjson: every send stores its attempts; the stdlib encoder took ~3 us for one attempt.
    return orjson.dumps([a.to_json() for a in attempts]).decode()


class Store:
    def __init__(self, path: str = ":memory:", clock: Clock = SYSTEM_CLOCK) -> None:
        self.path = path
        self.clock = clock
        self.db = connect(path)
        columns = {row[1] for row in self.db.execute("PRAGMA table_info(messages)")}
        if not {"api_key", "attempts_json"} <= columns:
            # Written by a pre-release gateway: say so at start-up rather than fail on the first read.
            self.db.close()
            raise StoreFormatError(f"{path} was written by a pre-release gateway; start with a new database file")
        self.outbox = OutboxRows(self.db, clock)
        self.reports = ReportRows(self.db, self.outbox)
        self.secrets = InstallationSecrets(self.db)
        self.retention = Retention(self.db)
        # How long an answered idempotency key is honoured; older ones are new keys again.
        self.key_lifetime = DEFAULT_KEY_LIFETIME

    def close(self) -> None:
        self.db.close()

    def _write(self, *statements: tuple[str, Sequence[tuple[Any, ...]]]) -> None:
        """Run each ``(sql, rows)`` for its rows, all in one transaction. A single row needs none:
        one statement in autocommit mode is atomic by itself (and two statements cheaper)."""
        work = [(sql, rows) for sql, rows in statements if rows]
        if len(work) == 1 and len(work[0][1]) == 1:
            self.db.execute(work[0][0], work[0][1][0])
            return
        with transaction(self.db):
            for sql, rows in work:
                self.db.executemany(sql, rows)

    # -- messages ---------------------------------------------------------------------------

    def insert(self, messages: Sequence[Message], api_key: str | None = None) -> None:
        """Store new messages (queued, or failed items that will never be routed) in one transaction;
        ``api_key`` is the name of the key that sent them."""
        announced = self.outbox.enqueue_statement([m.id for m in messages if m.status in ANNOUNCED])
        self._write(
            (
                "INSERT INTO messages (id, to_number, sender, body, reference, route_id, status, segments, encoding, "
                "error_code, error_json, created_at, updated_at, api_key, attempts_json) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [
                    (
                        m.id,
                        m.to,
                        m.sender,
                        m.body,
                        m.reference,
                        m.route_id,
                        m.status,
                        m.segments,
                        m.encoding,
                        m.error.code if m.error else None,
                        _error_json(m.error),
                        m.created_at,
                        m.updated_at,
                        api_key,
                        "[]" if m.status == "queued" else None,
                    )
                    for m in messages
                ],
            ),
            announced,
        )
        if announced[1]:
            self.outbox.woken()

    def complete(self, completions: Sequence[Completion]) -> str:
        """Record a routing round: each message's attempts, and its final state if it reached one.
        Returns the time it recorded as ``updated_at`` (and ``sent_at``) of those messages."""
        now = now_iso(self.clock)
        finals: list[tuple[Any, ...]] = []
        rounds: list[tuple[str, str]] = []
        for c in completions:
            attempts = _attempts_json(c.attempts)
            if c.status is None:
                rounds.append((attempts, c.message_id))
                continue
            error = c.error
            finals.append(
                (
                    c.status,
                    c.provider,
                    c.provider_message_id,
                    str(c.cost),
                    error.code if error else None,
                    _error_json(error),
                    now if c.status == "sent" else None,
                    now,
                    attempts,
                    c.message_id,
                )
            )
        announced = self.outbox.enqueue_statement([final[-1] for final in finals])
        self._write(
            (
                "UPDATE messages SET status=?, provider=?, provider_message_id=?, cost=?, error_code=?, error_json=?, "
                "sent_at=?, updated_at=?, attempts_json=? WHERE id=?",
                finals,
            ),
            ("UPDATE messages SET attempts_json=? WHERE id=?", rounds),
            announced,
        )
        if announced[1]:
            self.outbox.woken()
        # Reports that arrived before their message's provider id was recorded apply now.
        self.reports.recorded(
            [(c.provider, c.provider_message_id) for c in completions if c.provider and c.provider_message_id]
        )
        return now

    def recover_interrupted(self) -> int:
        """Fail messages a previous run left queued; answer its in-flight idempotency keys."""
        now = now_iso(self.clock)
        error = MessageError(
            code="interrupted",
            message="the gateway stopped before a provider accepted this message; it was not resent, "
            "because a provider may already have taken it",
        )
        with transaction(self.db):
            ids = [row[0] for row in self.db.execute("SELECT id FROM messages WHERE status='queued'")]
            self.db.executemany(
                "UPDATE messages SET status='failed', error_code=?, error_json=?, updated_at=? WHERE id=?",
                [(error.code, _error_json(error), now, mid) for mid in ids],
            )
            self.outbox.enqueue(ids)
            body = {
                "success": False,
                "error": Interrupted(
                    "the gateway stopped while this request was in flight; its messages were marked failed "
                    "with error code interrupted and were not resent"
                ).body(),
            }
            self.db.execute(
                "UPDATE idempotency_keys SET state='done', status_code=500, response_json=? WHERE state='in_progress'",
                (json.dumps(body),),
            )
        return len(ids)

    def get(self, message_id: str) -> Message | None:
        row = self.db.execute(f"SELECT {_COLUMNS} FROM messages WHERE id=?", (message_id,)).fetchone()
        return self._hydrate([row])[0] if row else None

    def page(
        self,
        *,
        limit: int,
        after_seq: int | None = None,
        status: str | None = None,
        provider: str | None = None,
        reference: str | None = None,
        to: str | None = None,
    ) -> tuple[list[Message], int | None]:
        """Newest first; returns the page and the seq to continue after (None on the last page)."""
        clauses: list[str] = []
        args: list[str | int] = []
        for column, value in (("status", status), ("provider", provider), ("reference", reference), ("to_number", to)):
            if value is not None:
                clauses.append(f"{column}=?")
                args.append(value)
        if after_seq is not None:
            clauses.append("seq<?")
            args.append(after_seq)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self.db.execute(
            f"SELECT {_COLUMNS} FROM messages {where} ORDER BY seq DESC LIMIT ?", (*args, limit + 1)
        ).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        return self._hydrate(rows), (int(rows[-1][-1]) if more and rows else None)

    def events(self, message_id: str) -> list[Event]:
        """The message's history, oldest first: its routing (read from its row), then what the
        ``events`` table recorded after it (delivery reports come only once a provider took it)."""
        row = self.db.execute(
            "SELECT status, error_json, created_at, sent_at, updated_at, provider, provider_message_id, attempts_json "
            "FROM messages WHERE id=?",
            (message_id,),
        ).fetchone()
        if row is None:
            return []
        later = self.db.execute(
            "SELECT type, status, at, detail_json FROM events WHERE message_id=? ORDER BY seq", (message_id,)
        )
        return _routing(*row) + [
            Event(type=t, status=s, at=at, detail=json.loads(d) if d else None) for t, s, at, d in later
        ]

    def _hydrate(self, rows: Iterable[Sequence[Any]]) -> list[Message]:
        messages = []
        for (
            mid,
            to,
            sender,
            body,
            reference,
            route_id,
            status,
            provider,
            provider_message_id,
            cost,
            currency,
            segments,
            encoding,
            error_json,
            created_at,
            sent_at,
            updated_at,
            attempts_json,
            _seq,
        ) in rows:
            error = MessageError(**json.loads(error_json)) if error_json else None
            attempts = tuple(Attempt(**a) for a in json.loads(attempts_json)) if attempts_json else ()
            messages.append(
                Message(
                    id=mid,
                    to=to,
                    sender=sender,
                    body=body,
                    reference=reference,
                    route_id=route_id,
                    status=status,
                    provider=provider,
                    provider_message_id=provider_message_id,
                    cost=Decimal(cost),
                    currency=currency,
                    segments=segments,
                    encoding=encoding,
                    error=error,
                    created_at=created_at,
                    sent_at=sent_at,
                    updated_at=updated_at,
                    attempt_log=attempts,
                )
            )
        return messages

    # -- idempotency ------------------------------------------------------------------------

    def claim_key(self, scope: str, key: str, request_hash: str) -> Claim:
        """Atomically claim ``key`` for this request, or say why it cannot be claimed."""
        with transaction(self.db):
            row = self.db.execute(
                "SELECT request_hash, state, status_code, response_json, created_at FROM idempotency_keys "
                "WHERE scope=? AND key=?",
                (scope, key),
            ).fetchone()
            if row is not None and row[1] == "done" and row[4] < iso_ago(self.clock, self.key_lifetime):
                # Expired (maintenance deletes these in batches; this one was asked for first).
                self.db.execute("DELETE FROM idempotency_keys WHERE scope=? AND key=?", (scope, key))
                row = None
            if row is None:
                self.db.execute(
                    "INSERT INTO idempotency_keys (scope, key, request_hash, state, created_at) "
                    "VALUES (?, ?, ?, 'in_progress', ?)",
                    (scope, key, request_hash, now_iso(self.clock)),
                )
                return Claim("new")
        stored_hash, state, status_code, response_json, _created = row
        if stored_hash != request_hash:
            return Claim("mismatch")
        if state == "in_progress":
            return Claim("in_progress")
        return Claim("replay", status_code=status_code, response=json.loads(response_json))

    def finish_key(self, scope: str, key: str, status_code: int, response: dict[str, Any]) -> None:
        with transaction(self.db):
            self.db.execute(
                "UPDATE idempotency_keys SET state='done', status_code=?, response_json=? WHERE scope=? AND key=?",
                (status_code, json.dumps(response), scope, key),
            )

    def release_key(self, scope: str, key: str) -> None:
        """Forget a claim whose request never ran (it failed before anything was stored or sent)."""
        with transaction(self.db):
            self.db.execute(
                "DELETE FROM idempotency_keys WHERE scope=? AND key=? AND state='in_progress'", (scope, key)
            )


def _routing(
    status: str,
    error_json: str | None,
    created_at: str,
    sent_at: str | None,
    updated_at: str,
    provider: str | None,
    provider_message_id: str | None,
    attempts_json: str | None,
) -> list[Event]:
    """queued, one event per attempt, then sent or failed: a message's routing, from its row."""
    error = json.loads(error_json) if error_json else None
    if attempts_json is None:  # rejected before routing (a bulk item: invalid or repeated number)
        return [Event(status, created_at, status, {"error": error})]
    events = [Event("queued", created_at, "queued")]
    events += [Event("attempt", a["at"], None, a) for a in json.loads(attempts_json or "[]")]
    if sent_at is not None:  # later statuses (delivered...) are delivery-report events
        events.append(
            Event("sent", sent_at, "sent", {"provider": provider, "provider_message_id": provider_message_id})
        )
    elif status == "failed":  # a failed message is never updated again: updated_at is when it failed
        events.append(Event("failed", updated_at, "failed", {"error": error}))
    return events
