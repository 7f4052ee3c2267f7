"""The two-way endpoints: inbound webhooks, inbound list, the opt-out list and number lookup.

    POST   /api/v1/webhooks/{provider}/inbound   provider's own inbound format (no Bearer key)
    GET    /api/v1/inbound                       newest first; filters from, to; cursor paging
    GET    /api/v1/opt-outs                      the opt-out list
    POST   /api/v1/opt-outs {"number"}           opt a number out (201; 200 if it already was)
    DELETE /api/v1/opt-outs/{number}             opt it back in (404 opt_out_not_found if it was not out)
    POST   /api/v1/lookup {"numbers", "provider"?}  number lookup, up to 1,000 numbers

Request bodies are pydantic models (strict, no unknown fields); ``openapi_paths`` and
``openapi_schemas`` add these endpoints to ``/api/openapi.json``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lynsms.gateway import inbound
from lynsms.gateway.errors import InvalidParameter, OptOutNotFound, ValidationFailed
from lynsms.gateway.lookup import MAX_NUMBERS, Lookups, LookupUnavailable
from lynsms.gateway.optouts import OptOuts
from lynsms.gateway.service import Gateway

Handler = Callable[[Request], Awaitable[Response]]
Model = TypeVar("Model", bound=BaseModel)
MAX_LIMIT: Final = 100
DEFAULT_LIMIT: Final = 20


class OptOutRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    number: str = Field(pattern=r"^\+[1-9][0-9]{1,14}$", description="E.164, e.g. +12025550143")


class LookupRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    numbers: list[str] = Field(min_length=1, max_length=MAX_NUMBERS, description="E.164 numbers")
    provider: str | None = Field(default=None, description="twilio, sinch or infobip; default: the configured one")


def _api() -> Any:
    from lynsms.gateway import api  # the envelope helpers; api imports this module for its routes

    return api


def _gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


def _optouts(gateway: Gateway) -> OptOuts:
    return OptOuts(gateway.two_way, gateway.clock)


async def _parsed(request: Request, model: type[Model]) -> Model:
    body = await _api().read_json(request)
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        problem = exc.errors()[0]
        field = ".".join(str(p) for p in problem["loc"]) or "body"
        raise ValidationFailed(field, f"{field}: {problem['msg']}") from None


def _ok(request: Request, status: int, data: Any) -> Response:
    api = _api()
    response: Response = api.render(request, status, api.ok(data))
    return response


# ---- handlers ------------------------------------------------------------------------------------


async def inbound_webhook(request: Request) -> Response:
    gateway = _gateway(request)
    return _ok(request, 200, await inbound.receive(request, gateway, _optouts(gateway)))


async def list_inbound(request: Request) -> Response:
    params = request.query_params
    allowed = ("limit", "cursor", "from", "to")
    for key in params:
        if key not in allowed:
            raise InvalidParameter(key, f"unknown query parameter {key!r}; allowed: {', '.join(allowed)}")
        if len(params.getlist(key)) > 1:
            raise InvalidParameter(key, f"{key} was given more than once")
    limit_text = params.get("limit", str(DEFAULT_LIMIT))
    if not (limit_text.isdecimal() and len(limit_text) <= 6) or not 1 <= int(limit_text) <= MAX_LIMIT:
        raise InvalidParameter("limit", f"limit must be an integer from 1 to {MAX_LIMIT}")
    before = _decode_cursor(params["cursor"]) if "cursor" in params else None
    page, next_seq = _gateway(request).two_way.inbound_page(
        int(limit_text), before, params.get("from"), params.get("to")
    )
    data = {
        "object": "list",
        "inbound": [m.to_json() for m in page],
        "has_more": next_seq is not None,
        "next_cursor": _encode_cursor(next_seq) if next_seq is not None else None,
    }
    return _ok(request, 200, data)


async def opt_outs(request: Request) -> Response:
    return await (add_opt_out(request) if request.method == "POST" else list_opt_outs(request))


async def list_opt_outs(request: Request) -> Response:
    entries = _gateway(request).two_way.opt_outs()
    return _ok(request, 200, {"object": "list", "opt_outs": [e.to_json() for e in entries], "total": len(entries)})


async def add_opt_out(request: Request) -> Response:
    gateway = _gateway(request)
    parsed = await _parsed(request, OptOutRequest)
    added = _optouts(gateway).opt_out(parsed.number, source="api")
    entry = added or gateway.two_way.opt_out_of(parsed.number)
    assert entry is not None
    return _ok(request, 201 if added else 200, entry.to_json())


async def remove_opt_out(request: Request) -> Response:
    gateway = _gateway(request)
    number = request.path_params["number"]
    if not _optouts(gateway).opt_in(number, source="api"):
        raise OptOutNotFound(f"{number} is not on the opt-out list", number=number)
    return _ok(request, 200, {"object": "opt_out", "number": number, "opted_out": False})


async def lookup(request: Request) -> Response:
    gateway = _gateway(request)
    parsed = await _parsed(request, LookupRequest)
    try:
        lookups = Lookups(gateway.config, gateway.adapters, gateway.two_way)
        provider = lookups.provider(parsed.provider)
        results = await lookups.lookup(parsed.numbers, provider)
    except LookupUnavailable as exc:
        raise ValidationFailed("provider", str(exc)) from None
    data = {"object": "lookup_result", "provider": provider, "total": len(results), "results": results}
    return _ok(request, 200, data)


# ---- bulk "lookup": true ---------------------------------------------------------------------------


def bulk_lookup_flag(body: dict[str, Any]) -> bool:
    value = body.get("lookup", False)
    if not isinstance(value, bool):
        raise ValidationFailed("lookup", "lookup must be true or false")
    return value


async def unreachable(request: Request, recipients: Sequence[str]) -> set[str]:
    """The recipients a lookup finds invalid, unreachable or landline (a failed lookup sends anyway)."""
    gateway = _gateway(request)
    wanted = [n for n in dict.fromkeys(recipients) if n not in gateway.two_way.opted_out]
    if not wanted:
        return set()
    try:
        results = await Lookups(gateway.config, gateway.adapters, gateway.two_way).lookup(wanted)
    except LookupUnavailable as exc:
        raise ValidationFailed("lookup", str(exc)) from None
    return {
        r["number"]
        for r in results
        if r["status"] == 200 and (not r["valid"] or not r["reachable"] or r["type"] == "landline")
    }


def _encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"in:{seq}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    # At most 18 digits: anything longer is no sequence number SQLite can compare (int64).
    if not text.startswith("in:") or not (text[3:].isascii() and text[3:].isdecimal() and len(text) <= 21):
        raise InvalidParameter("cursor", "cursor is not one this endpoint handed out")
    return int(text[3:])


def routes(endpoint: Callable[..., Handler]) -> list[Route]:
    """The routes, each wrapped by the API's ``endpoint`` (envelopes, auth)."""
    return [
        # Providers call this with no Bearer key; inbound.authenticate checks what they sign.
        Route("/api/v1/webhooks/{provider}/inbound", endpoint(inbound_webhook, auth=False), methods=["POST"]),
        Route("/api/v1/inbound", endpoint(list_inbound), methods=["GET"]),
        Route("/api/v1/opt-outs", endpoint(opt_outs), methods=["GET", "POST"]),
        Route("/api/v1/opt-outs/{number}", endpoint(remove_opt_out), methods=["DELETE"]),
        Route("/api/v1/lookup", endpoint(lookup), methods=["POST"]),
    ]


# ---- OpenAPI ---------------------------------------------------------------------------------------

_REF: Final = "#/components/schemas/{model}"


def _envelope(data: dict[str, Any], description: str) -> dict[str, Any]:
    schema = {"type": "object", "properties": {"success": {"const": True}, "data": data, "meta": {"type": "object"}}}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(s): {"$ref": f"#/components/responses/Error{s}"} for s in statuses}


def _body(model: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": {"$ref": _REF.format(model=model)}}}}


_OBJECT: Final = {"type": "object"}
_NUMBER_PARAM: Final = {"name": "number", "in": "path", "required": True, "schema": {"type": "string"}}


def openapi_schemas() -> dict[str, Any]:
    return {
        "OptOutRequest": OptOutRequest.model_json_schema(ref_template=_REF),
        "LookupRequest": LookupRequest.model_json_schema(ref_template=_REF),
    }


def openapi_paths() -> dict[str, Any]:
    query = [
        {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
        for name in ("from", "to", "cursor", "limit")
    ]
    return {
        "/api/v1/webhooks/{provider}/inbound": {
            "post": {
                "operationId": "inboundWebhook",
                "summary": "Inbound SMS from a provider, in its own format (Twilio: signed)",
                "security": [],
                "parameters": [{"name": "provider", "in": "path", "required": True, "schema": {"type": "string"}}],
                "requestBody": {"required": True, "content": {"application/json": {"schema": _OBJECT}}},
                "responses": {"200": _envelope(_OBJECT, "Stored"), **_errors(400, 403, 404, 413, 415)},
            }
        },
        "/api/v1/inbound": {
            "get": {
                "operationId": "listInbound",
                "summary": "Inbound messages, newest first",
                "parameters": query,
                "responses": {"200": _envelope(_OBJECT, "A page of inbound_message objects"), **_errors(400, 401)},
            }
        },
        "/api/v1/opt-outs": {
            "get": {
                "operationId": "listOptOuts",
                "summary": "The opt-out list",
                "responses": {"200": _envelope(_OBJECT, "Every opted-out number"), **_errors(401)},
            },
            "post": {
                "operationId": "addOptOut",
                "summary": "Opt a number out",
                "requestBody": _body("OptOutRequest"),
                "responses": {
                    "201": _envelope(_OBJECT, "Opted out"),
                    "200": _envelope(_OBJECT, "Already opted out"),
                    **_errors(400, 401, 415, 422),
                },
            },
        },
        "/api/v1/opt-outs/{number}": {
            "delete": {
                "operationId": "removeOptOut",
                "summary": "Opt a number back in",
                "parameters": [_NUMBER_PARAM],
                "responses": {"200": _envelope(_OBJECT, "Opted back in"), **_errors(401, 404)},
            }
        },
        "/api/v1/lookup": {
            "post": {
                "operationId": "lookupNumbers",
                "summary": "Number lookup through a provider (up to 1,000 numbers; per-number 422 for non-E.164)",
                "requestBody": _body("LookupRequest"),
                "responses": {"200": _envelope(_OBJECT, "One result per number"), **_errors(400, 401, 415, 422)},
            }
        },
    }
