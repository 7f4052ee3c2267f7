"""Gateway test helpers: an app with scripted fake provider adapters, reached in-process.

The fakes implement the ``ProviderAdapter`` protocol and record every request, so tests can
assert exactly what was (or was not) sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx
from starlette.applications import Starlette

from lynsms.clock import SYSTEM_CLOCK, Clock
from lynsms.gateway import create_app
from lynsms.gateway.config import GatewayConfig, parse_config
from lynsms.gateway.models import Message, now_iso
from lynsms.gateway.providers.base import Accepted, Failed, FailureKind, Outbound, SendResult
from lynsms.gateway.providers.reports import Report
from lynsms.gateway.store import Completion, Store

API_KEY = "test-key-0123456789"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
Script = Callable[[Outbound], SendResult]


class FakeAdapter:
    """Answers from ``script`` (default: accept everything) and records each provider request."""

    def __init__(self, name: str, max_batch: int = 1, script: Script | None = None) -> None:
        self.name = name
        self.max_batch = max_batch
        self.script = script or self.accept
        self.requests: list[list[Outbound]] = []

    def accept(self, message: Outbound) -> SendResult:
        return Accepted(provider_message_id=f"{self.name}-{message.to}-{len(self.requests)}")

    @property
    def sent(self) -> list[Outbound]:
        return [message for request in self.requests for message in request]

    async def send(self, message: Outbound) -> SendResult:
        self.requests.append([message])
        return self.script(message)

    async def send_many(self, messages: Sequence[Outbound]) -> list[SendResult]:
        self.requests.append(list(messages))
        return [self.script(m) for m in messages]

    async def poll(self, provider_message_id: str) -> list[Report] | Failed | None:
        return None  # a fake provider keeps no reports

    async def register_report_url(self, url: str) -> Failed | None:
        return None

    async def find(self, messages: Sequence[Outbound], since: datetime) -> list[list[str]] | Failed | None:
        return None  # a fake provider keeps no record to look messages up in


def failing(
    kind: FailureKind, reason: str = "server_error", code: str | None = None, status: int | None = 503
) -> Script:
    def script(message: Outbound) -> SendResult:
        return Failed(kind=kind, reason=reason, message=f"scripted {reason}", provider_code=code, http_status=status)

    return script


def make_config(**overrides: Any) -> GatewayConfig:
    data: dict[str, Any] = {
        "api_keys": [{"key": API_KEY, "name": "test"}],
        "routes": {1: {"name": "europe", "chain": ["sinch", "infobip"]}},
        "providers": {
            "twilio": {"price": 0.05, "prices": {"GB": 0.04}},
            "sinch": {"price": 0.045},
            "infobip": {"price": 0.04},
            "clicksend": {"price": 0.06},
        },
        "public_url": "http://gateway.test",
    }
    data.update(overrides)
    return parse_config(data, "http://simulator.test")


def make_fakes() -> dict[str, FakeAdapter]:
    return {
        "twilio": FakeAdapter("twilio", max_batch=1),
        "sinch": FakeAdapter("sinch", max_batch=1000),
        "infobip": FakeAdapter("infobip", max_batch=1000),
        "clicksend": FakeAdapter("clicksend", max_batch=1000),
    }


class Client:
    """A synchronous in-process client that runs the app's lifespan, like a server would.

    (Starlette's TestClient warns about its httpx backend, and warnings are errors here.)
    """

    def __init__(self, app: Starlette, headers: dict[str, str] | None = None) -> None:
        self.app = app
        self.runner = asyncio.Runner()
        self.lifespan = app.router.lifespan_context(app)
        self.runner.run(self.lifespan.__aenter__())
        transport = httpx.ASGITransport(app=app)
        self.http = httpx.AsyncClient(transport=transport, base_url="http://testserver", headers=headers)

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.runner.run(self.http.request(method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def run(self, coro: Any) -> Any:
        return self.runner.run(coro)

    def close(self) -> None:
        self.runner.run(self.http.aclose())
        self.runner.run(self.lifespan.__aexit__(None, None, None))
        self.runner.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make_client(
    config: GatewayConfig, fakes: dict[str, FakeAdapter], db_path: str = ":memory:", **kwargs: Any
) -> Client:
    return Client(create_app(config, db_path, adapters=fakes, environ={}, **kwargs), headers=AUTH)


def total_sent(fakes: dict[str, FakeAdapter]) -> int:
    return sum(len(fake.sent) for fake in fakes.values())


SEND = {"to": "+12025550143", "from": "LynSMS", "body": "Your verification code is 482194", "reference": "signup-9214"}
BULK = {
    "from": "LynSMS",
    "recipients": ["+12025550143", "+447700900100", "+4748640969"],
    "body": "Tickets for tonight are still available — bit.ly/lens-friday",
}


def queued_message(message_id: str, clock: Clock = SYSTEM_CLOCK) -> Message:
    """A one-segment message as the gateway stores it before routing."""
    now = now_iso(clock)
    return Message(
        id=message_id,
        to="+12025550143",
        sender="LynSMS",
        body="hi",
        status="queued",
        segments=1,
        encoding="GSM-7",
        created_at=now,
        updated_at=now,
    )


def stored_sent_message(store: Store, provider: str = "twilio", pmid: str = "SM1", clock: Clock = SYSTEM_CLOCK) -> str:
    """A message stored as sent through ``provider`` under the provider id ``pmid``; its id."""
    message = queued_message("msg_" + pmid.replace(":", "").ljust(25, "0")[:25], clock)
    store.insert([message])
    store.complete(
        [Completion(message.id, (), status="sent", provider=provider, provider_message_id=pmid, cost=Decimal("0.05"))]
    )
    return message.id
