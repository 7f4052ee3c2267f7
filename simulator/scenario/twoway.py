"""A scenario's two-way blocks: scripted lookups, handset replies and inbound push failures.

    lookups:                    # number lookup outcomes, first match wins
      - {match: "+12025550180", outcome: landline}
      - {match: ["+4477009006*", "/^\\+1202555019/"], outcome: unreachable}
    replies:                    # a handset answers after a message to it is delivered
      - {to: "+447700900123", body: STOP, after: 1s}
    inbound:                    # the first pushes of every inbound message fail, then the provider retries
      {fail: 2, status: 503, backoff: 100ms}

The schema has checked the shapes; patterns compile like the rules' ``match.to``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lynsms.simulator.lookup import LookupRule, Matcher
from lynsms.simulator.scenario import rules as compiled
from lynsms.simulator.scenario.paths import KeyPath


@dataclass(frozen=True, slots=True)
class Reply:
    body: str
    after: float = 0.0
    to: tuple[Matcher, ...] = ()  # empty: every recipient

    def matches(self, number: str) -> bool:
        e164 = number if number.startswith("+") else "+" + number
        return not self.to or any(m.test(e164) for m in self.to)


@dataclass(frozen=True, slots=True)
class InboundFaults:
    fail: int = 0  # the first N push attempts of every inbound message fail
    status: int = 503  # as if the receiver answered this
    backoff: float | None = None  # seconds before the first retry; None: the provider's own schedule


@dataclass(frozen=True, slots=True)
class TwoWay:
    lookups: tuple[LookupRule, ...] = ()
    replies: tuple[Reply, ...] = ()
    inbound: InboundFaults | None = None


def build(data: dict[str, Any], problems: list[tuple[KeyPath, str]]) -> TwoWay:
    def patterns(value: Any, path: KeyPath) -> tuple[Matcher, ...]:
        texts = [value] if isinstance(value, str) else list(value)
        found: list[Matcher] = []
        for index, text in enumerate(texts):
            try:
                found.append(compiled.pattern(text, phone=True))
            except ValueError as exc:
                problems.append(((*path, index) if not isinstance(value, str) else path, str(exc)))
        return tuple(found)

    def each(key: str, make: Callable[[dict[str, Any], KeyPath], Any]) -> tuple[Any, ...]:
        return tuple(make(item, (key, i)) for i, item in enumerate(data.get(key, [])))

    lookups = each(
        "lookups",
        lambda item, path: LookupRule(item["outcome"], patterns(item["match"], (*path, "match")), item.get("carrier")),
    )
    replies = each(
        "replies",
        lambda item, path: Reply(
            item["body"],
            compiled.seconds(item.get("after", 0)),
            patterns(item["to"], (*path, "to")) if "to" in item else (),
        ),
    )
    inbound = None
    if "inbound" in data:
        block = data["inbound"]
        backoff = compiled.seconds(block["backoff"]) if "backoff" in block else None
        inbound = InboundFaults(block.get("fail", 0), block.get("status", 503), backoff)
    return TwoWay(lookups, replies, inbound)
