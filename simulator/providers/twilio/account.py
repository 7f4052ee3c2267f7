"""Twilio's Account resource and its Balance: ``GET /2010-04-01/Accounts/{sid}.json`` and
``GET /2010-04-01/Accounts/{sid}/Balance.json`` (SDK ``client.api.v2010.accounts(sid).fetch()``
and ``client.api.v2010.account.balance.fetch()``), as ``twilio`` 9.13's ``AccountInstance`` and
``BalanceInstance`` read them. The balance is the simulator's (``simulator.accounts``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from lynsms.simulator import accounts
from lynsms.simulator.http import JSONResponse
from lynsms.simulator.providers.twilio.render import PREFIX, Code, rfc2822
from lynsms.simulator.state import JournalEntry

if TYPE_CHECKING:
    from lynsms.simulator.providers.twilio.handlers import Twilio


async def fetch(twilio: Twilio, request: Request, entry: JournalEntry) -> Response:
    sid = twilio.authenticated(request, entry)
    held = accounts.account(twilio.state, twilio.core.engine, twilio.name, sid)
    created = rfc2822(twilio.now())
    base = f"{PREFIX}/Accounts/{sid}"
    resources = ("Messages", "IncomingPhoneNumbers", "Balance", "Calls", "Usage/Records", "Keys", "Addresses")
    body = {
        "auth_token": "",  # Twilio shows the token only to the account itself; the simulator never stores it
        "date_created": created,
        "date_updated": created,
        "friendly_name": f"{sid} (simulated)",
        "owner_account_sid": sid,
        "sid": sid,
        "status": "suspended" if held.suspended else "active",
        "subresource_uris": {r.lower().replace("/records", "_records"): f"{base}/{r}.json" for r in resources},
        "type": "Full",
        "uri": f"{base}.json",
    }
    return JSONResponse(body)


async def balance(twilio: Twilio, request: Request, entry: JournalEntry) -> Response:
    sid = twilio.authenticated(request, entry)
    held = accounts.account(twilio.state, twilio.core.engine, twilio.name, sid)
    if held.suspended:
        return twilio.error(401, "Authenticate", Code.AUTHENTICATE)
    return JSONResponse({"account_sid": sid, "balance": f"{held.balance:.5f}", "currency": held.currency})
