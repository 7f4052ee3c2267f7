"""Sinch inbound SMS (MO): the ``mo_text`` callback and the inbounds API.

Callback (https://developers.sinch.com/docs/sms/api-reference/sms/tag/Inbounds/): a JSON POST
``{"type": "mo_text", "id", "from", "to", "body", "received_at", "operator_id"}`` to the service
plan's callback URL (set in the Sinch dashboard, so here ``POST /_sim/inbound/urls``), MSISDNs
without the ``+`` as in delivery reports; the SDK models it as ``MOText``. Unsigned by default.
Pull: ``GET /xms/v1/{service_plan_id}/inbounds`` (paged ``page``/``page_size``, filters ``to``,
``start_date`` (default: 24 hours ago) and ``end_date`` on ``received_at``; anything else, and
``client_reference``, a filter Sinch enables per account on request, is refused with a 400) and
``GET /xms/v1/{service_plan_id}/inbounds/{inbound_id}``.
Retries (same page, "Webhooks"): 5xx and 429 are retried 5 s after the first try, then 10, 20, 40 s...
doubling, the last at 81,920 s; other 4xx answers are not retried.
"""

from __future__ import annotations

from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lynsms.simulator.http import JSONResponse
from lynsms.simulator.inbound import Inbound, InboundMessage, Registration, Retry
from lynsms.simulator.providers.base import BadParam, Callback, Provider, ProviderError, int_param
from lynsms.simulator.providers.sinch.filters import window
from lynsms.simulator.providers.sinch.parse import Invalid
from lynsms.simulator.providers.sinch.render import recipient, timestamp
from lynsms.simulator.state import JournalEntry

_INBOUNDS: Final = "/xms/v1/{account}/inbounds"
MAX_PAGE_SIZE: Final = 100
_KNOWN: Final = frozenset({"page", "page_size", "to", "start_date", "end_date"})


def mo_text(message: InboundMessage) -> dict[str, Any]:
    return {
        "type": "mo_text",
        "id": message.id,
        "from": recipient(message.sender),
        "to": recipient(message.to),
        "body": message.body,
        "received_at": timestamp(message.received_at),
        "operator_id": "",
    }


class SinchInbound:
    retry = Retry(attempts=15, backoff=5.0)  # 5 s doubling: the 15th try is 81,915 s after the first

    def message_id(self, sim: Inbound) -> str:
        return sim.state.ids.ulid()

    def push(self, message: InboundMessage, registration: Registration) -> Callback:
        body = JSONResponse(mo_text(message)).body
        return Callback(registration.url, bytes(body), {"Content-Type": "application/json"})

    def routes(self, provider: Provider[Any], sim: Inbound) -> list[Route]:
        async def listing(request: Request, entry: JournalEntry) -> Response:
            account = provider.authenticated(request, entry)
            params = request.query_params
            try:
                start, end = window(params, _KNOWN, provider.now())
                page = int_param(params, "page", 0, 0)
                size = int_param(params, "page_size", 30, 1, MAX_PAGE_SIZE)
            except BadParam as exc:
                raise ProviderError(provider.error(400, str(exc), "syntax_invalid_parameter_format")) from None
            except Invalid as exc:
                raise ProviderError(provider.error(400, exc.text, exc.code), detail=exc.text) from None
            wanted = {t.strip().lstrip("+") for t in params.get("to", "").split(",") if t.strip()}
            found = [
                m
                for m in sim.of("sinch", account)
                if (not wanted or m.to.lstrip("+") in wanted)
                and m.received_at >= start
                and (end is None or m.received_at < end)
            ]
            found.reverse()  # newest first
            shown = found[page * size : (page + 1) * size]
            return JSONResponse(
                {"count": len(found), "page": page, "page_size": len(shown), "inbounds": [mo_text(m) for m in shown]}
            )

        async def one(request: Request, entry: JournalEntry) -> Response:
            account = provider.authenticated(request, entry)
            wanted = request.path_params["inbound_id"]
            found = next((m for m in sim.of("sinch", account) if m.id == wanted), None)
            if found is None:
                raise ProviderError(provider.error(404, f"Inbound {wanted} not found", "not_found"), "not_found")
            return JSONResponse(mo_text(found))

        return [
            provider.endpoint(_INBOUNDS, listing, ["GET"]),
            provider.endpoint(_INBOUNDS + "/{inbound_id}", one, ["GET"]),
        ]


WIRE: Final = SinchInbound()
