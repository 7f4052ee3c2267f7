"""Sinch SMS REST API ("XMS"): one batch carries up to 1,000 recipients.

Request: ``POST {base}/xms/v1/{service_plan_id or project_id}/batches``, JSON
``{"to": [...], "from", "body", "type": "mt_text", "delivery_report": "per_recipient",
"callback_url", "client_reference"}`` (the last two when the message has them). A batch has one
callback URL and one client reference, so ``send_many`` puts messages that differ in either into
separate batches.

Auth, from the credentials:
- service plan ``{service_plan_id, api_token}``: ``Authorization: Bearer <api_token>``;
- project ``{project_id, key_id, key_secret}`` (optional ``auth_base_url``, default the base URL):
  ``POST {auth_base_url}/oauth2/token`` with Basic ``key_id:key_secret`` and
  ``grant_type=client_credentials``; the token is cached until shortly before ``expires_in`` and,
  when a send using a cached token gets a 401, fetched anew and the send repeated once.

Provider message ids: a batch has one id, but delivery reports come per recipient
(``recipient_delivery_report_sms`` with ``batch_id`` and ``recipient``, the number without "+").
So each accepted message gets ``"{batch_id}:{+E.164 recipient}"``, unique per message; the
report parser below builds the same key with ``recipient_message_id(batch_id, recipient)``.

Success: 201 with the batch (``id``). Errors are ``{"code": "...", "text": "..."}`` (the OAuth
endpoint answers ``{"error", "error_description"}``). A batch fails as a whole, so a batch refused
over one recipient (invalid or opted-out number) is halved until that recipient fails alone and
the others go out (``adapter.RECIPIENT_REASONS``):

| HTTP | code | text | kind | reason |
|---|---|---|---|---|
| 400 | syntax_invalid_parameter_format | mentions the from address / sender | hard | invalid_sender |
| 400 | syntax_invalid_parameter_format | mentions a number, recipient, MSISDN or "to" | hard | invalid_number |
| 400 | syntax_invalid_parameter_format | anything else | hard | invalid_request |
| 400 | syntax_constraint_violation | about the body's size / length | hard | body_too_long |
| 400 | syntax_constraint_violation, syntax_invalid_json | otherwise | hard | invalid_request |
| 403 | illegal_number_type | "opted out" | hard | unsubscribed |
| 403 | illegal_number_type | otherwise (number type not allowed) | hard | invalid_number |
| 403 | blocked_account | (Sinch blocks accounts out of credit) | hard | insufficient_funds |
| 403 | unprovisioned_region | | hard | rejected |
| 403 | missing_callback_url, unknown_group, unknown_campaign | | hard | invalid_request |
| 401 | unauthorized (or any 401/403 without a known code) | | hard | auth_failed |
| 429 | too_many_requests | | retryable | rate_limited (with Retry-After) |
| 5xx | internal_error, service_unavailable, ... | | retryable | server_error |
| other 4xx | | | hard | rejected |
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Hashable, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar, Final
from urllib.parse import urlencode

import httpx

from lynsms.gateway.providers import http, reports
from lynsms.gateway.providers.adapter import CLOCK_SLACK, HttpAdapter
from lynsms.gateway.providers.base import Accepted, BodyLimit, Failed, Outbound, Provider, ProviderSettings, SendResult

# A token is renewed this long before Sinch says it expires, so no request races its expiry.
TOKEN_MARGIN: Final = 60.0
# A reconciliation lookup reads the batches from our sender since the attempt in pages of PAGE,
# at most LOOKUP_PAGES of them.
PAGE: Final = 100
LOOKUP_PAGES: Final = 20

INVALID_REQUEST: Final = http.hard("invalid_request")
_RULES: Final[dict[str, http.Rule]] = {
    "syntax_invalid_json": INVALID_REQUEST,
    "blocked_account": http.hard("insufficient_funds"),
    "unprovisioned_region": http.REJECTED,
    **dict.fromkeys(("missing_callback_url", "unknown_group", "unknown_campaign"), INVALID_REQUEST),
    **dict.fromkeys(("unauthorized", "forbidden", "invalid_client", "unauthorized_client"), http.AUTH_FAILED),
    "too_many_requests": http.RATE_LIMITED,
    **dict.fromkeys(("internal_error", "service_unavailable"), http.SERVER_ERROR),
}
_SENDER = re.compile(r"\bfrom\b|\bsender\b", re.IGNORECASE)
_NUMBER = re.compile(r"\bnumber|\brecipient|\bmsisdn\b|\bto\b", re.IGNORECASE)
_LENGTH = re.compile(r"\bsize\b|\blength\b|\blong\b|characters", re.IGNORECASE)


def _read(data: Any) -> tuple[str | None, str | None]:
    if isinstance(data, dict) and "error" in data:  # the OAuth endpoint's format
        return http.optional_text(data, "error"), http.optional_text(data, "error_description")
    return http.optional_text(data, "code"), http.optional_text(data, "text")


def _classify(code: str | None, text: str) -> http.Rule | None:
    # One code covers several fields; only the text says which one was wrong.
    if code == "syntax_invalid_parameter_format":
        if _SENDER.search(text):
            return http.hard("invalid_sender")
        return http.hard("invalid_number") if _NUMBER.search(text) else INVALID_REQUEST
    if code == "syntax_constraint_violation":
        return http.hard("body_too_long") if "body" in text.lower() and _LENGTH.search(text) else INVALID_REQUEST
    if code == "illegal_number_type":
        return http.hard("unsubscribed") if "opted out" in text.lower() else http.hard("invalid_number")
    return _RULES.get(code or "")


ERRORS: Final = http.ErrorFormat(read=_read, classify=_classify)


def recipient_message_id(batch_id: str, recipient: str) -> str:
    """The provider message id of one recipient of a batch; ``recipient`` with or without "+"."""
    return f"{batch_id}:+{recipient.lstrip('+')}"


class _Token:
    """An OAuth2 client-credentials token, fetched on demand and shared by concurrent sends."""

    def __init__(self, wire: http.Wire, url: str, authorization: str) -> None:
        self.wire = wire
        self.url = url
        self.authorization = authorization
        self.cached: str | None = None
        self.expires_at = 0.0
        self.lock = asyncio.Lock()

    def forget(self, token: str) -> None:
        if self.cached == token:
            self.cached = None

    async def bearer(self) -> str | Failed:
        async with self.lock:  # one fetch, however many batches wait for it
            if self.cached is not None and self.wire.clock.monotonic() < self.expires_at:
                return self.cached
            reply = await http.exchange(
                self.wire,
                self.url,
                ERRORS,
                headers={"Authorization": self.authorization},
                form={"grant_type": "client_credentials"},
            )
            if isinstance(reply, Failed):
                return reply
            try:
                token = http.text_field(reply.data, "access_token")
                lifetime = http.field(reply.data, "expires_in")
                if not isinstance(lifetime, (int, float)) or isinstance(lifetime, bool):
                    raise http.Malformed("'expires_in' is not a number")
            except http.Malformed as exc:
                return http.malformed(f"token answer not understood: {exc}", reply.status)
            self.cached = token
            self.expires_at = self.wire.clock.monotonic() + max(0.0, float(lifetime) - TOKEN_MARGIN)
            return token


class SinchAdapter(HttpAdapter):
    name = "sinch"
    limit: ClassVar[int] = 1000

    def __init__(self, settings: ProviderSettings, transport: httpx.AsyncBaseTransport) -> None:
        super().__init__(settings, transport)
        self.token: _Token | None = None
        self.api_token = ""
        if self.settings.credentials.get("service_plan_id"):
            account = self.credential("service_plan_id")
            self.api_token = self.credential("api_token")
        else:
            account = self.credential("project_id")
            auth_base = self.settings.credentials.get("auth_base_url") or self.base_url
            authorization = http.basic_auth(self.credential("key_id"), self.credential("key_secret"))
            self.token = _Token(self.wire, f"{auth_base.rstrip('/')}/oauth2/token", authorization)
        self.url = f"{self.base_url}/xms/v1/{account}/batches"

    def batch_key(self, message: Outbound) -> Hashable:
        return (message.status_callback_url, message.reference)

    async def post(self, batch: list[Outbound]) -> http.Reply | Failed:
        first = batch[0]
        body: dict[str, Any] = {
            "to": [m.to for m in batch],
            "from": first.sender,
            "body": first.body,
            "type": "mt_text",
            "delivery_report": "per_recipient",
        }
        if first.status_callback_url:
            body["callback_url"] = first.status_callback_url
        if first.reference:
            body["client_reference"] = first.reference
        was_cached = self.token.cached if self.token is not None else None
        reply = await self._post(body)
        if isinstance(reply, Failed) and reply.http_status == 401 and self.token is not None and was_cached:
            # A cached token can be revoked or expire early; a fresh one gets one more try.
            self.token.forget(was_cached)
            reply = await self._post(body)
        return reply

    async def _post(self, body: dict[str, Any]) -> http.Reply | Failed:
        bearer = self.api_token if self.token is None else await self.token.bearer()
        if isinstance(bearer, Failed):
            return bearer
        return await http.exchange(
            self.wire, self.url, ERRORS, headers={"Authorization": f"Bearer {bearer}"}, json_body=body
        )

    async def poll(self, provider_message_id: str) -> list[reports.Report] | Failed:
        """The recipient's latest report, ``GET .../batches/{batch_id}/delivery_report/{msisdn}``."""
        batch_id, _, recipient = provider_message_id.partition(":")
        bearer = self.api_token if self.token is None else await self.token.bearer()
        if isinstance(bearer, Failed):
            return bearer
        url = f"{self.url}/{batch_id}/delivery_report/{recipient.lstrip('+')}"
        return await http.fetch_reports(
            self.wire, url, ERRORS, headers={"Authorization": f"Bearer {bearer}"}, parse=parse_reports
        )

    async def find(self, messages: Sequence[Outbound], since: datetime) -> list[list[str]] | Failed:
        """List the batches ``from`` our sender since the attempt (``start_date``, one request for
        the whole batch we sent) and keep those with our body and the recipient: the message's id
        in each is ``{batch_id}:{recipient}``."""
        bearer = self.api_token if self.token is None else await self.token.bearer()
        if isinstance(bearer, Failed):
            return bearer
        start = (since - CLOCK_SLACK).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        held: dict[tuple[str, str], list[str]] = {}  # (body, recipient without +) -> batch ids, newest first
        for page in range(LOOKUP_PAGES):
            query = urlencode({"from": messages[0].sender, "start_date": start, "page": page, "page_size": PAGE})
            reply = await http.exchange(
                self.wire, f"{self.url}?{query}", ERRORS, headers={"Authorization": f"Bearer {bearer}"}, method="GET"
            )
            if isinstance(reply, Failed):
                return reply
            try:
                batches = http.list_field(reply.data, "batches")
                for batch in batches:
                    body, to = http.optional_text(batch, "body"), batch.get("to") if isinstance(batch, dict) else None
                    if body is None or not isinstance(to, list):
                        continue
                    batch_id = http.text_field(batch, "id")
                    for number in to:
                        held.setdefault((body, str(number).lstrip("+")), []).append(batch_id)
            except http.Malformed as exc:
                return http.malformed(f"batch list not understood: {exc}", reply.status)
            count = reply.data.get("count") if isinstance(reply.data, dict) else None
            if not batches or not isinstance(count, int) or (page + 1) * PAGE >= count:
                break
        return [[recipient_message_id(b, m.to) for b in held.get((m.body, m.to.lstrip("+")), [])] for m in messages]

    def parse(self, reply: http.Reply, batch: list[Outbound]) -> list[SendResult]:
        batch_id = http.text_field(reply.data, "id")
        # A Sinch batch carries no per-recipient status at creation, so none is recorded.
        return [Accepted(recipient_message_id(batch_id, m.to)) for m in batch]


# ---- delivery reports: pushed to /api/v1/webhooks/sinch, and what polling fetches ----

_SINCH_STATUS: Final[dict[str, reports.Outcome | None]] = {
    "Queued": None,
    "Unknown": None,
    "Dispatched": "sent",
    "Delivered": "delivered",
    # Failed/Expired/Deleted: the operator had it and could not (or no longer) deliver.
    "Failed": "undelivered",
    "Expired": "undelivered",
    "Deleted": "undelivered",
    # Aborted/Rejected/Cancelled: Sinch or the SMSC refused it; it never reached a handset.
    "Aborted": "failed",
    "Rejected": "failed",
    "Cancelled": "failed",
}
_SINCH_ERRORS: Final = {
    "402": "Message unroutable",
    "403": "Internal error",
    "404": "Temporary delivery failure",
    "405": "Unmatched parameter",
    "406": "Internal expiry",
    "407": "Cancelled",
    "408": "Internal reject",
    "410": "Unmatched default originator",
    "411": "Exceeded parts limit",
    "412": "Unprovisioned region",
    "413": "Blocked",
    "1": "Unknown subscriber",
    "27": "Absent subscriber",
}


def _sinch_report(pmid: str | None, batch_id: str, word: str, code: object, at: str | None) -> reports.Report:
    status = _SINCH_STATUS.get(word)
    code_text = None if code is None or isinstance(code, bool) else str(code)
    text = _SINCH_ERRORS.get(code_text or "")
    if text is None and code_text and code_text.isdecimal() and int(code_text) < 400:
        text = f"Operator error {code_text}"  # 0-399 are the operator's SMPP / GSM MAP codes
    error_code, error_text = reports.failure_only(status, code_text, text)
    to = "+" + pmid.partition(":")[2].lstrip("+") if pmid else None
    return reports.Report(
        "sinch", pmid, status, word, error_code, error_text, at, batch_id if pmid is None else None, to
    )


def parse_reports(data: Any) -> list[reports.Report]:
    """``recipient_delivery_report_sms`` (what the gateway asks for), or a ``delivery_report_sms``
    batch report: ``full`` lists recipients per status; a ``summary`` of a batch whose recipients
    all share one status applies to the whole batch; any other summary names nobody and is skipped."""
    report = reports.mapping(data, "a Sinch delivery report")
    kind = reports.required(report, "type", "Sinch")
    batch_id = reports.required(report, "batch_id", "Sinch")
    if kind == "recipient_delivery_report_sms":
        recipient = reports.required(report, "recipient", "Sinch")
        word = reports.required(report, "status", "Sinch")
        at = reports.iso_text(report.get("operator_status_at")) or reports.iso_text(report.get("at"))
        return [_sinch_report(recipient_message_id(batch_id, recipient), batch_id, word, report.get("code"), at)]
    if kind != "delivery_report_sms":
        raise reports.ReportError(f"unknown Sinch report type {kind!r}")
    statuses = report.get("statuses")
    if not isinstance(statuses, list):
        raise reports.ReportError("a Sinch batch report needs a 'statuses' list")
    found: list[reports.Report] = []
    for raw in statuses:
        entry = reports.mapping(raw, "a Sinch batch report status")
        word = reports.required(entry, "status", "Sinch")
        recipients = entry.get("recipients")
        if isinstance(recipients, list) and recipients:
            found += [
                _sinch_report(recipient_message_id(batch_id, str(r)), batch_id, word, entry.get("code"), None)
                for r in recipients
            ]
        elif len(statuses) == 1 and entry.get("count") == report.get("total_message_count"):
            found.append(_sinch_report(None, batch_id, word, entry.get("code"), None))
    return found


PROVIDER: Final = Provider(
    name="sinch",
    adapter=SinchAdapter,
    max_batch=SinchAdapter.limit,
    default_credentials={"service_plan_id": "0" * 31 + "1", "api_token": "lynsms-local-api-token"},
    report_media_types=(http.JSON_TYPE,),
    parse_reports=parse_reports,
    # A Java @Size check: String.length(), UTF-16 code units.
    body_limit=BodyLimit(utf16_units=2000, documented="Sinch syntax_constraint_violation: body size 1 to 2000"),
)
