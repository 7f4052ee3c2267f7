"""Changing a Sinch batch that has not gone out yet: update (``POST``) and replace (``PUT``).

Sinch documents both on ``/xms/v1/{id}/batches/{batch_id}`` (SDK ``batches.update_sms`` and
``batches.replace_sms``): an update changes the named fields (``to_add``/``to_remove`` edit the
recipients, ``send_at`` reschedules), a replace "is the same as cancelling a batch and sending a new
one instead", under the same id. A ``send_at`` in the past sends at once. Changing a batch already
sent is a 403 ``batch_already_dispatched``, the code Sinch's batch reference lists for it; Sinch
publishes none for a canceled batch, here a 400 ``syntax_constraint_violation`` (docs/providers/sinch.md).
"""

from __future__ import annotations

from dataclasses import replace as replaced
from datetime import datetime
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from lynsms.simulator.http import JSONResponse, read_json
from lynsms.simulator.messages import SimMessage, Submission
from lynsms.simulator.providers.base import ProviderError
from lynsms.simulator.providers.sinch.groups import expand, looks_like_group, with_parents
from lynsms.simulator.providers.sinch.parse import (
    REPORT_MODES,
    Invalid,
    _optional,
    _parameters,
    _time,
    is_msisdn,
    is_sender,
    parse_batch,
    submissions,
)
from lynsms.simulator.providers.sinch.render import Batch, batch_json, timestamp
from lynsms.simulator.state import JournalEntry

if TYPE_CHECKING:
    from lynsms.simulator.providers.sinch.handlers import Sinch

# Batch fields an update copies as given into the batch object.
_FLAGS = ("feedback_enabled", "flash_message", "truncate_concat")
_NUMBERS = ("max_number_of_message_parts", "from_ton", "from_npi")
_TEXTS = ("from", "body", "udh", "delivery_report", "callback_url", "client_reference")
_ECHOED = (*_TEXTS, "parameters", *_FLAGS, *_NUMBERS)


async def update(sinch: Sinch, request: Request, entry: JournalEntry) -> Response:
    batch = sinch._batch(request, entry)
    waiting = _waiting(sinch, batch)
    asked = await read_json(request)
    # to_add / to_remove may name groups too ("List of phone numbers and group IDs to add to the
    # batch"): their members are what is added or removed; the batch's to keeps the ids.
    data = dict(asked)
    for key in ("to_add", "to_remove"):
        numbers, named = expand(sinch, batch.account, asked.get(key))
        if named:
            data[key] = numbers
    before = [m.to for m in sinch._members(batch)]
    try:
        change = _parse_update(data, batch.echo["type"])
        # The batch as the change would leave it, validated whole before anything changes: a change
        # that makes it invalid (a bad callback_url, binary content over 140 octets) is refused and
        # the batch stays as it was.
        merged = batch.echo | {name: change[name] for name in _ECHOED if name in change}
        parse_batch(_send_body(waiting[0].to, merged), sinch.now())
        expire_at, send_at = change.get("expire_at"), change.get("send_at") or batch.echo.get("send_at")
        if expire_at is not None and isinstance(send_at, str) and expire_at <= datetime.fromisoformat(send_at):
            raise Invalid("syntax_constraint_violation", "expire_at: must be after send_at")
    except Invalid as exc:
        raise ProviderError(sinch.error(400, exc.text, exc.code), detail=exc.text) from None
    scheduled = sinch.core.scheduled
    send_at = change.pop("send_at", None)
    due, call = _due(sinch, waiting[0])
    due = send_at or due
    added, removed = change.pop("to_add", []), change.pop("to_remove", [])
    _edit_recipients(sinch, batch, waiting, added, removed, due, call)
    _follow_to(batch, before, asked.get("to_add") or [], asked.get("to_remove") or [])
    expire_at = change.pop("expire_at", None)
    batch.echo.update(change)
    sinch.index_reference(batch)  # a new client_reference must find the batch too
    if send_at is not None:
        batch.echo["send_at"] = timestamp(send_at)
    if expire_at is not None:
        batch.echo["expire_at"] = timestamp(expire_at)
    for message in waiting:
        message.submission = _resubmitted(message, batch.echo, due)
        scheduled.move(message.id, due)
    batch.modified_at = sinch.now()
    entry.message_ids = list(batch.message_ids)
    return JSONResponse(batch_json(batch, sinch._members(batch)))


async def replace(sinch: Sinch, request: Request, entry: JournalEntry) -> Response:
    batch = sinch._batch(request, entry)
    account = batch.account
    waiting = _waiting(sinch, batch)
    new = sinch.read_batch(account, await read_json(request))
    for message in waiting:
        sinch.core.scheduled.cancel(message.id)
        sinch.state.messages.pop(message.id, None)
    response = await sinch.submit(request, entry, account, new, submissions(new), batch_id=batch.id)
    replacement = sinch._batches().get(batch.id)
    if response.status_code == 201 and isinstance(replacement, Batch):
        replacement.created_at = batch.created_at  # the batch keeps its identity; only its content changes
        response = JSONResponse(batch_json(replacement, sinch._members(replacement)))
    return response


def regroup(sinch: Sinch, group_id: str) -> None:
    """Waiting batches sent to ``group_id`` follow its members until they go out, as Sinch documents:
    "Any groups targeted in a scheduled batch will be evaluated at the time of sending. If a group
    is deleted between batch creation and scheduled date, it will be considered empty"."""
    changed = with_parents(sinch, group_id)
    for batch in list(sinch._batches().values()):
        if changed.isdisjoint(batch.groups) or batch.canceled:
            continue
        waiting = [m for m in sinch._members(batch) if sinch.core.scheduled.held(m.id) is not None]
        if not waiting:
            continue
        wanted = expand(sinch, batch.account, batch.echo.get("to", []), missing_ok=True)[0]
        keep = {number.lstrip("+") for number in wanted}
        have = {m.to.lstrip("+") for m in waiting}
        due, call = _due(sinch, waiting[0])
        before = set(batch.message_ids)
        added = [n for n in wanted if n.lstrip("+") not in have]
        _edit_recipients(
            sinch, batch, waiting, added, [m.to for m in waiting if m.to.lstrip("+") not in keep], due, call
        )
        for message in waiting:
            if message.id not in before:
                message.submission = _resubmitted(message, batch.echo, due)


def _follow_to(batch: Batch, before: list[str], add: list[str], remove: list[str]) -> None:
    """The ``to`` a batch repeats after ``to_add`` / ``to_remove``. Kept while it names a group (the
    batch follows the group, ``regroup``); otherwise the batch lists its recipients, as before."""
    gone = {t.lstrip("+") for t in remove}
    to = [t for t in batch.echo.get("to", before) if t.lstrip("+") not in gone]
    to += [t for t in add if t not in to]
    batch.groups = [t for t in to if not is_msisdn(t) and looks_like_group(t)]
    if batch.groups:
        batch.echo["to"] = to
    else:
        batch.echo.pop("to", None)


def _due(sinch: Sinch, message: SimMessage) -> tuple[datetime, int]:
    held = sinch.core.scheduled.held(message.id)
    return (held.due, held.call) if held is not None else (sinch.now(), 0)


def _edit_recipients(
    sinch: Sinch,
    batch: Batch,
    waiting: list[SimMessage],
    added: list[str],
    removed: list[str],
    due: datetime,
    call: int,
) -> None:
    """Remove, then add, recipients of a waiting batch; ``waiting`` follows. A new recipient is a
    copy of the first waiting one (its submission is filled in again by the caller)."""
    scheduled = sinch.core.scheduled
    template = waiting[0] if waiting else None
    gone = {number.lstrip("+") for number in removed}
    for message in [m for m in waiting if m.to.lstrip("+") in gone]:
        scheduled.cancel(message.id)
        sinch.state.messages.pop(message.id, None)
        batch.message_ids.remove(message.id)
        waiting.remove(message)
    if template is None:
        return
    for number in added:
        message = replaced(template, id=sinch.new_message_id(), reports=[], extra={}, error_code=None)
        message.submission = replaced(template.submission, to=number)
        sinch.state.add([message])
        batch.message_ids.append(message.id)
        waiting.append(message)
        scheduled.hold(sinch, message, due, call)


def _waiting(sinch: Sinch, batch: Batch) -> list[SimMessage]:
    """The batch's recipients still waiting to be sent; refuses a batch with none left."""
    members = sinch._members(batch)
    waiting = [m for m in members if sinch.core.scheduled.held(m.id) is not None]
    if batch.canceled:
        text = f"Batch {batch.id} has been canceled and can no longer be changed"
        raise ProviderError(sinch.error(400, text, "syntax_constraint_violation"), detail=text)
    if not waiting:
        # The code Sinch's batch reference lists for an update of a batch already sent.
        text = f"Batch {batch.id} has already been dispatched"
        raise ProviderError(sinch.error(403, text, "batch_already_dispatched"), detail=text)
    return waiting


def _parse_update(data: dict[str, Any], batch_type: str) -> dict[str, Any]:
    """The fields of an update of a ``batch_type`` batch, validated with the codes ``parse_batch`` uses."""
    kind = data.get("type", batch_type)
    if kind != batch_type:
        raise Invalid("syntax_invalid_json", f"type: unsupported value {kind!r}, expected {batch_type!r}")
    change: dict[str, Any] = {}
    for name in ("to_add", "to_remove"):
        numbers = data.get(name)
        if numbers is None:
            continue
        if not isinstance(numbers, list) or not all(isinstance(n, str) for n in numbers):
            raise Invalid("syntax_invalid_json", f"{name}: expected an array of strings")
        for number in numbers:
            if not is_msisdn(number):
                raise Invalid("syntax_invalid_parameter_format", f"Invalid number: {number}")
        change[name] = numbers
    for names, kind in (
        (_TEXTS, str),
        (_FLAGS, bool),
        (_NUMBERS, int),
    ):
        for name in names:
            value = _optional(data, name, kind)
            if value is not None:
                change[name] = value
    if "from" in change and not is_sender(change["from"]):
        raise Invalid("syntax_invalid_parameter_format", f"Invalid from address: {change['from']}")
    if "body" in change and not change["body"]:
        raise Invalid("syntax_constraint_violation", "body: size must be between 1 and 2000")
    if "udh" in change and batch_type != "mt_binary":
        raise Invalid("syntax_invalid_json", "udh: only an mt_binary batch has one")
    if change.get("delivery_report", "none") not in REPORT_MODES:
        raise Invalid("syntax_invalid_json", f"delivery_report: unknown value {change['delivery_report']!r}")
    parameters = _parameters(data.get("parameters"))
    if parameters is not None:
        change["parameters"] = parameters
    for name in ("send_at", "expire_at"):
        moment = _time(data, name)
        if moment is not None:
            change[name] = moment
    if "send_at" in change and "expire_at" in change and change["expire_at"] <= change["send_at"]:
        raise Invalid("syntax_constraint_violation", "expire_at: must be after send_at")
    return change


def _resubmitted(message: SimMessage, echo: dict[str, Any], due: datetime) -> Submission:
    """The waiting message's submission after an update of the batch fields in ``echo``."""
    request = parse_batch(_send_body(message.to, echo), due)
    (submission,) = submissions(request)
    return replaced(submission, send_at=due)


def _send_body(to: str, echo: dict[str, Any]) -> dict[str, Any]:
    """A send request for one recipient with the batch fields in ``echo``."""
    return {"to": [to], "type": echo["type"]} | {name: echo[name] for name in _ECHOED if name in echo}
