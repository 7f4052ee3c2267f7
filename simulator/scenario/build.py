"""Pass 3 of loading a scenario: what a schema cannot say, checked while the scenario is built.

Bad regexes, empty call ranges, unknown countries, impossible combinations (two outcomes,
``deliver`` on a rejection, ``times`` with ``probability: 0``...), rules shadowed by an earlier
catch-all, and the steps' own checks (``scenario.steps``). The build trusts the shape the schema
(pass 2) guaranteed; every problem is a (key path, message) pair that ``scenario.load`` places on
its line. Because checking is building, a file that checks clean loads.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, cast

import phonenumbers

from lynsms.gateway.providers.names import ProviderName
from lynsms.simulator.accounts import AccountScript
from lynsms.simulator.decision import BODY_FAULTS, Decision, DeliveryPlan, FaultKind
from lynsms.simulator.messages import DeliveryStatus
from lynsms.simulator.scenario import rules as compiled
from lynsms.simulator.scenario.compiled import Scenario
from lynsms.simulator.scenario.paths import KeyPath
from lynsms.simulator.scenario.rules import Defaults, Match, Rule
from lynsms.simulator.scenario.steps import build_steps
from lynsms.simulator.scenario.twoway import build as build_twoway

_OUTCOMES = ("accept", "reject", "http_error", "fault")


class Builder:
    def __init__(self, line_of: Callable[[KeyPath], int]) -> None:
        self.line_of = line_of
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
        steps, step_problems = build_steps(data.get("steps", []), self.line_of)
        self.problems.extend(step_problems)
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
            accounts={
                provider: AccountScript(
                    None if "balance" not in script else Decimal(str(script["balance"])),
                    bool(script.get("suspended", False)),
                )
                for provider, script in data.get("accounts", {}).items()
            },
            twoway=build_twoway(data, self.problems),
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
            line=self.line_of(path),
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
