"""A gateway process killed mid-bulk (SIGKILL) or stopped (SIGTERM), restarted on the same
database, judged only through the public APIs: the gateway's messages and the simulator's.

The gateway that is stopped is a real ``lynsms gateway`` process, since the point is what a killed
process leaves behind; the one restarted on its database serves in this process (a real server
with the command's built-in config), which spares a process start per drill. The simulator they
send to runs in this process too, on a ``ManualClock``: a slow provider's answers come when the
test advances time, so each kill lands exactly where the test means it to (a wave of requests in
flight), however loaded the machine.

The verdict is ``benchmarks/crash_bench.py``'s, so the benchmark (1,000 recipients, several kill
points, real time) and this test (a few dozen, one point) judge alike."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from benchmarks.crash_bench import (
    BODY,
    KEY,
    RECIPIENTS,
    Bulk,
    bulk_payload,
    headers,
    judge,
    settled,
    simulator_messages,
    wait_for,
)
from lynsms.clock import ManualClock
from lynsms.gateway import create_app as create_gateway
from lynsms.gateway.config import load_config
from lynsms.gateway.service import SINGLE_CONCURRENCY
from lynsms.simulator import Simulator, create_app
from lynsms.simulator.harness.server import ServerThread, bind, url_of
from lynsms.tls import client_tls
from tests.e2e.gateway_process import gateway_process

# Latencies in the simulator's time, which moves only when a test advances it.
TWILIO_LATENCY = 1.0  # one request per message, SINGLE_CONCURRENCY in flight
SINCH_LATENCY = 2.0  # the whole bulk in one batch request
FOREVER = 3600.0  # a provider that does not answer while the test runs


class SlowSimulator:
    """A simulator whose providers take the latency the test loads, on a clock the test moves."""

    def __init__(self, server: ServerThread, clock: ManualClock) -> None:
        self.url = server.url
        self.clock = clock
        self.control = httpx.Client(base_url=server.url, timeout=30, verify=client_tls())

    def load(self, providers: dict[str, float]) -> None:
        """Fresh state, and each of ``providers`` answering that many seconds late."""
        self.control.post("/_sim/reset").raise_for_status()
        rules = {name: [{"latency": latency}] for name, latency in providers.items()}
        self.control.put("/_sim/scenario", content=json.dumps({"name": "slow", "providers": rules})).raise_for_status()

    def held(self, provider: str) -> int:
        """Messages ``provider`` accepted: those of requests still waiting for their answer included."""
        return len(self.control.get("/_sim/messages", params={"provider": provider}).json()["messages"])


@contextmanager
def restarted(db: Path, simulator_url: str) -> Iterator[str]:
    """The gateway ``lynsms gateway --db DB --simulator-url URL`` runs, started again on ``db``
    (here, on a port of its own): its URL."""
    sock = bind()  # first, so the gateway knows where providers call it back
    config = load_config(None, simulator_url=simulator_url).with_api_key(KEY, name="lynsms-cli")
    app = create_gateway(dataclasses.replace(config, public_url=url_of(sock)), db_path=str(db), environ={})
    with ServerThread(app, sock=sock) as server:
        yield server.url


@pytest.fixture(scope="module")
def slow() -> Iterator[SlowSimulator]:
    # Starting now: the restarted gateway looks for the messages a kill cut off by their send time.
    clock = ManualClock(start=time.time())
    with ServerThread(create_app(sim=Simulator(seed=11, clock=clock))) as server:
        simulator = SlowSimulator(server, clock)
        try:
            yield simulator
        finally:
            # Answer every request a killed gateway left waiting, so the server stops at once
            # instead of waiting out its graceful shutdown for them.
            clock.advance(2 * FOREVER)
            simulator.control.close()


def test_sigkill_mid_bulk_shows_no_accepted_message_failed_and_sends_none_twice(
    slow: SlowSimulator, tmp_path: Path
) -> None:
    """One gateway killed with two bulks in flight: Twilio's (one request per message) once its
    second wave of requests waits for answers, Sinch's (the whole bulk one batch) while its batch
    waits. Each bulk has its own recipients and body, so each is judged on its own."""
    slow.load({"twilio": TWILIO_LATENCY, "sinch": SINCH_LATENCY})
    twilio = bulk_payload(RECIPIENTS[:40], "twilio")
    sinch = {**bulk_payload(RECIPIENTS[40:60], "sinch"), "body": f"{BODY} (Sinch)"}
    keys = {"twilio": "crash-twilio", "sinch": "crash-sinch"}
    db = tmp_path / "gateway.db"
    with gateway_process("--db", str(db), "--simulator-url", slow.url, api_key=KEY) as first:
        bulks = [Bulk(first.url, twilio, keys["twilio"]), Bulk(first.url, sinch, keys["sinch"])]
        wait_for(lambda: slow.held("twilio") == SINGLE_CONCURRENCY, 60.0, "Twilio's first wave")
        wait_for(lambda: slow.held("sinch") == 20, 60.0, "Sinch's batch")
        slow.clock.advance(TWILIO_LATENCY)  # the first wave answered, Sinch's batch still waiting
        wait_for(lambda: slow.held("twilio") > SINGLE_CONCURRENCY, 60.0, "Twilio's second wave")
        first.kill()
        for bulk in bulks:
            bulk.thread.join(timeout=10)
    with restarted(db, slow.url) as second:
        wait_for(lambda: settled(second), 60.0, "reconciliation")
        verdicts = {
            "twilio": judge(second, slow.url, twilio, keys["twilio"]),
            "sinch": judge(second, slow.url, sinch, keys["sinch"]),
        }
    for provider, verdict in verdicts.items():
        assert verdict.accepted >= (SINGLE_CONCURRENCY + 1 if provider == "twilio" else 20), (provider, verdict)
        assert verdict.accepted_shown_failed == 0, (provider, verdict)
        assert verdict.sent_twice == 0, (provider, verdict)
        assert verdict.accepted_not_shown_sent == 0, (provider, verdict)  # every acceptance was found again
        # The requests in flight at the kill were settled with the provider.
        assert verdict.reconciled > 0, (provider, verdict)
        # The bulk's Idempotency-Key replays each recipient as GET shows it.
        assert verdict.replay_matches, (provider, verdict)


def test_sigterm_mid_bulk_answers_in_the_envelope_and_parks_the_messages(slow: SlowSimulator, tmp_path: Path) -> None:
    # Twilio does not answer while the test runs: the gateway's graceful wait (--shutdown-grace) runs
    # out first, and the bulk in flight is cancelled.
    slow.load({"twilio": FOREVER})
    payload = bulk_payload(RECIPIENTS[:4], "twilio")
    db = tmp_path / "gateway.db"
    grace = ("--shutdown-grace", "0.3")
    with gateway_process("--db", str(db), "--simulator-url", slow.url, *grace, api_key=KEY) as running:
        bulk = Bulk(running.url, payload, "sigterm")
        wait_for(lambda: slow.held("twilio") == 4, 10.0, "the requests to reach Twilio")
        running.terminate()
        bulk.thread.join(timeout=20)
        assert running.process.wait(timeout=20) == 0
    with restarted(db, slow.url) as again:
        wait_for(lambda: settled(again), 20.0, "reconciliation")
        replay = httpx.post(
            f"{again}/api/v1/messages/bulk", json=payload, headers=headers("sigterm"), timeout=10, verify=client_tls()
        )
    assert len(simulator_messages(slow.url)) == 4  # nothing resent

    assert bulk.response is not None, bulk.error
    assert bulk.response.status_code == 503
    assert bulk.response.headers["content-type"] == "application/json"
    answer: dict[str, Any] = json.loads(bulk.response.text)
    assert answer["success"] is False and answer["error"]["code"] == "interrupted"
    assert [m["status"] for m in answer["error"]["messages"]] == ["unconfirmed"] * 4
    assert replay.status_code == 201
    assert [m["status"] for m in replay.json()["data"]["messages"]] == ["sent"] * 4
