"""Twilio Programmable Messaging (``2010-04-01``): one form POST per message.

Request: ``POST {base}/2010-04-01/Accounts/{account_sid}/Messages.json``, form ``To``, ``From``,
``Body`` and ``StatusCallback`` (when the gateway wants delivery reports), HTTP Basic
``account_sid:auth_token`` or ``api_key_sid:api_key_secret`` (the account sid stays in the path).
Twilio has no multi-recipient send, so ``max_batch`` is 1 and ``send_many`` runs one request per
message, ``adapter.CONCURRENCY`` at a time, results in message order.

Success: 201 with the Message resource; ``sid`` (``SM...``) is the provider message id and
``status`` (``queued``/``accepted``) the provider status. Errors are JSON
``{"code": 21211, "message": "...", "status": 400}``; the code decides:

| code | meaning | kind | reason |
|---|---|---|---|
| 21211, 21614, 21612, 21421, 21635 | To invalid / not mobile / unreachable / landline | hard | invalid_number |
| 21604 | To missing | hard | invalid_number |
| 21408 | sending to that region not enabled | hard | rejected |
| 21608 | trial account: To not verified | hard | rejected |
| 21610 | recipient replied STOP | hard | unsubscribed |
| 21212, 21606, 21603, 21601, 21659, 21660 | From invalid / not capable / missing / not yours | hard | invalid_sender |
| 21617 | body over 1,600 characters | hard | body_too_long |
| 21602, 21620, 20001, 20413 | body missing, bad schedule, bad form, too large | hard | invalid_request |
| 20003 | authentication failed | hard | auth_failed |
| 10001, 20005 | account not active (Twilio suspends an account out of funds) | hard | insufficient_funds |
| 20404 | account / resource not found | hard | rejected |
| 20429 (HTTP 429), 21611 (From's queue full) | throttled | retryable | rate_limited |
| 20500, 20503, any 5xx | Twilio trouble | retryable | server_error |
| any other code | | hard | rejected (auth_failed on 401/403) |
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar, Final
from urllib.parse import urlencode

import httpx

from lynsms.gateway import signing
from lynsms.gateway.providers import http, reports
from lynsms.gateway.providers.adapter import CLOCK_SLACK, HttpAdapter
from lynsms.gateway.providers.base import Accepted, BodyLimit, Failed, Outbound, Provider, ProviderSettings, SendResult

_RULES: Final[dict[str, http.Rule]] = {
    **dict.fromkeys(("21211", "21614", "21612", "21421", "21635", "21604"), http.hard("invalid_number")),
    **dict.fromkeys(("21408", "21608", "20404"), http.REJECTED),
    "21610": http.hard("unsubscribed"),
    **dict.fromkeys(("21212", "21606", "21603", "21601", "21659", "21660"), http.hard("invalid_sender")),
    "21617": http.hard("body_too_long"),
    **dict.fromkeys(("21602", "21620", "20001", "20413"), http.hard("invalid_request")),
    "20003": http.AUTH_FAILED,
    **dict.fromkeys(("10001", "20005"), http.hard("insufficient_funds")),
    **dict.fromkeys(("20429", "21611"), http.RATE_LIMITED),
}


def _read(data: Any) -> tuple[str | None, str | None]:
    return http.optional_text(data, "code"), http.optional_text(data, "message")


ERRORS: Final = http.ErrorFormat(read=_read, classify=lambda code, _text: _RULES.get(code or ""))


class TwilioAdapter(HttpAdapter):
    name = "twilio"
    limit: ClassVar[int] = 1

    def __init__(self, settings: ProviderSettings, transport: httpx.AsyncBaseTransport) -> None:
        super().__init__(settings, transport)
        self.account_sid = self.credential("account_sid")
        # An API key (SK...) authenticates in place of the account's auth token.
        if self.settings.credentials.get("api_key_sid"):
            self.authorization = http.basic_auth(self.credential("api_key_sid"), self.credential("api_key_secret"))
        else:
            self.authorization = http.basic_auth(self.account_sid, self.credential("auth_token"))
        self.url = f"{self.base_url}/2010-04-01/Accounts/{self.account_sid}/Messages.json"

    async def post(self, batch: list[Outbound]) -> http.Reply | Failed:
        (message,) = batch
        form = {"To": message.to, "From": message.sender, "Body": message.body}
        if message.status_callback_url:
            form["StatusCallback"] = message.status_callback_url
        return await http.exchange(
            self.wire, self.url, ERRORS, headers={"Authorization": self.authorization}, form=form
        )

    def parse(self, reply: http.Reply, batch: list[Outbound]) -> list[SendResult]:
        return [Accepted(http.text_field(reply.data, "sid"), http.optional_text(reply.data, "status"))]

    async def find_one(self, message: Outbound, since: datetime) -> list[str] | Failed:
        """Twilio takes no id of ours, so list the account's messages ``To`` the recipient ``From``
        our sender (newest first) and keep those with our body created since the attempt."""
        query = urlencode({"To": message.to, "From": message.sender, "PageSize": "100"})
        reply = await http.exchange(
            self.wire, f"{self.url}?{query}", ERRORS, headers={"Authorization": self.authorization}, method="GET"
        )
        if isinstance(reply, Failed):
            return reply
        earliest = since - CLOCK_SLACK
        found: list[str] = []
        try:
            for resource in http.list_field(reply.data, "messages"):
                created = http.optional_text(resource, "date_created")
                if http.optional_text(resource, "body") != message.body or not created:
                    continue
                try:
                    if parsedate_to_datetime(created) < earliest:
                        continue
                except (TypeError, ValueError):
                    continue
                found.append(http.text_field(resource, "sid"))
        except http.Malformed as exc:
            return http.malformed(f"message list not understood: {exc}", reply.status)
        return found

    async def poll(self, provider_message_id: str) -> list[reports.Report] | Failed:
        """The message's status from its resource, ``GET .../Messages/{Sid}.json``."""
        url = self.url.removesuffix(".json") + f"/{provider_message_id}.json"
        return await http.fetch_reports(
            self.wire, url, ERRORS, headers={"Authorization": self.authorization}, parse=parse_resource
        )


# ---- delivery reports: pushed to /api/v1/webhooks/twilio, and what polling fetches ----

_TWILIO_STATUS: Final[dict[str, reports.Outcome | None]] = {
    "queued": None,
    "accepted": None,
    "scheduled": None,
    "sending": None,
    "sent": "sent",
    "delivered": "delivered",
    "read": "delivered",
    "undelivered": "undelivered",
    "partially_delivered": "undelivered",
    "failed": "failed",
    "canceled": "failed",
}
# Twilio's callbacks carry the code only; the texts are the titles in Twilio's error dictionary
# (https://www.twilio.com/docs/api/errors). The simulator's error_message reads the same table.
TWILIO_ERRORS: Final[dict[str, str]] = {
    "30001": "Queue overflow",
    "30002": "Account suspended",
    "30003": "Unreachable destination handset",
    "30004": "Message blocked",
    "30005": "Unknown destination handset",
    "30006": "Landline or unreachable carrier",
    "30007": "Message filtered",
    "30008": "Unknown error",
    "30034": "Message from an unregistered number",
    "30036": "Validity Period Expired",
}


def _twilio(sid: str, word: str, code: str | None, text: str | None, at: str | None) -> reports.Report:
    status = _TWILIO_STATUS.get(word)
    code, text = reports.failure_only(status, code, text or TWILIO_ERRORS.get(code or ""))
    return reports.Report("twilio", sid, status, word, code, text, at)


def parse_reports(form: Mapping[str, str]) -> list[reports.Report]:
    """A status callback: ``MessageSid``, ``MessageStatus``, ``ErrorCode``, ``RawDlrDoneDate``."""
    sid = reports.text(form, "MessageSid") or reports.required(form, "SmsSid", "Twilio")
    word = reports.text(form, "MessageStatus") or reports.required(form, "SmsStatus", "Twilio")
    done = reports.text(form, "RawDlrDoneDate")
    at = None
    if done and len(done) == 10 and done.isdecimal():  # YYMMDDhhmm, UTC
        try:
            at = reports.iso(datetime.strptime(done, "%y%m%d%H%M").replace(tzinfo=UTC))
        except ValueError:
            at = None
    return [replace(_twilio(sid, word, reports.text(form, "ErrorCode"), None, at), to=reports.text(form, "To"))]


def parse_resource(data: Any) -> list[reports.Report]:
    """``GET .../Messages/{Sid}.json``: the status lives on the resource itself."""
    resource = reports.mapping(data, "a Twilio Message resource")
    updated = reports.text(resource, "date_updated")
    try:
        at = reports.iso(parsedate_to_datetime(updated)) if updated else None
    except (TypeError, ValueError):
        at = None
    return [
        _twilio(
            reports.required(resource, "sid", "Twilio"),
            reports.required(resource, "status", "Twilio"),
            reports.text(resource, "error_code"),
            reports.text(resource, "error_message"),
            at,
        )
    ]


def verify_report(
    credentials: Mapping[str, str], url: str, form: Sequence[tuple[str, str]], headers: Mapping[str, str]
) -> str | None:
    """Twilio signs its callbacks (``X-Twilio-Signature``) over the URL it was given and the form."""
    # Twilio signs with the account's auth token; the simulator, sent through an API key, with its secret.
    tokens = [credentials[k] for k in ("auth_token", "api_key_secret") if credentials.get(k)]
    if not tokens:
        return "no Twilio auth token is configured, so no Twilio callback can be verified"
    if not signing.twilio_valid(tokens, url, form, headers.get("x-twilio-signature")):
        return "the X-Twilio-Signature header is missing or does not sign this request"
    return None


PROVIDER: Final = Provider(
    name="twilio",
    adapter=TwilioAdapter,
    max_batch=TwilioAdapter.limit,
    default_credentials={"account_sid": "AC" + "0" * 31 + "1"},
    report_media_types=(http.FORM_TYPE,),
    parse_reports=parse_reports,
    verify_report=verify_report,
    # The auth token signs callbacks: a constant would let anyone sign one. The simulator accepts any.
    generated_credentials=("auth_token",),
    body_limit=BodyLimit(
        utf16_units=1600, documented="Twilio error 21617: the concatenated body exceeds 1600 characters"
    ),
)
