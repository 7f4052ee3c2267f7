"""Applying delivery reports to stored messages: one small state machine.

    sent ──final report──> delivered | undelivered | failed      (the first final report wins)

- Every report becomes an event of its message (``delivery_report``), applied or not, so the
  history shows duplicates, late reports and per-part reports too.
- A report for an ``unconfirmed`` message (the gateway stopped before its provider answered)
  first confirms it as sent under the report's id (``Store.confirm``), then applies as usual.
- Only ``sent`` (or, defensively, ``queued``) moves, and only to a final status. A late ``sent``
  never overwrites a final status; a second final report is recorded but changes nothing, so a
  multi-part message gets one final status and the customer one notification.
- Messages are found by ``(provider, provider_message_id)``, the id each adapter recorded.
- A report for a message the store does not know (yet) is *parked*: a provider can report before
  the gateway has recorded the provider id it names (a Twilio bulk commits its round after the
  last request), and dropping it would lose the delivery for good. The store hands parked reports
  over the moment their provider id is recorded (``ReportRows.recorded``, an indexed look-up),
  so nothing polls; they are dropped with a warning after ``park_seconds`` (a report for a
  message this gateway never sent, e.g. on a shared provider account), and beyond ``park_max``
  parked reports of one provider, new ones are dropped at once (a flood cannot fill the disk).

Each status change is announced to the customer by the store in the same transaction
(``ReportRows.move`` adds its outbox event), so a change and its webhook exist together.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass
from typing import Final, Literal

from lynsms.clock import SYSTEM_CLOCK, Clock
from lynsms.gateway.models import MessageError, now_iso
from lynsms.gateway.providers.reports import FINAL, Report
from lynsms.gateway.store import Store
from lynsms.gateway.store.db import transaction
from lynsms.gateway.store.reports import ParkedReport

log = logging.getLogger("lynsms.gateway")

Source = Literal["webhook", "poll"]

# A message error code per final status a report can set (``delivered`` has none).
ERROR_CODES: Final = {"undelivered": "undelivered", "failed": "delivery_failed"}


@dataclass(frozen=True)
class Applied:
    reports: int = 0
    changed: int = 0  # moved a message to a new status
    recorded: int = 0  # recorded without a change: duplicate, late, informational
    parked: int = 0  # no such message (yet)

    def __add__(self, other: Applied) -> Applied:
        return Applied(
            self.reports + other.reports,
            self.changed + other.changed,
            self.recorded + other.recorded,
            self.parked + other.parked,
        )

    def to_json(self) -> dict[str, int]:
        return {"reports": self.reports, "changed": self.changed, "recorded": self.recorded, "parked": self.parked}


def transition(current: str, incoming: str | None) -> tuple[str | None, str | None]:
    """The new status (None: unchanged) and, when unchanged, why."""
    if incoming is None:
        return None, "informational"
    if current in FINAL:
        return None, f"the message is already {current}"
    if current == incoming:
        return None, "duplicate"
    return incoming, None


class ReportApplier:
    """Moves messages on as their provider reports them, whether pushed (``delivery.inbound``) or
    polled (``delivery.polling``)."""

    def __init__(self, store: Store, park_seconds: float, clock: Clock = SYSTEM_CLOCK, park_max: int = 10_000) -> None:
        self.store = store
        self.rows = store.reports
        self.park_seconds = park_seconds
        self.park_max = park_max
        self.clock = clock
        self.refused: Counter[str] = Counter()  # reports not parked (the cap), logged by ``expire``
        self.rows.listener = self._matched

    @property
    def parked(self) -> int:
        return self.rows.parked_count()

    def apply(self, reports: Sequence[Report], source: Source) -> Applied:
        """Apply ``reports`` in order, in one transaction."""
        total = Applied()
        with transaction(self.store.db):
            for report in reports:
                result = self._apply_one(report, source)
                if result is None:
                    result = self._park(report, source)
                total += result
        return total

    def expire(self) -> int:
        """Drop reports parked longer than ``park_seconds``; how many are still parked."""
        with transaction(self.store.db):
            gone = self.rows.expire(self.clock.time() - self.park_seconds)
        for provider, count in sorted(gone.items()):
            log.warning("dropped %d %s report(s) for unknown messages after %.0f s", count, provider, self.park_seconds)
        for provider, count in sorted(self.refused.items()):
            log.warning(
                "dropped %d %s report(s) for unknown messages: %d already parked", count, provider, self.park_max
            )
        self.refused.clear()
        return self.parked

    def _park(self, report: Report, source: Source) -> Applied:
        if self.rows.parked_counts[report.provider] >= self.park_max:
            self.refused[report.provider] += 1
            return Applied(reports=1)
        log.info(
            "%s report for unknown message %s parked", report.provider, report.provider_message_id or report.batch_id
        )
        self.rows.park(source, asdict(report), self.clock.time())
        return Applied(reports=1, parked=1)

    def _matched(self, entries: list[ParkedReport]) -> None:
        """The store recorded the provider ids these parked reports name: apply them now."""
        try:
            with self._transaction():
                applied = [entry for entry in entries if self._apply_one(Report(**entry.report), entry.source)]
                self.rows.unpark(applied)
        except Exception:  # the send that recorded the ids stands; the reports stay parked
            log.exception("applying parked delivery reports failed")

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        # Inside the recording transaction when the store is in one; else one of its own.
        with nullcontext() if self.store.db.in_transaction else transaction(self.store.db):
            yield

    def _confirms(self, report: Report) -> list[tuple[str, str]]:
        """A report naming an ``unconfirmed`` message proves its provider took it: record it as
        sent under the report's id, then apply the report to it like to any other."""
        if report.provider_message_id is None:
            return []
        message_id = self.store.unconfirmed_named(report.provider, report.provider_message_id, report.to)
        if message_id is None:
            return []
        self.store.confirm(message_id, report.provider_message_id, "a delivery report named it")
        return self.rows.targets(report.provider, report.provider_message_id, None)

    def _apply_one(self, report: Report, source: str) -> Applied | None:
        targets = self.rows.targets(report.provider, report.provider_message_id, report.batch_id) or self._confirms(
            report
        )
        if not targets:
            return None
        now = now_iso(self.clock)
        changed = recorded = 0
        for message_id, current in targets:
            new, note = transition(current, report.status)
            if new is not None:
                error = _error(report, new)
                # A no-op if anything moved the message meanwhile (the move is guarded by status).
                self.rows.move(
                    message_id,
                    current,
                    new,
                    error.code if error else None,
                    json.dumps(error.to_json()) if error else None,
                    now,
                )
                changed += 1
            else:
                recorded += 1
            detail = {**report.to_json(), "source": source, "applied": new is not None}
            if note:
                detail["note"] = note
            self.rows.record(message_id, new or current, now, detail)
        return Applied(reports=1, changed=changed, recorded=recorded)


def _error(report: Report, status: str) -> MessageError | None:
    code = ERROR_CODES.get(status)
    if code is None:
        return None
    what = report.error_text or report.provider_status
    return MessageError(
        code=code,
        message=f"{report.provider} reported the message {status}: {what}",
        provider=report.provider,
        provider_code=report.error_code,
    )
