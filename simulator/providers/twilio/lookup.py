"""Twilio Lookup v2: ``GET /v2/PhoneNumbers/{number}?Fields=...`` (host ``lookups.twilio.com``).

The ``PhoneNumberInstance`` of the ``twilio`` SDK (``client.lookups.v2.phone_numbers(n).fetch(fields=...)``):
``calling_country_code``, ``country_code``, ``phone_number``, ``national_format``, ``valid``,
``validation_errors`` and one key per data package, null unless asked for in ``Fields``.
``line_type_intelligence`` carries ``type`` (mobile, landline, nonFixedVoip...), ``carrier_name``,
``mobile_country_code``, ``mobile_network_code``, ``error_code``; ``line_status`` carries ``status``
(active, unreachable...). https://www.twilio.com/docs/lookup/v2-api
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lynsms.simulator.http import JSONResponse, basic_auth
from lynsms.simulator.lookup import NumberFacts
from lynsms.simulator.providers.base import Provider, ProviderError
from lynsms.simulator.providers.twilio.parse import username
from lynsms.simulator.state import JournalEntry

PACKAGES: Final = (
    "caller_name",
    "sim_swap",
    "call_forwarding",
    "line_status",
    "line_type_intelligence",
    "identity_match",
    "reassigned_number",
    "sms_pumping_risk",
    "phone_number_quality_score",
    "pre_fill",
)
_TYPES: Final = {"mobile": "mobile", "landline": "landline", "voip": "nonFixedVoip", "unknown": "unknown"}


def phone_number(facts: NumberFacts, fields: set[str]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "calling_country_code": facts.calling_code or None,
        "country_code": facts.country,
        "phone_number": facts.number,
        "national_format": facts.national or None,
        "valid": facts.valid,
        "validation_errors": [] if facts.valid else [facts.problem or "NOT_A_NUMBER"],
        **dict.fromkeys(PACKAGES),
        "url": f"https://lookups.twilio.com/v2/PhoneNumbers/{quote(facts.number)}",
    }
    if not facts.valid:
        return body
    if "line_type_intelligence" in fields:
        body["line_type_intelligence"] = {
            "mobile_country_code": facts.mcc or None,
            "mobile_network_code": facts.mnc or None,
            "carrier_name": facts.carrier or None,
            "type": _TYPES[facts.type],
            "error_code": None,
        }
    if "line_status" in fields:
        body["line_status"] = {"status": "active" if facts.reachable else "unreachable", "error_code": None}
    return body


def routes(provider: Provider[Any], facts: Callable[[str], NumberFacts]) -> list[Route]:
    async def fetch(request: Request, entry: JournalEntry) -> Response:
        account = username(basic_auth(request))
        if account is None:
            raise ProviderError(
                provider.error(401, "Authenticate"), "unauthorized", "missing or malformed Basic credentials"
            )
        entry.account = account
        fields = {f.strip() for f in request.query_params.get("Fields", "").split(",") if f.strip()}
        unknown = sorted(fields - set(PACKAGES))
        if unknown:
            raise ProviderError(provider.error(400, f"Invalid Fields: {unknown[0]}", 60611), "invalid_request")
        found = facts(request.path_params["number"])
        entry.outcome = {"kind": "lookup", "valid": found.valid, "type": found.type, "reachable": found.reachable}
        return JSONResponse(phone_number(found, fields))

    return [provider.endpoint("/v2/PhoneNumbers/{number}", fetch, ["GET"])]
