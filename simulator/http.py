"""Reading request bodies safely, shared by every provider.

Parsing problems are raised as ``WireProblem``; the provider endpoint wrapper turns each into that
provider's own error response, so no provider module repeats the size cap, the charset check or
the JSON/form decoding.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal
from urllib.parse import unquote_plus

import httpx
import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse as StarletteJSONResponse

from lynsms.gateway.providers.transport import Http11Transport

MAX_BODY_BYTES = 1024 * 1024  # real providers refuse far smaller bodies; 1 MiB is plenty for 1,000 messages

ProblemKind = Literal["too_large", "content_type", "encoding", "json", "form", "shape"]


class WireProblem(Exception):
    def __init__(self, kind: ProblemKind, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


# Where ``read_body`` leaves the body in the ASGI scope, for the journal's record of the exchange.
RAW_BODY = "lynsms.raw_body"


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The raw body, refusing more than ``limit`` bytes without buffering all of it."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdecimal() and int(declared) > limit:
        raise WireProblem("too_large", f"request body exceeds {limit} bytes")
    # The ASGI messages read directly: Request.stream()'s async generator costs more than the
    # copy on this path, which every send takes.
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise WireProblem("too_large", f"request body exceeds {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            request.scope[RAW_BODY] = body
            return body


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WireProblem("encoding", f"request body is not valid UTF-8 (byte {exc.start})") from None


class JSONResponse(StarletteJSONResponse):
    """Every provider answer, rendered by orjson: the same compact UTF-8 JSON as Starlette's
    encoder for these payloads, about five times faster (Starlette builds an encoder per call)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


def parse_urlencoded(text: str) -> list[tuple[str, str]]:
    """``a=1&b=x+y`` as pairs, blank values kept; raises UnicodeDecodeError on bad %-escapes.

    ``urllib.parse.parse_qsl`` does the same with more generality than a form body needs; this
    runs on every Twilio send and unquotes only the fields that are escaped.
    """
    pairs: list[tuple[str, str]] = []
    for part in text.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        if "%" in name or "+" in name:
            name = unquote_plus(name, errors="strict")
        if "%" in value or "+" in value:
            value = unquote_plus(value, errors="strict")
        pairs.append((name, value))
    return pairs


async def read_json(request: Request) -> dict[str, Any]:
    """A JSON object body; anything else is a ``WireProblem``."""
    if _media_type(request) not in ("application/json", ""):
        raise WireProblem(
            "content_type", f"unsupported content type {_media_type(request)!r}, expected application/json"
        )
    raw = await read_body(request)
    try:
        # orjson, not json: it refuses what the providers' parsers refuse and json lets through, a
        # lone surrogate ("\ud800": unstorable and unrenderable) and NaN, and it stops at 1,024
        # levels of nesting with an error instead of a RecursionError.
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        _decode(raw)  # "not valid UTF-8 (byte n)" says more than orjson does
        raise WireProblem("json", f"malformed JSON: {exc}") from None
    if not isinstance(data, dict):
        raise WireProblem("shape", "request body must be a JSON object")
    return data


class Form:
    """A url-encoded form: text fields only, repeated keys keep every value (Twilio ``MediaUrl``).

    Lighter than Starlette's ``FormData``, which also models file uploads a url-encoded body
    never has; this sits on the hot path of every Twilio send.
    """

    __slots__ = ("_last", "_pairs")

    def __init__(self, pairs: list[tuple[str, str]] | None = None) -> None:
        self._pairs = pairs or []
        self._last = dict(self._pairs)

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._last.get(name, default)

    def getlist(self, name: str) -> list[str]:
        return [value for key, value in self._pairs if key == name]

    def __contains__(self, name: object) -> bool:
        return name in self._last

    def items(self) -> list[tuple[str, str]]:
        return list(self._last.items())


async def read_form(request: Request) -> Form:
    """An application/x-www-form-urlencoded body; repeated keys keep every value (Twilio MediaUrl)."""
    if _media_type(request) != "application/x-www-form-urlencoded":
        raise WireProblem(
            "content_type",
            f"unsupported content type {_media_type(request)!r}, expected application/x-www-form-urlencoded",
        )
    text = _decode(await read_body(request))
    try:
        pairs = parse_urlencoded(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WireProblem("form", f"malformed form body: {exc}") from None
    return Form(pairs)


@dataclass(frozen=True, slots=True)
class BasicAuth:
    username: str
    password: str


def basic_auth(request: Request) -> BasicAuth | None:
    """The Basic credentials of a request, or None when absent or malformed."""
    return _basic_auth(request.headers.get("authorization", ""))


@lru_cache(maxsize=256)
def _basic_auth(header: str) -> BasicAuth | None:
    # Cached: a client sends the same header on every request, and handlers may ask twice.
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    if not sep or not username:
        return None
    return BasicAuth(username, password)


def bearer_token(request: Request, scheme: str = "bearer") -> str | None:
    """The credential after ``scheme`` in the Authorization header (``Bearer``, Infobip's ``App``...)."""
    given, _, value = request.headers.get("authorization", "").partition(" ")
    value = value.strip()
    if given.lower() != scheme.lower() or not value:
        return None
    return value


def outbound_client(max_connections: int, timeout: float) -> httpx.AsyncClient:
    """The client for what the simulator POSTs (status callbacks, inbound pushes).

    The gateway's lean HTTP/1.1 transport: httpx's own pool costs about a millisecond of CPU a
    request, a third of what a push costs. trust_env off: a developer's HTTP(S)_PROXY must not
    swallow requests to 127.0.0.1.
    """
    return httpx.AsyncClient(
        transport=Http11Transport(max_connections=max_connections),
        timeout=timeout,
        trust_env=False,
        follow_redirects=False,
    )
