"""The values the store keeps and the API renders: messages, their attempts and their events.

A message's life::

    queued ──provider accepted──> sent ──delivery report──> delivered | undelivered
       ├──hard failure / chain exhausted / invalid item / interrupted──> failed
       └──the gateway stopped while a provider was being asked──> unconfirmed
                                    unconfirmed ──the provider has it──> sent (or a later status)
                                    unconfirmed ──the provider has no record of it──> failed

``queued`` means stored and not yet accepted by any provider. ``unconfirmed``: a provider was
asked to send it and the gateway stopped before the answer arrived, so nobody knows yet whether
it went out; reconciliation with the provider (``delivery.reconcile``) or a delivery report
settles it, and it is never sent again in the meantime. Delivery reports (a later part of
the gateway) move ``sent`` on; the store keeps status as free text plus an event history so new
states need no schema change.
"""

from __future__ import annotations

import secrets
import string
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final, Literal

from lynsms.clock import SYSTEM_CLOCK, Clock

Status = Literal["queued", "sent", "failed", "delivered", "undelivered", "unconfirmed"]
STATUSES: Final[tuple[str, ...]] = ("queued", "sent", "failed", "delivered", "undelivered", "unconfirmed")
# A provider took these (``failed`` may be a delivery report's, so it does not say either way).
ACCEPTED_STATUSES: Final = frozenset({"sent", "delivered", "undelivered"})
AttemptOutcome = Literal["accepted", "retryable", "hard"]

_BASE62: Final = string.digits + string.ascii_uppercase + string.ascii_lowercase
# Random bytes to base62 in one C call: byte b becomes _BASE62[b % 62]; bytes >= 248 (= 4 x 62)
# are dropped so every character stays equally likely. (25 secrets.choice calls cost ~25 us.)
_TO_BASE62: Final = bytes((_BASE62 * 5)[:256], "ascii")
_UNEVEN: Final = bytes(range(248, 256))


def new_id(prefix: str, length: int = 25) -> str:
    chars = b""
    while len(chars) < length:
        chars += secrets.token_bytes(length + 8).translate(_TO_BASE62, _UNEVEN)
    return prefix + chars[:length].decode("ascii")


def new_message_id() -> str:
    """``msg_`` and 25 base62 characters: 7 of creation time (milliseconds, so ids sort by age)
    and 18 random ones (~107 bits, unguessable: Infobip's reports are matched by this id).

    Time first because every index keyed by message id (messages, attempts, events) then grows at
    its end instead of at random pages: SQLite's cost per send stays flat as the table grows,
    where fully random ids made it ~70% dearer by 40,000 messages."""
    millis = time.time_ns() // 1_000_000
    if millis != _last_stamp.value[0]:  # a bulk makes 1,000 ids in a few milliseconds
        digits: list[str] = []
        rest = millis
        for _ in range(7):  # 62**7 ms is 111 years: fixed width until 2081
            rest, digit = divmod(rest, 62)
            digits.append(_BASE62[digit])
        _last_stamp.value = (millis, "msg_" + "".join(reversed(digits)))
    return new_id(_last_stamp.value[1], 18)


class _Memo:
    """The last time formatted, reused while the time is the same: one tuple, replaced whole, so a
    gateway in another thread never reads a time with another time's text."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value: tuple[int, str] = (-1, "")


_last_stamp = _Memo()


def new_request_id() -> str:
    return new_id("req_", 20)


_last_iso = _Memo()


def now_iso(clock: Clock = SYSTEM_CLOCK) -> str:
    """ISO 8601, UTC, second precision: ``2026-05-12T11:34:21+00:00``."""
    second = int(clock.time())
    memo = _last_iso.value
    if second != memo[0]:  # a send asks several times a second; format once per second
        memo = _last_iso.value = (second, datetime.fromtimestamp(second, UTC).isoformat())
    return memo[1]


@dataclass(frozen=True)
class Attempt:
    provider: str
    outcome: AttemptOutcome
    at: str
    duration_ms: int
    reason: str | None = None  # the adapters' shared failure reason, e.g. "timeout"
    message: str | None = None
    provider_code: str | None = None
    http_status: int | None = None
    provider_message_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "outcome": self.outcome,
            "reason": self.reason,
            "message": self.message,
            "provider_code": self.provider_code,
            "http_status": self.http_status,
            "provider_message_id": self.provider_message_id,
            "duration_ms": self.duration_ms,
            "at": self.at,
        }


@dataclass(frozen=True)
class MessageError:
    code: str
    message: str
    provider: str | None = None
    reason: str | None = None
    provider_code: str | None = None

    def to_json(self) -> dict[str, Any]:
        extra = {"provider": self.provider, "reason": self.reason, "provider_code": self.provider_code}
        return {"code": self.code, "message": self.message, **{k: v for k, v in extra.items() if v is not None}}


@dataclass(frozen=True)
class Message:
    id: str
    to: str
    sender: str
    body: str
    status: Status
    segments: int
    encoding: str
    created_at: str
    updated_at: str
    reference: str | None = None
    route_id: int | None = None
    provider: str | None = None  # the provider that accepted it
    provider_message_id: str | None = None
    cost: Decimal = Decimal("0")
    currency: str = "USD"
    error: MessageError | None = None
    sent_at: str | None = None
    attempt_log: tuple[Attempt, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "message",
            "to": self.to,
            "from": self.sender,
            "body": self.body,
            "status": self.status,
            "cost": float(self.cost),
            "currency": self.currency,
            "provider": self.provider,
            "provider_message_id": self.provider_message_id,
            "attempts": len(self.attempt_log),
            "reference": self.reference,
            "segments": self.segments,
            "encoding": self.encoding,
            "route_id": self.route_id,
            "error": self.error.to_json() if self.error else None,
            "created_at": self.created_at,
            "sent_at": self.sent_at,
            "updated_at": self.updated_at,
            "attempt_log": [attempt.to_json() for attempt in self.attempt_log],
        }


@dataclass(frozen=True)
class Event:
    type: str  # queued, attempt, sent, failed (later: delivered, undelivered, webhook)
    at: str
    status: str | None = None  # the message's status after this event
    detail: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "at": self.at, "status": self.status, **(self.detail or {})}
