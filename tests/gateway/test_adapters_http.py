"""The mechanics every adapter shares (gateway/providers/http.py), checked through all four."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from lynsms.gateway.providers.base import Failed, FailureKind, ProviderSettings
from lynsms.gateway.providers.http import retry_after
from lynsms.gateway.providers.names import PROVIDER_NAMES as PROVIDERS
from lynsms.gateway.providers.registry import build_adapter, provider
from tests.gateway.adapter_mocks import drive, many, raises, reply, send

every_provider = pytest.mark.parametrize("name", PROVIDERS)


def failures(name: str, answer: Any, count: int = 2) -> list[tuple[FailureKind, str, int | None]]:
    sent = send(name, answer, many(count))
    assert all(isinstance(r, Failed) for r in sent.results), sent.results
    return [(r.kind, r.reason, r.http_status) for r in sent.results if isinstance(r, Failed)]


@every_provider
@pytest.mark.parametrize(
    "exc",
    [
        httpx.ReadTimeout("timed out"),
        httpx.ConnectTimeout(""),
        httpx.WriteTimeout("slow"),
        httpx.PoolTimeout("busy"),
    ],
)
def test_a_timeout_is_retryable(name: str, exc: Exception) -> None:
    assert failures(name, raises(exc)) == [("retryable", "timeout", None)] * 2


@every_provider
@pytest.mark.parametrize(
    "exc",
    [
        httpx.ConnectError("connection refused"),
        httpx.ReadError("connection reset by peer"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.WriteError("broken pipe"),
    ],
)
def test_a_connection_failure_is_retryable(name: str, exc: Exception) -> None:
    assert failures(name, raises(exc)) == [("retryable", "connection_error", None)] * 2


@every_provider
def test_a_bare_httpx_error_keeps_its_type_in_the_message(name: str) -> None:
    result = send(name, raises(httpx.ReadTimeout(""))).result
    assert isinstance(result, Failed) and "ReadTimeout" in result.message


@every_provider
@pytest.mark.parametrize("status", [200, 201])
@pytest.mark.parametrize("content", [b"", b"<html>ok</html>", b"{not json", b"\xff\xfe"])
def test_a_2xx_that_is_not_json_is_a_retryable_malformed_response(name: str, status: int, content: bytes) -> None:
    assert failures(name, reply(status, content=content)) == [("retryable", "malformed_response", status)] * 2


@every_provider
@pytest.mark.parametrize("body", [None, [], "queued", {"unexpected": True}])
def test_a_2xx_of_the_wrong_shape_is_a_retryable_malformed_response(name: str, body: Any) -> None:
    assert failures(name, reply(200, body)) == [("retryable", "malformed_response", 200)] * 2


@every_provider
def test_a_redirect_is_not_followed_and_is_retryable(name: str) -> None:
    answer = reply(301, content=b"", headers={"Location": "https://elsewhere.test/"})
    assert failures(name, answer) == [("retryable", "malformed_response", 301)] * 2


@every_provider
@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_5xx_with_an_html_body_is_a_retryable_server_error(name: str, status: int) -> None:
    assert (
        failures(name, reply(status, content=b"<html>Bad Gateway</html>"))
        == [("retryable", "server_error", status)] * 2
    )


@every_provider
def test_a_429_without_a_known_body_is_rate_limited_with_retry_after(name: str) -> None:
    result = send(name, reply(429, content=b"slow down", headers={"Retry-After": "12"})).result
    assert isinstance(result, Failed)
    assert (result.kind, result.reason, result.retry_after, result.message) == (
        "retryable",
        "rate_limited",
        12.0,
        "HTTP 429: slow down",
    )


@every_provider
def test_a_503_passes_on_retry_after(name: str) -> None:
    result = send(name, reply(503, content=b"", headers={"Retry-After": "5"})).result
    assert (
        isinstance(result, Failed) and result.retry_after == 5.0 and result.message == "HTTP 503: Service Unavailable"
    )


@every_provider
def test_a_408_is_a_retryable_timeout(name: str) -> None:
    assert failures(name, reply(408, content=b"")) == [("retryable", "timeout", 408)] * 2


@every_provider
@pytest.mark.parametrize(
    ("status", "reason"), [(401, "auth_failed"), (403, "auth_failed"), (404, "rejected"), (418, "rejected")]
)
def test_an_unknown_4xx_is_hard(name: str, status: int, reason: str) -> None:
    assert failures(name, reply(status, content=b"?")) == [("hard", reason, status)] * 2


@every_provider
def test_retry_after_is_never_given_on_a_hard_failure(name: str) -> None:
    result = send(name, reply(401, content=b"", headers={"Retry-After": "5"})).result
    assert isinstance(result, Failed) and result.retry_after is None


@every_provider
def test_send_many_of_nothing_sends_nothing(name: str) -> None:
    sent = send(name, raises(AssertionError("no request expected")), [])
    assert sent.results == [] and sent.requests == []


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert retry_after("7") == 7.0
    assert retry_after("0.5") == 0.5
    assert retry_after("-3") == 0.0
    assert retry_after(None) is None and retry_after("") is None and retry_after("soon") is None
    later = retry_after(format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True))
    assert later is not None and 25 < later <= 30
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


# ---- the registry ------------------------------------------------------------------------------


def test_a_request_carries_one_recipient_for_twilio_and_a_thousand_for_the_others() -> None:
    assert {name: provider(name).max_batch for name in PROVIDERS} == {
        "twilio": 1,
        "sinch": 1000,
        "infobip": 1000,
        "clicksend": 1000,
    }


@every_provider
def test_build_adapter_caps_max_batch_at_what_the_provider_takes(name: str) -> None:
    async def batch_size(adapter: Any) -> int:
        return int(adapter.max_batch)

    assert drive(name, reply(200, {}), batch_size, max_batch=5000)[0] == provider(name).max_batch
    assert drive(name, reply(200, {}), batch_size, max_batch=0)[0] == 1
    assert drive(name, reply(200, {}), batch_size, max_batch=1)[0] == 1


def _unused(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"no request expected, got {request.method} {request.url}")


def test_build_adapter_refuses_an_unknown_provider() -> None:
    with pytest.raises(ValueError, match="unknown provider 'nexmo'"):
        build_adapter(ProviderSettings(name="nexmo", base_url="https://x.test"), httpx.MockTransport(_unused))


@every_provider
def test_build_adapter_refuses_missing_credentials(name: str) -> None:
    with pytest.raises(ValueError, match=f"{name}: credentials need"):
        build_adapter(
            ProviderSettings(name=name, base_url="https://x.test", credentials={}), httpx.MockTransport(_unused)
        )


@every_provider
def test_every_request_carries_the_providers_timeout_and_names_the_gateway(name: str) -> None:
    sent = send(name, reply(503, {}))  # Sinch also fetches a token first: both requests count
    assert sent.requests
    for request in sent.requests:
        assert request.extensions["timeout"] == dict.fromkeys(("connect", "read", "write", "pool"), 10.0)
        assert request.headers["User-Agent"].startswith("LynSMS-Gateway/")
        assert request.headers["Accept"] == "application/json"


@every_provider
def test_each_adapter_is_named_after_its_provider(name: str) -> None:
    async def adapter_name(adapter: Any) -> str:
        return str(adapter.name)

    assert drive(name, reply(200, {}), adapter_name)[0] == name
