"""Infobip's scheduled-bulk management: ``/sms/1/bulks`` and ``/sms/1/bulks/status``.

A bulk is scheduled when its send named ``options.schedule.sendAt`` (v3) or ``messages[].sendAt``
(v2). The SDK's ``get_scheduled_sms_messages`` / ``reschedule_sms_messages`` read and move its
``sendAt``; ``get_scheduled_sms_messages_status`` / ``update_scheduled_sms_messages_status`` read
and set its status (``SmsBulkStatus``: PENDING, PAUSED, PROCESSING, CANCELED, FINISHED, FAILED; a
client may set PAUSED, PROCESSING or CANCELED). Both are v1 paths, so errors come in the older
``requestError`` format; an unknown bulk is a 404 NOT_FOUND.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import Response

from lynsms.simulator.http import JSONResponse, WireProblem, read_json
from lynsms.simulator.messages import SimMessage
from lynsms.simulator.providers.base import ProviderError
from lynsms.simulator.providers.infobip import render as wire
from lynsms.simulator.providers.infobip.parse import _Checker
from lynsms.simulator.state import JournalEntry

if TYPE_CHECKING:
    from lynsms.simulator.providers.infobip.handlers import Infobip

SETTABLE: Final = ("PAUSED", "PROCESSING", "CANCELED")


async def get_schedule(infobip: Infobip, request: Request, entry: JournalEntry) -> Response:
    bulk_id, members = _bulk(infobip, request, entry)
    return JSONResponse({"bulkId": bulk_id, "sendAt": _send_at(infobip, members)})


async def reschedule(infobip: Infobip, request: Request, entry: JournalEntry) -> Response:
    bulk_id, members = _bulk(infobip, request, entry)
    body = await _body(infobip, request)
    check = _Checker()
    send_at = check.moment(body.get("sendAt"), "sendAt")
    if send_at is None and not check.violations:
        check.violations.append(("sendAt", "must not be null"))
    if send_at is None:
        raise _bad(infobip, check.violations)
    waiting = _waiting(infobip, bulk_id, members)
    for message in waiting:
        infobip.core.scheduled.move(message.id, send_at)
    return JSONResponse({"bulkId": bulk_id, "sendAt": wire.timestamp(send_at)})


async def get_status(infobip: Infobip, request: Request, entry: JournalEntry) -> Response:
    bulk_id, members = _bulk(infobip, request, entry)
    return JSONResponse({"bulkId": bulk_id, "status": _status(infobip, bulk_id, members)})


async def set_status(infobip: Infobip, request: Request, entry: JournalEntry) -> Response:
    bulk_id, members = _bulk(infobip, request, entry)
    body = await _body(infobip, request)
    status = body.get("status")
    if status not in SETTABLE:
        raise _bad(infobip, [("status", f"must be one of {', '.join(SETTABLE)}")])
    scheduled = infobip.core.scheduled
    waiting = _waiting(infobip, bulk_id, members)
    for message in waiting:
        if status == "PAUSED":
            scheduled.pause(message.id)
        elif status == "PROCESSING":
            scheduled.resume(message.id)
        else:
            scheduled.cancel(message.id)
    if status == "CANCELED":
        _canceled(infobip).add(bulk_id)
    return JSONResponse({"bulkId": bulk_id, "status": _status(infobip, bulk_id, members)})


# ---- helpers ---------------------------------------------------------------------------------------


def _bulk(infobip: Infobip, request: Request, entry: JournalEntry) -> tuple[str, list[SimMessage]]:
    """The ``bulkId`` query parameter and its messages under the caller's credential."""
    account = infobip.authenticated(request, entry)
    bulk_id = request.query_params.get("bulkId")
    if not bulk_id:
        raise _bad(infobip, [("bulkId", "must not be blank")])
    members = [m for m in infobip.messages_of(account) if m.batch_id == bulk_id]
    if not members:
        text = f"Bulk {bulk_id} not found"
        raise ProviderError(infobip.legacy(404, text), "not_found", text)
    entry.message_ids = [m.id for m in members]
    return bulk_id, members


def _waiting(infobip: Infobip, bulk_id: str, members: list[SimMessage]) -> list[SimMessage]:
    """Members still waiting to be sent; a bulk with none left cannot be changed (400)."""
    waiting = [m for m in members if infobip.core.scheduled.held(m.id) is not None]
    if not waiting:
        text = f"Bulk {bulk_id} is not scheduled or has already been sent"
        raise ProviderError(infobip.legacy(400, text), "invalid_request", text)
    return waiting


def _status(infobip: Infobip, bulk_id: str, members: list[SimMessage]) -> str:
    if bulk_id in _canceled(infobip):
        return "CANCELED"
    scheduled = infobip.core.scheduled
    waiting = [m for m in members if scheduled.held(m.id) is not None]
    if not waiting:
        return "FINISHED"
    return "PAUSED" if all(scheduled.paused(m.id) for m in waiting) else "PENDING"


def _send_at(infobip: Infobip, members: list[SimMessage]) -> str | None:
    scheduled = infobip.core.scheduled
    due = [held.due for m in members if (held := scheduled.held(m.id)) is not None]
    asked = [m.submission.send_at for m in members if m.submission.send_at is not None]
    found: list[datetime] = due or asked
    return wire.timestamp(min(found)) if found else None


def _canceled(infobip: Infobip) -> set[str]:
    canceled: set[str] = infobip.state.extra(infobip.name).setdefault("canceled_bulks", set())
    return canceled


async def _body(infobip: Infobip, request: Request) -> dict[str, Any]:
    """The JSON body; an unreadable one answers in the v1 paths' error format."""
    try:
        body: dict[str, Any] = await read_json(request)
    except WireProblem as problem:
        raise ProviderError(infobip.legacy(400, problem.detail), detail=problem.detail) from None
    return body


def _bad(infobip: Infobip, violations: list[tuple[str, str]]) -> ProviderError:
    detail = "; ".join(f"{p}: {v}" for p, v in violations)
    return ProviderError(infobip.legacy(400, "Bad request", violations), "invalid_request", detail)
