"""Customer webhooks through a persistent outbox: every status change, delivered in order, signed.

Enqueueing is done by SQLite itself. Temporary triggers on ``messages`` insert one
``webhook_outbox`` row for every change of ``status`` to sent, delivered, undelivered or failed
(and for messages stored already failed), in the same transaction as the change: whichever code
path moves a message (sending, delivery reports, polling, crash recovery), its event exists
exactly when the change does, and never without it. The triggers are TEMP (this connection only),
so the database file holds no reference to the function that wakes the worker.

Delivery is a background task (started and stopped with the app):

    webhook_outbox row ── pending ──POST 2xx──> delivered
                            │  non-2xx / timeout / connection error: retry after
                            │  retry_seconds x 2^(attempts-1) (at most an hour, with jitter)
                            └── still failing at created_at + max_age_seconds ──> failed

- Order per message: only the oldest pending event of a message is eligible, and one at a time,
  so ``message.sent`` always reaches the receiver before ``message.delivered``.
- Restarts: rows are the queue. Pending rows are picked up at startup; an event is marked
  delivered only after the receiver's 2xx, so a crash mid-POST can repeat it: delivery is at
  least once, and receivers dedupe by the event ``id`` (the body, frozen at the first attempt,
  is byte-identical on every attempt).
- The body, the target URL and the secret: see ``body`` and ``Targets``; the signature: ``signing``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import httpx

from lynsms.gateway import signing
from lynsms.gateway.config import ApiKey, WebhookSettings
from lynsms.gateway.models import Message

log = logging.getLogger("lynsms.gateway")

CONCURRENCY: Final = 32  # events in flight at once (each for a different message)
MAX_BACKOFF: Final = 3600.0
IDLE: Final = 1.0  # longest sleep between looks at the table, should a wake-up be missed
USER_AGENT: Final = "LynSMS-Webhooks/1.0"

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS webhook_outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    message_id TEXT NOT NULL,
    type TEXT NOT NULL,
    api_key TEXT,
    snapshot_json TEXT NOT NULL,
    body BLOB,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    next_attempt_at REAL NOT NULL,
    last_attempt_at REAL,
    last_status INTEGER,
    last_error TEXT,
    delivered_at REAL,
    url TEXT
);
CREATE INDEX IF NOT EXISTS webhook_outbox_message ON webhook_outbox (message_id, seq);
CREATE INDEX IF NOT EXISTS webhook_outbox_due ON webhook_outbox (next_attempt_at) WHERE state = 'pending';
"""
_NOW_SQL: Final = "((julianday('now') - 2440587.5) * 86400.0)"
# The message columns that can change after the event; the body shows them as they were.
_SNAPSHOT_SQL: Final = (
    "json_object('status', NEW.status, 'error_json', NEW.error_json, 'provider', NEW.provider, "
    "'provider_message_id', NEW.provider_message_id, 'cost', NEW.cost, 'sent_at', NEW.sent_at, "
    "'updated_at', NEW.updated_at)"
)
_ENQUEUE_SQL: Final = (
    "INSERT INTO webhook_outbox (id, message_id, type, api_key, snapshot_json, created_at, next_attempt_at) "
    f"VALUES ('evt_' || lower(hex(randomblob(12))), NEW.id, 'message.' || NEW.status, NEW.api_key, "
    f"{_SNAPSHOT_SQL}, {_NOW_SQL}, {_NOW_SQL}); SELECT lynsms_outbox_wake();"
)
_NOTIFY: Final = "('sent', 'delivered', 'undelivered', 'failed')"


@dataclass(frozen=True)
class Target:
    url: str
    secret: str = field(repr=False)


class Targets:
    """Where the events of messages sent by each API key go, and what signs them.

    URL: the key's ``webhook_url``, else the global ``webhook_url``. Secret: the key's
    ``webhook_secret``, else the global ``webhook_secret``, else derived from the key
    (``signing.derive_secret``). Messages without a known key use the global settings and, lacking
    a secret, the first key's derived one."""

    def __init__(self, settings: WebhookSettings, keys: Sequence[ApiKey]) -> None:
        self.settings = settings
        self.keys = {key.name: key for key in keys}
        self.first = keys[0] if keys else None

    @property
    def enabled(self) -> bool:
        return self.settings.url is not None or any(k.webhook_url for k in self.keys.values())

    def key_filter(self) -> tuple[str, ...] | None:
        """None: every message has a target; else the names of the keys that have one."""
        return None if self.settings.url else tuple(n for n, k in self.keys.items() if k.webhook_url)

    def for_key(self, name: str | None) -> Target | None:
        key = self.keys.get(name or "")
        url = (key.webhook_url if key else None) or self.settings.url
        owner = key or self.first
        secret = (
            (key.webhook_secret if key else None)
            or self.settings.secret
            or (signing.derive_secret(owner.key) if owner else None)
        )
        return Target(url, secret) if url and secret else None


def install(db: sqlite3.Connection, targets: Targets, wake: Callable[[], None]) -> None:
    """Create the outbox table, and the triggers that fill it when anything is listening."""
    db.executescript(_SCHEMA)
    db.create_function("lynsms_outbox_wake", 0, lambda: wake())
    for name in ("lynsms_outbox_on_update", "lynsms_outbox_on_insert"):
        db.execute(f"DROP TRIGGER IF EXISTS temp.{name}")
    names = targets.key_filter()
    if not targets.enabled:
        return
    only = ""
    if names is not None:  # literals, not parameters: a trigger body cannot bind them
        only = " AND NEW.api_key IN (" + ", ".join("'" + n.replace("'", "''") + "'" for n in names) + ")"
    db.execute(
        "CREATE TEMP TRIGGER lynsms_outbox_on_update AFTER UPDATE OF status ON main.messages "
        f"WHEN NEW.status IS NOT OLD.status AND NEW.status IN {_NOTIFY}{only} BEGIN {_ENQUEUE_SQL} END"
    )
    db.execute(
        "CREATE TEMP TRIGGER lynsms_outbox_on_insert AFTER INSERT ON main.messages "
        f"WHEN NEW.status IN {_NOTIFY}{only} BEGIN {_ENQUEUE_SQL} END"
    )


def _iso(unix: float | None) -> str | None:
    return None if unix is None else datetime.fromtimestamp(unix, UTC).replace(microsecond=0).isoformat()


def body(
    event_id: str, event_type: str, created_at: float, sequence: int, message: Message, snapshot: dict[str, Any]
) -> bytes:
    """The event as the receiver gets it: the message object as it was when the event happened."""
    data = message.to_json()
    error_json = snapshot.get("error_json")
    data.update(
        status=snapshot["status"],
        provider=snapshot["provider"],
        provider_message_id=snapshot["provider_message_id"],
        cost=float(snapshot["cost"]),
        sent_at=snapshot["sent_at"],
        updated_at=snapshot["updated_at"],
        error=json.loads(error_json) if error_json else None,
    )
    event = {
        "id": event_id,
        "object": "event",
        "type": event_type,
        "created_at": _iso(created_at),
        "sequence": sequence,
        "message_id": message.id,
        "reference": message.reference,
        "data": data,
    }
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass(frozen=True)
class _Row:
    seq: int
    id: str
    message_id: str
    type: str
    api_key: str | None
    snapshot_json: str
    body: bytes | None
    attempts: int
    created_at: float


_ROW_COLUMNS: Final = "o.seq, o.id, o.message_id, o.type, o.api_key, o.snapshot_json, o.body, o.attempts, o.created_at"
# Only a message's oldest pending event may go: its later events wait behind it.
_HEAD: Final = (
    "o.state = 'pending' AND NOT EXISTS (SELECT 1 FROM webhook_outbox e "
    "WHERE e.message_id = o.message_id AND e.state = 'pending' AND e.seq < o.seq)"
)


class Outbox:
    def __init__(
        self,
        db: sqlite3.Connection,
        targets: Targets,
        settings: WebhookSettings,
        load_message: Callable[[str], Message | None],
        client: httpx.AsyncClient,
        clock: Callable[[], float] = time.time,
        concurrency: int = CONCURRENCY,
    ) -> None:
        self.db = db
        self.targets = targets
        self.settings = settings
        self.load_message = load_message
        self.client = client
        self.clock = clock
        self.concurrency = concurrency
        self._wake = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._inflight: dict[int, asyncio.Task[None]] = {}
        self._stopping = False
        install(db, targets, self.wake)

    def wake(self) -> None:
        # Called by the trigger, maybe from a thread other than the loop's: hand over safely.
        self._loop.call_soon_threadsafe(self._wake.set)

    async def run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            free = self.concurrency - len(self._inflight)
            if free > 0:
                for row in self._due(free):
                    task = asyncio.create_task(self._deliver(row))
                    self._inflight[row.seq] = task
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self._sleep())
            except TimeoutError:
                pass

    async def close(self, grace: float = 2.0) -> None:
        """Stop taking events; let those in flight finish for ``grace`` seconds (the rest stay
        pending and go after the next start)."""
        self._stopping = True
        self._wake.set()
        tasks = list(self._inflight.values())
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)

    def deliveries(self, message_id: str) -> list[dict[str, Any]]:
        """The message's webhook events and how their delivery went, for the events endpoint."""
        rows = self.db.execute(
            "SELECT id, type, state, attempts, created_at, next_attempt_at, last_attempt_at, last_status, last_error, "
            "delivered_at, url, snapshot_json FROM webhook_outbox WHERE message_id=? ORDER BY seq",
            (message_id,),
        ).fetchall()
        return [
            {
                "type": "webhook",
                "at": _iso(created),
                "status": json.loads(snapshot)["status"],
                "event_id": event_id,
                "event_type": event_type,
                "delivery": state,
                "attempts": attempts,
                "next_attempt_at": _iso(next_at) if state == "pending" else None,
                "last_attempt_at": _iso(last_at),
                "last_http_status": last_status,
                "last_error": last_error,
                "delivered_at": _iso(delivered),
                "url": url,
            }
            for (
                event_id,
                event_type,
                state,
                attempts,
                created,
                next_at,
                last_at,
                last_status,
                last_error,
                delivered,
                url,
                snapshot,
            ) in rows
        ]

    def counts(self) -> dict[str, int]:
        return {state: n for state, n in self.db.execute("SELECT state, COUNT(*) FROM webhook_outbox GROUP BY state")}

    # ---- the loop's pieces ---------------------------------------------------------------------

    def _busy(self) -> tuple[str, list[int]]:
        seqs = list(self._inflight)
        return (f" AND o.seq NOT IN ({','.join('?' * len(seqs))})" if seqs else ""), seqs

    def _due(self, limit: int) -> list[_Row]:
        busy, seqs = self._busy()
        rows = self.db.execute(
            f"SELECT {_ROW_COLUMNS} FROM webhook_outbox o WHERE o.next_attempt_at <= ? AND {_HEAD}{busy} "
            "ORDER BY o.next_attempt_at, o.seq LIMIT ?",
            (self.clock(), *seqs, limit),
        ).fetchall()
        return [_Row(*row) for row in rows]

    def _sleep(self) -> float:
        if len(self._inflight) >= self.concurrency:
            return IDLE  # a finishing delivery wakes the loop
        busy, seqs = self._busy()
        (next_at,) = self.db.execute(
            f"SELECT MIN(o.next_attempt_at) FROM webhook_outbox o WHERE {_HEAD}{busy}", seqs
        ).fetchone()
        if next_at is None:
            return IDLE
        return min(IDLE, max(0.0, float(next_at) - self.clock()))

    async def _deliver(self, row: _Row) -> None:
        try:
            await self._attempt(row)
        except Exception:
            log.exception("webhook event %s: delivery attempt failed unexpectedly", row.id)
            self._record(row, None, "internal error (see the gateway log)", None)
        finally:
            self._inflight.pop(row.seq, None)
            self._wake.set()

    async def _attempt(self, row: _Row) -> None:
        target = self.targets.for_key(row.api_key)
        if target is None:
            self._give_up(row, "no webhook URL or secret is configured for this message's API key")
            return
        payload = row.body if row.body is not None else self._freeze(row)
        if payload is None:
            self._give_up(row, "the message no longer exists")
            return
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "LynSMS-Event-Id": row.id,
            "LynSMS-Event-Type": row.type,
            signing.HEADER: signing.sign(target.secret, payload),
        }
        status: int | None = None
        error: str | None = None
        try:
            answer = await self.client.post(
                target.url, content=payload, headers=headers, timeout=self.settings.timeout_seconds
            )
            status = answer.status_code
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except httpx.TimeoutException as exc:
            error = f"timeout: {type(exc).__name__}"
        except httpx.HTTPError as exc:
            error = f"connection error: {type(exc).__name__}: {exc}".rstrip(": ")
        self._record(row, status, error, target.url)

    def _freeze(self, row: _Row) -> bytes | None:
        """Build the body once; every retry sends these exact bytes."""
        message = self.load_message(row.message_id)
        if message is None:
            return None
        (sequence,) = self.db.execute(
            "SELECT COUNT(*) FROM webhook_outbox WHERE message_id=? AND seq<=?", (row.message_id, row.seq)
        ).fetchone()
        payload = body(row.id, row.type, row.created_at, sequence, message, json.loads(row.snapshot_json))
        self.db.execute("UPDATE webhook_outbox SET body=? WHERE seq=?", (payload, row.seq))
        return payload

    def _record(self, row: _Row, status: int | None, error: str | None, url: str | None) -> None:
        now = self.clock()
        attempts = row.attempts + 1
        if error is None:
            self.db.execute(
                "UPDATE webhook_outbox SET state='delivered', attempts=?, last_attempt_at=?, last_status=?, "
                "last_error=NULL, delivered_at=?, url=? WHERE seq=?",
                (attempts, now, status, now, url, row.seq),
            )
            return
        horizon = row.created_at + self.settings.max_age_seconds
        if now >= horizon:
            log.warning("webhook event %s (%s) not delivered after %d attempts: %s", row.id, row.type, attempts, error)
            state, next_at = "failed", now
        else:
            delay = min(MAX_BACKOFF, self.settings.retry_seconds * 2 ** (attempts - 1)) * random.uniform(0.8, 1.0)
            # The last try lands on the horizon itself rather than skipping it.
            state, next_at = "pending", min(now + delay, horizon)
        self.db.execute(
            "UPDATE webhook_outbox SET state=?, attempts=?, last_attempt_at=?, last_status=?, last_error=?, "
            "next_attempt_at=?, url=? WHERE seq=?",
            (state, attempts, now, status, error, next_at, url, row.seq),
        )

    def _give_up(self, row: _Row, why: str) -> None:
        log.warning("webhook event %s (%s) dropped: %s", row.id, row.type, why)
        self.db.execute(
            "UPDATE webhook_outbox SET state='failed', last_error=?, last_attempt_at=? WHERE seq=?",
            (why, self.clock(), row.seq),
        )
