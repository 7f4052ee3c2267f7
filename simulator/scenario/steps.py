"""A scenario's ``steps``: what the replay runner does to the gateway, and what it expects back.

Built by pass 3 of loading (``scenario.build``; the schema has already checked the shape), so a
file that checks clean replays. The format is documented in docs/scenarios.md ("Steps"). Steps
refer to earlier steps by name: ``get: first`` (the message step ``first`` sent) or
``${steps.first.data.id}`` (``scenario.references``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final, Literal

from lynsms.simulator.scenario.expect import MISSING, Expect, matcher_problems
from lynsms.simulator.scenario.paths import KeyPath
from lynsms.simulator.scenario.references import has_reference, reference_problems
from lynsms.simulator.scenario.rules import seconds

Action = Literal["send", "bulk", "get", "wait_for", "sleep", "reply"]
ACTIONS: Final[tuple[Action, ...]] = ("send", "bulk", "get", "wait_for", "sleep", "reply")
DEFAULT_WAIT: Final = 10.0
# Which expectations make sense after which action.
_ALLOWED: Final[Mapping[str, frozenset[str]]] = {
    "send": frozenset({"status", "json", "message", "simulator", "webhooks"}),
    "bulk": frozenset({"status", "json", "messages", "simulator", "webhooks"}),
    "get": frozenset({"status", "json", "message", "simulator", "webhooks"}),
    "wait_for": frozenset({"status", "json", "message", "simulator", "webhooks"}),
    "sleep": frozenset({"simulator", "webhooks"}),
    # A handset's SMS (POST /_sim/inbound); the answer is the inbound message once its push settled.
    "reply": frozenset({"status", "json", "simulator", "webhooks"}),
}
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")

Problems = list[tuple[KeyPath, str]]


@dataclass(frozen=True, slots=True)
class Step:
    index: int  # 0-based position in ``steps``
    line: int
    action: Action
    name: str | None = None
    body: Mapping[str, Any] | None = None  # send, bulk: the request body (may hold ${...})
    headers: Mapping[str, str] = field(default_factory=dict)
    target: str | None = None  # get, wait_for: a step name, a message id, or ${...}
    status: str | None = None  # wait_for: the message status to reach
    seconds: float = 0.0  # sleep: how long; wait_for: the timeout
    expect: Expect = Expect()

    @property
    def label(self) -> str:
        named = f" '{self.name}'" if self.name else ""
        return f"step {self.index + 1}{named} ({self.action})"


def build_steps(items: list[dict[str, Any]], line_of: Callable[[KeyPath], int]) -> tuple[tuple[Step, ...], Problems]:
    """Compile the ``steps`` list; returns the steps and every problem as (key path, message)."""
    problems: Problems = []
    built: list[Step] = []
    earlier: dict[str, Action] = {}
    for index, item in enumerate(items):
        path: KeyPath = ("steps", index)
        step = _step(index, item, path, line_of(path), earlier, problems)
        if step.name is not None:
            earlier.setdefault(step.name, step.action)
        built.append(step)
    return tuple(built), problems


def _step(
    index: int, item: dict[str, Any], path: KeyPath, line: int, earlier: Mapping[str, Action], problems: Problems
) -> Step:
    actions = [a for a in ACTIONS if a in item]
    if not actions:
        problems.append((path, "a step needs an action: send, bulk, get, wait_for, sleep or reply"))
    elif len(actions) > 1:
        problems.append(((*path, actions[1]), f"a step has one action; this one has {' and '.join(actions)}"))
    action: Action = actions[0] if actions else "sleep"
    name = item.get("name")
    if name is not None:
        if not _NAME.match(name):
            problems.append(
                (
                    (*path, "name"),
                    f"step name {name!r}: use letters, digits, '-' and '_' (names are used in ${{steps.NAME...}})",
                )
            )
        elif name in earlier:
            problems.append(((*path, "name"), f"duplicate step name {name!r}"))
    problems.extend(reference_problems(item, path, earlier))
    if "headers" in item and action not in ("send", "bulk", "get"):
        problems.append(((*path, "headers"), f"headers are sent with send, bulk and get, not with {action}"))
    expect = _expect(action, item.get("expect", {}), (*path, "expect"), problems)
    value: Any = item.get(action)  # its shape is the schema's, checked in pass 2
    step = Step(index=index, line=line, action=action, name=name, headers=dict(item.get("headers", {})), expect=expect)
    if action in ("send", "bulk", "reply"):
        return replace(step, body=dict(value or {}))
    if action == "get":
        _target_problems(value, (*path, "get"), earlier, problems)
        return replace(step, target=value)
    if action == "wait_for":
        _target_problems(value["message"], (*path, "wait_for", "message"), earlier, problems)
        timeout = seconds(value.get("timeout", DEFAULT_WAIT))
        return replace(step, target=value["message"], status=value["status"], seconds=timeout)
    return replace(step, seconds=seconds(value) if value is not None else 0.0)


def _expect(action: Action, data: dict[str, Any], path: KeyPath, problems: Problems) -> Expect:
    for kind in data:
        if kind not in _ALLOWED[action]:
            hint = " (use messages: a list, one per recipient)" if kind == "message" and action == "bulk" else ""
            problems.append(((*path, kind), f"{kind} cannot be expected after {action}{hint}"))
    for kind in ("json", "message", "messages", "webhooks"):
        if kind in data:
            problems.extend(matcher_problems(data[kind], (*path, kind)))
    return Expect(
        status=data.get("status"),
        json=data.get("json", MISSING),
        message=data.get("message"),
        messages=tuple(data["messages"]) if "messages" in data else None,
        simulator=data.get("simulator"),
        webhooks=tuple(data["webhooks"]) if "webhooks" in data else None,
    )


def _target_problems(value: str, path: KeyPath, earlier: Mapping[str, Action], problems: Problems) -> None:
    if has_reference(value) or value.startswith("msg_"):
        return
    if value not in earlier:
        problems.append(
            (path, f"{value!r} is not an earlier step's name, a message id (msg_...) or ${{steps.NAME...}}")
        )
    elif earlier[value] in ("bulk", "sleep"):
        hint = f": name one message, e.g. ${{steps.{value}.data.messages[0].id}}" if earlier[value] == "bulk" else ""
        problems.append((path, f"step {value!r} is a {earlier[value]}, not one message{hint}"))
