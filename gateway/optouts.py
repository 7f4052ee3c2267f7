"""The opt-out list: STOP/START/HELP keywords and the changes they make.

Keywords are matched on the whole body, trimmed, case-insensitively (DESIGN "Two-way SMS"): a
message saying "stop it please" is a message, not an opt-out. Every change emits its customer
event (``recipient.opted_out`` / ``recipient.opted_in``) in the same transaction; repeating a
change changes nothing and emits nothing.
"""

from __future__ import annotations

from typing import Final, Literal

from lynsms.clock import Clock
from lynsms.gateway.models import now_iso
from lynsms.gateway.store.inbound import Event, OptOut, TwoWayRows

Keyword = Literal["stop", "start", "help"]
KEYWORDS: Final[dict[str, Keyword]] = {
    **dict.fromkeys(("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"), "stop"),
    **dict.fromkeys(("START", "YES", "UNSTOP"), "start"),
    **dict.fromkeys(("HELP", "INFO"), "help"),
}


def keyword_of(body: str) -> tuple[str, Keyword] | None:
    """The keyword the whole (trimmed) body is, and its family; None for any other text."""
    word = body.strip().upper()
    family = KEYWORDS.get(word)
    return (word, family) if family else None


class OptOuts:
    def __init__(self, rows: TwoWayRows, clock: Clock) -> None:
        self.rows = rows
        self.clock = clock

    def __contains__(self, number: str) -> bool:
        return number in self.rows.opted_out

    def opt_out(
        self, number: str, *, source: str, keyword: str | None = None, inbound_id: str | None = None
    ) -> OptOut | None:
        """The new entry, or None when ``number`` was already opted out."""
        entry = OptOut(number, source, keyword, inbound_id, now_iso(self.clock))
        event = Event("recipient.opted_out", inbound_id or f"optout_{number}", {**entry.to_json(), "opted_out": True})
        return entry if self.rows.opt_out(entry, [event]) else None

    def opt_in(self, number: str, *, source: str, keyword: str | None = None, inbound_id: str | None = None) -> bool:
        data = {
            "object": "opt_out",
            "number": number,
            "opted_out": False,
            "source": source,
            "keyword": keyword,
            "inbound_id": inbound_id,
            "created_at": now_iso(self.clock),
        }
        return self.rows.opt_in(number, [Event("recipient.opted_in", inbound_id or f"optout_{number}", data)])
