"""The control API of handsets that reply: ``/_sim/inbound`` and ``/_sim/inbound/urls``.

POST   /_sim/inbound            {"provider", "from", "to", "body", "account"?}: a handset sends an SMS;
                                202 with where it goes, 409 no_inbound_url when nothing is registered
GET    /_sim/inbound            inbound messages (filters provider, to, from) with their push attempts
POST   /_sim/inbound/urls       {"provider", "url", "account"?, "number"?, "auth_token"?}: where a
                                provider pushes inbound messages (for providers without an API for it)
GET    /_sim/inbound/urls       every registration, however it was made
DELETE /_sim/inbound/urls[/{id}] forget all (or ?provider=) registrations, or one
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from lynsms.gateway.providers.names import PROVIDER_NAMES, ProviderName
from lynsms.simulator.http import WireProblem, read_json
from lynsms.simulator.inbound import Inbound, NoInboundUrl
from lynsms.simulator.numbers import lookup

MAX_BODY: Final = 1600


class _Bad(ValueError):
    pass


def routes(providers: Mapping[ProviderName, Any], sim: Inbound) -> list[Route]:
    async def send(request: Request) -> Response:
        try:
            data = await _body(request)
            provider = _provider(data)
            sender = _text(data, "from")
            number = lookup(sender)
            if number is None:
                raise _Bad(f"from: {sender!r} is not a phone number (use E.164, e.g. +12025550143)")
            to = _text(data, "to")
            body = _text(data, "body")
            if len(body) > MAX_BODY:
                raise _Bad(f"body: at most {MAX_BODY} characters")
            account = _optional(data, "account")
            _only(data, ("provider", "from", "to", "body", "account"))
        except _Bad as exc:
            return _error(400, "invalid_request", str(exc))
        try:
            message = sim.receive(providers[provider], number.e164, to, body, account)
        except NoInboundUrl as exc:
            return _error(409, "no_inbound_url", f"{exc}; register one (POST /_sim/inbound/urls) first")
        return JSONResponse({"status": "queued", **message.to_json()}, status_code=202)

    async def listing(request: Request) -> Response:
        params = request.query_params
        found = [
            m.to_json()
            for m in sim.messages
            if all(
                params.get(key) in (None, value)
                for key, value in (("provider", m.provider), ("to", m.to), ("from", m.sender))
            )
        ]
        return JSONResponse({"inbound": found, "count": len(found)})

    async def register(request: Request) -> Response:
        try:
            data = await _body(request)
            provider = _provider(data)
            url = _text(data, "url")
            if not url.startswith(("http://", "https://")):
                raise _Bad(f"url: {url!r} is not an http(s) URL")
            _only(data, ("provider", "url", "account", "number", "auth_token"))
            registration = sim.register(
                provider,
                url,
                account=_optional(data, "account"),
                number=_optional(data, "number"),
                secret=_optional(data, "auth_token") or "",
            )
        except _Bad as exc:
            return _error(400, "invalid_request", str(exc))
        return JSONResponse(registration.to_json(), status_code=201)

    async def registrations(request: Request) -> Response:
        return JSONResponse({"urls": [r.to_json() for r in sim.registrations]})

    async def clear(request: Request) -> Response:
        provider = request.query_params.get("provider")
        if provider is not None and provider not in PROVIDER_NAMES:
            return _error(400, "invalid_request", f"unknown provider {provider!r}")
        return JSONResponse({"status": "cleared", "count": sim.clear_registrations(provider)})

    async def forget(request: Request) -> Response:
        if sim.unregister(request.path_params["registration_id"]):
            return Response(status_code=204)
        return _error(404, "not_found", f"no inbound URL registration {request.path_params['registration_id']!r}")

    return [
        Route("/_sim/inbound", send, methods=["POST"]),
        Route("/_sim/inbound", listing, methods=["GET"]),
        Route("/_sim/inbound/urls", register, methods=["POST"]),
        Route("/_sim/inbound/urls", registrations, methods=["GET"]),
        Route("/_sim/inbound/urls", clear, methods=["DELETE"]),
        Route("/_sim/inbound/urls/{registration_id}", forget, methods=["DELETE"]),
    ]


async def _body(request: Request) -> dict[str, Any]:
    try:
        return await read_json(request)
    except WireProblem as problem:
        raise _Bad(problem.detail) from None


def _provider(data: Mapping[str, Any]) -> ProviderName:
    value = data.get("provider")
    for name in PROVIDER_NAMES:
        if value == name:
            return name
    raise _Bad(f"provider: expected one of {', '.join(PROVIDER_NAMES)}, got {value!r}")


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _Bad(f"{key}: a non-empty string is required")
    return value


def _optional(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise _Bad(f"{key}: must be a non-empty string when given")
    return value


def _only(data: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise _Bad(f"unknown field {unknown[0]!r}; allowed: {', '.join(allowed)}")


def _error(status: int, code: str, message: str) -> Response:
    return JSONResponse({"error": code, "message": message, "status": status}, status_code=status)
