"""Scripted delivery reports reach a real local HTTP receiver in each provider's own format, are
retried with backoff when the receiver fails, and are served by the polling endpoints too.

The simulator runs on a manual clock: reports fall due when a test advances time, and time moves
only once the callbacks already due have landed, so a loaded machine cannot reorder or drop them."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from twilio.request_validator import RequestValidator

from lynsms.simulator.harness.server import serving
from lynsms.tls import client_tls
from tests.simulator.scenario_wires import TO, TWILIO_AC, TWILIO_TOKEN, WIRES, load

# verify: the process's one TLS context (a new one costs ~30 ms of CPU in every worker).
http = httpx.Client(limits=httpx.Limits(max_keepalive_connections=0), timeout=10, verify=client_tls())


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode()))

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A tiny Starlette app on a real port that records callbacks and can fail the first few."""

    url: str = ""
    got: list[Received] = field(default_factory=list)
    failures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait(self, simulator: Any, count: int, limit: float = 60.0) -> list[Received]:
        """Advance ``simulator``'s clock until ``count`` reports arrived, at most ``limit`` simulated seconds."""
        simulator.advance_until(lambda: len(self.got) >= count, step=0.01, limit=limit)
        return list(self.got)


@pytest.fixture(scope="module")
def _receiver_server() -> Iterator[Receiver]:
    receiver = Receiver()

    async def record(request: Request) -> Response:
        body = await request.body()
        with receiver.lock:
            if receiver.failures > 0:
                receiver.failures -= 1
                return PlainTextResponse("receiver down", status_code=503)
            receiver.got.append(Received(request.url.path, dict(request.headers), body))
        return PlainTextResponse("ok")

    with serving(Starlette(routes=[Route("/{path:path}", record, methods=["POST"])])) as url:
        receiver.url = url
        yield receiver
    http.close()


@pytest.fixture
def simulator(clocked_simulator: Any) -> Any:
    return clocked_simulator


@pytest.fixture
def receiver(_receiver_server: Receiver) -> Receiver:
    _receiver_server.got.clear()
    _receiver_server.failures = 0
    return _receiver_server


def deliver(simulator: Any, provider: str, plan: dict[str, Any], **defaults: Any) -> None:
    load(
        http,
        simulator.url,
        {
            "name": "dlr",
            "defaults": {"callback_backoff": 0.05, **defaults},
            "providers": {provider: [{"deliver": plan}]},
        },
    )


def test_twilio_status_callbacks_are_signed_and_validate_with_the_sdk(simulator: Any, receiver: Receiver) -> None:
    deliver(simulator, "twilio", {"status": "undelivered", "after": 0.2, "error_code": 30003})
    callback = f"{receiver.url}/twilio/status?tenant=7"
    created = WIRES["twilio"].send(http, simulator.url, callback=callback).json()
    sent, final = receiver.wait(simulator, 2)
    validator = RequestValidator(TWILIO_TOKEN)
    for report in (sent, final):
        assert validator.validate(callback, report.form(), report.headers["x-twilio-signature"])
    assert (sent.form()["MessageStatus"], final.form()["MessageStatus"]) == ("sent", "undelivered")
    assert final.form()["ErrorCode"] == "30003" and final.form()["MessageSid"] == created["sid"]
    polled = http.get(
        f"{simulator.url}/2010-04-01/Accounts/{TWILIO_AC}/Messages/{created['sid']}.json",
        auth=(TWILIO_AC, TWILIO_TOKEN),
    ).json()
    assert (polled["status"], polled["error_code"]) == ("undelivered", 30003)


def test_a_failing_receiver_is_retried_with_backoff_until_it_answers(simulator: Any, receiver: Receiver) -> None:
    receiver.failures = 2
    deliver(simulator, "twilio", {"status": "delivered", "after": 0, "intermediate": False})
    WIRES["twilio"].send(http, simulator.url, callback=f"{receiver.url}/twilio")
    [report] = receiver.wait(simulator, 1)
    assert report.form()["MessageStatus"] == "delivered"

    # The simulator journals an attempt as in flight, then records the receiver's answer a moment
    # after the receiver has seen the request.
    def answered() -> bool:
        attempts = [e for e in simulator.journal() if e["method"] == "CALLBACK"]
        return len(attempts) >= 3 and attempts[-1]["outcome"]["result"] != "in_flight"

    simulator.settle(answered)
    attempts = [e for e in simulator.journal() if e["method"] == "CALLBACK"]
    assert [(e["status"], e["outcome"]["attempt"], e["outcome"]["result"]) for e in attempts] == [
        (503, 1, "retry"),
        (503, 2, "retry"),
        (200, 3, "delivered"),
    ]
    assert attempts[0]["provider"] == "twilio" and attempts[0]["path"] == f"{receiver.url}/twilio"
    at = [datetime.fromisoformat(e["at"]) for e in attempts]
    gaps = [round((later - earlier).total_seconds(), 3) for earlier, later in pairwise(at)]
    assert gaps[1] > gaps[0] >= 0.05  # exponential backoff: 0.05 s, then 0.1 s (of the simulator's time)


def test_an_unreachable_receiver_is_given_up_after_the_bounded_attempts(simulator: Any) -> None:
    deliver(simulator, "twilio", {"status": "delivered", "after": 0, "intermediate": False}, callback_attempts=3)
    WIRES["twilio"].send(http, simulator.url, callback="http://127.0.0.1:9/nobody")

    def gave_up() -> bool:
        attempts = [e["outcome"] for e in simulator.journal() if e["method"] == "CALLBACK"]
        return bool(attempts) and attempts[-1]["result"] == "gave_up"

    simulator.advance_until(gave_up, step=0.01)
    attempts = [e["outcome"] for e in simulator.journal() if e["method"] == "CALLBACK"]
    assert [a["result"] for a in attempts] == ["retry", "retry", "gave_up"]
    assert "ConnectError" in attempts[0]["error"]


def test_sinch_pushes_per_recipient_reports_and_serves_them(simulator: Any, receiver: Receiver) -> None:
    deliver(simulator, "sinch", {"status": "delivered", "after": 0.1})
    batch = WIRES["sinch"].send(http, simulator.url, callback=f"{receiver.url}/sinch").json()
    sent, final = receiver.wait(simulator, 2)
    assert [r.json()["status"] for r in (sent, final)] == ["Dispatched", "Delivered"]
    assert final.json()["type"] == "recipient_delivery_report_sms" and final.json()["batch_id"] == batch["id"]
    account = WIRES["sinch"].account
    polled = http.get(
        f"{simulator.url}/xms/v1/{account}/batches/{batch['id']}/delivery_report/{TO.lstrip('+')}",
        headers={"Authorization": "Bearer 0123456789abcdef0123456789abcdef"},
    ).json()
    assert (polled["status"], polled["code"]) == ("Delivered", 0)


def test_infobip_posts_the_webhook_and_serves_the_report(simulator: Any, receiver: Receiver) -> None:
    deliver(simulator, "infobip", {"status": "expired", "after": 0.1})
    sent = WIRES["infobip"].send(http, simulator.url, callback=f"{receiver.url}/infobip").json()
    [report] = receiver.wait(simulator, 1)  # the intermediate PENDING report is pushed only on request
    [result] = report.json()["results"]
    assert (result["messageId"], result["status"]["name"]) == (sent["messages"][0]["messageId"], "EXPIRED_EXPIRED")
    polled = http.get(
        f"{simulator.url}/sms/3/reports", headers={"Authorization": f"App {WIRES['infobip'].account}"}
    ).json()
    assert [r["status"]["groupName"] for r in polled["results"]] == ["EXPIRED"]


def test_clicksend_posts_receipts_to_the_accounts_registered_url(simulator: Any, receiver: Receiver) -> None:
    wire = WIRES["clicksend"]
    auth = (wire.account, "clicksend-api-key")
    http.post(
        f"{simulator.url}/v3/sms/receipts", json={"url": f"{receiver.url}/clicksend"}, auth=auth
    ).raise_for_status()
    deliver(simulator, "clicksend", {"status": "undelivered", "after": 0.1})
    message_id = wire.message_id(wire.send(http, simulator.url).json())
    _, final = receiver.wait(simulator, 2)
    assert (final.form()["message_id"], final.form()["status_code"]) == (message_id, "301")
    polled = http.get(f"{simulator.url}/v3/sms/receipts/{message_id}", auth=auth).json()
    assert polled["data"]["status_code"] == 301


def test_without_a_scenario_messages_are_delivered_after_a_short_delay(simulator: Any, receiver: Receiver) -> None:
    WIRES["twilio"].send(http, simulator.url, callback=f"{receiver.url}/default")
    reports = receiver.wait(simulator, 2, limit=3)  # simulated seconds
    assert [r.form()["MessageStatus"] for r in reports] == ["sent", "delivered"]


def test_a_failed_message_has_no_sent_step(simulator: Any, receiver: Receiver) -> None:
    deliver(simulator, "twilio", {"status": "failed", "after": 0.05})
    WIRES["twilio"].send(http, simulator.url, callback=f"{receiver.url}/failed")
    [report] = receiver.wait(simulator, 1)
    assert (report.form()["MessageStatus"], report.form()["ErrorCode"]) == ("failed", "30001")


def test_a_reset_while_a_callback_is_on_the_wire_leaves_the_simulator_idle(simulator: Any, receiver: Receiver) -> None:
    answered = threading.Event()

    async def hold(request: Request) -> Response:  # a receiver that answers once the test says
        await asyncio.to_thread(answered.wait, 30)
        return PlainTextResponse("ok")

    with serving(Starlette(routes=[Route("/hold", hold, methods=["POST"])])) as slow:
        try:
            deliver(simulator, "twilio", {"status": "delivered", "after": 0.05, "intermediate": False})
            WIRES["twilio"].send(http, simulator.url, callback=f"{slow}/hold")
            simulator.advance_until(lambda: simulator.sim.deliveries.busy > 0, step=0.01)
            http.post(f"{simulator.url}/_sim/reset").raise_for_status()
            simulator.settle(within=10)  # the cancelled send has unwound: nothing is on the wire
            assert (simulator.sim.deliveries.busy, simulator.sim.deliveries.pending) == (0, 0)
        finally:
            answered.set()
    # And the next report is sent when its time comes, not held behind a callback that is gone.
    deliver(simulator, "twilio", {"status": "delivered", "after": 0.05, "intermediate": False})
    WIRES["twilio"].send(http, simulator.url, callback=f"{receiver.url}/after-reset")
    [report] = receiver.wait(simulator, 1)
    assert report.path == "/after-reset"


def test_reset_cancels_pending_deliveries(simulator: Any, receiver: Receiver) -> None:
    deliver(simulator, "twilio", {"status": "delivered", "after": 0.4})
    WIRES["twilio"].send(http, simulator.url, callback=f"{receiver.url}/cancelled")
    http.post(f"{simulator.url}/_sim/reset").raise_for_status()
    simulator.clock.advance(1.0)  # well past when the report was due
    simulator.settle()
    assert receiver.got == [] and simulator.sim.deliveries.pending == 0
