"""HTTP endpoints, envelopes, auth, request bodies and idempotency.

Every answer is an envelope: ``{"success": true, "data", "meta"}`` or ``{"success": false,
"error", "meta"}``. Endpoints are wrapped by ``_endpoint`` so that any error, including a bug,
becomes an error envelope here, with the request id, rather than an HTML page or a traceback.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse as StarletteJSONResponse
from starlette.responses import Response
from starlette.routing import Route

from lynsms.gateway import jsonbody, twoway_api, validation
from lynsms.gateway.config import ApiKey
from lynsms.gateway.delivery import inbound
from lynsms.gateway.delivery.tracking import Tracking
from lynsms.gateway.errors import (
    CODE_FOR_HTTP_STATUS,
    ERROR_STATUS,
    GatewayError,
    HeadersTooLarge,
    IdempotencyInProgress,
    IdempotencyKeyReused,
    InternalError,
    Interrupted,
    InvalidApiKey,
    InvalidIdempotencyKey,
    InvalidParameter,
    MessageNotFound,
    PayloadTooLarge,
    ProviderRejected,
    RecipientOptedOut,
    RequestError,
    RoutingExhausted,
    Unauthorized,
    UnsupportedMediaType,
)
from lynsms.gateway.models import ACCEPTED_STATUSES, Message, new_request_id
from lynsms.gateway.openapi import document
from lynsms.gateway.service import Gateway, Parked
from lynsms.gateway.store.messages import KeyRef
from lynsms.header_limit import MAX_HEADER_BYTES

log = logging.getLogger("lynsms.gateway")

MAX_REQUEST_BYTES: Final = 1024 * 1024
_IDEMPOTENCY_KEY: Final = re.compile(validation.IDEMPOTENCY_KEY_PATTERN)

Payload = dict[str, Any]  # an envelope without its meta: what idempotency stores and replays
# A failed message's error code -> the error a send answers with. Codes not here (a delivery
# report's: delivery_failed) belong to a message a provider took: it answers as sent.
DELIVERY_ERRORS: Final[dict[str, type[GatewayError]]] = {
    "provider_rejected": ProviderRejected,
    "recipient_opted_out": RecipientOptedOut,
    "routing_exhausted": RoutingExhausted,
    "interrupted": Interrupted,  # replayed: the gateway stopped before a provider took it
}
Handler = Callable[[Request], Awaitable[Response]]
Outcome = tuple[int, Payload]
# How a send or bulk answers for its messages: when it ran, and when a replay finds it cut short.
Answer = Callable[[Sequence[Message]], Outcome]


class JSONResponse(StarletteJSONResponse):
    """Every answer the API gives, rendered by orjson: the same compact UTF-8 JSON as Starlette's
    encoder for these payloads (no NaN ever reaches them), about five times faster."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


def request_id(request: Request) -> str:
    """Made on first use and kept in the ASGI scope, which the endpoint and Starlette's exception
    handlers share (each builds its own Request)."""
    rid: str | None = request.scope.get("lynsms.request_id")
    if rid is None:
        rid = request.scope["lynsms.request_id"] = new_request_id()
    return rid


def render(request: Request, status: int, payload: Payload, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({**payload, "meta": {"request_id": request_id(request)}}, status_code=status, headers=headers)


def ok(data: Any) -> Payload:
    return {"success": True, "data": data}


def error_payload(error: GatewayError) -> Payload:
    return {"success": False, "error": error.body()}


def error_response(request: Request, error: GatewayError) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Bearer realm="lynsms"'} if error.status == 401 else None
    return render(request, error.status, error_payload(error), headers)


def _gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


def _endpoint(handler: Handler, *, auth: bool = True) -> Handler:
    async def endpoint(request: Request) -> Response:
        try:
            if auth:
                request.state.api_key = authenticate(request, request.app.state.api_keys)
            return await handler(request)
        except GatewayError as exc:
            return error_response(request, exc)
        except asyncio.CancelledError:
            # A shutdown that could not wait for this request: our envelope, not the server's
            # plain-text 500. (A send or bulk parks its messages first; see ``idempotent``.)
            return error_response(request, Interrupted("the gateway is shutting down; retry the request"))
        except Exception:
            log.exception(
                "unhandled error in %s %s (request %s)", request.method, request.url.path, request_id(request)
            )
            return error_response(request, InternalError("internal error; the gateway logged it with this request_id"))

    return endpoint


def authenticate(request: Request, keys: Sequence[ApiKey]) -> ApiKey:
    header = request.headers.get("authorization")
    if header is None:
        raise Unauthorized("missing Authorization header; send 'Authorization: Bearer <api key>'")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("the Authorization header must be 'Bearer <api key>'")
    presented = token.encode()
    match: ApiKey | None = None
    for key in keys:  # compare against every key, no early exit: timing says nothing about which matched
        if hmac.compare_digest(key.key.encode(), presented):
            match = key
    if match is None:
        raise InvalidApiKey("the API key is not valid")
    return match


async def read_json(request: Request) -> dict[str, Any]:
    media, _, params = request.headers.get("content-type", "").partition(";")
    media = media.strip().lower()
    if media != "application/json" and not (media.startswith("application/") and media.endswith("+json")):
        raise UnsupportedMediaType(f"send the body as application/json, not {media or 'no Content-Type'}")
    charset = params.strip().lower()
    if charset.startswith("charset=") and charset[8:].strip('"') not in ("utf-8", "utf8"):
        raise UnsupportedMediaType("JSON bodies must be UTF-8")
    declared = request.headers.get("content-length", "")
    if declared.isdecimal() and int(declared) > MAX_REQUEST_BYTES:
        raise PayloadTooLarge(f"the request body is over {MAX_REQUEST_BYTES} bytes")
    chunks, size = [], 0
    # Count what actually arrives: Content-Length can lie, and chunked bodies have none.
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_REQUEST_BYTES:
            raise PayloadTooLarge(f"the request body is over {MAX_REQUEST_BYTES} bytes")
        chunks.append(chunk)
    return jsonbody.parse_json(b"".join(chunks))


async def idempotent(
    request: Request,
    body: dict[str, Any],
    run: Callable[[KeyRef | None], Awaitable[list[Message]]],
    answer: Answer,
) -> Response:
    """Run ``run`` once per (API key, Idempotency-Key); repeats get the stored answer. ``run``
    stores and routes the messages (given the key, stored with them); ``answer`` renders them.

    Called only after validation, so a rejected request never burns its key. A request a
    restart or shutdown cut short replays its messages as they are now: sent, failed, or still
    unconfirmed, each as reconciliation has settled it so far.
    """
    key = request.headers.get("idempotency-key")
    if key is None:
        return render(request, *await _run(run, None, answer))
    if not _IDEMPOTENCY_KEY.fullmatch(key):
        raise InvalidIdempotencyKey(
            f"Idempotency-Key must be 1 to {validation.MAX_IDEMPOTENCY_KEY} printable ASCII characters"
        )
    store = _gateway(request).store
    # Scope by a hash of the API key: the store never holds a key, and two keys never share.
    scope = hashlib.sha256(request.state.api_key.key.encode()).hexdigest()
    fingerprint = hashlib.sha256(
        (request.url.path + "\n" + json.dumps(body, sort_keys=True, ensure_ascii=False)).encode()
    ).hexdigest()
    claim = store.claim_key(scope, key, fingerprint)
    if claim.state == "mismatch":
        raise IdempotencyKeyReused("this Idempotency-Key was already used with a different request")
    if claim.state == "in_progress":
        raise IdempotencyInProgress("a request with this Idempotency-Key is still in progress; retry later")
    replayed = {"Idempotent-Replayed": "true"}
    if claim.state == "interrupted":
        return render(request, *answer(store.messages(claim.message_ids)), replayed)
    if claim.state == "replay":
        assert claim.status_code is not None and claim.response is not None
        return render(request, claim.status_code, claim.response, replayed)
    try:
        status, payload = await _run(run, (scope, key), answer)
    except RequestError:
        store.release_key(scope, key)
        raise
    except Interrupted:
        store.interrupt_key(scope, key)
        raise
    except Exception:
        # Messages may already be out: keep the key so a retry cannot send them twice.
        log.exception("send failed under Idempotency-Key (request %s)", request_id(request))
        status = ERROR_STATUS["internal_error"]
        payload = error_payload(InternalError("internal error; the gateway logged it with this request_id"))
    store.finish_key(scope, key, status, payload)
    return render(request, status, payload)


async def _run(run: Callable[[KeyRef | None], Awaitable[list[Message]]], key: KeyRef | None, answer: Answer) -> Outcome:
    try:
        return answer(await run(key))
    except Parked as parked:
        summary = [{"id": m.id, "to": m.to, "status": m.status} for m in parked.messages]
        raise Interrupted(
            "the gateway shut down while this request was in flight: messages a provider was still answering "
            "for are unconfirmed until the provider is asked, the others failed with interrupted; none is resent. "
            "Replay the request with the same Idempotency-Key, or fetch the messages, for their outcome",
            messages=summary,
        ) from None


def _delivery_outcome(messages: Sequence[Message]) -> Outcome:
    (message,) = messages
    if message.status == "unconfirmed":
        return 202, ok(message.to_json())
    failure = message.error if message.status == "failed" else None
    kind = DELIVERY_ERRORS.get(failure.code) if failure else None
    if failure is None or kind is None:
        return 201, ok(message.to_json())
    error = kind(failure.message, message_id=message.id, attempts=[a.to_json() for a in message.attempt_log])
    return error.status, error_payload(error)


def _bulk_outcome(messages: Sequence[Message]) -> Outcome:
    sent = sum(1 for m in messages if m.status in ACCEPTED_STATUSES)
    unconfirmed = sum(1 for m in messages if m.status == "unconfirmed")
    items = [
        {
            "id": m.id,
            "to": m.to,
            "status": m.status,
            "cost": float(m.cost),
            "error": m.error.to_json() if m.error else None,
        }
        for m in messages
    ]
    result = {
        "object": "bulk_result",
        "total": len(messages),
        "sent": sent,
        "failed": len(messages) - sent - unconfirmed,
        "unconfirmed": unconfirmed,
        "messages": items,
    }
    return 201, ok(result)


async def send(request: Request) -> Response:
    gateway = _gateway(request)
    body = await read_json(request)
    parsed = validation.send_request(body, gateway.context)

    async def run(key: KeyRef | None) -> list[Message]:
        return [await gateway.send(parsed, api_key=request.state.api_key.name, key=key)]

    return await idempotent(request, body, run, _delivery_outcome)


async def bulk(request: Request) -> Response:
    gateway = _gateway(request)
    body = await read_json(request)
    # "lookup" is the two-way extension of the bulk body; the rest is validated as before.
    lookup = twoway_api.bulk_lookup_flag(body)
    parsed = validation.bulk_request({k: v for k, v in body.items() if k != "lookup"}, gateway.context)

    async def run(key: KeyRef | None) -> list[Message]:
        unreachable = await twoway_api.unreachable(request, parsed.recipients) if lookup else set()
        return await gateway.bulk(parsed, api_key=request.state.api_key.name, key=key, unreachable=unreachable)

    return await idempotent(request, body, run, _bulk_outcome)


async def quote(request: Request) -> Response:
    gateway = _gateway(request)
    parsed = validation.quote_request(await read_json(request))
    return render(request, 200, ok(gateway.quote(parsed)))


async def list_messages(request: Request) -> Response:
    gateway = _gateway(request)
    params = request.query_params
    for key in params:
        if len(params.getlist(key)) > 1:
            raise InvalidParameter(key, f"{key} was given more than once")
    query = validation.list_query(dict(params), gateway.context, list(params.keys()))
    page, next_seq = gateway.store.page(
        limit=query.limit,
        after_seq=query.after_seq,
        status=query.status,
        provider=query.provider,
        reference=query.reference,
        to=query.to,
    )
    data = {
        "object": "list",
        "messages": [m.to_json() for m in page],
        "has_more": next_seq is not None,
        "next_cursor": validation.encode_cursor(next_seq) if next_seq is not None else None,
    }
    return render(request, 200, ok(data))


def _message_or_404(request: Request) -> Message:
    message_id = request.path_params["message_id"]
    message = _gateway(request).store.get(message_id)
    if message is None:
        raise MessageNotFound(f"no message with id {message_id!r}", message_id=message_id)
    return message


async def get_message(request: Request) -> Response:
    return render(request, 200, ok(_message_or_404(request).to_json()))


async def message_events(request: Request) -> Response:
    message = _message_or_404(request)
    events = [event.to_json() for event in _gateway(request).store.events(message.id)]
    tracking: Tracking | None = getattr(request.app.state, "tracking", None)
    if tracking is not None:  # with the customer webhooks announcing its changes, and how they went
        events = tracking.timeline(message.id, events)
    return render(request, 200, ok({"object": "list", "message_id": message.id, "events": events}))


async def provider_webhook(request: Request) -> Response:
    return render(request, 200, ok(await inbound.receive(request)))


async def health(request: Request) -> Response:
    return render(request, 200, ok(_gateway(request).health()))


async def openapi(request: Request) -> Response:
    return JSONResponse(document(_gateway(request).context))


async def http_exception(request: Request, exc: Exception) -> Response:
    """Framework-raised errors (no route, wrong method) in the envelope."""
    assert isinstance(exc, HTTPException)
    code = CODE_FOR_HTTP_STATUS.get(exc.status_code, "internal_error" if exc.status_code >= 500 else "not_found")
    payload = {"success": False, "error": {"code": code, "message": _http_message(request, exc)}}
    return render(request, exc.status_code, payload, dict(exc.headers or {}))


def _http_message(request: Request, exc: HTTPException) -> str:
    if exc.status_code == 404:
        return f"no such endpoint: {request.method} {request.url.path}"
    if exc.status_code == 405:
        return f"{request.method} is not allowed on {request.url.path}"
    return str(exc.detail)


async def headers_too_large(request: Request) -> Response:
    return error_response(request, HeadersTooLarge(f"the request headers add up to more than {MAX_HEADER_BYTES} bytes"))


async def server_error(request: Request, exc: Exception) -> Response:
    """Last resort for errors outside endpoints (middleware, lifespan not run)."""
    log.error("unhandled error (request %s)", request_id(request), exc_info=exc)
    return error_response(request, InternalError("internal error; the gateway logged it with this request_id"))


routes = [  # Starlette tries them in order: the sends first
    Route("/api/v1/messages/send", _endpoint(send), methods=["POST"]),
    Route("/api/v1/messages/bulk", _endpoint(bulk), methods=["POST"]),
    Route("/api/health", _endpoint(health, auth=False), methods=["GET"]),
    Route("/api/openapi.json", _endpoint(openapi, auth=False), methods=["GET"]),
    Route("/api/v1/messages/quote", _endpoint(quote), methods=["POST"]),
    Route("/api/v1/messages", _endpoint(list_messages), methods=["GET"]),
    Route("/api/v1/messages/{message_id}", _endpoint(get_message), methods=["GET"]),
    Route("/api/v1/messages/{message_id}/events", _endpoint(message_events), methods=["GET"]),
    # Providers call this with no Bearer key; Twilio's signature is checked inside.
    Route("/api/v1/webhooks/{provider}", _endpoint(provider_webhook, auth=False), methods=["POST"]),
    *twoway_api.routes(_endpoint),
]
