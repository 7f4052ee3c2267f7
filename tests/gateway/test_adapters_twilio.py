"""The Twilio adapter on the wire: the form it posts and what it makes of every answer."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from lynsms.gateway.providers.base import Accepted, Failed, FailureKind
from tests.gateway.adapter_mocks import BASE, CREDENTIALS, basic, body_form, in_turn, many, outbound, reply, send

SID = CREDENTIALS["twilio"]["account_sid"]
CREATED = {"sid": "SM" + "0" * 32, "status": "queued", "num_segments": "1", "error_code": None}


def error(status: int, code: int, message: str = "nope") -> httpx.Response:
    return httpx.Response(status, json={"code": code, "message": message, "more_info": "", "status": status})


def test_posts_the_message_as_a_form_with_basic_auth() -> None:
    sent = send("twilio", reply(201, CREATED))
    request = sent.request
    assert request.method == "POST"
    assert str(request.url) == f"{BASE}/2010-04-01/Accounts/{SID}/Messages.json"
    assert request.headers["Authorization"] == basic(SID, "secret-token")
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert body_form(request) == {
        "To": "+12025550000",
        "From": "LynSMS",
        "Body": "Your code is 482194",
        "StatusCallback": "https://gw.test/api/v1/webhooks/x",
    }


def test_leaves_out_status_callback_when_the_gateway_has_no_callback_url() -> None:
    sent = send("twilio", reply(201, CREATED), outbound(status_callback_url=None))
    assert "StatusCallback" not in body_form(sent.request)


def test_authenticates_with_an_api_key_when_one_is_configured() -> None:
    credentials = {"account_sid": SID, "api_key_sid": "SK" + "b" * 32, "api_key_secret": "key-secret"}
    sent = send("twilio", reply(201, CREATED), credentials=credentials)
    assert sent.request.headers["Authorization"] == basic("SK" + "b" * 32, "key-secret")
    assert f"/Accounts/{SID}/" in sent.request.url.path


def test_keeps_unicode_bodies_intact_in_the_form() -> None:
    sent = send("twilio", reply(201, CREATED), outbound(body="Привет 👋 ünïcode & = +"))
    assert body_form(sent.request)["Body"] == "Привет 👋 ünïcode & = +"


def test_a_201_is_accepted_with_the_message_sid_and_status() -> None:
    assert send("twilio", reply(201, CREATED)).result == Accepted("SM" + "0" * 32, "queued")


def test_a_201_without_a_sid_is_a_retryable_malformed_response() -> None:
    result = send("twilio", reply(201, {"status": "queued"})).result
    assert isinstance(result, Failed)
    assert (result.kind, result.reason, result.http_status) == ("retryable", "malformed_response", 201)


@pytest.mark.parametrize(
    ("status", "code", "kind", "reason"),
    [
        # the simulator's scripted rejections (docs/providers/twilio.md)
        (400, 21211, "hard", "invalid_number"),
        (400, 21610, "hard", "unsubscribed"),
        (401, 10001, "hard", "insufficient_funds"),
        (400, 21606, "hard", "invalid_sender"),
        (400, 21617, "hard", "body_too_long"),
        (401, 20003, "hard", "auth_failed"),
        # the simulator's validation errors
        (400, 21604, "hard", "invalid_number"),
        (400, 21603, "hard", "invalid_sender"),
        (400, 21212, "hard", "invalid_sender"),
        (400, 21602, "hard", "invalid_request"),
        (400, 21620, "hard", "invalid_request"),
        (400, 20001, "hard", "invalid_request"),
        (413, 20413, "hard", "invalid_request"),
        (404, 20404, "hard", "rejected"),
        # scripted HTTP trouble
        (429, 20429, "retryable", "rate_limited"),
        (500, 20500, "retryable", "server_error"),
        (503, 20503, "retryable", "server_error"),
        (502, 20502, "retryable", "server_error"),
        # real Twilio codes beyond the simulator's table
        (400, 21614, "hard", "invalid_number"),
        (400, 21612, "hard", "invalid_number"),
        (400, 21408, "hard", "rejected"),
        (400, 21608, "hard", "rejected"),
        (401, 20005, "hard", "insufficient_funds"),
        (400, 21611, "retryable", "rate_limited"),
        (400, 29999, "hard", "rejected"),
        (403, 29998, "hard", "auth_failed"),
    ],
)
def test_maps_each_twilio_error_code(status: int, code: int, kind: FailureKind, reason: str) -> None:
    result = send("twilio", lambda request: error(status, code)).result
    assert result == Failed(kind, reason, f"HTTP {status}: nope", str(code), status)


def test_a_429_carries_retry_after() -> None:
    answer = reply(429, {"code": 20429, "message": "Too Many Requests", "status": 429}, headers={"Retry-After": "7"})
    result = send("twilio", answer).result
    assert isinstance(result, Failed) and result.retry_after == 7.0 and result.reason == "rate_limited"


def test_send_many_makes_one_request_per_message_and_keeps_their_order() -> None:
    messages = many(5)

    async def answer(request: httpx.Request) -> httpx.Response:
        to = body_form(request)["To"]
        await asyncio.sleep(0.01 * (5 - int(to[-1])))  # later messages are answered first
        if to.endswith("3"):
            return error(400, 21211)
        return httpx.Response(201, json={**CREATED, "sid": "SM" + to[-4:]})

    sent = send("twilio", answer, messages)
    assert len(sent.requests) == 5
    assert [r.provider_message_id if isinstance(r, Accepted) else r.reason for r in sent.results] == [
        "SM0000",
        "SM0001",
        "SM0002",
        "invalid_number",
        "SM0004",
    ]


def test_send_many_keeps_at_most_sixteen_requests_in_flight() -> None:
    in_flight = peak = 0

    async def answer(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.005)
        in_flight -= 1
        return httpx.Response(201, json=CREATED)

    sent = send("twilio", answer, many(40))
    assert len(sent.requests) == 40 and all(isinstance(r, Accepted) for r in sent.results)
    assert peak == 16


def test_max_batch_is_one_whatever_the_settings_say() -> None:
    sent = send("twilio", in_turn(reply(201, CREATED), reply(201, CREATED)), many(2), max_batch=1000)
    assert len(sent.requests) == 2
