"""Sinch Number Lookup: ``POST /v2/projects/{project_id}/lookups`` (host ``lookup.api.sinch.com``).

Request ``{"number": "+1...", "features": ["LineType", "VoIPDetection", ...]}``; answer the
``sinch`` SDK's ``LookupNumberResponse``: ``number``, ``countryCode``, ``traceId``, ``line``
(``carrier``, ``type`` Mobile/Landline/VoIP/Unknown, ``mobileCountryCode``, ``mobileNetworkCode``,
``ported``, ``portingDate``, ``error``) and ``voIPDetection``; a number that is not one is a 400
``INVALID_ARGUMENT``. Auth: the project's OAuth token (or Basic key id/secret).
https://developers.sinch.com/docs/number-lookup-api-v2/
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lynsms.simulator.http import JSONResponse, basic_auth, bearer_token, read_json
from lynsms.simulator.lookup import NumberFacts
from lynsms.simulator.providers.base import Provider, ProviderError
from lynsms.simulator.state import JournalEntry

FEATURES: Final = ("LineType", "SimSwap", "VoIPDetection", "RND")
_TYPES: Final = {"mobile": "Mobile", "landline": "Landline", "voip": "VoIP", "unknown": "Unknown"}


def _error(status: int, message: str, reason: str) -> Response:
    return JSONResponse({"error": {"code": status, "message": message, "status": reason, "details": []}}, status)


def lookup_response(facts: NumberFacts, features: list[str], trace: str) -> dict[str, Any]:
    body: dict[str, Any] = {"number": facts.number, "countryCode": facts.country, "traceId": trace}
    if "LineType" in features:
        line: dict[str, Any] = {
            "carrier": facts.carrier,
            "type": _TYPES[facts.type],
            "mobileCountryCode": facts.mcc,
            "mobileNetworkCode": facts.mnc,
            "ported": facts.ported,
        }
        if not facts.reachable:
            # Sinch's line data has no reachability; an absent subscriber shows as a line error.
            line["error"] = {
                "status": 404,
                "title": "Absent subscriber",
                "detail": "The handset is not reachable",
                "type": "absent_subscriber",
            }
        body["line"] = line
    if "VoIPDetection" in features:
        body["voIPDetection"] = {"probability": "High" if facts.type == "voip" else "Low"}
    return body


def routes(provider: Provider[Any], facts: Callable[[str], NumberFacts]) -> list[Route]:
    async def lookup(request: Request, entry: JournalEntry) -> Response:
        if bearer_token(request) is None and basic_auth(request) is None:
            raise ProviderError(
                _error(401, "Missing or malformed Authorization header", "UNAUTHENTICATED"), "unauthorized"
            )
        entry.account = request.path_params["project_id"]
        data = await read_json(request)
        number = data.get("number")
        features = data.get("features") or ["LineType"]
        if not isinstance(number, str) or not number:
            raise ProviderError(
                _error(400, "number: a phone number in E.164 format is required", "INVALID_ARGUMENT"), "invalid_request"
            )
        if not isinstance(features, list) or any(f not in FEATURES for f in features):
            raise ProviderError(
                _error(400, f"features: each must be one of {', '.join(FEATURES)}", "INVALID_ARGUMENT"),
                "invalid_request",
            )
        found = facts(number)
        entry.outcome = {"kind": "lookup", "valid": found.valid, "type": found.type, "reachable": found.reachable}
        if not found.valid:
            return _error(400, f"Invalid number {number}: {found.problem}", "INVALID_ARGUMENT")
        return JSONResponse(lookup_response(found, features, provider.state.ids.hex(32)))

    return [provider.endpoint("/v2/projects/{project_id}/lookups", lookup, ["POST"])]
