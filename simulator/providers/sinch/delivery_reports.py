"""Sinch's ``GET /xms/v1/{id}/delivery_reports`` (SDK ``delivery_reports.list``): the latest
recipient delivery report of every message of the account, newest first, paged.

Filters as Sinch documents them: ``start_date`` (default 24 hours ago) and ``end_date`` on the
report time, ``status`` and ``code`` (comma-separated), ``client_reference``, ``page`` and
``page_size`` (1-100, default 30). Anything else is refused with a 400, never ignored.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import Response

from lynsms.simulator.http import JSONResponse
from lynsms.simulator.providers.base import BadParam, ProviderError, int_param
from lynsms.simulator.providers.sinch.filters import window
from lynsms.simulator.providers.sinch.parse import Invalid
from lynsms.simulator.state import JournalEntry

if TYPE_CHECKING:
    from lynsms.simulator.providers.sinch.handlers import Sinch

_CODE: Final = re.compile(r"-?[0-9]{1,9}")  # Sinch status codes are small integers
KNOWN: Final = frozenset({"page", "page_size", "start_date", "end_date", "status", "code", "client_reference"})
DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE = 30, 100


async def list_reports(sinch: Sinch, request: Request, entry: JournalEntry) -> Response:
    account = sinch.authenticated(request, entry)
    params = request.query_params
    try:
        start, end = window(params, KNOWN, sinch.now())
        codes_text = [c.strip() for c in params.get("code", "").split(",") if c.strip()]
        if not all(_CODE.fullmatch(c) for c in codes_text):
            raise Invalid("syntax_invalid_parameter_format", "code: expected integers")
        page = int_param(params, "page", 0, 0)
        size = int_param(params, "page_size", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    except Invalid as exc:
        raise ProviderError(sinch.error(400, exc.text, exc.code), detail=exc.text) from None
    except BadParam as exc:
        raise ProviderError(sinch.error(400, str(exc), "syntax_invalid_parameter_format")) from None
    statuses = {s.strip().lower() for s in params.get("status", "").split(",") if s.strip()}
    codes = {int(c) for c in codes_text}
    reference = params.get("client_reference")
    found: list[dict[str, Any]] = []
    for message in reversed(list(sinch.messages_of(account))):
        if not message.reports or message.updated_at < start or (end is not None and message.updated_at >= end):
            continue
        report = message.reports[-1]
        if statuses and str(report.get("status", "")).lower() not in statuses:
            continue
        if codes and report.get("code") not in codes:
            continue
        if reference is not None and report.get("client_reference") != reference:
            continue
        found.append(report)
    shown = found[page * size : (page + 1) * size]
    return JSONResponse({"count": len(found), "page": page, "page_size": len(shown), "delivery_reports": shown})
