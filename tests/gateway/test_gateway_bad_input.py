"""Bad input never stores or sends anything: every case is a 4xx in the error envelope."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tests.gateway.helpers import API_KEY, BULK, SEND, Client, FakeAdapter, make_client, make_config, total_sent

JSON = {"Content-Type": "application/json"}
SEND_URL = "/api/v1/messages/send"
BULK_URL = "/api/v1/messages/bulk"


def raw(content: bytes, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {"content": content, "headers": {**JSON, **(headers or {})}}


def body(data: Any) -> dict[str, Any]:
    return raw(json.dumps(data).encode())


def big(data: Callable[[], Any]) -> Callable[[], dict[str, Any]]:
    """A body of megabytes, built when its test runs: built at import, it would cost every xdist
    worker ~0.03 s of CPU while collecting, and its memory until the end."""
    return lambda: body(data())


# (id, url, request kwargs, status, code, field or None)
CASES: list[tuple[str, str, dict[str, Any] | Callable[[], dict[str, Any]], int, str, str | None]] = [
    ("malformed json", SEND_URL, raw(b'{"to": "+12025550143",'), 400, "invalid_json", None),
    ("empty body", SEND_URL, raw(b""), 400, "invalid_json", None),
    ("whitespace body", SEND_URL, raw(b"  \n"), 400, "invalid_json", None),
    ("json array", SEND_URL, body([SEND]), 400, "invalid_json", None),
    ("json string", SEND_URL, body("hello"), 400, "invalid_json", None),
    ("NaN constant", SEND_URL, raw(b'{"to": NaN}'), 400, "invalid_json", None),
    ("duplicate key", SEND_URL, raw(b'{"to": "+12025550143", "to": "+4748640969"}'), 400, "invalid_json", None),
    (
        "invalid utf-8",
        SEND_URL,
        raw(b'{"to": "+12025550143", "from": "LynSMS", "body": "caf\xe9"}'),
        400,
        "invalid_json",
        None,
    ),
    ("utf-16 body", SEND_URL, raw(json.dumps(SEND).encode("utf-16")), 400, "invalid_json", None),
    (
        "lone surrogate",
        SEND_URL,
        raw(b'{"to": "+12025550143", "from": "LynSMS", "body": "\\ud83d"}'),
        422,
        "validation_error",
        "body",
    ),
    (
        "lone surrogate field name",
        SEND_URL,
        raw(b'{"to": "+12025550143", "from": "LynSMS", "body": "hi", "\\ud800": 1}'),
        400,
        "invalid_json",
        None,
    ),
    ("missing to", SEND_URL, body({k: v for k, v in SEND.items() if k != "to"}), 422, "validation_error", "to"),
    ("missing from", SEND_URL, body({k: v for k, v in SEND.items() if k != "from"}), 422, "validation_error", "from"),
    ("missing body", SEND_URL, body({k: v for k, v in SEND.items() if k != "body"}), 422, "validation_error", "body"),
    ("empty object", SEND_URL, body({}), 422, "validation_error", "to"),
    ("null to", SEND_URL, body({**SEND, "to": None}), 422, "validation_error", "to"),
    ("null body", SEND_URL, body({**SEND, "body": None}), 422, "validation_error", "body"),
    ("number to", SEND_URL, body({**SEND, "to": 12025550143}), 422, "validation_error", "to"),
    ("list body", SEND_URL, body({**SEND, "body": ["hi"]}), 422, "validation_error", "body"),
    ("bool from", SEND_URL, body({**SEND, "from": True}), 422, "validation_error", "from"),
    ("local format to", SEND_URL, body({**SEND, "to": "2025550143"}), 422, "validation_error", "to"),
    ("national uk to", SEND_URL, body({**SEND, "to": "07700900100"}), 422, "validation_error", "to"),
    ("spaces in to", SEND_URL, body({**SEND, "to": "+1 202 555 0143"}), 422, "validation_error", "to"),
    ("too short to", SEND_URL, body({**SEND, "to": "+1202"}), 422, "validation_error", "to"),
    ("unknown country code", SEND_URL, body({**SEND, "to": "+99912345678"}), 422, "validation_error", "to"),
    ("empty body text", SEND_URL, body({**SEND, "body": ""}), 422, "validation_error", "body"),
    ("1601 characters", SEND_URL, body({**SEND, "body": "a" * 1601}), 422, "validation_error", "body"),
    ("1601 emoji", SEND_URL, body({**SEND, "body": "😀" * 1601}), 422, "validation_error", "body"),
    # Validation agrees with the providers: Twilio counts UTF-16 units (an emoji is 2), Sinch too,
    # Infobip counts bytes and parts, ClickSend parts; 1,600 emoji fit none of them.
    ("1600 emoji", SEND_URL, body({**SEND, "body": "😀" * 1600}), 422, "validation_error", "body"),
    ("bulk 1600 emoji", BULK_URL, body({**BULK, "body": "😀" * 1600}), 422, "validation_error", "body"),
    (
        "9 parts for clicksend",
        SEND_URL,
        body({**SEND, "body": "a" * 1300, "provider": "clicksend"}),
        422,
        "validation_error",
        "body",
    ),
    ("12 char sender", SEND_URL, body({**SEND, "from": "LynSMSLynSMS"}), 422, "validation_error", "from"),
    ("symbol sender", SEND_URL, body({**SEND, "from": "Lyn-SMS!"}), 422, "validation_error", "from"),
    ("empty sender", SEND_URL, body({**SEND, "from": ""}), 422, "validation_error", "from"),
    ("16 digit sender", SEND_URL, body({**SEND, "from": "1234567890123456"}), 422, "validation_error", "from"),
    ("string route_id", SEND_URL, body({**SEND, "route_id": "1"}), 422, "validation_error", "route_id"),
    ("float route_id", SEND_URL, body({**SEND, "route_id": 1.0}), 422, "validation_error", "route_id"),
    ("bool route_id", SEND_URL, body({**SEND, "route_id": True}), 422, "validation_error", "route_id"),
    ("unknown route_id", SEND_URL, body({**SEND, "route_id": 99}), 422, "validation_error", "route_id"),
    ("unknown provider", SEND_URL, body({**SEND, "provider": "nexmo"}), 422, "validation_error", "provider"),
    ("uppercase provider", SEND_URL, body({**SEND, "provider": "Twilio"}), 422, "validation_error", "provider"),
    ("number reference", SEND_URL, body({**SEND, "reference": 42}), 422, "validation_error", "reference"),
    ("long reference", SEND_URL, body({**SEND, "reference": "r" * 129}), 422, "validation_error", "reference"),
    ("unknown field", SEND_URL, body({**SEND, "recipient": "+12025550143"}), 422, "validation_error", "recipient"),
    ("5 MiB payload", SEND_URL, big(lambda: {**SEND, "body": "a" * (5 * 1024 * 1024)}), 413, "payload_too_large", None),
    (
        "text/plain",
        SEND_URL,
        {"content": json.dumps(SEND).encode(), "headers": {"Content-Type": "text/plain"}},
        415,
        "unsupported_media_type",
        None,
    ),
    ("form encoded", SEND_URL, {"data": SEND}, 415, "unsupported_media_type", None),
    (
        "no content type",
        SEND_URL,
        {"content": json.dumps(SEND).encode(), "headers": {"Content-Type": ""}},
        415,
        "unsupported_media_type",
        None,
    ),
    (
        "latin-1 charset",
        SEND_URL,
        raw(json.dumps(SEND).encode(), {"Content-Type": "application/json; charset=latin-1"}),
        415,
        "unsupported_media_type",
        None,
    ),
    ("missing key", SEND_URL, {**body(SEND), "headers": {**JSON, "Authorization": ""}}, 401, "unauthorized", None),
    (
        "wrong key",
        SEND_URL,
        {**body(SEND), "headers": {**JSON, "Authorization": "Bearer nope"}},
        401,
        "invalid_api_key",
        None,
    ),
    (
        "key without scheme",
        SEND_URL,
        {**body(SEND), "headers": {**JSON, "Authorization": API_KEY}},
        401,
        "unauthorized",
        None,
    ),
    (
        "bad idempotency key",
        SEND_URL,
        {**body(SEND), "headers": {**JSON, "Idempotency-Key": "x" * 256}},
        400,
        "invalid_idempotency_key",
        None,
    ),
    (
        "bulk 1001 recipients",
        BULK_URL,
        body({**BULK, "recipients": ["+12025550143"] * 1001}),
        422,
        "validation_error",
        "recipients",
    ),
    ("bulk empty recipients", BULK_URL, body({**BULK, "recipients": []}), 422, "validation_error", "recipients"),
    (
        "bulk recipients string",
        BULK_URL,
        body({**BULK, "recipients": "+12025550143"}),
        422,
        "validation_error",
        "recipients",
    ),
    ("bulk null recipients", BULK_URL, body({**BULK, "recipients": None}), 422, "validation_error", "recipients"),
    (
        "bulk number recipient",
        BULK_URL,
        body({**BULK, "recipients": ["+12025550143", 4748640969]}),
        422,
        "validation_error",
        "recipients[1]",
    ),
    ("bulk null recipient", BULK_URL, body({**BULK, "recipients": [None]}), 422, "validation_error", "recipients[0]"),
    ("bulk with to", BULK_URL, body({**BULK, "to": "+12025550143"}), 422, "validation_error", "to"),
    ("bulk 1601 characters", BULK_URL, body({**BULK, "body": "b" * 1601}), 422, "validation_error", "body"),
    ("bulk malformed json", BULK_URL, raw(b"{recipients: []}"), 400, "invalid_json", None),
    (
        "bulk 5 MiB payload",
        BULK_URL,
        big(lambda: {**BULK, "recipients": ["+12025550143"] * 400_000}),
        413,
        "payload_too_large",
        None,
    ),
]


@pytest.mark.parametrize(
    ("url", "kwargs", "status", "code", "field"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_request_is_a_4xx_envelope_and_nothing_is_stored_or_sent(
    client: Client,
    fakes: dict[str, FakeAdapter],
    url: str,
    kwargs: dict[str, Any] | Callable[[], dict[str, Any]],
    status: int,
    code: str,
    field: str | None,
) -> None:
    response = client.post(url, **(kwargs() if callable(kwargs) else kwargs))
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    envelope = response.json()
    assert envelope["success"] is False and envelope["meta"]["request_id"].startswith("req_")
    assert envelope["error"]["code"] == code
    if field is not None:
        assert envelope["error"]["field"] == field
        assert field.split("[")[0] in envelope["error"]["message"]
    assert total_sent(fakes) == 0
    assert client.get("/api/v1/messages").json()["data"]["messages"] == []
    assert client.app.state.gateway.store.page(limit=1) == ([], None)


def test_lying_content_length_cannot_smuggle_a_large_body(client: Client, fakes: dict[str, FakeAdapter]) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(6):
            yield b" " * (1024 * 1024)

    response = client.post(SEND_URL, content=chunks(), headers=JSON)
    assert response.status_code == 413
    assert total_sent(fakes) == 0


def test_exactly_1600_characters_is_accepted(client: Client) -> None:
    response = client.post(SEND_URL, json={**SEND, "body": "a" * 1600})
    assert response.status_code == 201
    assert response.json()["data"]["segments"] == 11


def test_null_optional_fields_mean_not_given(client: Client) -> None:
    response = client.post(SEND_URL, json={**SEND, "route_id": None, "provider": None, "reference": None})
    assert response.status_code == 201
    assert response.json()["data"]["reference"] is None


@pytest.mark.parametrize(
    "sender", ["LynSMS", "A", "Lyn SMS 24", "ABCDEFGHIJK", "12345", "+447700900100", "447700900100123"]
)
def test_accepted_sender_ids(client: Client, sender: str) -> None:
    assert client.post(SEND_URL, json={**SEND, "from": sender}).status_code == 201


@pytest.mark.parametrize("to", ["+12025550143", "+447700900100", "+4748640969", "+12125550199", "+441632960123"])
def test_every_spec_number_and_reserved_fiction_number_passes(client: Client, to: str) -> None:
    assert client.post(SEND_URL, json={**SEND, "to": to}).status_code == 201


def test_oversized_headers_are_431_in_the_envelope(client: Client, fakes: dict[str, FakeAdapter]) -> None:
    response = client.post(SEND_URL, json=SEND, headers={"Idempotency-Key": "k" * 64 * 1024})
    assert response.status_code == 431
    assert response.json()["error"]["code"] == "request_header_fields_too_large"
    assert total_sent(fakes) == 0


def test_a_body_no_provider_takes_names_each_providers_limit(client: Client) -> None:
    response = client.post(SEND_URL, json={**SEND, "body": "😀" * 1600})
    message = response.json()["error"]["message"]
    assert "twilio: 3200 UTF-16 code units, over its 1600" in message
    assert "sinch: 3200 UTF-16 code units, over its 2000" in message
    assert "infobip: 6400 UTF-8 bytes, over its 4000" in message
    assert "clicksend: 49 SMS parts, over its 8" in message


def test_routing_skips_a_provider_that_would_truncate_the_body(fakes: dict[str, FakeAdapter]) -> None:
    config = make_config(default_chain=["clicksend", "twilio"])
    with make_client(config, fakes) as client:
        long = client.post(SEND_URL, json={**SEND, "body": "a" * 1300})  # 9 parts: ClickSend keeps 8
        short = client.post(SEND_URL, json={**SEND, "body": "a" * 1200})
    assert long.status_code == 201 and long.json()["data"]["provider"] == "twilio"
    assert short.status_code == 201 and short.json()["data"]["provider"] == "clicksend"
    assert len(fakes["clicksend"].sent) == 1


@pytest.mark.parametrize(
    ("provider", "content"),
    [
        ("infobip", b'{"results": [{"messageId": "\\ud800", "status": {"groupName": "DELIVERED"}}]}'),
        ("sinch", b'{"type": "recipient_delivery_report_sms", "batch_id": "\\udfff", "recipient": "+12025550143"}'),
        ("clicksend", b'{"message_id": "\\ud800", "status_code": "201", "status": "Delivered"}'),
        ("infobip", b"[" * 100_000 + b"]" * 100_000),
    ],
    ids=["infobip surrogate", "sinch surrogate", "clicksend surrogate", "nested 100k deep"],
)
def test_a_provider_report_no_parser_accepts_is_invalid_report(client: Client, provider: str, content: bytes) -> None:
    token = client.app.state.tracking.callbacks.token(provider)
    response = client.post(f"/api/v1/webhooks/{provider}?token={token}", **raw(content, {"Authorization": ""}))
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_report"
    assert client.get("/api/v1/messages").status_code == 200


@pytest.mark.parametrize(
    ("provider", "content", "media"),
    [
        ("clicksend", b"message_id=1&status_code=201&timestamp=99999999999999999999", "form"),
        ("infobip", b'{"results": [{"messageId": "1", "doneAt": "0001-01-01T00:00:00+05:00", "status": {}}]}', "json"),
    ],
    ids=["clicksend unix time past datetime", "infobip time before year 1 in UTC"],
)
def test_a_report_time_no_datetime_holds_is_not_a_500(
    client: Client, provider: str, content: bytes, media: str
) -> None:
    kind = "application/x-www-form-urlencoded" if media == "form" else "application/json"
    token = client.app.state.tracking.callbacks.token(provider)
    response = client.post(
        f"/api/v1/webhooks/{provider}?token={token}",
        content=content,
        headers={"Content-Type": kind, "Authorization": ""},
    )
    assert response.status_code < 500, response.text
