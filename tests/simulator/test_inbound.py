"""Handsets that reply: POST /_sim/inbound pushes each provider's own inbound webhook, and the
providers' pull APIs and registration APIs read and steer it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from tests.simulator.receiver import Receiver

HANDSET = "+447700900123"
NUMBER = "+12025550100"
AC = "AC" + "5a" * 16
TOKEN = "inbound-token"


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with Receiver() as found:
        yield found


@pytest.fixture(autouse=True)
def clean(simulator: Any, receiver: Receiver) -> Iterator[None]:
    receiver.clear()
    yield
    simulator.control.delete("/_sim/inbound/urls").raise_for_status()  # registrations outlive resets


def register(simulator: Any, provider: str, url: str, **extra: str) -> dict[str, Any]:
    answer = simulator.control.post("/_sim/inbound/urls", json={"provider": provider, "url": url, **extra})
    assert answer.status_code == 201, answer.text
    found: dict[str, Any] = answer.json()
    return found


def text(simulator: Any, provider: str, body: str = "Hello there", **extra: str) -> httpx.Response:
    payload = {"provider": provider, "from": HANDSET, "to": NUMBER, "body": body, **extra}
    answer: httpx.Response = simulator.control.post("/_sim/inbound", json=payload)
    return answer


def test_without_a_registered_url_the_answer_is_409_no_inbound_url(simulator: Any) -> None:
    answer = text(simulator, "sinch")
    assert answer.status_code == 409
    assert answer.json()["error"] == "no_inbound_url"
    assert simulator.control.get("/_sim/inbound").json()["count"] == 0


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        ({"provider": "nokia", "from": HANDSET, "to": NUMBER, "body": "x"}, "provider"),
        ({"provider": "sinch", "from": "not a number", "to": NUMBER, "body": "x"}, "from"),
        ({"provider": "sinch", "from": HANDSET, "to": NUMBER, "body": ""}, "body"),
        ({"provider": "sinch", "from": HANDSET, "to": NUMBER, "body": "x", "sender": "y"}, "unknown field"),
    ],
)
def test_bad_inbound_requests_are_400_and_change_nothing(simulator: Any, payload: dict[str, Any], problem: str) -> None:
    register(simulator, "sinch", "http://127.0.0.1:9/never")
    answer = simulator.control.post("/_sim/inbound", json=payload)
    assert answer.status_code == 400
    assert problem in answer.json()["message"]
    assert simulator.control.get("/_sim/inbound").json()["count"] == 0


def test_twilio_pushes_a_signed_form_that_the_sdk_validator_accepts(simulator: Any, receiver: Receiver) -> None:
    from twilio.request_validator import RequestValidator

    url = f"{receiver.url}/twilio/inbound"
    register(simulator, "twilio", url, account=AC, auth_token=TOKEN)
    answer = text(simulator, "twilio", "Hello 👋")
    assert answer.status_code == 202 and answer.json()["url"] == url
    (push,) = receiver.wait(1)
    form = dict(parse_qsl(push.body.decode()))
    assert form["From"] == HANDSET and form["To"] == NUMBER and form["Body"] == "Hello 👋"
    assert form["AccountSid"] == AC and form["MessageSid"].startswith("SM") and form["SmsStatus"] == "received"
    assert form["NumSegments"] == "1" and form["NumMedia"] == "0"
    assert RequestValidator(TOKEN).validate(url, form, push.headers["x-twilio-signature"])
    assert not RequestValidator("another-token").validate(url, form, push.headers["x-twilio-signature"])


def test_sinch_pushes_mo_text_and_lists_it_under_inbounds(simulator: Any, receiver: Receiver) -> None:
    register(simulator, "sinch", f"{receiver.url}/sinch", account="plan1")
    sent = text(simulator, "sinch", "STOP").json()
    (push,) = receiver.wait(1)
    body = json.loads(push.body)
    assert body == {
        "type": "mo_text",
        "id": sent["id"],
        "from": HANDSET[1:],
        "to": NUMBER[1:],
        "body": "STOP",
        "received_at": body["received_at"],
        "operator_id": "",
    }
    listed = simulator.control.get("/xms/v1/plan1/inbounds", headers={"Authorization": "Bearer t"}).json()
    assert listed["count"] == 1 and listed["inbounds"][0]["id"] == sent["id"]
    one = simulator.control.get(f"/xms/v1/plan1/inbounds/{sent['id']}", headers={"Authorization": "Bearer t"})
    assert one.status_code == 200 and one.json()["body"] == "STOP"
    other = simulator.control.get("/xms/v1/plan2/inbounds", headers={"Authorization": "Bearer t"}).json()
    assert other["count"] == 0


def test_infobip_forwards_results_and_the_inbox_hands_each_message_out_once(simulator: Any, receiver: Receiver) -> None:
    register(simulator, "infobip", f"{receiver.url}/infobip", account="key1")
    text(simulator, "infobip", "first")
    text(simulator, "infobip", "second")
    pushes = receiver.wait(2)
    results = [json.loads(p.body)["results"][0] for p in pushes]
    assert sorted(r["text"] for r in results) == ["first", "second"]
    assert all(r["from"] == HANDSET[1:] and r["smsCount"] == 1 for r in results)
    headers = {"Authorization": "App key1"}
    first = simulator.control.get("/sms/1/inbox/reports", params={"limit": 1}, headers=headers).json()
    assert first["messageCount"] == 1 and first["pendingMessageCount"] == 1
    second = simulator.control.get("/sms/1/inbox/reports", headers=headers).json()
    assert [r["text"] for r in second["results"]] == ["second"]
    assert simulator.control.get("/sms/1/inbox/reports", headers=headers).json()["results"] == []


def test_clicksend_inbound_rule_sets_where_the_push_goes(simulator: Any, receiver: Receiver) -> None:
    rule = {
        "dedicated_number": "*",
        "rule_name": "all to the app",
        "message_search_type": 0,
        "message_search_term": "",
        "action": "URL",
        "action_address": f"{receiver.url}/clicksend",
        "enabled": 1,
    }
    created = simulator.control.post("/v3/automations/sms/inbound", json=rule, auth=("user1", "key"))
    assert created.status_code == 200
    rule_id = created.json()["data"]["inbound_rule_id"]
    assert text(simulator, "clicksend", "Yes").status_code == 202
    (push,) = receiver.wait(1)
    form = dict(parse_qsl(push.body.decode()))
    assert push.headers["content-type"] == "application/x-www-form-urlencoded"
    assert form["from"] == HANDSET and form["body"] == "Yes" and form["_keyword"] == "yes"
    inbox = simulator.control.get("/v3/sms/inbound", auth=("user1", "key")).json()["data"]
    assert inbox["total"] == 1 and inbox["data"][0]["message_id"] == form["message_id"]
    deleted = simulator.control.delete(f"/v3/automations/sms/inbound/{rule_id}", auth=("user1", "key"))
    assert deleted.status_code == 200
    assert text(simulator, "clicksend").status_code == 409


def test_clicksend_rule_ids_stay_unique_and_clearing_the_urls_forgets_the_rules(
    simulator: Any, receiver: Receiver
) -> None:
    rules, auth = "/v3/automations/sms/inbound", ("user1", "key")

    def create(name: str) -> int:
        rule = {
            "dedicated_number": "*",
            "rule_name": name,
            "message_search_type": 0,
            "message_search_term": "",
            "action": "URL",
            "action_address": f"{receiver.url}/{name}",
            "enabled": 1,
        }
        created = simulator.control.post(rules, json=rule, auth=auth)
        assert created.status_code == 200
        return int(created.json()["data"]["inbound_rule_id"])

    first, second = create("a"), create("b")
    assert simulator.control.delete(f"{rules}/{first}", auth=auth).status_code == 200
    third = create("c")
    assert len({first, second, third}) == 3  # a new rule never overwrites a living one
    listed = simulator.control.get(rules, auth=auth).json()["data"]["data"]
    assert sorted(r["inbound_rule_id"] for r in listed) == sorted([second, third])
    simulator.control.delete("/_sim/inbound/urls").raise_for_status()
    assert simulator.control.get(rules, auth=auth).json()["data"]["data"] == []
    assert text(simulator, "clicksend").status_code == 409


def test_twilio_incoming_phone_number_sms_url_routes_pushes_for_that_number(simulator: Any, receiver: Receiver) -> None:
    numbers = f"/2010-04-01/Accounts/{AC}/IncomingPhoneNumbers"
    created = simulator.control.post(
        f"{numbers}.json", data={"PhoneNumber": NUMBER, "SmsUrl": f"{receiver.url}/tw"}, auth=(AC, TOKEN)
    )
    assert created.status_code == 201
    sid = created.json()["sid"]
    text(simulator, "twilio")
    assert receiver.wait(1)[0].path == "/tw"
    simulator.control.post(f"{numbers}/{sid}.json", data={"SmsUrl": f"{receiver.url}/moved"}, auth=(AC, TOKEN))
    text(simulator, "twilio")
    assert receiver.wait(2)[1].path == "/moved"
    assert simulator.control.delete(f"{numbers}/{sid}.json", auth=(AC, TOKEN)).status_code == 204
    assert text(simulator, "twilio").status_code == 409


def test_sinch_retries_a_failing_push_on_its_schedule(clocked_simulator: Any, receiver: Receiver) -> None:
    sim = clocked_simulator
    register(sim, "sinch", f"{receiver.url}/flaky")
    receiver.answers[:] = [503, 503]
    sent = text(sim, "sinch").json()
    receiver.wait(1)

    def pushed() -> dict[str, Any]:
        listed: list[dict[str, Any]] = sim.control.get("/_sim/inbound").json()["inbound"]
        (found,) = [m for m in listed if m["id"] == sent["id"]]
        return found

    # Done when the simulator has recorded the third answer, not when the receiver has sent it.
    sim.advance_until(lambda: len(pushed()["attempts"]) >= 3, step=1.0, limit=20)
    found = pushed()
    assert [a["status"] for a in found["attempts"]] == [503, 503, 200]
    assert found["delivery"] == "delivered"
    pushes = [e for e in sim.control.get("/_sim/requests").json()["requests"] if e["method"] == "INBOUND"]
    assert [e["outcome"]["result"] for e in pushes] == ["retry", "retry", "delivered"]


def test_twilio_does_not_retry_an_http_error(simulator: Any, receiver: Receiver) -> None:
    register(simulator, "twilio", f"{receiver.url}/down", auth_token=TOKEN)
    receiver.answers[:] = [500]
    sent = text(simulator, "twilio").json()
    receiver.wait(1)
    for _ in range(100):
        (found,) = [m for m in simulator.control.get("/_sim/inbound").json()["inbound"] if m["id"] == sent["id"]]
        if found["delivery"] != "queued":
            break
    assert found["delivery"] == "refused" and len(found["attempts"]) == 1


def test_a_scripted_handset_replies_after_delivery(clocked_simulator: Any, receiver: Receiver) -> None:
    sim = clocked_simulator
    register(sim, "twilio", f"{receiver.url}/replies", auth_token=TOKEN)
    scenario = """
name: replies
defaults: {deliver: {status: delivered, after: 1s}}
replies:
  - {to: "+447700900123", body: STOP, after: 2s}
"""
    assert sim.control.put("/_sim/scenario", content=scenario).status_code == 200
    sent = sim.control.post(
        f"/2010-04-01/Accounts/{AC}/Messages.json",
        data={"To": HANDSET, "From": NUMBER, "Body": "Sale! Reply STOP to unsubscribe"},
        auth=(AC, TOKEN),
    )
    assert sent.status_code == 201
    sim.advance_until(lambda: bool(receiver.received), step=0.5, limit=10)
    form = dict(parse_qsl(receiver.received[0].body.decode()))
    assert (form["From"], form["To"], form["Body"]) == (HANDSET, NUMBER, "STOP")
