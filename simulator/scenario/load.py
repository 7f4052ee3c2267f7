"""Loading scenario files: YAML or JSON text -> a validated, compiled ``Scenario``.

Three passes, each problem reported as ``file:line: key.path: message``:

1. syntax (PyYAML, which also reads JSON; the composed node tree gives every key its line) and
   duplicate keys, which PyYAML would otherwise silently collapse;
2. the JSON Schema shipped beside this module (``scenario.schema.json``): shape, types, enums;
3. what a schema cannot say: bad regexes, empty call ranges, unknown countries, impossible
   combinations (two outcomes, ``deliver`` on a rejection, ``times`` with ``probability: 0``...),
   rules shadowed by an earlier catch-all. Pass 3 is also the build, so a file that checks clean loads.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import phonenumbers
import yaml

from lynsms.simulator.scenario import rules as compiled
from lynsms.simulator.decision import BODY_FAULTS, Decision, DeliveryPlan, FaultKind
from lynsms.simulator.model import DeliveryStatus, ProviderName
from lynsms.simulator.scenario.rules import Defaults, Match, Rule, Scenario
from lynsms.simulator.scenario.schema import SCHEMA, KeyPath, schema_problems
from lynsms.simulator.scenario.steps import build_steps, gateway_problems

__all__ = ["SCHEMA", "Problem", "Scenario", "ScenarioError", "check_paths", "check_text", "load", "parse"]

SUFFIXES = (".yaml", ".yml", ".json")
_OUTCOMES = ("accept", "reject", "http_error", "fault")


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    line: int  # 1-based; 0 when the problem is with the file as a whole
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}" if self.line else f"{self.file}: {self.message}"


class ScenarioError(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


# ---- public API ----------------------------------------------------------------------------------


def parse(text: str, source: str = "<scenario>", *, path: str | None = None) -> Scenario:
    """Validate and compile scenario ``text``; ``source`` names it in problems. Raises ScenarioError."""
    scenario, problems = _check(text, source)
    if problems or scenario is None:
        raise ScenarioError(problems)
    return dataclasses.replace(scenario, source=path)


def load(path: str | os.PathLike[str]) -> Scenario:
    name = os.fspath(path)
    try:
        text = Path(name).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError([Problem(name, 0, _read_error(exc))]) from None
    return parse(text, name, path=name)


def check_text(text: str, source: str = "<scenario>") -> list[Problem]:
    return _check(text, source)[1]


def check_paths(paths: Iterable[str]) -> list[Problem]:
    """Every problem in the given files; folders are expanded to their *.yaml, *.yml and *.json."""
    problems: list[Problem] = []
    for name in paths:
        folder = Path(name)
        if folder.is_dir():
            files = sorted(p for p in folder.rglob("*") if p.suffix in SUFFIXES and p.is_file())
            if not files:
                problems.append(Problem(name, 0, "no scenario files (*.yaml, *.yml, *.json) in this folder"))
            for file in files:
                problems.extend(_check_file(str(file)))
        else:
            problems.extend(_check_file(name))
    return problems


def _check_file(name: str) -> list[Problem]:
    try:
        text = Path(name).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [Problem(name, 0, _read_error(exc))]
    return check_text(text, name)


def _read_error(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 text (byte {exc.start})"
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    return f"cannot read: {exc.strerror if isinstance(exc, OSError) else exc}"


def _check(text: str, source: str) -> tuple[Scenario | None, list[Problem]]:
    try:
        data, lines, duplicates = _read(text)
    except _SyntaxProblem as exc:
        return None, [Problem(source, exc.line, exc.message)]
    found = [(path, message, line) for path, message, line in duplicates]
    found.extend((path, message, lines.of(path)) for path, message in schema_problems(data))
    scenario = None
    if not found:  # the build trusts the shape the schema guaranteed
        builder = _Builder(lines)
        scenario = builder.scenario(cast(dict[str, Any], data))
        found.extend((path, message, lines.of(path)) for path, message in builder.problems)
    problems = sorted(
        {Problem(source, line, _say(path, message)) for path, message, line in found}, key=lambda p: (p.line, p.message)
    )
    return scenario, problems


# ---- pass 1: syntax and lines --------------------------------------------------------------------


class _SyntaxProblem(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


class _Lines:
    """The line of each key path, read off PyYAML's composed node tree."""

    def __init__(self) -> None:
        self.at: dict[KeyPath, int] = {(): 1}

    def of(self, path: KeyPath) -> int:
        while path not in self.at:
            path = path[:-1]
        return self.at[path]

    def walk(self, node: yaml.Node, path: KeyPath, duplicates: list[tuple[KeyPath, str, int]]) -> None:
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key, value in node.value:
                name = str(key.value)
                if name in seen:
                    duplicates.append((path + (name,), f"duplicate key {name!r}", key.start_mark.line + 1))
                seen.add(name)
                self.at.setdefault(path + (name,), key.start_mark.line + 1)
                self.walk(value, path + (name,), duplicates)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self.at[path + (index,)] = item.start_mark.line + 1
                self.walk(item, path + (index,), duplicates)


def _read(text: str) -> tuple[Any, _Lines, list[tuple[KeyPath, str, int]]]:
    lines, duplicates = _Lines(), cast(list[tuple[KeyPath, str, int]], [])
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            lines.at[()] = node.start_mark.line + 1
            lines.walk(node, (), duplicates)
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        data = _json_fallback(text, exc)  # PyYAML refuses some valid JSON (tabs as indentation)
    finally:
        loader.dispose()
    if data is None:
        raise _SyntaxProblem(1, "empty scenario: expected a mapping with at least 'name'")
    return data, lines, duplicates


def _json_fallback(text: str, error: yaml.MarkedYAMLError) -> Any:
    if text.lstrip().startswith("{"):
        try:
            return json.loads(text)
        except ValueError as exc:
            raise _SyntaxProblem(getattr(exc, "lineno", 1), f"JSON syntax error: {getattr(exc, 'msg', exc)}") from None
    mark = error.problem_mark or error.context_mark
    detail = error.problem or "invalid YAML"
    if error.context:
        detail = f"{detail} ({error.context})"
    raise _SyntaxProblem(mark.line + 1 if mark else 1, f"YAML syntax error: {detail}")


def _say(path: KeyPath, message: str) -> str:
    if not path:
        return message
    text = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
    return f"{text}: {message}"


# ---- pass 3: semantics, and the build ------------------------------------------------------------


class _Builder:
    def __init__(self, lines: _Lines) -> None:
        self.lines = lines
        self.problems: list[tuple[KeyPath, str]] = []
        self.retry = DeliveryPlan(after=1.0)  # the base of every delivery plan: callback retry policy

    def _try(self, path: KeyPath, build: Any, *args: Any) -> Any:
        try:
            return build(*args)
        except ValueError as exc:
            self.problems.append((path, str(exc)))
            return None

    def scenario(self, data: dict[str, Any]) -> Scenario:
        defaults = self.defaults(data.get("defaults", {}))
        providers: dict[str, tuple[Rule, ...]] = {}
        for provider, items in data.get("providers", {}).items():
            providers[provider] = self.provider_rules(provider, items, defaults)
        account = data.get("account")
        steps, step_problems = build_steps(data.get("steps", []), self.lines.of)
        self.problems.extend(step_problems)
        if "gateway" in data:
            self.problems.extend(gateway_problems(data["gateway"]))
        return Scenario(
            name=data["name"],
            description=data.get("description", ""),
            seed=data.get("seed", 0),
            account=dict(account) if isinstance(account, Mapping) else account,
            defaults=defaults,
            rules=providers,
            definition=data,
            gateway=dict(data.get("gateway", {})),
            steps=steps,
        )

    def defaults(self, data: dict[str, Any]) -> Defaults:
        base = Defaults()
        path: KeyPath = ("defaults",)
        attempts = data.get("callback_attempts", base.callback_attempts)
        backoff = compiled.seconds(data.get("callback_backoff", base.callback_backoff))
        self.retry = DeliveryPlan(after=1.0, attempts=attempts, backoff=backoff)
        deliver = self.plan(path + ("deliver",), data["deliver"], self.retry) if "deliver" in data else self.retry
        lat = self._try(path + ("latency",), compiled.latency, data["latency"]) if "latency" in data else None
        return Defaults(
            deliver=deliver,
            latency=lat,
            timeout=compiled.seconds(data.get("timeout", base.timeout)),
            slow_body=compiled.seconds(data.get("slow_body", base.slow_body)),
            callback_attempts=attempts,
            callback_backoff=backoff,
        )

    def plan(self, path: KeyPath, value: Any, base: DeliveryPlan) -> DeliveryPlan | None:
        if value is False:
            return None
        if isinstance(value, str):
            return dataclasses.replace(base, status=cast(DeliveryStatus, value))
        plan = dataclasses.replace(
            base,
            status=cast(DeliveryStatus, value.get("status", "delivered")),
            after=compiled.seconds(value.get("after", base.after)),
            error_code=str(value["error_code"]) if "error_code" in value else None,
            intermediate=value.get("intermediate", True),
        )
        if plan.error_code is not None and plan.status == "delivered":
            self.problems.append(
                (
                    path + ("error_code",),
                    "error_code on a delivered message: only undelivered, failed and expired carry one",
                )
            )
        return plan

    def provider_rules(
        self, provider: ProviderName, items: list[dict[str, Any]], defaults: Defaults
    ) -> tuple[Rule, ...]:
        built: list[Rule] = []
        names: set[str] = set()
        shadowed = False
        for index, item in enumerate(items):
            path: KeyPath = ("providers", provider, index)
            before = len(self.problems)
            rule = self.rule(provider, index, item, defaults)
            broken = len(self.problems) > before  # a broken rule shadows nothing: do not pile on
            if rule.name in names:
                self.problems.append((path + ("name",), f"duplicate rule name {rule.name!r}"))
            names.add(rule.name)
            shadow = next((r for r in built if r.always), None)
            if shadow is not None and not shadowed:  # one report per provider: the rest follows
                shadowed = True
                self.problems.append((path, f"unreachable: rule {shadow.name!r} above it fires on every request"))
            if not broken:
                built.append(rule)
        return tuple(built)

    def rule(self, provider: ProviderName, index: int, item: dict[str, Any], defaults: Defaults) -> Rule:
        path: KeyPath = ("providers", provider, index)
        name = item.get("name", f"{provider}[{index}]")
        outcomes = [k for k in _OUTCOMES if k in item]
        if len(outcomes) > 1:
            self.problems.append(
                (path + (outcomes[1],), f"a rule has one outcome; this one has {' and '.join(outcomes)}")
            )
        kind = outcomes[0] if outcomes else "accept"
        decision = self.outcome(path, kind, item.get(kind), defaults)
        if "deliver" in item and not decision.accepts:
            what = decision.fault if decision.kind == "fault" else decision.kind
            self.problems.append(
                (path + ("deliver",), f"deliver on a {what} outcome: only accepted messages are delivered")
            )
        if decision.accepts and "deliver" in item:
            plan = self.plan(path + ("deliver",), item["deliver"], defaults.deliver or self.retry)
            decision = dataclasses.replace(decision, delivery=plan)
        probability = item.get("probability")
        if probability == 0 and "times" in item:
            self.problems.append((path + ("probability",), "probability 0 with times: this rule can never fire"))
        lat = self._try(path + ("latency",), compiled.latency, item["latency"]) if "latency" in item else None
        if lat is not None and lat.kind == "fixed":
            decision = dataclasses.replace(decision, latency=lat.low)
        return Rule(
            provider=provider,
            index=index,
            name=name,
            line=self.lines.of(path),
            match=self.match(path + ("match",), item.get("match", {})),
            decision=dataclasses.replace(decision, rule=name),
            times=item.get("times"),
            probability=float(probability) if probability is not None else None,
            latency=lat,
        )

    def outcome(self, path: KeyPath, kind: str, value: Any, defaults: Defaults) -> Decision:
        accept = Decision(delivery=defaults.deliver)
        if kind == "reject":
            return Decision(kind="reject", reason=value)
        if kind == "http_error":
            spec = value if isinstance(value, dict) else {"status": value}
            body = spec.get("body")
            return Decision(
                kind="http_error",
                status=spec["status"],
                retry_after=spec.get("retry_after"),
                body=body,
                content_type=spec.get("content_type", "application/json") if body is not None else None,
            )
        if kind == "fault":
            spec = value if isinstance(value, dict) else {"kind": value}
            fault = cast(FaultKind, spec["kind"])
            held = {"timeout": defaults.timeout, "slow_body": defaults.slow_body}.get(fault)
            if "seconds" in spec:
                if held is None:
                    self.problems.append(
                        (
                            path + ("fault", "seconds"),
                            f"seconds has no meaning for {fault}: only timeout and slow_body take time",
                        )
                    )
                held = compiled.seconds(spec["seconds"])
            delivery = defaults.deliver if fault in BODY_FAULTS else None
            return Decision(kind="fault", fault=fault, fault_seconds=held, delivery=delivery)
        return accept

    def match(self, path: KeyPath, data: dict[str, Any]) -> Match:
        def patterns(key: str, phone: bool, contains: bool = False) -> tuple[compiled.Pattern, ...]:
            values = data.get(key, [])
            listed = values if isinstance(values, list) else [values]
            found = []
            for i, text in enumerate(listed):
                where = path + ((key, i) if isinstance(values, list) else (key,))
                built = self._try(where, lambda t: compiled.pattern(t, phone=phone, contains=contains), text)
                if built is not None:
                    found.append(built)
            return tuple(found)

        countries = data.get("country", [])
        codes = [c.upper() for c in (countries if isinstance(countries, list) else [countries])]
        for code in codes:
            if code not in phonenumbers.SUPPORTED_REGIONS:
                hint = " (the United Kingdom is 'GB')" if code == "UK" else ""
                self.problems.append((path + ("country",), f"unknown country code {code!r}{hint}"))
        call_range = self._try(path + ("calls",), compiled.calls, data["calls"]) if "calls" in data else None
        return Match(
            to=patterns("to", phone=True),
            sender=patterns("from", phone=True),
            body=patterns("body", phone=False, contains=True),
            countries=frozenset(codes),
            calls=call_range,
        )
