"""Infobip Number Lookup (HLR): ``POST /number/1/query`` ``{"to": ["41793026727", ...]}``.

Answer ``{"bulkId", "results": [{"to", "mccMnc", "imsi", "originalNetwork", "portedNetwork",
"ported", "roaming", "status", "error"}]}`` with the SMS status and error objects
(https://www.infobip.com/docs/api/channels/sms/number-lookup). A reachable mobile is
``DELIVERED_TO_HANDSET``; an absent subscriber ``EC_ABSENT_SUBSCRIBER`` (temporary); a number no
mobile network knows (invalid, landline) ``EC_UNKNOWN_SUBSCRIBER`` (permanent). An HLR query says
nothing about line types, so landlines look like unknown subscribers. Several numbers per request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lynsms.simulator.http import JSONResponse, read_json
from lynsms.simulator.lookup import NumberFacts
from lynsms.simulator.providers.base import Provider, ProviderError
from lynsms.simulator.state import JournalEntry

MAX_NUMBERS: Final = 1000
_DELIVERED: Final = {
    "groupId": 3,
    "groupName": "DELIVERED",
    "id": 5,
    "name": "DELIVERED_TO_HANDSET",
    "description": "Message delivered to handset",
}
_UNDELIVERABLE: Final = {
    "groupId": 2,
    "groupName": "UNDELIVERABLE",
    "id": 9,
    "name": "UNDELIVERABLE_NOT_DELIVERED",
    "description": "Message sent not delivered",
}
_NO_ERROR: Final = {
    "groupId": 0,
    "groupName": "OK",
    "id": 0,
    "name": "NO_ERROR",
    "description": "No Error",
    "permanent": False,
}
_ABSENT: Final = {
    "groupId": 1,
    "groupName": "HANDSET_ERRORS",
    "id": 27,
    "name": "EC_ABSENT_SUBSCRIBER",
    "description": "Absent Subscriber",
    "permanent": False,
}
_UNKNOWN: Final = {
    "groupId": 1,
    "groupName": "HANDSET_ERRORS",
    "id": 1,
    "name": "EC_UNKNOWN_SUBSCRIBER",
    "description": "Unknown Subscriber",
    "permanent": True,
}


def _network(facts: NumberFacts, name: str) -> dict[str, Any]:
    return {
        "networkName": name,
        "networkPrefix": facts.mnc,
        "countryName": facts.country or "",
        "countryPrefix": facts.calling_code,
        "networkId": int(facts.mnc or 0),
    }


def result(asked: str, facts: NumberFacts) -> dict[str, Any]:
    known = facts.valid and facts.type in ("mobile", "voip", "unknown")
    body: dict[str, Any] = {
        "to": asked,
        "mccMnc": facts.mcc + facts.mnc if known else None,
        "ported": False,
        "roaming": False,
    }
    if not known:
        return {**body, "status": _UNDELIVERABLE, "error": _UNKNOWN}
    body["imsi"] = facts.mcc + facts.mnc + facts.number[-10:].rjust(10, "0")
    body["originalNetwork"] = _network(facts, facts.original_carrier or facts.carrier)
    if facts.ported:
        body["ported"] = True
        body["portedNetwork"] = _network(facts, facts.carrier)
    if not facts.reachable:
        return {**body, "status": _UNDELIVERABLE, "error": _ABSENT}
    return {**body, "status": _DELIVERED, "error": _NO_ERROR}


def routes(provider: Provider[Any], facts: Callable[[str], NumberFacts]) -> list[Route]:
    async def query(request: Request, entry: JournalEntry) -> Response:
        provider.authenticated(request, entry)
        data = await read_json(request)
        numbers = data.get("to")
        if not isinstance(numbers, list) or not numbers or not all(isinstance(n, str) and n for n in numbers):
            raise ProviderError(
                provider.error(400, "to: a non-empty list of phone numbers is required"), "invalid_request"
            )
        if len(numbers) > MAX_NUMBERS:
            raise ProviderError(
                provider.error(400, f"to: at most {MAX_NUMBERS} numbers per request"), "invalid_request"
            )
        results = [result(n, facts(n)) for n in numbers]
        entry.outcome = {"kind": "lookup", "numbers": len(numbers)}
        return JSONResponse({"bulkId": provider.state.ids.uuid(), "results": results})

    return [provider.endpoint(path, query, ["POST"]) for path in ("/number/1/query", "//number/1/query")]
