"""Customer webhooks through a persistent outbox: every status change, delivered in order, signed.

Enqueueing is the store's: every store method that moves a message to sent, delivered,
undelivered or failed (routing, delivery reports, polling, crash recovery; and messages stored
already failed) adds its ``webhook_outbox`` row in the same transaction (``OutboxRows.enqueue``),
so an event exists exactly when its change does. ``Outbox`` tells the store which API keys have
a target (``OutboxRows.listener``) and is woken when rows arrive.

Delivery is a background task (started and stopped with the app):

    webhook_outbox row ── pending ──POST 2xx──> delivered
                            │  non-2xx / timeout / connection error: retry after
                            │  retry_seconds x 2^(attempts-1) (at most an hour, with jitter)
                            └── still failing at created_at + max_age_seconds ──> failed
    delivered / failed rows are deleted retention_seconds after they settled; beyond max_pending
    pending events, the oldest are failed ("dropped"). Both checked every MAINTAIN_INTERVAL.

- Order per message: only the oldest pending event of a message is eligible, and one at a time,
  so ``message.sent`` always reaches the receiver before ``message.delivered``.
- Cost: finding due events reads the due index (``store.outbox``), so a backlog of any size for
  a dead receiver costs only its retries, never a scan per wake-up.
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
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import httpx

from lynsms.clock import SYSTEM_CLOCK, Clock, busy
from lynsms.gateway import signing
from lynsms.gateway.config import ApiKey, WebhookSettings
from lynsms.gateway.models import Message
from lynsms.gateway.store import Store
from lynsms.gateway.store.outbox import MAINTAIN_BATCH, WAITING, Listener, OutboxRow

log = logging.getLogger("lynsms.gateway")

CONCURRENCY: Final = 32  # events in flight at once (each for a different message)
MAX_BACKOFF: Final = 3600.0
IDLE: Final = 1.0  # longest sleep between looks at the table
MAINTAIN_INTERVAL: Final = 10.0  # seconds between retention and cap checks
USER_AGENT: Final = "LynSMS-Webhooks/1.0"


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


class Outbox:
    def __init__(
        self,
        store: Store,
        targets: Targets,
        settings: WebhookSettings,
        client: httpx.AsyncClient,
        clock: Clock = SYSTEM_CLOCK,
        concurrency: int = CONCURRENCY,
    ) -> None:
        self.store = store
        self.rows = store.outbox
        self.targets = targets
        self.settings = settings
        self.client = client
        self.clock = clock
        self.concurrency = concurrency
        self._wake = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._inflight: dict[int, asyncio.Task[None]] = {}
        self._stopping = False
        self._maintain_at = 0.0
        # Without a target for anyone, the store keeps no events at all.
        self.rows.listener = Listener(targets.key_filter(), self.wake) if targets.enabled else None

    def wake(self) -> None:
        # Called by the store after adding events, maybe from a thread other than the loop's.
        self._loop.call_soon_threadsafe(self._wake.set)

    async def run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            self._maintain()
            free = self.concurrency - len(self._inflight)
            if free > 0:
                for row in self.rows.due(self.clock.time(), free, list(self._inflight)):
                    task = asyncio.create_task(self._deliver(row))
                    self._inflight[row.seq] = task
            timer = self.clock.call_later(self._sleep(), self._wake.set)
            try:
                await self._wake.wait()
            finally:
                timer.cancel()

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
        return [
            {
                "type": "webhook",
                "at": _iso(d.created_at),
                "status": d.snapshot["status"],
                "event_id": d.event_id,
                "event_type": d.event_type,
                "delivery": d.state,
                "attempts": d.attempts,
                "next_attempt_at": _iso(d.next_attempt_at)
                if d.state == "pending" and d.next_attempt_at < WAITING
                else None,
                "last_attempt_at": _iso(d.last_attempt_at),
                "last_http_status": d.last_status,
                "last_error": d.last_error,
                "delivered_at": _iso(d.delivered_at),
                "url": d.url,
            }
            for d in self.rows.deliveries(message_id)
        ]

    def counts(self) -> dict[str, int]:
        return self.rows.counts()

    # ---- the loop's pieces ---------------------------------------------------------------------

    def _maintain(self) -> None:
        now = self.clock.time()
        if now < self._maintain_at:
            return
        self._maintain_at = now + MAINTAIN_INTERVAL
        try:
            pruned, dropped = self.rows.maintain(now, self.settings.retention_seconds, self.settings.max_pending)
        except Exception:
            log.exception("webhook outbox maintenance failed")
            return
        if dropped:
            log.warning(
                "webhook outbox over %d pending events: dropped the %d oldest", self.settings.max_pending, dropped
            )
        if MAINTAIN_BATCH in (pruned, dropped):
            self._maintain_at = now  # more to do: again on the next turn, in another short step

    def _sleep(self) -> float:
        if len(self._inflight) >= self.concurrency:
            return IDLE  # a finishing delivery wakes the loop
        next_at = self.rows.next_due(list(self._inflight))
        if next_at is None:
            return IDLE
        return min(IDLE, max(0.0, next_at - self.clock.time()))

    async def _deliver(self, row: OutboxRow) -> None:
        try:
            await self._attempt(row)
        except Exception:
            log.exception("webhook event %s: delivery attempt failed unexpectedly", row.id)
            self._record(row, None, "internal error (see the gateway log)", None)
        finally:
            self._inflight.pop(row.seq, None)
            self._wake.set()

    async def _attempt(self, row: OutboxRow) -> None:
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
            signing.HEADER: signing.sign(target.secret, payload),  # real time: receivers check it against theirs
        }
        status: int | None = None
        error: str | None = None
        try:
            with busy(self.clock):  # fast-forwarded time waits for the receiver's answer
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

    def _freeze(self, row: OutboxRow) -> bytes | None:
        """Build the body once; every retry sends these exact bytes."""
        message = self.store.get(row.message_id)
        if message is None:
            return None
        sequence = self.rows.sequence(row)
        payload = body(row.id, row.type, row.created_at, sequence, message, json.loads(row.snapshot_json))
        self.rows.freeze(row, payload)
        return payload

    def _record(self, row: OutboxRow, status: int | None, error: str | None, url: str | None) -> None:
        now = self.clock.time()
        attempts = row.attempts + 1
        if error is None:
            self.rows.delivered(row, attempts, now, status, url)
            return
        horizon = row.created_at + self.settings.max_age_seconds
        if now >= horizon:
            log.warning("webhook event %s (%s) not delivered after %d attempts: %s", row.id, row.type, attempts, error)
            state, next_at = "failed", now
        else:
            delay = min(MAX_BACKOFF, self.settings.retry_seconds * 2 ** (attempts - 1)) * random.uniform(0.8, 1.0)
            # The last try lands on the horizon itself rather than skipping it.
            state, next_at = "pending", min(now + delay, horizon)
        self.rows.attempted(
            row, state=state, attempts=attempts, now=now, status=status, error=error, next_at=next_at, url=url
        )

    def _give_up(self, row: OutboxRow, why: str) -> None:
        log.warning("webhook event %s (%s) dropped: %s", row.id, row.type, why)
        self.rows.given_up(row, why, self.clock.time())
