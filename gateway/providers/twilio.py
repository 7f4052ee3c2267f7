"""Twilio Programmable Messaging (``2010-04-01``): one form POST per message.

Request: ``POST {base}/2010-04-01/Accounts/{account_sid}/Messages.json``, form ``To``, ``From``,
``Body`` and ``StatusCallback`` (when the gateway wants delivery reports), HTTP Basic
``account_sid:auth_token`` or ``api_key_sid:api_key_secret`` (the account sid stays in the path).
Twilio has no multi-recipient send, so ``max_batch`` is 1 and ``send_many`` runs one request per
message, ``http.CONCURRENCY`` at a time, results in message order.

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

from typing import Any, ClassVar, Final

import httpx

from lynsms.gateway import reports
from lynsms.gateway.providers import http
from lynsms.gateway.providers.base import Accepted, Failed, Outbound, ProviderSettings, SendResult

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


class TwilioAdapter(http.HttpAdapter):
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

    async def poll(self, provider_message_id: str) -> list[reports.Report] | Failed:
        """The message's status from its resource, ``GET .../Messages/{Sid}.json``."""
        url = self.url.removesuffix(".json") + f"/{provider_message_id}.json"
        return await http.fetch_reports(
            self.wire, url, ERRORS, headers={"Authorization": self.authorization}, parse=reports.twilio_resource
        )
