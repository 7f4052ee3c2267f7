"""``Store``: the gateway's SQLite database (stdlib ``sqlite3``); here messages, their events and
idempotency keys, with the outbox (``store.outbox``) and what reports touch (``store.reports``)
beside it. Tables: ``store.schema``; connection and the one transaction helper: ``store.db``.

Crash safety for routing: messages are committed as ``queued`` *before* any provider is called;
just before each provider request its messages are marked as handed to that provider
(``dispatching``), and each answer is committed as soon as it arrives (``complete``: the provider
id of every acceptance, or the failed attempt). So a crash can leave uncertain only the messages
whose request was in flight: ``interrupt`` (at startup, or when a shutdown cuts a request short)
makes those ``unconfirmed`` for reconciliation with the provider, and fails the ones no provider
was asked about with ``interrupted``. Nothing is resent. Idempotency keys left in flight replay
the current state of their messages.

One row per message carries its routing history: its attempts (``attempts_json``) and the times
of its states. The history the events endpoint shows (queued, each attempt, sent or failed) is
read back from that row, so a send writes one row and updates it once; the ``events`` table
holds what happens after routing, the provider's delivery reports.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final, Literal

import orjson

from lynsms.clock import SYSTEM_CLOCK, Clock
from lynsms.gateway.models import Attempt, Event, Message, MessageError, now_iso
from lynsms.gateway.store.db import connect, transaction
from lynsms.gateway.store.outbox import ANNOUNCED, OutboxRows
from lynsms.gateway.store.reports import ReportRows
from lynsms.gateway.store.retention import Retention, iso_ago
from lynsms.gateway.store.secrets import InstallationSecrets

log = logging.getLogger("lynsms.gateway")

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
    at: str | None = None  # when the provider answered (default: when it is recorded)


@dataclass(frozen=True)
class Dispatch:
    """A message handed to ``provider`` at ``at``; ``cost``: what it costs if the provider takes it."""

    message_id: str
    provider: str
    at: str
    cost: Decimal


@dataclass(frozen=True)
class Claim:
    # interrupted: a restart or shutdown cut the first request short; ``message_ids`` are its messages
    state: Literal["new", "replay", "mismatch", "in_progress", "interrupted"]
    status_code: int | None = None
    response: dict[str, Any] | None = None
    message_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Interruption:
    """What ``Store.interrupt`` did: messages failed (never handed to a provider) and made unconfirmed."""

    failed: int
    unconfirmed: int


KeyRef = tuple[str, str]  # an idempotency key: (scope, key)


def _error_json(error: MessageError | None) -> str | None:
    return orjson.dumps(error.to_json()).decode() if error else None


def _dispatched(dispatches: Sequence[Dispatch]) -> tuple[str, list[tuple[str, str, str, str]]]:
    """The statement recording hand-overs to providers (``Store.complete``)."""
    return (
        "UPDATE messages SET dispatched_to=?, dispatched_at=?, cost=? WHERE id=?",
        [(d.provider, d.at, str(d.cost), d.message_id) for d in dispatches],
    )


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

    def insert(
        self,
        messages: Sequence[Message],
        api_key: str | None = None,
        key: KeyRef | None = None,
        *,
        dispatches: Sequence[Dispatch] = (),
    ) -> None:
        """Store new messages (queued, or failed items that will never be routed) in one transaction;
        ``api_key`` is the name of the key that sent them, ``key`` the idempotency key they answer,
        ``dispatches`` the first hand-overs to providers (see ``complete``), in the same commit."""
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
            (
                "UPDATE idempotency_keys SET message_ids=? WHERE scope=? AND key=?",
                [(orjson.dumps([m.id for m in messages]).decode(), *key)] if key else [],
            ),
            _dispatched(dispatches),
        )
        if announced[1]:
            self.outbox.woken()

    def dispatching(self, messages: Sequence[tuple[str, Decimal]], provider: str) -> None:
        """Mark ``(message id, cost)`` pairs as handed to ``provider`` now (``complete`` with only
        ``dispatches``)."""
        at = now_iso(self.clock)
        self.complete((), dispatches=[Dispatch(mid, provider, at, cost) for mid, cost in messages])

    def complete(self, completions: Sequence[Completion], *, dispatches: Sequence[Dispatch] = ()) -> str:
        """Record provider answers and hand-overs, in one transaction, in that order.

        ``completions``: each message's attempts so far, and its final state if it reached one
        (with its provider id: the one place provider ids are recorded). ``dispatches``: messages
        being handed to a provider, recorded *before* the request goes out, so that if the gateway
        dies before the answer is recorded, these (and only these) are uncertain. Returns the time
        recorded as ``updated_at`` (and ``sent_at``) where a completion does not say."""
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
                    (c.at or now) if c.status == "sent" else None,
                    c.at or now,
                    attempts,
                    c.message_id,
                )
            )
        announced = self.outbox.enqueue_statement([final[-1] for final in finals])
        statements = (
            (
                "UPDATE messages SET status=?, provider=?, provider_message_id=?, cost=?, error_code=?, error_json=?, "
                "sent_at=?, updated_at=?, attempts_json=?, dispatched_to=NULL WHERE id=?",
                finals,
            ),
            ("UPDATE messages SET attempts_json=?, dispatched_to=NULL WHERE id=?", rounds),
            announced,
            _dispatched(dispatches),
        )
        try:
            self._write(*statements)
        except sqlite3.IntegrityError:  # the unique (provider, provider id) index: a reused id
            self._release_provider_ids(completions, now)
            self._write(*statements)
        if announced[1]:
            self.outbox.woken()
        # Reports that arrived before their message's provider id was recorded apply now.
        self.reports.recorded(
            [(c.provider, c.provider_message_id) for c in completions if c.provider and c.provider_message_id]
        )
        return now

    def _release_provider_ids(self, completions: Sequence[Completion], now: str) -> None:
        """A provider handed out an id an older message already holds (its id sequence restarted):
        the new message takes it, so each report names one message; the older one keeps the id
        in its attempt log and an event says why reports no longer reach it."""
        with transaction(self.db):
            for c in completions:
                if c.provider_message_id is None:
                    continue
                holders = self.db.execute(
                    "SELECT id FROM messages WHERE provider=? AND provider_message_id=? AND id<>?",
                    (c.provider, c.provider_message_id, c.message_id),
                ).fetchall()
                for (holder,) in holders:
                    log.warning(
                        "%s gave id %s to %s as well as to %s; reports now go to the newer message only",
                        c.provider,
                        c.provider_message_id,
                        c.message_id,
                        holder,
                    )
                    self.db.execute("UPDATE messages SET provider_message_id=NULL WHERE id=?", (holder,))
                    detail = {"provider": c.provider, "provider_message_id": c.provider_message_id, "by": c.message_id}
                    self._event(holder, "provider_id_reused", None, now, detail)

    def _event(self, message_id: str, kind: str, status: str | None, at: str, detail: dict[str, Any]) -> None:
        self.db.execute(
            "INSERT INTO events (message_id, type, status, at, detail_json) VALUES (?, ?, ?, ?, ?)",
            (message_id, kind, status, at, json.dumps(detail)),
        )

    def interrupt(self, message_ids: Sequence[str] | None = None) -> Interruption:
        """Settle messages a routing left ``queued`` because it stopped (``message_ids``: one
        request's, cut short by a shutdown; None: all, at startup after a crash). A message
        handed to a provider whose answer never came becomes ``unconfirmed`` (reconciliation
        asks the provider); one no provider was asked about fails with ``interrupted``. None is
        resent: the request that wanted it sent is gone, and a resend could deliver it twice.
        At startup, idempotency keys left in flight are marked ``interrupted`` (a replay shows
        their messages as they are now), or forgotten when the request stored nothing."""
        now = now_iso(self.clock)
        error = MessageError(
            code="interrupted",
            message="the gateway stopped before it handed this message to a provider; it was not sent, "
            "and it is not sent later",
        )
        with transaction(self.db):
            if message_ids is None:
                rows = self.db.execute("SELECT id, dispatched_to FROM messages WHERE status='queued'").fetchall()
            else:
                rows = [
                    row
                    for mid in message_ids
                    for row in self.db.execute(
                        "SELECT id, dispatched_to FROM messages WHERE id=? AND status='queued'", (mid,)
                    )
                ]
            failed = [mid for mid, provider in rows if provider is None]
            uncertain = [(mid, provider) for mid, provider in rows if provider is not None]
            self.db.executemany(
                "UPDATE messages SET status='failed', cost='0', error_code=?, error_json=?, updated_at=? WHERE id=?",
                [(error.code, _error_json(error), now, mid) for mid in failed],
            )
            self.db.executemany(
                "UPDATE messages SET status='unconfirmed', provider=dispatched_to, updated_at=? WHERE id=?",
                [(now, mid) for mid, _ in uncertain],
            )
            for mid, provider in uncertain:
                detail = {"provider": provider, "note": "the gateway stopped before the provider answered"}
                self._event(mid, "unconfirmed", "unconfirmed", now, detail)
            self.outbox.enqueue(failed)
            if message_ids is None:
                self.db.execute(
                    "UPDATE idempotency_keys SET state='interrupted' WHERE state='in_progress' "
                    "AND message_ids IS NOT NULL"
                )
                self.db.execute("DELETE FROM idempotency_keys WHERE state='in_progress'")
        return Interruption(failed=len(failed), unconfirmed=len(uncertain))

    def unconfirmed(self, limit: int, after_seq: int = 0) -> list[tuple[Message, str, int]]:
        """Unconfirmed messages after ``after_seq``, oldest first, each with when it was handed to
        its provider and its seq (to continue after)."""
        rows = self.db.execute(
            f"SELECT {_COLUMNS}, dispatched_at FROM messages WHERE status='unconfirmed' AND seq>? ORDER BY seq LIMIT ?",
            (after_seq, limit),
        ).fetchall()
        messages = self._hydrate(row[:-1] for row in rows)
        return [(message, row[-1], row[-2]) for message, row in zip(messages, rows, strict=True)]

    def unconfirmed_named(self, provider: str, provider_message_id: str, to: str | None) -> str | None:
        """The one unconfirmed message of ``provider`` a delivery report names although no provider
        id was recorded for it: by our own id (Infobip's ``messageId`` is ours), or by its
        recipient when exactly one unconfirmed message of that provider went there."""
        rows = self.db.execute(
            "SELECT id FROM messages WHERE status='unconfirmed' AND provider=? AND (id=? OR to_number=?) LIMIT 2",
            (provider, provider_message_id, to),
        ).fetchall()
        return str(rows[0][0]) if len(rows) == 1 else None

    def confirm(self, message_id: str, provider_message_id: str | None, how: str) -> Message | None:
        """Settle an ``unconfirmed`` message: its provider took it under ``provider_message_id``
        (``sent``), or, with None, has no record of it (``failed``). ``how`` says who told us. The
        message as now stored; None if it was not unconfirmed (already settled)."""
        row = self.db.execute(
            "SELECT provider, cost, attempts_json, dispatched_at FROM messages WHERE id=? AND status='unconfirmed'",
            (message_id,),
        ).fetchone()
        if row is None:
            return None
        provider, cost, attempts_json, dispatched_at = row
        attempts = tuple(Attempt(**a) for a in json.loads(attempts_json or "[]"))
        at = dispatched_at or now_iso(self.clock)
        if provider_message_id is not None:
            attempt = Attempt(provider, "accepted", at, 0, reason=how, provider_message_id=provider_message_id)
            completion = Completion(
                message_id,
                (*attempts, attempt),
                status="sent",
                provider=provider,
                provider_message_id=provider_message_id,
                cost=Decimal(cost),
            )
        else:
            text = f"{provider} has no record of this message ({how}): the gateway stopped before it was accepted"
            attempt = Attempt(provider, "hard", at, 0, reason="not_accepted", message=text)
            error = MessageError("interrupted", f"{text}; it was not sent, and it is not sent later", provider=provider)
            completion = Completion(message_id, (*attempts, attempt), status="failed", error=error)
        with transaction(self.db):
            now = self.complete([completion])
            detail = {"provider": provider, "provider_message_id": provider_message_id, "how": how}
            self._event(message_id, "reconciled", completion.status, now, detail)
        return self.get(message_id)

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
                "SELECT request_hash, state, status_code, response_json, created_at, message_ids FROM idempotency_keys "
                "WHERE scope=? AND key=?",
                (scope, key),
            ).fetchone()
            # A key cut short (interrupted) expires like a finished one.
            if row is not None and row[1] != "in_progress" and row[4] < iso_ago(self.clock, self.key_lifetime):
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
        stored_hash, state, status_code, response_json, _created, message_ids = row
        if stored_hash != request_hash:
            return Claim("mismatch")
        if state == "in_progress":
            return Claim("in_progress")
        if state == "interrupted":
            return Claim("interrupted", message_ids=tuple(json.loads(message_ids)))
        return Claim("replay", status_code=status_code, response=json.loads(response_json))

    def finish_key(self, scope: str, key: str, status_code: int, response: dict[str, Any]) -> None:
        with transaction(self.db):
            self.db.execute(
                "UPDATE idempotency_keys SET state='done', status_code=?, response_json=? WHERE scope=? AND key=?",
                (status_code, json.dumps(response), scope, key),
            )

    def interrupt_key(self, scope: str, key: str) -> None:
        """The request a shutdown cut short: replays show its messages as they are then; one that
        stored nothing frees its key."""
        with transaction(self.db):
            self.db.execute(
                "UPDATE idempotency_keys SET state='interrupted' WHERE scope=? AND key=? AND message_ids IS NOT NULL",
                (scope, key),
            )
            self.db.execute(
                "DELETE FROM idempotency_keys WHERE scope=? AND key=? AND state='in_progress'", (scope, key)
            )

    def messages(self, message_ids: Sequence[str]) -> list[Message]:
        """The messages with these ids, in that order (ids not stored are left out)."""
        found: list[Message] = []
        for mid in message_ids:
            message = self.get(mid)
            if message is not None:
                found.append(message)
        return found

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
