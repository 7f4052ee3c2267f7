"""Applying delivery reports to stored messages: one small state machine, in SQL.

    sent ──final report──> delivered | undelivered | failed      (the first final report wins)

- Every report becomes an event of its message (``delivery_report``), applied or not, so the
  history shows duplicates, late reports and per-part reports too.
- Only ``sent`` (or, defensively, ``queued``) moves, and only to a final status. A late ``sent``
  never overwrites a final status; a second final report is recorded but changes nothing, so a
  multi-part message gets one final status and the customer one notification.
- Messages are found by ``(provider, provider_message_id)``, the id each adapter recorded.
- A report for a message the store does not know (yet) is *parked*: a provider can report before
  the gateway has committed the send that it answers (a Twilio bulk commits its round after the
  last request), and dropping it would lose the delivery for good. Parked reports are applied as
  soon as their message appears (``reconcile``) and dropped with a warning after ``park_seconds``
  (a report for a message this gateway never sent, e.g. on a shared provider account).

Customer webhooks need nothing here: the outbox's triggers see every status change.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Final, Literal

from lynsms.gateway.models import MessageError, now_iso
from lynsms.gateway.providers.reports import FINAL, Report

log = logging.getLogger("lynsms.gateway")

Source = Literal["webhook", "poll"]

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS parked_reports (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    report_json TEXT NOT NULL,
    received_at REAL NOT NULL
);
"""
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


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[None]:
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


class Tracker:
    def __init__(self, db: sqlite3.Connection, park_seconds: float, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.park_seconds = park_seconds
        self.clock = clock
        db.executescript(_SCHEMA)
        self.parked = int(db.execute("SELECT COUNT(*) FROM parked_reports").fetchone()[0])

    def apply(self, reports: Sequence[Report], source: Source) -> Applied:
        """Apply ``reports`` in order, in one transaction."""
        total = Applied()
        with transaction(self.db):
            for report in reports:
                result = self._apply_one(report, source)
                if result is None:
                    self._park(report, source)
                    result = Applied(reports=1, parked=1)
                total += result
        return total

    def reconcile(self) -> int:
        """Apply parked reports whose message is now known; drop the expired. Returns how many
        are still parked."""
        if not self.parked:
            return 0
        horizon = self.clock() - self.park_seconds
        with transaction(self.db):
            rows = self.db.execute(
                "SELECT seq, source, report_json, received_at FROM parked_reports ORDER BY seq"
            ).fetchall()
            done: list[int] = []
            for seq, source, report_json, received_at in rows:
                report = Report(**json.loads(report_json))
                if self._apply_one(report, source) is not None:
                    done.append(seq)
                elif received_at < horizon:
                    log.warning(
                        "dropped a %s report for unknown message %s after %.0f s",
                        report.provider,
                        report.provider_message_id or report.batch_id,
                        self.park_seconds,
                    )
                    done.append(seq)
            self.db.executemany("DELETE FROM parked_reports WHERE seq=?", [(seq,) for seq in done])
        self.parked = len(rows) - len(done)
        return self.parked

    def _park(self, report: Report, source: Source) -> None:
        log.info(
            "%s report for unknown message %s parked", report.provider, report.provider_message_id or report.batch_id
        )
        self.db.execute(
            "INSERT INTO parked_reports (source, report_json, received_at) VALUES (?,?,?)",
            (source, json.dumps(asdict(report)), self.clock()),
        )
        self.parked += 1

    def _targets(self, report: Report) -> list[tuple[str, str]]:
        if report.provider_message_id is not None:
            rows = self.db.execute(
                "SELECT id, status FROM messages WHERE provider=? AND provider_message_id=?",
                (report.provider, report.provider_message_id),
            )
        else:  # a Sinch batch report covering every recipient: ids are "{batch_id}:+E164"
            prefix = f"{report.batch_id}:"
            rows = self.db.execute(
                "SELECT id, status FROM messages WHERE provider=? AND provider_message_id >= ? AND provider_message_id < ?",
                (report.provider, prefix, prefix[:-1] + ";"),
            )
        return [(str(mid), str(status)) for mid, status in rows]

    def _apply_one(self, report: Report, source: Source) -> Applied | None:
        targets = self._targets(report)
        if not targets:
            return None
        now = now_iso()
        changed = recorded = 0
        for message_id, current in targets:
            new, note = transition(current, report.status)
            if new is not None:
                error = _error(report, new)
                # The status guard makes the update a no-op if anything moved the message meanwhile.
                self.db.execute(
                    "UPDATE messages SET status=?, error_code=?, error_json=?, updated_at=? WHERE id=? AND status=?",
                    (
                        new,
                        error.code if error else None,
                        json.dumps(error.to_json()) if error else None,
                        now,
                        message_id,
                        current,
                    ),
                )
                changed += 1
            else:
                recorded += 1
            detail = {**report.to_json(), "source": source, "applied": new is not None}
            if note:
                detail["note"] = note
            self.db.execute(
                "INSERT INTO events (message_id, type, status, at, detail_json) VALUES (?, 'delivery_report', ?, ?, ?)",
                (message_id, new or current, now, json.dumps(detail)),
            )
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
