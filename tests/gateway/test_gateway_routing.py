"""Chain computation and the circuit breaker, with a fake clock; then the breaker inside the gateway."""

from __future__ import annotations

import pytest

from lynsms.clock import ManualClock
from lynsms.gateway.routing import CircuitBreaker, compute_chain
from tests.gateway.helpers import SEND, FakeAdapter, failing, make_client, make_config, make_fakes

CHAIN = ("twilio", "sinch", "infobip", "clicksend")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def test_chain_is_the_configured_chain_without_a_preference() -> None:
    assert compute_chain(None, CHAIN) == CHAIN


def test_requested_provider_goes_first_and_appears_once() -> None:
    assert compute_chain("infobip", CHAIN) == ("infobip", "twilio", "sinch", "clicksend")


def test_requested_provider_outside_the_route_is_prepended() -> None:
    assert compute_chain("twilio", ("sinch", "infobip")) == ("twilio", "sinch", "infobip")


def breaker(clock: FakeClock, threshold: int = 3, cooldown: float = 30) -> CircuitBreaker:
    return CircuitBreaker(failure_threshold=threshold, cooldown_seconds=cooldown, clock=clock)


def test_breaker_opens_after_n_consecutive_retryable_failures() -> None:
    clock = FakeClock()
    cb = breaker(clock)
    for _ in range(2):
        cb.record("twilio", "retryable")
    assert cb.state("twilio") == "closed" and cb.acquire("twilio")
    cb.record("twilio", "retryable")
    assert cb.state("twilio") == "open"
    assert not cb.acquire("twilio")
    assert list(cb.walk(CHAIN)) == ["sinch", "infobip", "clicksend"]


def test_success_resets_the_consecutive_count() -> None:
    cb = breaker(FakeClock())
    for outcome in ["retryable", "retryable", "accepted", "retryable", "retryable"]:
        cb.record("twilio", outcome)  # type: ignore[arg-type]
    assert cb.state("twilio") == "closed"


def test_hard_failure_proves_the_provider_alive_and_resets_the_count() -> None:
    cb = breaker(FakeClock())
    for outcome in ["retryable", "retryable", "hard", "retryable", "retryable"]:
        cb.record("twilio", outcome)  # type: ignore[arg-type]
    assert cb.state("twilio") == "closed"


def test_after_the_cooldown_exactly_one_probe_is_let_through() -> None:
    clock = FakeClock()
    cb = breaker(clock, threshold=1, cooldown=30)
    cb.record("twilio", "retryable")
    clock.advance(29.9)
    assert not cb.acquire("twilio")
    clock.advance(0.1)
    assert cb.state("twilio") == "half_open"
    assert cb.acquire("twilio")  # the probe
    assert not cb.acquire("twilio")  # everyone else waits for it
    assert cb.snapshot("twilio").state == "half_open"


def test_successful_probe_closes_the_circuit() -> None:
    clock = FakeClock()
    cb = breaker(clock, threshold=1)
    cb.record("twilio", "retryable")
    clock.advance(30)
    assert cb.acquire("twilio")
    cb.record("twilio", "accepted")
    assert cb.state("twilio") == "closed" and cb.acquire("twilio") and cb.acquire("twilio")


def test_failed_probe_reopens_for_a_full_cooldown() -> None:
    clock = FakeClock()
    cb = breaker(clock, threshold=5)
    for _ in range(5):
        cb.record("twilio", "retryable")
    clock.advance(30)
    assert cb.acquire("twilio")
    cb.record("twilio", "retryable")  # one failure is enough while half-open
    assert cb.state("twilio") == "open"
    clock.advance(29)
    assert not cb.acquire("twilio")
    clock.advance(1)
    assert cb.acquire("twilio")


def test_walk_claims_providers_lazily_so_an_early_stop_strands_no_probe() -> None:
    clock = FakeClock()
    cb = breaker(clock, threshold=1)
    cb.record("sinch", "retryable")
    clock.advance(30)
    walk = cb.walk(("twilio", "sinch"))
    assert next(walk) == "twilio"  # accepted: the caller stops here
    assert cb.acquire("sinch")  # sinch's probe slot was never claimed


def test_when_every_provider_is_open_the_one_recovering_soonest_is_tried() -> None:
    clock = FakeClock()
    cb = breaker(clock, threshold=1, cooldown=30)
    cb.record("sinch", "retryable")
    clock.advance(5)
    cb.record("twilio", "retryable")
    clock.advance(5)
    assert list(cb.walk(("twilio", "sinch"))) == ["sinch"]
    assert not cb.acquire("sinch")  # that attempt is sinch's probe


def test_snapshot_reports_time_until_the_probe() -> None:
    clock = FakeClock()
    cb = breaker(clock, threshold=1, cooldown=30)
    cb.record("twilio", "retryable")
    clock.advance(10)
    snap = cb.snapshot("twilio")
    assert (snap.state, snap.consecutive_failures, snap.retry_in_seconds) == ("open", 1, 20.0)


def test_breaker_rejects_nonsense_settings() -> None:
    with pytest.raises(ValueError, match="failure_threshold must be >= 1"):
        CircuitBreaker(failure_threshold=0)


def test_gateway_skips_a_dead_provider_after_the_threshold_then_probes_it() -> None:
    clock = ManualClock()
    fakes: dict[str, FakeAdapter] = make_fakes()
    fakes["twilio"].script = failing("retryable", "timeout")
    config = make_config(breaker={"failure_threshold": 3, "cooldown_seconds": 30})
    with make_client(config, fakes, clock=clock) as client:
        for _ in range(6):
            assert client.post("/api/v1/messages/send", json=SEND).json()["data"]["provider"] == "sinch"
        assert len(fakes["twilio"].sent) == 3  # then skipped: no more timeouts paid
        health = client.get("/api/health").json()["data"]["providers"]["twilio"]
        assert health["circuit"] == "open" and health["retry_in_seconds"] == 30
        fakes["twilio"].script = fakes["twilio"].accept
        clock.advance(30)
        message = client.post("/api/v1/messages/send", json=SEND).json()["data"]
        assert message["provider"] == "twilio" and message["attempts"] == 1
        assert client.get("/api/health").json()["data"]["providers"]["twilio"]["circuit"] == "closed"
