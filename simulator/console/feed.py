"""The console's live feed: what changed in the simulator, pushed to every open console over SSE.

Nothing is pushed from the request path. Providers only note which messages moved
(``SimState.touch``, a set insertion, and only while a console listens); one ticker per simulator
wakes every ``TICK`` seconds while at least one console is connected, reads the journal entries
newer than the last it sent (and the in-flight ones it is still watching), serialises each change
once and hands the same encoded bytes to every subscriber. With no console open the feed costs
nothing; with one open, it costs a serialisation per change, not per request path.

Events (``event:`` names; ``data:`` is JSON):
- ``rows``: ``{"rows": [...]}`` new console rows (messages out and in, rejected sends), each an
  array in ``rows.ROW_FIELDS`` order;
- ``status``: ``{"moves": [[id, status, provider's word, error, updated], ...]}`` status changes;
- ``journal``: ``{"entries": [...]}`` completed journal entries (requests, callbacks, inbound), each
  an array in ``rows.JOURNAL_FIELDS`` order, without their submissions;
- ``reset``: the simulator was reset, the console reloads its snapshot;
- ``ping`` every 15 s, so proxies and browsers keep the stream open.
"""

from __future__ import annotations

import asyncio
import contextlib
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

TICK = 0.05  # seconds between two looks at the simulator while a console is open
PING_EVERY = 15.0
# A console that stops reading (a laptop lid closed) is dropped rather than buffered forever.
MAX_QUEUED = 2_000


def encode(event: str, data: Any) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


class Feed:
    """Subscribers and the ticker that feeds them."""

    def __init__(self, state: SimState) -> None:
        self.state = state
        self._subscribers: set[asyncio.Queue[bytes | None]] = set()
        self._ticker: asyncio.Task[None] | None = None
        self._seq = 0  # the newest journal seq already sent
        self._watching: dict[int, JournalEntry] = {}  # sent while still in flight, sent again when settled

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    async def stream(self) -> AsyncIterator[bytes]:
        """One console's stream: a ``hello`` with the journal position, then changes as they happen."""
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(MAX_QUEUED)
        if not self._subscribers:
            self._start()
        self._subscribers.add(queue)
        try:
            yield b"retry: 1000\n" + encode(
                "hello", {"seq": self._seq, "fields": ROW_FIELDS, "journal": JOURNAL_FIELDS}
            )
            while True:
                try:
                    chunk = await asyncio.wait_for(queue.get(), PING_EVERY)
                except TimeoutError:
                    chunk = b": ping\n\n"
                if chunk is None:
                    return
                yield chunk
        finally:
            self._subscribers.discard(queue)
            if not self._subscribers:
                self._stop()

    def _start(self) -> None:
        state = self.state
        self._seq = state.journal.seq
        self._watching.clear()
        state.touched = set()
        self._ticker = asyncio.get_running_loop().create_task(self._run())

    def _stop(self) -> None:
        self.state.touched = None
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None

    async def close(self) -> None:
        """End every open stream (server shutdown) and stop the ticker."""
        for queue in list(self._subscribers):
            _end(queue)
        ticker, self._ticker = self._ticker, None
        if ticker is not None:
            ticker.cancel()
            await asyncio.gather(ticker, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(TICK)
            self.tick()

    def tick(self) -> None:
        """Collect what changed since the last tick and send it to every subscriber."""
        chunks = self.collect()
        if not chunks:
            return
        payload = b"".join(chunks)
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(payload)
            except asyncio.QueueFull:
                self._subscribers.discard(queue)
                _end(queue)

    def collect(self) -> list[bytes]:
        state = self.state
        journal = state.journal
        newest = journal.seq
        if newest < self._seq:
            # The journal numbering started again: the simulator was reset.
            self._seq = newest
            self._watching.clear()
            if state.touched is not None:
                state.touched.clear()
            return [encode("reset", {})]
        fresh = journal.since(self._seq)
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
        chunks = []
        if rows:
            chunks.append(encode("rows", {"rows": list(rows.values())}))
        if moves:
            chunks.append(encode("status", {"moves": moves}))
        if entries:
            chunks.append(encode("journal", {"entries": [journal_summary(e) for e in entries]}))
        return chunks


def _end(queue: asyncio.Queue[bytes | None]) -> None:
    """Tell a stream to finish, making room in its queue if it is full (a console that stopped reading)."""
    if queue.full():
        with contextlib.suppress(asyncio.QueueEmpty):
            queue.get_nowait()
    queue.put_nowait(None)
