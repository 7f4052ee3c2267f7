"""Infobip inbound SMS: the ``MO_JSON_2`` forward and ``GET /sms/1/inbox/reports``.

Forward (https://www.infobip.com/docs/api/channels/sms/inbound-sms/receive-inbound-sms-messages):
a JSON POST to the endpoint set in the number's inbound configuration (here ``POST
/_sim/inbound/urls``), ``{"results": [{"messageId", "from", "to", "text", "cleanText", "keyword",
"receivedAt", "smsCount", "price": {"pricePerMessage", "currency"}, "callbackData"}],
"messageCount", "pendingMessageCount"}``; numbers without ``+``. Pull: the same results from
``GET /sms/1/inbox/reports?limit=N`` (at most 1,000), each message handed out only once.
Infobip documents no retry schedule for forwards; the simulator retries a 5xx/429 or an
unreachable endpoint 5 times, a minute after the first try, doubling.
"""

from __future__ import annotations

from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lynsms.simulator.http import JSONResponse
from lynsms.simulator.inbound import Inbound, InboundMessage, Registration, Retry
from lynsms.simulator.providers.base import BadParam, Callback, Provider, ProviderError, int_param
from lynsms.simulator.providers.infobip.render import timestamp
from lynsms.simulator.state import JournalEntry

MAX_LIMIT: Final = 1000
DEFAULT_LIMIT: Final = 50


def result(message: InboundMessage) -> dict[str, Any]:
    return {
        "messageId": message.id,
        "from": message.sender.lstrip("+"),
        "to": message.to.lstrip("+"),
        "text": message.body,
        "cleanText": message.body,
        "keyword": "",
        "receivedAt": timestamp(message.received_at),
        "smsCount": message.segments,
        "price": {"pricePerMessage": 0.0, "currency": "EUR"},
        "callbackData": None,
    }


class InfobipInbound:
    retry = Retry(attempts=6, backoff=60.0)

    def message_id(self, sim: Inbound) -> str:
        return sim.state.ids.uuid()

    def push(self, message: InboundMessage, registration: Registration) -> Callback:
        body = JSONResponse({"results": [result(message)], "messageCount": 1, "pendingMessageCount": 0}).body
        return Callback(registration.url, bytes(body), {"Content-Type": "application/json"})

    def routes(self, provider: Provider[Any], sim: Inbound) -> list[Route]:
        async def inbox(request: Request, entry: JournalEntry) -> Response:
            account = provider.authenticated(request, entry)
            try:
                limit = int_param(request.query_params, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
            except BadParam as exc:
                raise ProviderError(
                    provider.error(400, f"limit must be between 1 and {MAX_LIMIT}: {exc.text}")
                ) from None
            waiting = [m for m in sim.of("infobip", account) if not m.pulled]
            taken = waiting[:limit]
            for message in taken:
                message.pulled = True
            return JSONResponse(
                {
                    "results": [result(m) for m in taken],
                    "messageCount": len(taken),
                    "pendingMessageCount": len(waiting) - len(taken),
                }
            )

        return [provider.endpoint(path, inbox, ["GET"]) for path in ("/sms/1/inbox/reports", "//sms/1/inbox/reports")]


WIRE: Final = InfobipInbound()
