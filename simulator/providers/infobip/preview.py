"""Infobip's ``POST /sms/1/preview`` (SDK ``SmsApi.preview_sms_message``): how a text will be split,
without sending it. The answer echoes ``originalText`` and one preview for the default
configuration: ``textPreview``, ``messageCount`` and ``charactersRemaining`` in the last part.
National language tables (``languageCode``) and transliteration are not emulated: asking for them
is a 400 naming the property, not a preview that silently ignores it. A v1 path, so errors come
in the ``requestError`` format.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from lynsms.gateway.segmentation import segment
from lynsms.simulator.http import JSONResponse, WireProblem, read_json
from lynsms.simulator.providers.base import ProviderError
from lynsms.simulator.state import JournalEntry

if TYPE_CHECKING:
    from lynsms.simulator.providers.infobip.handlers import Infobip

# Units one part holds: (single part, each part of a concatenated message).
_CAPACITY = {"GSM-7": (160, 153), "UCS-2": (70, 67)}


async def preview(infobip: Infobip, request: Request, entry: JournalEntry) -> Response:
    infobip.authenticated(request, entry)
    try:
        body = await read_json(request)
    except WireProblem as problem:
        raise ProviderError(infobip.legacy(400, problem.detail), detail=problem.detail) from None
    text = body.get("text")
    violations: list[tuple[str, str]] = []
    if not isinstance(text, str):
        violations.append(("text", "must not be null" if text is None else "must be a string"))
    for name in ("languageCode", "transliteration"):
        if body.get(name) not in (None, "", "NONE"):
            violations.append((name, "national language tables and transliteration are not emulated"))
    if violations or not isinstance(text, str):
        detail = "; ".join(f"{p}: {v}" for p, v in violations)
        raise ProviderError(infobip.legacy(400, "Bad request", violations), detail=detail)
    shape = segment(text)
    single, each = _CAPACITY.get(shape.encoding, (160, 153))
    capacity = single if shape.segments == 1 else each * shape.segments
    remaining = max(capacity - shape.units, 0)
    entry.outcome = {"kind": "preview"}
    return JSONResponse(
        {
            "originalText": text,
            "previews": [
                {
                    "textPreview": text,
                    "messageCount": shape.segments,
                    "charactersRemaining": remaining,
                    "configuration": {},
                }
            ],
        }
    )
