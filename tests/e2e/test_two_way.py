"""Two-way SMS end to end, real servers and real HTTP: a simulator whose handsets reply, a
gateway that stores inbound messages, keeps the opt-out list and looks numbers up, and a customer
webhook endpoint that receives the signed events."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from lynsms.gateway import create_app as create_gateway
from lynsms.gateway.config import GatewayConfig
from lynsms.gateway.inbound import inbound_url
from lynsms.gateway.signing import derive_secret, verify
from lynsms.simulator import Simulator, create_app
from lynsms.simulator.harness.gateway_host import GatewayHost
from lynsms.simulator.harness.inbound_urls import register_over_http
from lynsms.simulator.harness.replay.gateway_settings import gateway_config
from lynsms.simulator.harness.server import ServerThread
from lynsms.tls import client_tls
from tests.simulator.receiver import Receiver

KEY = "lyn_test_two_way"
HANDSET = "+447700900123"
NUMBER = "+12025550100"


@dataclass
class Stack:
    sim: httpx.Client
    api: httpx.Client
    raw: httpx.Client
    hooks: Receiver
    config: GatewayConfig
    gateway_url: str
    app: Any

    def inbound(self, provider: str) -> str:
        """The provider's inbound URL as the gateway hands it out (with its callback token)."""
        url = inbound_url(self.app.state.tracking.callbacks, provider)
        assert url is not None
        return url

    def reply(self, body: str, provider: str = "twilio", sender: str = HANDSET) -> dict[str, Any]:
        answer = self.sim.post("/_sim/inbound", json={"provider": provider, "from": sender, "to": NUMBER, "body": body})
        assert answer.status_code == 202, answer.text
        sent: dict[str, Any] = answer.json()
        for _ in range(500):
            found = [m for m in self.sim.get("/_sim/inbound").json()["inbound"] if m["id"] == sent["id"]]
            if found and found[0]["delivery"] != "queued":
                settled: dict[str, Any] = found[0]
                return settled
            time.sleep(0.01)
        raise AssertionError("the push did not settle")

    def events(self, count: int) -> list[dict[str, Any]]:
        return [json.loads(r.body) for r in self.hooks.wait(count)]

    def sends(self) -> list[dict[str, Any]]:
        return [e for e in self.sim.get("/_sim/requests").json()["requests"] if e["method"] == "POST"]


@dataclass
class Servers:
    """The module's servers and one keep-alive client each; every test mounts a fresh gateway."""

    sim_url: str
    host: GatewayHost
    hooks: Receiver
    sim: httpx.Client
    api: httpx.Client
    raw: httpx.Client  # no credentials: what a provider (or a forger) sends


@pytest.fixture(scope="module")
def servers() -> Iterator[Servers]:
    with (
        ServerThread(create_app(sim=Simulator(seed=13))) as sim,
        GatewayHost() as host,
        Receiver() as hooks,
        httpx.Client(base_url=sim.url, trust_env=False, verify=client_tls()) as sim_client,
        httpx.Client(
            base_url=host.url, headers={"Authorization": f"Bearer {KEY}"}, trust_env=False, verify=client_tls()
        ) as api,
        httpx.Client(trust_env=False, verify=client_tls()) as raw,
    ):
        yield Servers(sim.url, host, hooks, sim_client, api, raw)


@pytest.fixture
def stack(servers: Servers) -> Iterator[Stack]:
    host, hooks = servers.host, servers.hooks
    config = gateway_config({}, servers.sim_url, host.url, KEY, f"{hooks.url}/events")
    app = create_gateway(config, environ={})
    host.mount(app)
    # Its start-up calls (ClickSend's receipt URL) land before the reset, not among a test's sends.
    host.call(app.state.tracking.registered())
    register_over_http(servers.sim, app)
    hooks.clear()
    servers.sim.post("/_sim/reset").raise_for_status()
    try:
        yield Stack(servers.sim, servers.api, servers.raw, hooks, config, host.url, app)
    finally:
        host.unmount()


def test_stop_opts_the_sender_out_and_the_customer_hears_both_events_signed(stack: Stack) -> None:
    pushed = stack.reply(" Stop ")
    assert pushed["delivery"] == "delivered"
    received, opted_out = stack.events(2)
    assert received["type"] == "message.received"
    assert received["data"]["from"] == HANDSET and received["data"]["keyword"] == "STOP"
    assert opted_out["type"] == "recipient.opted_out" and opted_out["data"]["number"] == HANDSET
    for raw in stack.hooks.received:
        assert verify(derive_secret(KEY), raw.body, raw.headers["lynsms-signature"])
    listed = stack.api.get("/api/v1/opt-outs").json()["data"]
    assert [o["number"] for o in listed["opt_outs"]] == [HANDSET]
    inbound = stack.api.get("/api/v1/inbound", params={"from": HANDSET}).json()["data"]["inbound"]
    assert inbound[0]["body"] == " Stop " and inbound[0]["provider"] == "twilio"


def test_a_send_to_an_opted_out_number_fails_422_and_reaches_no_provider(stack: Stack) -> None:
    stack.reply("STOP", provider="sinch")
    before = len(stack.sends())
    answer = stack.api.post("/api/v1/messages/send", json={"to": HANDSET, "from": "LynSMS", "body": "Sale"})
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "recipient_opted_out"
    stored = stack.api.get(f"/api/v1/messages/{error['message_id']}").json()["data"]
    assert stored["status"] == "failed" and stored["provider"] is None
    bulk = stack.api.post(
        "/api/v1/messages/bulk", json={"recipients": [HANDSET, "+447700900124"], "from": "LynSMS", "body": "Sale"}
    ).json()["data"]
    assert [(m["status"], (m["error"] or {}).get("code")) for m in bulk["messages"]] == [
        ("failed", "recipient_opted_out"),
        ("sent", None),
    ]
    sent_to = [m["to"] for e in stack.sends()[before:] for m in e["messages"]]
    assert HANDSET not in sent_to and sent_to == ["+447700900124"]


def test_start_opts_back_in_and_a_repeat_changes_nothing(stack: Stack) -> None:
    stack.reply("STOP")
    stack.reply("STOP")
    stack.reply("start")
    types = [e["type"] for e in stack.events(5)]  # three received, one out, one back in
    assert types.count("recipient.opted_out") == 1 and types.count("recipient.opted_in") == 1
    assert stack.api.get("/api/v1/opt-outs").json()["data"]["total"] == 0


def test_help_is_answered_through_the_same_provider_from_the_same_number(stack: Stack) -> None:
    stack.reply("HELP", provider="infobip")
    (answer,) = stack.sends()
    assert answer["provider"] == "infobip"
    (message,) = answer["messages"]
    assert message["to"] == HANDSET and message["from"] == NUMBER
    assert message["body"] == stack.config.two_way.help_text


def test_a_forged_twilio_inbound_is_refused_403_and_stores_nothing(stack: Stack) -> None:
    form = {"MessageSid": "SM" + "0" * 32, "From": HANDSET, "To": NUMBER, "Body": "STOP"}
    answer = stack.raw.post(
        stack.inbound("twilio"),
        content=urlencode(form),
        headers={"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": "forged"},
    )
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "invalid_signature"
    assert stack.api.get("/api/v1/inbound").json()["data"]["inbound"] == []
    assert stack.api.get("/api/v1/opt-outs").json()["data"]["total"] == 0


@pytest.mark.parametrize(
    ("provider", "content_type", "body"),
    [
        ("sinch", "application/json", b'{"type": "mo_binary", "id": "x"}'),
        ("sinch", "application/json", b"not json"),
        ("infobip", "application/json", b'{"results": []}'),
        ("clicksend", "application/json", b'{"from": "+447700900123"}'),
    ],
)
def test_malformed_inbound_is_400_and_changes_nothing(
    stack: Stack, provider: str, content_type: str, body: bytes
) -> None:
    answer = stack.raw.post(stack.inbound(provider), content=body, headers={"Content-Type": content_type})
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_inbound"
    assert stack.api.get("/api/v1/inbound").json()["data"]["inbound"] == []


def test_an_inbound_push_without_the_url_token_is_refused_403(stack: Stack) -> None:
    push = {"type": "mo_text", "id": "01ABC", "from": "447700900123", "to": "12025550100", "body": "STOP"}
    answer = stack.raw.post(f"{stack.gateway_url}/api/v1/webhooks/sinch/inbound", json=push)
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "invalid_callback_token"
    assert stack.api.get("/api/v1/opt-outs").json()["data"]["total"] == 0


def test_a_provider_retrying_the_same_push_is_recorded_once(stack: Stack) -> None:
    push = {"type": "mo_text", "id": "01ABC", "from": "447700900123", "to": "12025550100", "body": "hi"}
    for _ in range(2):
        answer = stack.raw.post(stack.inbound("sinch"), json=push)
        assert answer.status_code == 200
    assert answer.json()["data"]["duplicates"] == 1
    assert len(stack.api.get("/api/v1/inbound").json()["data"]["inbound"]) == 1


def test_the_opt_out_list_is_managed_through_the_api(stack: Stack) -> None:
    added = stack.api.post("/api/v1/opt-outs", json={"number": HANDSET})
    assert added.status_code == 201 and added.json()["data"]["source"] == "api"
    assert stack.api.post("/api/v1/opt-outs", json={"number": HANDSET}).status_code == 200
    bad = stack.api.post("/api/v1/opt-outs", json={"number": "07700 900123"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "number"
    assert stack.api.post("/api/v1/opt-outs", json={"number": HANDSET, "why": "x"}).status_code == 422
    assert stack.api.delete(f"/api/v1/opt-outs/{HANDSET}").json()["data"]["opted_out"] is False
    missing = stack.api.delete(f"/api/v1/opt-outs/{HANDSET}")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "opt_out_not_found"
    types = [e["type"] for e in stack.events(2)]
    assert types == ["recipient.opted_out", "recipient.opted_in"]


LOOKUPS = """
name: lookups
lookups:
  - {match: "+442071838750", outcome: landline}
  - {match: "+447700900601", outcome: unreachable}
"""


def test_lookup_batches_through_infobip_and_answers_422_per_non_e164_number(stack: Stack) -> None:
    stack.sim.put("/_sim/scenario", content=LOOKUPS).raise_for_status()
    numbers = ["+447700900600", "07700 900601", "+442071838750", "+447700900601"]
    answer = stack.api.post("/api/v1/lookup", json={"numbers": numbers})
    assert answer.status_code == 200
    data = answer.json()["data"]
    assert data["provider"] == "infobip"
    results = data["results"]
    assert [r["status"] for r in results] == [200, 422, 200, 200]
    assert results[0]["reachable"] is True and results[0]["country"] == "GB"
    assert results[1]["error"]["code"] == "invalid_number"
    assert results[2]["valid"] is False  # an HLR knows no landline
    assert results[3]["valid"] is True and results[3]["reachable"] is False
    queries = [e for e in stack.sim.get("/_sim/requests").json()["requests"] if e["path"] == "/number/1/query"]
    assert len(queries) == 1
    again = stack.api.post("/api/v1/lookup", json={"numbers": numbers}).json()["data"]["results"]
    assert again == results  # from the cache: no second query
    queries = [e for e in stack.sim.get("/_sim/requests").json()["requests"] if e["path"] == "/number/1/query"]
    assert len(queries) == 1


def test_lookup_through_twilio_names_line_types(stack: Stack) -> None:
    stack.sim.put("/_sim/scenario", content=LOOKUPS).raise_for_status()
    answer = stack.api.post("/api/v1/lookup", json={"numbers": ["+442071838750"], "provider": "twilio"})
    (result,) = answer.json()["data"]["results"]
    assert (result["provider"], result["type"], result["valid"]) == ("twilio", "landline", True)


@pytest.mark.parametrize(
    "body",
    [{"numbers": []}, {"numbers": ["+12025550143"] * 1001}, {"numbers": "+12025550143"}, {"numbers": ["+1"], "x": 1}],
)
def test_bad_lookup_requests_are_422(stack: Stack, body: dict[str, Any]) -> None:
    answer = stack.api.post("/api/v1/lookup", json=body)
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "validation_error"


def test_lookup_through_a_provider_without_lookup_is_422(stack: Stack) -> None:
    answer = stack.api.post("/api/v1/lookup", json={"numbers": ["+12025550143"], "provider": "clicksend"})
    assert answer.status_code == 422 and answer.json()["error"]["field"] == "provider"


def test_bulk_with_lookup_fails_landlines_and_dead_numbers_unbilled(stack: Stack) -> None:
    stack.sim.put("/_sim/scenario", content=LOOKUPS).raise_for_status()
    recipients = ["+447700900600", "+442071838750", "+447700900601"]
    body = {"recipients": recipients, "from": "LynSMS", "body": "Tonight", "lookup": True}
    data = stack.api.post("/api/v1/messages/bulk", json=body).json()["data"]
    assert [(m["status"], (m["error"] or {}).get("code"), m["cost"]) for m in data["messages"]][1:] == [
        ("failed", "unreachable_recipient", 0.0),
        ("failed", "unreachable_recipient", 0.0),
    ]
    assert data["messages"][0]["status"] == "sent"
    assert stack.api.post("/api/v1/messages/bulk", json={**body, "lookup": "yes"}).status_code == 422


def test_openapi_documents_the_two_way_endpoints(stack: Stack) -> None:
    paths = stack.api.get("/api/openapi.json").json()["paths"]
    for path in ("/api/v1/webhooks/{provider}/inbound", "/api/v1/inbound", "/api/v1/opt-outs", "/api/v1/lookup"):
        assert path in paths


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "\N{SUPERSCRIPT TWO}"},  # a digit to str.isdigit, not to int()
        {"limit": "9" * 5000},  # longer than int() reads
        {"cursor": base64.urlsafe_b64encode(b"in:" + b"9" * 23).decode()},  # beyond SQLite's int64
    ],
)
def test_inbound_list_refuses_numbers_it_cannot_read_with_400(stack: Stack, params: dict[str, str]) -> None:
    answer = stack.api.get("/api/v1/inbound", params=params)
    assert answer.status_code == 400 and answer.json()["success"] is False
