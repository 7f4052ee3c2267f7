"""ClickSend's ``GET /v3/account`` (SDK ``ManagementApi.view_account_details``): the account in
the REST v3 envelope, typed as the SDK's ``Account`` model reads it (``balance`` a string, flags
ints), with the simulator's balance for the username (``simulator.accounts``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from lynsms.simulator import accounts
from lynsms.simulator.providers.clicksend import render as cw
from lynsms.simulator.state import JournalEntry

if TYPE_CHECKING:
    from lynsms.simulator.providers.clicksend.handlers import ClickSend


async def details(clicksend: ClickSend, request: Request, entry: JournalEntry) -> Response:
    username = clicksend.authenticated(request, entry)
    held = accounts.account(clicksend.state, clicksend.core.engine, clicksend.name, username)
    if held.suspended:
        return clicksend.error(401, cw.AUTH_FAILED_MSG)
    user_id, subaccount_id = cw.account_numbers(username)
    data = {
        "user_id": user_id,
        "username": username,
        "user_email": f"{username}@example.com",
        "active": 1,
        "banned": 0,
        "balance": f"{held.balance:.6f}",
        "user_phone": "",
        "account": user_id,
        "account_name": f"{username} (simulated)",
        "country": "US",
        "default_country_sms": "US",
        "auto_recharge": 0,
        "low_credit_amount": "0.00",
        "setting_unicode_sms": 0,
        "timezone": "UTC",
        "on_trial": 0,
        "_currency": cw.CURRENCY,
        "_subaccount": {"subaccount_id": subaccount_id, "access_users": 1, "access_billing": 1},
    }
    return cw.envelope(200, "SUCCESS", "Here are your data.", data)
