"""Each adapter against the real simulator on a real uvicorn server, over TCP.

What the unit tests assert with hand-written answers, here the simulator answers: its providers'
wire formats, validation, scripted rejections and faults must all land on the adapter's shared
reasons, and what the adapter sent must be what the simulator stored.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
import pytest

from lynsms.gateway.providers import registry
from lynsms.gateway.providers.base import Accepted, Failed, Outbound, ProviderSettings, SendResult
from lynsms.gateway.providers.clicksend import ClickSendAdapter
from lynsms.gateway.providers.names import PROVIDER_NAMES as PROVIDERS
from lynsms.gateway.providers.registry import build_adapter
from lynsms.gateway.providers.sinch import recipient_message_id
from lynsms.tls import client_tls
from tests.gateway.adapter_mocks import outbound as mock_outbound

if TYPE_CHECKING:
    from tests.conftest import RunningSimulator

T = TypeVar("T")
CLICKSEND_CREDENTIALS = registry.provider("clicksend").default_credentials
CALLBACK = "http://127.0.0.1:9/api/v1/webhooks/"  # nothing listens: callbacks fail quietly
every_provider = pytest.mark.parametrize("name", PROVIDERS)


def outbound(n: int, name: str, **overrides: Any) -> Outbound:
    return mock_outbound(n, **{"status_callback_url": CALLBACK + name, **overrides})


def run(
    simulator: RunningSimulator,
    name: str,
    action: Callable[[Any], Awaitable[T]],
    credentials: dict[str, str] | None = None,
    timeout: float = 5.0,
) -> T:
    spec = registry.provider(name)
    # What a gateway on the built-in credentials runs with: its own value of each generated one.
    built_in = {**spec.default_credentials, **dict.fromkeys(spec.generated_credentials, "installation-secret")}
    settings = ProviderSettings(name, simulator.url, credentials or built_in, timeout, 1000)

    async def main() -> T:
        # httpx's own TCP transport: the adapters are not tied to the gateway's Http11Transport.
        async with httpx.AsyncHTTPTransport(verify=client_tls()) as transport:
            return await action(build_adapter(settings, transport))

    return asyncio.run(main())


def send_one(simulator: RunningSimulator, name: str, message: Outbound | None = None, **kwargs: Any) -> SendResult:
    async def action(adapter: Any) -> SendResult:
        result: SendResult = await adapter.send(message or outbound(1, name))
        return result

    return run(simulator, name, action, **kwargs)


def send_many(simulator: RunningSimulator, name: str, messages: list[Outbound]) -> list[SendResult]:
    async def action(adapter: Any) -> list[SendResult]:
        return list(await adapter.send_many(messages))

    return run(simulator, name, action)


def script(simulator: RunningSimulator, name: str, *rules: dict[str, Any]) -> None:
    scenario = {"name": "adapter-test", "providers": {name: list(rules)}}
    simulator.control.put("/_sim/scenario", json=scenario).raise_for_status()


def provider_id(name: str, stored: dict[str, Any]) -> str:
    """The id the adapter should have reported for a message the simulator stored."""
    return recipient_message_id(stored["batch_id"], stored["to"]) if name == "sinch" else str(stored["id"])


def requests(simulator: RunningSimulator) -> list[dict[str, Any]]:
    """What the adapter asked of the simulator. The simulator's own status callbacks (to ``CALLBACK``)
    are journaled too, whenever a report falls due: on a loaded machine that can be mid-test."""
    return [e for e in simulator.journal() if e["method"] != "CALLBACK"]


def reasons(results: list[SendResult]) -> list[str]:
    return [r.reason if isinstance(r, Failed) else "accepted" for r in results]


@every_provider
def test_one_message_is_accepted_and_stored_as_sent(simulator: RunningSimulator, name: str) -> None:
    result = send_one(simulator, name)
    (stored,) = simulator.messages(provider=name)
    assert isinstance(result, Accepted)
    assert result.provider_message_id == provider_id(name, stored)
    assert stored["to"].lstrip("+") == "12025550001"
    assert (stored["from"], stored["body"]) == ("LynSMS", "Your code is 482194")
    if name != "clicksend":  # ClickSend receipts go to the account's registered URL instead
        assert stored["callback_url"] == CALLBACK + name


@every_provider
def test_send_many_stores_every_recipient_in_order(simulator: RunningSimulator, name: str) -> None:
    results = send_many(simulator, name, [outbound(n, name) for n in range(5)])
    stored = {m["to"].lstrip("+"): m for m in simulator.messages(provider=name)}
    assert all(isinstance(r, Accepted) for r in results)
    assert [r.provider_message_id for r in results if isinstance(r, Accepted)] == [
        provider_id(name, stored[f"1202555{n:04d}"]) for n in range(5)
    ]
    sends = [e for e in requests(simulator) if e["provider"] == name]
    assert len(sends) == (5 if name == "twilio" else 1)  # Twilio has no multi-recipient send


@every_provider
def test_unicode_bodies_arrive_intact(simulator: RunningSimulator, name: str) -> None:
    body = "Привет 👋 — ünïcode & = + ✓"
    assert isinstance(send_one(simulator, name, outbound(1, name, body=body)), Accepted)
    assert simulator.messages(provider=name)[0]["body"] == body


@every_provider
@pytest.mark.parametrize(
    "reason", ["invalid_number", "unsubscribed", "insufficient_funds", "invalid_sender", "body_too_long", "auth_failed"]
)
def test_every_scripted_rejection_is_a_hard_failure_with_its_reason(
    simulator: RunningSimulator, name: str, reason: str
) -> None:
    script(simulator, name, {"reject": reason})
    result = send_one(simulator, name)
    assert isinstance(result, Failed)
    assert (result.kind, result.reason) == ("hard", reason)
    assert simulator.messages(provider=name) == []


@every_provider
def test_a_scripted_429_is_rate_limited_with_retry_after(simulator: RunningSimulator, name: str) -> None:
    script(simulator, name, {"http_error": {"status": 429, "retry_after": 2}})
    result = send_one(simulator, name)
    assert isinstance(result, Failed)
    assert (result.kind, result.reason, result.http_status, result.retry_after) == (
        "retryable",
        "rate_limited",
        429,
        2.0,
    )


@every_provider
@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_scripted_5xx_is_a_retryable_server_error(simulator: RunningSimulator, name: str, status: int) -> None:
    script(simulator, name, {"http_error": status})
    result = send_one(simulator, name)
    assert isinstance(result, Failed) and (result.kind, result.reason, result.http_status) == (
        "retryable",
        "server_error",
        status,
    )


@every_provider
@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("connection_reset", "connection_error"),
        ("empty_reply", "connection_error"),
        ("malformed_body", "malformed_response"),
    ],
)
def test_network_faults_are_retryable(simulator: RunningSimulator, name: str, fault: str, reason: str) -> None:
    script(simulator, name, {"fault": fault})
    results = send_many(simulator, name, [outbound(n, name) for n in range(2)])
    assert [(r.kind, r.reason) for r in results if isinstance(r, Failed)] == [("retryable", reason)] * 2


@every_provider
def test_a_provider_that_never_answers_times_out(simulator: RunningSimulator, name: str) -> None:
    # A real read timeout on the plain transport, as short as proves it: the simulator holds 3 s.
    script(simulator, name, {"fault": {"kind": "timeout", "seconds": 3}})
    result = send_one(simulator, name, timeout=0.1)
    assert isinstance(result, Failed) and (result.kind, result.reason) == ("retryable", "timeout")


@every_provider
def test_a_number_the_provider_cannot_parse_is_an_invalid_number(simulator: RunningSimulator, name: str) -> None:
    result = send_one(simulator, name, outbound(1, name, to="+1999"))
    assert isinstance(result, Failed) and (result.kind, result.reason) == ("hard", "invalid_number")


@every_provider
def test_one_invalid_number_in_a_bulk_fails_alone(simulator: RunningSimulator, name: str) -> None:
    messages = [outbound(n, name) for n in range(6)]
    messages[3] = outbound(3, name, to="+1999")
    results = send_many(simulator, name, messages)
    assert reasons(results) == ["accepted"] * 3 + ["invalid_number"] + ["accepted"] * 2
    assert len(simulator.messages(provider=name)) == 5


@pytest.mark.parametrize(("name", "length"), [("twilio", 1601), ("sinch", 2001)])
def test_a_body_over_the_provider_limit_is_body_too_long(simulator: RunningSimulator, name: str, length: int) -> None:
    result = send_one(simulator, name, outbound(1, name, body="x" * length))
    assert isinstance(result, Failed) and (result.kind, result.reason) == ("hard", "body_too_long")


def test_infobip_rejects_a_body_over_its_limit_per_destination(simulator: RunningSimulator) -> None:
    result = send_one(simulator, "infobip", outbound(1, "infobip", body="€" * 1500))
    assert isinstance(result, Failed)
    assert (result.kind, result.reason, result.provider_code) == ("hard", "body_too_long", "REJECTED_MESSAGE_TOO_LONG")


@pytest.mark.parametrize("name", ["twilio", "sinch"])
def test_a_sender_the_provider_refuses_is_an_invalid_sender(simulator: RunningSimulator, name: str) -> None:
    result = send_one(simulator, name, outbound(1, name, sender="not a sender!"))
    assert isinstance(result, Failed) and (result.kind, result.reason) == ("hard", "invalid_sender")


def test_sinch_project_mode_fetches_a_token_and_sends_with_it(simulator: RunningSimulator) -> None:
    credentials = {"project_id": "proj-lynsms", "key_id": "key-id", "key_secret": "key-secret"}

    async def twice(adapter: Any) -> list[SendResult]:
        return [await adapter.send(outbound(1, "sinch")), await adapter.send(outbound(2, "sinch"))]

    results = run(simulator, "sinch", twice, credentials=credentials)
    assert all(isinstance(r, Accepted) for r in results)
    paths = [e["path"] for e in requests(simulator)]
    assert paths == ["/oauth2/token", "/xms/v1/proj-lynsms/batches", "/xms/v1/proj-lynsms/batches"]


def test_clicksend_registers_its_receipt_url_once(simulator: RunningSimulator) -> None:
    url = "http://127.0.0.1:9/api/v1/webhooks/clicksend"

    async def register_twice(adapter: Any) -> list[Failed | None]:
        assert isinstance(adapter, ClickSendAdapter)
        return [await adapter.register_report_url(url), await adapter.register_report_url(url)]

    assert run(simulator, "clicksend", register_twice) == [None, None]
    creations = [e for e in requests(simulator) if e["method"] == "POST"]
    assert [e["path"] for e in creations] == ["/v3/automations/sms/receipts"]
    auth = httpx.BasicAuth(CLICKSEND_CREDENTIALS["username"], CLICKSEND_CREDENTIALS["api_key"])
    rules = simulator.control.get("/v3/automations/sms/receipts", auth=auth).json()["data"]["data"]
    assert [(r["action"], r["action_address"], r["enabled"]) for r in rules] == [("URL", url, 1)]


@every_provider
def test_find_tells_a_message_the_provider_took_from_one_it_never_saw(simulator: RunningSimulator, name: str) -> None:
    # Reconciliation after a crash: the gateway asks the provider about messages whose answer it
    # never got. Two went out in one request; a third (same request shape) never did.
    taken = [outbound(1, name), outbound(2, name)]
    never = outbound(3, name)

    async def action(adapter: Any) -> tuple[list[SendResult], Any]:
        since = datetime.now(UTC)
        sent = list(await adapter.send_many(taken))
        return sent, await adapter.find([*taken, never], since)

    sent, found = run(simulator, name, action)
    assert all(isinstance(result, Accepted) for result in sent)
    assert found == [[result.provider_message_id] for result in sent if isinstance(result, Accepted)] + [[]]
