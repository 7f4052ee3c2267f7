"""ClickSend on the wire, over real HTTP: envelope, types, per-message statuses, auth, paging,
receipts, and a bad-input battery for every endpoint."""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from lynsms.simulator.harness.server import serving
from lynsms.simulator.messages import REJECT_REASONS, Submission
from lynsms.simulator.providers.clicksend import ClickSend
from lynsms.tls import client_tls
from tests.simulator.scenario_wires import QUIET, load, script

AUTH = ("acme", "key-1")
OTHER = ("rival", "key-2")
UUID_UPPER = re.compile(r"[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}")
SEND, HISTORY, RECEIPTS, RULES = "/v3/sms/send", "/v3/sms/history", "/v3/sms/receipts", "/v3/automations/sms/receipts"


# One client for the module: building an httpx client (its SSL context) per call costs ~60 ms.
# verify: the process's one TLS context (a new one costs ~30 ms of CPU in every worker).
http = httpx.Client(timeout=10, trust_env=False, verify=client_tls())


# Closed when the session ends, not the module: a scheduler may run this module's tests in pieces.
@pytest.fixture(scope="session", autouse=True)
def _close_client() -> Iterator[None]:
    yield
    http.close()


@pytest.fixture(autouse=True)
def no_scripted_delivery(simulator: Any) -> None:
    """Accept without the engine's default delivery, so receipts appear only when a test makes them."""
    load(simulator.control, simulator.url, QUIET)


@pytest.fixture
def provider(simulator: Any) -> ClickSend:
    found = simulator.sim.providers["clicksend"]
    assert isinstance(found, ClickSend)
    return found


def send(simulator: Any, *messages: dict[str, Any], auth: tuple[str, str] = AUTH) -> httpx.Response:
    return http.post(simulator.url + SEND, auth=auth, json={"messages": list(messages)})


def msg(to: str = "+12025550143", body: str = "hello", **fields: Any) -> dict[str, Any]:
    return {"to": to, "body": body, **fields}


def sent_messages(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    messages: list[dict[str, Any]] = response.json()["data"]["messages"]
    return messages


def assert_envelope(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert "Traceback" not in response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"http_code", "response_code", "response_msg", "data"}
    assert (body["http_code"], body["response_code"]) == (status, code)
    assert isinstance(body["response_msg"], str) and body["response_msg"]
    return body


# ---- send ---------------------------------------------------------------------------------------


def test_send_answers_200_with_exact_types(simulator: Any) -> None:
    before = int(time.time())
    body = send(simulator, msg(**{"from": "Acme", "custom_string": "cs-1", "source": "tests"})).json()

    assert (body["http_code"], body["response_code"], body["response_msg"]) == (
        200,
        "SUCCESS",
        "Messages queued for delivery.",
    )
    data = body["data"]
    assert list(data) == ["total_price", "total_count", "queued_count", "messages", "_currency", "blocked_count"]
    assert (data["total_price"], data["total_count"], data["queued_count"], data["blocked_count"]) == (0.0792, 1, 1, 0)
    assert data["_currency"]["currency_name_short"] == "USD"
    [m] = data["messages"]
    assert UUID_UPPER.fullmatch(m["message_id"])
    assert isinstance(m["date"], int) and before <= m["date"] <= time.time()
    assert m["schedule"] == m["date"]
    assert {k: m[k] for k in ("direction", "to", "from", "body", "status", "country", "custom_string")} == {
        "direction": "out", "to": "+12025550143", "from": "Acme", "body": "hello",
        "status": "SUCCESS", "country": "US", "custom_string": "cs-1",
    }  # fmt: skip
    assert (m["message_parts"], m["message_price"], m["is_shared_system_number"]) == (1, "0.0792", False)
    assert isinstance(m["user_id"], int) and isinstance(m["subaccount_id"], int)
    assert m["list_id"] is None and m["contact_id"] is None and isinstance(m["carrier"], str)


def test_message_parts_follow_gsm7_and_ucs2(simulator: Any) -> None:
    # "€" is a GSM-7 extension character (2 septets); "ж" and emoji force UCS-2 (emoji = 2 units).
    cases = [("a" * 160, 1), ("a" * 161, 2), ("€" * 80, 1), ("€" * 81, 2),
             ("ж" * 70, 1), ("ж" * 71, 2), ("😀" * 35, 1), ("😀" * 36, 2)]  # fmt: skip
    messages = sent_messages(send(simulator, *(msg(body=body) for body, _ in cases)))
    assert [m["message_parts"] for m in messages] == [parts for _, parts in cases]
    assert [m["message_price"] for m in messages] == [f"{parts * 0.0792:.4f}" for _, parts in cases]


def test_a_body_beyond_eight_parts_is_truncated_like_clicksend(simulator: Any) -> None:
    [m] = sent_messages(send(simulator, msg(body="b" * 1300)))
    assert (m["message_parts"], len(m["body"]), m["status"]) == (8, 1224, "SUCCESS")


def test_local_numbers_use_the_country_field(simulator: Any) -> None:
    [m] = sent_messages(send(simulator, msg(to="0411111111", country="AU")))
    assert (m["to"], m["country"], m["status"]) == ("+61411111111", "AU", "SUCCESS")


def test_missing_sender_gets_a_shared_number(simulator: Any) -> None:
    [m] = sent_messages(send(simulator, msg()))
    assert m["is_shared_system_number"] is True and re.fullmatch(r"\+\d{11}", m["from"])


def test_ids_repeat_after_reset(simulator: Any) -> None:
    first = sent_messages(send(simulator, msg()))[0]["message_id"]
    http.post(simulator.url + "/_sim/reset").raise_for_status()
    assert sent_messages(send(simulator, msg()))[0]["message_id"] == first


@pytest.mark.parametrize(
    ("message", "status"),
    [
        ({"body": "no recipient"}, "MISSING_REQUIRED_FIELDS"),
        ({"to": "+12025550143"}, "MISSING_REQUIRED_FIELDS"),
        ({"to": "+12025550143", "body": ""}, "MISSING_REQUIRED_FIELDS"),
        ({"to": "not-a-number", "body": "x"}, "INVALID_RECIPIENT"),
        ({"to": "+1202555", "body": "x"}, "INVALID_RECIPIENT"),
        ({"to": "+12025550143", "body": "x", "from": "Way Too Long Sender"}, "INVALID_SENDER_ID"),
        ({"to": "+12025550143", "body": "x", "from": "!!"}, "INVALID_SENDER_ID"),
    ],
)
def test_content_problems_ride_inside_the_200(simulator: Any, message: dict[str, Any], status: str) -> None:
    response = send(simulator, msg(body="ok"), message)
    data = response.json()["data"]
    assert (data["total_count"], data["queued_count"], data["blocked_count"]) == (2, 1, 1)
    ok, failed = data["messages"]
    assert ok["status"] == "SUCCESS"
    assert (failed["status"], failed["message_parts"], failed["message_price"]) == (status, 0, "0.0000")
    assert UUID_UPPER.fullmatch(failed["message_id"]) and "date" not in failed and "schedule" not in failed
    assert [m["id"] for m in simulator.messages(provider="clicksend")] == [ok["message_id"]]
    [entry] = [e for e in simulator.journal() if e["path"] == SEND]
    assert entry["outcome"]["invalid"] == [{"index": 1, "status": status}]
    assert len(entry["messages"]) == 2


def test_when_every_message_fails_the_envelope_still_says_success(simulator: Any) -> None:
    body = send(simulator, msg(to="nope"), msg(body="")).json()
    assert (body["http_code"], body["response_code"]) == (200, "SUCCESS")
    assert (body["data"]["queued_count"], body["data"]["blocked_count"], body["data"]["total_price"]) == (0, 2, 0)
    assert [m["status"] for m in body["data"]["messages"]] == ["INVALID_RECIPIENT", "MISSING_REQUIRED_FIELDS"]
    assert simulator.journal()[-1]["outcome"]["kind"] == "invalid_request"


def test_a_thousand_messages_are_accepted_in_order(simulator: Any) -> None:
    messages = sent_messages(send(simulator, *(msg(body=f"m{i}") for i in range(1000))))
    assert [m["body"] for m in messages] == [f"m{i}" for i in range(1000)]


MALFORMED_SENDS: list[dict[str, Any]] = [
    {},
    {"messages": "x"},
    {"messages": []},
    {"messages": ["x"]},
    {"messages": [msg() for _ in range(1001)]},
    {"messages": [{"to": 12025550143, "body": "x"}]},
    {"messages": [{"to": "+12025550143", "body": 5}]},
    {"messages": [{"to": "+12025550143", "body": "x", "from": ["a"]}]},
    {"messages": [{"to": "+12025550143", "body": "x", "schedule": "tomorrow"}]},
    {"messages": [{"to": "+12025550143", "body": "x", "schedule": True}]},
]


def test_malformed_requests_are_400_bad_request(simulator: Any) -> None:
    for payload in MALFORMED_SENDS:
        response = http.post(simulator.url + SEND, auth=AUTH, json=payload)
        assert assert_envelope(response, 400, "BAD_REQUEST")["data"] is None
    assert simulator.messages(provider="clicksend") == []


@pytest.mark.parametrize("reason", [r for r in REJECT_REASONS if r != "auth_failed"])
def test_scripted_rejections_ride_inside_the_200(simulator: Any, reason: str) -> None:
    script(simulator.control, simulator.url, "clicksend", {"match": {"body": "/^no$/"}, "reject": reason})
    data = send(simulator, msg(body="yes"), msg(body="no")).json()["data"]
    expected = {
        "invalid_number": "INVALID_RECIPIENT",
        "unsubscribed": "BLOCKED",
        "insufficient_funds": "INSUFFICIENT_CREDIT",
        "invalid_sender": "INVALID_SENDER_ID",
        "body_too_long": "MESSAGE_TOO_LONG",
    }
    assert [m["status"] for m in data["messages"]] == ["SUCCESS", expected[reason]]
    assert (data["queued_count"], data["blocked_count"]) == (1, 1)


def test_scripted_auth_failure_is_a_whole_request_401(simulator: Any) -> None:
    script(simulator.control, simulator.url, "clicksend", {"reject": "auth_failed"})
    assert_envelope(send(simulator, msg()), 401, "UNAUTHORIZED")
    assert simulator.messages(provider="clicksend") == []


# ---- auth ---------------------------------------------------------------------------------------


BAD_AUTH = [None, "Bearer abc", "Basic !!!notbase64", "Basic " + base64.b64encode(b"no-colon").decode(),
     "Basic " + base64.b64encode(b"user:").decode(), "Basic " + base64.b64encode(b":key").decode()]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", SEND),
        ("GET", HISTORY),
        ("GET", RECEIPTS),
        ("GET", f"{RECEIPTS}/X"),
        ("POST", RECEIPTS),
        ("GET", RULES),
        ("POST", RULES),
    ],
)
def test_missing_or_malformed_credentials_are_401(simulator: Any, method: str, path: str) -> None:
    for header in BAD_AUTH:
        headers = {} if header is None else {"Authorization": header}
        response = http.request(
            method, simulator.url + path, headers=headers, json={"messages": [msg()], "url": "poll"}
        )
        assert assert_envelope(response, 401, "UNAUTHORIZED")["data"] is None


# ---- history and receipts -----------------------------------------------------------------------


def test_history_is_paged_and_isolated_per_account(simulator: Any) -> None:
    send(simulator, *(msg(body=f"n{i}") for i in range(17)))
    send(simulator, msg(body="theirs"), auth=OTHER)

    first = http.get(simulator.url + HISTORY, auth=AUTH).json()
    second = http.get(simulator.url + HISTORY, params={"page": 2}, auth=AUTH).json()["data"]

    assert first["response_msg"] == "Here are your data."
    page = first["data"]
    assert {k: page[k] for k in ("total", "per_page", "current_page", "last_page", "from", "to", "prev_page_url")} == {
        "total": 17, "per_page": 15, "current_page": 1, "last_page": 2, "from": 1, "to": 15, "prev_page_url": None,
    }  # fmt: skip
    assert page["next_page_url"].startswith(simulator.url + HISTORY) and "page=2" in page["next_page_url"]
    assert [r["body"] for r in second["data"]] == ["n15", "n16"] and second["next_page_url"] is None
    row = page["data"][0]
    assert (row["status"], row["status_code"], row["error_code"], row["_api_username"]) == (
        "Queued",
        None,
        None,
        "acme",
    )
    assert isinstance(row["schedule"], str) and isinstance(row["date"], int) and isinstance(row["message_parts"], int)
    assert http.get(simulator.url + HISTORY, auth=OTHER).json()["data"]["total"] == 1


def test_history_filters_and_orders(simulator: Any) -> None:
    sent = sent_messages(send(simulator, msg(body="a"), msg(to="+61411111111", body="b")))
    now = sent[0]["date"]

    def bodies(**params: Any) -> list[str]:
        return [r["body"] for r in http.get(simulator.url + HISTORY, params=params, auth=AUTH).json()["data"]["data"]]

    assert bodies(order_by="date:desc") == ["b", "a"]
    assert bodies(order_by="to:asc") == ["a", "b"] and bodies(order_by="to:desc") == ["b", "a"]
    assert bodies(q="status:queued") == ["a", "b"] and bodies(q="status:Sent") == []
    assert bodies(q="to:+61411111111") == ["b"]
    assert bodies(q=f"message_id:{sent[0]['message_id']}") == ["a"]
    assert bodies(date_from=now + 10) == [] and bodies(date_to=now + 10) == ["a", "b"]
    empty = http.get(simulator.url + HISTORY, params={"page": 5}, auth=AUTH).json()["data"]
    assert (empty["data"], empty["from"], empty["to"]) == ([], None, None)
    send(simulator, msg(to="+12015550100", body="c"))  # sent last, to the lowest number
    assert bodies(order_by="to:asc") == ["c", "a", "b"] and bodies(order_by="body:desc") == ["c", "b", "a"]
    provider = simulator.sim.providers["clicksend"]
    provider.delivery_report(provider.message(sent[0]["message_id"]), "failed", None)
    assert bodies(q="status:failed") == ["a"] and bodies(q="status:Queued") == ["b", "c"]  # index, then walk


@pytest.mark.parametrize(
    "params",
    [
        {"page": "x"},
        {"page": "0"},
        {"limit": "-1"},
        {"date_from": "yesterday"},
        {"q": "colour:blue"},
        {"order_by": "price:asc"},
        {"order_by": "date:sideways"},
    ],
)
def test_bad_history_queries_are_400(simulator: Any, params: dict[str, str]) -> None:
    assert_envelope(http.get(simulator.url + HISTORY, params=params, auth=AUTH), 400, "BAD_REQUEST")


def test_receipts_are_listed_and_fetched_per_account(simulator: Any, provider: ClickSend) -> None:
    ours, theirs = (
        sent_messages(send(simulator, msg(custom_string="x"), auth=a))[0]["message_id"] for a in (AUTH, OTHER)
    )
    for message_id in (ours, theirs):
        message = provider.message(message_id)
        assert message is not None
        message.reports.append(provider.delivery_report(message, "delivered", None))

    listed = http.get(simulator.url + RECEIPTS, auth=AUTH).json()
    assert listed["response_msg"] == "Here are your delivery receipts."
    assert [r["message_id"] for r in listed["data"]["data"]] == [ours]
    one = http.get(f"{simulator.url}{RECEIPTS}/{ours.lower()}", auth=AUTH).json()
    assert one["data"] == listed["data"]["data"][0]
    assert list(one["data"]) == [
        "timestamp_send",
        "timestamp",
        "message_id",
        "status_code",
        "status_text",
        "error_code",
        "error_text",
        "custom_string",
        "subaccount_id",
        "message_type",
    ]
    assert assert_envelope(http.get(f"{simulator.url}{RECEIPTS}/{theirs}", auth=AUTH), 404, "NOT_FOUND")["data"] is None


def test_a_message_without_receipt_is_404(simulator: Any) -> None:
    message_id = sent_messages(send(simulator, msg()))[0]["message_id"]
    assert_envelope(http.get(f"{simulator.url}{RECEIPTS}/{message_id}", auth=AUTH), 404, "NOT_FOUND")


def test_registering_a_receipt_url_answers_a_sample_receipt(simulator: Any, provider: ClickSend) -> None:
    body = http.post(simulator.url + RECEIPTS, auth=AUTH, json={"url": "http://127.0.0.1:9/r"}).json()
    assert (body["http_code"], body["response_code"], body["response_msg"]) == (
        200,
        "SUCCESS",
        "Receipt has been added",
    )
    assert (body["data"]["status_code"], body["data"]["message_type"]) == (201, "sms")
    assert provider.settings("acme")["receipt_url"] == "http://127.0.0.1:9/r"
    http.post(simulator.url + RECEIPTS, auth=AUTH, json={"url": "poll"}).raise_for_status()
    assert provider.settings("acme")["receipt_url"] is None
    assert provider.settings("rival")["receipt_url"] is None


@pytest.mark.parametrize("payload", [{}, {"url": ""}, {"url": 5}])
def test_receipt_url_is_required(simulator: Any, payload: dict[str, Any]) -> None:
    assert_envelope(http.post(simulator.url + RECEIPTS, auth=AUTH, json=payload), 400, "BAD_REQUEST")


def test_receipt_rules_register_only_enabled_url_actions(simulator: Any, provider: ClickSend) -> None:
    rule = {"rule_name": "r", "match_type": 0, "action": "EMAIL_FIXED", "action_address": "a@b.c", "enabled": 1}
    created = http.post(simulator.url + RULES, auth=AUTH, json=rule).json()
    assert created["data"] == {"receipt_rule_id": 1, **rule}
    assert provider.settings("acme")["receipt_url"] is None
    http.post(simulator.url + RULES, auth=AUTH, json={**rule, "action": "URL", "action_address": "http://h/x"})
    assert provider.settings("acme")["receipt_url"] == "http://h/x"
    listed = http.get(simulator.url + RULES, auth=AUTH).json()["data"]
    assert [r["receipt_rule_id"] for r in listed["data"]] == [1, 2]
    assert_envelope(http.post(simulator.url + RULES, auth=AUTH, json={**rule, "enabled": "yes"}), 400, "BAD_REQUEST")


# ---- scripted trouble, delivery receipts and callbacks ------------------------------------------


def test_reject_is_per_message_except_auth_failed(provider: ClickSend) -> None:
    submission = Submission(to="+12025550143", sender="Acme", body="x")
    for reason in REJECT_REASONS:
        response = provider.reject(reason, submission)
        if reason == "auth_failed":
            assert response is not None and response.status_code == 401
            assert b'"response_code":"UNAUTHORIZED"' in response.body
        else:
            assert response is None


def test_http_error_429_carries_retry_after(provider: ClickSend) -> None:
    response = provider.http_error(429, retry_after=7)
    assert (response.status_code, response.headers["Retry-After"]) == (429, "7")
    assert b'"response_code":"TOO_MANY_REQUESTS"' in response.body and b'"data":null' in response.body


@pytest.mark.parametrize(
    ("status", "error_code", "expected"),
    [
        ("delivered", None, (201, None, "Sent")),
        ("undelivered", None, (301, 12, "Failed")),
        ("failed", None, (301, 8, "Failed")),
        ("expired", None, (301, 20, "Failed")),
        ("undelivered", "16", (300, 16, "Failed")),
        ("failed", "99", (301, 99, "Failed")),
        ("sent", None, (200, None, "Sent")),
    ],
)
def test_delivery_report_moves_the_message_on(
    simulator: Any, provider: ClickSend, status: str, error_code: str | None, expected: tuple[int, int | None, str]
) -> None:
    message_id = sent_messages(send(simulator, msg(custom_string="c-1")))[0]["message_id"]
    message = provider.message(message_id)
    assert message is not None

    report = provider.delivery_report(message, status, error_code)

    assert (report["status_code"], report["error_code"], message.status) == expected
    assert message.error_code == (None if expected[1] is None else str(expected[1]))
    assert (report["message_id"], report["custom_string"], report["message_type"]) == (message_id, "c-1", "sms")
    assert isinstance(report["timestamp"], int) and report["timestamp_send"] == int(message.created_at.timestamp())
    assert (report["error_text"] is None) == (expected[1] is None)
    assert message.reports == []
    assert provider.callback(message, report) is None  # no receipt URL registered


@pytest.mark.parametrize("status", ["delivered", "undelivered", "failed", "expired"])
def test_callback_posts_a_form_to_the_registered_url(simulator: Any, provider: ClickSend, status: str) -> None:
    http.post(simulator.url + RECEIPTS, auth=AUTH, json={"url": "http://127.0.0.1:9/dlr"}).raise_for_status()
    message = provider.message(sent_messages(send(simulator, msg()))[0]["message_id"])
    assert message is not None

    push = provider.callback(message, provider.delivery_report(message, status, None))

    assert push is not None and push.url == "http://127.0.0.1:9/dlr"
    assert push.headers == {"Content-Type": "application/x-www-form-urlencoded"}
    form = {k: v[0] for k, v in parse_qs(push.body.decode(), keep_blank_values=True).items()}
    assert form["message_id"] == message.id and form["message_type"] == "sms"
    assert form["status"] == ("Sent" if status == "delivered" else "Failed")
    assert form["status_code"] == ("201" if status == "delivered" else "301")
    assert form["custom_string"] == "" and form["user_id"].isdigit()


def test_scripted_receipts_reach_a_real_receiver(clocked_simulator: Any) -> None:
    simulator = clocked_simulator
    received: list[dict[str, str]] = []

    async def receive(request: Request) -> PlainTextResponse:
        received.append({k: str(v) for k, v in (await request.form()).items()})
        return PlainTextResponse("OK")

    deliver = {"status": "undelivered", "after": 0.2, "error_code": "15"}
    script(simulator.control, simulator.url, "clicksend", {"deliver": deliver})
    with serving(Starlette(routes=[Route("/dlr", receive, methods=["POST"])])) as url:
        http.post(simulator.url + RECEIPTS, auth=AUTH, json={"url": url + "/dlr"}).raise_for_status()
        message_id = sent_messages(send(simulator, msg()))[0]["message_id"]
        simulator.advance_until(lambda: len(received) == 2, step=0.1)

    assert [(r["status_code"], r["error_code"]) for r in received] == [("200", ""), ("301", "15")]
    assert {r["message_id"] for r in received} == {message_id}
    polled = http.get(f"{simulator.url}{RECEIPTS}/{message_id}", auth=AUTH).json()["data"]
    assert (polled["status_code"], polled["error_code"]) == (301, 15)


# ---- bad input battery --------------------------------------------------------------------------

POSTS = [SEND, RECEIPTS, RULES]
BAD_BODIES = [
    pytest.param(b"{not json", "application/json", 400, id="malformed-json"),
    pytest.param(b"messages=x", "application/x-www-form-urlencoded", 400, id="form-body"),
    pytest.param(b'{"messages": "\xff\xfe"}', "application/json", 400, id="invalid-utf8"),
    pytest.param(b"[1, 2]", "application/json", 400, id="json-array"),
    pytest.param(b"null", "application/json", 400, id="json-null"),
    pytest.param(b'{"messages": [' + b'"' + b"a" * (2 * 1024 * 1024) + b'"]}', "application/json", 413, id="2MiB"),
]


@pytest.mark.parametrize(("content", "content_type", "status"), BAD_BODIES)
def test_bad_bodies_get_clicksend_errors(simulator: Any, content: bytes, content_type: str, status: int) -> None:
    for path in POSTS:
        response = http.post(simulator.url + path, auth=AUTH, content=content, headers={"Content-Type": content_type})
        body = assert_envelope(response, status, "PAYLOAD_TOO_LARGE" if status == 413 else "BAD_REQUEST")
        assert body["data"] is None


WRONG_ROUTES = [
    ("GET", "/v3/sms/nope", 404, "NOT_FOUND"),
    ("POST", "/v3/", 404, "NOT_FOUND"),
    ("GET", "/v3/sms/receipts/a/b", 404, "NOT_FOUND"),
    ("DELETE", SEND, 405, "METHOD_NOT_FOUND"),
    ("GET", SEND, 405, "METHOD_NOT_FOUND"),
    ("PUT", HISTORY, 405, "METHOD_NOT_FOUND"),
    ("PATCH", RECEIPTS, 405, "METHOD_NOT_FOUND"),
    ("POST", f"{RECEIPTS}/ABC", 405, "METHOD_NOT_FOUND"),
    ("DELETE", RULES, 405, "METHOD_NOT_FOUND"),
]


def test_unknown_paths_and_methods_answer_in_clicksend_format(simulator: Any) -> None:
    for method, path, status, code in WRONG_ROUTES:
        assert assert_envelope(http.request(method, simulator.url + path, auth=AUTH), status, code)["data"] is None


def test_not_found_uses_clicksends_words(simulator: Any) -> None:
    body = http.get(simulator.url + "/v3/cauldron", auth=AUTH).json()
    assert body["response_msg"] == "Invalid endpoint. Please try again."


def test_the_simulator_keeps_serving_after_the_battery(simulator: Any) -> None:
    for content in (b"{", b"\xff", b"[]", b'{"messages": 1}'):
        for path in POSTS:
            response = http.post(
                simulator.url + path, auth=AUTH, content=content, headers={"Content-Type": "application/json"}
            )
            assert response.status_code < 500 and "Traceback" not in response.text
    assert sent_messages(send(simulator, msg()))[0]["status"] == "SUCCESS"
