"""Deciding what a provider does with a request.

``Engine.decide`` is the one place outcomes are chosen, so provider modules only render what was
decided. Without a scenario every message is accepted and delivered after a short delay. Loaded
scenarios (``simulator.scenario``) are either global or scoped to one credential; each keeps its own
seeded generator, rule hits and call numbering, so parallel test workers never see each other's script.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from lynsms.simulator.decision import ACCEPT, Decision, DeliveryPlan, Facts, Scope
from lynsms.simulator.messages import Submission

if TYPE_CHECKING:
    from lynsms.simulator.accounts import AccountScript
    from lynsms.simulator.scenario import Scenario
    from lynsms.simulator.scenario.rules import Rule

CallCounts = Mapping[tuple[str, str], int]
# Without a scenario, every message is delivered a second after it was accepted.
DEFAULT_DELIVERY = DeliveryPlan(after=1.0)


class Loaded:
    """A scenario in use: its generator, rule hits and the call numbers it counts from."""

    def __init__(self, scenario: Scenario, scope: Scope, calls: CallCounts) -> None:
        self.scenario = scenario
        self.scope = scope
        self.keys = _keys(scope)
        self.rng = random.Random(scenario.seed)
        self.hits: dict[str, list[int]] = {p: [0] * len(rules) for p, rules in scenario.rules.items()}
        self._base: dict[tuple[str, str], int] = {}
        self.rebase(calls)
        self._default = dataclasses.replace(ACCEPT, delivery=scenario.defaults.deliver)

    def rebase(self, calls: CallCounts) -> None:
        """Number calls from now on: "calls: 1-3" means the first three calls after loading."""
        self._base = {key: n for key, n in calls.items() if self._owns(key[0], key[1])}

    def _owns(self, provider: str, account: str) -> bool:
        return self.keys is None or (provider, account) in self.keys or ("*", account) in self.keys

    def reset(self, calls: CallCounts) -> None:
        self.rng = random.Random(self.scenario.seed)
        self.hits = {p: [0] * len(h) for p, h in self.hits.items()}
        self.rebase(calls)

    def decide(self, provider: str, account: str, submission: Submission, call: int, count: bool = True) -> Decision:
        rules = self.scenario.rules.get(provider, ())
        hits = self.hits.get(provider, [])
        n = call - self._base.get((provider, account), 0)
        facts = Facts.of(submission)
        for rule in rules:
            if rule.times is not None and hits[rule.index] >= rule.times:
                continue
            if not rule.match.test(facts, n):
                continue
            # Drawn only for rules whose conditions hold, so the draw sequence depends on requests alone.
            if rule.probability is not None and self.rng.random() >= rule.probability:
                continue
            if count:
                hits[rule.index] += 1
            return _with_latency(rule.decision, rule, self.rng)
        defaults = self.scenario.defaults
        if defaults.latency is None:
            return self._default
        return dataclasses.replace(self._default, latency=defaults.latency.draw(self.rng))

    def count(self, provider: str, rule_name: str) -> None:
        """Count a hit of the rule named ``rule_name`` that ``decide`` chose without counting it."""
        for rule in self.scenario.rules.get(provider, ()):
            if rule.name == rule_name:
                self.hits[provider][rule.index] += 1
                return

    def to_json(self) -> dict[str, Any]:
        scenario = self.scenario
        rules = {
            provider: [rule.to_json(self.hits[provider][rule.index]) for rule in provider_rules]
            for provider, provider_rules in scenario.rules.items()
        }
        return {
            "name": scenario.name,
            "description": scenario.description,
            "seed": scenario.seed,
            "account": dict(self.scope) if isinstance(self.scope, Mapping) else self.scope,
            "source": scenario.source,
            "rules": rules,
            "definition": scenario.definition,
        }


def _with_latency(decision: Decision, rule: Rule, rng: random.Random) -> Decision:
    if rule.latency is None or rule.latency.kind == "fixed":
        return decision  # fixed latency is already baked into the precomputed decision
    return dataclasses.replace(decision, latency=rule.latency.draw(rng))


def _keys(scope: Scope) -> frozenset[tuple[str, str]] | None:
    if scope is None:
        return None
    if isinstance(scope, str):
        return frozenset({("*", scope)})
    return frozenset(scope.items())


class Engine:
    """Chooses a ``Decision`` for each submission from the scenario that applies to its credential."""

    def __init__(self, default_delivery: DeliveryPlan | None = DEFAULT_DELIVERY) -> None:
        self._accept = dataclasses.replace(ACCEPT, delivery=default_delivery)
        # Replaced (never mutated) on load/unload: loading is rare, decide only reads.
        self._global: Loaded | None = None
        self._scoped: Mapping[tuple[str, str], Loaded] = MappingProxyType({})

    def decide(self, provider: str, account: str, submission: Submission, call: int, count: bool = True) -> Decision:
        """The decision for ``submission``; with ``count=False`` the rule that chose it is not
        counted towards its ``times`` (until ``count`` is called for it)."""
        loaded = self._loaded(provider, account)
        if loaded is None:
            return self._accept
        return loaded.decide(provider, account, submission, call, count)

    def count(self, provider: str, account: str, decision: Decision) -> None:
        """Count the hit of the rule behind ``decision``, decided with ``count=False``."""
        loaded = self._loaded(provider, account)
        if loaded is not None and decision.rule is not None:
            loaded.count(provider, decision.rule)

    def _loaded(self, provider: str, account: str) -> Loaded | None:
        return self._scoped.get((provider, account)) or self._scoped.get(("*", account)) or self._global

    def account_script(self, provider: str, account: str) -> AccountScript | None:
        """What the scenario that applies to ``account`` at ``provider`` says about its account."""
        loaded = self._loaded(provider, account)
        return None if loaded is None else loaded.scenario.accounts.get(provider)

    def load(self, scenario: Scenario, scope: Scope = None, calls: CallCounts | None = None) -> Loaded:
        """Load ``scenario`` for ``scope``, replacing whatever held that scope before."""
        loaded = Loaded(scenario, scope, calls or {})
        if loaded.keys is None:
            self._global = loaded
        else:
            self._scoped = {**self._scoped, **dict.fromkeys(loaded.keys, loaded)}
        return loaded

    def unload(self, scope: Scope = None) -> bool:
        if scope is None:
            found, self._global = self._global is not None, None
            return found
        # A bare credential unloads it at every provider, whichever way it was scoped.
        gone = {k for k in self._scoped if k[1] == scope} if isinstance(scope, str) else set(_keys(scope) or ())
        kept = {k: v for k, v in self._scoped.items() if k not in gone}
        found = len(kept) < len(self._scoped)
        self._scoped = kept
        return found

    def unload_all(self) -> None:
        self._global = None
        self._scoped = {}

    def loaded(self) -> list[Loaded]:
        found = [] if self._global is None else [self._global]
        for loaded in self._scoped.values():
            if loaded not in found:
                found.append(loaded)
        return found

    def reset(self, calls: CallCounts | None = None) -> None:
        """Forget rule hits, reseed every generator and number calls afresh (scenarios stay loaded)."""
        for loaded in self.loaded():
            loaded.reset(calls or {})
