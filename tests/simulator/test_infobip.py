"""Infobip on the wire: raw HTTP against a real simulator, asserting bodies, types and status codes."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from lynsms.simulator.messages import REJECT_REASONS, SimMessage, Submission
from lynsms.simulator.providers.infobip import Infobip
from lynsms.simulator.state import JournalEntry
from lynsms.tls import client_tls
from tests.simulator.scenario_wires import QUIET, load

AUTH = {"Authorization": "App key-one"}
OTHER = {"Authorization": "App key-two"}
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
BULK = re.compile(r"^[1-9][0-9]{18}$")
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$")
API_ERROR_KEYS = {"errorCode", "description", "action", "violations", "resources"}
# One client for the module (a fresh client per request costs ~40 ms), and no keep-alive: reused
# connections to the test server stall ~40 ms per request (delayed ACK), fresh ones take ~2 ms.
# verify: the process's one TLS context (a new one costs ~30 ms of CPU in every worker).
HTTP = httpx.Client(timeout=10, limits=httpx.Limits(max_keepalive_connections=0), verify=client_tls())


# Closed when the session ends, not the module: a scheduler may run this module's tests in pieces.
@pytest.fixture(scope="session", autouse=True)
def _close_client() -> Iterator[None]:
    yield
    HTTP.close()


@pytest.fixture(autouse=True)
def no_scripted_deliveries(simulator: Any) -> None:
    """Accept without the engine's default delivery, so these tests issue every report themselves."""
    load(simulator.control, simulator.url, QUIET)


def v3(*destinations: str, text: str = "Hello", **message: Any) -> dict[str, Any]:
    return {
        "messages": [
            {
                "sender": "InfoSMS",
                "destinations": [{"to": d} for d in destinations],
                "content": {"text": text},
                **message,
            }
        ]
    }


def send(sim: Any, body: Any, headers: dict[str, str] = AUTH, path: str = "/sms/3/messages") -> httpx.Response:
    return HTTP.post(sim.url + path, json=body, headers=headers)


def stored(sim: Any) -> list[dict[str, Any]]:
    found: list[SimMessage] = sim.sim.state.find(provider="infobip")
    return [m.to_json() for m in found]


def last_journal(sim: Any) -> dict[str, Any]:
    entries: list[JournalEntry] = list(sim.sim.state.journal)
    return entries[-1].to_json()


def provider(sim: Any) -> Infobip:
    found = sim.sim.providers["infobip"]
    assert isinstance(found, Infobip)
    return found


def sent_message(sim: Any, **message: Any) -> SimMessage:
    response = send(sim, v3("41793026727", **message))
    assert response.status_code == 200
    found = provider(sim).message(response.json()["messages"][0]["messageId"])
    assert found is not None
    return found


def assert_api_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status
    body: dict[str, Any] = response.json()
    assert set(body) == API_ERROR_KEYS and body["errorCode"] == code
    return body


def assert_legacy(response: httpx.Response, status: int, message_id: str) -> dict[str, Any]:
    assert response.status_code == status
    exception: dict[str, Any] = response.json()["requestError"]["serviceException"]
    assert exception["messageId"] == message_id and isinstance(exception["text"], str)
    return exception


# ---- sending ---------------------------------------------------------------------------------------


def test_v3_send_answers_200_with_one_pending_entry_per_destination(simulator: Any) -> None:
    response = send(simulator, v3("+41793026727", "41793026834"))
    assert response.status_code == 200
    body = response.json()
    assert BULK.match(body["bulkId"])
    assert [m["destination"] for m in body["messages"]] == ["+41793026727", "41793026834"]
    for entry in body["messages"]:
        assert set(entry) == {"messageId", "status", "destination", "details"}
        assert UUID.match(entry["messageId"])
        assert entry["status"] == {
            "groupId": 1,
            "groupName": "PENDING",
            "id": 26,
            "name": "PENDING_ACCEPTED",
            "description": "Message sent to next instance",
        }
        assert entry["details"] == {"messageCount": 1}
    messages = stored(simulator)
    assert {m["batch_id"] for m in messages} == {body["bulkId"]}
    assert {m["status"] for m in messages} == {"PENDING_ACCEPTED"}


def test_several_messages_share_one_bulk_and_keep_request_order(simulator: Any) -> None:
    body = {"messages": [v3("41793026727")["messages"][0], v3("41793026834", "41793026835", text="Two")["messages"][0]]}
    response = send(simulator, body).json()
    assert [m["destination"] for m in response["messages"]] == ["41793026727", "41793026834", "41793026835"]
    assert len(stored(simulator)) == 3


def test_a_single_destination_also_gets_a_bulk_id(simulator: Any) -> None:
    assert BULK.match(send(simulator, v3("41793026727")).json()["bulkId"])


def test_client_bulk_and_message_ids_are_used(simulator: Any) -> None:
    body = v3("41793026727")
    body["messages"][0]["destinations"][0]["messageId"] = "MESSAGE-ID-123-xyz"
    body["options"] = {"schedule": {"bulkId": "BULK-ID-123-xyz"}}
    response = send(simulator, body).json()
    assert response["bulkId"] == "BULK-ID-123-xyz"
    assert response["messages"][0]["messageId"] == "MESSAGE-ID-123-xyz"
    assert stored(simulator)[0]["id"] == "MESSAGE-ID-123-xyz"
    assert last_journal(simulator)["message_ids"] == ["MESSAGE-ID-123-xyz"]


@pytest.mark.parametrize(
    ("text", "parts"),
    [("a" * 160, 1), ("a" * 161, 2), ("€" * 80, 1), ("€" * 81, 2), ("é" * 69 + "ж", 1), ("ж" * 71, 2)],
    ids=["gsm-160", "gsm-161", "gsm-ext-80", "gsm-ext-81", "ucs2-70", "ucs2-71"],
)
def test_message_count_is_the_segment_count(simulator: Any, text: str, parts: int) -> None:
    entry = send(simulator, v3("41793026727", text=text)).json()["messages"][0]
    assert entry["details"]["messageCount"] == parts


def test_v2_send_answers_200_in_the_v2_shape(simulator: Any) -> None:
    body = {
        "bulkId": "my-bulk",
        "messages": [
            {
                "from": "InfoSMS",
                "destinations": [{"to": "41793026727"}, {"to": "41793026834", "messageId": "m2"}],
                "text": "Hi",
                "notifyUrl": "http://127.0.0.1:9/dlr",
                "callbackData": "cb",
            }
        ],
    }
    response = send(simulator, body, path="/sms/2/text/advanced")
    assert response.status_code == 200
    data = response.json()
    assert data["bulkId"] == "my-bulk"
    first, second = data["messages"]
    assert set(first) == {"to", "status", "messageId", "smsCount"}
    assert first["to"] == "41793026727" and first["smsCount"] == 1 and first["status"]["id"] == 26
    assert second["messageId"] == "m2"
    stored = provider(simulator).message("m2")
    assert stored is not None and stored.submission.callback_url == "http://127.0.0.1:9/dlr"
    assert stored.submission.client_ref == "cb"


def test_doubled_slash_paths_from_a_trailing_slash_host_are_served(simulator: Any) -> None:
    assert send(simulator, v3("41793026727"), path="//sms/3/messages").status_code == 200
    assert HTTP.get(simulator.url + "//sms/3/reports", headers=AUTH).status_code == 200


@pytest.mark.parametrize(
    "scheme",
    ["App key-one", "Bearer key-one", "IBSSO key-one", "Basic " + base64.b64encode(b"key-one:secret").decode()],
)
def test_every_infobip_auth_scheme_is_accepted_as_the_same_account(simulator: Any, scheme: str) -> None:
    assert send(simulator, v3("41793026727"), headers={"Authorization": scheme}).status_code == 200
    assert stored(simulator)[0]["account"] == "key-one"


def test_sender_is_optional(simulator: Any) -> None:
    body = {"messages": [{"destinations": [{"to": "41793026727"}], "content": {"text": "Hi"}}]}
    assert send(simulator, body).status_code == 200


# ---- auth and validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header", [None, "", "App", "Token abc", "Basic !!!", "Basic " + base64.b64encode(b"nocolon").decode()]
)
def test_missing_or_malformed_credentials_are_401(simulator: Any, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    body = assert_api_error(send(simulator, v3("41793026727"), headers=headers), 401, "E401")
    assert body["resources"][0]["name"] == "API Authentication"
    assert_legacy(send(simulator, {}, headers=headers, path="/sms/2/text/advanced"), 401, "UNAUTHORIZED")
    assert_legacy(HTTP.get(simulator.url + "/sms/1/reports", headers=headers), 401, "UNAUTHORIZED")
    assert_api_error(HTTP.get(simulator.url + "/sms/3/logs", headers=headers), 401, "E401")
    assert stored(simulator) == []


@pytest.mark.parametrize(
    ("body", "prop", "violation"),
    [
        ({}, "messages", "must not be empty"),
        ({"messages": []}, "messages", "must not be empty"),
        ({"messages": "x"}, "messages", "must be an array"),
        ({"messages": [None]}, "messages[0]", "must not be null"),
        (
            {"messages": [{"destinations": [], "content": {"text": "x"}}]},
            "messages[0].destinations",
            "must not be empty",
        ),
        ({"messages": [{"content": {"text": "x"}}]}, "messages[0].destinations", "must not be empty"),
        (
            {"messages": [{"destinations": [{"to": ""}], "content": {"text": "x"}}]},
            "messages[0].destinations[0].to",
            "must not be blank",
        ),
        (
            {"messages": [{"destinations": [{}], "content": {"text": "x"}}]},
            "messages[0].destinations[0].to",
            "must not be blank",
        ),
        (
            {"messages": [{"destinations": [{"to": 123}], "content": {"text": "x"}}]},
            "messages[0].destinations[0].to",
            "must be a string",
        ),
        (
            {"messages": [{"destinations": [{"to": "41793026727"}], "content": {"text": " "}}]},
            "messages[0].content.text",
            "must not be blank",
        ),
        ({"messages": [{"destinations": [{"to": "41793026727"}]}]}, "messages[0].content", "must not be null"),
        (
            {"messages": [{"destinations": [{"to": "41793026727"}], "content": {"text": "x"}, "sender": 7}]},
            "messages[0].sender",
            "must be a string",
        ),
        (
            {
                "messages": [
                    {
                        "destinations": [{"to": "41793026727"}],
                        "content": {"text": "x"},
                        "webhooks": {"delivery": {"intermediateReport": "yes"}},
                    }
                ]
            },
            "messages[0].webhooks.delivery.intermediateReport",
            "must be a boolean",
        ),
    ],
)
def test_schema_violations_are_400_e400_with_the_property(simulator: Any, body: Any, prop: str, violation: str) -> None:
    error = assert_api_error(send(simulator, body), 400, "E400")
    assert error["description"] == "Request cannot be processed."
    assert {"property": prop, "violation": violation} in error["violations"]
    assert stored(simulator) == []


def test_v2_violations_use_the_request_error_format(simulator: Any) -> None:
    exception = assert_legacy(
        send(simulator, {"messages": [{"destinations": [{"to": ""}]}]}, path="/sms/2/text/advanced"), 400, "BAD_REQUEST"
    )
    assert exception["validationErrors"] == {
        "messages[0].text": ["must not be blank"],
        "messages[0].destinations[0].to": ["must not be blank"],
    }


@pytest.mark.parametrize("to", ["abc", "+1", "12", "4179302672712345678", "+41 79 302 67 27"])
def test_an_unroutable_number_is_rejected_per_destination_inside_the_200(simulator: Any, to: str) -> None:
    response = send(simulator, v3(to, "41793026727"))
    assert response.status_code == 200
    bad, good = response.json()["messages"]
    assert bad["destination"] == to and UUID.match(bad["messageId"])
    assert bad["status"] == {
        "groupId": 5,
        "groupName": "REJECTED",
        "id": 52,
        "name": "REJECTED_DESTINATION",
        "description": "Invalid destination address",
    }
    assert good["status"]["name"] == "PENDING_ACCEPTED"
    assert [m["to"] for m in stored(simulator)] == ["41793026727"]


def test_a_text_over_25_parts_is_rejected_as_too_long(simulator: Any) -> None:
    entry = send(simulator, v3("41793026727", text="a" * 153 * 25 + "a")).json()["messages"][0]
    assert entry["status"]["name"] == "REJECTED_MESSAGE_TOO_LONG" and entry["status"]["id"] == 25
    assert send(simulator, v3("41793026727", text="a" * 153 * 25)).json()["messages"][0]["status"]["id"] == 26


def test_all_destinations_invalid_still_answers_200_and_journals_the_rejection(simulator: Any) -> None:
    response = send(simulator, v3("abc"))
    assert response.status_code == 200 and response.json()["messages"][0]["status"]["groupId"] == 5
    entry = last_journal(simulator)
    assert entry["outcome"]["kind"] == "reject" and entry["messages"][0]["to"] == "abc"


# ---- scripted outcomes, called on the provider object ------------------------------------------------


@pytest.mark.parametrize("reason", [r for r in REJECT_REASONS if r != "auth_failed"])
def test_scripted_rejections_render_per_destination(simulator: Any, reason: Any) -> None:
    assert provider(simulator).reject(reason, Submission(to="41793026727", sender="X", body="b")) is None


def test_scripted_auth_failure_is_a_whole_request_401(simulator: Any) -> None:
    infobip = provider(simulator)
    response = infobip.reject("auth_failed", Submission(to="1", sender=None, body="b", extra={"api": "v3"}))
    assert response is not None and response.status_code == 401
    assert json.loads(bytes(response.body))["errorCode"] == "E401"
    legacy = infobip.reject("auth_failed", Submission(to="1", sender=None, body="b", extra={"api": "v2"}))
    assert (
        legacy is not None
        and json.loads(bytes(legacy.body))["requestError"]["serviceException"]["messageId"] == "UNAUTHORIZED"
    )


def test_http_error_429_carries_retry_after_and_the_api_error_body(simulator: Any) -> None:
    response = provider(simulator).http_error(429, retry_after=7)
    assert response.status_code == 429 and response.headers["Retry-After"] == "7"
    body = json.loads(bytes(response.body))
    assert set(body) == API_ERROR_KEYS and body["errorCode"] == "E429"
    assert json.loads(bytes(provider(simulator).http_error(503).body))["errorCode"] == "E503"


@pytest.mark.parametrize(
    ("status", "group", "name", "error"),
    [
        ("delivered", 3, "DELIVERED_TO_HANDSET", 0),
        ("undelivered", 2, "UNDELIVERABLE_NOT_DELIVERED", 27),
        ("failed", 2, "UNDELIVERABLE_REJECTED_OPERATOR", 1),
        ("expired", 4, "EXPIRED_EXPIRED", 27),
        ("enroute", 1, "PENDING_ENROUTE", 0),
    ],
)
def test_delivery_reports_use_infobip_status_and_error_groups(
    simulator: Any, status: str, group: int, name: str, error: int
) -> None:
    message = sent_message(simulator, webhooks={"delivery": {"url": "http://127.0.0.1:9/dlr"}, "callbackData": "cb-1"})
    report = provider(simulator).delivery_report(message, status, None)
    assert message.reports == []  # the caller appends
    assert report["status"]["groupId"] == group and report["status"]["name"] == name
    assert report["error"]["id"] == error and isinstance(report["error"]["permanent"], bool)
    assert message.status == name and message.error_code == (str(error) if error else None)
    assert STAMP.match(report["sentAt"]) and STAMP.match(report["doneAt"])
    assert report["messageCount"] == 1 and report["callbackData"] == "cb-1" and report["mccMnc"] == "22801"
    assert report["bulkId"] == message.batch_id and report["messageId"] == message.id and report["to"] == "41793026727"
    callback = provider(simulator).callback(message, report)
    if group == 1:
        assert callback is None  # no intermediateReport asked for
    else:
        assert callback is not None and callback.url == "http://127.0.0.1:9/dlr"
        assert callback.headers == {"Content-Type": "application/json"}
        assert json.loads(callback.body) == {"results": [report]}


def test_a_scripted_error_code_is_looked_up_by_id_or_name(simulator: Any) -> None:
    message = sent_message(simulator)
    infobip = provider(simulator)
    by_id = infobip.delivery_report(message, "undelivered", "6")["error"]
    assert by_id == {
        "groupId": 1,
        "groupName": "HANDSET_ERRORS",
        "id": 6,
        "name": "EC_ABSENT_SUBSCRIBER_SM",
        "description": "Absent Subscriber",
        "permanent": False,
    }
    assert infobip.delivery_report(message, "failed", "EC_CALL_BARRED")["error"]["id"] == 13
    assert message.error_code == "13"


def test_intermediate_reports_are_pushed_only_when_asked_and_xml_when_asked(simulator: Any) -> None:
    hooks = {
        "delivery": {"url": "http://127.0.0.1:9/dlr", "intermediateReport": True},
        "contentType": "application/xml",
    }
    message = sent_message(simulator, webhooks=hooks)
    infobip = provider(simulator)
    callback = infobip.callback(message, infobip.delivery_report(message, "sent", None))
    assert callback is not None and callback.headers["Content-Type"] == "application/xml"
    assert b"<DeliveryReports><results><result><bulkId>" in callback.body
    assert b"<name>PENDING_ENROUTE</name>" in callback.body


def test_no_callback_without_a_url(simulator: Any) -> None:
    message = sent_message(simulator)
    assert (
        provider(simulator).callback(message, provider(simulator).delivery_report(message, "delivered", None)) is None
    )


# ---- polling ---------------------------------------------------------------------------------------


def issue(sim: Any, message: SimMessage, *statuses: str) -> None:
    for status in statuses:
        message.reports.append(provider(sim).delivery_report(message, status, None))


def test_reports_are_returned_once_final_only_and_filtered(simulator: Any) -> None:
    first, second = sent_message(simulator), sent_message(simulator)
    issue(simulator, first, "sent", "delivered")
    issue(simulator, second, "expired")
    url = simulator.url + "/sms/3/reports"
    only_first = HTTP.get(url, params={"messageId": first.id}, headers=AUTH).json()["results"]
    assert [(r["messageId"], r["status"]["name"]) for r in only_first] == [(first.id, "DELIVERED_TO_HANDSET")]
    assert HTTP.get(url, params={"bulkId": first.batch_id}, headers=AUTH).json()["results"] == []
    rest = HTTP.get(url, headers=AUTH).json()["results"]
    assert [r["messageId"] for r in rest] == [second.id]
    assert HTTP.get(url, headers=AUTH).json() == {"results": []}


def test_reports_respect_the_limit_and_keep_the_rest(simulator: Any) -> None:
    messages = [sent_message(simulator) for _ in range(3)]
    for message in messages:
        issue(simulator, message, "delivered")
    url = simulator.url + "/sms/3/reports"
    assert len(HTTP.get(url, params={"limit": 2}, headers=AUTH).json()["results"]) == 2
    assert [r["messageId"] for r in HTTP.get(url, headers=AUTH).json()["results"]] == [messages[2].id]


def test_v1_reports_use_sms_count(simulator: Any) -> None:
    issue(simulator, sent_message(simulator), "undelivered")
    report = HTTP.get(simulator.url + "/sms/1/reports", headers=AUTH).json()["results"][0]
    assert report["smsCount"] == 1 and "messageCount" not in report
    assert report["status"]["name"] == "UNDELIVERABLE_NOT_DELIVERED"


@pytest.mark.parametrize("limit", ["0", "1001", "x", "-1"])
def test_a_bad_limit_is_400(simulator: Any, limit: str) -> None:
    error = assert_api_error(
        HTTP.get(simulator.url + "/sms/3/reports", params={"limit": limit}, headers=AUTH), 400, "E400"
    )
    assert error["violations"][0]["property"] == "limit"
    assert_legacy(HTTP.get(simulator.url + "/sms/1/logs", params={"limit": limit}, headers=AUTH), 400, "BAD_REQUEST")


def test_reports_and_logs_are_isolated_by_credential(simulator: Any) -> None:
    message = sent_message(simulator)
    issue(simulator, message, "delivered")
    for path in ("/sms/3/reports", "/sms/1/reports", "/sms/3/logs", "/sms/1/logs"):
        assert HTTP.get(simulator.url + path, headers=OTHER).json() == {"results": []}
    assert len(HTTP.get(simulator.url + "/sms/3/reports", headers=AUTH).json()["results"]) == 1


def test_logs_show_current_status_newest_first_in_both_shapes(simulator: Any) -> None:
    old, new = sent_message(simulator), sent_message(simulator)
    issue(simulator, old, "delivered")
    logs = HTTP.get(simulator.url + "/sms/3/logs", headers=AUTH).json()["results"]
    assert [log["messageId"] for log in logs] == [new.id, old.id]
    assert logs[0]["status"]["name"] == "PENDING_ACCEPTED" and logs[0]["doneAt"] is None
    assert logs[1]["status"]["name"] == "DELIVERED_TO_HANDSET" and STAMP.match(logs[1]["doneAt"])
    assert logs[1]["content"] == {"text": "Hello"} and logs[1]["messageCount"] == 1
    v1 = HTTP.get(simulator.url + "/sms/1/logs", params={"messageId": old.id}, headers=AUTH).json()["results"]
    assert [(log["to"], log["from"], log["text"], log["smsCount"]) for log in v1] == [
        ("41793026727", "InfoSMS", "Hello", 1)
    ]
    assert len(HTTP.get(simulator.url + "/sms/3/logs", params={"limit": 1}, headers=AUTH).json()["results"]) == 1


def test_same_seed_gives_the_same_ids(simulator: Any) -> None:
    first = send(simulator, v3("41793026727")).json()
    HTTP.post(simulator.url + "/_sim/reset").raise_for_status()
    assert send(simulator, v3("41793026727")).json() == first


# ---- bad input battery -----------------------------------------------------------------------------

SEND_PATHS = ["/sms/3/messages", "/sms/2/text/advanced"]
READ_PATHS = ["/sms/3/reports", "/sms/1/reports", "/sms/3/logs", "/sms/1/logs"]


def _assert_provider_error(response: httpx.Response, path: str) -> None:
    assert response.status_code < 500 and "Traceback" not in response.text
    body = response.json()
    assert set(body) == API_ERROR_KEYS if not path.startswith(("/sms/2", "/sms/1")) else "requestError" in body


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b'{"messages": [', "application/json", 400),
        (b"[1, 2]", "application/json", 400),
        (b"\xff\xfe\x00garbage", "application/json", 400),
        (b'{"messages": "\xc3\x28"}', "application/json", 400),
        (b"messages=1", "application/x-www-form-urlencoded", 415),
        (b"hello", "text/plain", 415),
        (
            b'{"messages": [{"destinations": [{"to": "41793026727"}], "content": {"text": "x"}}]}'
            + b" " * (2 * 1024 * 1024),
            "application/json",
            413,
        ),
    ],
)
def test_unreadable_bodies_get_infobip_errors_never_a_500(
    simulator: Any, content: bytes, content_type: str, status: int
) -> None:
    for path in SEND_PATHS:
        response = HTTP.post(simulator.url + path, content=content, headers={**AUTH, "Content-Type": content_type})
        assert response.status_code == status
        _assert_provider_error(response, path)


@pytest.mark.parametrize(
    "body",
    [
        {"messages": "x"},
        {"messages": [1]},
        {"messages": [{"destinations": "x"}]},
        {"messages": [{"destinations": [5]}]},
        {"messages": [{"destinations": [{"to": ["a"]}], "text": 1, "content": 1}]},
        {"bulkId": 1, "options": "x"},
    ],
)
def test_wrong_types_are_400(simulator: Any, body: Any) -> None:
    for path in SEND_PATHS:
        response = send(simulator, body, path=path)
        assert response.status_code == 400
        _assert_provider_error(response, path)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/sms/3/messages", 405),
        ("DELETE", "/sms/2/text/advanced", 405),
        ("POST", "/sms/3/reports", 405),
        ("PUT", "/sms/3/logs", 405),
        ("GET", "/sms/3/nothing", 404),
        ("POST", "/sms/9/text/advanced", 404),
        ("GET", "//sms/x", 404),
    ],
)
def test_unknown_paths_and_wrong_methods_answer_in_infobip_format(
    simulator: Any, method: str, path: str, status: int
) -> None:
    response = HTTP.request(method, simulator.url + path, headers=AUTH)
    assert response.status_code == status and "Traceback" not in response.text
    assert set(response.json()) == API_ERROR_KEYS


def test_read_endpoints_survive_odd_queries(simulator: Any) -> None:
    for path in READ_PATHS:
        response = HTTP.get(
            simulator.url + path, params={"bulkId": "\u00e9" * 300, "messageId": "", "limit": "5"}, headers=AUTH
        )
        assert response.status_code == 200 and response.json() == {"results": []}


def test_the_simulator_keeps_serving_after_the_battery(simulator: Any) -> None:
    for content in (b"{", b"\xff", b"[]", b"x" * (2 * 1024 * 1024)):
        HTTP.post(
            simulator.url + "/sms/3/messages", content=content, headers={**AUTH, "Content-Type": "application/json"}
        )
    assert send(simulator, v3("41793026727")).status_code == 200
    assert all(e.status is not None and e.status < 500 for e in simulator.sim.state.journal)


def test_a_client_message_id_used_twice_in_one_request_names_only_the_first_message(simulator: Any) -> None:
    body = {
        "messages": [
            {
                "sender": "InfoSMS",
                "destinations": [
                    {"to": "+12025550143", "messageId": "dup-1"},
                    {"to": "+12025550144", "messageId": "dup-1"},
                ],
                "content": {"text": "hi"},
            }
        ]
    }
    response = httpx.post(f"{simulator.url}/sms/3/messages", json=body, headers={"Authorization": "App key-1"})
    assert response.status_code == 200
    ids = [m["messageId"] for m in response.json()["messages"]]
    assert ids[0] == "dup-1" and ids[1] != "dup-1"
    assert sorted(m["id"] for m in simulator.messages(provider="infobip")) == sorted(ids)
