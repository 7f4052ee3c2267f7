"""Canceling ClickSend's scheduled messages: ``PUT /v3/sms/{message_id}/cancel`` and
``PUT /v3/sms/cancel-all`` (SDK ``SmsApi.cancel_sms`` / ``cancel_all_sms``).

A message sent with a ``schedule`` in the future waits as ``Scheduled`` in the history; canceled,
it reads ``Cancelled`` and never goes out. ``cancel-all`` takes an optional ``custom_string`` to
cancel only the messages that carry it, and answers ``data.count``. ``data`` of a single cancel is
deprecated and null, as the SDK's ``CancelSms`` model says.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from lynsms.simulator.http import read_json
from lynsms.simulator.messages import SimMessage
from lynsms.simulator.providers.clicksend import render as cw
from lynsms.simulator.state import JournalEntry

if TYPE_CHECKING:
    from lynsms.simulator.providers.clicksend.handlers import ClickSend


async def cancel(clicksend: ClickSend, request: Request, entry: JournalEntry) -> Response:
    account = clicksend.authenticated(request, entry)
    message = clicksend.message(request.path_params["message_id"].upper())
    if message is None or message.account != account:
        return clicksend.error(404, "Message not found.")
    entry.message_ids = [message.id]
    if not _cancel(clicksend, message):
        return clicksend.error(400, "This message is not scheduled and cannot be cancelled.")
    return cw.envelope(200, "SUCCESS", "Message has been cancelled.", None)


async def cancel_all(clicksend: ClickSend, request: Request, entry: JournalEntry) -> Response:
    account = clicksend.authenticated(request, entry)
    # The SDK sends no body at all when no custom_string is given.
    body: dict[str, Any] = await read_json(request) if request.headers.get("content-length", "0") != "0" else {}
    custom = body.get("custom_string")
    if custom is not None and not isinstance(custom, str):
        return clicksend.error(400, "The custom_string field must be a string.")
    canceled = [
        m.id
        for m in list(clicksend.messages_of(account))
        if (custom is None or m.submission.client_ref == custom) and _cancel(clicksend, m)
    ]
    entry.message_ids = canceled
    return cw.envelope(200, "SUCCESS", f"{len(canceled)} sms messages have been cancelled.", {"count": len(canceled)})


def _cancel(clicksend: ClickSend, message: SimMessage) -> bool:
    if not clicksend.core.scheduled.cancel(message.id):
        return False
    clicksend.move(message, cw.CANCELLED, None)
    return True
