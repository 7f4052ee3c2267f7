"""Which providers a message tries, in which order: pure logic, no I/O, an injectable clock.

Chain: the requested provider first (if any), then the route's chain (or the default chain),
each provider at most once.

Circuit breaker, per provider::

    closed ──N consecutive retryable failures──> open ──cool-down elapsed──> half-open
      ^                                            ^                            │
      └──────── probe answered (accepted or hard) ─┼────────────────────────────┤
                                                   └──── probe failed retryably ┘

A hard failure (the provider answered and refused the message) proves the provider is alive, so
it resets the count like a success does. While half-open exactly one probe is in flight; other
messages skip the provider until the probe reports.

When every provider of a chain is open the message is not failed without an attempt: it goes to
the provider whose cool-down ends first, as that provider's probe. A breaker exists to stop a
dead provider from costing every message a timeout, not to refuse traffic outright.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

BreakerState = Literal["closed", "open", "half_open"]
Outcome = Literal["accepted", "retryable", "hard"]
Seconds = Callable[[], float]  # a monotonic clock: ``lynsms.clock.Clock.monotonic``


def compute_chain(requested: str | None, chain: Sequence[str]) -> tuple[str, ...]:
    """The requested provider first, then ``chain``, each provider once."""
    ordered = [requested] if requested else []
    ordered.extend(name for name in chain if name != requested)
    return tuple(ordered)


@dataclass
class _Circuit:
    failures: int = 0
    opened_at: float | None = None  # set while open or half-open
    probing: bool = False  # half-open with the probe in flight


@dataclass(frozen=True)
class CircuitSnapshot:
    state: BreakerState
    consecutive_failures: int
    retry_in_seconds: float | None  # while open: seconds until a probe is let through


class CircuitBreaker:
    def __init__(
        self, failure_threshold: int = 5, cooldown_seconds: float = 30.0, clock: Seconds = time.monotonic
    ) -> None:
        if failure_threshold < 1 or cooldown_seconds < 0:
            raise ValueError("failure_threshold must be >= 1 and cooldown_seconds >= 0")
        self.failure_threshold = failure_threshold
        self.cooldown_seconds = cooldown_seconds
        self.clock = clock
        self._circuits: dict[str, _Circuit] = {}

    def _circuit(self, provider: str) -> _Circuit:
        return self._circuits.setdefault(provider, _Circuit())

    def state(self, provider: str) -> BreakerState:
        circuit = self._circuit(provider)
        if circuit.opened_at is None:
            return "closed"
        if circuit.probing or self.clock() - circuit.opened_at >= self.cooldown_seconds:
            return "half_open"
        return "open"

    def acquire(self, provider: str) -> bool:
        """May ``provider`` take traffic now? Letting a half-open probe through claims it."""
        circuit = self._circuit(provider)
        if circuit.opened_at is None:
            return True
        if circuit.probing or self.clock() - circuit.opened_at < self.cooldown_seconds:
            return False
        circuit.probing = True
        return True

    def record(self, provider: str, outcome: Outcome) -> None:
        circuit = self._circuit(provider)
        if outcome != "retryable":
            circuit.failures, circuit.opened_at, circuit.probing = 0, None, False
            return
        circuit.failures += 1
        if circuit.probing or circuit.failures >= self.failure_threshold:
            # A failed probe re-opens for a full cool-down; so does reaching the threshold.
            circuit.opened_at, circuit.probing = self.clock(), False

    def walk(self, chain: Sequence[str]) -> Iterator[str]:
        """Providers to try, lazily: each is claimed only when the caller asks for it, so a chain
        that stops early (accepted, hard failure) never strands a half-open probe."""
        yielded = False
        for provider in chain:
            if self.acquire(provider):
                yielded = True
                yield provider
        if not yielded and chain:
            now = self.clock()
            soonest = min(chain, key=lambda name: self._reopens_at(name, now))
            self._circuit(soonest).probing = True
            yield soonest

    def _reopens_at(self, provider: str, now: float) -> float:
        opened_at = self._circuit(provider).opened_at
        return now if opened_at is None else opened_at + self.cooldown_seconds

    def snapshot(self, provider: str) -> CircuitSnapshot:
        circuit = self._circuit(provider)
        state = self.state(provider)
        retry_in = None
        if state == "open" and circuit.opened_at is not None:
            retry_in = round(max(0.0, circuit.opened_at + self.cooldown_seconds - self.clock()), 3)
        return CircuitSnapshot(state=state, consecutive_failures=circuit.failures, retry_in_seconds=retry_in)
