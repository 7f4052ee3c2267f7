"""The ClickSend adapter on the wire: the v3 request, per-message statuses, receipts registration."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from lynsms.gateway.providers.base import Accepted, Failed, FailureKind
from tests.gateway.adapter_mocks import BASE, basic, body_json, drive, in_turn, many, outbound, reply, send

AUTH = basic("alice", "cs-key")
RECEIPTS = "https://gw.test/api/v1/webhooks/clicksend"


def message(n: int, status: str = "SUCCESS", custom: str | None = None) -> dict[str, Any]:
    return {
        "to": f"+1202555{n:04d}",
        "message_id": f"BF7AD270-0000-0000-0000-{n:012d}",
        "status": status,
        "custom_string": custom if custom is not None else f"msg_{n:025d}",
        "message_parts": 1 if status == "SUCCESS" else 0,
    }


def answer_with(*messages: dict[str, Any]) -> Any:
    data = {"total_count": len(messages), "queued_count": 0, "blocked_count": 0, "messages": list(messages)}
    return reply(
        200,
        {"http_code": 200, "response_code": "SUCCESS", "response_msg": "Messages queued for delivery.", "data": data},
    )


def envelope(status: int, code: str, text: str = "nope") -> httpx.Response:
    return httpx.Response(status, json={"http_code": status, "response_code": code, "response_msg": text, "data": None})


def test_posts_every_message_in_one_request_with_basic_auth() -> None:
    sent = send("clicksend", answer_with(message(0), message(1)), many(2))
    request = sent.request
    assert request.method == "POST"
    assert str(request.url) == f"{BASE}/v3/sms/send"
    assert request.headers["Authorization"] == AUTH
    assert body_json(request) == {
        "messages": [
            {
                "to": f"+1202555000{n}",
                "from": "LynSMS",
                "body": "Your code is 482194",
                "source": "lynsms",
                "custom_string": f"msg_{n:025d}",
            }
            for n in range(2)
        ]
    }


def test_a_success_status_is_accepted_with_the_clicksend_message_id() -> None:
    result = send("clicksend", answer_with(message(0))).result
    assert result == Accepted("BF7AD270-0000-0000-0000-000000000000", "SUCCESS")


@pytest.mark.parametrize(
    ("status", "kind", "reason"),
    [
        # the simulator's per-message rejections (docs/providers/clicksend.md)
        ("INVALID_RECIPIENT", "hard", "invalid_number"),
        ("BLOCKED", "hard", "unsubscribed"),
        ("INSUFFICIENT_CREDIT", "hard", "insufficient_funds"),
        ("INVALID_SENDER_ID", "hard", "invalid_sender"),
        ("MESSAGE_TOO_LONG", "hard", "body_too_long"),
        # ClickSend's documented application codes and captured statuses
        ("MISSING_REQUIRED_FIELDS", "hard", "invalid_request"),
        ("INVALID_RETURN_ADDRESS", "hard", "invalid_sender"),
        ("COUNTRY_NOT_ENABLED", "hard", "rejected"),
        ("THROTTLED", "retryable", "rate_limited"),
        ("INTERNAL_ERROR", "retryable", "server_error"),
        ("SOMETHING_NEW", "hard", "rejected"),
    ],
)
def test_maps_each_per_message_status(status: str, kind: FailureKind, reason: str) -> None:
    result = send("clicksend", answer_with(message(0, status))).result
    assert isinstance(result, Failed)
    assert (result.kind, result.reason, result.provider_code, result.http_status) == (kind, reason, status, 200)


def test_a_mixed_answer_gives_each_message_its_own_outcome() -> None:
    sent = send("clicksend", answer_with(message(0), message(1, "INVALID_RECIPIENT"), message(2)), many(3))
    assert [type(r) for r in sent.results] == [Accepted, Failed, Accepted]


def test_matches_answers_by_custom_string_whatever_their_order() -> None:
    sent = send("clicksend", answer_with(message(1, "INVALID_RECIPIENT"), message(0)), many(2))
    assert isinstance(sent.results[0], Accepted) and isinstance(sent.results[1], Failed)


def test_matches_answers_by_position_when_custom_strings_are_not_echoed() -> None:
    sent = send("clicksend", answer_with(message(0, custom=""), message(1, "BLOCKED", custom="")), many(2))
    assert isinstance(sent.results[0], Accepted) and isinstance(sent.results[1], Failed)


@pytest.mark.parametrize(
    "body",
    [
        {"http_code": 200, "response_code": "SUCCESS", "data": None},
        {"http_code": 200, "response_code": "SUCCESS", "data": {"messages": "nope"}},
        {"http_code": 200, "response_code": "SUCCESS", "data": {"messages": [{"status": "SUCCESS"}]}},
        [1, 2, 3],
    ],
)
def test_a_200_of_the_wrong_shape_is_a_retryable_malformed_response(body: Any) -> None:
    result = send("clicksend", reply(200, body)).result
    assert isinstance(result, Failed) and (result.kind, result.reason) == ("retryable", "malformed_response")


def test_a_200_carrying_an_error_code_and_no_data_fails_the_request() -> None:
    sent = send(
        "clicksend", reply(200, {"http_code": 200, "response_code": "INSUFFICIENT_CREDIT", "data": None}), many(2)
    )
    assert [(r.kind, r.reason) for r in sent.results if isinstance(r, Failed)] == [("hard", "insufficient_funds")] * 2


@pytest.mark.parametrize(
    ("status", "code", "kind", "reason"),
    [
        # the simulator's whole-request errors
        (401, "UNAUTHORIZED", "hard", "auth_failed"),
        (429, "TOO_MANY_REQUESTS", "retryable", "rate_limited"),
        (500, "INTERNAL_SERVER_ERROR", "retryable", "server_error"),
        (503, "SERVICE_UNAVAILABLE", "retryable", "server_error"),
        (502, "BAD_GATEWAY", "retryable", "server_error"),
        (504, "GATEWAY_TIMEOUT", "retryable", "server_error"),
        (400, "BAD_REQUEST", "hard", "invalid_request"),
        (403, "FORBIDDEN", "hard", "auth_failed"),
        (404, "NOT_FOUND", "hard", "rejected"),
        (405, "METHOD_NOT_FOUND", "hard", "invalid_request"),
        # real ClickSend codes beyond it
        (401, "INVALID_CREDENTIALS", "hard", "auth_failed"),
        (403, "ACCOUNT_NOT_ACTIVATED", "hard", "auth_failed"),
        (400, "INSUFFICIENT_CREDIT", "hard", "insufficient_funds"),
    ],
)
def test_maps_each_request_error(status: int, code: str, kind: FailureKind, reason: str) -> None:
    sent = send("clicksend", lambda request: envelope(status, code), many(2))
    assert sent.results == [Failed(kind, reason, f"HTTP {status}: nope", code, status)] * 2


# ---- register_report_url -------------------------------------------------------------------------


def rules_page(*rules: dict[str, Any]) -> Any:
    return reply(
        200, {"http_code": 200, "response_code": "SUCCESS", "data": {"total": len(rules), "data": list(rules)}}
    )


def register(answer: Any) -> tuple[Failed | None, list[httpx.Request]]:
    async def action(adapter: Any) -> Failed | None:
        result: Failed | None = await adapter.register_report_url(RECEIPTS)
        return result

    return drive("clicksend", answer, action)


def test_register_report_url_creates_a_url_rule_for_the_account() -> None:
    created = reply(200, {"http_code": 200, "response_code": "SUCCESS", "data": {"receipt_rule_id": 1}})
    result, requests = register(in_turn(rules_page(), created))
    assert result is None
    listing, creation = requests
    assert (listing.method, listing.url.path, listing.url.params["limit"]) == (
        "GET",
        "/v3/automations/sms/receipts",
        "100",
    )
    assert (creation.method, str(creation.url)) == ("POST", f"{BASE}/v3/automations/sms/receipts")
    assert creation.headers["Authorization"] == AUTH
    assert body_json(creation) == {
        "rule_name": "LynSMS delivery receipts",
        "match_type": 0,
        "action": "URL",
        "action_address": RECEIPTS,
        "enabled": 1,
    }


def test_register_report_url_adds_nothing_when_the_rule_exists() -> None:
    existing = {
        "receipt_rule_id": 4,
        "rule_name": "x",
        "match_type": 0,
        "action": "URL",
        "action_address": RECEIPTS,
        "enabled": 1,
    }
    result, requests = register(rules_page(existing))
    assert result is None and [r.method for r in requests] == ["GET"]


def test_register_report_url_creates_the_rule_when_listing_fails() -> None:
    created = reply(200, {"http_code": 200, "response_code": "SUCCESS", "data": {"receipt_rule_id": 1}})
    result, requests = register(in_turn(lambda request: envelope(500, "INTERNAL_SERVER_ERROR"), created))
    assert result is None and [r.method for r in requests] == ["GET", "POST"]


def test_register_report_url_reports_why_it_failed() -> None:
    result, _ = register(in_turn(rules_page(), lambda request: envelope(401, "UNAUTHORIZED", "bad key")))
    assert result == Failed("hard", "auth_failed", "HTTP 401: bad key", "UNAUTHORIZED", 401)


def test_keeps_unicode_bodies_intact_in_the_json() -> None:
    sent = send("clicksend", answer_with(message(0)), outbound(body="Ünïcode ✓ 👋"))
    assert body_json(sent.request)["messages"][0]["body"] == "Ünïcode ✓ 👋"
