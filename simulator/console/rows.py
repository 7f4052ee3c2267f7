"""What the console lists: one row per submission (accepted, refused or rejected) and per inbound
message, each with one normalised status next to the provider's own word.

Accepted messages come from the message store; everything the providers turned down exists only in
the journal entry of its request, so it is read from there; inbound messages are the journal's
``INBOUND`` entries (the first push attempt of each).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from datetime import datetime
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Final, Literal

from lynsms.gateway.segmentation import GSM_BASIC, GSM_EXTENSION, segment
from lynsms.simulator.decision import BODY_FAULTS
from lynsms.simulator.messages import Submission

if TYPE_CHECKING:
    from lynsms.simulator.messages import SimMessage
    from lynsms.simulator.state import JournalEntry, SimState

Status = Literal["sent", "delivered", "undelivered", "failed", "rejected", "scheduled", "received"]
STATUSES: Final[tuple[Status, ...]] = (
    "sent",
    "delivered",
    "undelivered",
    "failed",
    "rejected",
    "scheduled",
    "received",
)
# Journal methods that are not a client's request to a provider.
_PUSHES: Final = frozenset({"CALLBACK", "INBOUND"})


_NORMALISED: dict[str, Status] = {}


def normalise(word: str) -> Status:
    """``_normalise``, remembered: the vocabularies are small and this runs for every status move."""
    found = _NORMALISED.get(word)
    if found is None:
        found = _NORMALISED[word] = _normalise(word)
    return found


def _normalise(word: str) -> Status:
    """One status for the four providers' vocabularies (Twilio ``delivered``, Sinch ``Dispatched``,
    Infobip ``DELIVERED_TO_HANDSET``, ClickSend ``Delivered``...). Order matters:
    ``UNDELIVERABLE`` contains ``DELIVER``. Anything still on its way is ``sent``."""
    lower = word.lower()
    if "undeliver" in lower or "expired" in lower:
        return "undelivered"
    if "deliver" in lower:
        return "delivered"
    if "reject" in lower:
        return "rejected"
    if "fail" in lower or "abort" in lower or "cancel" in lower:
        return "failed"
    if "schedul" in lower:
        return "scheduled"
    return "sent"


# A row travels as an array in this field order (the page and the snapshot name the fields once):
# building and encoding a tuple costs half what a dict does, on a path every message takes.
ROW_FIELDS: Final = (
    "id",
    "dir",
    "provider",
    "account",
    "to",
    "from",
    "body",
    "status",
    "word",
    "error",
    "segments",
    "encoding",
    "at",
    "updated",
    "seq",
)
Row = tuple[Any, ...]
JOURNAL_FIELDS: Final = (
    "seq",
    "at",
    "method",
    "path",
    "provider",
    "account",
    "message_ids",
    "outcome",
    "status",
    "duration_ms",
)


def as_dict(row: Row) -> dict[str, Any]:
    return dict(zip(ROW_FIELDS, row, strict=True))


# ClickSend's history word is "Sent" both on the way and on the handset: its receipt's status code
# tells them apart (200 sent, 201 delivered, 300 temporary failure, 301 permanent failure).
_RECEIPT_CODES: Final[dict[int, Status]] = {200: "sent", 201: "delivered", 300: "undelivered", 301: "failed"}


def status_of(message: SimMessage) -> tuple[Status, str]:
    """The normalised status and the provider's own word for it."""
    code = getattr(message.extra.get("receipt"), "status_code", None) if message.extra else None
    if code in _RECEIPT_CODES:
        return _RECEIPT_CODES[code], f"{message.status} ({code})"
    return normalise(message.status), message.status


def message_row(message: SimMessage, seq: int | None = None) -> Row:
    submission = message.submission
    status, word = status_of(message)
    # Datetimes as they are: orjson writes them (as isoformat would) faster than Python can.
    return (
        message.id,
        "out",
        message.provider,
        message.account,
        submission.to,
        submission.sender,
        submission.body,
        status,
        word,
        message.error_code,
        message.segments,
        message.encoding,
        message.created_at,
        message.updated_at,
        seq,
    )


def status_patch(message: SimMessage) -> tuple[str, Status, str, str | None, datetime]:
    """What moves when a message's status does: id, status, the provider's word, error, updated."""
    status, word = status_of(message)
    return (message.id, status, word, message.error_code, message.updated_at)


def _word(outcome: dict[str, Any]) -> str | None:
    """The provider's word for submissions decided ``outcome``; None when they were accepted
    (a garbled success body still accepted them)."""
    kind = outcome.get("kind")
    if kind == "accept" or (kind == "fault" and outcome.get("fault") in BODY_FAULTS):
        return None
    if kind == "reject":
        return str(outcome.get("reason"))
    if kind == "http_error":
        return f"HTTP {outcome.get('status')}"
    if kind == "fault":
        return str(outcome.get("fault"))
    return str(outcome.get("detail") or kind or "rejected")


def turned_down(entry: JournalEntry) -> dict[int, str]:
    """The submissions of a send request that did not become messages, by position, with the
    provider's word for each: the scripted reason, the HTTP error, the fault or its own refusal."""
    outcome = entry.outcome
    refused: dict[str, str] = outcome.get("refused") or {}
    found = {int(index): str(word) for index, word in refused.items()}
    per = outcome.get("per_message")
    decided = [i for i in range(len(entry.messages)) if i not in found]
    for position, index in enumerate(decided):
        word = _word(per[position] if per is not None and position < len(per) else outcome)
        if word is not None:
            found[index] = word
    return found


def entry_rows(entry: JournalEntry, store: Mapping[str, SimMessage] | None = None) -> Iterator[Row]:
    """The rows one settled journal entry contributes: its accepted messages (from ``store``, when
    given), the submissions that were turned down, or the inbound message it pushed."""
    if entry.method == "INBOUND":
        if entry.outcome.get("attempt", 1) == 1 and entry.messages:
            yield inbound_row(entry)
        return
    if entry.method in _PUSHES:
        return
    if store is not None:
        for message_id in entry.message_ids:
            message = store.get(message_id)
            if message is not None:
                yield message_row(message, entry.seq)
    outcome = entry.outcome
    if not entry.messages or (outcome.get("kind") == "accept" and "refused" not in outcome):
        return  # the common case: every submission became a message
    for index, word in turned_down(entry).items():
        submission = entry.messages[index]
        if not isinstance(submission, Submission):
            continue
        at = entry.at
        row_id = f"r{entry.seq}-{index}"
        # Fields in ROW_FIELDS order; no segments or encoding: the provider never counted them.
        yield (
            *(row_id, "out", entry.provider, entry.account, submission.to, submission.sender, submission.body),
            *("rejected", word, None, None, None, at, at, entry.seq),
        )


def inbound_row(entry: JournalEntry) -> Row:
    item = entry.messages[0]
    data: dict[str, Any] = item if isinstance(item, dict) else {}
    at = entry.at  # the first push: when the handset's message reached the provider
    word = str(entry.outcome.get("result") or "received")
    row_id = str(data.get("id") or f"i{entry.seq}")
    return (
        *(row_id, "in", entry.provider, entry.account, data.get("to"), data.get("from"), data.get("body", "")),
        *("received", word, None, data.get("segments"), None, at, at, entry.seq),
    )


def journal_summary(entry: JournalEntry) -> tuple[Any, ...]:
    """A journal entry as the live feed sends it (``JOURNAL_FIELDS``): without the submissions,
    which ``GET /_sim/console/journal/{seq}`` gives."""
    return (
        entry.seq,
        entry.at,
        entry.method,
        entry.path,
        entry.provider,
        entry.account,
        entry.message_ids,
        entry.outcome,
        entry.status,
        round(entry.duration_ms, 3),
    )


def is_settled(entry: JournalEntry) -> bool:
    """Answered (or given up on): nothing about the entry changes any more."""
    if entry.outcome.get("result") == "in_flight":
        return False
    return entry.status is not None or entry.outcome.get("kind") in ("client_gave_up", "callback", "inbound")


def snapshot(state: SimState, last: int | None = None) -> list[Row]:
    """Every row, oldest first: the messages in store plus what the journal holds besides; only the
    newest ``last`` when given (the console's first screen, read before the rest)."""
    if last is not None:
        return _newest(state, last)
    seq_of: dict[str, int] = {}
    others: list[Row] = []
    for entry in state.journal:
        for message_id in entry.message_ids:
            seq_of.setdefault(message_id, entry.seq)
        if entry.outcome.get("kind") != "accept" or "refused" in entry.outcome or entry.method == "INBOUND":
            others.extend(entry_rows(entry))
    rows = [message_row(m, seq_of.get(m.id)) for m in state.messages.values()]
    if others:
        rows.extend(others)
        rows.sort(key=itemgetter(ROW_FIELDS.index("at")))
    return rows


def _newest(state: SimState, count: int) -> list[Row]:
    """The newest ``count`` rows, oldest first, reading only the newest ends of the store and journal."""
    messages = list(itertools.islice(reversed(state.messages.values()), count))
    # Journal entries older than the oldest of these messages cannot add a row among the newest.
    oldest = messages[-1].created_at if len(messages) == count else None
    seq_of: dict[str, int] = {}
    others: list[Row] = []
    for entry in reversed(list(state.journal)):
        if oldest is not None and entry.at < oldest:
            break
        for message_id in entry.message_ids:
            seq_of[message_id] = entry.seq
        if entry.outcome.get("kind") != "accept" or "refused" in entry.outcome or entry.method == "INBOUND":
            others.extend(entry_rows(entry))
    rows = [message_row(m, seq_of.get(m.id)) for m in messages] + others
    rows.sort(key=itemgetter(ROW_FIELDS.index("at")))
    return rows[-count:] if count else []


def segment_map(body: str) -> dict[str, Any]:
    """The body as the provider counts it: its parts, and in each the runs of characters that
    forced UCS-2 (outside both GSM-7 tables) or cost two septets (GSM-7 extension, sent after ESC)."""
    shape = segment(body)
    ucs2 = shape.encoding == "UCS-2"
    parts = []
    for text in shape.parts:
        runs: list[dict[str, str]] = []
        for char in text:
            kind = (
                "escape"
                if char in GSM_EXTENSION and not ucs2
                else "ucs2"
                if ucs2 and char not in GSM_BASIC and char not in GSM_EXTENSION
                else "plain"
            )
            if runs and runs[-1]["kind"] == kind:
                runs[-1]["text"] += char
            else:
                runs.append({"kind": kind, "text": char})
        parts.append({"runs": runs, "units": _units(text, ucs2)})
    return {"encoding": shape.encoding, "segments": shape.segments, "units": shape.units, "parts": parts}


def _units(text: str, ucs2: bool) -> int:
    if ucs2:
        return len(text.encode("utf-16-le")) // 2
    return sum(2 if c in GSM_EXTENSION else 1 for c in text)
