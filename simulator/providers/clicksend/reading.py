"""ClickSend's "mark as read" calls (SDK ``SmsApi.mark_sms_receipt_as_read``,
``mark_inbound_sms_as_read``, ``mark_specific_inbound_sms_message_as_read``):

- ``PUT /v3/sms/receipts-read`` ``{"date_before"?}``: the account's delivery receipts (those
  stamped before ``date_before``, or all) leave ``GET /v3/sms/receipts``; ``GET
  /v3/sms/receipts/{message_id}`` still answers them.
- ``PUT /v3/sms/inbound-read`` ``{"date_before"?}``: the same for inbound SMS and ``GET /v3/sms/inbound``.
- ``PUT /v3/sms/inbound-read/{message_id}``: one inbound SMS; ``data`` is how many were marked.

A message's receipts only ever grow, each stamped no earlier than the one before, so the receipts
read are a prefix of ``message.reports``: its length is all a message keeps (``RECEIPTS_READ``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import Response

from lynsms.simulator.http import read_json
from lynsms.simulator.messages import SimMessage
from lynsms.simulator.providers.base import Provider, ProviderError
from lynsms.simulator.providers.clicksend import render as cw
from lynsms.simulator.state import JournalEntry

if TYPE_CHECKING:
    from lynsms.simulator.inbound import Inbound
    from lynsms.simulator.providers.clicksend.handlers import ClickSend

RECEIPTS_READ: Final = "receipts_read"  # message.extra: how many of its receipts are read


def unread_receipts(message: SimMessage) -> list[dict[str, Any]]:
    return message.reports[message.extra.get(RECEIPTS_READ, 0) :]


async def optional_json(request: Request) -> dict[str, Any]:
    """A JSON object body, or {} when there is none (the SDKs send no body for optional fields)."""
    return await read_json(request) if request.headers.get("content-length", "0") != "0" else {}


async def date_before(clicksend: Provider[Any], request: Request) -> float:
    """The body's ``date_before`` (unix seconds; the legacy SDK sends it as a string), or infinity."""
    value = (await optional_json(request)).get("date_before")
    if value is None:
        return float("inf")
    if isinstance(value, str) and value.isascii() and value.isdecimal():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        message = "The date_before field must be a unix timestamp."
        raise ProviderError(clicksend.error(400, message), detail=message)
    return float(value)


async def receipts_read(clicksend: ClickSend, request: Request, entry: JournalEntry) -> Response:
    account = clicksend.authenticated(request, entry)
    before = await date_before(clicksend, request)
    for message in clicksend.messages_of(account):
        stamped = sum(1 for report in message.reports if report["timestamp"] < before)
        if stamped > message.extra.get(RECEIPTS_READ, 0):
            message.extra[RECEIPTS_READ] = stamped
    return cw.envelope(200, "SUCCESS", "Receipts have been marked as read.", None)


async def inbound_read(clicksend: Provider[Any], sim: Inbound, request: Request, entry: JournalEntry) -> Response:
    account = clicksend.authenticated(request, entry)
    before = await date_before(clicksend, request)
    for message in sim.of(clicksend.name, account):
        if message.received_at.timestamp() < before:
            message.pulled = True
    return cw.envelope(200, "SUCCESS", "Inbound messages have been marked as read.", None)


async def one_inbound_read(clicksend: Provider[Any], sim: Inbound, request: Request, entry: JournalEntry) -> Response:
    account = clicksend.authenticated(request, entry)
    wanted = request.path_params["message_id"].upper()
    found = [m for m in sim.of(clicksend.name, account) if m.id == wanted]
    if not found:
        return clicksend.error(404, "Inbound message not found.")
    for message in found:
        message.pulled = True
    return cw.envelope(200, "SUCCESS", "Receipt have been marked as read.", len(found))
