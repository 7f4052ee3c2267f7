"""Delivery reports end to end, all on real servers (127.0.0.1, port 0):

    simulator ──provider callback──> gateway ──signed event──> webhook receiver

The scenario decides each message's fate; the simulator sends each provider's real callback; the
receiver checks the signature with the documented recipe and the echoed ``reference``. Where a
report's delay matters, the simulator runs on a ``ManualClock`` (the ``clocked_simulator`` fixture):
reports come when the test advances time, and each test waits for exactly what it checks.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from twilio.request_validator import RequestValidator

from lynsms.clock import ManualClock
from lynsms.gateway import create_app
from lynsms.gateway.config import GatewayConfig, WebhookSettings, load_config
from lynsms.gateway.delivery.callback_auth import CallbackAuth
from lynsms.gateway.signing import derive_secret
from lynsms.simulator.harness.server import ServerThread, make_server
from lynsms.tls import client_tls
from tests.e2e.gateway_process import gateway_process


class RunningSimulator(Protocol):
    """The ``simulator`` fixture of tests/conftest.py (importing it by name clashes with other conftests)."""

    url: str
    control: httpx.Client

    def journal(self) -> list[dict[str, Any]]: ...


class ClockedSimulator(RunningSimulator, Protocol):
    """The ``clocked_simulator`` fixture: its reports come when the test advances its clock."""

    clock: ManualClock

    def settle(self, done: Callable[[], bool] = ..., within: float = 60.0) -> bool: ...

    def advance_until(
        self, done: Callable[[], bool], step: float = 0.5, limit: float = 60.0, within: float = 60.0
    ) -> None: ...


KEY = "e2e-dlr-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
SECRET = derive_secret(KEY)  # no webhook_secret configured: derived from the sending key
TWILIO_TOKEN = "e2e-auth-token"
REPORT_SECRET = "e2e-report-secret"  # so a test can build the report URLs the gateway hands providers
DELIVERED, UNDELIVERED, FAILED, SILENT = "+12025550101", "+12025550102", "+12025550103", "+12025550104"
OUTCOMES = {DELIVERED: "delivered", UNDELIVERED: "undelivered", FAILED: "failed"}
# Each provider's default error code for the scripted outcome (docs/providers/*.md).
CODES = {
    "twilio": {UNDELIVERED: "30003", FAILED: "30001"},
    "sinch": {UNDELIVERED: "27", FAILED: "408"},
    "infobip": {UNDELIVERED: "27", FAILED: "1"},
    "clicksend": {UNDELIVERED: "12", FAILED: "8"},
}
PROVIDERS = list(CODES)


def scenario(provider: str, after: float = 0.2) -> str:
    return f"""
name: dlr-outcomes
defaults:
  deliver: {{status: delivered, after: {after}}}
providers:
  {provider}:
    - {{name: undelivered, match: {{to: "{UNDELIVERED}"}}, deliver: {{status: undelivered, after: {after}}}}}
    - {{name: failed, match: {{to: "{FAILED}"}}, deliver: {{status: failed, after: {after}}}}}
    - {{name: silent, match: {{to: "{SILENT}"}}, deliver: false}}
"""


def wait_for(check: Callable[..., Any], *args: Any, timeout: float = 60.0, what: str = "condition") -> Any:
    """``check(*args)``, once it is truthy; ``args`` rather than a closure, so a loop can pass its
    current values. ``timeout`` only bounds a failure: a loaded machine may take long to get there."""
    deadline = time.monotonic() + timeout
    while True:
        result = check(*args)
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


# ---- the customer's webhook receiver ---------------------------------------------------------------


def verify(secret: str, body: bytes, header: str, tolerance: int = 300) -> bool:
    """The verification recipe from docs/gateway.md, written out as a customer would."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"]) and abs(time.time() - int(parts["t"])) <= tolerance


@dataclass
class Receiver:
    """Accepts (2xx) and records every correctly signed event; counts deliveries per event id."""

    secret: str = SECRET
    events: list[dict[str, Any]] = field(default_factory=list)
    forged: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            body = await request.body()
            if not verify(self.secret, body, request.headers.get("lynsms-signature", "t=0,v1=")):
                with self.lock:
                    self.forged += 1
                return Response(status_code=400)
            event = json.loads(body)
            assert request.headers["lynsms-event-id"] == event["id"]
            with self.lock:
                self.events.append(event)
            return Response(status_code=204)

        return Starlette(routes=[Route("/hooks", hook, methods=["POST"])])

    def of(self, message_id: str) -> list[str]:
        with self.lock:
            return [e["type"] for e in self.events if e["message_id"] == message_id]

    def counts(self) -> Counter[str]:
        with self.lock:
            return Counter(e["id"] for e in self.events)

    def clear(self) -> None:
        with self.lock:
            self.events.clear()
            self.forged = 0


@pytest.fixture(scope="module")
def _receiver_server() -> Iterator[tuple[Receiver, str]]:
    hooks = Receiver()
    with ServerThread(hooks.app()) as server:
        yield hooks, f"{server.url}/hooks"


@pytest.fixture
def receiver(_receiver_server: tuple[Receiver, str]) -> tuple[Receiver, str]:
    """The module's webhook receiver, with nothing received yet."""
    _receiver_server[0].clear()
    return _receiver_server


@pytest.fixture(scope="module")
def outside() -> Iterator[httpx.Client]:
    """A client without the gateway's API key: a provider (or a forger) posting reports."""
    with httpx.Client(timeout=15, verify=client_tls()) as client:
        yield client


# ---- the gateway, on a real server that knows its own URL ------------------------------------------


def gateway_config(sim_url: str, webhook_url: str, **webhooks: Any) -> GatewayConfig:
    config = load_config(None, sim_url).with_api_key(KEY)
    settings = replace(WebhookSettings(url=webhook_url, retry_seconds=0.05, timeout_seconds=2), **webhooks)
    return replace(config, webhooks=settings, report_secret=REPORT_SECRET)


def report_url(gw: httpx.Client, provider: str) -> str:
    """The URL the gateway hands ``provider`` for its reports, token included."""
    url = CallbackAuth(REPORT_SECRET, str(gw.base_url).rstrip("/")).url(provider)
    assert url is not None
    return url


def with_twilio_token(config: GatewayConfig, token: str) -> GatewayConfig:
    twilio = config.providers["twilio"]
    credentials = {**twilio.settings.credentials, "auth_token": token}
    settings = replace(twilio.settings, credentials=credentials)
    return replace(config, providers={**config.providers, "twilio": replace(twilio, settings=settings)})


@contextmanager
def gateway(config: GatewayConfig, callbacks: bool = True, db: Path | None = None) -> Iterator[httpx.Client]:
    server = ServerThread(Starlette())  # binds a free port first, so the gateway can know its URL...
    public = replace(config, public_url=server.url if callbacks else None)
    app = create_app(public, db_path=str(db) if db else ":memory:", environ={})
    server.server = make_server(app)  # ...and only then serves the real app on it
    with server, httpx.Client(base_url=server.url, headers=AUTH, timeout=15, verify=client_tls()) as client:
        yield client


def send(gw: httpx.Client, to: str, provider: str, reference: str) -> dict[str, Any]:
    response = gw.post(
        "/api/v1/messages/send",
        json={
            "to": to,
            "from": "LynSMS",
            "body": "Your code is 482194",
            "provider": provider,
            "reference": reference,
        },
    )
    assert response.status_code == 201, response.text
    message: dict[str, Any] = response.json()["data"]
    assert message["provider"] == provider
    return message


def fetch(gw: httpx.Client, message_id: str) -> dict[str, Any]:
    data: dict[str, Any] = gw.get(f"/api/v1/messages/{message_id}").json()["data"]
    return data


def events(gw: httpx.Client, message_id: str) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = gw.get(f"/api/v1/messages/{message_id}/events").json()["data"]["events"]
    return listed


def webhooks_delivered(gw: httpx.Client, message_id: str, count: int = 2) -> bool:
    """The message has ``count`` customer events and the receiver took each of them. A status change
    and its event are stored together, so no other event is on its way once this holds."""
    webhooks = [e for e in events(gw, message_id) if e["type"] == "webhook"]
    return len(webhooks) == count and all(w["delivery"] == "delivered" for w in webhooks)


def load(simulator: RunningSimulator, text: str) -> None:
    response = simulator.control.put("/_sim/scenario", content=text.encode())
    assert response.status_code == 200, response.text


# ---- each provider: delivered, undelivered, failed ---------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
def test_each_outcome_reaches_the_message_and_the_customer_signed(
    provider: str, clocked_simulator: ClockedSimulator, receiver: tuple[Receiver, str]
) -> None:
    simulator = clocked_simulator
    hooks, hook_url = receiver
    load(simulator, scenario(provider))
    with gateway(gateway_config(simulator.url, hook_url)) as gw:
        if provider == "clicksend":  # receipts are per account: the gateway registers its URL at start
            wait_for(
                lambda: any(
                    e["path"] == "/v3/automations/sms/receipts" and e["method"] == "POST" for e in simulator.journal()
                ),
                what="ClickSend receipt URL registration",
            )
        sent = {to: send(gw, to, provider, f"ref-{provider}-{to[-1]}") for to in OUTCOMES}
        simulator.advance_until(lambda: all(len(hooks.of(m["id"])) == 2 for m in sent.values()), step=0.1)
        for to, expected in OUTCOMES.items():
            message_id = sent[to]["id"]
            assert hooks.of(message_id) == ["message.sent", f"message.{expected}"]
            message = fetch(gw, message_id)
            assert message["status"] == expected
            if to == DELIVERED:
                assert message["error"] is None
            else:
                assert message["error"]["code"] == ("undelivered" if expected == "undelivered" else "delivery_failed")
                assert (message["error"]["provider"], message["error"]["provider_code"]) == (
                    provider,
                    CODES[provider][to],
                )
            final = [e for e in hooks.events if e["message_id"] == message_id][-1]
            assert final["reference"] == final["data"]["reference"] == f"ref-{provider}-{to[-1]}"
            assert final["data"]["status"] == expected and final["sequence"] == 2
            timeline = events(gw, message_id)
            reports = [e for e in timeline if e["type"] == "delivery_report"]
            assert [r["applied"] for r in reports][-1] is True and reports[-1]["report_status"] == expected
            webhooks = [e for e in timeline if e["type"] == "webhook"]
            wait_for(
                lambda message_id: all(
                    w["delivery"] == "delivered" for w in events(gw, message_id) if w["type"] == "webhook"
                ),
                message_id,
            )
            assert [w["event_type"] for w in webhooks] == ["message.sent", f"message.{expected}"]
    assert hooks.forged == 0
    assert set(hooks.counts().values()) == {1}


# ---- forged, duplicate and reversed callbacks -----------------------------------------------------------


def test_forged_or_unsigned_twilio_callback_is_refused_and_changes_nothing(
    simulator: RunningSimulator, receiver: tuple[Receiver, str], outside: httpx.Client
) -> None:
    _, hook_url = receiver
    load(simulator, scenario("twilio"))
    with gateway(with_twilio_token(gateway_config(simulator.url, hook_url), TWILIO_TOKEN)) as gw:
        message = send(gw, SILENT, "twilio", "forged")
        url = report_url(gw, "twilio")  # the gateway's public URL + path + token
        form = {
            "MessageSid": message["provider_message_id"],
            "MessageStatus": "delivered",
            "AccountSid": "AC" + "0" * 32,
        }
        before = events(gw, message["id"])
        forged = RequestValidator("not-the-token").compute_signature(url, form)
        for headers in ({"X-Twilio-Signature": forged}, {}):
            answer = outside.post(url, data=form, headers=headers)
            assert answer.status_code == 403
            assert answer.json()["success"] is False and answer.json()["error"]["code"] == "invalid_signature"
        # Signed for another URL (a replay aimed elsewhere) is refused too.
        elsewhere = RequestValidator(TWILIO_TOKEN).compute_signature(url + "&x=1", form)
        assert outside.post(url, data=form, headers={"X-Twilio-Signature": elsewhere}).status_code == 403
        assert fetch(gw, message["id"])["status"] == "sent"
        assert [e for e in events(gw, message["id"]) if e["type"] != "webhook"] == [
            e for e in before if e["type"] != "webhook"
        ]
        # The genuine article, signed as the twilio SDK's validator signs, goes through.
        genuine = RequestValidator(TWILIO_TOKEN).compute_signature(url, form)
        assert outside.post(url, data=form, headers={"X-Twilio-Signature": genuine}).status_code == 200
        assert fetch(gw, message["id"])["status"] == "delivered"


@pytest.mark.parametrize("token", [None, "0" * 32])
def test_a_report_without_its_url_token_is_refused_even_with_a_known_message_id(
    simulator: RunningSimulator, receiver: tuple[Receiver, str], token: str | None, outside: httpx.Client
) -> None:
    _, hook_url = receiver
    load(simulator, scenario("infobip"))
    with gateway(gateway_config(simulator.url, hook_url)) as gw:
        message = send(gw, SILENT, "infobip", "forged")  # Infobip reports name the public msg_ id
        result = {"messageId": message["provider_message_id"], "status": {"groupName": "DELIVERED", "name": "X"}}
        base = str(gw.base_url).rstrip("/") + "/api/v1/webhooks/infobip"
        forged = outside.post(base, params={"token": token} if token else None, json={"results": [result]})
        assert forged.status_code == 403 and forged.json()["error"]["code"] == "invalid_callback_token"
        assert fetch(gw, message["id"])["status"] == "sent"
        assert outside.post(report_url(gw, "infobip"), json={"results": [result]}).status_code == 200
        assert fetch(gw, message["id"])["status"] == "delivered"


def test_a_default_gateway_refuses_callbacks_signed_with_the_old_public_twilio_token(
    simulator: RunningSimulator, receiver: tuple[Receiver, str], outside: httpx.Client
) -> None:
    _, hook_url = receiver
    load(simulator, scenario("twilio"))
    with gateway(gateway_config(simulator.url, hook_url)) as gw:  # Twilio on its built-in credentials
        message = send(gw, SILENT, "twilio", "forged")
        url = report_url(gw, "twilio")
        form = {"MessageSid": message["provider_message_id"], "MessageStatus": "delivered"}
        signed = RequestValidator("lynsms-local-auth-token").compute_signature(url, form)
        answer = outside.post(url, data=form, headers={"X-Twilio-Signature": signed})
        assert answer.status_code == 403 and answer.json()["error"]["code"] == "invalid_signature"
        assert fetch(gw, message["id"])["status"] == "sent"


def test_duplicate_and_reversed_reports_set_one_final_status_and_notify_once(
    simulator: RunningSimulator, receiver: tuple[Receiver, str]
) -> None:
    hooks, hook_url = receiver
    load(simulator, scenario("infobip"))
    with gateway(gateway_config(simulator.url, hook_url)) as gw:
        message = send(gw, SILENT, "infobip", "dups")

        def report(group: str, name: str, error_id: int = 0) -> dict[str, Any]:
            result = {
                "messageId": message["provider_message_id"],
                "status": {"groupName": group, "name": name},
                "error": {"groupId": 1 if error_id else 0, "id": error_id, "description": "Absent subscriber"},
                "doneAt": "2026-05-12T11:34:25.000+0000",
            }
            answer = gw.post(report_url(gw, "infobip"), json={"results": [result]}, headers={"Authorization": ""})
            assert answer.status_code == 200, answer.text
            data: dict[str, Any] = answer.json()["data"]
            return data

        assert report("DELIVERED", "DELIVERED_TO_HANDSET")["changed"] == 1
        assert report("DELIVERED", "DELIVERED_TO_HANDSET") == {  # the provider's retry: a duplicate
            "object": "report_receipt",
            "provider": "infobip",
            "reports": 1,
            "changed": 0,
            "recorded": 1,
            "parked": 0,
        }
        assert report("PENDING", "PENDING_ENROUTE")["recorded"] == 1  # the late intermediate report
        assert report("UNDELIVERABLE", "UNDELIVERABLE_NOT_DELIVERED", 27)["recorded"] == 1  # a second final one
        wait_for(webhooks_delivered, gw, message["id"], what="two events, received")  # and no third
        assert hooks.of(message["id"]) == ["message.sent", "message.delivered"]
        stored = fetch(gw, message["id"])
        assert (stored["status"], stored["error"]) == ("delivered", None)
        reports = [e for e in events(gw, message["id"]) if e["type"] == "delivery_report"]
        assert [(r["report_status"], r["applied"]) for r in reports] == [
            ("delivered", True),
            ("delivered", False),
            ("sent", False),
            ("undelivered", False),
        ]
        assert reports[1]["note"] == "the message is already delivered"


def test_unknown_message_reports_are_acknowledged_and_dropped_after_parking(
    simulator: RunningSimulator, receiver: tuple[Receiver, str]
) -> None:
    _, hook_url = receiver
    with gateway(gateway_config(simulator.url, hook_url, park_seconds=0.2)) as gw:
        receipt = {"message_id": "NOPE-1", "status_code": "201", "status_text": "Delivered", "timestamp": "1778585661"}
        answer = gw.post(report_url(gw, "clicksend"), data=receipt, headers={"Authorization": ""})
        assert answer.status_code == 200 and answer.json()["data"]["parked"] == 1
        bad = gw.post(report_url(gw, "sinch"), json={"type": "nonsense"}, headers={"Authorization": ""})
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_report"
        assert gw.post("/api/v1/webhooks/nexmo", json={}).status_code == 404


# ---- the receiver down for a while ---------------------------------------------------------------------


def first_attempts(gw: httpx.Client, message_id: str) -> int:
    webhooks = [e for e in events(gw, message_id) if e["type"] == "webhook"]
    return int(webhooks[0]["attempts"]) if len(webhooks) == 2 else 0


def test_receiver_down_then_up_gets_each_event_once_in_order(clocked_simulator: ClockedSimulator) -> None:
    simulator = clocked_simulator
    hooks = Receiver()
    down = ServerThread(hooks.app())  # reserve a port, then free it: connections are refused
    port = urlsplit(down.url).port
    down.socket.close()
    load(simulator, scenario("sinch", after=0.1))
    with gateway(gateway_config(simulator.url, f"{down.url}/hooks")) as gw:
        ids = [send(gw, to, "sinch", f"down-{i}")["id"] for i, to in enumerate(OUTCOMES)]
        simulator.advance_until(lambda: all(fetch(gw, i)["status"] != "sent" for i in ids), step=0.1)
        for message_id in ids:  # every final report is in, and the first event keeps failing
            wait_for(lambda message_id: first_attempts(gw, message_id) >= 2, message_id, what="failed attempts")
        sent_event, final_event = [e for e in events(gw, ids[0]) if e["type"] == "webhook"]
        assert sent_event["delivery"] == "pending" and "connection error" in sent_event["last_error"]
        # The final event waits behind it, untried: events of one message never overtake each other.
        assert (final_event["delivery"], final_event["attempts"]) == ("pending", 0)
        with ServerThread(hooks.app(), port=port or 0):
            for message_id in ids:
                wait_for(webhooks_delivered, gw, message_id, what="every event after recovery")
    assert hooks.counts() and set(hooks.counts().values()) == {1}
    for message_id, expected in zip(ids, OUTCOMES.values(), strict=True):
        assert hooks.of(message_id) == ["message.sent", f"message.{expected}"]


# ---- the gateway killed with events pending --------------------------------------------------------------


def test_gateway_killed_with_events_pending_loses_nothing_after_restart(
    clocked_simulator: ClockedSimulator, tmp_path: Path
) -> None:
    simulator = clocked_simulator
    hooks = Receiver()
    down = ServerThread(hooks.app())
    port, hook_url = urlsplit(down.url).port, f"{down.url}/hooks"
    down.socket.close()
    config = tmp_path / "gateway.yaml"
    config.write_text("webhook_retry_seconds: 0.05\nwebhook_timeout_seconds: 2\n")
    load(simulator, scenario("twilio", after=0.1))
    db = tmp_path / "gateway.db"
    args = ("--db", str(db), "--simulator-url", simulator.url, "--webhook-url", hook_url, "--config", str(config))
    with gateway_process(*args, api_key=KEY, banner=4) as killed:
        gw = killed.client
        assert f"webhook secret  {SECRET}" in killed.banner[3]
        ids = [send(gw, to, "twilio", f"kill-{i}")["id"] for i, to in enumerate(OUTCOMES)]
        simulator.advance_until(lambda: all(fetch(gw, i)["status"] != "sent" for i in ids), step=0.1)
        for message_id in ids:
            wait_for(lambda message_id: first_attempts(gw, message_id) >= 1, message_id, what="failed attempts")
        # SIGKILL (the context's exit): no shutdown code runs, the outbox is only what was committed.
    # Restarted on its database with its config (a server in this process: what matters is the file).
    same = load_config(str(config), simulator.url).with_api_key(KEY)
    again = replace(same, webhooks=replace(same.webhooks, url=hook_url))
    with ServerThread(hooks.app(), port=port or 0), gateway(again, db=db) as gw:
        for message_id in ids:
            wait_for(webhooks_delivered, gw, message_id, what="every event after the restart")
    assert len(hooks.counts()) == 6 and set(hooks.counts().values()) == {1}
    for message_id, expected in zip(ids, OUTCOMES.values(), strict=True):
        assert hooks.of(message_id) == ["message.sent", f"message.{expected}"]


# ---- polling, when callbacks never come ----------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
def test_polling_finds_final_statuses_when_no_callback_comes(
    provider: str, clocked_simulator: ClockedSimulator, receiver: tuple[Receiver, str]
) -> None:
    simulator = clocked_simulator
    hooks, hook_url = receiver
    load(simulator, scenario(provider, after=0.1))
    # The gateway polls on its own (real) clock, every 0.2 s, what has been sent for 0.05 s.
    config = gateway_config(simulator.url, hook_url, poll_after_seconds=0.05)
    with gateway(config, callbacks=False) as gw:  # no public URL: providers are given no callback URL
        sent = {to: send(gw, to, provider, f"poll-{to[-1]}")["id"] for to in OUTCOMES}
        # Every scripted report falls due: the provider knows the final statuses, only a poll finds them.
        simulator.advance_until(lambda: simulator.clock.pending() == 0, step=0.1)
        for to, expected in OUTCOMES.items():
            wait_for(
                lambda to, expected: fetch(gw, sent[to])["status"] == expected,
                to,
                expected,
                what=f"{expected} by polling",
            )
            reports = [e for e in events(gw, sent[to]) if e["type"] == "delivery_report"]
            assert [(r["source"], r["applied"]) for r in reports] == [("poll", True)]
            wait_for(
                lambda to, expected: hooks.of(sent[to]) == ["message.sent", f"message.{expected}"],
                to,
                expected,
                what="the events",
            )
    assert not [e for e in simulator.journal() if e["method"] == "CALLBACK"]
