"""Infobip's ``GET /account/1/balance``: ``{"balance": 47.79, "currency": "EUR"}``, the
simulator's balance for the API key (``simulator.accounts``). Infobip's Python SDK has no call for
it (its Node SDK and the public API reference do). A v1 path: errors in the ``requestError`` format."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from lynsms.simulator import accounts
from lynsms.simulator.http import JSONResponse
from lynsms.simulator.state import JournalEntry

if TYPE_CHECKING:
    from lynsms.simulator.providers.infobip.handlers import Infobip


async def balance(infobip: Infobip, request: Request, entry: JournalEntry) -> Response:
    key = infobip.authenticated(request, entry)
    held = accounts.account(infobip.state, infobip.core.engine, infobip.name, key)
    if held.suspended:
        return infobip.legacy(401, "Invalid login details")
    return JSONResponse({"balance": float(round(held.balance, 5)), "currency": held.currency})
