"""A scenario compiled for matching: patterns, call ranges, latency distributions and rules.

Everything here is built once when a scenario loads, so ``Engine.decide`` never parses or compiles
anything per request. Builders raise ``ValueError`` with a human message; ``scenario.build``
attaches the file, line and key path.
"""

from __future__ import annotations

import fnmatch
import math
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from lynsms.gateway.providers.names import ProviderName
from lynsms.simulator.decision import Decision, DeliveryPlan, Facts, number
from lynsms.simulator.numbers import lookup

PatternKind = Literal["exact", "glob", "regex", "contains"]
LatencyKind = Literal["fixed", "uniform", "lognormal"]

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s)$")
_CALLS = re.compile(r"^\s*(?:(\d+)|(\d+)\s*-\s*(\d+)|([<>]=?)\s*(\d+))\s*$")


def seconds(value: float | int | str) -> float:
    """A duration: a number of seconds, or a string such as ``"250ms"`` / ``"2s"``."""
    if isinstance(value, str):
        found = _DURATION.match(value.strip())
        if found is None:
            raise ValueError(f"{value!r} is not a duration (seconds, or a string like '250ms' or '2s')")
        number = float(found.group(1))
        return number / 1000 if found.group(2) == "ms" else number
    return float(value)


def country_of(to: str) -> str | None:
    """The ISO 3166 region of a number (``GB`` for +44...), or None when it is not a phone number.

    Fictional test ranges (Ofcom's +44 7700 900xxx, the US 555-01xx block) are not "valid" numbers,
    so they count as their calling code's main country: test numbers are what users script."""
    found = lookup(number(to))
    return found.region if found else None


@dataclass(frozen=True, slots=True)
class Pattern:
    """One text condition: exact, glob (``+44*``), ``/regex/``, or (for bodies) contains."""

    text: str
    kind: PatternKind
    regex: re.Pattern[str] | None = None

    prefix: str | None = None  # globs like "+44*" are a plain startswith, the common case

    def test(self, value: str) -> bool:
        if self.prefix is not None:
            return value.startswith(self.prefix)
        if self.regex is not None:
            return self.regex.search(value) is not None
        if self.kind == "contains":
            return self.text in value
        return self.text == value

    def to_json(self) -> str:
        return self.text


def pattern(text: str, *, phone: bool, contains: bool = False) -> Pattern:
    """Compile a pattern. Phone patterns are normalised like the numbers they are tested against."""
    if len(text) >= 2 and text.startswith("/") and text.endswith("/"):
        try:
            return Pattern(text, "regex", re.compile(text[1:-1]))
        except re.error as exc:
            raise ValueError(f"invalid regular expression {text}: {exc}") from None
    if "*" in text or "?" in text or "[" in text:
        glob = f"+{text}" if phone and text[:1].isdecimal() else text
        # fullmatch semantics: a glob describes the whole value, like a shell pattern.
        literal = glob[:-1]
        prefix = literal if glob.endswith("*") and not any(c in literal for c in "*?[") else None
        return Pattern(text, "glob", re.compile(fnmatch.translate(glob)), prefix)
    if contains:
        return Pattern(text, "contains")
    return Pattern(text, "exact", None) if not phone else Pattern(number(text), "exact")


@dataclass(frozen=True, slots=True)
class CallRange:
    """Which calls to a provider under one credential a rule applies to (1-based, inclusive)."""

    text: str
    low: int
    high: float  # math.inf when open-ended

    def __contains__(self, call: int) -> bool:
        return self.low <= call <= self.high


def calls(value: int | str) -> CallRange:
    if isinstance(value, int):
        if value < 1:
            raise ValueError(f"calls are numbered from 1, got {value}")
        return CallRange(str(value), value, value)
    found = _CALLS.match(value)
    if found is None:
        raise ValueError(f"calls {value!r} is not a call number or range ('3', '1-3', '>5', '<=2')")
    single, low, high, op, bound = found.groups()
    if single is not None:
        result = CallRange(value, int(single), int(single))
    elif low is not None:
        result = CallRange(value, int(low), int(high))
    else:
        n = int(bound)
        result = {
            ">": CallRange(value, n + 1, math.inf),
            ">=": CallRange(value, n, math.inf),
            "<": CallRange(value, 1, n - 1),
            "<=": CallRange(value, 1, n),
        }[op]
    if result.low < 1 or result.low > result.high:
        raise ValueError(f"calls {value!r} matches no call: calls are numbered from 1 and the range is empty")
    return result


@dataclass(frozen=True, slots=True)
class Latency:
    kind: LatencyKind
    low: float = 0.0  # fixed value, or uniform lower bound
    high: float = 0.0  # uniform upper bound
    median: float = 0.0
    sigma: float = 0.0
    cap: float = math.inf

    def draw(self, rng: random.Random) -> float:
        if self.kind == "fixed":
            return self.low
        if self.kind == "uniform":
            return rng.uniform(self.low, self.high)
        # exp(N(ln median, sigma)) has that median; the cap keeps the long tail from stalling a run.
        return min(rng.lognormvariate(math.log(self.median), self.sigma), self.cap)

    def to_json(self) -> Any:
        if self.kind == "fixed":
            return self.low
        if self.kind == "uniform":
            return {"uniform": [self.low, self.high]}
        cap = None if self.cap == math.inf else self.cap
        return {"lognormal": {"median": self.median, "sigma": self.sigma, "cap": cap}}


def latency(value: Any) -> Latency:
    if not isinstance(value, Mapping):
        return Latency("fixed", low=seconds(value))
    if "uniform" in value:
        low, high = (seconds(v) for v in value["uniform"])
        if low > high:
            raise ValueError(f"uniform latency [{low}, {high}]: the minimum is above the maximum")
        return Latency("uniform", low=low, high=high)
    spec = value["lognormal"]
    median, sigma = seconds(spec["median"]), float(spec["sigma"])
    cap = seconds(spec["cap"]) if spec.get("cap") is not None else math.inf
    if median <= 0:
        raise ValueError("lognormal latency needs a median above 0")
    if cap < median:
        raise ValueError(f"lognormal latency cap {cap} is below its median {median}")
    return Latency("lognormal", median=median, sigma=sigma, cap=cap)


def _any(patterns: tuple[Pattern, ...], value: str) -> bool:
    for p in patterns:  # noqa: SIM110  # a plain loop: any() over a generator costs more than the tests
        if p.test(value):
            return True
    return False


@dataclass(frozen=True, slots=True)
class Match:
    """The conditions of one rule; an empty ``Match`` matches everything."""

    to: tuple[Pattern, ...] = ()
    sender: tuple[Pattern, ...] = ()
    body: tuple[Pattern, ...] = ()
    countries: frozenset[str] = frozenset()
    calls: CallRange | None = None

    @property
    def empty(self) -> bool:
        return not (self.to or self.sender or self.body or self.countries or self.calls)

    def test(self, facts: Facts, call: int) -> bool:
        # Cheapest checks first; the country lookup is cached per number.
        if self.calls is not None and call not in self.calls:
            return False
        if self.to and not _any(self.to, facts.to):
            return False
        if self.sender and not _any(self.sender, facts.sender):
            return False
        if self.body and not _any(self.body, facts.body):
            return False
        return not self.countries or country_of(facts.to) in self.countries

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for key, patterns in (("to", self.to), ("from", self.sender), ("body", self.body)):
            if patterns:
                data[key] = [p.to_json() for p in patterns]
        if self.countries:
            data["country"] = sorted(self.countries)
        if self.calls is not None:
            data["calls"] = self.calls.text
        return data


@dataclass(frozen=True, slots=True)
class Rule:
    provider: ProviderName
    index: int
    name: str
    line: int
    match: Match
    decision: Decision  # precomputed; only a drawn latency is filled in per hit
    times: int | None = None
    probability: float | None = None
    latency: Latency | None = None

    @property
    def always(self) -> bool:
        """Fires on every request: no condition, no expiry, no chance involved."""
        return self.match.empty and self.times is None and self.probability is None

    def to_json(self, hits: int) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "line": self.line, "hits": hits}
        if self.times is not None:
            data["times"] = self.times
            data["remaining"] = max(self.times - hits, 0)
        if self.probability is not None:
            data["probability"] = self.probability
        data["match"] = self.match.to_json()
        data["outcome"] = self.decision.to_json()
        if self.latency is not None:
            data["outcome"]["latency"] = self.latency.to_json()
        return data


@dataclass(frozen=True, slots=True)
class Defaults:
    deliver: DeliveryPlan | None = DeliveryPlan(after=1.0)  # for accepted messages no rule scripted
    latency: Latency | None = None
    timeout: float = 30.0  # how long a `timeout` fault holds the response at most
    slow_body: float = 3.0  # how long a `slow_body` fault takes to dribble the body
    callback_attempts: int = 5
    callback_backoff: float = 0.5
