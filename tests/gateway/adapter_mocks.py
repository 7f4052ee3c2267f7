"""A scripted provider behind ``httpx.MockTransport`` for the adapter unit tests.

``drive(name, answer, action)`` builds the named adapter on a client whose transport records every
request and answers it with ``answer``, runs ``action(adapter)`` in a fresh event loop and returns
what it returned plus the recorded requests.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import httpx

from lynsms.gateway.providers.adapter import HttpAdapter
from lynsms.gateway.providers.base import Outbound, ProviderSettings, SendResult
from lynsms.gateway.providers.registry import build_adapter

T = TypeVar("T")
Answer = Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]

BASE = "https://provider.test"
CREDENTIALS: dict[str, dict[str, str]] = {
    "twilio": {"account_sid": "AC" + "a" * 32, "auth_token": "secret-token"},
    "sinch": {"service_plan_id": "plan123", "api_token": "sinch-token"},
    "infobip": {"api_key": "ib-key"},
    "clicksend": {"username": "alice", "api_key": "cs-key"},
}


def reply(
    status: int, body: Any = None, *, content: bytes | None = None, headers: dict[str, str] | None = None
) -> Answer:
    """Answer every request with a fresh response (a response object cannot be read twice)."""

    def answer(request: httpx.Request) -> httpx.Response:
        if content is not None:
            return httpx.Response(status, content=content, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    return answer


def raises(exc: Exception) -> Answer:
    def answer(request: httpx.Request) -> httpx.Response:
        raise exc

    return answer


def in_turn(*answers: Answer) -> Answer:
    """The first answer for the first request, the second for the second, and so on."""
    queue: Iterator[Answer] = iter(answers)

    def answer(request: httpx.Request) -> httpx.Response | Awaitable[httpx.Response]:
        return next(queue)(request)

    return answer


def outbound(n: int = 0, **overrides: Any) -> Outbound:
    values: dict[str, Any] = {
        "message_id": f"msg_{n:025d}",
        "to": f"+1202555{n:04d}",
        "sender": "LynSMS",
        "body": "Your code is 482194",
        "reference": "ref-1",
        "status_callback_url": "https://gw.test/api/v1/webhooks/x",
    }
    values.update(overrides)
    return Outbound(**values)


def many(count: int, **overrides: Any) -> list[Outbound]:
    return [outbound(n, **overrides) for n in range(count)]


def settings(name: str, credentials: dict[str, str] | None = None, max_batch: int = 1000) -> ProviderSettings:
    return ProviderSettings(
        name=name, base_url=BASE + "/", credentials=credentials or CREDENTIALS[name], max_batch=max_batch
    )


def drive(
    name: str,
    answer: Answer,
    action: Callable[[Any], Awaitable[T]],
    credentials: dict[str, str] | None = None,
    max_batch: int = 1000,
) -> tuple[T, list[httpx.Request]]:
    requests: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        await request.aread()
        requests.append(request)
        response = answer(request)
        return await response if isinstance(response, Awaitable) else response

    async def main() -> T:
        async with httpx.MockTransport(handler) as transport:
            adapter = build_adapter(settings(name, credentials, max_batch), transport)
            assert isinstance(adapter, HttpAdapter)
            return await action(adapter)

    return asyncio.run(main()), requests


@dataclass(frozen=True)
class Sent:
    results: list[SendResult]
    requests: list[httpx.Request]

    @property
    def result(self) -> SendResult:
        (only,) = self.results
        return only

    @property
    def request(self) -> httpx.Request:
        (only,) = self.requests
        return only


def send(
    name: str,
    answer: Answer,
    messages: Sequence[Outbound] | Outbound | None = None,
    credentials: dict[str, str] | None = None,
    max_batch: int = 1000,
) -> Sent:
    """``send`` for one message (the default: ``outbound()``), ``send_many`` for a sequence."""
    if messages is None or isinstance(messages, Outbound):
        one = messages or outbound()

        async def single(adapter: Any) -> list[SendResult]:
            return [await adapter.send(one)]

        results, requests = drive(name, answer, single, credentials, max_batch)
    else:
        batch = list(messages)

        async def several(adapter: Any) -> list[SendResult]:
            return list(await adapter.send_many(batch))

        results, requests = drive(name, answer, several, credentials, max_batch)
    return Sent(results, requests)


def body_json(request: httpx.Request) -> Any:
    return json.loads(request.content)


def body_form(request: httpx.Request) -> dict[str, str]:
    return dict(parse_qsl(request.content.decode(), keep_blank_values=True))


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
