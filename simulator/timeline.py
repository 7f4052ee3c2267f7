"""One provider account's messages in the order they were created, and by status, for lists that
filter by date or status.

A list with a recipient filter reads the recipient index; a list filtered only by date (or by
status) would otherwise walk every stored message of every provider. Each (provider, account)
keeps the ids of its messages in creation order beside their creation times, so a date range is
two bisects and "newest first" a walk from the end that stops once a page is full.

Beside that, the ids in each status (in the order they reached it): a status filter that matches
few messages reads just those, sorted by creation time. ``SimState.restatus`` keeps it current.

Ids are never removed one by one from the creation order: a message deleted (Twilio ``DELETE``)
or evicted from a full store is skipped when read, and the evicted oldest are cut from the front
in bulk, so the lists stay as long as the store. Creation times only go forward on one clock; a
wall clock stepping back is still kept in order (the new id is inserted where it belongs).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Final

from lynsms.simulator.messages import SimMessage

_COMPACT_AFTER: Final = 1024  # evicted entries at the front before they are cut off


class Timeline:
    __slots__ = ("_ids", "_stamps", "_start", "statuses")

    def __init__(self) -> None:
        self._stamps: list[float] = []
        self._ids: list[str] = []
        self._start = 0  # entries before this were evicted
        self.statuses: dict[str, dict[str, None]] = {}  # status -> ids in it

    def add(self, message: SimMessage) -> None:
        self.statuses.setdefault(message.status, {})[message.id] = None
        stamp = message.created_at.timestamp()
        if not self._stamps or stamp >= self._stamps[-1]:
            self._stamps.append(stamp)
            self._ids.append(message.id)
            return
        at = bisect.bisect_right(self._stamps, stamp, self._start)
        self._stamps.insert(at, stamp)
        self._ids.insert(at, message.id)

    def restatus(self, message: SimMessage, status: str) -> None:
        """``message`` moves from its current status to ``status``."""
        self._unstatus(message)
        self.statuses.setdefault(status, {})[message.id] = None

    def _unstatus(self, message: SimMessage) -> None:
        ids = self.statuses.get(message.status)
        if ids is not None:
            ids.pop(message.id, None)
            if not ids:
                del self.statuses[message.status]

    def in_status(self, stored: Mapping[str, SimMessage], statuses: Iterable[str]) -> list[SimMessage]:
        """The messages still stored in any of ``statuses``, oldest first."""
        found = [m for s in statuses for i in self.statuses.get(s, ()) if (m := stored.get(i)) is not None]
        found.sort(key=_created)
        return found

    def evicted(self, message: SimMessage) -> None:
        """The store dropped its oldest message; it is this timeline's oldest when both agree."""
        self._unstatus(message)
        message_id = message.id
        if self._start < len(self._ids) and self._ids[self._start] == message_id:
            self._start += 1
            if self._start >= _COMPACT_AFTER and self._start * 2 >= len(self._ids):
                del self._stamps[: self._start], self._ids[: self._start]
                self._start = 0

    def __len__(self) -> int:
        return len(self._ids) - self._start

    def between(
        self,
        stored: Mapping[str, SimMessage],
        low: float | None = None,
        high: float | None = None,
        *,
        newest_first: bool = False,
    ) -> Iterator[SimMessage]:
        """The messages still stored that were created from ``low`` to ``high`` (unix seconds, both
        included; None: unbounded), oldest first unless ``newest_first``."""
        stamps = self._stamps
        first = self._start if low is None else bisect.bisect_left(stamps, low, self._start)
        end = len(stamps) if high is None else bisect.bisect_right(stamps, high, self._start)
        ids = self._ids
        positions = range(end - 1, first - 1, -1) if newest_first else range(first, end)
        for position in positions:
            message = stored.get(ids[position])
            if message is not None:
                yield message


def _created(message: SimMessage) -> datetime:
    return message.created_at
