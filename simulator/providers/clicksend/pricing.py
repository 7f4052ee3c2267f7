"""ClickSend's ``POST /v3/sms/price`` (SDK ``SmsApi.calculate_sms_price``): the answer a send with
the same body would get (per-message rows, ``total_price``, ``queued_count``, ``blocked_count``,
``_currency``), computed without sending or storing anything and without spending the balance."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from lynsms.gateway.segmentation import segment
from lynsms.simulator.http import read_json
from lynsms.simulator.messages import SimMessage
from lynsms.simulator.providers.clicksend import render as cw
from lynsms.simulator.state import JournalEntry

if TYPE_CHECKING:
    from lynsms.simulator.providers.clicksend.handlers import ClickSend


async def price(clicksend: ClickSend, request: Request, entry: JournalEntry) -> Response:
    account = clicksend.authenticated(request, entry)
    valid, refused = clicksend.read_messages(await read_json(request))
    now = clicksend.now()
    rows: list[dict[str, Any] | None] = [None] * (len(valid) + len(refused))
    blocked = {item.index: item for item in refused}
    queued = iter(valid)
    total = 0.0
    for index in range(len(rows)):
        if index in blocked:
            rows[index] = clicksend._render_blocked(blocked[index].submission, blocked[index].reason)
            continue
        submission = next(queued)
        shape = segment(submission.body)
        message = SimMessage(
            id=clicksend.new_message_id(),
            provider=clicksend.name,
            account=account,
            submission=submission,
            segments=shape.segments,
            encoding=shape.encoding,
            status=cw.QUEUED.status,
            created_at=now,
            updated_at=now,
        )
        total += float(cw.price(message.segments))
        row = clicksend._render_result(message)
        # The price answer's rows (the SDK's Sms model) carry date and schedule as strings,
        # where the send answer has ints.
        row.update({key: str(row[key]) for key in ("date", "schedule") if row.get(key) is not None})
        rows[index] = row
    entry.outcome = {"kind": "price"}
    data = {
        "total_price": round(total, 4),
        "total_count": len(rows),
        "queued_count": len(valid),
        "messages": rows,
        "_currency": cw.CURRENCY,
        "blocked_count": len(refused),
    }
    return cw.envelope(200, "SUCCESS", "Here are some results.", data)
