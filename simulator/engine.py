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
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

from lynsms.simulator.model import DeliveryStatus, RejectReason, Submission

if TYPE_CHECKING:
    from lynsms.simulator.rules import Rule, Scenario

DecisionKind = Literal["accept", "reject", "http_error", "fault"]
FaultKind = Literal["timeout", "connection_reset", "empty_reply", "malformed_body", "slow_body"]
FAULT_KINDS: tuple[FaultKind, ...] = ("timeout", "connection_reset", "empty_reply", "malformed_body", "slow_body")
# Faults that garble a success response: the provider did accept the message, the client cannot tell.
BODY_FAULTS: frozenset[FaultKind] = frozenset({"malformed_body", "slow_body"})

# A credential scope: None = global; a string = that credential at any provider; a mapping = per provider.
Scope = str | Mapping[str, str] | None
CallCounts = Mapping[tuple[str, str], int]


@dataclass(frozen=True, slots=True)
class DeliveryPlan:
    """What happens to an accepted message later: its final status, when, and with which error code."""

    status: DeliveryStatus = "delivered"
    after: float = 0.0  # seconds after acceptance
    error_code: str | None = None  # the provider's own error code, e.g. Twilio "30003"
    intermediate: bool = True  # send the provider's intermediate statuses (sent, ENROUTE...) first
    attempts: int = 5  # callback tries when the receiver answers 5xx/429 or is unreachable
    backoff: float = 0.5  # seconds before the 2nd try, doubled for each later one


@dataclass(frozen=True, slots=True)
class Decision:
    kind: DecisionKind = "accept"
    reason: RejectReason | None = None  # kind == "reject"
    status: int | None = None  # kind == "http_error"
    body: str | None = None  # kind == "http_error": a raw body instead of the provider's error format
    retry_after: int | None = None  # kind == "http_error" with 429/503
    fault: FaultKind | None = None  # kind == "fault"
    fault_seconds: float | None = None  # timeout cap, slow-body duration
    latency: float = 0.0  # seconds to wait before answering, on any outcome
    delivery: DeliveryPlan | None = None  # accepted messages: None means no delivery report is scripted
    rule: str | None = None  # which scenario rule chose this, for the journal
    extra: dict[str, Any] = field(default_factory=dict)
    content_type: str | None = None  # kind == "http_error" with a raw body

    @property
    def accepts(self) -> bool:
        """True when the provider takes the message (plain accept, or a garbled success body)."""
        return self.kind == "accept" or (self.kind == "fault" and self.fault in BODY_FAULTS)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind}
        for name in ("reason", "status", "retry_after", "fault", "fault_seconds", "rule"):
            value = getattr(self, name)
            if value is not None:
                data[name] = value
        if self.latency:
            data["latency"] = round(self.latency, 4)
        if self.delivery is not None:
            data["delivery"] = {"status": self.delivery.status, "after": self.delivery.after}
            if self.delivery.error_code:
                data["delivery"]["error_code"] = self.delivery.error_code
        return data


ACCEPT = Decision()


def number(text: str) -> str:
    """A phone number as matched: E.164 with a leading '+' whatever the client wrote (Sinch drops
    it, Twilio keeps it). Short codes and alphanumeric senders stay as written."""
    stripped = text.strip()
    digits = stripped[1:] if stripped.startswith("+") else stripped
    return f"+{digits}" if digits.isdigit() and len(digits) > 6 else stripped


@dataclass(frozen=True, slots=True)
class Facts:
    """What rules test, normalised once per submission rather than once per rule."""

    to: str
    sender: str
    body: str

    @classmethod
    def of(cls, submission: Submission) -> Facts:
        return cls(number(submission.to), number(submission.sender or ""), submission.body)


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

    def decide(self, provider: str, account: str, submission: Submission, call: int) -> Decision:
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
            hits[rule.index] += 1
            return _with_latency(rule.decision, rule, self.rng)
        defaults = self.scenario.defaults
        if defaults.latency is None:
            return self._default
        return dataclasses.replace(self._default, latency=defaults.latency.draw(self.rng))

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

    # Class-level defaults, replaced (never mutated) on load/unload: test doubles that subclass Engine
    # without calling __init__ still survive ``Simulator.reset``. Loading is rare; decide only reads.
    _accept: Decision = dataclasses.replace(ACCEPT, delivery=DeliveryPlan(after=1.0))
    _global: Loaded | None = None
    _scoped: Mapping[tuple[str, str], Loaded] = MappingProxyType({})

    def __init__(self, default_delivery: DeliveryPlan | None = DeliveryPlan(after=1.0)) -> None:
        self._accept = dataclasses.replace(ACCEPT, delivery=default_delivery)

    def decide(self, provider: str, account: str, submission: Submission, call: int) -> Decision:
        loaded = self._scoped.get((provider, account)) or self._scoped.get(("*", account)) or self._global
        if loaded is None:
            return self._accept
        return loaded.decide(provider, account, submission, call)

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
