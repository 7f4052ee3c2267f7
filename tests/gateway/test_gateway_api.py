"""The sending API as the spec shows it: send, get, list, events, quote, health, auth."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from lynsms.gateway import create_app
from lynsms.gateway.providers.base import Failed, Outbound, SendResult
from tests.gateway.helpers import AUTH, SEND, Client, FakeAdapter, failing, make_client, make_config, total_sent

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$")


def error_of(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False
    assert body["meta"]["request_id"].startswith("req_")
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    error: dict[str, Any] = body["error"]
    return error


def test_send_returns_201_with_the_spec_message_object(client: Client) -> None:
    response = client.post("/api/v1/messages/send", json=SEND)
    assert response.status_code == 201
    body = response.json()
    assert body["success"] is True
    assert re.fullmatch(r"req_[0-9A-Za-z]+", body["meta"]["request_id"])
    message = body["data"]
    assert re.fullmatch(r"msg_[0-9A-Za-z]{25}", message["id"])
    assert message["object"] == "message"
    assert (message["to"], message["from"], message["body"]) == (SEND["to"], SEND["from"], SEND["body"])
    assert message["status"] == "sent"
    assert message["cost"] == 0.05 and message["currency"] == "USD"
    assert message["provider"] == "twilio" and message["provider_message_id"]
    assert message["attempts"] == 1
    assert ISO.match(message["created_at"]) and ISO.match(message["sent_at"])
    assert message["reference"] == "signup-9214"
    assert (message["segments"], message["encoding"]) == (1, "GSM-7")
    assert message["error"] is None and message["route_id"] is None


def test_sent_message_can_be_fetched_by_id(client: Client) -> None:
    sent = client.post("/api/v1/messages/send", json=SEND).json()["data"]
    fetched = client.get(f"/api/v1/messages/{sent['id']}")
    assert fetched.status_code == 200
    assert fetched.json()["data"] == sent


def test_unknown_message_id_is_404_message_not_found(client: Client) -> None:
    error = error_of(client.get("/api/v1/messages/msg_doesnotexist"), 404, "message_not_found")
    assert error["message_id"] == "msg_doesnotexist"


def test_long_unicode_body_is_segmented_and_billed_per_segment(client: Client) -> None:
    body = "Привет " * 20  # 140 characters, Cyrillic: UCS-2, 67 per part
    message = client.post("/api/v1/messages/send", json={**SEND, "body": body}).json()["data"]
    assert (message["encoding"], message["segments"]) == ("UCS-2", 3)
    assert message["cost"] == 0.15


def test_country_price_override_applies_to_the_accepting_provider(client: Client) -> None:
    message = client.post("/api/v1/messages/send", json={**SEND, "to": "+447700900100"}).json()["data"]
    assert (message["provider"], message["cost"]) == ("twilio", 0.04)


def test_requested_provider_is_tried_first(client: Client, fakes: dict[str, FakeAdapter]) -> None:
    message = client.post("/api/v1/messages/send", json={**SEND, "provider": "infobip"}).json()["data"]
    assert message["provider"] == "infobip" and message["cost"] == 0.04
    assert len(fakes["infobip"].sent) == 1 and not fakes["twilio"].sent


def test_route_id_uses_the_routes_chain(client: Client, fakes: dict[str, FakeAdapter]) -> None:
    fakes["sinch"].script = failing("retryable")
    message = client.post("/api/v1/messages/send", json={**SEND, "route_id": 1}).json()["data"]
    assert [a["provider"] for a in message["attempt_log"]] == ["sinch", "infobip"]
    assert message["route_id"] == 1 and message["provider"] == "infobip"
    assert not fakes["twilio"].sent


def test_provider_gets_a_status_callback_url_on_the_gateway(client: Client, fakes: dict[str, FakeAdapter]) -> None:
    client.post("/api/v1/messages/send", json={**SEND, "provider": "sinch"})
    outbound = fakes["sinch"].sent[0]
    assert re.fullmatch(
        r"http://gateway\.test/api/v1/webhooks/sinch\?token=[0-9a-f]{32}", outbound.status_callback_url or ""
    )
    assert outbound.reference == "signup-9214" and outbound.message_id.startswith("msg_")


def test_falls_back_to_sinch_when_twilio_fails_retryably(client: Client, fakes: dict[str, FakeAdapter]) -> None:
    fakes["twilio"].script = failing("retryable", "timeout", status=None)
    message = client.post("/api/v1/messages/send", json=SEND).json()["data"]
    assert message["provider"] == "sinch" and message["attempts"] == 2
    first, second = message["attempt_log"]
    assert (first["provider"], first["outcome"], first["reason"]) == ("twilio", "retryable", "timeout")
    assert (second["provider"], second["outcome"]) == ("sinch", "accepted")
    assert message["cost"] == 0.045


def test_hard_rejection_stops_the_chain_with_422_provider_rejected(
    client: Client, fakes: dict[str, FakeAdapter]
) -> None:
    fakes["twilio"].script = failing("hard", "invalid_number", code="21211", status=400)
    error = error_of(client.post("/api/v1/messages/send", json=SEND), 422, "provider_rejected")
    assert [(a["provider"], a["outcome"], a["provider_code"]) for a in error["attempts"]] == [
        ("twilio", "hard", "21211")
    ]
    assert total_sent(fakes) == 1  # nothing after the hard failure
    stored = client.get(f"/api/v1/messages/{error['message_id']}").json()["data"]
    assert stored["status"] == "failed" and stored["cost"] == 0
    assert stored["error"]["code"] == "provider_rejected" and stored["error"]["provider"] == "twilio"


def test_every_provider_failing_retryably_is_502_routing_exhausted(
    client: Client, fakes: dict[str, FakeAdapter]
) -> None:
    for fake in fakes.values():
        fake.script = failing("retryable", "server_error")
    error = error_of(client.post("/api/v1/messages/send", json=SEND), 502, "routing_exhausted")
    assert [a["provider"] for a in error["attempts"]] == ["twilio", "sinch", "infobip", "clicksend"]
    stored = client.get(f"/api/v1/messages/{error['message_id']}").json()["data"]
    assert (stored["status"], stored["attempts"], stored["provider"]) == ("failed", 4, None)
    assert stored["error"]["code"] == "routing_exhausted"


def test_adapter_that_raises_counts_as_retryable_and_falls_back(client: Client, fakes: dict[str, FakeAdapter]) -> None:
    def explode(message: Outbound) -> SendResult:
        raise RuntimeError("adapter bug")

    fakes["twilio"].script = explode
    message = client.post("/api/v1/messages/send", json=SEND).json()["data"]
    assert message["provider"] == "sinch"
    assert message["attempt_log"][0]["reason"] == "adapter_error"


def test_events_record_queued_each_attempt_and_the_outcome(client: Client, fakes: dict[str, FakeAdapter]) -> None:
    fakes["twilio"].script = lambda m: Failed(kind="retryable", reason="rate_limited", message="429", http_status=429)
    message = client.post("/api/v1/messages/send", json=SEND).json()["data"]
    response = client.get(f"/api/v1/messages/{message['id']}/events")
    assert response.status_code == 200
    events = response.json()["data"]["events"]
    assert [e["type"] for e in events] == ["queued", "attempt", "attempt", "sent"]
    assert [e.get("provider") for e in events[1:3]] == ["twilio", "sinch"]
    assert events[1]["http_status"] == 429 and events[-1]["status"] == "sent"
    error_of(client.get("/api/v1/messages/msg_nope/events"), 404, "message_not_found")


def events_of(client: Client, message_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/messages/{message_id}/events")
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()["data"]["events"]
    return events


def test_events_of_a_hard_rejection_end_with_the_failure(client: Client, fakes: dict[str, FakeAdapter]) -> None:
    fakes["twilio"].script = failing("hard", "invalid_number", code="21211", status=400)
    message = client.post("/api/v1/messages/send", json=SEND).json()["error"]
    events = events_of(client, message["message_id"])
    assert [(e["type"], e["status"]) for e in events] == [("queued", "queued"), ("attempt", None), ("failed", "failed")]
    assert events[1]["provider_code"] == "21211"
    assert events[2]["error"]["code"] == "provider_rejected" and events[2]["at"] >= events[0]["at"]


def test_events_of_an_exhausted_chain_show_every_attempt(client: Client, fakes: dict[str, FakeAdapter]) -> None:
    for fake in fakes.values():
        fake.script = failing("retryable", "server_error")
    message = client.post("/api/v1/messages/send", json=SEND).json()["error"]
    events = events_of(client, message["message_id"])
    assert [e["type"] for e in events] == ["queued", "attempt", "attempt", "attempt", "attempt", "failed"]
    assert events[-1]["error"]["code"] == "routing_exhausted"


def test_a_bulk_item_rejected_up_front_has_one_failed_event(client: Client) -> None:
    bulk = {"from": "LynSMS", "recipients": ["+12025550143", "12345"], "body": "hi"}
    items = client.post("/api/v1/messages/bulk", json=bulk).json()["data"]["messages"]
    sent, invalid = (events_of(client, item["id"]) for item in items)
    assert [e["type"] for e in sent] == ["queued", "attempt", "sent"]
    assert [(e["type"], e["status"], e["error"]["code"]) for e in invalid] == [
        ("failed", "failed", "invalid_recipient")
    ]


def test_list_is_newest_first_with_cursor_pagination(client: Client) -> None:
    ids = [
        client.post("/api/v1/messages/send", json={**SEND, "reference": f"r{i}"}).json()["data"]["id"] for i in range(5)
    ]
    seen: list[str] = []
    url = "/api/v1/messages?limit=2"
    while True:
        data = client.get(url).json()["data"]
        seen += [m["id"] for m in data["messages"]]
        if not data["has_more"]:
            assert data["next_cursor"] is None
            break
        url = f"/api/v1/messages?limit=2&cursor={data['next_cursor']}"
    assert seen == ids[::-1]


def test_list_filters_by_status_provider_reference_and_to(client: Client, fakes: dict[str, FakeAdapter]) -> None:
    client.post("/api/v1/messages/send", json={**SEND, "reference": "a"})
    client.post("/api/v1/messages/send", json={**SEND, "reference": "b", "to": "+4748640969", "provider": "sinch"})
    fakes["twilio"].script = failing("hard", "unsubscribed")
    client.post("/api/v1/messages/send", json={**SEND, "reference": "c"})

    def refs(query: str) -> list[str]:
        return [m["reference"] for m in client.get(f"/api/v1/messages?{query}").json()["data"]["messages"]]

    assert refs("status=failed") == ["c"]
    assert refs("status=sent") == ["b", "a"]
    assert refs("provider=sinch") == ["b"]
    assert refs("reference=a") == ["a"]
    assert refs("to=%2B4748640969") == ["b"]
    assert refs("limit=100") == ["c", "b", "a"]


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("status=lost", "status"),
        ("provider=nexmo", "provider"),
        ("to=12025550143", "to"),
        ("cursor=garbage!", "cursor"),
        ("sort=asc", "sort"),
        ("limit=1&limit=2", "limit"),
        ("limit=%C2%B2", "limit"),  # "²".isdigit() is true, yet int("²") raises
        ("cursor=bTE6OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk", "cursor"),  # m1:<23 digits>: past SQLite's 64-bit integers
    ],
)
def test_bad_list_parameter_is_400_naming_it(client: Client, query: str, param: str) -> None:
    error = error_of(client.get(f"/api/v1/messages?{query}"), 400, "invalid_parameter")
    assert error["param"] == param


def test_quote_gives_segments_encoding_and_cost_per_provider_without_sending(
    client: Client, fakes: dict[str, FakeAdapter]
) -> None:
    response = client.post("/api/v1/messages/quote", json={"body": "a" * 161, "to": "+447700900100"})
    assert response.status_code == 200
    quote = response.json()["data"]
    assert (quote["segments"], quote["encoding"], quote["characters"], quote["units"]) == (2, "GSM-7", 161, 161)
    assert quote["country"] == "GB" and "".join(quote["parts"]) == "a" * 161
    costs = {p["provider"]: p["cost"] for p in quote["providers"]}
    assert costs == {"twilio": 0.08, "sinch": 0.09, "infobip": 0.08, "clicksend": 0.12}
    assert total_sent(fakes) == 0
    assert client.get("/api/v1/messages").json()["data"]["messages"] == []


def test_quote_without_destination_uses_base_prices(client: Client) -> None:
    quote = client.post("/api/v1/messages/quote", json={"body": "😀"}).json()["data"]
    assert (quote["encoding"], quote["units"], quote["country"]) == ("UCS-2", 2, None)
    assert {p["provider"]: p["cost"] for p in quote["providers"]}["twilio"] == 0.05


def test_quote_takes_a_send_body_as_it_is(client: Client) -> None:
    body = {"to": "+447700900100", "from": "LynSMS", "body": "Your code is 1234"}
    quote = client.post("/api/v1/messages/quote", json=body).json()["data"]
    assert (quote["segments"], quote["country"]) == (1, "GB")
    error = error_of(client.post("/api/v1/messages/quote", json={**body, "from": ""}), 422, "validation_error")
    assert error["field"] == "from"


def test_health_needs_no_key_and_reports_circuits(client: Client) -> None:
    response = client.get("/api/health", headers={"Authorization": ""})
    assert response.status_code == 200
    assert response.json()["data"]["providers"]["twilio"]["circuit"] == "closed"


def test_missing_key_is_401_unauthorized(client: Client, fakes: dict[str, FakeAdapter]) -> None:
    response = client.http.build_request("POST", "/api/v1/messages/send", json=SEND)
    del response.headers["Authorization"]
    answer = client.run(client.http.send(response))
    error_of(answer, 401, "unauthorized")
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer    ", "test-key-0123456789"])
def test_malformed_authorization_is_401_unauthorized(client: Client, header: str) -> None:
    error_of(client.get("/api/v1/messages", headers={"Authorization": header}), 401, "unauthorized")


@pytest.mark.parametrize("key", ["wrong", "test-key-012345678", "test-key-01234567890", "TEST-KEY-0123456789"])
def test_wrong_key_is_401_invalid_api_key(client: Client, key: str) -> None:
    error_of(client.get("/api/v1/messages", headers={"Authorization": f"Bearer {key}"}), 401, "invalid_api_key")


def test_every_v1_route_requires_a_key(client: Client) -> None:
    for method, path in [
        ("POST", "/api/v1/messages/send"),
        ("POST", "/api/v1/messages/bulk"),
        ("POST", "/api/v1/messages/quote"),
        ("GET", "/api/v1/messages"),
        ("GET", "/api/v1/messages/msg_x"),
        ("GET", "/api/v1/messages/msg_x/events"),
    ]:
        error_of(
            client.request(method, path, headers={"Authorization": "Bearer nope"}, json={}), 401, "invalid_api_key"
        )


def test_lynsms_api_key_env_var_is_accepted_alongside_config_keys(fakes: dict[str, FakeAdapter]) -> None:
    app = create_app(make_config(), adapters=fakes, environ={"LYNSMS_API_KEY": "from-env"})
    with Client(app) as client:
        assert client.get("/api/v1/messages", headers={"Authorization": "Bearer from-env"}).status_code == 200
        assert client.get("/api/v1/messages", headers=AUTH).status_code == 200


def test_unknown_route_and_wrong_method_answer_in_the_envelope(client: Client) -> None:
    error_of(client.get("/api/v2/everything"), 404, "not_found")
    error_of(client.get("/"), 404, "not_found")
    error_of(client.request("DELETE", "/api/v1/messages"), 405, "method_not_allowed")
    error_of(client.get("/api/v1/messages/bulk/extra/path"), 404, "not_found")


def test_a_crash_inside_the_gateway_is_a_500_envelope_not_a_traceback(fakes: dict[str, FakeAdapter]) -> None:
    with make_client(make_config(), fakes) as client:
        client.app.state.gateway.store.db.execute("DROP TABLE messages")  # sabotage the store
        response = client.post("/api/v1/messages/send", json=SEND)
        error = error_of(response, 500, "internal_error")
        assert "Traceback" not in response.text and "messages" not in error["message"]


def test_quote_prices_any_e164_number_even_one_no_country_has(client: Client) -> None:
    # The document allows any E.164 syntax here; a quote sends nothing, so it need not be dialable.
    response = client.post("/api/v1/messages/quote", json={"body": "hi", "to": "+10"})
    assert response.status_code == 200, response.text
    assert response.json()["data"]["country"] is None
