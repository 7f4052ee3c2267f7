"""The Sinch adapter on the wire: batches, both auth modes, and what it makes of every answer."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from lynsms.gateway.providers.base import Accepted, Failed, FailureKind
from lynsms.gateway.providers.sinch import recipient_message_id
from tests.gateway.adapter_mocks import BASE, basic, body_form, body_json, drive, in_turn, many, outbound, reply, send

BATCH = {"id": "01FC66621XXXXX119Z8PMV1QPQ", "type": "mt_text", "to": ["12025550000"], "canceled": False}
PROJECT = {"project_id": "proj-1", "key_id": "key-1", "key_secret": "key-secret"}
TOKEN = {"access_token": "tok-1", "expires_in": 3599, "scope": "", "token_type": "bearer"}


def error(status: int, code: str, text: str = "nope") -> httpx.Response:
    return httpx.Response(status, json={"code": code, "text": text})


def test_posts_one_batch_with_bearer_auth_for_a_service_plan() -> None:
    sent = send("sinch", reply(201, BATCH))
    request = sent.request
    assert request.method == "POST"
    assert str(request.url) == f"{BASE}/xms/v1/plan123/batches"
    assert request.headers["Authorization"] == "Bearer sinch-token"
    assert request.headers["Content-Type"] == "application/json"
    assert body_json(request) == {
        "to": ["+12025550000"],
        "from": "LynSMS",
        "body": "Your code is 482194",
        "type": "mt_text",
        "delivery_report": "per_recipient",
        "callback_url": "https://gw.test/api/v1/webhooks/x",
        "client_reference": "ref-1",
    }


def test_leaves_out_callback_url_and_client_reference_when_absent() -> None:
    sent = send("sinch", reply(201, BATCH), outbound(status_callback_url=None, reference=None))
    assert set(body_json(sent.request)) == {"to", "from", "body", "type", "delivery_report"}


def test_a_201_accepts_each_recipient_under_batch_id_and_number() -> None:
    sent = send("sinch", reply(201, BATCH), many(3))
    assert len(sent.requests) == 1
    assert body_json(sent.request)["to"] == ["+12025550000", "+12025550001", "+12025550002"]
    assert sent.results == [Accepted(f"{BATCH['id']}:+1202555000{n}") for n in range(3)]


def test_recipient_message_id_matches_reports_that_drop_the_plus() -> None:
    assert recipient_message_id("b1", "12025550143") == recipient_message_id("b1", "+12025550143") == "b1:+12025550143"


def test_messages_with_different_callbacks_or_references_go_in_separate_batches() -> None:
    messages = [outbound(0), outbound(1, reference="other"), outbound(2), outbound(3, status_callback_url=None)]
    sent = send("sinch", reply(201, BATCH), messages)
    assert [body_json(r)["to"] for r in sent.requests] == [
        ["+12025550000", "+12025550002"],
        ["+12025550001"],
        ["+12025550003"],
    ]
    assert len(sent.results) == 4 and all(isinstance(r, Accepted) for r in sent.results)


def test_splits_more_recipients_than_max_batch_into_several_batches() -> None:
    sent = send("sinch", reply(201, BATCH), many(5), max_batch=2)
    assert [len(body_json(r)["to"]) for r in sent.requests] == [2, 2, 1]


def test_a_failed_batch_fails_every_message_with_the_same_reason() -> None:
    sent = send("sinch", lambda request: error(400, "syntax_invalid_parameter_format", "Invalid number: +1"), many(3))
    assert len(set(sent.results)) == 1
    assert sent.results[0] == Failed(
        "hard", "invalid_number", "HTTP 400: Invalid number: +1", "syntax_invalid_parameter_format", 400
    )
    assert len(sent.results) == 3


def test_a_batch_refused_for_one_bad_number_is_halved_until_that_number_fails_alone() -> None:
    bad = "+12025550005"

    def answer(request: httpx.Request) -> httpx.Response:
        if bad in body_json(request)["to"]:
            return error(400, "syntax_invalid_parameter_format", f"Invalid number: {bad}")
        return httpx.Response(201, json=BATCH)

    sent = send("sinch", answer, many(8))
    assert [r.reason if isinstance(r, Failed) else "ok" for r in sent.results] == ["ok"] * 5 + ["invalid_number"] + [
        "ok"
    ] * 2
    assert sorted(len(body_json(r)["to"]) for r in sent.requests) == [1, 1, 2, 2, 4, 4, 8]


def test_a_batch_refused_for_a_shared_reason_is_not_split() -> None:
    sent = send("sinch", lambda request: error(403, "blocked_account", "Account is blocked"), many(8))
    assert len(sent.requests) == 1 and len(sent.results) == 8


def test_a_201_without_an_id_is_a_retryable_malformed_response_for_every_message() -> None:
    sent = send("sinch", reply(201, {"type": "mt_text"}), many(2))
    assert [(r.kind, r.reason) for r in sent.results if isinstance(r, Failed)] == [
        ("retryable", "malformed_response")
    ] * 2


@pytest.mark.parametrize(
    ("status", "code", "text", "kind", "reason"),
    [
        # the simulator's scripted rejections (docs/providers/sinch.md)
        (400, "syntax_invalid_parameter_format", "Invalid number: +999", "hard", "invalid_number"),
        (
            403,
            "illegal_number_type",
            "Recipient +1202 has opted out and cannot receive messages",
            "hard",
            "unsubscribed",
        ),
        (403, "blocked_account", "Account is blocked: insufficient credit", "hard", "insufficient_funds"),
        (400, "syntax_invalid_parameter_format", "Invalid from address: ???", "hard", "invalid_sender"),
        (400, "syntax_constraint_violation", "body: size must be between 1 and 2000", "hard", "body_too_long"),
        (401, "unauthorized", "Invalid credentials", "hard", "auth_failed"),
        (429, "too_many_requests", "Too Many Requests", "retryable", "rate_limited"),
        (500, "internal_error", "Internal Server Error", "retryable", "server_error"),
        (503, "service_unavailable", "Service Unavailable", "retryable", "server_error"),
        # real Sinch codes beyond the simulator's table
        (400, "syntax_invalid_json", "Unexpected character", "hard", "invalid_request"),
        (400, "syntax_constraint_violation", "to: must not be empty", "hard", "invalid_request"),
        (400, "syntax_invalid_parameter_format", "delivery_report: unknown value", "hard", "invalid_request"),
        (400, "syntax_invalid_parameter_format", "Invalid recipient(s): 123", "hard", "invalid_number"),
        (403, "illegal_number_type", "Illegal number type for region", "hard", "invalid_number"),
        (403, "unprovisioned_region", "Region not provisioned", "hard", "rejected"),
        (403, "missing_callback_url", "No callback URL", "hard", "invalid_request"),
        (403, "something_new", "?", "hard", "auth_failed"),
        (404, "not_found", "?", "hard", "rejected"),
    ],
)
def test_maps_each_sinch_error(status: int, code: str, text: str, kind: FailureKind, reason: str) -> None:
    result = send("sinch", lambda request: error(status, code, text)).result
    assert result == Failed(kind, reason, f"HTTP {status}: {text}", code, status)


def test_a_429_carries_retry_after() -> None:
    answer = reply(429, {"code": "too_many_requests", "text": "Too Many Requests"}, headers={"Retry-After": "3"})
    result = send("sinch", answer).result
    assert isinstance(result, Failed) and result.retry_after == 3.0


# ---- project mode: OAuth2 client credentials ---------------------------------------------------


def project_answer(*batches: httpx.Response, token: dict[str, Any] = TOKEN) -> Any:
    """Token requests get ``token``; batch requests get ``batches`` in turn."""
    queue = iter(batches)

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth2/token":
            return httpx.Response(200, json=token)
        return next(queue)

    return answer


def paths(requests: list[httpx.Request]) -> list[str]:
    return [r.url.path for r in requests]


def test_project_mode_fetches_a_token_then_sends_with_it() -> None:
    sent = send("sinch", project_answer(httpx.Response(201, json=BATCH)), credentials=PROJECT)
    token_request, batch_request = sent.requests
    assert str(token_request.url) == f"{BASE}/oauth2/token"
    assert token_request.headers["Authorization"] == basic("key-1", "key-secret")
    assert body_form(token_request) == {"grant_type": "client_credentials"}
    assert str(batch_request.url) == f"{BASE}/xms/v1/proj-1/batches"
    assert batch_request.headers["Authorization"] == "Bearer tok-1"
    assert isinstance(sent.result, Accepted)


def test_project_mode_asks_the_configured_auth_origin_for_tokens() -> None:
    credentials = {**PROJECT, "auth_base_url": "https://auth.test/"}
    sent = send("sinch", project_answer(httpx.Response(201, json=BATCH)), credentials=credentials)
    assert str(sent.requests[0].url) == "https://auth.test/oauth2/token"


def test_project_mode_reuses_the_token_until_it_nears_expiry() -> None:
    async def twice(adapter: Any) -> list[Any]:
        return [await adapter.send(outbound(0)), await adapter.send(outbound(1))]

    fresh = project_answer(httpx.Response(201, json=BATCH), httpx.Response(201, json=BATCH))
    _, requests = drive("sinch", fresh, twice, PROJECT)
    assert paths(requests) == ["/oauth2/token", "/xms/v1/proj-1/batches", "/xms/v1/proj-1/batches"]

    short = project_answer(
        httpx.Response(201, json=BATCH), httpx.Response(201, json=BATCH), token={**TOKEN, "expires_in": 30}
    )
    _, requests = drive("sinch", short, twice, PROJECT)
    assert paths(requests).count("/oauth2/token") == 2


def test_project_mode_refreshes_a_rejected_cached_token_and_resends_once() -> None:
    async def twice(adapter: Any) -> list[Any]:
        return [await adapter.send(outbound(0)), await adapter.send(outbound(1))]

    expired = httpx.Response(401, json={"code": "unauthorized", "text": "token expired"})
    answer = project_answer(httpx.Response(201, json=BATCH), expired, httpx.Response(201, json=BATCH))
    results, requests = drive("sinch", answer, twice, PROJECT)
    assert all(isinstance(r, Accepted) for r in results)
    assert paths(requests) == [
        "/oauth2/token",
        "/xms/v1/proj-1/batches",
        "/xms/v1/proj-1/batches",
        "/oauth2/token",
        "/xms/v1/proj-1/batches",
    ]


def test_project_mode_does_not_retry_a_401_on_a_token_it_just_fetched() -> None:
    sent = send("sinch", project_answer(error(401, "unauthorized", "Invalid credentials")), credentials=PROJECT)
    assert paths(sent.requests) == ["/oauth2/token", "/xms/v1/proj-1/batches"]
    assert isinstance(sent.result, Failed) and sent.result.reason == "auth_failed"


def test_project_mode_fails_every_message_when_the_token_is_refused() -> None:
    refused = reply(401, {"error": "invalid_client", "error_description": "Bad client credentials"})
    sent = send("sinch", refused, many(2), credentials=PROJECT)
    assert (
        sent.results == [Failed("hard", "auth_failed", "HTTP 401: Bad client credentials", "invalid_client", 401)] * 2
    )
    assert paths(sent.requests) == ["/oauth2/token"]


def test_project_mode_treats_a_garbled_token_answer_as_retryable() -> None:
    sent = send("sinch", in_turn(reply(200, {"access_token": "t"})), credentials=PROJECT)
    assert isinstance(sent.result, Failed)
    assert (sent.result.kind, sent.result.reason) == ("retryable", "malformed_response")


def test_project_mode_token_lifetime_runs_on_the_gateways_clock() -> None:
    """A gateway on a fast-forwarded or manual clock sees its token expire when *its* clock says so."""
    from lynsms.clock import ManualClock
    from lynsms.gateway.providers.clocked import ClockedTimeouts
    from lynsms.gateway.providers.registry import build_adapter
    from tests.gateway.adapter_mocks import settings

    clock = ManualClock()
    requests: list[httpx.Request] = []
    answer = project_answer(*(httpx.Response(201, json=BATCH) for _ in range(3)))

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return answer(request)  # type: ignore[no-any-return]

    async def main() -> None:
        transport = ClockedTimeouts(httpx.MockTransport(handler), clock)
        adapter = build_adapter(settings("sinch", PROJECT, 1000), transport)
        await adapter.send(outbound(0))
        await adapter.send(outbound(1))  # the same token: no time has passed on the clock
        clock.advance(3600)  # past the token's 3599 s, on the clock only
        await adapter.send(outbound(2))

    asyncio.run(main())
    assert paths(requests).count("/oauth2/token") == 2
