"""Steps and gateway settings of a scenario: what the replay runner does to the gateway and expects.

Built by pass 3 of ``simulator.scenario`` (the schema has already checked the shape), so a file
that checks clean replays. The format is documented in docs/scenarios.md ("Steps").

Steps refer to earlier steps' answers by name: ``get: first`` (the message step ``first`` sent)
or ``${steps.first.data.id}`` anywhere in a step (a path into that step's response JSON). A string
that is exactly one ``${...}`` keeps the referenced value's type; inside text it is substituted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final, Literal

from lynsms.simulator.scenario.expect import KeyPath, matcher_problems
from lynsms.simulator.scenario.rules import seconds

Action = Literal["send", "bulk", "get", "wait_for", "sleep"]
ACTIONS: Final[tuple[Action, ...]] = ("send", "bulk", "get", "wait_for", "sleep")
FINAL_STATUSES: Final = frozenset({"delivered", "undelivered", "failed"})
DEFAULT_WAIT: Final = 10.0
# Which expectations make sense after which action.
_ALLOWED: Final[Mapping[str, frozenset[str]]] = {
    "send": frozenset({"status", "json", "message", "simulator", "webhooks"}),
    "bulk": frozenset({"status", "json", "messages", "simulator", "webhooks"}),
    "get": frozenset({"status", "json", "message", "simulator", "webhooks"}),
    "wait_for": frozenset({"status", "json", "message", "simulator", "webhooks"}),
    "sleep": frozenset({"simulator", "webhooks"}),
}
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
_REF = re.compile(r"\$\{([^}]*)\}")
_REF_PATH = re.compile(r"^steps\.([A-Za-z][A-Za-z0-9_-]*)((?:\.[A-Za-z0-9_-]+|\[[0-9]+\])*)$")
_PART = re.compile(r"\.([A-Za-z0-9_-]+)|\[([0-9]+)\]")


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()  # "no json expectation" (``json: null`` is an expectation of null)


@dataclass(frozen=True, slots=True)
class Expect:
    status: int | None = None  # HTTP status of the step's response
    json: Any = MISSING  # partial match of the response JSON (simulator.matchers)
    message: Mapping[str, Any] | None = None  # partial match of the stored message, fetched after the step
    messages: tuple[Any, ...] | None = None  # bulk: each recipient's stored message, in request order
    simulator: Mapping[str, Mapping[str, int]] | None = None  # provider (or "total") -> counts during the step
    webhooks: tuple[Any, ...] | None = None  # customer webhook events received for the step's message(s)

    @property
    def kinds(self) -> tuple[str, ...]:
        given = (
            ("status", self.status is not None),
            ("json", self.json is not MISSING),
            ("message", self.message is not None),
            ("messages", self.messages is not None),
            ("simulator", self.simulator is not None),
            ("webhooks", self.webhooks is not None),
        )
        return tuple(kind for kind, present in given if present)


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


# ---- building and checking --------------------------------------------------------------------------


def build_steps(
    items: list[dict[str, Any]], line_of: Callable[[KeyPath], int]
) -> tuple[tuple[Step, ...], list[tuple[KeyPath, str]]]:
    """Compile the ``steps`` list; returns the steps and every problem as (key path, message)."""
    problems: list[tuple[KeyPath, str]] = []
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
    index: int,
    item: dict[str, Any],
    path: KeyPath,
    line: int,
    earlier: Mapping[str, Action],
    problems: list[tuple[KeyPath, str]],
) -> Step:
    actions = [a for a in ACTIONS if a in item]
    if not actions:
        problems.append((path, "a step needs an action: send, bulk, get, wait_for or sleep"))
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
    for ref_path, ref in _references(item, path):
        problems.extend((ref_path, message) for message in _reference_problems(ref, earlier))
    if "headers" in item and action not in ("send", "bulk", "get"):
        problems.append(((*path, "headers"), f"headers are sent with send, bulk and get, not with {action}"))
    expect = _expect(action, item.get("expect", {}), (*path, "expect"), problems)
    value: Any = item.get(action)  # its shape is the schema's, checked in pass 2
    step = Step(index=index, line=line, action=action, name=name, headers=dict(item.get("headers", {})), expect=expect)
    if action in ("send", "bulk"):
        return replace(step, body=dict(value or {}))
    if action == "get":
        _target_problems(value, (*path, "get"), earlier, problems)
        return replace(step, target=value)
    if action == "wait_for":
        _target_problems(value["message"], (*path, "wait_for", "message"), earlier, problems)
        timeout = seconds(value.get("timeout", DEFAULT_WAIT))
        return replace(step, target=value["message"], status=value["status"], seconds=timeout)
    return replace(step, seconds=seconds(value) if value is not None else 0.0)


def _expect(action: Action, data: dict[str, Any], path: KeyPath, problems: list[tuple[KeyPath, str]]) -> Expect:
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


def _target_problems(
    value: str, path: KeyPath, earlier: Mapping[str, Action], problems: list[tuple[KeyPath, str]]
) -> None:
    if "${" in value or value.startswith("msg_"):
        return
    if value not in earlier:
        problems.append(
            (path, f"{value!r} is not an earlier step's name, a message id (msg_...) or ${{steps.NAME...}}")
        )
    elif earlier[value] in ("bulk", "sleep"):
        hint = f": name one message, e.g. ${{steps.{value}.data.messages[0].id}}" if earlier[value] == "bulk" else ""
        problems.append((path, f"step {value!r} is a {earlier[value]}, not one message{hint}"))


def _references(value: Any, path: KeyPath) -> Iterator[tuple[KeyPath, str]]:
    if isinstance(value, str):
        for found in _REF.finditer(value):
            yield path, found.group(1)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _references(item, (*path, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _references(item, (*path, index))


def _reference_problems(ref: str, earlier: Mapping[str, Action]) -> Iterator[str]:
    found = _REF_PATH.match(ref.strip())
    if found is None:
        yield f"${{{ref}}} is not a reference: write ${{steps.NAME.path.to.value}}, e.g. ${{steps.first.data.id}}"
    elif found.group(1) not in earlier:
        yield f"${{{ref}}} refers to step {found.group(1)!r}, which is not an earlier named step"


# ---- references at run time ------------------------------------------------------------------------


class UnresolvedReference(LookupError):
    """A ``${steps...}`` path that the earlier step's answer does not have."""


def resolve(value: Any, answers: Mapping[str, Any]) -> Any:
    """``value`` with every ``${steps.NAME.path}`` replaced from ``answers`` (step name -> response JSON)."""
    if isinstance(value, str):
        whole = _REF.fullmatch(value)
        if whole is not None:
            return _lookup(whole.group(1), answers)
        return _REF.sub(lambda m: str(_lookup(m.group(1), answers)), value)
    if isinstance(value, Mapping):
        return {key: resolve(item, answers) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve(item, answers) for item in value]
    return value


def _lookup(ref: str, answers: Mapping[str, Any]) -> Any:
    found = _REF_PATH.match(ref.strip())
    if found is None or found.group(1) not in answers:
        raise UnresolvedReference(f"${{{ref}}}: no answer from that step")
    current = answers[found.group(1)]
    for key, index in _PART.findall(found.group(2)):
        if index:
            ok = isinstance(current, list) and int(index) < len(current)
            current = current[int(index)] if ok else None
        else:
            ok = isinstance(current, Mapping) and key in current
            current = current[key] if ok else None
        if not ok:
            raise UnresolvedReference(
                f"${{{ref}}}: step {found.group(1)!r}'s answer has no {key or f'[{index}]'} there"
            )
    return current


def message_id_of(answer: Any) -> str | None:
    """The message a send/get/wait_for answer is about: ``data.id``, or ``error.message_id`` on failure."""
    if not isinstance(answer, Mapping):
        return None
    for section, key in (("data", "id"), ("error", "message_id")):
        part = answer.get(section)
        if isinstance(part, Mapping) and isinstance(part.get(key), str):
            return str(part[key])
    return None


# ---- gateway settings ------------------------------------------------------------------------------


def gateway_data(settings: Mapping[str, Any]) -> dict[str, Any]:
    """A scenario's ``gateway`` block as a gateway config document (``gateway.config.parse_config``):
    every provider stays configured, ``timeout`` applies to each one that sets none, durations become seconds."""
    from lynsms.gateway.config import PROVIDER_NAMES

    timeout = settings.get("timeout")
    providers: dict[str, dict[str, Any]] = {}
    for name in PROVIDER_NAMES:
        provider = dict(settings.get("providers", {}).get(name) or {})
        if "timeout" in provider:
            provider["timeout"] = seconds(provider["timeout"])
        elif timeout is not None:
            provider["timeout"] = seconds(timeout)
        providers[name] = provider
    data: dict[str, Any] = {"providers": providers}
    for key in ("default_chain", "routes"):
        if key in settings:
            data[key] = settings[key]
    if "breaker" in settings:
        breaker = dict(settings["breaker"])
        if "cooldown_seconds" in breaker:
            breaker["cooldown_seconds"] = seconds(breaker["cooldown_seconds"])
        data["breaker"] = breaker
    return data


def gateway_problems(settings: Mapping[str, Any]) -> list[tuple[KeyPath, str]]:
    """What the gateway's own config parser says about the block (route ids, chains...)."""
    from lynsms.gateway.config import ConfigError, parse_config

    try:
        parse_config(gateway_data(settings), "http://127.0.0.1:8900", source="gateway")
    except ConfigError as exc:
        where, _, message = str(exc).removeprefix("gateway: ").partition(": ")
        parts = [p for p in re.split(r"[.\[\]]", where) if p]
        path: KeyPath = (
            "gateway",
            *(int(p) if p.isdigit() and i and parts[i - 1] != "routes" else p for i, p in enumerate(parts)),
        )
        return [(path, message or where)]
    return []
