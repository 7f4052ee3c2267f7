"""The Infobip adapter on the wire: the v3 request and every per-destination and error answer."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from lynsms.gateway.providers.base import Accepted, Failed, FailureKind
from tests.gateway.adapter_mocks import BASE, body_json, many, outbound, reply, send

PENDING = {
    "groupId": 1,
    "groupName": "PENDING",
    "id": 26,
    "name": "PENDING_ACCEPTED",
    "description": "Message sent to next instance",
}


def rejected(status_id: int, name: str, description: str = "why") -> dict[str, Any]:
    return {"groupId": 5, "groupName": "REJECTED", "id": status_id, "name": name, "description": description}


def entry(n: int, status: dict[str, Any] = PENDING, with_id: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {"destination": f"+1202555{n:04d}", "status": status, "details": {"messageCount": 1}}
    if with_id:
        data["messageId"] = f"msg_{n:025d}"
    return data


def answer_with(*entries: dict[str, Any]) -> Any:
    return reply(200, {"bulkId": "1234567890123456789", "messages": list(entries)})


def test_posts_a_v3_request_with_app_auth() -> None:
    sent = send("infobip", answer_with(entry(0)))
    request = sent.request
    assert request.method == "POST"
    assert str(request.url) == f"{BASE}/sms/3/messages"
    assert request.headers["Authorization"] == "App ib-key"
    assert body_json(request) == {
        "messages": [
            {
                "sender": "LynSMS",
                "destinations": [{"to": "+12025550000", "messageId": "msg_" + "0" * 25}],
                "content": {"text": "Your code is 482194"},
                "webhooks": {
                    "delivery": {"url": "https://gw.test/api/v1/webhooks/x"},
                    "contentType": "application/json",
                    "callbackData": "ref-1",
                },
            }
        ]
    }


def test_leaves_out_webhooks_when_there_is_no_callback_url_or_reference() -> None:
    sent = send("infobip", answer_with(entry(0)), outbound(status_callback_url=None, reference=None))
    assert "webhooks" not in body_json(sent.request)["messages"][0]


def test_send_many_puts_every_recipient_in_one_request() -> None:
    sent = send("infobip", answer_with(*(entry(n) for n in range(3))), many(3))
    (message,) = body_json(sent.request)["messages"]
    assert [d["to"] for d in message["destinations"]] == ["+12025550000", "+12025550001", "+12025550002"]
    assert sent.results == [Accepted(f"msg_{n:025d}", "PENDING_ACCEPTED") for n in range(3)]


def test_messages_with_different_webhook_settings_become_separate_entries_of_one_request() -> None:
    messages = [outbound(0), outbound(1, reference="other"), outbound(2)]
    sent = send("infobip", answer_with(entry(0), entry(2), entry(1, rejected(52, "REJECTED_DESTINATION"))), messages)
    entries = body_json(sent.request)["messages"]
    assert [[d["to"] for d in e["destinations"]] for e in entries] == [
        ["+12025550000", "+12025550002"],
        ["+12025550001"],
    ]
    assert entries[1]["webhooks"]["callbackData"] == "other"
    assert [type(r) for r in sent.results] == [Accepted, Failed, Accepted]


def test_matches_answers_by_message_id_whatever_their_order() -> None:
    sent = send("infobip", answer_with(entry(1, rejected(10, "REJECTED_DND")), entry(0)), many(2))
    assert isinstance(sent.results[0], Accepted) and isinstance(sent.results[1], Failed)


def test_matches_answers_by_position_when_their_message_ids_are_not_ours() -> None:
    answer = answer_with({**entry(0), "messageId": "ib-0"}, {**entry(1), "messageId": "ib-1"})
    sent = send("infobip", answer, many(2))
    assert sent.results == [Accepted("ib-0", "PENDING_ACCEPTED"), Accepted("ib-1", "PENDING_ACCEPTED")]


def test_an_answer_missing_destinations_is_a_retryable_malformed_response() -> None:
    sent = send("infobip", answer_with({**entry(0), "messageId": "other"}), many(2))
    assert [(r.kind, r.reason) for r in sent.results if isinstance(r, Failed)] == [
        ("retryable", "malformed_response")
    ] * 2


def test_an_entry_without_a_status_is_a_retryable_malformed_response() -> None:
    result = send("infobip", answer_with({"messageId": "msg_" + "0" * 25})).result
    assert isinstance(result, Failed) and result.reason == "malformed_response" and result.http_status == 200


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        # the simulator's per-destination rejections (docs/providers/infobip.md)
        (rejected(52, "REJECTED_DESTINATION"), "invalid_number"),
        (rejected(10, "REJECTED_DND"), "unsubscribed"),
        (rejected(12, "REJECTED_NOT_ENOUGH_CREDITS"), "insufficient_funds"),
        (rejected(11, "REJECTED_SOURCE"), "invalid_sender"),
        (rejected(13, "REJECTED_SENDER"), "invalid_sender"),
        (rejected(25, "REJECTED_MESSAGE_TOO_LONG"), "body_too_long"),
        # real Infobip statuses beyond the simulator's table
        (rejected(8, "REJECTED_PREFIX_MISSING"), "invalid_number"),
        (rejected(51, "MISSING_TO"), "invalid_number"),
        (rejected(17, "REJECTED_PREPAID_PACKAGE_EXPIRED"), "insufficient_funds"),
        (rejected(20, "REJECTED_FLOODING_FILTER"), "rejected"),
        ({"groupId": 2, "groupName": "UNDELIVERABLE", "id": 9, "name": "UNDELIVERABLE_NOT_DELIVERED"}, "rejected"),
        ({"groupId": 5, "id": 99, "name": "REJECTED_SOMETHING_NEW"}, "rejected"),
    ],
)
def test_maps_each_rejected_destination_to_a_hard_failure(status: dict[str, Any], reason: str) -> None:
    result = send("infobip", answer_with(entry(0, status))).result
    assert isinstance(result, Failed)
    assert (result.kind, result.reason, result.provider_code, result.http_status) == (
        "hard",
        reason,
        status["name"],
        200,
    )


@pytest.mark.parametrize(
    "status",
    [
        PENDING,
        {"groupId": 0, "groupName": "ACCEPTED", "id": 1, "name": "ACCEPTED"},
        {"groupId": 3, "groupName": "DELIVERED", "id": 5, "name": "DELIVERED_TO_HANDSET"},
        {"groupId": 1, "id": 7, "name": "PENDING_ENROUTE"},
    ],
)
def test_accepts_pending_accepted_and_delivered_groups(status: dict[str, Any]) -> None:
    assert send("infobip", answer_with(entry(0, status))).result == Accepted("msg_" + "0" * 25, status["name"])


def v3_error(
    status: int, code: str, description: str, violations: list[dict[str, str]] | None = None
) -> httpx.Response:
    body = {
        "errorCode": code,
        "description": description,
        "action": "",
        "violations": violations or [],
        "resources": [],
    }
    return httpx.Response(status, json=body)


def v2_error(status: int, code: str, text: str) -> httpx.Response:
    return httpx.Response(status, json={"requestError": {"serviceException": {"messageId": code, "text": text}}})


@pytest.mark.parametrize(
    ("response", "kind", "reason", "code"),
    [
        (v3_error(401, "E401", "The request lacks valid authentication credentials."), "hard", "auth_failed", "E401"),
        (v3_error(403, "E403", "Forbidden"), "hard", "auth_failed", "E403"),
        (
            v3_error(
                400,
                "E400",
                "Request cannot be processed.",
                [{"property": "messages[0].destinations[0].to", "violation": "must not be blank"}],
            ),
            "hard",
            "invalid_number",
            "E400",
        ),
        (
            v3_error(
                400,
                "E400",
                "Request cannot be processed.",
                [{"property": "messages[0].sender", "violation": "invalid"}],
            ),
            "hard",
            "invalid_sender",
            "E400",
        ),
        (
            v3_error(
                400,
                "E400",
                "Request cannot be processed.",
                [{"property": "messages[0].content.text", "violation": "must not be blank"}],
            ),
            "hard",
            "invalid_request",
            "E400",
        ),
        (v3_error(400, "E400", "Request cannot be processed."), "hard", "invalid_request", "E400"),
        (v3_error(413, "E413", "Too large"), "hard", "invalid_request", "E413"),
        (v3_error(415, "E415", "Unsupported"), "hard", "invalid_request", "E415"),
        (v3_error(429, "E429", "Too many requests sent."), "retryable", "rate_limited", "E429"),
        (v3_error(500, "E500", "Something went wrong."), "retryable", "server_error", "E500"),
        (v3_error(503, "E503", "Unavailable"), "retryable", "server_error", "E503"),
        (v2_error(401, "UNAUTHORIZED", "Invalid login details"), "hard", "auth_failed", "UNAUTHORIZED"),
        (v2_error(400, "BAD_REQUEST", "Bad request"), "hard", "invalid_request", "BAD_REQUEST"),
        (v3_error(404, "E404", "Not found"), "hard", "rejected", "E404"),
    ],
)
def test_maps_each_infobip_error(response: httpx.Response, kind: FailureKind, reason: str, code: str) -> None:
    sent = send("infobip", lambda request: response, many(2))
    assert [(r.kind, r.reason, r.provider_code) for r in sent.results if isinstance(r, Failed)] == [
        (kind, reason, code)
    ] * 2


def test_an_error_message_names_the_violated_property() -> None:
    violation = [{"property": "messages[0].destinations[0].to", "violation": "must not be blank"}]
    result = send("infobip", lambda request: v3_error(400, "E400", "Request cannot be processed.", violation)).result
    assert isinstance(result, Failed)
    assert (
        result.message == "HTTP 400: Request cannot be processed. (messages[0].destinations[0].to: must not be blank)"
    )
