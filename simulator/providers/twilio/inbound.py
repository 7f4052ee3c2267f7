"""Twilio inbound SMS: the incoming-message webhook and the IncomingPhoneNumbers resource.

Webhook (https://www.twilio.com/docs/messaging/guides/webhook-request): a form POST to the number's
``SmsUrl`` with ``MessageSid``, ``SmsSid``, ``SmsMessageSid``, ``AccountSid``, ``From``, ``To``,
``Body``, ``NumMedia``, ``NumSegments``, ``SmsStatus=received``, ``ApiVersion`` and the geographic
``FromCountry``/``ToCountry`` fields, signed with ``X-Twilio-Signature`` (the auth token of the
account, as for status callbacks). Twilio has no pull API for inbound beyond the Message list.

Registration: ``/2010-04-01/Accounts/{sid}/IncomingPhoneNumbers.json`` create / list and
``.../IncomingPhoneNumbers/{PN...}.json`` fetch / update / delete, as the ``twilio`` SDK's
``client.incoming_phone_numbers`` calls them; the resource follows ``IncomingPhoneNumberInstance``.
Retries: Twilio retries a webhook only on connection failures (connection overrides ``#rc``/``#rp``,
https://www.twilio.com/docs/usage/webhooks/webhooks-connection-overrides); an HTTP error answer is final.
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lynsms.simulator.http import JSONResponse, basic_auth
from lynsms.simulator.inbound import Inbound, InboundMessage, Registration, Retry
from lynsms.simulator.numbers import lookup
from lynsms.simulator.providers.base import Callback, Provider, ProviderError
from lynsms.simulator.providers.twilio.parse import form
from lynsms.simulator.providers.twilio.render import API_VERSION, PREFIX, rfc2822, signature
from lynsms.simulator.state import JournalEntry

INVALID_PHONE_NUMBER: Final = 21421  # "PhoneNumber is invalid"
PHONE_NUMBER_REQUIRED: Final = 21452  # no number given and none available for the request
NOT_FOUND: Final = 20404


class TwilioInbound:
    retry = Retry(attempts=2, backoff=1.0, on_status=lambda status: False)

    def message_id(self, sim: Inbound) -> str:
        return "SM" + sim.state.ids.hex(32)

    def push(self, message: InboundMessage, registration: Registration) -> Callback:
        sender, to = lookup(message.sender), lookup(message.to)
        fields = {
            "ToCountry": (to.region or "") if to else "",
            "SmsMessageSid": message.id,
            "NumMedia": "0",
            "SmsSid": message.id,
            "SmsStatus": "received",
            "Body": message.body,
            "FromCountry": (sender.region or "") if sender else "",
            "To": message.to,
            "NumSegments": str(message.segments),
            "MessageSid": message.id,
            "AccountSid": message.account,
            "From": message.sender,
            "ApiVersion": API_VERSION,
        }
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": "TwilioProxy/1.1",
            "I-Twilio-Idempotency-Token": message.id,
            "X-Twilio-Signature": signature(registration.secret, registration.url, fields),
        }
        return Callback(registration.url, urlencode(fields).encode("utf-8"), headers)

    def routes(self, provider: Provider[Any], sim: Inbound) -> list[Route]:
        numbers = f"{PREFIX}/Accounts/{{account_sid}}/IncomingPhoneNumbers"
        handlers = _Handlers(provider, sim)
        return [
            provider.endpoint(f"{numbers}.json", handlers.create, ["POST"]),
            provider.endpoint(f"{numbers}.json", handlers.list, ["GET"]),
            provider.endpoint(f"{numbers}/{{sid}}.json", handlers.fetch, ["GET"]),
            provider.endpoint(f"{numbers}/{{sid}}.json", handlers.update, ["POST"]),
            provider.endpoint(f"{numbers}/{{sid}}.json", handlers.delete, ["DELETE"]),
        ]


class _Handlers:
    def __init__(self, provider: Provider[Any], sim: Inbound) -> None:
        self.provider = provider
        self.sim = sim

    def _numbers(self) -> dict[str, dict[str, Any]]:
        return self.sim.resources.setdefault("twilio:IncomingPhoneNumbers", {})

    async def create(self, request: Request, entry: JournalEntry) -> Response:
        account = self.provider.authenticated(request, entry)
        fields = await form(request)
        number = fields.get("PhoneNumber")
        area = fields.get("AreaCode")
        if number is None and area and area.isascii() and area.isdecimal() and len(area) == 3:
            taken = {r["phone_number"] for r in self._numbers().values()}
            number = next((f"+1{area}55501{i:02d}" for i in range(100) if f"+1{area}55501{i:02d}" not in taken), None)
        if number is None:
            raise self._invalid(PHONE_NUMBER_REQUIRED, "A PhoneNumber or AreaCode is required")
        parsed = lookup(number)
        if parsed is None:
            raise self._invalid(INVALID_PHONE_NUMBER, f"PhoneNumber is invalid: {number}")
        now = rfc2822(self.provider.now())
        sid = "PN" + self.sim.state.ids.hex(32)
        resource: dict[str, Any] = {
            "account_sid": account,
            "address_requirements": "none",
            "address_sid": None,
            "api_version": API_VERSION,
            "beta": False,
            "bundle_sid": None,
            "capabilities": {"fax": False, "mms": True, "sms": True, "voice": True},
            "date_created": now,
            "date_updated": now,
            "emergency_address_sid": None,
            "emergency_address_status": "unregistered",
            "emergency_status": "Inactive",
            "friendly_name": fields.get("FriendlyName") or parsed.e164,
            "identity_sid": None,
            "origin": "twilio",
            "phone_number": parsed.e164,
            "sid": sid,
            "sms_application_sid": "",
            "sms_fallback_method": "POST",
            "sms_fallback_url": "",
            "sms_method": "POST",
            "sms_url": "",
            "status": "in-use",
            "status_callback": "",
            "status_callback_method": "POST",
            "subresource_uris": {},
            "trunk_sid": None,
            "uri": f"{PREFIX}/Accounts/{account}/IncomingPhoneNumbers/{sid}.json",
            "voice_application_sid": None,
            "voice_caller_id_lookup": False,
            "voice_fallback_method": "POST",
            "voice_fallback_url": None,
            "voice_method": "POST",
            "voice_receive_mode": "voice",
            "voice_url": None,
        }
        self._apply(resource, fields, _password(request))
        self._numbers()[sid] = resource
        return JSONResponse(resource, status_code=201)

    async def list(self, request: Request, entry: JournalEntry) -> Response:
        account = self.provider.authenticated(request, entry)
        params = request.query_params
        wanted = params.get("PhoneNumber")
        found = [
            r
            for r in self._numbers().values()
            if r["account_sid"] == account and (wanted is None or r["phone_number"].lstrip("+") == wanted.lstrip("+"))
        ]
        size_text = params.get("PageSize", "")
        page_size = int(size_text) if size_text.isascii() and size_text.isdecimal() and len(size_text) <= 4 else 50
        uri = f"{PREFIX}/Accounts/{account}/IncomingPhoneNumbers.json"
        return JSONResponse(
            {
                "incoming_phone_numbers": found[:page_size],
                "first_page_uri": f"{uri}?PageSize={page_size}&Page=0",
                "next_page_uri": None,
                "previous_page_uri": None,
                "page": 0,
                "page_size": page_size,
                "start": 0,
                "end": max(len(found[:page_size]) - 1, 0),
                "uri": f"{uri}?PageSize={page_size}&Page=0",
            }
        )

    async def fetch(self, request: Request, entry: JournalEntry) -> Response:
        return JSONResponse(self._owned(request, entry))

    async def update(self, request: Request, entry: JournalEntry) -> Response:
        resource = self._owned(request, entry)
        self._apply(resource, await form(request), _password(request))
        resource["date_updated"] = rfc2822(self.provider.now())
        return JSONResponse(resource)

    async def delete(self, request: Request, entry: JournalEntry) -> Response:
        resource = self._owned(request, entry)
        del self._numbers()[resource["sid"]]
        self.sim.unregister(resource["sid"])
        return Response(status_code=204)

    def _apply(self, resource: dict[str, Any], fields: Any, auth_token: str) -> None:
        for field, key in (("SmsUrl", "sms_url"), ("SmsMethod", "sms_method"), ("FriendlyName", "friendly_name")):
            value = fields.get(field)
            if value is not None:
                resource[key] = value
        if resource["sms_url"]:
            self.sim.register(
                "twilio",
                resource["sms_url"],
                account=resource["account_sid"],
                number=resource["phone_number"],
                secret=auth_token,
                source="twilio:IncomingPhoneNumbers",
                registration_id=resource["sid"],
            )
        else:
            self.sim.unregister(resource["sid"])

    def _owned(self, request: Request, entry: JournalEntry) -> dict[str, Any]:
        account = self.provider.authenticated(request, entry)
        resource = self._numbers().get(request.path_params["sid"])
        if resource is None or resource["account_sid"] != account:
            raise ProviderError(
                self.provider.error(404, f"The requested resource {request.url.path} was not found", NOT_FOUND),
                "not_found",
            )
        return resource

    def _invalid(self, code: int, message: str) -> ProviderError:
        return ProviderError(self.provider.error(400, message, code), "invalid_request", f"{code}: {message}")


def _password(request: Request) -> str:
    credentials = basic_auth(request)
    return credentials.password if credentials else ""


WIRE: Final = TwilioInbound()
