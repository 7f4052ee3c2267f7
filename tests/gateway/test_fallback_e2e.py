"""The real gateway against the real simulator, both on uvicorn over TCP (127.0.0.1, port 0).

Each retryable class hands off to the next provider; each hard class stops the chain. The
simulator's own message list is the ground truth of what was actually sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from lynsms import simulator
from lynsms.clock import FastForwardClock
from lynsms.gateway import create_app
from lynsms.gateway.config import GatewayConfig, load_config
from lynsms.simulator.harness.gateway_host import GatewayHost
from lynsms.simulator.harness.replay.stack import served
from lynsms.simulator.harness.server import ServerThread
from lynsms.tls import client_tls

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
KEY = "e2e-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
SEND = {"to": "+12025550143", "from": "LynSMS", "body": "Your verification code is 482194", "reference": "signup-9214"}


@dataclass
class Bench:
    """One simulator and one gateway server for the module, on one fast-forward clock: each test
    mounts a fresh gateway (empty store, closed circuits) on the same server, and a scripted hang
    takes the gateway's timeout in clock time, not in wall time."""

    clock: FastForwardClock
    sim_url: str
    host: GatewayHost
    sim: httpx.Client
    api: httpx.Client

    @contextmanager
    def gateway(self, config: GatewayConfig) -> Iterator[httpx.Client]:
        app = create_app(config, environ={}, clock=self.clock)
        self.host.mount(served(app, self.clock))
        self.host.call(app.state.tracking.registered())  # its start-up calls are not the test's
        try:
            yield self.api
        finally:
            self.host.unmount()


@pytest.fixture(scope="module")
def bench() -> Iterator[Bench]:
    clock = FastForwardClock()
    try:
        with (
            ServerThread(served(simulator.create_app(clock=clock), clock)) as sim_server,
            GatewayHost() as host,
            httpx.Client(base_url=sim_server.url, timeout=10, verify=client_tls()) as sim,
            httpx.Client(base_url=host.url, headers=AUTH, timeout=30, verify=client_tls()) as api,
        ):
            yield Bench(clock, sim_server.url, host, sim, api)
    finally:
        clock.close()


@pytest.fixture
def sim(bench: Bench) -> httpx.Client:
    assert bench.sim.post("/_sim/reset").status_code == 200
    bench.sim.delete("/_sim/scenario", params={"all": "true"})
    return bench.sim


def load_scenario(sim: httpx.Client, name: str) -> None:
    response = sim.put("/_sim/scenario", content=(SCENARIOS / f"{name}.scenario.yaml").read_bytes())
    assert response.status_code == 200, response.text


def config_for(sim_url: str, **provider_overrides: dict[str, Any]) -> GatewayConfig:
    config = load_config(None, sim_url).with_api_key(KEY)
    providers = dict(config.providers)
    for name, changes in provider_overrides.items():
        providers[name] = replace(providers[name], settings=replace(providers[name].settings, **changes))
    return replace(config, providers=providers)


@pytest.fixture
def gw(bench: Bench, sim: httpx.Client) -> Iterator[httpx.Client]:
    # A Twilio timeout shorter than the "hang" scenario's, on the clock: it costs no wall time.
    with bench.gateway(config_for(bench.sim_url, twilio={"timeout": 0.5})) as client:
        yield client


def sim_messages(sim: httpx.Client, provider: str | None = None) -> list[dict[str, Any]]:
    params = {"provider": provider} if provider else {}
    messages: list[dict[str, Any]] = sim.get("/_sim/messages", params=params).json()["messages"]
    return messages


def test_send_reaches_twilio_in_the_simulator(gw: httpx.Client, sim: httpx.Client) -> None:
    response = gw.post("/api/v1/messages/send", json=SEND)
    assert response.status_code == 201, response.text
    message = response.json()["data"]
    assert (message["status"], message["provider"], message["attempts"]) == ("sent", "twilio", 1)
    [delivered] = sim_messages(sim)
    assert (delivered["provider"], delivered["to"], delivered["body"]) == ("twilio", SEND["to"], SEND["body"])
    assert delivered["id"] == message["provider_message_id"]


@pytest.mark.parametrize(
    ("scenario", "reason"),
    [
        ("twilio-503-outage", "server_error"),
        ("twilio-timeout", "timeout"),
        ("connection-reset", "connection_error"),
        ("rate-limited-retry-after", "rate_limited"),
        ("malformed-response", "malformed_response"),
    ],
)
def test_falls_back_to_sinch_on_each_retryable_twilio_failure(
    gw: httpx.Client, sim: httpx.Client, scenario: str, reason: str
) -> None:
    load_scenario(sim, scenario)
    response = gw.post("/api/v1/messages/send", json=SEND)
    assert response.status_code == 201, response.text
    message = response.json()["data"]
    assert message["provider"] == "sinch" and message["status"] == "sent"
    first, second = message["attempt_log"]
    assert (first["provider"], first["outcome"], first["reason"]) == ("twilio", "retryable", reason)
    assert (second["provider"], second["outcome"]) == ("sinch", "accepted")
    assert [m["to"] for m in sim_messages(sim, "sinch")] == [SEND["to"]]


@pytest.mark.parametrize(
    ("scenario", "to", "reason"),
    [
        ("invalid-number-hard-error", "+12025550143", "invalid_number"),
        ("unsubscribed-recipient-hard-error", "+447700900666", "unsubscribed"),
        ("insufficient-funds-hard-error", "+12025550143", "insufficient_funds"),
    ],
)
def test_hard_failure_stops_the_chain_and_nothing_is_sent(
    gw: httpx.Client, sim: httpx.Client, scenario: str, to: str, reason: str
) -> None:
    load_scenario(sim, scenario)
    response = gw.post("/api/v1/messages/send", json={**SEND, "to": to})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "provider_rejected"
    assert [(a["provider"], a["outcome"], a["reason"]) for a in error["attempts"]] == [("twilio", "hard", reason)]
    assert sim_messages(sim) == []
    stored = gw.get(f"/api/v1/messages/{error['message_id']}").json()["data"]
    assert stored["status"] == "failed" and stored["error"]["code"] == "provider_rejected"


def test_rejected_credentials_are_a_hard_auth_failure(bench: Bench, sim: httpx.Client) -> None:
    config = config_for(bench.sim_url, twilio={"credentials": {"account_sid": "not-a-sid", "auth_token": "x"}})
    with bench.gateway(config) as client:
        error = client.post("/api/v1/messages/send", json=SEND).json()["error"]
        assert error["code"] == "provider_rejected"
        assert error["attempts"][0]["outcome"] == "hard" and error["attempts"][0]["http_status"] == 401
    assert sim_messages(sim) == []


def test_every_provider_down_is_502_routing_exhausted(gw: httpx.Client, sim: httpx.Client) -> None:
    load_scenario(sim, "all-providers-down")
    response = gw.post("/api/v1/messages/send", json=SEND)
    assert response.status_code == 502, response.text
    error = response.json()["error"]
    assert error["code"] == "routing_exhausted"
    assert [(a["provider"], a["outcome"]) for a in error["attempts"]] == [
        ("twilio", "retryable"),
        ("sinch", "retryable"),
        ("infobip", "retryable"),
        ("clicksend", "retryable"),
    ]
    assert sim_messages(sim) == []


def test_failed_sinch_batch_falls_back_to_twilio_once_per_recipient(gw: httpx.Client, sim: httpx.Client) -> None:
    # Sinch answers a batch with one HTTP status: a 503 for the batch fails every recipient in it,
    # and each must then reach Twilio exactly once.
    load_scenario(sim, "uk-numbers-fail-on-sinch")
    recipients = ["+12025550143", "+442079460123", "+4748640969"]
    body = {
        "from": "LynSMS",
        "recipients": recipients,
        "body": "Tickets for tonight — bit.ly/lens-friday",
        "provider": "sinch",
    }
    response = gw.post("/api/v1/messages/bulk", json=body)
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert (data["sent"], data["failed"]) == (3, 0)
    assert sim.get("/_sim/requests", params={"provider": "sinch"}).json()["count"] == 1
    assert sim_messages(sim, "sinch") == []
    assert sorted(m["to"] for m in sim_messages(sim, "twilio")) == sorted(recipients)
    first = gw.get(f"/api/v1/messages/{data['messages'][0]['id']}").json()["data"]
    assert [(a["provider"], a["outcome"]) for a in first["attempt_log"]] == [
        ("sinch", "retryable"),
        ("twilio", "accepted"),
    ]


def test_bulk_to_sinch_is_one_batch_request(gw: httpx.Client, sim: httpx.Client) -> None:
    recipients = ["+12025550143", "+447700900100", "+4748640969"]
    body = {
        "from": "LynSMS",
        "recipients": recipients,
        "body": "Tickets for tonight — bit.ly/lens-friday",
        "provider": "sinch",
    }
    data = gw.post("/api/v1/messages/bulk", json=body).json()["data"]
    assert (data["sent"], data["failed"]) == (3, 0)
    assert sim.get("/_sim/requests", params={"provider": "sinch"}).json()["count"] == 1
    assert sorted(m["to"] for m in sim_messages(sim, "sinch")) == sorted(recipients)


def test_bulk_of_a_thousand_through_a_batch_provider(gw: httpx.Client, sim: httpx.Client) -> None:
    recipients = [f"+1202{2000000 + i:07d}" for i in range(1000)]
    response = gw.post(
        "/api/v1/messages/bulk", json={"from": "LynSMS", "recipients": recipients, "body": "hi", "provider": "infobip"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["data"]["sent"] == 1000
    assert len(sim_messages(sim, "infobip")) == 1000
