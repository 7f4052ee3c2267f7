"""A gateway process killed mid-bulk (SIGKILL) or stopped (SIGTERM), restarted on the same
database, judged only through the public APIs: the gateway's messages and the simulator's.

The drill's mechanics are ``benchmarks/crash_bench.py``'s, so the benchmark (1,000 recipients,
several kill points) and this test (a few dozen, one point) judge alike."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from benchmarks.crash_bench import (
    RECIPIENTS,
    Bulk,
    Process,
    bulk_payload,
    drill,
    gateway,
    headers,
    lynsms,
    scenario,
    settled,
    simulator_messages,
    wait_for,
)


@contextmanager
def slow_simulator(tmp_path: Path, provider: str, latency: float) -> Iterator[Process]:
    """A simulator process of its own (port 0) whose ``provider`` answers ``latency`` seconds late:
    requests still waiting when a test ends die with it, instead of lingering in a shared one."""
    path = tmp_path / "slow.scenario.json"
    path.write_text(scenario(provider, latency), "utf-8")
    with lynsms("simulator", "--scenario", str(path)) as simulator:
        yield simulator


@pytest.mark.parametrize(
    ("provider", "latency", "recipients", "kill_after"),
    [
        # Twilio, one request per message, 16 in flight: killed once the second wave is in flight
        # (each wave waits 1 s for its answers: ample time to kill it under a loaded machine).
        ("twilio", 1.0, 40, 17),
        # Sinch: the whole bulk is one batch, killed while it waits for its answer.
        ("sinch", 2.0, 20, 20),
    ],
)
def test_sigkill_mid_bulk_shows_no_accepted_message_failed_and_sends_none_twice(
    tmp_path: Path, provider: str, latency: float, recipients: int, kill_after: int
) -> None:
    with slow_simulator(tmp_path, provider, latency) as simulator:
        verdict = drill(simulator.url, tmp_path / "gateway.db", provider, RECIPIENTS[:recipients], kill_after)
    assert verdict.accepted >= kill_after
    assert verdict.accepted_shown_failed == 0
    assert verdict.sent_twice == 0
    assert verdict.accepted_not_shown_sent == 0  # every acceptance was found again
    assert verdict.reconciled > 0  # the requests in flight at the kill were settled with the provider
    assert verdict.replay_matches  # the bulk's Idempotency-Key replays each recipient as GET shows it


def test_sigterm_mid_bulk_answers_in_the_envelope_and_parks_the_messages(tmp_path: Path) -> None:
    # Twilio answers each request only after 30 s: the gateway's graceful wait (3 s) runs out first.
    payload = bulk_payload(RECIPIENTS[:4], "twilio")
    db = tmp_path / "gateway.db"
    with slow_simulator(tmp_path, "twilio", 30.0) as simulator:
        with gateway(db, simulator.url) as running:
            bulk = Bulk(running.url, payload, "sigterm")
            wait_for(lambda: len(simulator_messages(simulator.url)) == 4, 10.0, "the requests to reach Twilio")
            running.terminate()
            bulk.thread.join(timeout=20)
            assert running.process.wait(timeout=20) == 0
        with gateway(db, simulator.url) as restarted:
            wait_for(lambda: settled(restarted.url), 20.0, "reconciliation")
            replay = httpx.post(
                f"{restarted.url}/api/v1/messages/bulk", json=payload, headers=headers("sigterm"), timeout=10
            )
        assert len(simulator_messages(simulator.url)) == 4  # nothing resent

    assert bulk.response is not None, bulk.error
    assert bulk.response.status_code == 503
    assert bulk.response.headers["content-type"] == "application/json"
    answer = json.loads(bulk.response.text)
    assert answer["success"] is False and answer["error"]["code"] == "interrupted"
    assert [m["status"] for m in answer["error"]["messages"]] == ["unconfirmed"] * 4
    assert replay.status_code == 201
    assert [m["status"] for m in replay.json()["data"]["messages"]] == ["sent"] * 4
