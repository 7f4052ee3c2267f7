"""Infobip SMS API v3: one request carries up to 1,000 destinations.

Request: ``POST {base}/sms/3/messages``, ``Authorization: App <api_key>``, JSON
``{"messages": [{"sender", "destinations": [{"to", "messageId"}], "content": {"text"},
"webhooks": {"delivery": {"url"}, "contentType": "application/json", "callbackData"}}]}``.
Messages sharing a delivery URL and reference share one ``messages[]`` entry; the others get
their own entry in the same request. ``messageId`` is the gateway's own ``msg_...`` id: Infobip
uses a client's id as its message id, so delivery reports name the gateway's message directly,
and Infobip refuses a second send of the same id. ``callbackData`` is the customer's reference.

Success: HTTP 200 ``{"bulkId", "messages": [{"messageId", "destination", "status": {"groupId",
"groupName", "id", "name", "description"}}]}``, one entry per destination in request order. Each
destination has its own outcome:

| status group | status name | kind | reason |
|---|---|---|---|
| 0 ACCEPTED, 1 PENDING, 3 DELIVERED | any | Accepted(messageId, status name) | |
| 5 REJECTED | REJECTED_DESTINATION, REJECTED_INVALID_DESTINATION, REJECTED_PREFIX_MISSING | hard | invalid_number |
| | REJECTED_DESTINATION_NOT_REGISTERED, REJECTED_NETWORK, MISSING_TO | hard | invalid_number |
| | REJECTED_DND | hard | unsubscribed |
| | REJECTED_NOT_ENOUGH_CREDITS, REJECTED_PREPAID_PACKAGE_EXPIRED | hard | insufficient_funds |
| | REJECTED_SOURCE, REJECTED_SENDER | hard | invalid_sender |
| | REJECTED_MESSAGE_TOO_LONG | hard | body_too_long |
| 2 UNDELIVERABLE, 4 EXPIRED, 5 REJECTED | any other | hard | rejected |

Errors fail the whole request, v3 ``{"errorCode", "description", "violations": [{"property",
"violation"}]}`` or v2 ``{"requestError": {"serviceException": {"messageId", "text"}}}``:

| HTTP | code | kind | reason |
|---|---|---|---|
| 400 | E400 / BAD_REQUEST, a violation on a destination | hard | invalid_number |
| 400 | E400 / BAD_REQUEST, a violation on the sender | hard | invalid_sender |
| 400, 413, 415 | E400 / BAD_REQUEST otherwise, E413, E415 | hard | invalid_request |
| 401, 403 | E401 / UNAUTHORIZED, E403 / FORBIDDEN | hard | auth_failed |
| 429 | E429 / TOO_MANY_REQUESTS | retryable | rate_limited (with Retry-After) |
| 5xx | E500, E503 / GENERAL_ERROR | retryable | server_error |
| other 4xx | | hard | rejected |
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar, Final
from urllib.parse import urlencode

import httpx

from lynsms.gateway.providers import http, reports
from lynsms.gateway.providers.adapter import HttpAdapter
from lynsms.gateway.providers.base import Accepted, BodyLimit, Failed, Outbound, Provider, ProviderSettings, SendResult

ACCEPTED_GROUPS: Final = frozenset({"ACCEPTED", "PENDING", "DELIVERED"})
_GROUP_NAMES: Final = {0: "ACCEPTED", 1: "PENDING", 2: "UNDELIVERABLE", 3: "DELIVERED", 4: "EXPIRED", 5: "REJECTED"}

_STATUS_RULES: Final[dict[str, http.Rule]] = {
    **dict.fromkeys(
        (
            "REJECTED_DESTINATION",
            "REJECTED_INVALID_DESTINATION",
            "REJECTED_PREFIX_MISSING",
            "REJECTED_DESTINATION_NOT_REGISTERED",
            "REJECTED_NETWORK",
            "MISSING_TO",
        ),
        http.hard("invalid_number"),
    ),
    "REJECTED_DND": http.hard("unsubscribed"),
    **dict.fromkeys(
        ("REJECTED_NOT_ENOUGH_CREDITS", "REJECTED_PREPAID_PACKAGE_EXPIRED"), http.hard("insufficient_funds")
    ),
    **dict.fromkeys(("REJECTED_SOURCE", "REJECTED_SENDER"), http.hard("invalid_sender")),
    "REJECTED_MESSAGE_TOO_LONG": http.hard("body_too_long"),
}

INVALID_REQUEST: Final = http.hard("invalid_request")
_ERROR_RULES: Final[dict[str, http.Rule]] = {
    **dict.fromkeys(("E413", "E415", "PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE"), INVALID_REQUEST),
    **dict.fromkeys(("E401", "E403", "UNAUTHORIZED", "FORBIDDEN"), http.AUTH_FAILED),
    **dict.fromkeys(("E404", "NOT_FOUND"), http.REJECTED),
    **dict.fromkeys(("E429", "TOO_MANY_REQUESTS"), http.RATE_LIMITED),
    **dict.fromkeys(("E500", "E503", "GENERAL_ERROR"), http.SERVER_ERROR),
}


def _read(data: Any) -> tuple[str | None, str | None]:
    if isinstance(data, dict) and isinstance(data.get("requestError"), dict):
        exception = data["requestError"].get("serviceException")
        return http.optional_text(exception, "messageId"), http.optional_text(exception, "text")
    text = http.optional_text(data, "description")
    # The violations name the field at fault; keep them in the text so the rule can see them.
    violations = data.get("violations") if isinstance(data, dict) else None
    if isinstance(violations, list) and violations:
        details = "; ".join(
            f"{http.optional_text(v, 'property')}: {http.optional_text(v, 'violation')}" for v in violations
        )
        text = f"{text or 'Bad request'} ({details})"
    return http.optional_text(data, "errorCode"), text


def _classify(code: str | None, text: str) -> http.Rule | None:
    if code in ("E400", "BAD_REQUEST"):
        if "destinations" in text:
            return http.hard("invalid_number")
        return http.hard("invalid_sender") if ".sender" in text else INVALID_REQUEST
    return _ERROR_RULES.get(code or "")


ERRORS: Final = http.ErrorFormat(read=_read, classify=_classify)


def _groups(batch: list[Outbound]) -> list[list[Outbound]]:
    """Messages sharing webhook settings, as ``messages[]`` entries, in first-seen order."""
    groups: dict[Hashable, list[Outbound]] = {}
    for message in batch:
        groups.setdefault((message.status_callback_url, message.reference), []).append(message)
    return list(groups.values())


def _entry(members: list[Outbound]) -> dict[str, Any]:
    first = members[0]
    entry: dict[str, Any] = {
        "sender": first.sender,
        "destinations": [{"to": m.to, "messageId": m.message_id} for m in members],
        "content": {"text": first.body},
    }
    webhooks: dict[str, Any] = {}
    if first.status_callback_url:
        webhooks["delivery"] = {"url": first.status_callback_url}
        webhooks["contentType"] = "application/json"
    if first.reference:
        webhooks["callbackData"] = first.reference
    if webhooks:
        entry["webhooks"] = webhooks
    return entry


def _result(entry: Any) -> SendResult:
    status = http.field(entry, "status")
    if not isinstance(status, dict):
        raise http.Malformed("'status' is not an object")
    name = http.optional_text(status, "name")
    group_id = status.get("groupId")
    group = http.optional_text(status, "groupName") or (
        _GROUP_NAMES.get(group_id) if isinstance(group_id, int) else None
    )
    if group is None:
        raise http.Malformed("status has neither groupName nor a known groupId")
    if group in ACCEPTED_GROUPS:
        return Accepted(http.text_field(entry, "messageId"), name or group)
    rule = _STATUS_RULES.get(name or "", http.REJECTED)
    description = http.optional_text(status, "description") or group
    return rule.fail(f"{name or group}: {description}", code=name or group, status=200)


class InfobipAdapter(HttpAdapter):
    name = "infobip"
    limit: ClassVar[int] = 1000

    def __init__(self, settings: ProviderSettings, transport: httpx.AsyncBaseTransport) -> None:
        super().__init__(settings, transport)
        self.authorization = f"App {self.credential('api_key')}"
        self.url = f"{self.base_url}/sms/3/messages"

    async def post(self, batch: list[Outbound]) -> http.Reply | Failed:
        body = {"messages": [_entry(members) for members in _groups(batch)]}
        return await http.exchange(
            self.wire, self.url, ERRORS, headers={"Authorization": self.authorization}, json_body=body
        )

    async def poll(self, provider_message_id: str) -> list[reports.Report] | Failed:
        """``GET /sms/3/reports?messageId=`` hands each report out once and only once, so whatever it
        returns must be applied now (the caller does, in the same step). When it has nothing (not
        final yet, or another consumer took it), ``GET /sms/3/logs``, which is not consumed, still
        tells the current status."""
        headers = {"Authorization": self.authorization}
        for endpoint in ("reports", "logs"):
            found = await http.fetch_reports(
                self.wire,
                f"{self.base_url}/sms/3/{endpoint}?messageId={provider_message_id}",
                ERRORS,
                headers=headers,
                parse=parse_reports,
            )
            if isinstance(found, Failed) or found:
                return found
        return []

    async def find(self, messages: Sequence[Outbound], since: datetime) -> list[list[str]] | Failed:
        """The gateway's own id is the Infobip ``messageId``: ``GET /sms/3/logs?messageId=...``
        with every id at once."""
        query = urlencode([("messageId", m.message_id) for m in messages] + [("limit", str(len(messages)))])
        reply = await http.exchange(
            self.wire,
            f"{self.base_url}/sms/3/logs?{query}",
            ERRORS,
            headers={"Authorization": self.authorization},
            method="GET",
        )
        if isinstance(reply, Failed):
            return reply
        try:
            logged = {http.optional_text(entry, "messageId") for entry in http.list_field(reply.data, "results")}
        except http.Malformed as exc:
            return http.malformed(f"logs not understood: {exc}", reply.status)
        return [[m.message_id] if m.message_id in logged else [] for m in messages]

    def parse(self, reply: http.Reply, batch: list[Outbound]) -> list[SendResult]:
        ordered = [m for members in _groups(batch) for m in members]  # the order destinations were sent
        entries = http.match_entries(
            http.list_field(reply.data, "messages"), [m.message_id for m in ordered], "messageId"
        )
        by_id = {m.message_id: _result(entry) for m, entry in zip(ordered, entries, strict=True)}
        return [by_id[m.message_id] for m in batch]


# ---- delivery reports: pushed to /api/v1/webhooks/infobip, and what polling fetches ----

_INFOBIP_GROUP: Final[dict[str, reports.Outcome | None]] = {
    "ACCEPTED": None,
    "PENDING": "sent",
    "DELIVERED": "delivered",
    "UNDELIVERABLE": "undelivered",
    "EXPIRED": "undelivered",
    "REJECTED": "failed",
}
# Statuses inside UNDELIVERABLE that mean the operator turned the message away.
_INFOBIP_REFUSED: Final = frozenset({"UNDELIVERABLE_REJECTED_OPERATOR"})


def parse_reports(data: Any) -> list[reports.Report]:
    results = reports.mapping(data, "an Infobip delivery report").get("results")
    if not isinstance(results, list):
        raise reports.ReportError("an Infobip delivery report needs a 'results' list")
    found: list[reports.Report] = []
    for raw in results:
        entry = reports.mapping(raw, "an Infobip report result")
        status_json = reports.mapping(entry.get("status"), "an Infobip report's 'status'")
        group = reports.text(status_json, "groupName") or ""
        name = reports.text(status_json, "name") or group
        status = "failed" if name in _INFOBIP_REFUSED else _INFOBIP_GROUP.get(group)
        error = entry.get("error")
        code, text = None, None
        # Error 0 (group 0 OK, id 0 NO_ERROR) is Infobip's way of saying "no error".
        if isinstance(error, Mapping) and (error.get("id") or error.get("groupId")):
            code = reports.text(error, "id")
            text = reports.text(error, "description") or reports.text(error, "name")
        code, text = reports.failure_only(status, code, text)
        found.append(
            reports.Report(
                "infobip",
                reports.required(entry, "messageId", "Infobip"),
                status,
                name,
                code,
                text,
                reports.iso_text(entry.get("doneAt")),
            )
        )
    return found


PROVIDER: Final = Provider(
    name="infobip",
    adapter=InfobipAdapter,
    max_batch=InfobipAdapter.limit,
    default_credentials={"api_key": "lynsms-local-api-key"},
    report_media_types=(http.JSON_TYPE,),
    parse_reports=parse_reports,
    body_limit=BodyLimit(
        utf8_bytes=4000, segments=25, documented="Infobip REJECTED_MESSAGE_TOO_LONG: over 25 parts or 4000 bytes"
    ),
)
