"""Twilio's Media subresource of a Message: ``.../Messages/{sid}/Media.json`` (list) and
``.../Media/{media_sid}.json`` (fetch, delete), as ``twilio`` 9.13's ``MediaInstance`` reads them
(``client.messages(sid).media.list()``). An MMS lists one Media per ``MediaUrl`` it was sent
with; the simulator never downloads them, so ``content_type`` is guessed from the URL's extension
(Twilio reads it from the fetched file). Media sids are derived from the message sid, so they
stay the same between runs without drawing from the id generator."""

from __future__ import annotations

import hashlib
import mimetypes
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from starlette.requests import Request
from starlette.responses import Response

from lynsms.simulator.http import JSONResponse
from lynsms.simulator.messages import SimMessage
from lynsms.simulator.providers.base import ProviderError
from lynsms.simulator.providers.twilio import parse
from lynsms.simulator.providers.twilio.render import Code, default_code, message_uri, rfc2822
from lynsms.simulator.state import JournalEntry

if TYPE_CHECKING:
    from lynsms.simulator.providers.twilio.handlers import Twilio

_FILTERS = (("DateCreated", "="), ("DateCreated<", "<"), ("DateCreated>", ">"))


def media_sid(message: SimMessage, index: int) -> str:
    return "ME" + hashlib.sha256(f"{message.id}/{index}".encode()).hexdigest()[:32]


def items(message: SimMessage) -> list[dict[str, Any]]:
    """The message's Media resources, in the order of its MediaUrls, deleted ones left out."""
    deleted: set[str] = message.extra.get("deleted_media", set())
    base = message_uri(message).removesuffix(".json")
    found = []
    for index, url in enumerate(message.submission.extra.get("media_urls", ())):
        sid = media_sid(message, index)
        if sid in deleted:
            continue
        kind = mimetypes.guess_type(urlparse(url).path)[0] or "application/octet-stream"
        created = rfc2822(message.created_at)
        found.append(
            {
                "account_sid": message.account,
                "content_type": kind,
                "date_created": created,
                "date_updated": created,
                "parent_sid": message.id,
                "sid": sid,
                "uri": f"{base}/Media/{sid}.json",
            }
        )
    return found


async def list_media(twilio: Twilio, request: Request, entry: JournalEntry) -> Response:
    message = twilio._owned(request, entry)
    params = request.query_params
    unknown = sorted(set(params) - {name for name, _ in _FILTERS} - {"PageSize", "Page", "PageToken"})
    if unknown:
        raise twilio._invalid(default_code(400), f"Invalid parameter: {unknown[0]}")
    for name, op in _FILTERS:
        if name in params:
            bound = parse.parse_when(params[name])
            if bound is None:
                raise twilio._invalid(default_code(400), f"Invalid {name}: {params[name]}")
            if not parse._compare(message.created_at, op, bound):
                return _page(message, [])
    return _page(message, items(message))


async def fetch_media(twilio: Twilio, request: Request, entry: JournalEntry) -> Response:
    message = twilio._owned(request, entry)
    return JSONResponse(_one(twilio, request, message))


async def delete_media(twilio: Twilio, request: Request, entry: JournalEntry) -> Response:
    message = twilio._owned(request, entry)
    found = _one(twilio, request, message)
    message.extra.setdefault("deleted_media", set()).add(found["sid"])
    return Response(status_code=204)


def _one(twilio: Twilio, request: Request, message: SimMessage) -> dict[str, Any]:
    wanted = request.path_params["media_sid"]
    found = next((m for m in items(message) if m["sid"] == wanted), None)
    if found is None:
        text = f"The requested resource {request.url.path} was not found"
        raise ProviderError(twilio.error(404, text, Code.NOT_FOUND), "not_found")
    return found


def _page(message: SimMessage, media: list[dict[str, Any]]) -> Response:
    uri = message_uri(message).removesuffix(".json") + "/Media.json"
    return JSONResponse(
        {
            "media_list": media,
            "first_page_uri": f"{uri}?PageSize=50&Page=0",
            "next_page_uri": None,
            "previous_page_uri": None,
            "page": 0,
            "page_size": 50,
            "uri": f"{uri}?PageSize=50&Page=0",
            "start": 0,
            "end": max(len(media) - 1, 0),
        }
    )
