"""The console's live feed: what changed in the simulator, pushed to every open console over SSE.

Nothing is pushed from the request path. Providers only note which messages moved
(``SimState.touch``, a set insertion, and only while a console listens); one ticker per simulator
wakes every ``TICK`` seconds while at least one console is connected, reads the journal entries
newer than the last it sent (and the in-flight ones it is still watching), serialises each change
once, in one batch per tick, and hands the same encoded bytes to every subscriber. Journal entries
are built only while a console shows the journal (it says so: ``POST /_sim/events/{stream}``).
With no console open the feed costs nothing; with one open, it costs one row per message every
``TICK``, never work on a request's path.

Events (``event:`` names; ``data:`` is JSON):
- ``rows``: ``{"rows": [...]}`` new console rows (messages out and in, rejected sends), each an
  array in ``rows.ROW_FIELDS`` order;
- ``status``: ``{"moves": [[id, status, provider's word, error, updated], ...]}`` status changes;
- ``journal``: ``{"entries": [...]}`` completed journal entries (requests, callbacks, inbound), each
  an array in ``rows.JOURNAL_FIELDS`` order, without their submissions; only to the streams that
  asked for them;
- ``reset``: the simulator was reset, the console reloads its snapshot;
- ``ping`` every 15 s, so proxies and browsers keep the stream open.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import orjson

from lynsms.simulator.console.rows import (
    JOURNAL_FIELDS,
    ROW_FIELDS,
    Row,
    entry_rows,
    is_settled,
    journal_summary,
    status_patch,
)

if TYPE_CHECKING:
    from lynsms.simulator.state import JournalEntry, SimState

# Seconds between two looks at the simulator while a console is open: one batch per tick keeps the
# feed's cost per message low at any rate, and a row still shows well within the 500 ms promised.
TICK = 0.1
PING_TICKS = round(15.0 / TICK)  # a comment line every 15 s, so proxies and browsers keep the stream open
# A console that stops reading (a laptop lid closed) is dropped rather than buffered forever.
MAX_QUEUED = 2_000


def encode(event: str, data: Any) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


class Subscriber:
    """One open stream: its queue, and whether its console wants the journal's entries."""

    def __init__(self, number: int, journal: bool) -> None:
        self.number = number
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(MAX_QUEUED)
        self.journal = journal


class Feed:
    """Subscribers and the ticker that feeds them."""

    def __init__(self, state: SimState) -> None:
        self.state = state
        self._subscribers: dict[int, Subscriber] = {}
        self._numbers = itertools.count(1)
        # A timer, not a task sleeping in a loop: a tick that finds nothing then costs one callback.
        self._ticker: asyncio.TimerHandle | None = None
        self._ticks = 0
        self._seq = 0  # the newest journal seq already sent
        self._watching: dict[int, JournalEntry] = {}  # sent while still in flight, sent again when settled

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def want_journal(self, number: int, journal: bool) -> bool:
        """Start or stop sending journal entries to stream ``number``; False when it is not open."""
        subscriber = self._subscribers.get(number)
        if subscriber is None:
            return False
        subscriber.journal = journal
        return True

    async def stream(self, journal: bool = False) -> AsyncIterator[bytes]:
        """One console's stream: a ``hello`` with its number and the journal position, then changes
        as they happen."""
        subscriber = Subscriber(next(self._numbers), journal)
        queue = subscriber.queue
        if not self._subscribers:
            self._start()
        self._subscribers[subscriber.number] = subscriber
        try:
            hello = {"stream": subscriber.number, "seq": self._seq, "fields": ROW_FIELDS, "journal": JOURNAL_FIELDS}
            yield b"retry: 1000\n" + encode("hello", hello)
            while (chunk := await queue.get()) is not None:
                yield chunk
        finally:
            self._subscribers.pop(subscriber.number, None)
            if not self._subscribers:
                self._stop()

    def _start(self) -> None:
        state = self.state
        self._seq = state.journal.seq
        self._watching.clear()
        state.touched = set()
        self._ticker = asyncio.get_running_loop().call_later(TICK, self._on_tick)

    def _stop(self) -> None:
        self.state.touched = None
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None

    async def close(self) -> None:
        """End every open stream (server shutdown) and stop the ticker."""
        for subscriber in list(self._subscribers.values()):
            _end(subscriber.queue)
        self._stop()

    def _on_tick(self) -> None:
        # Rescheduled first: a tick that fails (logged by the loop) does not stop the feed.
        self._ticker = asyncio.get_running_loop().call_later(TICK, self._on_tick)
        self._ticks += 1
        if self._ticks % PING_TICKS == 0:
            self._send_all(b": ping\n\n")
        self.tick()

    def tick(self) -> None:
        """Collect what changed since the last tick and send it to every subscriber."""
        changes, entries = self.collect(journal=any(s.journal for s in self._subscribers.values()))
        if changes or entries:
            self._send_all(changes, entries)

    def _send_all(self, changes: bytes, entries: bytes = b"") -> None:
        for subscriber in list(self._subscribers.values()):
            payload = changes + entries if subscriber.journal else changes
            if not payload:
                continue
            try:
                subscriber.queue.put_nowait(payload)
            except asyncio.QueueFull:
                del self._subscribers[subscriber.number]
                _end(subscriber.queue)

    def collect(self, journal: bool = True) -> tuple[bytes, bytes]:
        """The encoded events for what changed since the last call: the rows and status moves, and
        (when ``journal``, else not even built) the journal entries that completed."""
        state = self.state
        log = state.journal
        newest = log.seq
        if newest < self._seq:
            # The journal numbering started again: the simulator was reset.
            self._seq = newest
            self._watching.clear()
            if state.touched is not None:
                state.touched.clear()
            return encode("reset", {}), b""
        fresh = log.since(self._seq)
        self._seq = newest
        settled = [e for e in self._watching.values() if is_settled(e)]
        for entry in settled:
            del self._watching[entry.seq]
        for entry in fresh:
            if not is_settled(entry):
                self._watching[entry.seq] = entry
        entries = settled + [e for e in fresh if e.seq not in self._watching]
        store = state.messages
        rows: dict[str, Row] = {}
        for entry in entries:
            for row in entry_rows(entry, store):
                rows[row[0]] = row
        moves = []
        touched = state.touched
        if touched:
            for message_id in touched:
                message = store.get(message_id)
                if message is not None and message_id not in rows:  # a new row carries its status
                    moves.append(status_patch(message))
            touched.clear()
        changes = b""
        if rows:
            changes += encode("rows", {"rows": list(rows.values())})
        if moves:
            changes += encode("status", {"moves": moves})
        if journal and entries:
            return changes, encode("journal", {"entries": [journal_summary(e) for e in entries]})
        return changes, b""


def _end(queue: asyncio.Queue[bytes | None]) -> None:
    """Tell a stream to finish, making room in its queue if it is full (a console that stopped reading)."""
    if queue.full():
        with contextlib.suppress(asyncio.QueueEmpty):
            queue.get_nowait()
    queue.put_nowait(None)
