"""The four providers as a scenario test sees them: how to send one message over raw HTTP, and where
each puts its code. Tests are parametrized over ``WIRES`` so every outcome runs through every provider."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

TO = "+12025550143"
SENDER = "+12025550100"
TWILIO_AC = "AC" + "1" * 32
TWILIO_OTHER_AC = "AC" + "2" * 32
TWILIO_TOKEN = "scenario-auth-token"


@dataclass(frozen=True)
class Wire:
    name: str
    account: str  # the credential a send is made under, as the engine sees it
    other: str  # a second credential, for isolation tests
    success: int  # the provider's success status
    per_message_rejects: bool  # rejections ride inside the success response
    build: Callable[[str, str, str, str, str | None], tuple[str, dict[str, Any]]]
    code: Callable[[httpx.Response], str]
    message_id: Callable[[dict[str, Any]], str]

    def send(
        self,
        client: httpx.Client,
        url: str,
        to: str = TO,
        body: str = "Hello",
        account: str | None = None,
        callback: str | None = None,
        **options: Any,
    ) -> httpx.Response:
        path, request = self.build(url, account or self.account, to, body, callback)
        return client.post(path, **request, **options)

    def request(
        self, url: str, to: str = TO, body: str = "Hello", account: str | None = None
    ) -> tuple[str, dict[str, Any]]:
        return self.build(url, account or self.account, to, body, None)


def _twilio(url: str, account: str, to: str, body: str, callback: str | None) -> tuple[str, dict[str, Any]]:
    data = {"To": to, "From": SENDER, "Body": body}
    if callback:
        data["StatusCallback"] = callback
    return f"{url}/2010-04-01/Accounts/{account}/Messages.json", {"data": data, "auth": (account, TWILIO_TOKEN)}


def _sinch(url: str, account: str, to: str, body: str, callback: str | None) -> tuple[str, dict[str, Any]]:
    batch: dict[str, Any] = {"to": [to], "from": SENDER, "body": body}
    if callback:
        batch.update(callback_url=callback, delivery_report="per_recipient")
    headers = {"Authorization": "Bearer 0123456789abcdef0123456789abcdef"}
    return f"{url}/xms/v1/{account}/batches", {"json": batch, "headers": headers}


def _infobip(url: str, account: str, to: str, body: str, callback: str | None) -> tuple[str, dict[str, Any]]:
    message: dict[str, Any] = {"sender": "InfoSMS", "destinations": [{"to": to}], "content": {"text": body}}
    if callback:
        message["webhooks"] = {"delivery": {"url": callback}}
    return f"{url}/sms/3/messages", {"json": {"messages": [message]}, "headers": {"Authorization": f"App {account}"}}


def _clicksend(url: str, account: str, to: str, body: str, callback: str | None) -> tuple[str, dict[str, Any]]:
    message = {"to": to, "from": SENDER, "body": body, "source": "lynsms-tests"}
    return f"{url}/v3/sms/send", {"json": {"messages": [message]}, "auth": (account, "clicksend-api-key")}


def _infobip_code(response: httpx.Response) -> str:
    data = response.json()
    return str(data["messages"][0]["status"]["name"]) if response.status_code == 200 else str(data["errorCode"])


def _clicksend_code(response: httpx.Response) -> str:
    data = response.json()
    return str(data["data"]["messages"][0]["status"]) if response.status_code == 200 else str(data["response_code"])


WIRES: dict[str, Wire] = {
    "twilio": Wire(
        "twilio",
        TWILIO_AC,
        TWILIO_OTHER_AC,
        201,
        False,
        _twilio,
        lambda r: str(r.json()["code"]),
        lambda d: str(d["sid"]),
    ),
    "sinch": Wire(
        "sinch",
        "plan-scenario-a",
        "plan-scenario-b",
        201,
        False,
        _sinch,
        lambda r: str(r.json()["code"]),
        lambda d: str(d["id"]),
    ),
    "infobip": Wire(
        "infobip",
        "key-scenario-a",
        "key-scenario-b",
        200,
        True,
        _infobip,
        _infobip_code,
        lambda d: str(d["messages"][0]["messageId"]),
    ),
    "clicksend": Wire(
        "clicksend",
        "user-scenario-a",
        "user-scenario-b",
        200,
        True,
        _clicksend,
        _clicksend_code,
        lambda d: str(d["data"]["messages"][0]["message_id"]),
    ),
}

# (HTTP status, provider code) for each scripted rejection: docs/providers/*.md.
REJECTS: dict[str, dict[str, tuple[int, str]]] = {
    "twilio": {
        "invalid_number": (400, "21211"),
        "unsubscribed": (400, "21610"),
        "insufficient_funds": (401, "10001"),
        "invalid_sender": (400, "21606"),
        "body_too_long": (400, "21617"),
        "auth_failed": (401, "20003"),
    },
    "sinch": {
        "invalid_number": (400, "syntax_invalid_parameter_format"),
        "unsubscribed": (403, "illegal_number_type"),
        "insufficient_funds": (403, "blocked_account"),
        "invalid_sender": (400, "syntax_invalid_parameter_format"),
        "body_too_long": (400, "syntax_constraint_violation"),
        "auth_failed": (401, "unauthorized"),
    },
    "infobip": {
        "invalid_number": (200, "REJECTED_DESTINATION"),
        "unsubscribed": (200, "REJECTED_DND"),
        "insufficient_funds": (200, "REJECTED_NOT_ENOUGH_CREDITS"),
        "invalid_sender": (200, "REJECTED_SOURCE"),
        "body_too_long": (200, "REJECTED_MESSAGE_TOO_LONG"),
        "auth_failed": (401, "E401"),
    },
    "clicksend": {
        "invalid_number": (200, "INVALID_RECIPIENT"),
        "unsubscribed": (200, "BLOCKED"),
        "insufficient_funds": (200, "INSUFFICIENT_CREDIT"),
        "invalid_sender": (200, "INVALID_SENDER_ID"),
        "body_too_long": (200, "MESSAGE_TOO_LONG"),
        "auth_failed": (401, "UNAUTHORIZED"),
    },
}

# Provider code for scripted HTTP trouble.
HTTP_ERRORS: dict[str, dict[int, str]] = {
    "twilio": {429: "20429", 500: "20500", 503: "20503"},
    "sinch": {
        429: "too_many_requests",
        500: "internal_server_error",
        503: "service_unavailable",
    },  # docs say internal_error
    "infobip": {429: "E429", 500: "E500", 503: "E503"},
    "clicksend": {429: "TOO_MANY_REQUESTS", 500: "INTERNAL_SERVER_ERROR", 503: "SERVICE_UNAVAILABLE"},
}


def load(client: httpx.Client, url: str, scenario: dict[str, Any] | str, account: str | None = None) -> dict[str, Any]:
    """PUT a scenario (a dict is sent as JSON) and return the loaded summary."""
    text = scenario if isinstance(scenario, str) else json.dumps(scenario)
    params = {"account": account} if account else {}
    response = client.put(f"{url}/_sim/scenario", content=text, params=params)
    assert response.status_code == 200, response.text
    loaded: dict[str, Any] = response.json()["scenario"]
    return loaded


# Accepts every message and schedules no delivery report, so a test issues the reports it checks.
QUIET: dict[str, Any] = {"name": "quiet", "defaults": {"deliver": False}}


def script(client: httpx.Client, url: str, provider: str, *rules: dict[str, Any]) -> dict[str, Any]:
    """Load a scenario of ``rules`` for ``provider`` (no delivery unless a rule says so)."""
    return load(
        client,
        url,
        {"name": f"{provider}-script", "defaults": {"deliver": False}, "providers": {provider: list(rules)}},
    )


def one_rule(provider: str, rule: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"name": f"{provider}-test", "seed": 1, "providers": {provider: [rule]}, **top}


def outcomes(client: httpx.Client, url: str) -> list[dict[str, Any]]:
    """The journal's outcomes of provider requests (callback attempts left out)."""
    entries = client.get(f"{url}/_sim/requests").json()["requests"]
    return [e["outcome"] for e in entries if e["method"] != "CALLBACK"]
