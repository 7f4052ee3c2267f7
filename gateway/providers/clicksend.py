"""ClickSend REST v3: one request carries up to 1,000 messages.

Request: ``POST {base}/v3/sms/send``, Basic ``username:api_key``, JSON ``{"messages": [{"to",
"from", "body", "source": "lynsms", "custom_string"}]}``. ``custom_string`` is the gateway's own
``msg_...`` id: ClickSend echoes it in the answer and in every delivery receipt, and receipts are
per account (any system sharing the account gets them), so it is what proves a receipt is ours.

Delivery receipts have no per-message URL. ``register_report_url(url)`` makes ClickSend POST them to
the gateway: it creates an SMS delivery-receipt automation (``POST /v3/automations/sms/receipts``
``{"rule_name", "match_type": 0, "action": "URL", "action_address": url, "enabled": 1}``) unless
an enabled URL rule for that address is already listed on the first page of
``GET /v3/automations/sms/receipts``, so calling it at every start adds no duplicates. It returns
None on success, else the ``Failed`` saying why (the gateway should log it and go on: sending works
without receipts).

Success: HTTP 200 ``{"response_code": "SUCCESS", "data": {"messages": [{"message_id", "status",
"custom_string", ...}]}}``; each message carries its own outcome, request-level errors are
``{"http_code", "response_code", "response_msg"}``. The same codes appear in both places:

| code (message ``status`` or ``response_code``) | kind | reason |
|---|---|---|
| SUCCESS (message status) | Accepted(message_id, "SUCCESS") | |
| INVALID_RECIPIENT | hard | invalid_number |
| BLOCKED (the simulator's opted-out recipient; real ClickSend blocks listed numbers) | hard | unsubscribed |
| INSUFFICIENT_CREDIT | hard | insufficient_funds |
| INVALID_SENDER_ID, INVALID_RETURN_ADDRESS | hard | invalid_sender |
| MESSAGE_TOO_LONG | hard | body_too_long |
| MISSING_REQUIRED_FIELDS, EMPTY_MESSAGE, BAD_REQUEST, INVALID_REQUEST, METHOD_NOT_FOUND | hard | invalid_request |
| UNAUTHORIZED (HTTP 401), INVALID_CREDENTIALS, MISSING_CREDENTIALS | hard | auth_failed |
| ACCOUNT_NOT_ACTIVATED, FORBIDDEN | hard | auth_failed |
| COUNTRY_NOT_ENABLED, NOT_FOUND | hard | rejected |
| THROTTLED, TOO_MANY_REQUESTS (HTTP 429) | retryable | rate_limited |
| INTERNAL_ERROR, INTERNAL_SERVER_ERROR, SERVICE_UNAVAILABLE | retryable | server_error |
| BAD_GATEWAY, GATEWAY_TIMEOUT, any other HTTP 5xx | retryable | server_error |
| any other status | hard | rejected (auth_failed on 401/403) |

A rejected message still gets a ``message_id`` from ClickSend (it is counted in ``blocked_count``);
it is not used, since nothing will be delivered under it.

A 200 without ``data.messages`` whose ``response_code`` is not SUCCESS is a request-level failure
by the same table.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar, Final
from urllib.parse import urlencode

import httpx

from lynsms.gateway.providers import http, reports
from lynsms.gateway.providers.adapter import CLOCK_SLACK, HttpAdapter
from lynsms.gateway.providers.base import Accepted, BodyLimit, Failed, Outbound, Provider, ProviderSettings, SendResult

SOURCE: Final = "lynsms"
RULE_NAME: Final = "LynSMS delivery receipts"

_RULES: Final[dict[str, http.Rule]] = {
    "INVALID_RECIPIENT": http.hard("invalid_number"),
    "BLOCKED": http.hard("unsubscribed"),
    "INSUFFICIENT_CREDIT": http.hard("insufficient_funds"),
    **dict.fromkeys(("INVALID_RETURN_ADDRESS", "INVALID_SENDER_ID"), http.hard("invalid_sender")),
    "MESSAGE_TOO_LONG": http.hard("body_too_long"),
    **dict.fromkeys(
        ("MISSING_REQUIRED_FIELDS", "EMPTY_MESSAGE", "BAD_REQUEST", "INVALID_REQUEST", "METHOD_NOT_FOUND"),
        http.hard("invalid_request"),
    ),
    **dict.fromkeys(
        ("UNAUTHORIZED", "INVALID_CREDENTIALS", "MISSING_CREDENTIALS", "ACCOUNT_NOT_ACTIVATED", "FORBIDDEN"),
        http.AUTH_FAILED,
    ),
    **dict.fromkeys(("COUNTRY_NOT_ENABLED", "NOT_FOUND"), http.REJECTED),
    **dict.fromkeys(("THROTTLED", "TOO_MANY_REQUESTS"), http.RATE_LIMITED),
    **dict.fromkeys(
        ("INTERNAL_ERROR", "INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE", "BAD_GATEWAY", "GATEWAY_TIMEOUT"),
        http.SERVER_ERROR,
    ),
}


def _read(data: Any) -> tuple[str | None, str | None]:
    return http.optional_text(data, "response_code"), http.optional_text(data, "response_msg")


ERRORS: Final = http.ErrorFormat(read=_read, classify=lambda code, _text: _RULES.get(code or ""))


def _result(entry: Any) -> SendResult:
    status = http.text_field(entry, "status")
    if status == "SUCCESS":
        return Accepted(http.text_field(entry, "message_id"), status)
    rule = _RULES.get(status, http.REJECTED)
    return rule.fail(f"{status}: message to {http.optional_text(entry, 'to')} not queued", code=status, status=200)


class ClickSendAdapter(HttpAdapter):
    name = "clicksend"
    limit: ClassVar[int] = 1000

    def __init__(self, settings: ProviderSettings, transport: httpx.AsyncBaseTransport) -> None:
        super().__init__(settings, transport)
        self.headers = {"Authorization": http.basic_auth(self.credential("username"), self.credential("api_key"))}
        self.url = f"{self.base_url}/v3/sms/send"
        self.rules_url = f"{self.base_url}/v3/automations/sms/receipts"

    async def post(self, batch: list[Outbound]) -> http.Reply | Failed:
        messages = [
            {"to": m.to, "from": m.sender, "body": m.body, "source": SOURCE, "custom_string": m.message_id}
            for m in batch
        ]
        return await http.exchange(self.wire, self.url, ERRORS, headers=self.headers, json_body={"messages": messages})

    def parse(self, reply: http.Reply, batch: list[Outbound]) -> list[SendResult]:
        data = reply.data.get("data") if isinstance(reply.data, dict) else None
        code = http.optional_text(reply.data, "response_code")
        if not isinstance(data, dict) and code not in (None, "SUCCESS"):
            text = http.optional_text(reply.data, "response_msg") or code
            return [http.classify(reply.status, code, text or "", ERRORS)] * len(batch)
        entries = http.match_entries(
            http.list_field(http.field(reply.data, "data"), "messages"), [m.message_id for m in batch], "custom_string"
        )
        return [_result(entry) for entry in entries]

    async def find_one(self, message: Outbound, since: datetime) -> list[str] | Failed:
        """The gateway's own id is the message's ``custom_string``: search the history for the
        recipient since the attempt (``q=to:...``, ``date_from``) and keep rows carrying our id;
        ClickSend's ``message_id`` is the provider id."""
        query = urlencode(
            {"date_from": str(int((since - CLOCK_SLACK).timestamp())), "q": f"to:{message.to}", "limit": "100"}
        )
        reply = await http.exchange(
            self.wire, f"{self.base_url}/v3/sms/history?{query}", ERRORS, headers=self.headers, method="GET"
        )
        if isinstance(reply, Failed):
            return reply
        try:
            rows = http.list_field(http.field(reply.data, "data"), "data")
            return [
                http.text_field(row, "message_id")
                for row in reversed(rows)
                if http.optional_text(row, "custom_string") == message.message_id
            ]
        except http.Malformed as exc:
            return http.malformed(f"history not understood: {exc}", reply.status)

    async def poll(self, provider_message_id: str) -> list[reports.Report] | Failed:
        """The message's latest receipt, ``GET /v3/sms/receipts/{message_id}`` (404: none yet)."""
        return await http.fetch_reports(
            self.wire,
            f"{self.base_url}/v3/sms/receipts/{provider_message_id}",
            ERRORS,
            headers=self.headers,
            parse=lambda data: parse_reports(http.field(data, "data")),
            none_yet=(404,),
        )

    async def register_report_url(self, url: str) -> Failed | None:
        """Have ClickSend POST delivery receipts to ``url``; idempotent across restarts."""
        listed = await http.exchange(
            self.wire, f"{self.rules_url}?page=1&limit=100", ERRORS, headers=self.headers, method="GET"
        )
        # Listing only avoids a duplicate rule; if it fails, creating one is still right.
        if isinstance(listed, http.Reply) and any(_forwards_to(rule, url) for rule in _rules(listed.data)):
            return None
        rule = {"rule_name": RULE_NAME, "match_type": 0, "action": "URL", "action_address": url, "enabled": 1}
        created = await http.exchange(self.wire, self.rules_url, ERRORS, headers=self.headers, json_body=rule)
        return created if isinstance(created, Failed) else None


def _rules(data: Any) -> list[Any]:
    page = data.get("data") if isinstance(data, dict) else None
    rules = page.get("data") if isinstance(page, dict) else None
    return rules if isinstance(rules, list) else []


def _forwards_to(rule: Any, url: str) -> bool:
    return (
        isinstance(rule, dict)
        and rule.get("action") == "URL"
        and rule.get("action_address") == url
        and rule.get("enabled") in (1, True, "1")
    )


# ---- delivery reports: pushed to /api/v1/webhooks/clicksend, and what polling fetches ----

# ClickSend's gateway error codes that mean the number or network refused the message for good;
# the other failures (absent handset, congestion, timeouts, expiry) reached the network.
_CLICKSEND_REFUSED: Final = frozenset({"8", "9", "10", "11", "15", "19"})


def _clicksend_one(receipt: Mapping[str, Any]) -> reports.Report:
    message_id = reports.required(receipt, "message_id", "ClickSend")
    code = reports.required(receipt, "status_code", "ClickSend")
    error_code, error_text = reports.text(receipt, "error_code"), reports.text(receipt, "error_text")
    at_value = reports.text(receipt, "timestamp")
    at = reports.unix_text(at_value)
    word = reports.text(receipt, "status_text") or code
    if code == "300":
        # A temporary failure ClickSend retries itself: still on its way, but the error is worth keeping.
        return reports.Report("clicksend", message_id, "sent", word, error_code, error_text, at)
    status: reports.Outcome | None
    if code == "201":
        status = "delivered"
    elif code == "301":
        status = "failed" if error_code in _CLICKSEND_REFUSED else "undelivered"
    else:
        status = "sent" if code == "200" else None
    error_code, error_text = reports.failure_only(status, error_code, error_text)
    return reports.Report("clicksend", message_id, status, word, error_code, error_text, at)


def parse_reports(data: Any) -> list[reports.Report]:
    """One receipt (the form push, or ``GET /v3/sms/receipts/{id}``'s ``data``), or a list of them."""
    if isinstance(data, list):
        return [_clicksend_one(reports.mapping(item, "a ClickSend receipt")) for item in data]
    return [_clicksend_one(reports.mapping(data, "a ClickSend receipt"))]


PROVIDER: Final = Provider(
    name="clicksend",
    adapter=ClickSendAdapter,
    max_batch=ClickSendAdapter.limit,
    default_credentials={"username": "lynsms", "api_key": "lynsms-local-api-key"},
    # ClickSend pushes receipts as a form, or as JSON when the rule asks for it.
    report_media_types=(http.FORM_TYPE, http.JSON_TYPE),
    parse_reports=parse_reports,
    body_limit=BodyLimit(segments=8, documented="ClickSend truncates a body to 8 parts"),
)
