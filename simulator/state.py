"""Everything the simulator remembers, owned by one app instance and wiped by one ``reset``.

Ids come from one generator per state. By default it is seeded from the operating system at every
start and every ``reset``, so provider ids (Twilio SIDs, Sinch batch ids...) never repeat across
resets, restarts or parallel simulators: a gateway matches delivery reports by them. Given an
explicit seed, the same seed and the same request sequence give the same ids (journals comparable
between runs), and ``reset`` starts the sequence again.
"""

from __future__ import annotations

import random
import string
from collections import OrderedDict, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lynsms.clock import SYSTEM_CLOCK, Clock, utc_now
from lynsms.simulator.messages import SimMessage, Submission
from lynsms.simulator.timeline import Timeline

DEFAULT_JOURNAL_SIZE = 10_000
# Like Mailpit's --max, the oldest messages go once there are this many, so a soak test of
# millions of sends runs in constant memory (about 2.5 KB a message with its reports).
DEFAULT_MAX_MESSAGES = 20_000
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class Ids:
    """Provider-shaped ids from one generator: reproducible from ``seed``, or unique (seeded from
    the operating system's entropy) when ``seed`` is None."""

    def __init__(self, seed: int | None) -> None:
        self._rng = random.Random(seed)  # None: os.urandom

    def hex(self, length: int) -> str:
        return f"{self._rng.getrandbits(length * 4):0{length}x}"

    def uuid(self) -> str:
        h = self.hex(32)
        # Version 4 and RFC 4122 variant bits, like uuid.uuid4(), but reproducible.
        h = h[:12] + "4" + h[13:16] + "89ab"[int(h[16], 16) & 3] + h[17:]
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def ulid(self) -> str:
        """26 Crockford base32 characters, the shape of Sinch batch ids."""
        return "".join(self._rng.choice(_CROCKFORD) for _ in range(26))

    def digits(self, length: int) -> str:
        return "".join(self._rng.choice(string.digits) for _ in range(length))

    def token(self, length: int = 40) -> str:
        return "".join(self._rng.choice(string.ascii_letters + string.digits) for _ in range(length))


@dataclass(slots=True)
class JournalEntry:
    """One request to the simulator and what it chose to do."""

    seq: int
    at: datetime
    method: str
    path: str
    provider: str | None
    account: str | None = None
    # Submissions as parsed (serialised only when the journal is read: most entries never are) or
    # JSON-ready dicts (callback reports).
    messages: list[Submission | dict[str, Any]] = field(default_factory=list)
    outcome: dict[str, Any] = field(default_factory=lambda: {"kind": "accept"})
    status: int | None = None  # None when no response was sent (connection reset, client gave up)
    duration_ms: float = 0.0
    message_ids: list[str] = field(default_factory=list)
    # The raw request body and the answer's status and body, for the console's message detail.
    exchange: tuple[bytes, int, bytes] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at.isoformat(),
            "method": self.method,
            "path": self.path,
            "provider": self.provider,
            "account": self.account,
            "messages": [m.to_json() if isinstance(m, Submission) else m for m in self.messages],
            "message_ids": self.message_ids,
            "outcome": self.outcome,
            "status": self.status,
            "duration_ms": round(self.duration_ms, 3),
        }


class Journal:
    """The newest ``size`` requests; older ones fall off so a long run cannot eat memory."""

    def __init__(self, size: int = DEFAULT_JOURNAL_SIZE, clock: Clock = SYSTEM_CLOCK) -> None:
        self._clock = clock
        self._entries: deque[JournalEntry] = deque(maxlen=size)
        self._seq = 0
        self.dropped = 0

    @property
    def size(self) -> int:
        return self._entries.maxlen or 0

    def open(self, method: str, path: str, provider: str | None) -> JournalEntry:
        self._seq += 1
        if len(self._entries) == self._entries.maxlen:
            self.dropped += 1
        entry = JournalEntry(self._seq, utc_now(self._clock), method, path, provider)
        self._entries.append(entry)
        return entry

    @property
    def seq(self) -> int:
        """The newest entry's number (0 when empty: numbering restarts on ``clear``)."""
        return self._seq

    def since(self, seq: int) -> list[JournalEntry]:
        """Entries numbered after ``seq``, oldest first, found from the newest end."""
        found: list[JournalEntry] = []
        for entry in reversed(self._entries):
            if entry.seq <= seq:
                break
            found.append(entry)
        found.reverse()
        return found

    def __iter__(self) -> Iterator[JournalEntry]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()
        self._seq = 0
        self.dropped = 0


class SimState:
    """Messages, journal, per-credential call counters and per-provider extras of one simulator."""

    def __init__(
        self,
        seed: int | None = None,
        journal_size: int = DEFAULT_JOURNAL_SIZE,
        max_messages: int = DEFAULT_MAX_MESSAGES,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.seed = seed
        self.clock = clock
        self.journal = Journal(journal_size, clock)
        self.ids = Ids(seed)
        # Oldest first. An OrderedDict because the store is a FIFO once full: evicting the oldest
        # of a plain dict (``next(iter(d))``) walks the holes earlier evictions left, ~7 us a
        # message at 20,000 entries, against O(1) for ``popitem(last=False)``.
        self.messages: OrderedDict[str, SimMessage] = OrderedDict()
        self.max_messages = max_messages
        self.dropped_messages = 0
        # Recipient (digits, no '+') -> ids of the messages sent to it, oldest first: filtered lists
        # ("what went to X?") look here instead of walking a full store.
        self.by_recipient: dict[str, dict[str, None]] = {}
        # (provider, account) -> its messages in creation order: date ranges and "newest first".
        self.timelines: dict[tuple[str, str], Timeline] = {}
        # Counters for "the n-th call to this provider", per (provider, account).
        self.calls: dict[tuple[str, str], int] = {}
        # Provider modules keep their own extra state here, e.g. ClickSend receipt URLs, Sinch tokens.
        self.extras: dict[str, dict[str, Any]] = {}
        self.started = clock.monotonic()
        # Ids of messages whose status moved, collected only while a console listens (None: nobody).
        self.touched: set[str] | None = None

    def reset(self) -> None:
        self.journal.clear()
        self.ids = Ids(self.seed)
        self.messages.clear()
        self.by_recipient.clear()
        self.timelines.clear()
        self.dropped_messages = 0
        self.calls.clear()
        self.extras.clear()

    def touch(self, message: SimMessage) -> None:
        """Note that ``message`` changed, for the console's live feed."""
        if self.touched is not None:
            self.touched.add(message.id)

    def extra(self, provider: str) -> dict[str, Any]:
        return self.extras.setdefault(provider, {})

    def count_call(self, provider: str, account: str) -> int:
        """Count one more call to ``provider`` under ``account``; returns its 1-based index."""
        key = (provider, account)
        n = self.calls.get(key, 0) + 1
        self.calls[key] = n
        return n

    def add(self, messages: Iterable[SimMessage]) -> None:
        stored = self.messages
        index = self.by_recipient
        timelines = self.timelines
        for message in messages:
            stored[message.id] = message
            index.setdefault(message.to.lstrip("+"), {})[message.id] = None
            timeline = timelines.get((message.provider, message.account))
            if timeline is None:
                timeline = timelines[(message.provider, message.account)] = Timeline()
            timeline.add(message)
            if len(stored) > self.max_messages:
                _, gone = stored.popitem(last=False)
                self._unindex(gone)
                self.dropped_messages += 1

    def _unindex(self, message: SimMessage) -> None:
        timeline = self.timelines.get((message.provider, message.account))
        if timeline is not None:
            timeline.evicted(message)
        ids = self.by_recipient.get(message.to.lstrip("+"))
        if ids is not None:
            ids.pop(message.id, None)
            if not ids:
                del self.by_recipient[message.to.lstrip("+")]

    def owned(
        self,
        provider: str,
        account: str,
        low: float | None = None,
        high: float | None = None,
        *,
        newest_first: bool = False,
    ) -> Iterator[SimMessage]:
        """``provider``'s messages under ``account`` created from ``low`` to ``high`` (unix seconds,
        None: unbounded), oldest first unless ``newest_first``."""
        timeline = self.timelines.get((provider, account))
        if timeline is None:
            return iter(())
        return timeline.between(self.messages, low, high, newest_first=newest_first)

    def restatus(self, message: SimMessage, status: str) -> None:
        """Keep the status index current: call before ``message.status`` becomes ``status``."""
        timeline = self.timelines.get((message.provider, message.account))
        if timeline is not None and status != message.status:
            timeline.restatus(message, status)

    def in_status(self, provider: str, account: str, statuses: Iterable[str]) -> list[SimMessage]:
        """``provider``'s messages under ``account`` in any of ``statuses``, oldest first."""
        timeline = self.timelines.get((provider, account))
        return [] if timeline is None else timeline.in_status(self.messages, statuses)

    def statuses(self, provider: str, account: str) -> dict[str, int]:
        """How many of ``provider``'s messages under ``account`` are in each status."""
        timeline = self.timelines.get((provider, account))
        return {} if timeline is None else {status: len(ids) for status, ids in timeline.statuses.items()}

    def sent_to(self, to: str) -> list[SimMessage]:
        """Messages to ``to`` (with or without '+'), oldest first, from the recipient index."""
        stored = self.messages
        found = (stored.get(i) for i in self.by_recipient.get(to.lstrip("+"), ()))
        return [m for m in found if m is not None and m.to.lstrip("+") == to.lstrip("+")]

    def find(self, provider: str | None = None, to: str | None = None) -> list[SimMessage]:
        found = self.messages.values()
        return [
            m for m in found if (provider is None or m.provider == provider) and (to is None or _same_number(m.to, to))
        ]


def _same_number(a: str, b: str) -> bool:
    """Providers differ on the leading '+' (Sinch reports '12025550143'); compare without it."""
    return a.lstrip("+") == b.lstrip("+")
